//! The crm examples under packaging/examples load into a real Pacemaker as written, with
//! the ocfbox agents installed: an example an operator cannot paste is worse than none.
//! The cluster is in maintenance mode, so nothing in them is started on this machine.
//! crmsh says nothing about them (no timeout under the agent's advice), and the pcs example
//! builds its resources with pcs and stops at the first command that fails.

use crate::common;

use common::pacemaker::{Cluster, ClusterOptions};
use common::{ocfbox_provider_dir, require_root, TempDir};

#[test]
fn crm_examples_load_and_name_ocfbox_agents_pacemaker_knows() {
    require_root();
    let tmp = TempDir::new("examples");
    let cluster = Cluster::start(ClusterOptions {
        ocf_provider_dirs: vec![("ocfbox".into(), ocfbox_provider_dir(tmp.path()))],
        properties: vec![("maintenance-mode".into(), "true".into())],
        ..Default::default()
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/examples");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).expect("packaging/examples exists") {
        let path = entry.expect("read dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("crm") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read example");
        // crmsh's warnings go to stderr: merged, so an "advised" one is seen.
        let said = cluster
            .node(0)
            .exec_stdin(
                &["sh", "-c", "crm configure 2>&1"],
                &format!("{text}\ncommit\n"),
            )
            .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()));
        // Only the timeout advice is the example's business: the test cluster's one node
        // and its fencing draw warnings of their own.
        let warnings: Vec<&str> = said
            .lines()
            .filter(|l| l.contains("advised") || l.contains("timeout"))
            .collect();
        assert!(
            warnings.is_empty(),
            "{}: crmsh warns:\n{}",
            path.display(),
            warnings.join("\n")
        );
        // Every ocfbox primitive of the example is in the CIB, and Pacemaker can read the
        // agent's meta-data (crm_resource asks the agent itself).
        for agent in text
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("ocf:ocfbox:"))
        {
            cluster
                .node(0)
                .exec_ok(&[
                    "crm_resource",
                    "--show-metadata",
                    &format!("ocf:ocfbox:{agent}"),
                ])
                .unwrap_or_else(|e| panic!("{}: agent {agent}: {e}", path.display()));
        }
        let cib = cluster
            .node(0)
            .exec_ok(&["cibadmin", "-Q", "-o", "resources"])
            .expect("query the CIB");
        for id in text.lines().filter_map(|l| {
            l.strip_prefix("primitive ")
                .and_then(|rest| rest.split_whitespace().next())
        }) {
            assert!(
                cib.contains(&format!("id=\"{id}\"")),
                "{}: primitive {id} is not in the CIB",
                path.display()
            );
        }
        loaded += 1;
    }
    assert!(loaded >= 2, "expected the crm examples, found {loaded}");
}

#[test]
fn the_pcs_example_builds_its_resources_and_stops_at_the_first_error() {
    require_root();
    common::require_cmd("pcs", "pcs");
    let tmp = TempDir::new("examples-pcs");
    let cluster = Cluster::start(ClusterOptions {
        ocf_provider_dirs: vec![("ocfbox".into(), ocfbox_provider_dir(tmp.path()))],
        properties: vec![("maintenance-mode".into(), "true".into())],
        ..Default::default()
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/examples/openstack-controller.pcs");
    // pcs against a CIB file (-f) inside the node, where the ocfbox agents are installed
    // (pcs reads their meta-data); FAIL_AT makes that pcs call fail.
    let bin = tmp.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    let wrapper = bin.join("pcs");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho x >>{calls}\n\
             [ \"$(wc -l <{calls})\" = \"${{FAIL_AT:-0}}\" ] && exit 1\n\
             exec /usr/sbin/pcs -f {cib} \"$@\"\n",
            calls = tmp.join("calls").display(),
            cib = tmp.join("cib.xml").display()
        ),
    )
    .expect("write wrapper");
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod wrapper");
    let run = |fail_at: &str| {
        let _ = std::fs::remove_file(tmp.join("calls"));
        let empty = cluster
            .node(0)
            .exec_ok(&["cibadmin", "--empty"])
            .expect("cib");
        std::fs::write(tmp.join("cib.xml"), empty).expect("write cib");
        let out = cluster
            .node(0)
            .command("sh")
            .arg(&script)
            .env(
                "PATH",
                format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display()),
            )
            .env("FAIL_AT", fail_at)
            .output()
            .expect("run the pcs example");
        let calls = std::fs::read_to_string(tmp.join("calls")).unwrap_or_default();
        (out, calls.lines().count())
    };
    let (out, calls) = run("0");
    assert!(
        out.status.success(),
        "the pcs example fails: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cib = std::fs::read_to_string(tmp.join("cib.xml")).expect("read cib");
    for id in ["keystone", "nova-api", "nova-scheduler", "nova-conductor"] {
        assert!(
            cib.contains(&format!("<primitive id=\"{id}\"")),
            "{id} missing:\n{cib}"
        );
    }
    let (out, failed_after) = run("2");
    assert!(
        !out.status.success(),
        "a failed pcs call did not fail the script"
    );
    assert_eq!(
        failed_after, 2,
        "the script went on after a failed pcs call ({calls} calls in all)"
    );
}
