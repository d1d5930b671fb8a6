//! NovaCompute and nova-compute-wait on a real pacemaker_remote node (its own systemd runs a
//! fake nova-compute that reports to the Nova simulator), joined to a real single-node
//! cluster whose attrd holds the `evacuate` attributes. The agent runs inside the remote
//! node as pacemaker-remoted runs it; the end-to-end test lets Pacemaker do everything.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use common::execd::{self, AgentEnv, Run};
use common::nova::*;
use common::pacemaker::{Cluster, ClusterOptions};
use common::remote::{RemoteNode, RemoteOptions};
use common::TempDir;

const AGENTS: &str = "/usr/lib/ocf/resource.d/ocfbox";
const HOST: &str = "compute-0";
const UNIT: &str = "nova-compute.service";

fn fake_nova_compute(sim: &NovaSim, host: &str, delay_s: f64) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nova-sim/fake-nova-compute.py");
    format!(
        "[Unit]\nDescription=fake nova-compute\n[Service]\nExecStart=/usr/bin/python3 {} {} {host} --delay {delay_s}\n",
        script.display(),
        sim.control_socket().display()
    )
}

struct Rig {
    // drop order: the remote node, the simulator, the cluster, the files
    r: RemoteNode,
    sim: NovaSim,
    c: Cluster,
    tmp: TempDir,
}

struct RigOptions {
    /// nova-compute installed on the remote node
    unit: bool,
    /// seconds the fake nova-compute takes to report its start
    delay_s: f64,
}

impl Default for RigOptions {
    fn default() -> Self {
        RigOptions {
            unit: true,
            delay_s: 0.0,
        }
    }
}

impl Rig {
    fn new(cfg: SimConfig, o: RigOptions) -> Rig {
        common::require_root();
        let tmp = TempDir::new("nova-compute");
        let provider = common::ocfbox_provider_dir(tmp.path());
        let c = Cluster::start(ClusterOptions {
            ocf_provider_dirs: vec![("ocfbox".into(), provider.clone())],
            ..Default::default()
        });
        let (pid, ip) = c.service_endpoint().unwrap_or_else(|e| panic!("{e}"));
        let sim = NovaSim::start(cfg.netns_of(pid).bind(&ip));
        let mut ro = RemoteOptions::new(HOST);
        ro.ocf_provider_dirs = vec![("ocfbox".into(), provider)];
        if o.unit {
            ro.units = vec![(UNIT.into(), fake_nova_compute(&sim, HOST, o.delay_s))];
        }
        let r = RemoteNode::start(&c, ro);
        Rig { r, sim, c, tmp }
    }

