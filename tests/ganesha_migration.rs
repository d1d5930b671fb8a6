//! Migrating a running glusterfs NFS-Ganesha cluster to ocfbox, as an operator would: three
//! Pacemaker nodes whose host names carry a domain (nodeN.example.com) while their cluster
//! names are short (nodeN), the shared state volume laid out as ganesha-ha.sh's
//! setup_state_volume does (directories named after the host names, RecoveryRoot symlinks
//! named after the node names), the resources made by ganesha-ha.sh's own pcs commands and
//! run by stand-ins of glusterfs' agents (`ocf:heartbeat:ganesha_*`, the behaviour a
//! migration meets: the link to nfs-ganesha/$(hostname)/nfs, the attributes, the grace call
//! with the bare node name). Then the README's swap: maintenance mode, provider rewritten
//! with cibadmin, notify=true set on the grace clone (ganesha-ha.sh's pcs command puts it on
//! the primitive, where Pacemaker ignores it: no notification would ever come), the grace
//! instances started by hand (`crm_resource --force-start`) so no VIP ordered after them
//! restarts, refresh, maintenance off.
//!
//! Checked: every resource runs under ocfbox, nothing that runs was restarted (ganesha's
//! processes, the state links, the VIPs, no grace), and a failover reaches grace on the
//! survivors with the key ganesha-ha.sh's layout needs (the node name), records included.
//!
//! Deviations from a real installation, all of the test bench: the NFS state directory is
//! `/run/var-lib-nfs` in each node (nfs_dir; the host's /var/lib/nfs is never touched) and
//! ganesha's RecoveryRoot is `/run/var-lib-nfs/ganesha` (recovery_root); the portblock
//! resources of ganesha-ha.sh's VIP groups are left out (no iptables in the nodes); pcs runs
//! with --force because the old agents' meta-data is not installed on the host, so the
//! monitor ops pcs would copy from it (glusterfs' advice: ganesha_mon every 10 s,
//! ganesha_grace every 5 s) are given explicitly.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::ganesha::{seed_reclaim, NodeGanesha, NODE_BUS_ENV, PIDFILE};
use common::pacemaker::{alert_events, Cluster, ClusterOptions};
use common::TempDir;

const WAIT: Duration = Duration::from_secs(120);
const NFS_DIR: &str = "/run/var-lib-nfs";
const DOMAIN: &str = ".example.com";

/// The glusterfs agents as a migration meets them (not their code): what they leave on
/// disk and in attrd, and the grace call they make.
const OLD_NFSD: &str = r#"#!/bin/sh
# stand-in: glusterfs ganesha_nfsd
mnt=${OCF_RESKEY_ha_vol_mnt:-/run/gluster/shared_storage}
d=${OCF_RESKEY_nfs_dir:-/var/lib/nfs}
case $1 in
start) if [ -d "$d" ] && [ ! -L "$d" ]; then
         mv "$d" "$d.backup" && ln -s "$mnt/nfs-ganesha/$(hostname)/nfs" "$d"; fi; exit 0;;
stop) if [ -L "$d" ] && [ -d "$d.backup" ]; then rm -f "$d"; mv "$d.backup" "$d"; fi; exit 0;;
monitor|status) [ -L "$d" ] && exit 0; exit 7;;
meta-data) echo '<?xml version="1.0"?><resource-agent name="ganesha_nfsd"><version>1.0</version><parameters/><actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/><action name="monitor" timeout="20s" interval="10s"/><action name="meta-data" timeout="5s"/></actions></resource-agent>'; exit 0;;
*) exit 0;;
esac
"#;

const OLD_MON: &str = r#"#!/bin/sh
# stand-in: glusterfs ganesha_mon
case $1 in
monitor|status)
  if [ -s /run/ganesha/ganesha.pid ] && kill -0 "$(cat /run/ganesha/ganesha.pid)" 2>/dev/null; then
    attrd_updater -n grace-active -v 1; attrd_updater -n ganesha-active -v 1
  else
    attrd_updater -D -n grace-active; sleep "${OCF_RESKEY_grace_delay:-5}"; attrd_updater -D -n ganesha-active
  fi; exit 0;;
