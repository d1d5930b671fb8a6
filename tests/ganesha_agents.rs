//! ganesha_grace's notify against a REAL ganesha.nfsd (tests/sandbox/ganesha.sh), and
//! ganesha_nfsd's symlink life cycle. No Pacemaker needed: notify and ganesha_nfsd take the
//! node name from CRM_meta_on_node, as Pacemaker passes it. The attribute side
//! (ganesha_mon, ganesha_grace start/monitor) is in ganesha_pacemaker.rs.

use crate::common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::execd::{self, AgentEnv, Run};
use common::ganesha::{get_grace_with_dbus_send, GaneshaOptions, GaneshaSandbox};
use common::TempDir;

/// `<tmp>/ocfbox/<agent>` symlinks: agents are picked by argv[0], as Pacemaker runs them.
fn agents(tmp: &TempDir) -> PathBuf {
    common::ocfbox_provider_dir(tmp.path())
}

/// A clean agent environment: what pacemaker-execd would give, plus `extra`.
fn agent_env(log: &Path, extra: &[(&str, &str)]) -> AgentEnv {
    AgentEnv::execd(log)
        .instance("nfs-grace")
        .meta("on_node", "node1")
        .vars(extra.iter().copied())
}

fn with_vars(env: AgentEnv, vars: &[(&str, String)]) -> AgentEnv {
    env.vars(vars.iter().map(|(k, v)| (*k, v.as_str())))
}

fn post_stop(stopped: &str, resources: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OCF_RESKEY_CRM_meta_notify_type", "post".into()),
        ("OCF_RESKEY_CRM_meta_notify_operation", "stop".into()),
        ("OCF_RESKEY_CRM_meta_notify_key_type", "post".into()),
        ("OCF_RESKEY_CRM_meta_notify_key_operation", "stopped".into()),
        ("OCF_RESKEY_CRM_meta_notify_stop_uname", stopped.into()),
        ("OCF_RESKEY_CRM_meta_notify_stop_resource", resources.into()),
        ("OCF_RESKEY_CRM_meta_notify_start_uname", " ".into()),
        ("OCF_RESKEY_CRM_meta_notify_start_resource", " ".into()),
        ("OCF_RESKEY_CRM_meta_timeout", "10000".into()),
    ]
}