    fn log(&self) -> PathBuf {
        self.tmp.join("agents.log")
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
            // no nova.conf on this machine: the node name is the host
            (
                "nova_conf".into(),
                self.tmp.join("none.conf").display().to_string(),
            ),
        ]
    }

    fn env(&self, agent: &str, extra: &[(&str, &str)], timeout_ms: u64) -> AgentEnv {
        let mut env = AgentEnv::execd(&self.log())
            .var("HA_debug", "1")
            .instance(if agent == "NovaCompute" {
                "nova-compute"
            } else {
                "nova-compute-wait"
            })
            .meta("timeout", &timeout_ms.to_string())
            .vars(self.r.systemd(|sd| sd.agent_env()));
        for (k, v) in self.params() {
            env = env.param(&k, &v);
        }
        for (k, v) in extra {
            env = if let Some(var) = k.strip_prefix('$') {
                env.var(var, v)
            } else {
                env.param(k, v)
            };
        }
        env
    }

    fn run_agent(&self, agent: &str, action: &str, extra: &[(&str, &str)], timeout_ms: u64) -> Run {
        let env = self.env(agent, extra, timeout_ms);
        let cmd = self.r.command(format!("{AGENTS}/{agent}"));
        execd::run_command(cmd, action, &env, &format!("{agent} {action}"))
    }

    fn run(&self, action: &str, extra: &[(&str, &str)], timeout_ms: u64) -> Run {
        self.run_agent("NovaCompute", action, extra, timeout_ms)
    }

    /// `start` in the background (the test changes the world while it waits).
    fn start_in_background(
        &self,
        agent: &str,
        extra: &[(&str, &str)],
        timeout_ms: u64,
    ) -> thread::JoinHandle<Run> {
        let env = self.env(agent, extra, timeout_ms);
        let cmd = self.r.command(format!("{AGENTS}/{agent}"));
        let what = format!("{agent} start");
        thread::spawn(move || execd::run_command(cmd, "start", &env, &what))
    }

    fn set_attr(&self, value: &str) {
        self.c
            .exec_ok(&[
                "attrd_updater",
                "-p",
                "-n",
                "evacuate",
                "-N",
                HOST,
                "-U",
                value,
            ])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn delete_attr(&self) {
        self.c
            .exec_ok(&["attrd_updater", "-n", "evacuate", "-N", HOST, "-D"])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn attr(&self) -> Option<String> {
        self.c
            .attrd_query_all(0, "evacuate")
            .into_iter()
            .find(|(h, _)| h == HOST)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }

    fn unit_state(&self) -> String {
        self.r.systemd(|sd| sd.active_state(UNIT))
    }

    fn agent_log(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Waits until the agent's log has `text` (the wait reached that point).
    fn wait_log(&self, text: &str, timeout: Duration) {
        common::poll(timeout, Duration::from_millis(50), || {
            self.agent_log().contains(text).then_some(())
        })
        .unwrap_or_else(|| panic!("agent log never said {text:?}:\n{}", self.agent_log()))
    }

    fn set_migrations(&self, list: Value) {
        let mut st = self.sim.state();
        for svc in st["services"].as_array_mut().into_iter().flatten() {
            if let Some(o) = svc.as_object_mut() {
                o.remove("state");
            }
        }
        st["migrations"] = list;
        self.sim.set_state(&st);
    }

    fn service(&self) -> Value {
        self.sim.service(HOST, "nova-compute")
    }

    /// PUT /os-services/... answers, in order.
    fn service_updates(&self) -> Vec<u16> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/os-services"))
            .filter_map(|r| r.status)
            .collect()
    }
}

fn evac(instance: &str, status: &str) -> Value {
    json!({"source_compute": HOST, "dest_compute": "compute-1", "status": status,
           "migration_type": "evacuation", "instance_uuid": instance})
}

/// compute-0 as fence_compute leaves it: forced down, disabled without a reason, dead.
fn fenced_sim() -> SimConfig {
    SimConfig::new()
        .hosts(&[HOST, "compute-1"])
        .with_state(|st| {
            for s in st["services"].as_array_mut().into_iter().flatten() {
                if s["host"] == HOST {
                    s["forced_down"] = json!(true);
                    s["status"] = json!("disabled");
                    s["disabled_reason"] = Value::Null;
                    s["alive"] = json!(false);
                    s["dead_since"] = json!(0);
                }
            }
        })
}

fn epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn start_waits_for_the_attribute_then_every_evacuation_then_unfences_through_the_xena_guard() {
    let rig = Rig::new(
        fenced_sim(),
        RigOptions {
            delay_s: 1.5,
            ..Default::default()
        },
    );
    rig.set_attr("yes");
    rig.set_migrations(json!([
        evac("i-1", "running"),
        evac("i-2", "pre-migrating"),
        evac("i-3", "done")
    ]));
    let start = rig.start_in_background("NovaCompute", &[], 120_000);

    rig.wait_log("evacuate=yes for compute-0", Duration::from_secs(20));
    rig.set_attr(&format!("node1@{}", epoch()));
    rig.wait_log("evacuate=node1@", Duration::from_secs(20));
    rig.set_attr("no");
    rig.wait_log("2 evacuation(s) still running (", Duration::from_secs(20));
    let log = rig.agent_log();
    assert!(
        log.contains("i-1 running") && log.contains("i-2 pre-migrating"),
        "{log}"
    );
    thread::sleep(Duration::from_secs(2));
    assert_eq!(
        rig.unit_state(),
        "inactive",
        "nova-compute started during the evacuation"
    );
    let before = rig.agent_log();
    // one line per change, not per poll
    assert_eq!(
        count(&before, "waiting before starting nova-compute"),
        3,
        "{before}"
    );

    let t_done = Instant::now();
    rig.set_migrations(json!([
        evac("i-1", "done"),
        evac("i-2", "done"),
        evac("i-3", "done")
    ]));
    let run = start.join().expect("start thread");
    run.expect(0, "start");
    eprintln!(
        "start returned {} ms after the last evacuation was done",
        t_done.elapsed().as_millis()
    );
    assert_eq!(rig.unit_state(), "active");
    let svc = rig.service();
    assert_eq!(svc["forced_down"], false, "{svc}");
    assert_eq!(svc["status"], "enabled", "{svc}");
    assert_eq!(svc["state"], "up", "{svc}");
    // the Xena guard answered 400 until nova-compute completed its evacuations
    let updates = rig.service_updates();
    assert!(
        updates.first() == Some(&400) && updates.ends_with(&[200, 200]),
        "{updates:?}"
    );
    assert!(rig
        .sim
        .migrations()
        .iter()
        .all(|m| m["status"] == "completed"));
    assert_eq!(
        rig.attr(),
        None,
        "evacuate=no is cleared after the unfencing"
    );
    let log = rig.agent_log();
    assert!(log.contains("Nova refuses to clear forced_down"), "{log}");
    assert!(
        log.contains("enabled nova-compute (was disabled by fence_compute)"),
        "{log}"
    );
}

#[test]
fn an_attribute_deleted_mid_wait_ends_the_wait_and_an_operators_disable_stays() {
    let rig = Rig::new(
        SimConfig::new()
            .hosts(&[HOST, "compute-1"])
            .with_state(|st| {
                for s in st["services"].as_array_mut().into_iter().flatten() {
                    if s["host"] == HOST {
                        s["status"] = json!("disabled");
                        s["disabled_reason"] = json!("maintenance: new disks");
                    }
                }
            }),
        RigOptions::default(),
    );
    rig.set_attr("yes");
    let start = rig.start_in_background("NovaCompute", &[], 60_000);
    rig.wait_log("evacuate=yes", Duration::from_secs(20));
    rig.delete_attr();
    start.join().expect("start thread").expect(0, "start");
    assert_eq!(rig.unit_state(), "active");
    let svc = rig.service();
    assert_eq!(
        svc["status"], "disabled",
        "an operator's disable was undone: {svc}"
    );
    assert_eq!(svc["disabled_reason"], "maintenance: new disks");
    assert!(rig
        .agent_log()
        .contains("left disabled: disabled by an operator (reason 'maintenance: new disks')"));
}

#[test]
fn the_durable_marker_blocks_without_the_attribute_the_timeout_says_why_and_nova_conf_names_the_host(
) {
    let now = epoch();
    let rig = Rig::new(
        fenced_sim().with_state(|st| {
            for s in st["services"].as_array_mut().into_iter().flatten() {
                if s["host"] == "compute-1" {
                    s["disabled_reason"] = json!(format!("ocfbox evacuation running {now}"));
                    s["status"] = json!("disabled");
                    s["forced_down"] = json!(true);
                }
            }
        }),
        RigOptions::default(),
    );
    // this node is compute-0, but nova.conf.d says Nova knows it as compute-1
    let conf = rig.tmp.join("nova.conf");
    let dir = rig.tmp.join("nova.conf.d");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(&conf, "[DEFAULT]\nhost = compute-9\n").expect("write");
    std::fs::write(dir.join("20-late.conf"), "[DEFAULT]\nhost = compute-1\n").expect("write");
    std::fs::write(dir.join("10-early.conf"), "[DEFAULT]\nhost = compute-8\n").expect("write");
    let confs = [
        ("nova_conf", conf.display().to_string()),
        ("nova_conf_dir", dir.display().to_string()),
    ];
    let extra: Vec<(&str, &str)> = confs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // no attribute at all (a remote node loses it at rejoin): Nova's marker still blocks
    let t = Instant::now();
    let run = rig.run("start", &extra, 8_000);
    run.expect(1, "start with the evacuation still running");
    run.reason_has("compute-1: evacuation not over");
    run.reason_has(&format!("ocfbox evacuation running {now}"));
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "the start overran its timeout"
    );
    assert_eq!(rig.unit_state(), "inactive");

    // NovaEvacuate finishes: the marker says done, and the start goes through
    rig.sim.set_service(
        "compute-1",
        "nova-compute",
        json!({"disabled_reason": format!("ocfbox evacuation done {now}")}),
    );
    rig.run("start", &extra, 60_000).expect(0, "start");
    let svc = rig.sim.service("compute-1", "nova-compute");
    assert_eq!(
        (svc["forced_down"].clone(), svc["status"].clone()),
        (json!(false), json!("enabled")),
        "{svc}"
    );
    assert_eq!(
        rig.service()["forced_down"],
        true,
        "compute-0 is not this host for Nova"
    );

    // oslo.config interpolation is refused, saying so
    std::fs::write(dir.join("30-interp.conf"), "[DEFAULT]\nhost = $my_ip\n").expect("write");
    rig.run("validate-all", &extra, 20_000)
        .expect(6, "interpolated host")
        .reason_has("interpolation");
}

