//! ganesha_mon and ganesha_grace in a REAL single-node Pacemaker cluster next to a REAL
//! ganesha.nfsd (both inside the node's namespaces). The order of the attribute changes is
//! read from Pacemaker's own attribute alerts (microsecond timestamps taken by attrd), not
//! from polling.

use crate::common;

use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::execd::{self, AgentEnv, Run};
use common::ganesha::{NodeGanesha, NODE_BUS_ENV, PIDFILE};
use common::pacemaker::{wait_alert, Cluster, ClusterOptions, Node};
use common::TempDir;

const WAIT: Duration = Duration::from_secs(60);
const AGENTS: &str = "/usr/lib/ocf/resource.d/ocfbox";

fn cluster(tmp: &TempDir) -> Cluster {
    let provider = common::ocfbox_provider_dir(tmp.path());
    Cluster::start(ClusterOptions {
        env: vec![(NODE_BUS_ENV.0.into(), NODE_BUS_ENV.1.into())],
        ocf_provider_dirs: vec![("ocfbox".into(), provider)],
        ..Default::default()
    })
}

/// attrd's value; a deleted attribute (attrd keeps it with an empty value) is None.
fn attr(c: &Cluster, name: &str) -> Option<String> {
    c.attrd_query(0, name).filter(|v| !v.is_empty())
}

fn wait_attr(c: &Cluster, name: &str, want: Option<&str>) {
    common::poll(WAIT, Duration::from_millis(100), || {
        (attr(c, name).as_deref() == want).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{name} never became {want:?}; now {:?}\n{}",
            attr(c, name),
            c.diagnostics()
        )
    });
}

/// Timestamp of the first attribute alert after `after` that set `name` to `value`
/// ("" = deleted).
fn wait_events(log: &Path, after: f64, name: &str, value: &str) -> f64 {
    let what = format!("{name}={value:?} after {after}");
    wait_alert(log, WAIT, &what, |e| {
        e.kind == "attribute" && e.t > after && e.name == name && e.value == value
    })
    .t
}

