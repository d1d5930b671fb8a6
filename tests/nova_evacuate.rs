//! NovaEvacuate against the Nova simulator and a real single-node Pacemaker (its attrd holds
//! the `evacuate` attributes; the agent runs inside the node, as pacemaker-execd runs it).

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common;
use common::execd::AgentEnv;
use common::nova::*;
use common::pacemaker::{Cluster, ClusterOptions};
use common::{output_text, TempDir};

const AGENTS: &str = "/usr/lib/ocf/resource.d/ocfbox";

/// What pacemaker-execd gives an agent, on `cmd`; the test adds the instance's variables.
fn execd_env<'a>(cmd: &'a mut Command, logfile: &std::path::Path) -> &'a mut Command {
    AgentEnv::execd(logfile).apply(cmd)
}

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
        // as pacemaker-execd: SIGKILLed at the timeout (run_within panics then), so a
        // monitor that overran its budget fails the test
        let run = common::execd::run_within(
            cmd,
            Duration::from_millis(timeout_ms),
            &format!("NovaEvacuate {action}"),
        );
        Output {
            status: std::os::unix::process::ExitStatusExt::from_raw((run.code & 0xff) << 8),
            stdout: run.stdout.into_bytes(),
            stderr: run.stderr.into_bytes(),
        }
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
        self.c
            .attrd_query_all(0, "evacuate")
            .into_iter()
            .find(|(h, _)| h == node)
            .map(|(_, v)| v)
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

/// Servers on `host` and the evacuations they had, by instance.
fn evacuation_counts(rig: &Rig, host: &str) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for m in rig.evacuations_from(host) {
        *out.entry(m["instance_uuid"].as_str().unwrap_or("").to_string())
            .or_insert(0) += 1;
    }
    out
}

fn ids(host: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| server_id(host, i)).collect()
}

fn computes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("compute-{i}")).collect()
}

fn sim_with(n_hosts: usize) -> SimConfig {
    let hosts = computes(n_hosts);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    SimConfig::new().hosts(&refs)
}

fn assert_code(o: &Output, want: i32, what: &str) {
    assert_eq!(code(o), want, "{what}: {}", output_text(o));
}

/// fence-agents 4.12 calls inspect.getargspec, removed in Python 3.11: supplied here, the
/// agent itself untouched (as tests/nova_fidelity.rs runs it).
fn stock_fence_compute(rig: &Rig, tmp: &TempDir, action: &str, plug: &str) -> Output {
    use std::io::Write;
    let site = tmp.join("site");
    std::fs::create_dir_all(&site).expect("mkdir site");
    std::fs::write(
        site.join("sitecustomize.py"),
        "import inspect\nif not hasattr(inspect, 'getargspec'):\n    \
         inspect.getargspec = inspect.getfullargspec\n",
    )
    .expect("write sitecustomize");
    let home = tmp.join("home");
    std::fs::create_dir_all(&home).expect("mkdir home");
    let a = rig.sim.admin();
    let input = format!(
        "action={action}\nplug={plug}\nauth_url={}\nusername={}\npassword={}\ntenant_name={}\n\
         user_domain={}\nproject_domain={}\nendpoint_type=internalURL\nregion_name=RegionOne\n",
        a.auth_url, a.username, a.password, a.project_name, a.user_domain, a.project_domain
    );
    let mut cmd = rig.c.node(0).command("/usr/sbin/fence_compute");
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &home)
        .env("LANG", "C.UTF-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONPATH", &site)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run fence_compute");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait fence_compute")
}