#[test]
fn probes_monitor_and_stop_follow_the_unit_and_nova_and_never_fail_a_stop() {
    // nova-compute not installed on this node
    let bare = Rig::new(
        SimConfig::new().hosts(&[HOST]),
        RigOptions {
            unit: false,
            ..Default::default()
        },
    );
    bare.run("monitor", &[("CRM_meta_interval", "0")], 20_000)
        .expect(7, "probe without nova-compute");
    bare.run("stop", &[], 20_000)
        .expect(0, "stop without nova-compute");
    bare.run("start", &[], 20_000)
        .expect(5, "start without nova-compute");
    drop(bare);

    let rig = Rig::new(SimConfig::new().hosts(&[HOST]), RigOptions::default());
    let probe = [("CRM_meta_interval", "0")];
    rig.run("monitor", &probe, 20_000)
        .expect(7, "probe before start");
    rig.run("stop", &[], 20_000)
        .expect(0, "stop of a stopped unit");
    rig.run("start", &[], 60_000).expect(0, "start");
    rig.run("start", &[], 60_000).expect(0, "start again");
    rig.run("monitor", &[], 20_000).expect(0, "monitor");
    let deep = [("$OCF_CHECK_LEVEL", "10")];
    rig.run("monitor", &deep, 20_000)
        .expect(0, "monitor with Nova");
    rig.sim
        .set_service(HOST, "nova-compute", json!({"forced_down": true}));
    rig.run("monitor", &deep, 20_000)
        .expect(1, "Nova has it forced down")
        .reason_has("forced down");
    rig.run("monitor", &[], 20_000)
        .expect(0, "the unit alone is fine");
    // a stop that cannot reach Nova (wrong Keystone) still succeeds, and never forces down
    rig.sim
        .set_service(HOST, "nova-compute", json!({"forced_down": false}));
    let before = rig.service_updates().len();
    rig.run(
        "stop",
        &[("auth_url", "http://10.78.0.1:9/identity")],
        20_000,
    )
    .expect(0, "stop");
    assert_eq!(rig.unit_state(), "inactive");
    assert_eq!(
        rig.service_updates().len(),
        before,
        "stop changed the service in Nova"
    );
    rig.run("monitor", &[], 20_000)
        .expect(7, "monitor after stop");
}

