//! alert_nova on a real two-node cluster (crm_mon's DC, attrd), run on every node as
//! hacluster with the CRM_alert_* environment Pacemaker 2.1.5 gives an alert agent
//! (recorded in reference/pacemaker-alert-env.md), against one Nova simulator both reach.

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common;
use common::nova::{Fault, FaultKind, NovaSim, SimConfig};
use common::pacemaker::{Cluster, ClusterOptions};
use common::{output_text, TempDir};

struct Rig {
    c: Cluster,
    sim: NovaSim,
    _tmp: TempDir,
    bin: PathBuf,
    pwfile: PathBuf,
}

const STATE_DIR: &str = "/var/lib/pacemaker/ocfbox/alert_nova";

impl Rig {
    fn new(cfg: SimConfig) -> Rig {
        let tmp = TempDir::new("alert-nova");
        let bin = common::provider_dir(
            &tmp.join("alerts"),
            &[("alert_nova", common::ocfbox_bin().as_path())],
        )
        .join("alert_nova");
        let c = Cluster::start(ClusterOptions {
            nodes: 2,
            ..Default::default()
        });
        let (pid, addr) = c.service_endpoint().unwrap_or_else(|e| panic!("{e}"));
        let sim = NovaSim::start(cfg.netns_of(pid).bind(&addr));
        // Alerts run as hacluster: their log file must be writable for it.
        for i in 0..2 {
            let log = c.node(i).dir().join("alert.log");
            std::fs::write(&log, "").expect("create alert.log");
            std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .expect("chmod alert.log");
        }
        // What the README asks of an operator: a password file hacluster alone reads.
        let pwfile = tmp.join("nova-password");
        std::fs::write(&pwfile, format!("{}\n", sim.admin().password)).expect("write pw");
        let chown = std::process::Command::new("chown")
            .args(["hacluster:haclient"])
            .arg(&pwfile)
            .status()
            .expect("chown");
        assert!(chown.success());
        std::fs::set_permissions(&pwfile, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        Rig {
            c,
            sim,
            _tmp: tmp,
            bin,
            pwfile,
        }
    }

    fn dc(&self) -> usize {
        let xml = self.c.crm_mon_xml().unwrap_or_else(|e| panic!("{e}"));
        let dc = xml
            .split("<current_dc ")
            .nth(1)
            .and_then(|r| r.split("name=\"").nth(1))
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("no DC in {xml}"))
            .to_string();
        (0..2)
            .find(|i| self.c.node(*i).name() == dc)
            .unwrap_or_else(|| panic!("DC {dc} is not a node"))
    }