#[test]
fn stock_fence_compute_marks_a_host_and_every_instance_is_rebuilt_before_the_attribute_says_no() {
    common::require_root();
    common::require_file("/usr/sbin/fence_compute", "fence-agents");
    let tmp = TempDir::new("nova-evac-e2e");
    // 1.5 s per rebuild: the monitor must follow the migrations, not stop at "accepted"
    let rig = Rig::new(
        sim_with(3)
            .rebuild_time(Duration::from_millis(1500))
            .servers_on("compute-0", 6)
            .servers_on("compute-1", 2),
    );
    rig.start();
    // nothing requested: a monitor is 0 and touches no server
    let o = rig.monitor(&[]);
    assert_code(&o, 0, "idle monitor");
    assert!(rig.sim.migrations().is_empty());

    // compute-0 dies; the fencing topology runs fence_compute (record_only): forced down,
    // disabled, evacuate=yes
    rig.sim.kill_compute("compute-0");
    let o = stock_fence_compute(&rig, &tmp, "off", "compute-0");
    assert_code(&o, 0, "fence_compute off");
    rig.wait_attr("compute-0", "yes");

    let o = rig.monitor(&[]);
    assert_code(&o, 0, "evacuating monitor");
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
    let migs = rig.evacuations_from("compute-0");
    assert_eq!(migs.len(), 6, "{migs:?}");
    for m in &migs {
        assert_eq!(
            m["status"], "done",
            "`no` before the migration finished: {m}"
        );
        assert_ne!(m["dest_compute"], "compute-0");
    }
    for id in ids("compute-0", 6) {
        assert_ne!(rig.sim.server(&id)["host"], "compute-0", "{id} not moved");
    }
    assert!(evacuation_counts(&rig, "compute-0")
        .values()
        .all(|n| *n == 1));
    assert!(rig.evacuations_from("compute-1").is_empty());
    assert!(
        rig.disabled_reason("compute-0")
            .starts_with("ocfbox evacuation done "),
        "{}",
        rig.disabled_reason("compute-0")
    );
    // evacuations go at a microversion below 2.95 (instances must not end stopped)
    for r in rig.sim.requests() {
        if r.path.ends_with("/action") && r.method == "POST" {
            let mv = r.microversion.clone().unwrap_or_default();
            assert!(mv.as_str() < "2.95" || mv.len() < 4, "evacuate at {mv}");
        }
    }
    // fence_compute's unfence (on) now goes through: it waits for `no`
    rig.sim.restart_compute("compute-0");
    let o = stock_fence_compute(&rig, &tmp, "on", "compute-0");
    assert_code(&o, 0, "fence_compute on");
    // and a later monitor does nothing more
    rig.sim.clear_requests();
    let o = rig.monitor(&[]);
    assert_code(&o, 0, "monitor after");
    assert!(
        !rig.sim
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/action")),
        "a finished host was touched again"
    );
}

#[test]
fn every_row_of_the_attribute_protocol() {
    common::require_root();
    let rig = Rig::new({
        let mut cfg = sim_with(8);
        for h in computes(7) {
            cfg = cfg.servers_on(&h, 1);
        }
        cfg
    });
    rig.start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let fresh = format!("ctl-other@{}", now - 5);
    let stale = format!("ctl-other@{}", now - 300);
    let rows: &[(&str, Option<&str>, bool)] = &[
        ("compute-0", Some("yes"), true),
        ("compute-1", Some(&fresh), false),
        ("compute-2", Some(&stale), true),
        ("compute-3", Some("no"), false),
        ("compute-4", Some(""), false),
        ("compute-5", None, false), // deleted below
        ("compute-6", None, false), // never set
    ];
    for (host, value, _) in rows {
        rig.fence_in_nova(host);
        if let Some(v) = value {
            rig.set_attr(host, v);
        }
    }
    rig.set_attr("compute-99", "yes"); // a node Nova does not know
    rig.set_attr("compute-5", "yes");
    rig.delete_attr("compute-5");
    rig.wait_attr("compute-5", "");
    rig.wait_attr("compute-0", "yes");
    // 7 of 8 down: the throttle would hold everything; this test is about the attribute
    let o = rig.monitor(&[("max_failed_share", "100")]);
    assert_code(&o, 0, "monitor");
    for (host, _, evacuated) in rows {
        let n = rig.evacuations_from(host).len();
        assert_eq!(n > 0, *evacuated, "{host}: {n} evacuation(s)");
    }
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
    assert_eq!(rig.attr("compute-2").as_deref(), Some("no"));
    assert_eq!(
        rig.attr("compute-1").as_deref(),
        Some(fresh.as_str()),
        "another controller's fresh mark is left alone"
    );
    assert_eq!(rig.attr("compute-3").as_deref(), Some("no"));
    assert_eq!(rig.attr("compute-4").as_deref(), Some(""));
    // the unknown node keeps its request and is logged once, not at every monitor
    assert_code(
        &rig.monitor(&[("max_failed_share", "100")]),
        0,
        "second monitor",
    );
    assert_eq!(rig.attr("compute-99").as_deref(), Some("yes"));
    let log = std::fs::read_to_string(rig.c.node(0).dir().join("agents.log")).unwrap_or_default();
    assert_eq!(
        log.matches("no nova-compute service for host 'compute-99'")
            .count(),
        1,
        "{log}"
    );
}