#[test]
fn dead_ganesha_removes_grace_active_then_ganesha_active_and_comes_back_in_reverse() {
    let tmp = TempDir::new("ganesha-pcmk");
    let c = cluster(&tmp);
    let node = c.node(0);
    let g = NodeGanesha::start(node, 10);
    let alerts = c.install_alert_recorder(tmp.path());
    // grace_delay 3 s against a 4 s monitor timeout: a monitor cannot hold the wait, so the
    // deletion of ganesha-active is left to the next one (it must never overrun).
    c.crm_configure(
        "primitive nfs-mon ocf:ocfbox:ganesha_mon params grace_delay=3 \
           op monitor interval=2s timeout=4s\n\
         clone nfs-mon-clone nfs-mon\n\
         primitive nfs-grace ocf:ocfbox:ganesha_grace op monitor interval=2s timeout=10s\n\
         clone nfs-grace-clone nfs-grace meta notify=true\n\
         location nfs-grace-where nfs-grace-clone rule -inf: grace-active ne 1",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_resource("nfs-mon", "node1", "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_resource("nfs-grace", "node1", "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    wait_attr(&c, "ganesha-active", Some("1"));
    wait_attr(&c, "grace-active", Some("1"));
    let up_grace = wait_events(&alerts, 0.0, "grace-active", "1");
    let up_ganesha = wait_events(&alerts, 0.0, "ganesha-active", "1");
    assert!(up_grace < up_ganesha, "grace-active must be set first");

    // A survivor that never acknowledges grace (its ganesha_grace is not there): the wait
    // for it is bounded by grace_delay alone, which the monitor cannot hold.
    node.exec_ok(&[
        "attrd_updater",
        "--name",
        "grace-active",
        "--update",
        "1",
        "--node",
        "ghost",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    // ganesha.nfsd crashes
    g.kill(node);
    let t_grace = wait_events(&alerts, up_ganesha, "grace-active", "");
    let t_ganesha = wait_events(&alerts, up_ganesha, "ganesha-active", "");
    assert!(
        t_grace < t_ganesha,
        "grace-active must go before ganesha-active: {t_grace} vs {t_ganesha}"
    );
    // the grace instance stopped here (the location rule on grace-active)
    c.wait_for_resource("nfs-grace", "node1", "Stopped", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let log = std::fs::read_to_string(node.log_path()).unwrap_or_default();
    assert!(
        log.contains("the next monitor goes on"),
        "the wait was not left to the next monitor:\n{log}"
    );
    assert!(
        log.contains("passed without an acknowledgement of grace for node1 from ghost"),
        "no warning about the missing acknowledgement:\n{log}"
    );
    assert!(!log.contains("Timed Out"), "a monitor overran:\n{log}");
    // the clone itself never failed: node health lives in the attributes
    let mon = c.crm_mon_xml().unwrap();
    assert!(!mon.contains("op_key=\"nfs-mon"), "{mon}");

    // ganesha.nfsd is back: grace-active first, then ganesha-active; grace starts again
    g.restart(node);
    let back_grace = wait_events(&alerts, t_ganesha, "grace-active", "1");
    let back_ganesha = wait_events(&alerts, t_ganesha, "ganesha-active", "1");
    assert!(back_grace < back_ganesha);
    c.wait_for_resource("nfs-grace", "node1", "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));

    // a controlled stop retreats in the same order
    node.exec_ok(&[
        "crm_resource",
        "--resource",
        "nfs-mon-clone",
        "--meta",
        "--set-parameter",
        "target-role",
        "--parameter-value",
        "Stopped",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let s_grace = wait_events(&alerts, back_ganesha, "grace-active", "");
    let s_ganesha = wait_events(&alerts, back_ganesha, "ganesha-active", "");
    assert!(s_grace < s_ganesha, "stop: {s_grace} vs {s_ganesha}");
    c.wait_for_resource("nfs-mon", "node1", "Stopped", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    // and a probe on the stopped node tells the truth
    let probe = run_agent(
        node,
        "ganesha_mon",
        "monitor",
        &[("OCF_RESOURCE_INSTANCE", "nfs-mon")],
    );
    assert_eq!(probe.code, 7, "{}", probe.text());
}

/// Runs an agent by hand inside the node, with the environment pacemaker-execd gives.
fn run_agent(node: &Node, agent: &str, action: &str, vars: &[(&str, &str)]) -> Run {
    let env = AgentEnv::execd(&node.dir().join("agents.log"))
        .var(NODE_BUS_ENV.0, NODE_BUS_ENV.1)
        .meta("on_node", node.name())
        .meta("timeout", "20000")
        .vars(vars.iter().copied());
    let cmd = node.command(format!("{AGENTS}/{agent}"));
    execd::run_command(
        cmd,
        action,
        &env,
        &format!("{agent} {action} on {}", node.name()),
    )
}

/// ganesha_mon by hand with its own attribute names, a pid file we control, no delay.
fn mon(node: &Node, action: &str, pid_file: Option<&str>, extra: &[(&str, &str)]) -> Run {
    let mut vars = vec![
        ("OCF_RESOURCE_INSTANCE", "edge-mon"),
        ("OCF_RESKEY_ganesha_active", "edge-ganesha"),
        ("OCF_RESKEY_grace_active", "edge-grace"),
        ("OCF_RESKEY_grace_delay", "0"),
        ("OCF_RESKEY_CRM_meta_interval", "10000"),
    ];
    if let Some(p) = pid_file {
        vars.push(("OCF_RESKEY_pid_file", p));
    }
    vars.extend_from_slice(extra);
    let out = run_agent(node, "ganesha_mon", action, &vars);
    assert_eq!(out.code, 0, "mon {action}: {}", out.text());
    out
}

fn write_in_node(node: &Node, path: &str, content: &str) {
    node.exec_ok(&["sh", "-c", "printf %s \"$1\" > \"$0\"", path, content])
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn mon_pid_file_edge_cases_check_levels_probes_and_grace_start() {
    let tmp = TempDir::new("ganesha-pcmk");
    let c = cluster(&tmp);
    let node = c.node(0);
    let _g = NodeGanesha::start(node, 10);
    let real_pid = node.exec_ok(&["cat", PIDFILE]).unwrap().trim().to_string();
    let pf = "/run/edge.pid";

    // never started: a probe says 7, for both agents
    let probe = run_agent(
        node,
        "ganesha_mon",
        "monitor",
        &[("OCF_RESOURCE_INSTANCE", "edge-mon")],
    );
    assert_eq!(probe.code, 7, "{}", probe.text());
    let probe = run_agent(
        node,
        "ganesha_grace",
        "monitor",
        &[("OCF_RESOURCE_INSTANCE", "edge-grace")],
    );
    assert_eq!(probe.code, 7, "{}", probe.text());

    write_in_node(node, pf, &format!("{real_pid}\n"));
    mon(node, "start", Some(pf), &[]);
    wait_attr(&c, "edge-ganesha", Some("1"));
    wait_attr(&c, "edge-grace", Some("1"));

    // An exited process's pid: stale.
    let dead_pid = node
        .exec_ok(&["sh", "-c", "echo $$"])
        .unwrap()
        .trim()
        .to_string();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("garbage", Some("[ too many arguments\n".into())),
        ("stale", Some(format!("{dead_pid}\n"))),
        // PID 1 of the node is bash (the namespace's init), not ganesha.nfsd
        ("another program", Some("1\n".into())),
    ];
    for (what, content) in cases {
        match &content {
            None => {
                node.exec_ok(&["rm", "-f", pf]).unwrap();
            }
            Some(c) => write_in_node(node, pf, c),
        }
        let out = mon(node, "monitor", Some(pf), &[]);
        wait_attr(&c, "edge-grace", None);
        wait_attr(&c, "edge-ganesha", None);
        let agents_log = std::fs::read_to_string(node.dir().join("agents.log")).unwrap();
        assert!(
            agents_log.contains("ganesha.nfsd is not running"),
            "{what}: {}\n{agents_log}",
            out.text()
        );
        // back to the real pid: attributes return
        write_in_node(node, pf, &format!("{real_pid}\n"));
        mon(node, "monitor", Some(pf), &[]);
        wait_attr(&c, "edge-grace", Some("1"));
        wait_attr(&c, "edge-ganesha", Some("1"));
    }

    // Default discovery across versions: an old-layout file with garbage does not hide
    // the current /run/ganesha/ganesha.pid.
    write_in_node(node, "/run/ganesha.pid", "garbage");
    mon(node, "monitor", None, &[]);
    assert_eq!(attr(&c, "edge-ganesha").as_deref(), Some("1"));

    // Check level 10: the admin interface must answer too. A bus without ganesha on it
    // (an empty private bus) makes it dead although the process runs.
    mon(node, "monitor", None, &[("OCF_CHECK_LEVEL", "10")]);
    assert_eq!(attr(&c, "edge-ganesha").as_deref(), Some("1"));
    mon(
        node,
        "monitor",
        None,
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/no-such-bus"),
        ],
    );
    wait_attr(&c, "edge-ganesha", None);
    mon(node, "monitor", None, &[("OCF_CHECK_LEVEL", "10")]);
    wait_attr(&c, "edge-ganesha", Some("1"));

    // stop removes both, and the resource is stopped for monitor
    mon(node, "stop", None, &[]);
    wait_attr(&c, "edge-grace", None);
    wait_attr(&c, "edge-ganesha", None);
    let probe = run_agent(
        node,
        "ganesha_mon",
        "monitor",
        &[("OCF_RESOURCE_INSTANCE", "edge-mon")],
    );
    assert_eq!(probe.code, 7, "{}", probe.text());

    // ganesha_grace start waits for grace-active (attrd is asynchronous), no fixed sleep.
    let grace_vars = [
        ("OCF_RESOURCE_INSTANCE", "edge-grace"),
        ("OCF_RESKEY_grace_active", "edge-grace"),
    ];
    let (tx, rx) = mpsc::channel();
    thread::scope(|s| {
        s.spawn(|| {
            let _ = tx.send(run_agent(node, "ganesha_grace", "start", &grace_vars));
        });
        // the start is waiting: it has not answered before the attribute exists
        assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
        c.attrd_update(0, "edge-grace", "1").unwrap();
        let out = rx.recv_timeout(WAIT).expect("start never returned");
        assert_eq!(out.code, 0, "{}", out.text());
    });
    let mut mvars = grace_vars.to_vec();
    mvars.push(("OCF_RESKEY_CRM_meta_interval", "5000"));
    assert_eq!(run_agent(node, "ganesha_grace", "monitor", &mvars).code, 0);
    node.exec_ok(&["attrd_updater", "-n", "edge-grace", "-D"])
        .unwrap();
    wait_attr(&c, "edge-grace", None);
    let out = run_agent(node, "ganesha_grace", "monitor", &mvars);
    assert_eq!(out.code, 7, "{}", out.text());
    assert!(
        out.text().contains("edge-grace is not 1 on node1"),
        "{}",
        out.text()
    );
    assert_eq!(
        run_agent(node, "ganesha_grace", "stop", &grace_vars).code,
        0
    );
    // a start whose attribute never comes fails within its budget, with the reason
    let mut short = grace_vars.to_vec();
    short.push(("OCF_RESKEY_CRM_meta_timeout", "3000"));
    let out = run_agent(node, "ganesha_grace", "start", &short);
    assert_eq!(out.code, 1, "{}", out.text());
    assert!(
        out.text().contains("ocf-exit-reason:edge-grace is not 1"),
        "{}",
        out.text()
    );
}

#[test]
fn mon_and_grace_pass_ocf_tester() {
    let tmp = TempDir::new("ganesha-pcmk");
    let c = cluster(&tmp);
    let node = c.node(0);
    let _g = NodeGanesha::start(node, 10);
    // grace's start needs its attribute; notify talks to the node's ganesha
    c.attrd_update(0, "tester-grace", "1").unwrap();
    wait_attr(&c, "tester-grace", Some("1"));
    for (agent, opts) in [
        (
            "ganesha_mon",
            vec![
                "ganesha_active=tester-ganesha",
                "grace_active=tester-mon-grace",
                "grace_delay=0",
            ],
        ),
        ("ganesha_grace", vec!["grace_active=tester-grace"]),
    ] {
        let mut argv = vec!["ocf-tester".to_string(), "-n".into(), format!("t-{agent}")];
        for o in opts {
            argv.push("-o".into());
            argv.push(o.into());
        }
        argv.push(format!("{AGENTS}/{agent}"));
        let mut cmd = node.command(&argv[0]);
        cmd.args(&argv[1..]).env(NODE_BUS_ENV.0, NODE_BUS_ENV.1);
        let out = execd::run_within(
            cmd,
            Duration::from_secs(120),
            &format!("ocf-tester {agent}"),
        );
        assert_eq!(out.code, 0, "{agent}: {}", out.text());
        assert!(
            out.text().contains("passed all tests"),
            "{agent}: {}",
            out.text()
        );
    }
}