#[test]
fn nova_compute_wait_waits_the_same_way_accepts_the_old_parameters_and_writes_no_drop_in() {
    let rig = Rig::new(fenced_sim(), RigOptions::default());
    rig.set_migrations(json!([evac("i-1", "running")]));
    let old = [
        ("no_shared_storage", "1"),
        ("evacuation_delay", "1"),
        ("domain", ""),
        ("endpoint_type", "publicURL"),
    ];
    let w = |action: &str, timeout: u64| rig.run_agent("nova-compute-wait", action, &old, timeout);
    w("validate-all", 20_000).expect(0, "validate-all");
    w("monitor", 20_000).expect(7, "monitor before start");
    let start = rig.start_in_background("nova-compute-wait", &old, 60_000);
    rig.wait_log(
        "1 evacuation(s) still running (i-1 running)",
        Duration::from_secs(20),
    );
    rig.set_migrations(json!([evac("i-1", "done")]));
    start.join().expect("start thread").expect(0, "start");
    assert!(rig.agent_log().contains("evacuation_delay: pausing 1 s"));
    w("monitor", 20_000).expect(0, "monitor");
    w("notify", 20_000).expect(0, "notify");
    // it never started or touched nova-compute: that is the systemd resource's job
    assert_eq!(rig.unit_state(), "inactive");
    let dropins = rig
        .r
        .systemd(|sd| sd.unit_dir().join("openstack-nova-compute.service.d"));
    assert!(!dropins.exists(), "nova-compute-wait wrote a drop-in");
    w("stop", 20_000).expect(0, "stop");
    w("monitor", 20_000).expect(7, "monitor after stop");
}

