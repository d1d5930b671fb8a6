//! Every action answers properly in a broken world (issue 12): one test per defect the fuzz
//! suite's predecessor found, each run as a sandboxed case (tests/common/case.rs) so the
//! host is never touched.

use crate::common;

use std::time::Duration;

use common::case::{Case, Outcome, Peer, Sink};

fn run(case: &Case) -> Outcome {
    case.run()
        .unwrap_or_else(|e| panic!("{e}\n{}", case.reproducer()))
}

/// Exit codes an OCF agent may use (0-9, 190, 191 for promotable agents).
fn ocf_code(rc: i32) -> bool {
    (0..=9).contains(&rc) || rc == 190 || rc == 191
}

/// The answer is the same whatever stderr is: a write that fails there (pacemaker-execd
/// gone, a full pipe) must not end the action early (once a panic, exit 1 or 134).
#[test]
fn a_closed_or_full_stderr_never_changes_the_answer() {
    for (program, action) in [
        ("ganesha_grace", "monitor"),
        ("ganesha_mon", "validate-all"),
        ("ganesha_mon", "stop"),
        ("SystemdService", "monitor"),
    ] {
        let case = |sink| {
            Case::new(program, &[action])
                .env("OCF_RESKEY_grace_delay", "soon")
                .env("OCF_RESKEY_unit", "web")
                .env("HA_debug", "1")
                .env("OCF_RESKEY_CRM_meta_timeout", "5000")
                .stderr(sink)
        };
        let normal = run(&case(Sink::File));
        assert!(ocf_code(normal.rc), "{}", normal.describe());
        for sink in [Sink::Full, Sink::Gone, Sink::Closed] {
            let c = case(sink);
            let out = run(&c);
            assert_eq!(
                out.rc,
                normal.rc,
                "{program} {action} with stderr {sink:?}: {}\n{}",
                out.describe(),
                c.reproducer()
            );
        }
    }
}

#[test]
fn a_fifo_as_log_file_never_holds_an_action() {
    for var in ["HA_LOGFILE", "HA_DEBUGLOG"] {
        let case = Case::new("ganesha_mon", &["validate-all"])
            .env("OCF_RESKEY_grace_delay", "soon")
            .env("HA_LOGFACILITY", "none")
            .env("HA_debug", "1")
            .env("HA_LOGFILE", "/tmp/agents.log")
            .env(var, "/tmp/fifo")
            .env("OCF_RESKEY_CRM_meta_timeout", "5000")
            .fixture("fifo-tmp")
            .limit(Duration::from_secs(20));
        let out = run(&case);
        assert_eq!(
            out.rc,
            6,
            "{var}=FIFO: {}\n{}",
            out.describe(),
            case.reproducer()
        );
    }
}

/// Text from outside (a parameter value, an unknown parameter's name, the action, the
/// instance name in the log tag) must never carry the reason prefix: pacemaker-execd takes
/// the text after the last one anywhere on stderr.
#[test]
fn no_outside_text_forges_the_exit_reason() {
    let forged = "ocf-exit-reason:forged";
    let cases = [
        Case::new("ganesha_mon", &["validate-all"]).env("OCF_RESKEY_grace_delay", forged),
        Case::new("ganesha_mon", &["validate-all"])
            .env("OCF_RESKEY_grace_delay", "soon")
            .env(format!("OCF_RESKEY_{forged}"), "1"),
        Case::new("ganesha_mon", &[forged]),
        Case::new("ocfbox", &[forged]),
        Case::new("ganesha_mon", &["start"])
            .env("OCF_RESOURCE_INSTANCE", format!("x\n{forged}"))
            .env("OCF_RESKEY_CRM_meta_timeout", "3000"),
        Case::new("ganesha_mon", &["validate-all"])
            .env("OCF_RESKEY_grace_delay", "soon")
            .env("HA_LOGTAG", format!("tag\n{forged}")),
        // A node name from Pacemaker's tools is outside text too.
        Case::new("ganesha_mon", &["start"])
            .env("OCF_RESKEY_CRM_meta_on_node", format!("n\n{forged}"))
            .env("OCF_RESKEY_CRM_meta_timeout", "3000"),
    ];
    for case in &cases {
        let out = run(case);
        let reason = out.execd_reason();
        assert!(
            reason.as_deref().is_none_or(|r| !r.starts_with("forged"))
                && out.reason_prefixes() <= 1,
            "forged reason {reason:?}: {}\n{}",
            out.describe(),
            case.reproducer()
        );
    }
}