#[test]
fn nova_gate_keeps_the_request_until_nova_sees_the_host_fenced_and_logs_it_once() {
    common::require_root();
    let rig = Rig::new(sim_with(3).servers_on("compute-0", 2));
    rig.start();
    rig.set_attr("compute-0", "yes");
    rig.wait_attr("compute-0", "yes");
    for _ in 0..2 {
        let o = rig.monitor(&[]);
        assert_code(&o, 0, "monitor while Nova says up");
    }
    assert!(
        rig.sim.migrations().is_empty(),
        "evacuated a host Nova considers up"
    );
    assert_eq!(
        rig.attr("compute-0").as_deref(),
        Some("yes"),
        "the request must stay"
    );
    let log = std::fs::read_to_string(rig.c.node(0).dir().join("agents.log")).unwrap_or_default();
    assert_eq!(
        log.matches("Nova does not see compute-0 fenced yet")
            .count(),
        1,
        "logged once, not every monitor:\n{log}"
    );
    // down but still enabled: not yet either
    rig.sim.kill_compute("compute-0");
    assert_code(&rig.monitor(&[]), 0, "down, enabled");
    assert!(rig.sim.migrations().is_empty());
    // down and disabled (what an admin or masakari does, no force-down): go
    rig.sim
        .set_service("compute-0", "nova-compute", json!({"status": "disabled"}));
    assert_code(&rig.monitor(&[]), 0, "down, disabled");
    assert_eq!(rig.evacuations_from("compute-0").len(), 2);
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
}

#[test]
fn throttle_holds_everything_when_too_many_hosts_fail_or_no_scheduler_is_up() {
    common::require_root();
    let rig = Rig::new(
        sim_with(4)
            .servers_on("compute-0", 1)
            .servers_on("compute-1", 1)
            .servers_on("compute-2", 1),
    );
    rig.start();
    for h in ["compute-0", "compute-1", "compute-2"] {
        rig.fence_in_nova(h);
        rig.set_attr(h, "yes");
    }
    rig.wait_attr("compute-2", "yes");
    let o = rig.monitor(&[]);
    assert_code(&o, 190, "3 of 4 failed");
    let why = reason(&o);
    assert!(why.contains("3 of 4 nova-compute hosts"), "{why}");
    assert!(why.contains("compute-0, compute-1, compute-2"), "{why}");
    assert!(rig.sim.migrations().is_empty());
    assert_eq!(rig.attr("compute-0").as_deref(), Some("yes"));
    // the operator recovers two of them; one remains
    for h in ["compute-1", "compute-2"] {
        rig.sim.set_service(
            h,
            "nova-compute",
            json!({"forced_down": false, "status": "enabled", "alive": true}),
        );
        rig.set_attr(h, "no");
    }
    rig.sim
        .set_service("controller-0", "nova-scheduler", json!({"alive": false}));
    let o = rig.monitor(&[]);
    assert_code(&o, 190, "no scheduler");
    assert!(reason(&o).contains("nova-scheduler"), "{}", output_text(&o));
    assert!(rig.sim.migrations().is_empty());
    rig.sim
        .set_service("controller-0", "nova-scheduler", json!({"alive": true}));
    assert_code(&rig.monitor(&[]), 0, "scheduler back");
    assert_eq!(rig.evacuations_from("compute-0").len(), 1);
}

