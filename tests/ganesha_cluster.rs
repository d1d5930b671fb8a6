//! The real thing: three Pacemaker nodes in network namespaces, each with its own
//! ganesha.nfsd on its own private system bus, laid out as glusterfs' ganesha-ha.sh did:
//! clones of ganesha_nfsd, ganesha_mon and ganesha_grace (notify=true), one IPaddr2 VIP per
//! node (10.77.0.10N/24 on the nodes' private segment) located where ganesha-active is 1 and
//! ordered after the grace clone.
//!
//! Kill ganesha.nfsd on node2: the ganesha of node1 and node3 must report grace, entered
//! before node2's VIP started on a survivor; restart it: the VIP fails back.
//! Timestamps: Pacemaker's alerts (attrd and the controllers, microseconds) for attribute
//! changes and the VIP's start; a watcher polling get_grace on the survivors' buses for grace
//! (its first sighting is never earlier than the truth, so "seen before the VIP" is proof).
//! The timeline it measures is printed as one `GANESHA-FAILOVER-TIMELINE` line for
//! bench/ganesha.sh.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::ganesha::{NodeGanesha, NODE_BUS_ENV};
use common::pacemaker::{alert_events, resource_has_role, wait_alert, Cluster, ClusterOptions};
use common::TempDir;

const WAIT: Duration = Duration::from_secs(90);

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn vip(i: usize) -> String {
    format!("10.77.0.10{}", i + 1)
}

/// The node where resource `id` is Started, per crm_mon.
fn started_on(c: &Cluster, id: &str) -> Option<String> {
    let xml = c.crm_mon_xml().ok()?;
    (1..=3)
        .map(|i| format!("node{i}"))
        .find(|n| resource_has_role(&xml, id, n, "Started").unwrap_or(false))
}

fn wait_started_on(c: &Cluster, id: &str, pred: impl Fn(&str) -> bool) -> String {
    common::poll(WAIT, Duration::from_millis(200), || {
        started_on(c, id).filter(|n| pred(n))
    })
    .unwrap_or_else(|| panic!("{id} not started where expected\n{}", c.diagnostics()))
}

