//! The files a node starts from: corosync.conf, the seed CIB, pacemakerd's environment
//! and the OCF provider directories to bind-mount.

use std::fmt::Write as _;
use std::fs;

use ocfbox::ocf::metadata::xml_escape;

use super::{ClusterOptions, Node};

pub(super) fn write_node_files(
    node: &Node,
    corosync_conf: &str,
    cib: &str,
    opts: &ClusterOptions,
) -> Result<(), String> {
    let w = |name: &str, content: &[u8]| {
        let path = node.dir.join(name);
        fs::write(&path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    fs::create_dir(&node.dir).map_err(|e| format!("cannot create {}: {e}", node.dir.display()))?;
    let conf = corosync_conf.replace("@LOGFILE@", &node.corosync_log_path().display().to_string());
    w("corosync.conf", conf.as_bytes())?;
    w("cib-seed.xml", cib.as_bytes())?;

    // pacemakerd's whole environment: clean defaults, then the caller's variables
    let env = daemon_env(&node.log_path(), &opts.env);
    w("pacemakerd.env", &env)?;

    // fence agents for pacemaker-fenced: pcmk-node.sh overlays these on /usr/sbin
    let sbin = node.dir.join("sbin-extra");
    fs::create_dir(&sbin).map_err(|e| format!("cannot create {}: {e}", sbin.display()))?;
    let power = super::super::sandbox_script("fence_ocfbox_power");
    for (name, target) in std::iter::once(("fence_ocfbox_power".to_string(), power))
        .chain(opts.fence_agents.iter().cloned())
    {
        assert!(
            name.starts_with("fence_") && !name.contains('/'),
            "bad fence agent name {name:?}"
        );
        std::os::unix::fs::symlink(&target, sbin.join(&name))
            .map_err(|e| format!("cannot link {name} -> {}: {e}", target.display()))?;
    }

    let mut providers = String::new();
    for (provider, dir) in &opts.ocf_provider_dirs {
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("provider dir {}: {e}", dir.display()))?;
        let _ = writeln!(providers, "{provider}\t{}", dir.display());
    }
    w("providers", providers.as_bytes())
}

/// A Pacemaker daemon's whole environment as NUL-separated NAME=VALUE (the node scripts
/// read it with `mapfile -d ''`): clean defaults logging to `logfile`, then `extra`, a
/// later variable replacing an earlier one of the same name.
pub(crate) fn daemon_env(logfile: &std::path::Path, extra: &[(String, String)]) -> Vec<u8> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("PCMK_logfile".into(), logfile.display().to_string()),
        ("PCMK_logfacility".into(), "none".into()),
    ];
    for (k, v) in extra {
        assert!(
            !k.is_empty() && !k.contains(['=', '\0']) && !v.contains('\0'),
            "bad environment variable {k:?}"
        );
        env.retain(|(old, _)| old != k);
        env.push((k.clone(), v.clone()));
    }
    let mut file = Vec::new();
    for (k, v) in &env {
        file.extend_from_slice(format!("{k}={v}\0").as_bytes());
    }
    file
}

pub(super) fn corosync_conf(nodes: &[Node], token_ms: Option<u32>) -> String {
    let mut s = String::from(
        "totem {\n    version: 2\n    cluster_name: ocfbox-test\n    transport: knet\n    \
         crypto_cipher: none\n    crypto_hash: none\n",
    );
    if let Some(t) = token_ms {
        let _ = writeln!(s, "    token: {t}");
    }
    s.push_str("}\nnodelist {\n");
    for n in nodes {
        // corosync's parser wants a newline after every '{'
        let _ = writeln!(
            s,
            "    node {{\n        name: {}\n        nodeid: {}\n        ring0_addr: {}\n    }}",
            n.name,
            n.index + 1,
            n.addr()
        );
    }
    // corosync's defaults try realtime scheduling and, when that fails, move corosync into
    // the host's root cgroup: out of the sandbox, where nothing would end it.
    s.push_str("}\nsystem {\n    sched_rr: no\n    move_to_root_cgroup: no\n}\n");
    s.push_str(
        "quorum {\n    provider: corosync_votequorum\n}\nlogging {\n    to_stderr: no\n    \
         to_logfile: yes\n    logfile: @LOGFILE@\n    to_syslog: no\n    timestamp: on\n}\n",
    );
    s
}

/// The first CIB: no fencing (there is nothing to fence with), a short dc-deadtime
/// (the default 20 s would be the whole start-up time), a short recheck interval.
pub(super) fn cib_seed(extra: &[(String, String)]) -> String {
    let mut props: Vec<(String, String)> = vec![
        ("stonith-enabled".into(), "false".into()),
        ("dc-deadtime".into(), "1s".into()),
        ("cluster-recheck-interval".into(), "30s".into()),
    ];
    for (k, v) in extra {
        props.retain(|(old, _)| old != k);
        props.push((k.clone(), v.clone()));
    }
    let mut nvpairs = String::new();
    for (k, v) in &props {
        let _ = writeln!(
            nvpairs,
            "        <nvpair id=\"opt-{}\" name=\"{}\" value=\"{}\"/>",
            xml_escape(k),
            xml_escape(k),
            xml_escape(v)
        );
    }
    format!(
        "<cib crm_feature_set=\"3.16.1\" validate-with=\"pacemaker-3.9\" epoch=\"1\" \
         num_updates=\"0\" admin_epoch=\"0\">\n  <configuration>\n    <crm_config>\n      \
         <cluster_property_set id=\"cib-bootstrap-options\">\n{nvpairs}      \
         </cluster_property_set>\n    </crm_config>\n    <nodes/>\n    <resources/>\n    \
         <constraints/>\n  </configuration>\n  <status/>\n</cib>\n"
    )
}