#[test]
fn selection_by_flavor_image_private_flavor_boot_from_volume_many_images_and_opt_in() {
    common::require_root();
    let mut cfg = sim_with(2)
        .flavor("7", "ha.private", false, json!({"evacuable": "True "}))
        .flavor("8", "plain", true, json!({}))
        .server(
            json!({"id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "private-flavor",
                       "host": "compute-0", "flavor_id": "7", "image_id": null}),
        )
        .server(
            json!({"id": "aaaaaaaa-0000-4000-8000-000000000002", "name": "bfv-untagged",
                       "host": "compute-0", "flavor_id": "8", "image_id": null}),
        )
        .server(
            json!({"id": "aaaaaaaa-0000-4000-8000-000000000003", "name": "opted-in",
                       "host": "compute-0", "flavor_id": "8", "image_id": null,
                       "metadata": {"HA_Enabled": "True"}}),
        );
    // 32 images (more than Glance's first page), the tagged one last
    for i in 0..32 {
        let id = format!("bbbbbbbb-0000-4000-8000-{i:012}");
        let tags: &[&str] = if i == 31 { &["evacuable"] } else { &[] };
        cfg = cfg.image(&id, tags, json!({}));
        cfg = cfg.server(
            json!({"id": format!("cccccccc-0000-4000-8000-{i:012}"), "name": format!("img-{i}"),
                                "host": "compute-0", "flavor_id": "8", "image_id": id}),
        );
    }
    let rig = Rig::new(cfg);
    rig.start();
    rig.fence_in_nova("compute-0");
    rig.set_attr("compute-0", "yes");
    rig.wait_attr("compute-0", "yes");
    assert_code(&rig.monitor(&[]), 0, "tagged selection");
    let mut moved: Vec<String> = evacuation_counts(&rig, "compute-0").into_keys().collect();
    moved.sort();
    assert_eq!(
        moved,
        [
            "aaaaaaaa-0000-4000-8000-000000000001",
            "cccccccc-0000-4000-8000-000000000031"
        ],
        "private flavor and the 32nd image only"
    );
    // the Glance requests asked for the servers' images, not a listing's first page
    assert!(rig
        .sim
        .requests()
        .iter()
        .all(|r| !(r.service == "image" && r.query.is_empty() && r.path.ends_with("/images"))));

    // opt-in: HA_Enabled=True joins the tagged ones
    let rig = Rig::new(
        sim_with(2)
            .flavor("8", "plain", true, json!({}))
            .server(json!({"id": "dddddddd-0000-4000-8000-000000000001", "name": "opted-in",
                           "host": "compute-0", "flavor_id": "8", "metadata": {"HA_Enabled": "True"}}))
            .server(json!({"id": "dddddddd-0000-4000-8000-000000000002", "name": "not",
                           "host": "compute-0", "flavor_id": "8"})),
    );
    rig.start();
    rig.fence_in_nova("compute-0");
    rig.set_attr("compute-0", "yes");
    rig.wait_attr("compute-0", "yes");
    assert_code(&rig.monitor(&[("instance_opt_in", "true")]), 0, "opt-in");
    let moved: Vec<String> = evacuation_counts(&rig, "compute-0").into_keys().collect();
    assert_eq!(moved, ["dddddddd-0000-4000-8000-000000000001"]);
}

#[test]
fn every_page_of_servers_and_nothing_tagged_means_everything() {
    common::require_root();
    let rig = Rig::new(sim_with(2).page_cap(4).servers_on("compute-0", 11));
    rig.start();
    rig.fence_in_nova("compute-0");
    rig.set_attr("compute-0", "yes");
    rig.wait_attr("compute-0", "yes");
    assert_code(&rig.monitor(&[]), 0, "paged");
    assert_eq!(evacuation_counts(&rig, "compute-0").len(), 11);
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
}

/// A host with `n` servers fenced in Nova and marked `yes`.
fn fenced_rig(cfg: SimConfig) -> Rig {
    let rig = Rig::new(cfg);
    rig.start();
    rig.fence_in_nova("compute-0");
    rig.set_attr("compute-0", "yes");
    rig.wait_attr("compute-0", "yes");
    rig
}

fn spares(cfg: SimConfig, n: usize) -> SimConfig {
    let mut cfg = cfg;
    for i in 0..n {
        cfg = cfg.service(
            json!({"host": format!("spare-{i}"), "binary": "nova-compute",
                                 "status": "disabled", "disabled_reason": "reserved"}),
        );
    }
    cfg
}

fn destinations(rig: &Rig, host: &str) -> Vec<String> {
    let mut d: Vec<String> = rig
        .evacuations_from(host)
        .iter()
        .filter(|m| m["status"] == "done")
        .map(|m| m["dest_compute"].as_str().unwrap_or("").to_string())
        .collect();
    d.sort();
    d
}

