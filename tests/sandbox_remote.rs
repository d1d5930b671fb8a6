//! The pacemaker_remote harness itself: a remote node joins a real cluster, runs
//! resources, its attributes reach the cluster, a crash is fenced by the harness's power
//! switch and the node rejoins.

use std::time::{Duration, Instant};

use crate::common;
use common::nova::{NovaSim, SimConfig};
use common::pacemaker::{Cluster, ClusterOptions};
use common::remote::{ms_after, PowerFence, RemoteNode, RemoteOptions};

fn evacuate_attr(c: &Cluster, node: &str) -> Option<String> {
    c.attrd_query_all(0, "evacuate")
        .into_iter()
        .find(|(h, _)| h == node)
        .map(|(_, v)| v)
}

#[test]
fn a_remote_node_runs_resources_shares_attributes_is_fenced_on_crash_and_rejoins() {
    let c = Cluster::start(ClusterOptions::default());
    let r = RemoteNode::start(&c, RemoteOptions::new("compute-0"));
    // its own view: the node name, its own systemd
    let me = r
        .exec_ok(&["crm_node", "-n"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(me.trim(), "compute-0");
    assert_eq!(
        r.systemd(|sd| sd.active_state("dbus.socket")),
        "active",
        "the node's own systemd"
    );
    // a resource placed on it
    c.cibadmin_create(
        "resources",
        r#"<primitive id="d" class="ocf" provider="heartbeat" type="Dummy">
             <operations><op id="d-mon" name="monitor" interval="5s"/></operations></primitive>"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.cibadmin_create(
        "constraints",
        r#"<rsc_location id="d-on-remote" rsc="d" node="compute-0" score="INFINITY"/>"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_resource("d", "compute-0", "Started", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    // a private attribute set on the remote node is what the cluster reads
    r.exec_ok(&["attrd_updater", "-p", "-n", "evacuate", "-U", "yes"])
        .unwrap_or_else(|e| panic!("{e}"));
    common::poll(Duration::from_secs(10), Duration::from_millis(50), || {
        (evacuate_attr(&c, "compute-0").as_deref() == Some("yes")).then_some(())
    })
    .unwrap_or_else(|| panic!("attribute never reached the cluster"));

    let fence = PowerFence::start(&c, &[&r]);
    // the device must be running before the crash (its start is what loads it)
    c.wait_for_resource(
        "power",
        c.node(0).name(),
        "Started",
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.is_running() && r.host_pid().is_some());
    let t0 = r.crash();
    assert!(!r.is_running() && r.host_pid().is_none());
    assert_eq!(r.killed_at(), Some(t0));
    let ev = fence.wait(r.name(), "reboot", t0, Duration::from_secs(60));
    assert_eq!(ev.rc, 0);
    eprintln!(
        "remote crash: fencing requested at +{} ms, done at +{} ms",
        ms_after(t0, ev.requested),
        ms_after(t0, ev.done)
    );
    // the wiped attribute (pacemaker-remote.md): gone once the connection is lost
    common::poll(Duration::from_secs(10), Duration::from_millis(50), || {
        (evacuate_attr(&c, "compute-0").as_deref().unwrap_or("") != "yes").then_some(())
    })
    .unwrap_or_else(|| panic!("the remote's attribute survived the crash"));

    let t1 = Instant::now();
    let took = r
        .rejoin(&c, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "remote rejoin: online {} ms after power-on",
        took.as_millis()
    );
    c.wait_for_resource("d", "compute-0", "Started", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.generation(), 2);
    assert!(ms_after(t1, Instant::now()) >= took.as_millis());
    // a service address both the cluster node and the remote node reach: the simulator
    let (pid, ip) = c.service_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let sim = NovaSim::start(SimConfig::new().netns_of(pid).bind(&ip));
    let probe = format!("exec 3<>/dev/tcp/{ip}/{}", sim.port());
    r.exec_ok(&["bash", "-c", &probe])
        .unwrap_or_else(|e| panic!("remote node cannot reach {ip}: {e}"));
    c.exec_ok(&["bash", "-c", &probe])
        .unwrap_or_else(|e| panic!("cluster node cannot reach {ip}: {e}"));
    assert!(r.dir().join("pacemaker.log").exists());
}

#[test]
fn a_remote_node_joins_a_three_node_cluster_through_its_switch_and_reaches_its_service_address() {
    let c = Cluster::start(ClusterOptions {
        nodes: 3,
        ..Default::default()
    });
    let r = RemoteNode::start(&c, RemoteOptions::new("compute-1"));
    let (pid, ip) = c.service_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let sim = NovaSim::start(SimConfig::new().netns_of(pid).bind(&ip));
    let probe = format!("exec 3<>/dev/tcp/{ip}/{}", sim.port());
    for n in c.nodes() {
        n.exec_ok(&["bash", "-c", &probe])
            .unwrap_or_else(|e| panic!("{} cannot reach {ip}: {e}", n.name()));
    }
    r.exec_ok(&["bash", "-c", &probe])
        .unwrap_or_else(|e| panic!("remote node cannot reach {ip}: {e}"));
    let fence = PowerFence::start(&c, &[&r]);
    let t0 = r.crash();
    let ev = fence.wait(r.name(), "reboot", t0, Duration::from_secs(60));
    eprintln!(
        "three nodes: remote fenced at +{} ms",
        ms_after(t0, ev.done)
    );
    let took = r
        .rejoin(&c, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("three nodes: remote rejoin {} ms", took.as_millis());
}
