//! The systemd sandbox itself: a real `systemd --user` that agents reach over a private bus.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::proc::ProcId;
use common::systemd::SystemdSandbox;

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn simple_unit_starts_stops_and_dies_with_the_sandbox() {
    let t0 = Instant::now();
    let sd = SystemdSandbox::start();
    eprintln!("systemd sandbox up in {:?}", t0.elapsed());

    sd.install_unit(
        "sleeper.service",
        "[Unit]\nDescription=test sleeper\n[Service]\nType=simple\nExecStart=/bin/sleep 600\n",
    );
    sd.systemctl_ok(&["start", "sleeper.service"]);
    sd.wait_for_state("sleeper.service", "active", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = sd.main_pid("sleeper.service").expect("no MainPID");
    assert_eq!(common::proc::comm(pid).as_deref(), Some("sleep"));

    sd.systemctl_ok(&["stop", "sleeper.service"]);
    sd.wait_for_state("sleeper.service", "inactive", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sd.main_pid("sleeper.service"), None);

    // started again, and left running: Drop must end it
    sd.systemctl_ok(&["start", "sleeper.service"]);
    sd.wait_for_state("sleeper.service", "active", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let service = ProcId::of(sd.main_pid("sleeper.service").expect("no MainPID"))
        .expect("main process vanished");
    let all: Vec<ProcId> = sd.processes().into_iter().map(|(p, _)| p).collect();
    assert!(
        all.len() >= 4,
        "expected init, systemd, dbus, sleep: {all:?}"
    );
    let dir = sd.dir().to_path_buf();
    drop(sd);
    assert!(
        !service.is_alive(),
        "service process {service:?} survived the sandbox"
    );
    let left: Vec<_> = all.iter().filter(|p| p.is_alive()).collect();
    assert!(left.is_empty(), "sandbox processes survived: {left:?}");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

/// What an agent does: talk D-Bus to org.freedesktop.systemd1 from OUTSIDE the sandbox,
/// with nothing but `agent_env()`.
#[test]
fn the_bus_is_reachable_from_outside_with_agent_env() {
    let sd = SystemdSandbox::start();
    let env = sd.agent_env();
    for key in [
        "DBUS_SYSTEM_BUS_ADDRESS",
        "DBUS_SESSION_BUS_ADDRESS",
        "XDG_RUNTIME_DIR",
        "OCFBOX_SYSTEMD_MANAGER",
    ] {
        assert!(env.iter().any(|(k, _)| k == key), "agent_env lacks {key}");
    }
    sd.install_unit(
        "outside.service",
        "[Service]\nExecStart=/bin/sh -c 'echo hello-from-unit; exec sleep 600'\n",
    );
    // busctl --user reads DBUS_SESSION_BUS_ADDRESS, like an agent would
    let out = Command::new("busctl")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(env)
        .args([
            "--user",
            "call",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartUnit",
            "ss",
            "outside.service",
            "replace",
        ])
        .output()
        .expect("cannot run busctl");
    assert!(
        out.status.success(),
        "StartUnit over the bus failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sd.wait_for_state("outside.service", "active", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    // the units' output lands in the sandbox's log
    let logged = common::poll(WAIT, Duration::from_millis(20), || {
        let log = std::fs::read_to_string(sd.log_path()).ok()?;
        log.contains("hello-from-unit").then_some(())
    });
    assert!(
        logged.is_some(),
        "unit output not in {}",
        sd.log_path().display()
    );

    // a runtime drop-in in <runtime_dir>/systemd/user/<unit>.d/ is honoured
    sd.install_dropin(
        "outside.service",
        "50-test.conf",
        "[Service]\nEnvironment=OCFBOX_DROPIN=yes\n",
    );
    assert_eq!(
        sd.property("outside.service", "Environment"),
        "OCFBOX_DROPIN=yes"
    );

    // killing the main process by its host PID is seen by the manager
    let pid = sd.main_pid("outside.service").expect("no MainPID");
    assert!(common::proc::kill(pid, "KILL"), "kill {pid} failed");
    sd.wait_for_state("outside.service", "failed", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
}