stop) attrd_updater -D -n grace-active; attrd_updater -D -n ganesha-active; exit 0;;
meta-data) echo '<?xml version="1.0"?><resource-agent name="ganesha_mon"><version>1.0</version><parameters/><actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/><action name="monitor" timeout="20s" interval="10s"/><action name="meta-data" timeout="5s"/></actions></resource-agent>'; exit 0;;
*) exit 0;;
esac
"#;

const OLD_GRACE: &str = r#"#!/bin/sh
# stand-in: glusterfs ganesha_grace
case $1 in
monitor|status)
  attrd_updater -Q -n grace-active -N "$(crm_node -n)" 2>/dev/null | grep -q 'value="1"' && exit 0; exit 7;;
notify)
  if [ "$OCF_RESKEY_CRM_meta_notify_type-$OCF_RESKEY_CRM_meta_notify_operation" = post-stop ]; then
    dbus-send --print-reply --system --dest=org.ganesha.nfsd /org/ganesha/nfsd/admin \
      org.ganesha.nfsd.admin.grace string:$OCF_RESKEY_CRM_meta_notify_stop_uname
  fi; exit 0;;
meta-data) echo '<?xml version="1.0"?><resource-agent name="ganesha_grace"><version>1.0</version><parameters/><actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/><action name="monitor" timeout="20s" interval="5s"/><action name="notify" timeout="10s"/><action name="meta-data" timeout="5s"/></actions></resource-agent>'; exit 0;;
*) exit 0;;
esac
"#;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn vip(n: usize) -> String {
    format!("10.77.0.10{n}")
}

/// The host's heartbeat agents (IPaddr, ...) plus the stand-ins, as provider `heartbeat`.
fn old_provider(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("heartbeat");
    let out = Command::new("cp")
        .args(["-a", "/usr/lib/ocf/resource.d/heartbeat/."])
        .arg(&p)
        .output()
        .expect("cp");
    assert!(out.status.success(), "copy the heartbeat agents: {out:?}");
    for (name, text) in [
        ("ganesha_nfsd", OLD_NFSD),
        ("ganesha_mon", OLD_MON),
        ("ganesha_grace", OLD_GRACE),
    ] {
        let f = p.join(name);
        std::fs::write(&f, text).expect("write stand-in");
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    }
    p
}

/// ganesha-ha.sh's setup_state_volume for HA_SERVERS="node1 node2 node3" on hosts named
/// nodeN.example.com, then the README's fix of its RecoveryRoot links (they point at the
/// short names, where no directory is).
fn state_volume(mnt: &Path) {
    let servers = ["node1", "node2", "node3"];
    let dir = |server: &str| mnt.join(format!("nfs-ganesha/{server}{DOMAIN}/nfs"));
    for server in servers {
        let d = dir(server);
        for sub in [
            "ganesha/v4recov",
            "ganesha/v4old",
            "statd/sm",
            "statd/sm.bak",
        ] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        std::fs::write(d.join("state"), "").expect("state");
    }
    for server in servers {
        for other in servers {
            // `[ ${server} != ${dirname} ]` compares a short name with a long one: true for
            // every server, its own included.
            let link = dir(server).join("ganesha").join(other);
            let target = mnt.join(format!("nfs-ganesha/{other}/nfs/ganesha"));
            std::os::unix::fs::symlink(&target, &link).expect("link");
            assert!(!link.is_dir(), "ganesha-ha.sh's link resolves?");
            // The fix: point it at the directory that exists.
            std::fs::remove_file(&link).expect("rm link");
            std::os::unix::fs::symlink(dir(other).join("ganesha"), &link).expect("relink");
            assert!(link.is_dir(), "{}", link.display());
        }
    }
}