#[test]
fn reserved_host_methods_and_no_reserved_capacity_left() {
    common::require_root();
    // reserved_host: to spare-0 by name (enabled for it); a refusal there moves on to spare-1
    let rig = fenced_rig(spares(sim_with(2).servers_on("compute-0", 2), 2));
    rig.sim
        .fault(Fault::new(Some("POST"), "/servers/.*/action", FaultKind::Status(400)).times(1));
    let p = [
        ("recovery_method", "reserved_host"),
        ("reserved_hosts", "spare-0 spare-1"),
    ];
    assert_code(&rig.monitor(&p), 0, "reserved_host");
    let d = destinations(&rig, "compute-0");
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().all(|h| h.starts_with("spare-")), "{d:?}");
    assert!(
        d.contains(&"spare-1".to_string()),
        "the refused one went on to spare-1: {d:?}"
    );
    assert_eq!(
        rig.sim.service("spare-0", "nova-compute")["status"],
        "enabled"
    );
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));

    // auto_priority: the scheduler finds nothing (compute-1 disabled) → reserved
    let rig = fenced_rig(spares(sim_with(2).servers_on("compute-0", 1), 1));
    rig.sim
        .set_service("compute-1", "nova-compute", json!({"status": "disabled"}));
    let p = [
        ("recovery_method", "auto_priority"),
        ("reserved_hosts", "spare-0"),
    ];
    assert_code(&rig.monitor(&p), 0, "auto_priority");
    assert_eq!(destinations(&rig, "compute-0"), ["spare-0"]);

    // rh_priority with the reserved host itself down → auto
    let rig = fenced_rig(spares(sim_with(4).servers_on("compute-0", 1), 1));
    rig.sim
        .set_service("spare-0", "nova-compute", json!({"alive": false}));
    let p = [
        ("recovery_method", "rh_priority"),
        ("reserved_hosts", "spare-0"),
    ];
    assert_code(&rig.monitor(&p), 0, "rh_priority");
    let d = destinations(&rig, "compute-0");
    assert!(d.len() == 1 && d[0].starts_with("compute-"), "{d:?}");

    // reserved_host with no usable reserved host: DEGRADED, nothing evacuated, request kept
    let rig = fenced_rig(spares(sim_with(4).servers_on("compute-0", 1), 1));
    rig.sim
        .set_service("spare-0", "nova-compute", json!({"alive": false}));
    let p = [
        ("recovery_method", "reserved_host"),
        ("reserved_hosts", "spare-0"),
    ];
    let o = rig.monitor(&p);
    assert_code(&o, 190, "no reserved capacity");
    assert!(
        reason(&o).contains("no reserved capacity left"),
        "{}",
        output_text(&o)
    );
    assert!(rig.sim.migrations().is_empty());
    assert_ne!(rig.attr("compute-0").as_deref(), Some("no"));
}

/// Make every failed instance of `host` due now (what the back-off's time passing does).
fn expire_backoff(rig: &Rig, host: &str) {
    let path = rig
        .rsctmp
        .join("ocfbox-NovaEvacuate-nova-evacuate.d")
        .join(format!("{host}.host"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(' ').collect();
            if f.first() == Some(&"instance") && f.len() > 5 {
                f[5] = "0";
            }
            f.join(" ")
        })
        .collect();
    std::fs::write(&path, out.join("\n") + "\n").expect("rewrite record");
}

fn evacuate_posts(rig: &Rig) -> usize {
    rig.sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/action") && r.status == Some(200))
        .count()
}

#[test]
fn a_failed_evacuation_backs_off_across_monitors_and_is_retried_once_due() {
    common::require_root();
    let rig = fenced_rig(sim_with(2).servers_on("compute-0", 3));
    let bad = server_id("compute-0", 1);
    // the conductor finds no valid host for it: migration `error`, the server stays
    rig.sim
        .set_server(&bad, json!({"evacuate_outcome": "error"}));
    let o = rig.monitor(&[]);
    assert_code(&o, 190, "one failed");
    let why = reason(&o);
    assert!(
        why.contains("compute-0: 1 of 3 instance(s) failed"),
        "{why}"
    );
    assert!(why.contains("next retry in"), "{why}");
    assert!(
        rig.disabled_reason("compute-0")
            .starts_with("ocfbox evacuation failed "),
        "{}",
        rig.disabled_reason("compute-0")
    );
    assert_ne!(rig.attr("compute-0").as_deref(), Some("no"));
    // an immediate second monitor does not hammer Nova
    rig.sim.clear_requests();
    assert_code(&rig.monitor(&[]), 190, "backing off");
    assert_eq!(evacuate_posts(&rig), 0, "retried inside the back-off");
    // time passes, the cause is fixed: retried once, done
    rig.sim.set_server(
        &bad,
        json!({"evacuate_outcome": "done", "vm_state": "active"}),
    );
    expire_backoff(&rig, "compute-0");
    assert_code(&rig.monitor(&[]), 0, "retried");
    assert_eq!(evacuate_posts(&rig), 1);
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
    assert_ne!(rig.sim.server(&bad)["host"], "compute-0");
}

