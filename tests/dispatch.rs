//! The multi-call shape: argv[0] picks the agent, `ocfbox AGENT ACTION` does the same,
//! and every way of calling it wrongly ends with the OCF code Pacemaker expects.

use crate::common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{agent_names, ocfbox_bin, TempDir};

fn link(dir: &TempDir, name: &str) -> PathBuf {
    let path = dir.join(name);
    symlink(ocfbox_bin(), &path).expect("symlink to ocfbox");
    path
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_remove("OCF_RESKEY_CRM_meta_interval")
        .output()
        .expect("run ocfbox")
}

#[test]
fn list_shows_every_agent_with_a_description() {
    let out = run(&ocfbox_bin(), &["list"]);
    assert_eq!(out.status.code(), Some(0));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut parts = line.splitn(2, char::is_whitespace);
        let name = parts.next().unwrap_or("");
        let desc = parts.next().unwrap_or("").trim();
        assert!(
            !name.is_empty() && !desc.is_empty(),
            "bad list line: {line:?}"
        );
        // name, kind, description
        let kind = desc.split_whitespace().next().unwrap_or("");
        assert!(
            ["ocf", "fence", "alert"].contains(&kind),
            "no kind in list line: {line:?}"
        );
        assert!(
            desc.len() > kind.len(),
            "no description in list line: {line:?}"
        );
    }
}

#[test]
fn symlink_name_picks_the_agent_and_matches_the_umbrella_form() {
    let dir = TempDir::new("dispatch");
    for agent in agent_names() {
        let via_link = run(&link(&dir, &agent), &["meta-data"]);
        assert_eq!(via_link.status.code(), Some(0), "{agent} meta-data");
        let xml = String::from_utf8_lossy(&via_link.stdout);
        assert!(
            xml.contains(&format!("<resource-agent name=\"{agent}\"")),
            "{agent}: meta-data names another agent"
        );
        let via_umbrella = run(&ocfbox_bin(), &[&agent, "meta-data"]);
        assert_eq!(via_umbrella.status.code(), Some(0));
        assert_eq!(via_link.stdout, via_umbrella.stdout, "{agent}");
    }
}

#[test]
fn missing_or_unknown_action_is_unimplemented_with_usage_on_stderr() {
    let dir = TempDir::new("actions");
    for agent in agent_names() {
        let agent_link = link(&dir, &agent);
        for args in [
            &[][..],
            &["frobnicate"][..],
            &["promote-all-the-things"][..],
        ] {
            let out = run(&agent_link, args);
            assert_eq!(out.status.code(), Some(3), "{agent} {args:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("usage:"), "{agent} {args:?}: {stderr}");
            assert!(out.stdout.is_empty(), "{agent} {args:?} wrote to stdout");
        }
        let usage = run(&agent_link, &["usage"]);
        assert_eq!(usage.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&usage.stdout).contains("meta-data"));
    }
}

#[test]
fn unknown_agent_name_is_not_installed_and_names_the_known_ones() {
    let dir = TempDir::new("unknown");
    let out = run(&link(&dir, "NoSuchAgent"), &["monitor"]);
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("NoSuchAgent"), "{stderr}");
    for agent in agent_names() {
        assert!(
            stderr.contains(&agent),
            "known agent {agent} not named: {stderr}"
        );
    }
    let umbrella = run(&ocfbox_bin(), &["NoSuchAgent", "start"]);
    assert_eq!(umbrella.status.code(), Some(5));
}

#[test]
fn help_and_version() {
    let help = run(&ocfbox_bin(), &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("list"));
    let version = run(&ocfbox_bin(), &["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
    let nothing = run(&ocfbox_bin(), &[]);
    assert_eq!(
        nothing.status.code(),
        Some(2),
        "bare ocfbox is a usage error"
    );
}

/// The panic hook is proven by a unit test (src/ocf/panic.rs) in a child of the test
/// binary: the shipped binary has no command that panics on purpose (#12.9).
#[test]
fn no_hidden_command_panics_on_purpose() {
    let out = run(&ocfbox_bin(), &["selftest-panic"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
}

#[test]
fn unknown_agent_reason_takes_the_prefix_too() {
    let dir = TempDir::new("unknown-prefix");
    let out = Command::new(link(&dir, "NoSuchAgent"))
        .arg("monitor")
        .env("OCF_EXIT_REASON_PREFIX", "why:")
        .output()
        .expect("run ocfbox");
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("why:ocfbox has no agent named 'NoSuchAgent'"),
        "{stderr}"
    );
}