    /// Start the alert on node `i` as pacemaker-execd would: hacluster, env only.
    fn spawn(&self, i: usize, event: &[(&str, &str)], extra: &[(&str, &str)]) -> Child {
        let a = self.sim.admin();
        let node = self.c.node(i);
        let mut cmd = node.command("setpriv");
        cmd.args([
            "--reuid=hacluster",
            "--regid=haclient",
            "--init-groups",
            "--",
        ])
        .arg(&self.bin)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HA_LOGFILE", node.dir().join("alert.log"))
        .env("PCMK_service", "pacemaker-execd")
        .env("CRM_alert_version", "2.1.5")
        .env("CRM_alert_recipient", "")
        .env("auth_url", &a.auth_url)
        .env("username", &a.username)
        .env("password_file", &self.pwfile)
        .env("project_name", &a.project_name)
        .env("endpoint_type", "publicURL")
        .env("backup_delay", "2")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        for (k, v) in event {
            cmd.env(format!("CRM_alert_{k}"), v);
            cmd.env(format!("CRM_notify_{k}"), v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.spawn().expect("run alert_nova")
    }

    fn wait(child: Child) -> Output {
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(o) => o.expect("wait alert_nova"),
            Err(_) => {
                common::proc::kill(pid, "KILL");
                panic!("alert_nova did not end within 60 s (an alert must be bounded)");
            }
        }
    }

    fn alert(&self, i: usize, event: &[(&str, &str)], extra: &[(&str, &str)]) -> Output {
        Self::wait(self.spawn(i, event, extra))
    }

    /// The same event on both nodes at once, as Pacemaker sends it.
    fn alert_everywhere(&self, event: &[(&str, &str)]) -> Vec<Output> {
        let children: Vec<Child> = (0..2).map(|i| self.spawn(i, event, &[])).collect();
        children.into_iter().map(Self::wait).collect()
    }

    fn svc(&self, host: &str) -> Value {
        self.sim.service(host, "nova-compute")
    }

    fn reason(&self, host: &str) -> String {
        self.svc(host)["disabled_reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    fn writes(&self, host: &str) -> usize {
        let id = self.svc(host)["uuid"].as_str().unwrap_or("").to_string();
        self.sim
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/os-services"))
            .filter(|r| id.is_empty() || r.path.contains(&id) || r.path.ends_with("force-down"))
            .count()
    }

    fn attr(&self, node: &str) -> Option<String> {
        self.c
            .attrd_query_all(0, "evacuate")
            .into_iter()
            .find(|(h, _)| h == node)
            .map(|(_, v)| v)
    }
}

fn fencing(target: &str, op: &str, rc: &str) -> Vec<(String, String)> {
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    vec![
        ("kind".into(), "fencing".into()),
        ("node".into(), target.into()),
        ("task".into(), "st_notify_fence".into()),
        ("rc".into(), rc.into()),
        ("node_sequence".into(), "11".into()),
        ("timestamp_epoch".into(), epoch),
        (
            "desc".into(),
            format!(
                "Operation {op} of {target} by node1 for pacemaker-controld.57@node1: OK (ref=x)"
            ),
        ),
    ]
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, n)| (k.as_str(), n.as_str())).collect()
}

fn assert_ok(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", output_text(o));
}

fn computes() -> SimConfig {
    SimConfig::new()
        .hosts(&["compute-1", "compute-2", "node1", "node2"])
        .servers_on("compute-1", 2)
}

#[test]
fn a_fencing_is_told_to_nova_once_although_every_node_runs_the_alert() {
    let rig = Rig::new(computes());
    let ev = fencing("compute-1", "reboot", "0");
    rig.sim.clear_requests();
    for o in rig.alert_everywhere(&pairs(&ev)) {
        assert_ok(&o, "fencing alert");
    }
    let svc = rig.svc("compute-1");
    assert_eq!(svc["forced_down"], true, "{svc}");
    assert_eq!(svc["status"], "disabled", "{svc}");
    assert!(rig
        .reason("compute-1")
        .starts_with("ocfbox evacuation requested "));
    assert_eq!(rig.writes("compute-1"), 1, "one write for one fencing");
    assert_eq!(rig.attr("compute-1").as_deref(), Some("yes"));

    // A later duplicate (a retry, a slow node) finds it done.
    assert_ok(&rig.alert(1, &pairs(&ev), &[]), "duplicate");
    assert_eq!(rig.writes("compute-1"), 1);

    // Failed fencing, unfencing, a node Nova does not know: nothing.
    for ev in [
        fencing("compute-2", "reboot", "-61"),
        fencing("compute-2", "on", "0"),
        fencing("ctl-9", "off", "0"),
    ] {
        assert_ok(&rig.alert(rig.dc(), &pairs(&ev), &[]), "ignored event");
    }
    assert_eq!(rig.svc("compute-2")["status"], "enabled");

    // The password (from password_file) never reaches a log or an error.
    let pw = rig.sim.admin().password;
    for i in 0..2 {
        let log =
            std::fs::read_to_string(rig.c.node(i).dir().join("alert.log")).unwrap_or_default();
        assert!(!log.is_empty(), "node{} logged nothing", i + 1);
        assert!(!log.contains(&pw), "the password is in node{}'s log", i + 1);
    }
}