/// The three nodes, their ganeshas (out of their start-up grace), every resource started
/// where it belongs, and Pacemaker's alerts recorded.
fn start_cluster(
    tmp: &TempDir,
    grace_delay: &str,
) -> (Cluster, Vec<NodeGanesha>, std::path::PathBuf) {
    common::require_file(
        "/usr/lib/ocf/resource.d/heartbeat/IPaddr2",
        "resource-agents",
    );
    let provider = common::ocfbox_provider_dir(tmp.path());
    let c = Cluster::start(ClusterOptions {
        nodes: 3,
        env: vec![(NODE_BUS_ENV.0.into(), NODE_BUS_ENV.1.into())],
        ocf_provider_dirs: vec![("ocfbox".into(), provider)],
        ..Default::default()
    });
    // Shared storage for ganesha_nfsd: nfs-ganesha/<node>/nfs per node (a host directory
    // every node sees); the NFS state directory itself is in each node's private /run,
    // so the host's /var/lib/nfs is never touched.
    let shared = tmp.join("shared");
    let mut ganeshas = Vec::new();
    for (i, node) in c.nodes().iter().enumerate() {
        std::fs::create_dir_all(shared.join(format!("nfs-ganesha/{}/nfs", node.name()))).unwrap();
        node.exec_ok(&["mkdir", "-p", "/run/var-lib-nfs/statd"])
            .unwrap();
        let g = NodeGanesha::start(node, 20);
        // Reclaim records of the other nodes' clients under their VIPs: a take-over grace
        // then lasts Grace_Period instead of ending at once.
        for j in 0..3 {
            if j != i {
                g.seed_reclaim(&vip(j), &format!("10.77.0.{}", 200 + j));
            }
        }
        ganeshas.push(g);
    }
    let alerts = c.install_alert_recorder(tmp.path());

    let vips: Vec<String> = (0..3)
        .map(|i| format!("node{}={}", i + 1, vip(i)))
        .collect();
    let mut conf = format!(
        "primitive nfs_setup ocf:ocfbox:ganesha_nfsd params ha_vol_mnt={} \
           nfs_dir=/run/var-lib-nfs op monitor interval=30s\n\
         clone nfs_setup-clone nfs_setup\n\
         primitive nfs-mon ocf:ocfbox:ganesha_mon params grace_delay={} \
           op monitor interval=2s timeout=10s\n\
         clone nfs-mon-clone nfs-mon\n\
         primitive nfs-grace ocf:ocfbox:ganesha_grace params node_vips=\"{}\" \
           op monitor interval=2s timeout=10s op notify timeout=10s\n\
         clone nfs-grace-clone nfs-grace meta notify=true\n\
         location nfs-grace-where nfs-grace-clone rule -inf: grace-active ne 1\n",
        shared.display(),
        grace_delay,
        vips.join(" ")
    );
    for i in 0..3 {
        let n = i + 1;
        let (next, other) = ((i + 1) % 3 + 1, (i + 2) % 3 + 1);
        conf.push_str(&format!(
            "primitive node{n}-cluster_ip-1 ocf:heartbeat:IPaddr2 params ip={} \
               cidr_netmask=24 nic=eth0 op monitor interval=5s\n\
             location node{n}-ip-needs-ganesha node{n}-cluster_ip-1 \
               rule -inf: ganesha-active ne 1\n\
             location node{n}-ip-home node{n}-cluster_ip-1 3000: node{n}\n\
             location node{n}-ip-next node{n}-cluster_ip-1 2000: node{next}\n\
             location node{n}-ip-other node{n}-cluster_ip-1 1000: node{other}\n\
             order nfs-grace-then-node{n}-ip nfs-grace-clone node{n}-cluster_ip-1\n",
            vip(i)
        ));
    }
    c.crm_configure(&conf).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..3 {
        let n = format!("node{}", i + 1);
        for id in ["nfs_setup", "nfs-mon", "nfs-grace"] {
            c.wait_for_resource(id, &n, "Started", WAIT)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        c.wait_for_resource(&format!("{n}-cluster_ip-1"), &n, "Started", WAIT)
            .unwrap_or_else(|e| panic!("{e}"));
        if i == 2 {
            c.demo_show("three NFS-Ganesha nodes, each VIP on its own node");
        }
        // ganesha_nfsd really linked the node's state directory
        let link = c
            .node(i)
            .exec_ok(&["readlink", "/run/var-lib-nfs"])
            .unwrap();
        assert_eq!(
            link.trim(),
            shared
                .join(format!("nfs-ganesha/{n}/nfs"))
                .to_str()
                .unwrap()
        );
    }
    // The start-up graces (and the pre-start ones of the bring-up) are over.
    for g in &ganeshas {
        common::poll(WAIT, Duration::from_millis(100), || {
            (g.in_grace() == Some(false)).then_some(())
        })
        .expect("a ganesha stayed in grace since start-up");
    }

    (c, ganeshas, alerts)
}

#[test]
fn survivors_enter_grace_before_the_failed_nodes_vip_moves_and_it_fails_back() {
    let tmp = TempDir::new("ganesha-cluster");
    let (c, ganeshas, alerts) = start_cluster(&tmp, "3");
    // The watcher: first sighting of grace on the survivors.
    let stop = AtomicBool::new(false);
    let seen: Mutex<[Option<f64>; 3]> = Mutex::new([None; 3]);
    let (t_kill, vip_event) = thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                for i in [0, 2] {
                    if seen.lock().unwrap()[i].is_none() && ganeshas[i].in_grace() == Some(true) {
                        seen.lock().unwrap()[i] = Some(now());
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
        });
        let t_kill = now();
        ganeshas[1].kill(c.node(1));
        let vip_event = wait_alert(&alerts, WAIT, "node2's VIP starting on a survivor", |e| {
            e.t > t_kill
                && e.kind == "resource"
                && e.name == "node2-cluster_ip-1"
                && e.value == "start"
                && e.rc == "0"
                && e.node != "node2"
        });
        stop.store(true, Ordering::Relaxed);
        (t_kill, vip_event)
    });
    let seen = *seen.lock().unwrap();
    let ev = alert_events(&alerts);
    let attr_gone = |name: &str| {
        ev.iter()
            .find(|e| {
                e.t > t_kill
                    && e.kind == "attribute"
                    && e.name == name
                    && e.node == "node2"
                    && e.value.is_empty()
            })
            .map(|e| e.t)
    };
    let grace_gone = attr_gone("grace-active").expect("no alert for grace-active on node2");
    let ganesha_gone = attr_gone("ganesha-active").expect("no alert for ganesha-active on node2");
    let survivor = vip_event.node.clone();
    let (g1, g3) = (
        seen[0].expect("node1's ganesha never reported grace"),
        seen[2].expect("node3's ganesha never reported grace"),
    );
    let timeline = format!(
        "GANESHA-FAILOVER-TIMELINE kill=0 grace_active_deleted={:.0}ms \
         grace_seen_node1={:.0}ms grace_seen_node3={:.0}ms ganesha_active_deleted={:.0}ms \
         vip_started_on_{survivor}={:.0}ms",
        (grace_gone - t_kill) * 1000.0,
        (g1 - t_kill) * 1000.0,
        (g3 - t_kill) * 1000.0,
        (ganesha_gone - t_kill) * 1000.0,
        (vip_event.t - t_kill) * 1000.0,
    );
    eprintln!("{timeline}");
    c.demo_show("node2's ganesha.nfsd crashed: survivors in grace, node2's VIP moved");
    if let Ok(path) = std::env::var("GANESHA_TIMELINE_FILE") {
        let _ = std::fs::write(path, format!("{timeline}\n"));
    }
    assert!(grace_gone < ganesha_gone, "{timeline}");
    assert!(
        g1 < vip_event.t && g3 < vip_event.t,
        "grace after the VIP: {timeline}"
    );
    // ganesha itself says whose records it took over
    for i in [0, 2] {
        let log = ganeshas[i].log();
        assert!(
            log.contains("recovery event 5 nodeid -1 ip 10.77.0.102"),
            "node{} did not take over 10.77.0.102:\n{log}",
            i + 1
        );
        assert_eq!(
            ganeshas[i].in_grace(),
            Some(true),
            "node{} not in grace",
            i + 1
        );
    }
    // In the log of the survivor that got the VIP: grace first, then the address.
    let s_idx: usize = survivor
        .trim_start_matches("node")
        .parse::<usize>()
        .unwrap()
        - 1;
    let plog = std::fs::read_to_string(c.log_path(s_idx)).unwrap_or_default();
    let grace_line = plog
        .find("entered grace for failed node node2 (grace \"5:10.77.0.102\"")
        .unwrap_or_else(|| panic!("no grace line in {survivor}'s log:\n{plog}"));
    let vip_line = plog[grace_line..]
        .find("node2-cluster_ip-1")
        .map(|p| p + grace_line);
    assert!(
        vip_line.is_some(),
        "VIP start not after the grace line in {survivor}'s log"
    );
    let addrs = c
        .node(s_idx)
        .exec_ok(&["ip", "-o", "addr", "show", "eth0"])
        .unwrap();
    assert!(addrs.contains("10.77.0.102/24"), "{survivor}: {addrs}");

    // ganesha.nfsd back on node2: the VIP fails back home.
    ganeshas[1].restart(c.node(1));
    wait_started_on(&c, "node2-cluster_ip-1", |n| n == "node2");
    let addrs = c
        .node(1)
        .exec_ok(&["ip", "-o", "addr", "show", "eth0"])
        .unwrap();
    assert!(addrs.contains("10.77.0.102/24"), "node2: {addrs}");
    let addrs = c
        .node(s_idx)
        .exec_ok(&["ip", "-o", "addr", "show", "eth0"])
        .unwrap();
    assert!(
        !addrs.contains("10.77.0.102/"),
        "{survivor} kept the VIP: {addrs}"
    );
    c.wait_for_resource("nfs-grace", "node2", "Started", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    c.demo_show("node2 back: its VIP failed back");
    c.demo_keep("2");
}

