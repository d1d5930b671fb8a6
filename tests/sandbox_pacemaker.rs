//! The Pacemaker cluster sandbox itself: real pacemakerd + corosync in namespaces.

use crate::common;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::pacemaker::{Cluster, ClusterOptions};
use common::proc::ProcId;
use common::systemd::SystemdSandbox;

const WAIT: Duration = Duration::from_secs(60);

fn dummy(id: &str, provider: &str) -> String {
    format!(
        r#"<primitive id="{id}" class="ocf" provider="{provider}" type="Dummy">
             <operations><op id="{id}-mon" name="monitor" interval="10s"/></operations>
           </primitive>"#
    )
}

/// Polls attrd on node `i` until NAME has `value` there (attrd updates are asynchronous).
fn wait_attr(c: &Cluster, i: usize, name: &str, value: &str) -> Result<(), String> {
    common::poll(WAIT, Duration::from_millis(100), || {
        (c.attrd_query(i, name).as_deref() == Some(value)).then_some(())
    })
    .ok_or_else(|| {
        format!(
            "{name} never became {value:?} on {}; now {:?}",
            c.node(i).name(),
            c.attrd_query(i, name)
        )
    })
}

fn start_single(label: &str, opts: ClusterOptions) -> Cluster {
    let t0 = Instant::now();
    let c = Cluster::start(opts);
    eprintln!("{label}: single-node cluster up in {:?}", t0.elapsed());
    c
}

