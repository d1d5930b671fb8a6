//! The examples under packaging/examples load into a real Pacemaker as written, with the
//! ocfbox agents installed, and `crm_verify` finds nothing wrong with the result: an example
//! an operator cannot paste is worse than none. crm examples go into the live CIB (`crm
//! configure`, then `crm_verify -L`); pcs examples are applied with `pcs -f` to a copy of
//! that CIB in a file, then `crm_verify -x`. crmsh gives no timeout advice about them. The cluster is in maintenance mode, so nothing
//! in them is started on this machine.

use crate::common;

use std::path::{Path, PathBuf};

use common::pacemaker::{Cluster, ClusterOptions, Node};
use common::{ocfbox_bin, ocfbox_provider_dir, require_cmd, require_root, TempDir};

fn examples(ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/examples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("packaging/examples exists")
        .map(|e| e.expect("read dir entry").path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .collect();
    out.sort();
    out
}

fn cluster(tmp: &TempDir) -> Cluster {
    Cluster::start(ClusterOptions {
        ocf_provider_dirs: vec![("ocfbox".into(), ocfbox_provider_dir(tmp.path()))],
        // Where pacemaker-fenced (and pcs, crmsh) look for fence agents.
        fence_agents: vec![("fence_nova".into(), ocfbox_bin())],
        properties: vec![("maintenance-mode".into(), "true".into())],
        ..Default::default()
    })
}

/// Every ocfbox agent an example names answers `crm_resource --show-metadata` in the node.
fn check_agents_known(node: &Node, path: &Path, text: &str) {
    for agent in text
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("ocf:ocfbox:"))
        // The name as it ends in prose too ("(ocf:ocfbox:openstack-nova-api).").
        .map(|w| w.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')))
    {
        node.exec_ok(&[
            "crm_resource",
            "--show-metadata",
            &format!("ocf:ocfbox:{agent}"),
        ])
        .unwrap_or_else(|e| panic!("{}: agent {agent}: {e}", path.display()));
    }
}

/// crm_verify's verdict: Ok when it exits 0 and prints nothing (no error, no warning), or
/// when its only findings are the `allowed` ones (with -VVV, which names them).
fn verify(node: &Node, args: &[&str], allowed: &[String]) -> Result<(), String> {
    let mut argv = vec!["crm_verify"];
    argv.extend_from_slice(args);
    let out = node.exec(&argv);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.trim().is_empty() {
        return Ok(());
    }
    argv.push("-VVV");
    let out = node.exec(&argv);
    let details = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<&str> = details
        .lines()
        .filter(|l| l.contains("warning:") || l.contains("error:"))
        .filter(|l| !allowed.iter().any(|a| l.contains(a.as_str())))
        .collect();
    if findings.is_empty() && details.lines().any(|l| l.contains("warning:")) {
        Ok(())
    } else {
        Err(format!("{text}\n{details}"))
    }
}

/// The one finding an example with remote nodes has here and not on a real cluster: its
/// compute nodes do not exist, and maintenance mode starts no fence device, so Pacemaker
/// says each "is unclean but cannot be fenced".
fn unreachable_remote_nodes(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("primitive ")?;
            let mut w = rest.split_whitespace();
            let id = w.next()?;
            (w.next()? == "ocf:pacemaker:remote")
                .then(|| format!("Node {id} is unclean but cannot be fenced"))
        })
        .chain(text.lines().filter_map(|l| {
            let rest = l.strip_prefix("pcs resource create ")?;
            let mut w = rest.split_whitespace();
            let id = w.next()?;
            (w.next()? == "ocf:pacemaker:remote")
                .then(|| format!("Node {id} is unclean but cannot be fenced"))
        }))
        .collect()
}

#[test]
fn crm_and_pcs_examples_load_and_crm_verify_finds_nothing() {
    require_root();
    require_cmd("crm", "crmsh");
    require_cmd("pcs", "pcs");
    let tmp = TempDir::new("examples");
    let cluster = cluster(&tmp);
    let node = cluster.node(0);
    verify(node, &["-L"], &[]).unwrap_or_else(|e| panic!("the empty cluster does not verify: {e}"));
    let baseline = node
        .exec_ok(&["cibadmin", "-Q", "-o", "configuration"])
        .expect("query the CIB");

    let crm = examples("crm");
    for path in &crm {
        let text = std::fs::read_to_string(path).expect("read example");
        // crmsh's warnings go to stderr: merged, so an "advised" one is seen.
        let said = node
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
        check_agents_known(node, path, &text);
        let cib = node
            .exec_ok(&["cibadmin", "-Q", "-o", "configuration"])
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
        verify(node, &["-L"], &unreachable_remote_nodes(&text))
            .unwrap_or_else(|e| panic!("{}: crm_verify -L: {e}", path.display()));
        // Back to the empty configuration, so examples with the same ids do not collide.
        node.exec_ok(&[
            "cibadmin",
            "--replace",
            "-o",
            "configuration",
            "--xml-text",
            &baseline,
        ])
        .expect("restore the CIB");
    }
    assert!(
        crm.len() >= 4,
        "expected the crm examples, found {}",
        crm.len()
    );

    let pcs = examples("pcs");
    for path in &pcs {
        let text = std::fs::read_to_string(path).expect("read example");
        check_agents_known(node, path, &text);
        let file = tmp.join(format!(
            "{}.cib.xml",
            path.file_stem().and_then(|s| s.to_str()).unwrap_or("x")
        ));
        let cib = node.exec_ok(&["cibadmin", "-Q"]).expect("query the CIB");
        std::fs::write(&file, cib).expect("write the CIB file");
        let file = file.to_str().expect("UTF-8 path");
        let mut applied = 0;
        // A command continued with a backslash is one line to a shell.
        let joined = text.replace("\\\n", " ");
        for line in joined.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("pcs ") else {
                continue;
            };
            // The line as a shell would run it (quotes, '#kind'), against the file.
            node.exec_ok(&["sh", "-c", &format!("pcs -f \"$0\" {rest}"), file])
                .unwrap_or_else(|e| panic!("{}: `{line}`: {e}", path.display()));
            applied += 1;
        }
        assert!(applied > 0, "{}: no pcs command", path.display());
        verify(node, &["-x", file], &unreachable_remote_nodes(&text))
            .unwrap_or_else(|e| panic!("{}: crm_verify -x: {e}", path.display()));
    }
    assert!(
        pcs.len() >= 3,
        "expected the pcs examples, found {}",
        pcs.len()
    );
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