/// `spawn()` of tests/ganesha-cluster.sh must wait for unshare's fork, however late it comes
/// (#12.10: ps exits 1 before it, which `set -euo pipefail` turned into a silent exit 1).
/// An `unshare` first on PATH that pauses before the real one makes the late fork certain.
#[test]
fn cluster_script_spawn_waits_for_a_late_fork() {
    use std::os::unix::fs::PermissionsExt;
    common::require_root();
    let real = common::require_cmd("unshare", "util-linux");
    let dir = TempDir::new("spawn-race");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    std::fs::create_dir_all(dir.join("pids")).expect("mkdir pids");
    let stub = bin.join("unshare");
    std::fs::write(
        &stub,
        // A pause of builtins only: a child here (sleep) would itself be what ps finds.
        format!(
            "#!/bin/sh\ni=0; while [ $i -lt 200000 ]; do i=$((i+1)); done\nexec {} \"$@\"\n",
            real.display()
        ),
    )
    .expect("write stub");
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ganesha-cluster.sh");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            "set -euo pipefail; source \"$1\"; D=$2; spawn probe \"$2/probe.log\" -- sleep 30; \
             cat \"$2/pids/probe\"",
        )
        .arg("spawn-test")
        .arg(&script)
        .arg(dir.path())
        .env(
            "PATH",
            format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display()),
        )
        .output()
        .expect("run bash");
    let pid: Option<u32> = String::from_utf8_lossy(&out.stdout).trim().parse().ok();
    // The namespace's init is the recorded PID: ended below, whatever the outcome.
    let comm = pid
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok())
        .unwrap_or_default();
    if let Some(pid) = pid {
        common::proc::kill(pid, "KILL");
    }
    assert!(
        out.status.success() && comm.trim() == "sleep",
        "spawn() gave up on a late fork, or recorded another process ({comm:?}): {}",
        common::output_text(&out)
    );
}