/// Runs ganesha_grace notify on the host side (the sandbox's bus socket is reachable
/// through its path) and returns its output and the log it wrote.
fn notify(
    sb: &GaneshaSandbox,
    bin: &Path,
    vars: &[(&str, String)],
    extra: &[(&str, &str)],
) -> (Run, String) {
    let log = sb.dir().join(format!("agent-{}.log", rand_suffix()));
    let env = agent_env(&log, extra).var("DBUS_SYSTEM_BUS_ADDRESS", &sb.bus_address());
    let out = execd::run(&bin.join("ganesha_grace"), "notify", &with_vars(env, vars));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    (out, text)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn post_stop_puts_ganesha_into_grace_with_the_vip_key_and_it_lasts() {
    let sb = GaneshaSandbox::start(GaneshaOptions {
        grace_period: 30,
        ..Default::default()
    });
    let tmp = TempDir::new("ganesha-agents");
    let bin = agents(&tmp);
    // Let the start-up grace end first, so "in grace" below is ours.
    common::poll(Duration::from_secs(60), Duration::from_millis(100), || {
        (sb.in_grace() == Some(false)).then_some(())
    })
    .expect("ganesha's start-up grace never ended");
    // A reclaim record under the failed node's VIP keeps the take-over grace up.
    sb.seed_reclaim("10.77.0.102", "10.77.0.50");
    let (out, log) = notify(
        &sb,
        &bin,
        &post_stop("node2", "nfs-grace:1"),
        &[(
            "OCF_RESKEY_node_vips",
            "node1=10.77.0.101 node2=10.77.0.102",
        )],
    );
    assert_eq!(out.code, 0, "{log}");
    assert!(
        log.contains("entered grace for failed node node2 (grace \"5:10.77.0.102\""),
        "{log}"
    );
    assert_eq!(sb.in_grace(), Some(true), "get_grace after the notify");
    let glog = sb.log();
    assert!(
        glog.contains("recovery event 5 nodeid -1 ip 10.77.0.102"),
        "ganesha did not take over 10.77.0.102:\n{glog}"
    );
    assert!(
        glog.contains("recov/10.77.0.102/v4recov"),
        "ganesha did not read the seeded records:\n{glog}"
    );
}

#[test]
fn several_stopped_nodes_get_one_grace_call_each_and_self_is_skipped() {
    let sb = GaneshaSandbox::start(GaneshaOptions::default());
    let tmp = TempDir::new("ganesha-agents");
    let bin = agents(&tmp);
    let (out, log) = notify(
        &sb,
        &bin,
        &post_stop("node3 node1 node2", "nfs-grace:2 nfs-grace:0 nfs-grace:1"),
        &[("OCF_RESKEY_node_vips", "node3=10.77.0.103")],
    );
    assert_eq!(out.code, 0, "{log}");
    // node3 by its VIP, node2 by name (not in node_vips), node1 is this node: skipped.
    assert!(
        log.contains("for failed node node3 (grace \"5:10.77.0.103\""),
        "{log}"
    );
    assert!(
        log.contains("for failed node node2 (grace \"node2\""),
        "{log}"
    );
    assert!(!log.contains("failed node node1"), "{log}");
    let glog = sb.log();
    assert!(glog.contains("ip 10.77.0.103"), "{glog}");
    assert!(glog.contains("ip node2"), "{glog}");

    // An empty stop list (a single space) asks nothing of ganesha.
    let before = sb.log().matches("IN GRACE").count();
    let (out, log) = notify(&sb, &bin, &post_stop(" ", " "), &[]);
    assert_eq!(out.code, 0, "{log}");
    assert!(!log.contains("grace \""), "{log}");
    assert_eq!(sb.log().matches("IN GRACE").count(), before);
}

#[test]
fn pre_start_enters_a_plain_grace_for_fail_back() {
    let sb = GaneshaSandbox::start(GaneshaOptions::default());
    let tmp = TempDir::new("ganesha-agents");
    let bin = agents(&tmp);
    let vars = vec![
        ("OCF_RESKEY_CRM_meta_notify_type", "pre".to_string()),
        ("OCF_RESKEY_CRM_meta_notify_operation", "start".into()),
        ("OCF_RESKEY_CRM_meta_notify_stop_uname", " ".into()),
        ("OCF_RESKEY_CRM_meta_notify_stop_resource", " ".into()),
        ("OCF_RESKEY_CRM_meta_notify_start_uname", "node2".into()),
        (
            "OCF_RESKEY_CRM_meta_notify_start_resource",
            "nfs-grace:1".into(),
        ),
    ];
    let before = sb.log().matches("IN GRACE").count();
    let (out, log) = notify(&sb, &bin, &vars, &[]);
    assert_eq!(out.code, 0, "{log}");
    assert!(
        log.contains("entered grace for the start of node2 (grace \"0:\""),
        "{log}"
    );
    // JUST_GRACE logs no recovery event, only the grace itself.
    assert_eq!(
        sb.log().matches("IN GRACE").count(),
        before + 1,
        "{}",
        sb.log()
    );
}

#[test]
fn ganesha_not_on_the_bus_is_retried_within_the_budget_and_notify_still_returns_0() {
    let sb = GaneshaSandbox::start(GaneshaOptions::default());
    let tmp = TempDir::new("ganesha-agents");
    let bin = agents(&tmp);
    sb.kill_ganesha();
    let mut vars = post_stop("node2", "nfs-grace:1");
    // A short notify budget: the retries must end inside it.
    vars.retain(|(k, _)| *k != "OCF_RESKEY_CRM_meta_timeout");
    vars.push(("OCF_RESKEY_CRM_meta_timeout", "3000".into()));
    let (out, log) = notify(&sb, &bin, &vars, &[]);
    assert_eq!(out.code, 0, "{log}");
    assert!(log.contains("is not on the D-Bus system bus"), "{log}");
    assert!(log.contains("retrying"), "{log}");
    assert!(
        log.contains("ERROR: ganesha.nfsd not put into grace for failed node node2"),
        "{log}"
    );

    // Back on the bus: the same notification succeeds at the first attempt.
    sb.restart_ganesha();
    let (out, log2) = notify(&sb, &bin, &post_stop("node2", "nfs-grace:1"), &[]);
    assert_eq!(out.code, 0);
    assert!(
        log2.contains("entered grace for failed node node2"),
        "{log2}"
    );

    // No bus at all (socket gone): logged, 0.
    let l = sb.dir().join("nobus.log");
    let env = agent_env(&l, &[]).var(
        "DBUS_SYSTEM_BUS_ADDRESS",
        &format!("unix:path={}/nonexistent", sb.dir().display()),
    );
    let out = execd::run(&bin.join("ganesha_grace"), "notify", &with_vars(env, &vars));
    let text = std::fs::read_to_string(&l).unwrap_or_default();
    assert_eq!(out.code, 0, "{text}");
    assert!(text.contains("cannot reach the D-Bus system bus"), "{text}");
}

#[test]
fn a_non_root_caller_is_refused_by_the_bus_and_not_retried() {
    let sb = GaneshaSandbox::start(GaneshaOptions::default());
    let tmp = TempDir::new("ganesha-agents");
    let bin = agents(&tmp);
    let log = sb.dir().join("nobody.log");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin.join("ganesha_grace"));
    let env = agent_env(&log, &[]).var("DBUS_SYSTEM_BUS_ADDRESS", &sb.bus_address());
    let env = with_vars(env, &post_stop("node2", "nfs-grace:1"));
    let out = execd::run_command(cmd, "notify", &env, "ganesha_grace notify as nobody");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.code, 0, "{text}");
    assert!(text.contains("denied the call"), "{text}");
    assert!(text.contains("after 1 attempts"), "{text}");
    assert!(!text.contains("retrying"), "{text}");
}