/// pid_file=/dev/zero once grew ganesha_mon past 500 MiB; a FIFO there hung it.
#[test]
fn a_pid_file_that_is_no_regular_file_is_refused_without_reading_it() {
    for (pid_file, why) in [
        ("/dev/zero", "not a regular file"),
        ("/tmp/fifo", "not a regular file"),
        ("/tmp/dir", "not a regular file"),
        // 4 MiB of zeros: read no further than a pid's worth
        ("/tmp/big", "holds no pid"),
    ] {
        let case = Case::new("ganesha_mon", &["start"])
            .env("OCF_RESKEY_pid_file", pid_file)
            .env("OCF_RESKEY_CRM_meta_on_node", "node1")
            .env("OCF_RESKEY_CRM_meta_timeout", "5000")
            .env("HA_LOGFACILITY", "none")
            .env("HA_LOGFILE", "/dev/stderr")
            .fixture("fifo-tmp")
            .fixture("big-tmp")
            .fixture("dir-tmp")
            .limit(Duration::from_secs(20));
        let out = run(&case);
        assert_eq!(
            out.rc,
            0,
            "pid_file={pid_file}: {}\n{}",
            out.describe(),
            case.reproducer()
        );
        assert!(
            out.maxrss_kb < 64 << 10,
            "pid_file={pid_file}: {}",
            out.describe()
        );
        assert!(
            out.stderr_text().contains(why),
            "pid_file={pid_file}: {}",
            out.describe()
        );
    }
}

fn nfsd(action: &str, mnt: &str, nfs_dir: &str) -> Case {
    Case::new("ganesha_nfsd", &[action])
        .env("OCF_RESKEY_ha_vol_mnt", mnt)
        .env("OCF_RESKEY_nfs_dir", nfs_dir)
        .env("OCF_RESKEY_CRM_meta_on_node", "node1")
}

#[test]
fn ganesha_nfsd_refuses_overlapping_paths_both_ways() {
    for (mnt, nfs_dir) in [
        ("/tmp/x/nfs/shared", "/tmp/x/nfs"),
        ("/tmp/x", "/tmp/x/nfs"),
        ("/tmp/x/nfs", "/tmp/x/nfs"),
        ("/tmp/x/nfs.backup/shared", "/tmp/x/nfs"),
    ] {
        for action in ["validate-all", "start", "monitor", "stop"] {
            // The layout a start would go ahead with: the node's directory on the volume.
            let case = nfsd(action, mnt, nfs_dir)
                .setup(&format!("mkdir -p {nfs_dir} {mnt}/nfs-ganesha/node1/nfs"));
            let out = run(&case);
            assert_eq!(
                out.rc,
                6,
                "ha_vol_mnt={mnt} nfs_dir={nfs_dir} {action}: {}\n{}",
                out.describe(),
                case.reproducer()
            );
        }
    }
}

#[test]
fn ganesha_nfsd_monitor_of_a_link_into_a_gone_volume_is_a_failure() {
    // The link is in place, the directory it names is not (the volume is not mounted).
    let case = nfsd("monitor", "/tmp/vol", "/tmp/nfs").setup(
        "mkdir -p /tmp/vol/nfs-ganesha/node1 && ln -s /tmp/vol/nfs-ganesha/node1/nfs /tmp/nfs",
    );
    let out = run(&case);
    assert_eq!(out.rc, 1, "{}\n{}", out.describe(), case.reproducer());
    assert!(out.stderr_text().contains("mounted"), "{}", out.describe());
}

/// A stop with nothing to undo answers 0 at once, without asking attrd; a stop that cannot
/// reach attrd at all is 0 too (see ganesha_mon's stop), never a fencing-bound 1.
#[test]
fn ganesha_mon_stop_without_attrd_is_a_clean_stop() {
    let never_started = Case::new("ganesha_mon", &["stop"])
        .env("OCF_RESKEY_CRM_meta_timeout", "20000")
        .env("HA_LOGFACILITY", "none")
        .env("HA_LOGFILE", "/dev/stderr");
    let out = run(&never_started);
    assert_eq!(out.rc, 0, "{}", out.describe());
    assert!(
        out.stderr_text().contains("nothing to undo"),
        "{}",
        out.describe()
    );
    assert!(
        !out.stderr_text().contains("retrying"),
        "{}",
        out.describe()
    );
}

