//! NovaEvacuate against the Nova simulator and a real single-node Pacemaker (its attrd holds
//! the `evacuate` attributes; the agent runs inside the node, as pacemaker-execd runs it).

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common;
use common::nova::*;
use common::pacemaker::{Cluster, ClusterOptions};
use common::{execd_env, output_text, TempDir};

const AGENTS: &str = "/usr/lib/ocf/resource.d/ocfbox";

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn reason(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("ocf-exit-reason:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The agent linked in a temporary directory, run on this host without any cluster (the
/// actions that must not need one).
struct Local {
    dir: TempDir,
    link: PathBuf,
}

impl Local {
    fn new() -> Local {
        let dir = TempDir::new("nova-evac-local");
        let link = dir.join("NovaEvacuate");
        symlink(common::ocfbox_bin(), &link).expect("symlink");
        Local { dir, link }
    }

    fn run(&self, action: &str, params: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(&self.link);
        cmd.arg(action);
        execd_env(&mut cmd, &self.dir.join("agent.log"))
            .env("HA_RSCTMP", self.dir.join("rsctmp"))
            .env("OCF_RESOURCE_INSTANCE", "nova-evacuate")
            .env("OCF_RESKEY_CRM_meta_timeout", "20000");
        for (k, v) in params {
            cmd.env(format!("OCF_RESKEY_{k}"), v);
        }
        cmd.output().expect("run NovaEvacuate")
    }
}

const CREDS: &[(&str, &str)] = &[
    ("auth_url", "http://127.0.0.1:9/identity"),
    ("username", "admin"),
    ("password", "not-used-here"),
    ("tenant_name", "admin"),
];

#[test]
fn configuration_errors_are_6_with_a_reason_and_start_stop_monitor_keep_the_contract() {
    let a = Local::new();
    // no credentials at all
    let o = a.run("validate-all", &[]);
    assert_eq!(code(&o), 6, "{}", output_text(&o));
    assert!(reason(&o).contains("auth_url"), "{}", output_text(&o));
    // a user without any password
    let o = a.run(
        "validate-all",
        &[
            ("auth_url", "http://127.0.0.1:9/identity"),
            ("username", "admin"),
            ("tenant_name", "admin"),
        ],
    );
    assert_eq!(code(&o), 6, "{}", output_text(&o));
    assert!(reason(&o).contains("password"), "{}", output_text(&o));
    // a bad endpoint_type
    let mut bad: Vec<(&str, &str)> = CREDS.to_vec();
    bad.push(("endpoint_type", "privateURL"));
    let o = a.run("validate-all", &bad);
    assert_eq!(code(&o), 6, "{}", output_text(&o));
    assert!(reason(&o).contains("endpoint_type"), "{}", output_text(&o));
    for (k, v) in [
        ("recovery_method", "magic"),
        ("concurrency", "0"),
        ("max_failed_share", "101"),
        ("complete_when", "soon"),
    ] {
        let mut p: Vec<(&str, &str)> = CREDS.to_vec();
        p.push((k, v));
        let o = a.run("validate-all", &p);
        assert_eq!(code(&o), 6, "{k}={v}: {}", output_text(&o));
        assert!(reason(&o).contains(k), "{k}: {}", output_text(&o));
    }
    let mut p: Vec<(&str, &str)> = CREDS.to_vec();
    p.push(("recovery_method", "reserved_host"));
    assert_eq!(
        code(&a.run("validate-all", &p)),
        6,
        "reserved_host without reserved_hosts"
    );
    // a start with missing credentials fails the same way and records nothing
    assert_eq!(code(&a.run("start", &[])), 6);
    assert_eq!(code(&a.run("monitor", CREDS)), 7);

    // the lifecycle: no network needed for any of these (Keystone here is a closed port)
    assert_eq!(code(&a.run("validate-all", CREDS)), 0);
    assert_eq!(code(&a.run("monitor", CREDS)), 7, "monitor before start");
    assert_eq!(code(&a.run("start", CREDS)), 0);
    assert_eq!(code(&a.run("start", CREDS)), 0, "start twice");
    assert_eq!(code(&a.run("stop", CREDS)), 0);
    assert_eq!(code(&a.run("stop", CREDS)), 0, "stop twice");
    assert_eq!(code(&a.run("monitor", CREDS)), 7, "monitor after stop");
    // stop never fails, even with a broken configuration
    assert_eq!(code(&a.run("stop", &[])), 0);
    let log = std::fs::read_to_string(a.dir.join("agent.log")).unwrap_or_default();
    assert!(
        !log.contains("not-used-here"),
        "the password reached the log:\n{log}"
    );
}

/// A real single-node cluster (for attrd), the simulator inside its network namespace, and
/// the agent run inside the node as pacemaker-execd runs it.
struct Rig {
    c: Cluster,
    sim: NovaSim,
    _tmp: TempDir,
    rsctmp: PathBuf,
}

impl Rig {
    fn new(cfg: SimConfig) -> Rig {
        let tmp = TempDir::new("nova-evac");
        let provider = common::ocfbox_provider_dir(tmp.path());
        let c = Cluster::start(ClusterOptions {
            ocf_provider_dirs: vec![("ocfbox".into(), provider)],
            ..Default::default()
        });
        let pid = c.node(0).host_pid().expect("node runs");
        let sim = NovaSim::start(cfg.netns_of(pid));
        let rsctmp = tmp.join("rsctmp");
        Rig {
            c,
            sim,
            _tmp: tmp,
            rsctmp,
        }
    }

    fn params(&self) -> Vec<(String, String)> {
        let a = self.sim.admin();
        vec![
            ("auth_url".into(), a.auth_url),
            ("username".into(), a.username),
            ("password".into(), a.password),
            ("tenant_name".into(), a.project_name),
            ("user_domain".into(), a.user_domain),
            ("project_domain".into(), a.project_domain),
            ("endpoint_type".into(), "publicURL".into()),
        ]
    }

    /// Run `action` inside the node with the credentials plus `extra` parameters.
    fn run(&self, action: &str, extra: &[(&str, &str)], timeout_ms: u64) -> Output {
        let node = self.c.node(0);
        let mut cmd = node.command(format!("{AGENTS}/NovaEvacuate"));
        cmd.arg(action);
        execd_env(&mut cmd, &node.dir().join("agents.log"))
            .env("HA_RSCTMP", &self.rsctmp)
            .env("OCF_RESOURCE_INSTANCE", "nova-evacuate")
            .env("OCF_RESKEY_CRM_meta_on_node", node.name())
            .env("OCF_RESKEY_CRM_meta_timeout", timeout_ms.to_string())
            .env("OCF_RESKEY_CRM_meta_interval", "10000");
        for (k, v) in self.params() {
            cmd.env(format!("OCF_RESKEY_{k}"), v);
        }
        for (k, v) in extra {
            cmd.env(format!("OCF_RESKEY_{k}"), v);
        }
        cmd.stdin(std::process::Stdio::null())
            .output()
            .expect("run NovaEvacuate")
    }

    fn monitor(&self, extra: &[(&str, &str)]) -> Output {
        self.run("monitor", extra, 120_000)
    }

    fn start(&self) {
        let o = self.run("start", &[], 20_000);
        assert_eq!(code(&o), 0, "start: {}", output_text(&o));
    }

    fn set_attr(&self, node: &str, value: &str) {
        self.c
            .node(0)
            .exec_ok(&[
                "attrd_updater",
                "-p",
                "-n",
                "evacuate",
                "-N",
                node,
                "-U",
                value,
            ])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn delete_attr(&self, node: &str) {
        self.c
            .node(0)
            .exec_ok(&["attrd_updater", "-n", "evacuate", "-N", node, "-D"])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The attribute as attrd holds it ("" when deleted, None when never set).
    fn attr(&self, node: &str) -> Option<String> {
        let out = self
            .c
            .node(0)
            .exec(&["attrd_updater", "-Q", "-n", "evacuate", "-N", node]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.split("value=\"")
            .nth(1)
            .map(|v| v.trim_end().trim_end_matches('"').to_string())
    }

    /// Wait until attrd shows `want` for `node` (attrd applies updates asynchronously).
    fn wait_attr(&self, node: &str, want: &str) {
        common::poll(Duration::from_secs(10), Duration::from_millis(50), || {
            (self.attr(node).as_deref() == Some(want)).then_some(())
        })
        .unwrap_or_else(|| {
            panic!(
                "{node}: evacuate never became {want:?}, now {:?}",
                self.attr(node)
            )
        });
    }

    /// fence_compute's part of fencing as Nova sees it: forced down and disabled.
    fn fence_in_nova(&self, host: &str) {
        self.sim.set_service(
            host,
            "nova-compute",
            json!({"forced_down": true, "status": "disabled", "alive": false}),
        );
    }

    /// Evacuation migrations of instances from `host`.
    fn evacuations_from(&self, host: &str) -> Vec<Value> {
        self.sim
            .migrations()
            .into_iter()
            .filter(|m| m["source_compute"] == host && m["migration_type"] == "evacuation")
            .collect()
    }

    fn disabled_reason(&self, host: &str) -> String {
        self.sim.service(host, "nova-compute")["disabled_reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}
