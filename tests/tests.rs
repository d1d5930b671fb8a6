//! The one integration-test binary (one link step; the harness compiled once): each area
//! of ocfbox is a module here, in its own file under tests/. Add a test file as
//! tests/<area>.rs and declare it below; `every_test_file_is_declared` fails otherwise.

mod common;

mod alert_nova;
mod compute_ha;
mod dispatch;
mod examples;
mod fence_nova;
mod fuzz;
mod ganesha_agents;
mod ganesha_cluster;
mod ganesha_migration;
mod ganesha_pacemaker;
mod ganesha_preset;
mod hardening;
mod install;
mod logging;
mod manpages;
mod metadata;
mod nova_compute;
mod nova_evacuate;
mod nova_fidelity;
mod nova_sim;
mod openstack_client;
mod packages;
mod sandbox_pacemaker;
mod sandbox_remote;
mod sandbox_systemd;
mod systemd_service;

/// A tests/*.rs file not declared above would silently never run.
#[test]
fn every_test_file_is_declared() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = include_str!("tests.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read tests/") {
        let path = entry.expect("read tests/ entry").path();
        let (Some(stem), Some("rs")) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        if stem != "tests" && !root.lines().any(|l| l == format!("mod {stem};")) {
            missing.push(stem.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/{{{}}}.rs not declared in tests/tests.rs (add `mod <name>;`)",
        missing.join(",")
    );
}