/// Started (its state file is there), then stopped where nothing of Pacemaker answers:
/// without a controller (a run by hand) 0 at once; with attrd not running, 0 after a short
/// wait for a respawn, never the whole budget and a 1 that would fence the node.
#[test]
fn ganesha_mon_stop_with_the_cluster_unreachable_is_a_quick_clean_stop() {
    for on_node in [None, Some("node1")] {
        let mut case = Case::new("ganesha_mon", &["stop"])
            .env("OCF_RESOURCE_INSTANCE", "mon")
            .env("HA_RSCTMP", "/run/rsc")
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env("HA_LOGFACILITY", "none")
            .env("HA_LOGFILE", "/dev/stderr")
            .setup("mkdir -p /run/rsc && echo started=1 > /run/rsc/ocfbox-ganesha_mon-mon.state");
        if let Some(n) = on_node {
            case = case.env("OCF_RESKEY_CRM_meta_on_node", n);
        }
        let out = run(&case);
        assert_eq!(out.rc, 0, "on_node {on_node:?}: {}", out.describe());
        assert!(out.execd_reason().is_none(), "{}", out.describe());
        // Not the whole 18 s of budget: at most a respawn's worth of retries.
        assert!(
            out.stderr_text().matches("retrying").count() <= 4,
            "{}",
            out.describe()
        );
    }
}

/// Without a bus socket, SystemdService answers at once: no retry can make one appear.
#[test]
fn systemd_service_without_a_bus_socket_does_not_wait() {
    for action in ["monitor", "start", "stop"] {
        let case = Case::new("SystemdService", &[action])
            .env("OCF_RESKEY_unit", "web")
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env("HA_LOGFACILITY", "none")
            .env("HA_LOGFILE", "/dev/stderr")
            .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/no-bus")
            .peer(Peer::None);
        let out = run(&case);
        assert!(matches!(out.rc, 1 | 5), "{action}: {}", out.describe());
        assert!(
            !out.stderr_text().contains("trying again"),
            "{action} retried a bus that has no socket: {}",
            out.describe()
        );
    }
}

/// #12.7, first half: a post-stop notify reaching a node whose own ganesha is dead (its pid
/// file names a process that is gone) answers at once: no grace call can succeed there,
/// and Pacemaker holds the whole transition (the survivors' VIPs too) for every notify.
#[test]
fn ganesha_grace_notify_with_the_local_ganesha_dead_answers_at_once() {
    let case = Case::new("ganesha_grace", &["notify"])
        .env("OCF_RESKEY_CRM_meta_notify_type", "post")
        .env("OCF_RESKEY_CRM_meta_notify_operation", "stop")
        .env("OCF_RESKEY_CRM_meta_notify_stop_uname", "node3")
        .env("OCF_RESKEY_CRM_meta_notify_stop_resource", "nfs-grace:2")
        .env("OCF_RESKEY_CRM_meta_notify_start_uname", " ")
        .env("OCF_RESKEY_CRM_meta_on_node", "node2")
        .env("OCF_RESKEY_CRM_meta_timeout", "10000")
        .env("HA_LOGFACILITY", "none")
        .env("HA_LOGFILE", "/dev/stderr")
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/run/dbus/system_bus_socket",
        )
        .peer(Peer::HangUp)
        // What a SIGKILLed ganesha leaves: a pid file naming no live process.
        .setup("mkdir -p /run/ganesha && echo 4000000 > /run/ganesha/ganesha.pid");
    let out = run(&case);
    let log = out.stderr_text();
    assert_eq!(out.rc, 0, "{}", out.describe());
    assert!(log.contains("the local ganesha.nfsd is gone"), "{log}");
    assert!(!log.contains("retrying"), "{log}");
}

/// The sandbox itself: a process still alive when the program is gone, and a file written
/// outside the scratch mounts, are both seen (here made by the set-up, before the program).
#[test]
fn the_case_sandbox_sees_leftovers_and_stray_writes() {
    let case = Case::new("ganesha_mon", &["meta-data"])
        .setup("mkdir -p /etc/ocfbox-stray && touch /etc/ocfbox-stray/x; (sleep 30 &) ; true");
    let out = run(&case);
    assert_eq!(out.rc, 0, "{}", out.describe());
    assert!(
        out.leftovers.iter().any(|l| l.ends_with(" sleep")),
        "{}",
        out.describe()
    );
    assert!(
        out.written.iter().any(|w| w == "/etc/ocfbox-stray/x"),
        "{}",
        out.describe()
    );
}