// ---------------------------------------------------------------- ganesha_nfsd ----

fn nfsd(bin: &Path, action: &str, mnt: &Path, nfs_dir: &Path, log: &Path) -> (i32, String) {
    let env = agent_env(
        log,
        &[
            ("OCF_RESOURCE_INSTANCE", "nfs_setup"),
            ("OCF_RESKEY_ha_vol_mnt", mnt.to_str().unwrap()),
            ("OCF_RESKEY_nfs_dir", nfs_dir.to_str().unwrap()),
            ("OCF_RESKEY_CRM_meta_interval", "30000"),
        ],
    );
    let out = execd::run(&bin.join("ganesha_nfsd"), action, &env);
    (out.code, out.stderr)
}

#[test]
fn nfsd_links_restores_is_idempotent_and_never_clobbers() {
    let tmp = TempDir::new("ganesha-nfsd");
    let bin = agents(&tmp);
    let mnt = tmp.join("shared");
    let target = mnt.join("nfs-ganesha/node1/nfs");
    std::fs::create_dir_all(&target).unwrap();
    let var = tmp.join("var-lib");
    let nfs = var.join("nfs");
    let backup = var.join("nfs.backup");
    std::fs::create_dir_all(nfs.join("statd")).unwrap();
    std::fs::write(nfs.join("statd/state"), "precious").unwrap();
    let log = tmp.join("nfsd.log");

    // stopped: monitor 7, stop 0 and changes nothing
    assert_eq!(nfsd(&bin, "monitor", &mnt, &nfs, &log).0, 7);
    assert_eq!(nfsd(&bin, "stop", &mnt, &nfs, &log).0, 0);
    assert!(nfs.is_dir() && !nfs.is_symlink());

    // start: original aside, link in place
    assert_eq!(nfsd(&bin, "start", &mnt, &nfs, &log).0, 0);
    assert_eq!(std::fs::read_link(&nfs).unwrap(), target);
    assert_eq!(
        std::fs::read_to_string(backup.join("statd/state")).unwrap(),
        "precious"
    );
    assert_eq!(nfsd(&bin, "monitor", &mnt, &nfs, &log).0, 0);

    // a second start changes nothing (glusterfs' moved the link itself aside)
    assert_eq!(nfsd(&bin, "start", &mnt, &nfs, &log).0, 0);
    assert_eq!(std::fs::read_link(&nfs).unwrap(), target);
    assert!(backup.is_dir() && !backup.is_symlink());

    // a wrong link is not "running"
    std::fs::remove_file(&nfs).unwrap();
    symlink("/elsewhere", &nfs).unwrap();
    assert_eq!(nfsd(&bin, "monitor", &mnt, &nfs, &log).0, 7);
    // start relinks it (the original is safe in the backup)
    assert_eq!(nfsd(&bin, "start", &mnt, &nfs, &log).0, 0);
    assert_eq!(std::fs::read_link(&nfs).unwrap(), target);

    // stop restores the original, twice is fine
    assert_eq!(nfsd(&bin, "stop", &mnt, &nfs, &log).0, 0);
    assert!(nfs.is_dir() && !nfs.is_symlink());
    assert!(!backup.exists());
    assert_eq!(
        std::fs::read_to_string(nfs.join("statd/state")).unwrap(),
        "precious"
    );
    assert_eq!(nfsd(&bin, "stop", &mnt, &nfs, &log).0, 0);
    assert_eq!(nfsd(&bin, "monitor", &mnt, &nfs, &log).0, 7);

    // a backup already there: start refuses rather than clobber either
    std::fs::create_dir_all(backup.join("old")).unwrap();
    let (rc, err) = nfsd(&bin, "start", &mnt, &nfs, &log);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("refusing"), "{err}");
    assert!(nfs.is_dir() && !nfs.is_symlink() && backup.join("old").is_dir());
    std::fs::remove_dir_all(&backup).unwrap();

    // shared storage not mounted: a clear reason, nothing touched
    let (rc, err) = nfsd(&bin, "start", &tmp.join("not-mounted"), &nfs, &log);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("is ") && err.contains("mounted?"), "{err}");
    assert!(nfs.is_dir() && !nfs.is_symlink());

    // a regular file in the way is refused
    let file_dir = var.join("plainfile");
    std::fs::write(&file_dir, "x").unwrap();
    let (rc, err) = nfsd(&bin, "start", &mnt, &file_dir, &log);
    assert_eq!(rc, 1, "{err}");
    assert_eq!(std::fs::read_to_string(&file_dir).unwrap(), "x");

    // hostile parameters: configuration errors, nothing done
    let (rc, err) = nfsd(&bin, "start", Path::new("relative/path"), &nfs, &log);
    assert_eq!(rc, 6, "{err}");
    let (rc, _) = nfsd(&bin, "start", &mnt, Path::new("/var/lib/../nfs"), &log);
    assert_eq!(rc, 6);
}