#[test]
fn a_stuck_instance_is_reset_to_error_once_and_evacuated() {
    common::require_root();
    let rig = fenced_rig(
        sim_with(2)
            .servers_on("compute-0", 1)
            .server(
                json!({"id": "eeeeeeee-0000-4000-8000-000000000001", "name": "stuck",
                           "host": "compute-0", "flavor_id": "1", "task_state": "powering-off"}),
            )
            .server(
                json!({"id": "eeeeeeee-0000-4000-8000-000000000002", "name": "paused",
                           "host": "compute-0", "flavor_id": "1", "vm_state": "paused"}),
            ),
    );
    assert_code(&rig.monitor(&[]), 0, "stuck ones reset then evacuated");
    let counts = evacuation_counts(&rig, "compute-0");
    assert_eq!(counts.len(), 3, "{counts:?}");
    let resets = rig
        .sim
        .requests()
        .iter()
        .filter(|r| {
            r.method == "POST" && r.path.ends_with("/action") && r.path.contains("eeeeeeee")
        })
        .count();
    assert!(
        resets >= 4,
        "reset + evacuate for each of the two: {resets} actions"
    );
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
}

#[test]
fn faults_give_degraded_with_the_reason_and_lose_nothing() {
    common::require_root();
    let rig = fenced_rig(sim_with(2).servers_on("compute-0", 4));
    // 5xx on the service list: nothing can be decided
    rig.sim
        .fault(Fault::new(Some("GET"), "/os-services", FaultKind::Status(503)).times(1));
    let o = rig.monitor(&[]);
    assert_code(&o, 190, "503");
    assert!(reason(&o).contains("503"), "{}", output_text(&o));
    assert_eq!(
        rig.attr("compute-0").as_deref(),
        Some("yes"),
        "request lost after a 503"
    );
    // the flavors unreadable: nothing is selected from half a view, the host stays open
    rig.sim
        .fault(Fault::new(Some("GET"), "/flavors/detail", FaultKind::Status(500)).times(1));
    let o = rig.monitor(&[]);
    assert_code(&o, 190, "flavors 500");
    assert!(rig.sim.migrations().is_empty());
    assert_ne!(
        rig.attr("compute-0").as_deref(),
        Some("no"),
        "closed without selecting"
    );
    // malformed JSON on the server list
    rig.sim
        .fault(Fault::new(Some("GET"), "/servers/detail", FaultKind::Malformed).times(1));
    let o = rig.monitor(&[]);
    assert_code(&o, 190, "malformed");
    assert!(rig.sim.migrations().is_empty());
    // a hung migrations query: the monitor answers before its timeout
    rig.sim.fault(
        Fault::new(
            Some("GET"),
            "/os-migrations",
            FaultKind::Hang(Duration::from_secs(40)),
        )
        .times(1),
    );
    let o = rig.run("monitor", &[], 20_000);
    assert_code(&o, 190, "hang");
    // a dropped connection on one evacuation, and the token revoked mid-run
    rig.sim
        .fault(Fault::new(Some("POST"), "/servers/.*/action", FaultKind::Drop).times(1));
    rig.sim.fault(
        Fault::new(Some("GET"), "/os-migrations", FaultKind::Unauthorized)
            .times(1)
            .after(1),
    );
    let o = rig.monitor(&[]);
    assert_code(&o, 190, "one dropped");
    expire_backoff(&rig, "compute-0");
    assert_code(&rig.monitor(&[]), 0, "all done");
    let counts = evacuation_counts(&rig, "compute-0");
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(
        counts.values().all(|n| *n == 1),
        "an instance was evacuated twice: {counts:?}"
    );
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
}

#[test]
fn the_request_survives_the_attribute_being_deleted_and_the_state_directory_being_lost() {
    common::require_root();
    // 4 s rebuilds against a 6 s monitor: the first monitor leaves them in flight
    let rig = fenced_rig(
        sim_with(2)
            .rebuild_time(Duration::from_secs(4))
            .servers_on("compute-0", 3),
    );
    assert_code(&rig.run("monitor", &[], 6_000), 0, "first monitor");
    assert_eq!(rig.evacuations_from("compute-0").len(), 3);
    assert!(rig
        .disabled_reason("compute-0")
        .starts_with("ocfbox evacuation running "));
    let mark = rig.attr("compute-0").unwrap_or_default();
    assert!(mark.starts_with("node1@"), "in-flight mark: {mark}");
    // Pacemaker 3.0.2 purges the fenced node's attributes; the records go too (failover)
    rig.delete_attr("compute-0");
    rig.wait_attr("compute-0", "");
    let records = rig.rsctmp.join("ocfbox-NovaEvacuate-nova-evacuate.d");
    std::fs::remove_dir_all(&records).expect("remove records");
    assert_code(&rig.monitor(&[]), 0, "resumed from Nova");
    let counts = evacuation_counts(&rig, "compute-0");
    assert!(
        counts.values().all(|n| *n == 1),
        "evacuated twice: {counts:?}"
    );
    assert!(rig
        .evacuations_from("compute-0")
        .iter()
        .all(|m| m["status"] == "done"));
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
    assert!(rig
        .disabled_reason("compute-0")
        .starts_with("ocfbox evacuation done "));
}