/// #12.7: node2's and node3's ganesha.nfsd die together. Both VIPs end on node1, and node1's
/// ganesha entered grace for each failed node before that node's VIP started there (in
/// node1's log: the agent's grace line first, then the VIP's start; in the alerts: node1's
/// acknowledgement before the VIP's start). grace_delay is ten minutes, longer than this
/// test waits: the VIPs move because node1 acknowledged its grace, not because time passed.
#[test]
fn a_double_failure_still_puts_grace_before_each_vip() {
    let tmp = TempDir::new("ganesha-cluster2");
    let (c, ganeshas, alerts) = start_cluster(&tmp, "10m");
    // Only what node1 logs from the kills on counts.
    let before = std::fs::metadata(c.log_path(0))
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let t_kill = now();
    thread::scope(|s| {
        s.spawn(|| ganeshas[1].kill(c.node(1)));
        s.spawn(|| ganeshas[2].kill(c.node(2)));
    });
    let mut timeline = "GANESHA-DOUBLE-FAILOVER-TIMELINE kill=0".to_string();
    for (i, n) in [(1usize, "node2"), (2, "node3")] {
        let rsc = format!("{n}-cluster_ip-1");
        let vip_event = wait_alert(&alerts, WAIT, &format!("{rsc} starting on node1"), |e| {
            e.t > t_kill
                && e.kind == "resource"
                && e.name == rsc
                && e.value == "start"
                && e.rc == "0"
                && e.node == "node1"
        });
        let ack_name = format!("ganesha-grace-for-{n}");
        let ack = alert_events(&alerts)
            .into_iter()
            .find(|e| {
                e.t > t_kill && e.kind == "attribute" && e.name == ack_name && e.node == "node1"
            })
            .map(|e| e.t);
        timeline.push_str(&format!(
            " ack_{n}={} vip_{n}_on_node1={:.0}ms",
            ack.map_or("none".to_string(), |a| format!(
                "{:.0}ms",
                (a - t_kill) * 1000.0
            )),
            (vip_event.t - t_kill) * 1000.0
        ));
        eprintln!("{timeline}");
        let ack = ack.unwrap_or_else(|| panic!("no alert for {ack_name} on node1"));
        assert!(
            ack < vip_event.t,
            "{rsc} started before node1 acknowledged grace for {n}: {timeline}"
        );
        // The failed node's ganesha_mon let the address go on the acknowledgement, not on
        // its (ten-minute) grace_delay.
        let mlog = std::fs::read_to_string(c.log_path(i)).unwrap_or_default();
        assert!(
            mlog.contains(&format!("every live survivor acknowledged grace for {n}")),
            "{n}'s ganesha_mon did not see the acknowledgement:\n{mlog}"
        );
    }
    let whole = std::fs::read(c.log_path(0)).unwrap_or_default();
    let plog = String::from_utf8_lossy(&whole[before.min(whole.len())..]).into_owned();
    for (i, n) in [(1usize, "node2"), (2, "node3")] {
        let grace = format!("entered grace for failed node {n} (grace \"5:{}\"", vip(i));
        let at = plog
            .find(&grace)
            .unwrap_or_else(|| panic!("no `{grace}` in node1's log:\n{plog}"));
        let rsc = format!("{n}-cluster_ip-1");
        let first_start = plog
            .lines()
            .scan(0usize, |pos, l| {
                let here = *pos;
                *pos += l.len() + 1;
                Some((here, l))
            })
            .find(|(_, l)| l.contains(&rsc) && l.contains("start operation") && l.contains("node1"))
            .map(|(p, _)| p);
        assert!(
            first_start.is_some_and(|p| p > at),
            "{rsc} started on node1 before its grace (grace at byte {at}, start at {first_start:?}):\n{}",
            plog.lines()
                .filter(|l| l.contains("entered grace") || l.contains("start operation"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