#[test]
fn nfsd_passes_ocf_tester() {
    common::require_cmd("ocf-tester", "resource-agents");
    let tmp = TempDir::new("ganesha-nfsd");
    let bin = agents(&tmp);
    // ocf-tester passes no CRM_meta_on_node and there is no cluster here: the agent uses
    // the host name, as glusterfs' did.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let mnt = tmp.join("shared");
    std::fs::create_dir_all(mnt.join("nfs-ganesha").join(&host).join("nfs")).unwrap();
    std::fs::create_dir_all(tmp.join("var/nfs")).unwrap();
    let mut cmd = Command::new("ocf-tester");
    cmd.args(["-n", "nfs_setup"])
        .arg("-o")
        .arg(format!("ha_vol_mnt={}", mnt.display()))
        .arg("-o")
        .arg(format!("nfs_dir={}", tmp.join("var/nfs").display()))
        .arg(bin.join("ganesha_nfsd"));
    let out = execd::run_within(cmd, Duration::from_secs(120), "ocf-tester ganesha_nfsd");
    let text = out.text();
    assert_eq!(out.code, 0, "{text}");
    assert!(text.contains("passed all tests"), "{text}");
    // it left the directory as it found it
    assert!(tmp.join("var/nfs").is_dir() && !tmp.join("var/nfs").is_symlink());
}

#[test]
fn get_grace_helper_reads_the_reply() {
    // The helper the tests rely on must say None for a bus that is not there.
    assert_eq!(get_grace_with_dbus_send("unix:path=/nonexistent/bus"), None);
}