fn pcs(cib: &Path, args: &[&str]) {
    let out = Command::new("pcs")
        .arg("-f")
        .arg(cib)
        .args(args)
        .output()
        .expect("run pcs");
    assert!(
        out.status.success(),
        "pcs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ganesha-ha.sh's setup_create_resources and create_virt_ip_constraints, for 3 nodes.
fn ganesha_ha_cib(cib: &Path, mnt: &Path) {
    let empty = Command::new("cibadmin")
        .arg("--empty")
        .output()
        .expect("cibadmin");
    std::fs::write(cib, &empty.stdout).expect("write cib");
    let mnt = format!("ha_vol_mnt={}", mnt.display());
    let nfs_dir = format!("nfs_dir={NFS_DIR}");
    pcs(
        cib,
        &[
            "resource",
            "create",
            "nfs_setup",
            "ocf:heartbeat:ganesha_nfsd",
            &mnt,
            &nfs_dir,
            "clone",
            "--force",
        ],
    );
    pcs(
        cib,
        &[
            "resource",
            "create",
            "nfs-mon",
            "ocf:heartbeat:ganesha_mon",
            "op",
            "monitor",
            "interval=10s",
            "timeout=20s",
            "clone",
            "--force",
        ],
    );
    pcs(
        cib,
        &[
            "resource",
            "create",
            "nfs-grace",
            "ocf:heartbeat:ganesha_grace",
            "op",
            "monitor",
            "interval=5s",
            "timeout=20s",
            "clone",
            "meta",
            "notify=true",
            "--force",
        ],
    );
    pcs(
        cib,
        &[
            "constraint",
            "location",
            "nfs-grace-clone",
            "rule",
            "score=-INFINITY",
            "grace-active",
            "ne",
            "1",
        ],
    );
    let servers = ["node1", "node2", "node3"];
    for (i, n) in servers.iter().enumerate() {
        pcs(
            cib,
            &[
                "resource",
                "create",
                &format!("{n}-cluster_ip-1"),
                "ocf:heartbeat:IPaddr",
                &format!("ip={}", vip(i + 1)),
                "cidr_netmask=32",
                "op",
                "monitor",
                "interval=15s",
                "--group",
                &format!("{n}-group"),
            ],
        );
        pcs(
            cib,
            &[
                "constraint",
                "order",
                "nfs-grace-clone",
                "then",
                &format!("{n}-cluster_ip-1"),
            ],
        );
    }
    for (i, n) in servers.iter().enumerate() {
        let group = format!("{n}-group");
        pcs(
            cib,
            &[
                "constraint",
                "location",
                &group,
                "rule",
                "score=-INFINITY",
                "ganesha-active",
                "ne",
                "1",
            ],
        );
        // the peers in order after this one, then this one highest
        let mut weight = 1000;
        for j in 1..servers.len() {
            let peer = servers[(i + j) % servers.len()];
            pcs(
                cib,
                &[
                    "constraint",
                    "location",
                    &group,
                    "prefers",
                    &format!("{peer}={weight}"),
                ],
            );
            weight += 1000;
        }
        pcs(
            cib,
            &[
                "constraint",
                "location",
                &group,
                "prefers",
                &format!("{n}={weight}"),
            ],
        );
    }
}

fn cib_section(cib: &Path, scope: &str) -> String {
    let out = Command::new("cibadmin")
        .args(["--query", "--scope", scope])
        .env("CIB_file", cib)
        .output()
        .expect("cibadmin on the file");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_all_started(c: &Cluster) {
    for i in 1..=3 {
        let n = format!("node{i}");
        for id in ["nfs_setup", "nfs-mon", "nfs-grace"] {
            c.wait_for_resource(id, &n, "Started", WAIT)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        c.wait_for_resource(&format!("{n}-cluster_ip-1"), &n, "Started", WAIT)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn ganesha_pid(c: &Cluster, i: usize) -> String {
    c.node(i)
        .exec_ok(&["cat", PIDFILE])
        .unwrap_or_else(|e| panic!("{e}"))
        .trim()
        .to_string()
}

#[test]
fn a_ganesha_ha_cluster_with_fqdn_hosts_moves_to_ocfbox_without_a_restart_and_fails_over() {
    common::require_file(
        "/usr/lib/ocf/resource.d/heartbeat/IPaddr",
        "resource-agents",
    );
    common::require_cmd("pcs", "pcs");
    let tmp = TempDir::new("ganesha-migration");
    let ocfbox = common::ocfbox_provider_dir(tmp.path());
    let old = old_provider(tmp.path());
    let c = Cluster::start(ClusterOptions {
        nodes: 3,
        env: vec![(NODE_BUS_ENV.0.into(), NODE_BUS_ENV.1.into())],
        ocf_provider_dirs: vec![("ocfbox".into(), ocfbox), ("heartbeat".into(), old)],
        ..Default::default()
    });
    let mnt = tmp.join("shared_storage");
    state_volume(&mnt);
    for i in 0..3 {
        let node = c.node(i);
        node.exec_ok(&["hostname", &format!("node{}{DOMAIN}", i + 1)])
            .unwrap_or_else(|e| panic!("{e}"));
        node.exec_ok(&["mkdir", "-p", &format!("{NFS_DIR}/statd")])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let alerts = c.install_alert_recorder(tmp.path());

    // The old cluster, as ganesha-ha.sh pushed it.
    let cib = tmp.join("ganesha-ha-cib.xml");
    ganesha_ha_cib(&cib, &mnt);
    let n0 = c.node(0);
    n0.exec_stdin(
        &[
            "cibadmin",
            "--replace",
            "--scope",
            "resources",
            "--xml-pipe",
        ],
        &cib_section(&cib, "resources"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    n0.exec_stdin(
        &[
            "cibadmin",
            "--replace",
            "--scope",
            "constraints",
            "--xml-pipe",
        ],
        &cib_section(&cib, "constraints"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for i in 1..=3 {
        c.wait_for_resource("nfs_setup", &format!("node{i}"), "Started", WAIT)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // ganesha (started by systemd on a real host) with RecoveryRoot behind the link.
    let recovery_root = format!("{NFS_DIR}/ganesha");
    let ganeshas: Vec<NodeGanesha> = (0..3)
        .map(|i| NodeGanesha::start_with_recovery_root(c.node(i), 20, Some(&recovery_root)))
        .collect();
    wait_all_started(&c);
    for i in 0..3 {
        let link = c.node(i).exec_ok(&["readlink", NFS_DIR]).unwrap();
        assert_eq!(
            link.trim(),
            mnt.join(format!("nfs-ganesha/node{}{DOMAIN}/nfs", i + 1))
                .to_str()
                .unwrap(),
            "the old agent links by host name"
        );
    }
    for g in &ganeshas {
        common::poll(WAIT, Duration::from_millis(200), || {
            (g.in_grace() == Some(false)).then_some(())
        })
        .expect("a ganesha stayed in grace since start-up");
    }
    let pids: Vec<String> = (0..3).map(|i| ganesha_pid(&c, i)).collect();
    let links: Vec<String> = (0..3)
        .map(|i| c.node(i).exec_ok(&["readlink", NFS_DIR]).unwrap())
        .collect();

    // The README's swap.
    let t_swap = now();
    let n0 = c.node(0);
    for cmd in [
        "crm_attribute --name maintenance-mode --update true",
        "cibadmin --query --scope resources \
         | sed 's/type=\"\\(ganesha_[a-z]*\\)\" provider=\"heartbeat\"/type=\"\\1\" provider=\"ocfbox\"/' \
         | cibadmin --replace --scope resources --xml-pipe",
        // ganesha-ha.sh's `--clone meta notify=true` (pcs 0.11: `clone meta notify=true`)
        // puts notify on the primitive, where Pacemaker does not look for a clone: without
        // this no notification, so no grace, reaches any agent, glusterfs' or ours.
        "crm_resource --resource nfs-grace-clone --meta --set-parameter notify --parameter-value true --force",
    ] {
        n0.exec_ok(&["sh", "-ec", cmd])
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    }
    // ganesha_grace's probe says 7 where it never started; Pacemaker would start it and, by
    // the order constraints, restart every VIP. Started by hand on every node first, the
    // refresh finds it running (ganesha_mon may start anew: nothing is ordered after it).
    for i in 0..3 {
        c.node(i)
            .exec_ok(&["crm_resource", "--resource", "nfs-grace", "--force-start"])
            .unwrap_or_else(|e| panic!("node{}: {e}", i + 1));
    }
    n0.exec_ok(&["crm_resource", "--refresh"])
        .unwrap_or_else(|e| panic!("{e}"));
    let resources = n0
        .exec_ok(&["cibadmin", "--query", "--scope", "resources"])
        .unwrap();
    assert_eq!(
        resources.matches("provider=\"ocfbox\"").count(),
        3,
        "{resources}"
    );
    // Let the refresh's probes land before managing again.
    common::poll(WAIT, Duration::from_millis(500), || {
        let s = c.node(0).exec_ok(&["crm_mon", "-1"]).ok()?;
        (s.matches("ocf:ocfbox:ganesha_nfsd").count() >= 1 && !s.contains("Starting")).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    c.node(0)
        .exec_ok(&["crm_attribute", "--name", "maintenance-mode", "--delete"])
        .unwrap_or_else(|e| panic!("{e}"));
    wait_all_started(&c);
    let xml = c.crm_mon_xml().unwrap();
    for agent in ["ganesha_nfsd", "ganesha_mon", "ganesha_grace"] {
        assert!(
            xml.contains(&format!("resource_agent=\"ocf:ocfbox:{agent}\"")),
            "{agent} not run by ocfbox:\n{xml}"
        );
    }
    // Nothing that ran was restarted: ganesha, the links, the VIPs; no grace.
    for i in 0..3 {
        assert_eq!(
            ganesha_pid(&c, i),
            pids[i],
            "ganesha restarted on node{}",
            i + 1
        );
        assert_eq!(
            c.node(i).exec_ok(&["readlink", NFS_DIR]).unwrap(),
            links[i],
            "node{}'s state link changed",
            i + 1
        );
        assert_eq!(
            ganeshas[i].in_grace(),
            Some(false),
            "node{} in grace",
            i + 1
        );
    }
    let moved: Vec<String> = alert_events(&alerts)
        .into_iter()
        .filter(|e| {
            e.t > t_swap
                && e.kind == "resource"
                && e.name.contains("cluster_ip")
                && e.value == "stop"
        })
        .map(|e| format!("{} {} on {}", e.name, e.value, e.node))
        .collect();
    assert!(moved.is_empty(), "VIPs stopped by the swap: {moved:?}");

    // A failover: grace on the survivors with the node name, the records found. node2's
    // clients hold state (written now, after its own start-up grace).
    seed_reclaim(
        &mnt.join(format!("nfs-ganesha/node2{DOMAIN}/nfs/ganesha")),
        ".",
        "10.77.0.202",
    );
    let t_kill = now();
    ganeshas[1].kill(c.node(1));
    for i in [0, 2] {
        common::poll(WAIT, Duration::from_millis(100), || {
            ganeshas[i]
                .log()
                .contains("recovery event 5 nodeid -1 ip node2")
                .then_some(())
        })
        .unwrap_or_else(|| {
            let plog = std::fs::read_to_string(c.log_path(i)).unwrap_or_default();
            let graces: Vec<&str> = plog
                .lines()
                .filter(|l| l.contains("grace") || l.contains("notify"))
                .collect();
            panic!(
                "node{} took no grace for node2 (in grace: {:?}):\n{}\n{}",
                i + 1,
                ganeshas[i].in_grace(),
                ganeshas[i].log(),
                graces.join("\n")
            )
        });
        assert_eq!(
            ganeshas[i].in_grace(),
            Some(true),
            "node{} not in grace",
            i + 1
        );
        let log = ganeshas[i].log();
        assert!(
            !log.contains("Failed to open v4 recovery dir"),
            "node{}: ganesha found no records:\n{log}",
            i + 1
        );
        assert_eq!(
            c.attrd_query(i, "ganesha-grace-warning"),
            None,
            "node{}: ganesha_grace warns",
            i + 1
        );
    }
    let plog = std::fs::read_to_string(c.log_path(0)).unwrap_or_default()
        + &std::fs::read_to_string(c.log_path(2)).unwrap_or_default();
    assert!(
        plog.contains("entered grace for failed node node2 (grace \"node2\""),
        "no grace line with the node name in the survivors' logs"
    );
    let vip_moved = common::poll(WAIT, Duration::from_millis(200), || {
        alert_events(&alerts).into_iter().find(|e| {
            e.t > t_kill
                && e.kind == "resource"
                && e.name == "node2-cluster_ip-1"
                && e.value == "start"
                && e.rc == "0"
                && e.node != "node2"
        })
    });
    assert!(
        vip_moved.is_some(),
        "node2's VIP did not move\n{}",
        c.diagnostics()
    );
}