#[test]
fn secrets_stay_out_of_logs_records_and_every_request_but_the_token_one() {
    common::require_root();
    let rig = fenced_rig(sim_with(2).servers_on("compute-0", 2));
    rig.sim.set_server(
        &server_id("compute-0", 0),
        json!({"evacuate_outcome": "error"}),
    );
    let _ = rig.run("monitor", &[("verbose", "true")], 60_000);
    let password = rig.sim.admin().password;
    let mut files = vec![
        rig.c.node(0).dir().join("agents.log"),
        rig.c.node(0).log_path(),
    ];
    if let Ok(dir) = std::fs::read_dir(rig.rsctmp.join("ocfbox-NovaEvacuate-nova-evacuate.d")) {
        files.extend(dir.flatten().map(|e| e.path()));
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains(&password), "password in {}", f.display());
    }
    for r in rig.sim.requests() {
        if r.had_secret {
            assert!(
                r.path.ends_with("/auth/tokens") && r.method == "POST",
                "secret sent to {} {}",
                r.method,
                r.path
            );
        }
    }
}

#[test]
fn ocf_tester_passes() {
    common::require_root();
    common::require_cmd("ocf-tester", "resource-agents");
    let rig = Rig::new(sim_with(2));
    let mut args = vec!["-n".to_string(), "nova-evacuate".to_string()];
    for (k, v) in rig.params() {
        args.push("-o".into());
        args.push(format!("{k}={v}"));
    }
    args.push(format!("{AGENTS}/NovaEvacuate"));
    let mut cmd = rig.c.node(0).command("ocf-tester");
    execd_env(&mut cmd, &rig.c.node(0).dir().join("agents.log"))
        .env("HA_RSCTMP", &rig.rsctmp)
        .args(&args);
    let o = cmd.output().expect("run ocf-tester");
    let out = output_text(&o);
    assert!(
        o.status.success() && out.contains("passed all tests"),
        "ocf-tester:\n{out}"
    );
}