#[test]
fn secrets_stay_out_of_logs_argv_and_child_environments() {
    let rig = Rig::new(fenced_sim(), RigOptions::default());
    rig.set_attr("yes");
    let password = rig.sim.admin().password;
    let start = rig.start_in_background("NovaCompute", &[], 60_000);
    rig.wait_log("evacuate=yes", Duration::from_secs(20));
    // while it waits: no process of the node carries the password in argv or environment
    // except the agent itself (pacemaker-execd's way of passing parameters)
    let pid = rig.r.host_pid().expect("remote runs");
    for (p, name) in common::proc::ns_processes(pid) {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.pid)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(&password),
            "password in argv of {name}"
        );
        if name != "NovaCompute" && name != "nsenter" {
            let environ = std::fs::read(format!("/proc/{}/environ", p.pid)).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&environ).contains(&password),
                "password in the environment of {name}"
            );
        }
    }
    rig.delete_attr();
    start.join().expect("start thread").expect(0, "start");
    for f in [rig.log(), rig.r.log_path()] {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains(&password), "password in {}", f.display());
    }
    let dropins = rig.r.systemd(|sd| sd.unit_dir().join(format!("{UNIT}.d")));
    for e in std::fs::read_dir(&dropins).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        assert!(
            !text.contains(&password),
            "password in drop-in {}",
            e.path().display()
        );
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
fn ocf_tester_passes_for_both_agents_on_the_remote_node() {
    common::require_cmd("ocf-tester", "resource-agents");
    let rig = Rig::new(SimConfig::new().hosts(&[HOST]), RigOptions::default());
    for (agent, instance) in [
        ("NovaCompute", "nova-compute"),
        ("nova-compute-wait", "nova-compute-wait"),
    ] {
        let mut cmd = rig.r.command("ocf-tester");
        cmd.args(["-n", instance]);
        for (k, v) in rig.params() {
            cmd.arg("-o").arg(format!("{k}={v}"));
        }
        cmd.arg(format!("{AGENTS}/{agent}"));
        let env = AgentEnv::execd(&rig.log())
            .vars(rig.r.systemd(|sd| sd.agent_env()))
            .meta("timeout", "300000");
        let run = execd::run_command(cmd, "", &env, "ocf-tester");
        assert!(
            run.code == 0 && run.text().contains("passed all tests"),
            "ocf-tester {agent}:\n{}",
            run.text()
        );
    }
}