#[test]
fn the_other_node_acts_when_the_dc_does_not_or_was_the_fenced_one() {
    let rig = Rig::new(computes());
    let dc = rig.dc();
    let other = 1 - dc;
    // The DC's run never happened (it left the cluster meanwhile): the backup does it.
    let ev = fencing("compute-1", "off", "0");
    assert_ok(&rig.alert(other, &pairs(&ev), &[]), "backup");
    assert!(rig
        .reason("compute-1")
        .starts_with("ocfbox evacuation requested "));
    assert_eq!(rig.writes("compute-1"), 1);

    // The fenced node is the DC itself (a hyperconverged controller): the other acts.
    let dc_name = rig.c.node(dc).name().to_string();
    let ev = fencing(&dc_name, "reboot", "0");
    let o = rig.alert(other, &pairs(&ev), &[("backup_delay", "600")]);
    assert_ok(&o, "the DC fenced");
    assert!(
        rig.reason(&dc_name)
            .starts_with("ocfbox evacuation requested "),
        "ranked first at once (a 600 s backup delay would have blown the budget)"
    );
}

#[test]
fn an_unfinished_run_leaves_a_note_the_next_run_completes() {
    let rig = Rig::new(computes());
    let dc = rig.dc();
    rig.sim.fault(Fault::new(
        Some("GET"),
        "/os-services",
        FaultKind::Hang(Duration::from_secs(30)),
    ));
    let ev = fencing("compute-1", "off", "0");
    let o = rig.alert(dc, &pairs(&ev), &[("budget", "3")]);
    assert_eq!(o.status.code(), Some(1), "{}", output_text(&o));
    assert!(
        output_text(&o).contains("next alert run"),
        "{}",
        output_text(&o)
    );
    let notes = rig
        .c
        .node(dc)
        .exec_ok(&["ls", STATE_DIR])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(notes.contains("fenced@compute-1"), "note: {notes}");
    assert_eq!(rig.svc("compute-1")["forced_down"], false);

    rig.sim.clear_faults();
    let node_event = [("kind", "node"), ("node", "compute-2"), ("desc", "member")];
    assert_ok(&rig.alert(dc, &node_event, &[]), "next alert");
    assert!(rig
        .reason("compute-1")
        .starts_with("ocfbox evacuation requested "));
    let notes = rig
        .c
        .node(dc)
        .exec_ok(&["ls", STATE_DIR])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!notes.contains("fenced@"), "note left: {notes}");
}

fn resource(node: &str, task: &str, rc: &str, status: &str) -> Vec<(String, String)> {
    vec![
        ("kind".into(), "resource".into()),
        ("node".into(), node.into()),
        ("rsc".into(), "nova-compute".into()),
        ("task".into(), task.into()),
        ("rc".into(), rc.into()),
        ("status".into(), status.into()),
        ("interval".into(), "0".into()),
        ("target_rc".into(), "0".into()),
        ("desc".into(), "error".into()),
    ]
}