#[test]
fn as_a_cluster_resource_a_failing_evacuation_shows_in_crm_mon() {
    common::require_root();
    let rig = Rig::new(sim_with(3).servers_on("compute-0", 2));
    rig.sim.set_server(
        &server_id("compute-0", 1),
        json!({"evacuate_outcome": "error"}),
    );
    rig.fence_in_nova("compute-0");
    rig.set_attr("compute-0", "yes");
    let params: Vec<String> = rig
        .params()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    rig.c
        .crm_configure(&format!(
            "primitive nova-evacuate ocf:ocfbox:NovaEvacuate params {} \
               op start timeout=20s op stop timeout=20s op monitor interval=3s timeout=60s",
            params.join(" ")
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    rig.c
        .wait_for_resource("nova-evacuate", "node1", "Started", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = common::poll(Duration::from_secs(60), Duration::from_millis(500), || {
        let text = rig.c.node(0).exec_ok(&["crm_mon", "-1"]).ok()?;
        text.contains("1 of 2 instance(s) failed to evacuate")
            .then_some(text)
    })
    .unwrap_or_else(|| {
        panic!(
            "crm_mon never showed the failing evacuation:\n{}",
            rig.c
                .node(0)
                .exec_ok(&["crm_mon", "-1"])
                .unwrap_or_default()
        )
    });
    assert!(shown.contains("OCF_DEGRADED"), "{shown}");
    // degraded, not failed: the resource stays where it is
    rig.c
        .wait_for_resource("nova-evacuate", "node1", "Started", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(evacuation_counts(&rig, "compute-0").len(), 2);
}

#[test]
fn evacuate_delay_holds_a_host_back_without_blocking_the_monitor() {
    common::require_root();
    let rig = fenced_rig(sim_with(3).servers_on("compute-0", 1));
    let o = rig.monitor(&[("evacuate_delay", "3600")]);
    assert_code(&o, 0, "delayed");
    assert!(
        rig.sim.migrations().is_empty(),
        "evacuated inside evacuate_delay"
    );
    let mark = rig.attr("compute-0").unwrap_or_default();
    assert!(
        mark.starts_with("node1@"),
        "the request is ours and in flight: {mark}"
    );
    let log = std::fs::read_to_string(rig.c.node(0).dir().join("agents.log")).unwrap_or_default();
    assert!(log.contains("waiting evacuate_delay"), "{log}");
    // without the delay the next monitor goes ahead
    assert_code(&rig.monitor(&[]), 0, "no delay");
    assert_eq!(rig.evacuations_from("compute-0").len(), 1);
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
}

#[test]
fn short_names_match_fqdn_hosts_per_host_in_a_mixed_nova() {
    common::require_root();
    let rig = Rig::new(
        SimConfig::new()
            .hosts(&["cmp-a.example.com", "cmp-b", "cmp-c.example.com", "cmp-d"])
            .servers_on("cmp-a.example.com", 1)
            .servers_on("cmp-b", 1),
    );
    rig.start();
    for h in ["cmp-a.example.com", "cmp-b"] {
        rig.fence_in_nova(h);
    }
    // the cluster knows them by short name (what fence_compute's plug may be)
    rig.set_attr("cmp-a", "yes");
    rig.set_attr("cmp-b", "yes");
    rig.wait_attr("cmp-b", "yes");
    assert_code(&rig.monitor(&[("domain", "example.com")]), 0, "mixed names");
    assert_eq!(rig.evacuations_from("cmp-a.example.com").len(), 1);
    assert_eq!(rig.evacuations_from("cmp-b").len(), 1);
    assert_eq!(
        rig.attr("cmp-a").as_deref(),
        Some("no"),
        "the key it was asked under"
    );
    assert_eq!(rig.attr("cmp-b").as_deref(), Some("no"));
}

#[test]
fn complete_when_accepted_restores_the_old_meaning() {
    common::require_root();
    let rig = fenced_rig(
        sim_with(3)
            .rebuild_time(Duration::from_secs(30))
            .servers_on("compute-0", 2),
    );
    assert_code(
        &rig.monitor(&[("complete_when", "accepted")]),
        0,
        "accepted is enough",
    );
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
    let migs = rig.evacuations_from("compute-0");
    assert_eq!(migs.len(), 2);
    assert!(migs.iter().all(|m| m["status"] != "done"), "{migs:?}");
}

#[test]
fn two_monitors_at_once_never_evacuate_an_instance_twice() {
    common::require_root();
    // e.g. a monitor still running when an operator runs one by hand, or a takeover racing
    // the old controller: Nova's 409 for a rebuilding server is followed, not fought
    let rig = fenced_rig(sim_with(3).latency_ms(5).servers_on("compute-0", 24));
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| rig.monitor(&[("concurrency", "4")]));
        let b = s.spawn(|| rig.monitor(&[("concurrency", "4")]));
        (a.join().expect("monitor a"), b.join().expect("monitor b"))
    });
    assert_code(&a, 0, "first");
    assert_code(&b, 0, "second");
    let counts = evacuation_counts(&rig, "compute-0");
    assert_eq!(counts.len(), 24, "{counts:?}");
    assert!(
        counts.values().all(|n| *n == 1),
        "evacuated twice: {counts:?}"
    );
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
}

#[test]
fn an_older_nova_without_service_uuids_is_evacuated_the_same_way() {
    common::require_root();
    // 2.25: services by host+binary (disable-log-reason), no paging of migrations
    let rig = fenced_rig(
        sim_with(3)
            .max_microversion("2.25")
            .servers_on("compute-0", 3),
    );
    assert_code(&rig.monitor(&[]), 0, "2.25");
    let counts = evacuation_counts(&rig, "compute-0");
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1));
    assert_eq!(rig.attr("compute-0").as_deref(), Some("no"));
    assert!(
        rig.disabled_reason("compute-0")
            .starts_with("ocfbox evacuation done "),
        "{}",
        rig.disabled_reason("compute-0")
    );
}

#[test]
fn an_unwritable_state_directory_is_degraded_not_silent() {
    common::require_root();
    let rig = fenced_rig(sim_with(3).servers_on("compute-0", 1));
    // a file where the records directory should be
    std::fs::write(rig.rsctmp.join("ocfbox-NovaEvacuate-nova-evacuate.d"), "").expect("block");
    let o = rig.monitor(&[]);
    assert_code(&o, 190, "records unwritable");
    assert!(
        reason(&o).contains("compute-0: not evacuated"),
        "{}",
        output_text(&o)
    );
    assert!(rig.sim.migrations().is_empty());
    assert_eq!(rig.attr("compute-0").as_deref(), Some("yes"));
}