/// Everything through Pacemaker: compute-0 is a pacemaker_remote node running NovaCompute
/// (a clone instance), fenced by [power switch, stock fence_compute record_only] when it
/// crashes; ocfbox's NovaEvacuate (on node1) evacuates it; when it rejoins, NovaCompute's
/// start must wait until the simulator has every migration done. The proof needs no clock:
/// nova-compute's start turns the migrations that are `done` at that moment `completed`,
/// so one still running then would end `done`.
#[test]
fn end_to_end_fence_compute_marks_novaevacuate_evacuates_novacompute_waits_for_every_migration() {
    common::require_root();
    common::require_file("/usr/sbin/fence_compute", "fence-agents");
    let tmp = TempDir::new("nova-compute-e2e");
    let provider = common::ocfbox_provider_dir(tmp.path());
    // fence-agents 4.12 calls inspect.getargspec, removed in Python 3.11 (as nova_fidelity)
    let site = tmp.join("site");
    std::fs::create_dir_all(&site).expect("mkdir");
    std::fs::write(
        site.join("sitecustomize.py"),
        "import inspect\nif not hasattr(inspect, 'getargspec'):\n    \
         inspect.getargspec = inspect.getfullargspec\n",
    )
    .expect("write sitecustomize");
    std::fs::create_dir_all(tmp.join("home")).expect("mkdir");
    let c = Cluster::start(ClusterOptions {
        ocf_provider_dirs: vec![("ocfbox".into(), provider.clone())],
        env: vec![
            ("PYTHONPATH".into(), site.display().to_string()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
            ("HOME".into(), tmp.join("home").display().to_string()),
        ],
        ..Default::default()
    });
    let (pid, ip) = c.service_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let sim = NovaSim::start(
        SimConfig::new()
            .hosts(&[HOST, "compute-1", "compute-2"])
            .servers_on(HOST, 3)
            .rebuild_time(Duration::from_secs(20))
            .netns_of(pid)
            .bind(&ip),
    );
    let agent_log = tmp.join("remote-agents.log");
    let mut ro = RemoteOptions::new(HOST);
    ro.ocf_provider_dirs = vec![("ocfbox".into(), provider)];
    ro.units = vec![(UNIT.into(), fake_nova_compute(&sim, HOST, 0.0))];
    // Every attempt to reconnect wipes the node's attributes, fence_compute's `yes`
    // included: give NovaEvacuate (monitor every 2 s) the time to see it and write its
    // durable marker. (With 2 s, one run in three lost the request before it was read.)
    ro.reconnect_interval = Duration::from_secs(10);
    ro.env = vec![
        ("HA_LOGFILE".into(), agent_log.display().to_string()),
        ("HA_LOGFACILITY".into(), "none".into()),
    ];
    let r = RemoteNode::start(&c, ro);
    let fence = common::remote::PowerFence::start(&c, &[&r]);

    let a = sim.admin();
    let nv = |id: &str, pairs: &[(&str, &str)]| -> String {
        pairs
            .iter()
            .map(|(k, v)| format!(r#"<nvpair id="{id}-{k}" name="{k}" value="{v}"/>"#))
            .collect()
    };
    let creds = [
        ("auth_url", a.auth_url.as_str()),
        ("username", a.username.as_str()),
        ("password", a.password.as_str()),
        ("tenant_name", a.project_name.as_str()),
        ("user_domain", a.user_domain.as_str()),
        ("project_domain", a.project_domain.as_str()),
        ("endpoint_type", "publicURL"),
    ];
    let mut fc: Vec<(&str, &str)> = creds.to_vec();
    fc.extend([
        ("record_only", "1"),
        ("region_name", "RegionOne"),
        ("pcmk_host_list", HOST),
    ]);
    let mut nc: Vec<(&str, &str)> = creds.to_vec();
    nc.push(("nova_conf", "/nonexistent/nova.conf"));
    c.cibadmin_create(
        "resources",
        &format!(
            r#"<primitive id="fence-nova" class="stonith" type="fence_compute">
                 <instance_attributes id="fn-ia">{}</instance_attributes>
                 <operations>
                   <op id="fn-start" name="start" interval="0" timeout="120s"/>
                   <op id="fn-mon" name="monitor" interval="60s" timeout="120s"/>
                 </operations>
               </primitive>"#,
            nv("fn", &fc)
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.cibadmin_create(
        "configuration",
        r#"<fencing-topology><fencing-level id="fl-c0" target="compute-0" index="1" devices="power,fence-nova"/></fencing-topology>"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.cibadmin_create(
        "resources",
        &format!(
            r#"<primitive id="nova-evacuate" class="ocf" provider="ocfbox" type="NovaEvacuate">
                 <instance_attributes id="ne-ia">{}</instance_attributes>
                 <operations>
                   <op id="ne-start" name="start" interval="0" timeout="60s"/>
                   <op id="ne-mon" name="monitor" interval="2s" timeout="120s"/>
                 </operations>
               </primitive>"#,
            nv("ne", &creds)
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.cibadmin_create(
        "resources",
        &format!(
            r#"<clone id="nova-compute-clone"><primitive id="nova-compute" class="ocf" provider="ocfbox" type="NovaCompute">
                 <instance_attributes id="nc-ia">{}</instance_attributes>
                 <operations>
                   <op id="nc-start" name="start" interval="0" timeout="300s"/>
                   <op id="nc-mon" name="monitor" interval="10s" timeout="30s"/>
                   <op id="nc-stop" name="stop" interval="0" timeout="60s"/>
                 </operations>
               </primitive></clone>"#,
            nv("nc", &nc)
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.cibadmin_create(
        "constraints",
        r#"<rsc_location id="ne-off-computes" rsc="nova-evacuate" node="compute-0" score="-INFINITY"/>"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.cibadmin_create(
        "constraints",
        r#"<rsc_location id="nc-only-computes" rsc="nova-compute-clone" node="node1" score="-INFINITY" resource-discovery="never"/>"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let up = Duration::from_secs(90);
    c.wait_for_resource("nova-compute", HOST, "Started", up)
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_resource("nova-evacuate", "node1", "Started", up)
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_resource("fence-nova", "node1", "Started", up)
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_resource("power", "node1", "Started", up)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sim.service(HOST, "nova-compute")["state"], "up");

    // the crash
    let t0 = r.crash();
    let ms = |t: Instant| t.saturating_duration_since(t0).as_millis();
    let fenced = fence.wait(HOST, "reboot", t0, Duration::from_secs(60));
    let marked = common::poll(Duration::from_secs(60), Duration::from_millis(50), || {
        let s = sim.service(HOST, "nova-compute");
        (s["forced_down"] == true && s["status"] == "disabled").then(Instant::now)
    })
    .unwrap_or_else(|| {
        panic!(
            "fence_compute never forced {HOST} down: {}",
            c.diagnostics()
        )
    });
    let evacuating = common::poll(Duration::from_secs(60), Duration::from_millis(50), || {
        let n = sim
            .migrations()
            .iter()
            .filter(|m| m["source_compute"] == HOST && m["migration_type"] == "evacuation")
            .count();
        (n == 3).then(Instant::now)
    })
    .unwrap_or_else(|| panic!("NovaEvacuate never evacuated {HOST}: {}", c.diagnostics()));

    // power back on: the attribute is wiped at rejoin, Nova is what NovaCompute asks
    r.rejoin(&c, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let online = Instant::now();
    let mut all_done = None;
    let mut unit_active = None;
    common::poll(Duration::from_secs(120), Duration::from_millis(100), || {
        let migs = sim.migrations();
        if all_done.is_none()
            && migs
                .iter()
                .all(|m| ["done", "completed"].contains(&m["status"].as_str().unwrap_or("")))
        {
            all_done = Some(Instant::now());
        }
        if unit_active.is_none() && r.systemd(|sd| sd.active_state(UNIT)) == "active" {
            unit_active = Some(Instant::now());
        }
        let s = sim.service(HOST, "nova-compute");
        (unit_active.is_some() && s["status"] == "enabled" && s["forced_down"] == false)
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{HOST} never came back enabled: {}\n{}\n{}",
            sim.service(HOST, "nova-compute"),
            std::fs::read_to_string(&agent_log).unwrap_or_default(),
            c.diagnostics()
        )
    });
    let enabled = Instant::now();
    c.wait_for_resource("nova-compute", HOST, "Started", up)
        .unwrap_or_else(|e| panic!("{e}"));

    // nova-compute started only after every migration was done: each one is `completed`
    let migs = sim.migrations();
    assert!(
        migs.iter().all(|m| m["status"] == "completed"),
        "an evacuation was still going on when nova-compute started: {migs:?}"
    );
    let svc = sim.service(HOST, "nova-compute");
    assert_eq!(
        (
            svc["status"].clone(),
            svc["state"].clone(),
            svc["forced_down"].clone()
        ),
        (json!("enabled"), json!("up"), json!(false)),
        "{svc}"
    );
    assert!(
        sim.servers().iter().all(|s| s["host"] != HOST),
        "a server stayed on {HOST}"
    );
    // pacemaker-remoted points HA_LOGFILE at its own log (PCMK_logfile)
    let log = std::fs::read_to_string(&agent_log).unwrap_or_default()
        + &std::fs::read_to_string(r.log_path()).unwrap_or_default();
    let waited: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("waiting before starting nova-compute") || l.contains("is over after")
        })
        .collect();
    assert!(
        waited.iter().any(|l| l.contains("is over after")),
        "NovaCompute's start did not wait:\n{log}"
    );
    eprintln!(
        "end to end (ms after the crash): fenced {} | forced down in Nova {} | 3 evacuations submitted {} | \
         rejoined {} | all migrations done {} | nova-compute active {} | service enabled {}",
        ms(fenced.done),
        ms(marked),
        ms(evacuating),
        ms(online),
        all_done.map(ms).unwrap_or(0),
        unit_active.map(ms).unwrap_or(0),
        ms(enabled)
    );
    for l in waited {
        eprintln!("  NovaCompute: {l}");
    }
}

#[test]
fn configuration_errors_are_6_naming_the_parameter_and_touch_nothing() {
    let tmp = TempDir::new("nova-compute-local");
    let creds = [
        ("auth_url", "http://127.0.0.1:9/identity"),
        ("username", "admin"),
        ("password", "not-used-here"),
        ("tenant_name", "admin"),
    ];
    for agent in ["NovaCompute", "nova-compute-wait"] {
        let link = tmp.join(agent);
        std::os::unix::fs::symlink(common::ocfbox_bin(), &link).expect("symlink");
        let run = |extra: &[(&str, &str)], with_creds: bool| {
            let mut env = AgentEnv::execd(&tmp.join("agent.log"))
                .instance("nc")
                .meta("timeout", "20000");
            if with_creds {
                for (k, v) in creds {
                    env = env.param(k, v);
                }
            }
            for (k, v) in extra {
                env = env.param(k, v);
            }
            execd::run(&link, "validate-all", &env)
        };
        run(&[], false).expect(6, agent).reason_has("auth_url");
        for (k, v) in [
            ("endpoint_type", "privateURL"),
            ("host", "two words"),
            ("evacuation_delay", "-1"),
        ] {
            run(&[(k, v)], true)
                .expect(6, &format!("{agent} {k}={v}"))
                .reason_has(k);
        }
        if agent == "NovaCompute" {
            run(&[("unit", "../x")], true)
                .expect(6, "unit")
                .reason_has("unit");
        }
    }
    let log = std::fs::read_to_string(tmp.join("agent.log")).unwrap_or_default();
    assert!(
        !log.contains("not-used-here"),
        "the password reached the log:\n{log}"
    );
}

/// Children never inherit the secrets pacemaker-execd hands the agent: a stand-in
/// attrd_updater on PATH records its environment while nova-compute-wait waits.
#[test]
fn the_attribute_tool_the_wait_runs_inherits_no_secret() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("nova-compute-env");
    let bin = tmp.join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    let dump = tmp.join("attrd-env");
    let tool = bin.join("attrd_updater");
    std::fs::write(
        &tool,
        format!("#!/bin/sh\nenv >> {}\nexit 105\n", dump.display()),
    )
    .expect("write");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let link = tmp.join("nova-compute-wait");
    std::os::unix::fs::symlink(common::ocfbox_bin(), &link).expect("symlink");
    let env = AgentEnv::execd(&tmp.join("agent.log"))
        .var(
            "PATH",
            &format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display()),
        )
        .var("HA_RSCTMP", &tmp.join("rsctmp").display().to_string())
        .instance("nova-compute-wait")
        .meta("timeout", "3000")
        .meta("on_node", HOST)
        .param("auth_url", "http://127.0.0.1:9/identity")
        .param("username", "admin")
        .param("password", "s3cret-never-inherited")
        .param("tenant_name", "admin");
    let run = execd::run(&link, "start", &env);
    run.expect(1, "start without a Nova")
        .reason_has("evacuation not over");
    let seen = std::fs::read_to_string(&dump).unwrap_or_default();
    assert!(
        seen.contains("OCF_RESKEY_username=admin"),
        "the tool never ran: {seen}"
    );
    assert!(
        !seen.contains("s3cret"),
        "a secret reached a child's environment:\n{seen}"
    );
}