#[test]
fn nova_compute_failed_for_good_disables_and_running_again_enables_only_our_reason() {
    let rig = Rig::new(computes().with_state(|s| {
        for svc in s["services"].as_array_mut().into_iter().flatten() {
            if svc["host"] == "node1" {
                svc["status"] = json!("disabled");
                svc["disabled_reason"] = json!("maintenance");
            }
        }
    }));
    let dc = rig.dc();
    assert_ok(
        &rig.alert(dc, &pairs(&resource("compute-2", "start", "1", "0")), &[]),
        "start failed",
    );
    assert_eq!(rig.svc("compute-2")["status"], "disabled");
    assert!(rig
        .reason("compute-2")
        .starts_with("ocfbox nova-compute failed "));
    // A cancelled monitor is no news.
    assert_ok(
        &rig.alert(dc, &pairs(&resource("compute-2", "monitor", "7", "1")), &[]),
        "cancelled",
    );
    assert_ok(
        &rig.alert(dc, &pairs(&resource("compute-2", "start", "0", "0")), &[]),
        "started",
    );
    assert_eq!(rig.svc("compute-2")["status"], "enabled");

    // An operator's reason stays, and so does an evacuation marker.
    assert_ok(
        &rig.alert(dc, &pairs(&resource("node1", "start", "0", "0")), &[]),
        "started under maintenance",
    );
    assert_eq!(rig.reason("node1"), "maintenance");
    let ev = fencing("compute-1", "off", "0");
    assert_ok(&rig.alert(dc, &pairs(&ev), &[]), "fenced");
    let marker = rig.reason("compute-1");
    for (task, rc) in [("start", "1"), ("start", "0")] {
        assert_ok(
            &rig.alert(dc, &pairs(&resource("compute-1", task, rc, "0")), &[]),
            task,
        );
        assert_eq!(
            rig.reason("compute-1"),
            marker,
            "the evacuation marker stays"
        );
    }
}

#[test]
fn a_failed_monitor_disables_only_once_migration_threshold_is_reached() {
    let rig = Rig::new(computes());
    let dc = rig.dc();
    // A nova-compute resource as the cluster knows it (stopped: only its meta matters).
    rig.c
        .cibadmin_create(
            "resources",
            r#"<primitive id="nova-compute" class="ocf" provider="heartbeat" type="Dummy">
                 <meta_attributes id="nc-meta">
                   <nvpair id="nc-role" name="target-role" value="Stopped"/>
                   <nvpair id="nc-mt" name="migration-threshold" value="2"/>
                 </meta_attributes></primitive>"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let fail = |count: &str| {
        rig.c
            .node(0)
            .exec_ok(&[
                "attrd_updater",
                "-n",
                "fail-count-nova-compute#monitor_10000",
                "-N",
                "node2",
                "-U",
                count,
            ])
            .unwrap_or_else(|e| panic!("{e}"));
        common::poll(Duration::from_secs(10), Duration::from_millis(100), || {
            let o = rig.c.node(0).exec(&[
                "crm_failcount",
                "-G",
                "-q",
                "-r",
                "nova-compute",
                "-N",
                "node2",
            ]);
            (String::from_utf8_lossy(&o.stdout).trim() == count).then_some(())
        })
        .unwrap_or_else(|| {
            let o = rig.c.node(0).exec(&[
                "crm_failcount",
                "-G",
                "-q",
                "-r",
                "nova-compute",
                "-N",
                "node2",
            ]);
            panic!("fail count never became {count}: {}", output_text(&o))
        });
    };
    let monitor_failed = resource("node2", "monitor", "7", "0");
    fail("1");
    assert_ok(
        &rig.alert(dc, &pairs(&monitor_failed), &[]),
        "first failure",
    );
    assert_eq!(
        rig.svc("node2")["status"],
        "enabled",
        "Pacemaker restarts it there"
    );
    fail("2");
    assert_ok(
        &rig.alert(dc, &pairs(&monitor_failed), &[]),
        "threshold reached",
    );
    let as_hacluster = |argv: &[&str]| {
        let mut full = vec![
            "setpriv",
            "--reuid=hacluster",
            "--regid=haclient",
            "--init-groups",
            "--",
        ];
        full.extend_from_slice(argv);
        output_text(&rig.c.node(dc).exec(&full))
    };
    assert_eq!(
        rig.svc("node2")["status"],
        "disabled",
        "{} / {}",
        as_hacluster(&[
            "crm_resource",
            "-r",
            "nova-compute",
            "--meta",
            "-g",
            "migration-threshold",
        ]),
        as_hacluster(&[
            "crm_failcount",
            "-G",
            "-q",
            "-r",
            "nova-compute",
            "-N",
            "node2"
        ])
    );
    assert!(rig
        .reason("node2")
        .starts_with("ocfbox nova-compute failed "));
}