#[test]
fn single_node_runs_dummy_and_answers_attrd() {
    common::require_file("/usr/lib/ocf/resource.d/heartbeat/Dummy", "resource-agents");
    // a test provider dir, mounted as /usr/lib/ocf/resource.d/sbxtest inside the node
    let tmp = common::TempDir::new("provider");
    let provider = common::provider_dir(
        &tmp.join("sbxtest"),
        &[(
            "Dummy",
            Path::new("/usr/lib/ocf/resource.d/heartbeat/Dummy"),
        )],
    );
    let ocfbox = common::ocfbox_provider_dir(tmp.path());
    let c = start_single(
        "single",
        ClusterOptions {
            env: vec![("OCFBOX_SANDBOX_MARK".into(), "single".into())],
            ocf_provider_dirs: vec![
                ("sbxtest".into(), provider),
                ("ocfbox".into(), ocfbox.clone()),
            ],
            ..Default::default()
        },
    );
    let node = c.node(0).name().to_string();
    assert_eq!(node, "node1");
    let hostname = c.node(0).exec_ok(&["uname", "-n"]).expect("uname");
    assert_eq!(hostname.trim(), "node1");

    // pacemaker sees every ocfbox agent under provider "ocfbox"
    let listed = c
        .node(0)
        .exec_ok(&["crm_resource", "--list-agents", "ocf:ocfbox"])
        .expect("list-agents");
    let mut listed: Vec<&str> = listed.lines().map(str::trim).collect();
    listed.sort_unstable();
    let mut linked: Vec<String> = std::fs::read_dir(&ocfbox)
        .expect("provider dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    linked.sort_unstable();
    assert!(!linked.is_empty());
    assert_eq!(listed, linked);

    // heartbeat agents still work next to the test providers
    c.cibadmin_create("resources", &dummy("d1", "heartbeat"))
        .expect("cibadmin");
    c.cibadmin_create("resources", &dummy("d2", "sbxtest"))
        .expect("cibadmin");
    c.wait_for_resource("d1", &node, "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_resource("d2", &node, "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let check = c
        .node(0)
        .exec_ok(&["crm_resource", "-r", "d2", "--force-check"])
        .expect("force-check");
    assert!(check.contains("returned 0"), "force-check said: {check}");

    // the agent saw pacemakerd's clean environment plus ours
    let daemons = c.node(0).processes();
    let execd = daemons
        .iter()
        .find(|(_, comm)| comm == "pacemaker-execd")
        .expect("no pacemaker-execd in the node");
    let environ = std::fs::read(format!("/proc/{}/environ", execd.0.pid)).expect("environ");
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ
        .split('\0')
        .any(|v| v == "OCFBOX_SANDBOX_MARK=single"));
    assert!(
        !environ.contains("CARGO"),
        "pacemakerd inherited the test env"
    );

    // attrd: set, query back
    assert_eq!(c.attrd_query(0, "sbx-attr"), None);
    c.attrd_update(0, "sbx-attr", "42")
        .expect("attrd_updater -U");
    wait_attr(&c, 0, "sbx-attr", "42").unwrap_or_else(|e| panic!("{e}"));

    // crm_configure goes through crmsh
    c.crm_configure("primitive d3 ocf:heartbeat:Dummy op monitor interval=10s")
        .expect("crm configure");
    c.wait_for_resource("d3", &node, "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.log_path(0).exists());
}

#[test]
fn two_clusters_at_once_do_not_interfere() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| start_single("A", ClusterOptions::default()));
        let b = s.spawn(|| start_single("B", ClusterOptions::default()));
        (a.join().expect("cluster A"), b.join().expect("cluster B"))
    });
    // same node name, separate worlds
    assert_eq!(a.node(0).name(), b.node(0).name());
    a.attrd_update(0, "only-in-a", "yes").expect("attrd A");
    b.cibadmin_create("resources", &dummy("only_in_b", "heartbeat"))
        .expect("cibadmin B");
    wait_attr(&a, 0, "only-in-a", "yes").unwrap_or_else(|e| panic!("{e}"));
    b.wait_for_resource("only_in_b", b.node(0).name(), "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.attrd_query(0, "only-in-a"), None);
    let a_mon = a.crm_mon_xml().expect("crm_mon A");
    assert!(
        !a_mon.contains("only_in_b"),
        "A sees B's resource:\n{a_mon}"
    );

    // Drop ends every process of the sandbox, recorded by host PID
    let procs: Vec<(ProcId, String)> = a.node(0).processes();
    let names: Vec<&str> = procs.iter().map(|(_, c)| c.as_str()).collect();
    for daemon in [
        "corosync",
        "pacemakerd",
        "pacemaker-based",
        "pacemaker-execd",
    ] {
        assert!(
            names.contains(&daemon),
            "{daemon} not running in A: {names:?}"
        );
    }
    let dir = a.dir().to_path_buf();
    drop(a);
    let left: Vec<_> = procs.iter().filter(|(p, _)| p.is_alive()).collect();
    assert!(left.is_empty(), "processes of A survived Drop: {left:?}");
    assert!(!dir.exists(), "{} was not removed", dir.display());
    // B is untouched
    b.wait_for_resource("only_in_b", b.node(0).name(), "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn three_nodes_share_attributes_and_a_node_can_be_killed() {
    let t0 = Instant::now();
    let mut c = Cluster::start(ClusterOptions {
        nodes: 3,
        ..Default::default()
    });
    eprintln!("3-node cluster up in {:?}", t0.elapsed());
    let names: Vec<&str> = c.nodes().iter().map(|n| n.name()).collect();
    assert_eq!(names, ["node1", "node2", "node3"]);
    let ip = c
        .node(1)
        .exec_ok(&["ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(ip.expect("ip addr").contains("10.77.0.2/24"));

    c.attrd_update(1, "sbx-shared", "from-node2")
        .expect("attrd on node2");
    let seen = common::poll(WAIT, Duration::from_millis(100), || {
        c.attrd_query_all(0, "sbx-shared")
            .into_iter()
            .find(|(host, v)| host == "node2" && v == "from-node2")
    });
    assert!(
        seen.is_some(),
        "node1 never saw node2's attribute: {:?}\n{}",
        c.attrd_query_all(0, "sbx-shared"),
        c.diagnostics()
    );

    let node3: Vec<(ProcId, String)> = c.node(2).processes();
    assert!(node3.iter().any(|(_, comm)| comm == "corosync"));
    c.kill_node(2);
    let left: Vec<_> = node3.iter().filter(|(p, _)| p.is_alive()).collect();
    assert!(
        left.is_empty(),
        "node3 processes survived kill_node: {left:?}"
    );
    assert_eq!(c.node(2).host_pid(), None);

    // a killed node comes back (same CIB, new network link) and rejoins
    let t0 = Instant::now();
    c.restart_node(2, WAIT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("node3 back in {:?}", t0.elapsed());
    c.attrd_update(2, "sbx-back", "yes")
        .expect("attrd on node3");
    let seen = common::poll(WAIT, Duration::from_millis(100), || {
        c.attrd_query_all(0, "sbx-back")
            .into_iter()
            .find(|(host, v)| host == "node3" && v == "yes")
    });
    assert!(seen.is_some(), "node3 did not rejoin\n{}", c.diagnostics());
}

/// The set-up of an agent test: a systemd sandbox, and a cluster node in its network
/// namespace whose agents get the sandbox's bus through pacemakerd's environment.
#[test]
fn a_node_shares_the_systemd_sandbox_network_and_bus() {
    common::require_cmd("python3", "python3");
    let sd = SystemdSandbox::start();
    sd.install_unit(
        "web.service",
        "[Service]\nExecStart=/usr/bin/python3 -m http.server 18080 --bind 127.0.0.1\n",
    );
    sd.systemctl_ok(&["start", "web.service"]);
    let c = start_single(
        "with-systemd",
        ClusterOptions {
            env: sd.agent_env(),
            netns_of: Some(sd.host_pid()),
            ..Default::default()
        },
    );
    // the node reaches the unit's port on its 127.0.0.1
    let reached = common::poll(WAIT, Duration::from_millis(50), || {
        c.node(0)
            .exec_ok(&["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/18080"])
            .ok()
    });
    assert!(
        reached.is_some(),
        "web.service's port is not reachable from the node"
    );

    // and reaches the sandbox's manager with the environment its agents get
    let execd = c
        .node(0)
        .processes()
        .into_iter()
        .find(|(_, comm)| comm == "pacemaker-execd")
        .expect("no pacemaker-execd");
    let environ = std::fs::read(format!("/proc/{}/environ", execd.0.pid)).expect("environ");
    let agent_env: Vec<String> = String::from_utf8_lossy(&environ)
        .split('\0')
        .filter(|kv| kv.starts_with("DBUS_") || kv.starts_with("XDG_RUNTIME_DIR="))
        .map(str::to_string)
        .collect();
    assert_eq!(agent_env.len(), 3, "execd's bus environment: {agent_env:?}");
    let mut argv = vec!["env".to_string(), "-i".to_string()];
    argv.extend(agent_env);
    argv.extend(
        [
            "busctl",
            "--user",
            "get-property",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1/unit/web_2eservice",
            "org.freedesktop.systemd1.Unit",
            "ActiveState",
        ]
        .map(String::from),
    );
    let state = c.node(0).exec_ok(&argv).expect("busctl from the node");
    assert_eq!(state.trim(), "s \"active\"");
}
