//! SystemdService and its presets against a REAL systemd (`systemd --user`, systemd 252, in
//! the harness's sandbox) and a real single-node Pacemaker.
//!
//! Every agent run goes through `common::execd`: like pacemaker-execd it SIGKILLs the
//! agent's process group when CRM_meta_timeout passes, so an agent that overran its budget
//! fails the test with "killed", not with a timing assertion.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::execd::{self, AgentEnv, Run};
use common::pacemaker::{Cluster, ClusterOptions};
use common::systemd::SystemdSandbox;
use common::TempDir;

/// A systemd sandbox and a provider directory with every ocfbox agent linked to a copy of
/// the binary (readable by nobody, for ocf-tester's meta-data check).
struct Rig {
    sd: SystemdSandbox,
    dir: TempDir,
}

impl Rig {
    fn new() -> Rig {
        let sd = SystemdSandbox::start();
        let dir = TempDir::new("sdsvc");
        let bin = dir.join("ocfbox");
        common::install_executable(&common::ocfbox_bin(), &bin);
        let agents = dir.join("agents");
        fs::create_dir(&agents).expect("mkdir agents");
        fs::set_permissions(&agents, fs::Permissions::from_mode(0o755)).expect("chmod");
        let list = Command::new(&bin)
            .arg("list")
            .output()
            .expect("ocfbox list");
        for line in String::from_utf8_lossy(&list.stdout).lines() {
            if let [name, "ocf", ..] = line.split_whitespace().collect::<Vec<_>>()[..] {
                symlink(&bin, agents.join(name)).expect("symlink agent");
            }
        }
        Rig { sd, dir }
    }

    fn agent(&self, name: &str) -> PathBuf {
        self.dir.join("agents").join(name)
    }

    /// The agent's environment: the sandbox's manager, OCF basics, then `vars`. A key in
    /// lower case is an instance parameter (OCF_RESKEY_<key>), `CRM_meta_*` a meta
    /// attribute, anything else a variable as named.
    fn env(&self, vars: &[(&str, &str)]) -> AgentEnv {
        let mut env = AgentEnv::ocf()
            .var("LANG", "C.UTF-8")
            .instance("test")
            .meta("timeout", "20000")
            .vars(self.sd.agent_env());
        for (k, v) in vars {
            env = if k.starts_with(|c: char| c.is_ascii_lowercase()) || k.starts_with("CRM_meta_") {
                env.param(k, v)
            } else {
                env.var(k, v)
            };
        }
        env
    }

    /// Run `agent action` on the host (the manager is reached over its bus socket).
    fn run(&self, agent: &str, action: &str, vars: &[(&str, &str)]) -> Run {
        execd::run(&self.agent(agent), action, &self.env(vars))
    }

    /// Run `agent action` inside the sandbox's network namespace, where the units'
    /// services listen (health checks).
    fn run_inside(&self, agent: &str, action: &str, vars: &[(&str, &str)]) -> Run {
        let cmd = self.sd.command(self.agent(agent));
        let what = format!("{agent} {action} (in the sandbox)");
        execd::run_command(cmd, action, &self.env(vars), &what)
    }

    fn dropin(&self, unit: &str) -> PathBuf {
        self.sd
            .unit_dir()
            .join(format!("{unit}.d"))
            .join("50-ocfbox.conf")
    }

    /// Everything under the unit directory, to prove an action wrote nothing.
    fn unit_dir_listing(&self) -> BTreeSet<PathBuf> {
        fn walk(p: &Path, out: &mut BTreeSet<PathBuf>) {
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    out.insert(e.path());
                    walk(&e.path(), out);
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.sd.unit_dir(), &mut out);
        out
    }

    /// A small HTTP server of the tests' own, run as a unit: it answers every GET
    /// according to the mode file (ok: 200 with a version document, 300: Multiple
    /// Choices with one, 500: an error, hang: never).
    fn install_http_unit(&self, unit: &str, port: u16) -> PathBuf {
        let script = self.dir.join("http_server.py");
        if !script.exists() {
            fs::write(&script, HTTP_SERVER).expect("write server");
        }
        let mode = self.dir.join(format!("{unit}.mode"));
        fs::write(&mode, "ok").expect("write mode");
        self.sd.install_unit(
            unit,
            &format!(
                "[Service]\nType=simple\nExecStart=/usr/bin/python3 {} {} {port}\n",
                script.display(),
                mode.display()
            ),
        );
        mode
    }
}

const HTTP_SERVER: &str = r#"
import http.server, socketserver, sys, time
mode_file, port = sys.argv[1], int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            mode = open(mode_file).read().strip()
        except OSError:
            mode = "ok"
        if mode == "hang":
            time.sleep(3600)
            return
        status = {"ok": 200, "300": 300, "500": 500}.get(mode, 200)
        body = b'{"versions": [{"id": "v2.1"}]}' if status < 500 else b"database unavailable"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
Server(("127.0.0.1", port), Handler).serve_forever()
"#;

const SLEEPER: &str = "[Unit]\nDescription=test sleeper\n[Service]\nType=simple\nExecStart=/bin/sleep 600\nExecReload=/bin/true\n";

#[test]
fn simple_unit_lifecycle_codes_drop_in_and_idempotency() {
    let rig = Rig::new();
    rig.sd.install_unit("web.service", SLEEPER);
    let unit = [("unit", "web")];
    let recurring = [("unit", "web"), ("CRM_meta_interval", "10000")];

    rig.run("SystemdService", "monitor", &unit)
        .expect(7, "probe of a stopped unit");
    rig.run("SystemdService", "monitor", &recurring)
        .expect(7, "monitor of a stopped unit");
    rig.run("SystemdService", "validate-all", &unit)
        .expect(0, "validate-all");

    rig.run("SystemdService", "start", &unit).expect(0, "start");
    assert_eq!(rig.sd.active_state("web.service"), "active");
    // The drop-in, exactly: timeouts are 20 s minus a quarter (15 s) for a 20 s start op.
    let content = fs::read_to_string(rig.dropin("web.service")).expect("drop-in written");
    assert_eq!(
        content,
        "# Written by ocfbox for the cluster resource managing web.service; removed when it stops.\n\
         [Unit]\n\
         Description=Cluster Controlled web.service\n\
         Before=pacemaker.service pacemaker_remote.service\n\
         \n\
         [Service]\n\
         Restart=no\n\
         TimeoutStartSec=15000ms\n\
         TimeoutStopSec=15000ms\n"
    );
    let mode = fs::metadata(rig.dropin("web.service"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    // systemd took it in (the reload happened) and the unit is cluster controlled now.
    assert_eq!(
        rig.sd.property("web.service", "Description"),
        "Cluster Controlled web.service"
    );
    assert_eq!(rig.sd.property("web.service", "Restart"), "no");
    assert_eq!(rig.sd.property("web.service", "TimeoutStartUSec"), "15s");
    assert_eq!(rig.sd.property("web.service", "NeedDaemonReload"), "no");

    let pid = rig.sd.main_pid("web.service").expect("MainPID");
    rig.run("SystemdService", "monitor", &recurring)
        .expect(0, "monitor of a running unit");
    rig.run("SystemdService", "monitor", &unit)
        .expect(0, "probe of a running unit");
    rig.run("SystemdService", "start", &unit)
        .expect(0, "start of a running unit");
    assert_eq!(
        rig.sd.main_pid("web.service"),
        Some(pid),
        "a second start must not restart the service"
    );
    rig.run("SystemdService", "reload", &unit)
        .expect(0, "reload");
    assert_eq!(
        rig.sd.main_pid("web.service"),
        Some(pid),
        "reload is not a restart"
    );

    rig.run("SystemdService", "stop", &unit).expect(0, "stop");
    assert_eq!(rig.sd.active_state("web.service"), "inactive");
    assert!(
        !rig.dropin("web.service").exists(),
        "drop-in left after stop"
    );
    assert!(
        !rig.sd.unit_dir().join("web.service.d").exists(),
        "empty drop-in directory left after stop"
    );
    assert_eq!(
        rig.sd.property("web.service", "Description"),
        "test sleeper"
    );
    rig.run("SystemdService", "stop", &unit)
        .expect(0, "stop of a stopped unit");
    rig.run("SystemdService", "monitor", &recurring)
        .expect(7, "monitor after stop");

    // A unit that does not exist: start 5, stop 0, probe 7, validate 5; nothing written.
    let before = rig.unit_dir_listing();
    let missing = [("unit", "nowhere")];
    rig.run("SystemdService", "start", &missing)
        .expect(5, "start of a missing unit")
        .reason_has("not installed");
    rig.run("SystemdService", "stop", &missing)
        .expect(0, "stop of a missing unit");
    rig.run("SystemdService", "monitor", &missing)
        .expect(7, "probe of a missing unit");
    rig.run("SystemdService", "validate-all", &missing)
        .expect(5, "validate-all of a missing unit");
    assert_eq!(rig.unit_dir_listing(), before, "a missing unit got files");

    // Reload of a unit without ExecReload: not implemented for it.
    rig.sd
        .install_unit("plain.service", "[Service]\nExecStart=/bin/sleep 600\n");
    rig.run("SystemdService", "start", &[("unit", "plain")])
        .expect(0, "start plain");
    rig.run("SystemdService", "reload", &[("unit", "plain")])
        .expect(3, "reload without ExecReload")
        .reason_has("ExecReload");
    rig.run("SystemdService", "stop", &[("unit", "plain")])
        .expect(0, "stop plain");

    // A masked unit cannot start here: OCF_ERR_INSTALLED with a reason; stop is fine.
    rig.sd.install_unit("masked.service", SLEEPER);
    rig.sd.systemctl_ok(&["mask", "masked.service"]);
    rig.run("SystemdService", "start", &[("unit", "masked")])
        .expect(5, "start of a masked unit")
        .reason_has("masked");
    rig.run("SystemdService", "stop", &[("unit", "masked")])
        .expect(0, "stop of a masked unit");
    rig.run("SystemdService", "monitor", &[("unit", "masked")])
        .expect(7, "probe of a masked unit");
}

#[test]
fn notify_unit_with_a_start_delay_is_up_when_start_returns() {
    let rig = Rig::new();
    rig.sd.install_unit(
        "slow.service",
        "[Service]\nType=notify\nNotifyAccess=all\n\
         ExecStart=/bin/sh -c 'sleep 2; systemd-notify --ready; exec sleep 600'\n",
    );
    rig.run("SystemdService", "start", &[("unit", "slow")])
        .expect(0, "start of a Type=notify unit");
    // The agent waited for the job, so the unit is fully up, not activating.
    assert_eq!(rig.sd.active_state("slow.service"), "active");
    assert_eq!(rig.sd.property("slow.service", "SubState"), "running");
    rig.run("SystemdService", "stop", &[("unit", "slow")])
        .expect(0, "stop");

    // A monitor that finds the unit still activating waits for it within its budget.
    rig.sd
        .systemctl_ok(&["start", "--no-block", "slow.service"]);
    rig.run(
        "SystemdService",
        "monitor",
        &[("unit", "slow"), ("CRM_meta_interval", "10000")],
    )
    .expect(0, "monitor while activating");
    // ... and says so when the budget is too short for it.
    rig.run("SystemdService", "stop", &[("unit", "slow")])
        .expect(0, "stop");
    rig.sd
        .systemctl_ok(&["start", "--no-block", "slow.service"]);
    rig.run(
        "SystemdService",
        "monitor",
        &[
            ("unit", "slow"),
            ("CRM_meta_interval", "10000"),
            ("CRM_meta_timeout", "1000"),
        ],
    )
    .expect(1, "monitor of a unit activating longer than the budget")
    .reason_has("activating");
}

#[test]
fn a_unit_that_fails_to_start_is_a_start_failure_with_the_reason() {
    let rig = Rig::new();
    rig.sd.install_unit(
        "broken.service",
        "[Service]\nType=notify\nExecStart=/bin/sh -c 'echo boom >&2; exit 3'\n",
    );
    rig.run("SystemdService", "start", &[("unit", "broken")])
        .expect(1, "start of a failing unit")
        .reason_has("'failed'")
        .reason_has("exit-code");
    rig.run(
        "SystemdService",
        "monitor",
        &[("unit", "broken"), ("CRM_meta_interval", "10000")],
    )
    .expect(7, "monitor of a failed unit")
    .reason_has("failed");
    rig.run("SystemdService", "stop", &[("unit", "broken")])
        .expect(0, "stop of a failed unit");
}

#[test]
fn a_start_that_hangs_returns_with_a_reason_before_the_op_timeout() {
    let rig = Rig::new();
    rig.sd.install_unit(
        "hang.service",
        "[Service]\nExecStartPre=/bin/sleep 120\nExecStart=/bin/sleep 600\n",
    );
    // common::execd SIGKILLs at the 6 s CRM_meta_timeout: returning is the assertion.
    let run = rig.run(
        "SystemdService",
        "start",
        &[("unit", "hang"), ("CRM_meta_timeout", "6000")],
    );
    run.expect(1, "start of a unit whose ExecStartPre outlives the op");
    // systemd's own TimeoutStartSec (from the drop-in: 6 s minus 1.5 s) fired first.
    run.reason_has("hang.service").reason_has("result timeout");
    assert!(
        fs::read_to_string(rig.dropin("hang.service"))
            .expect("drop-in")
            .contains("TimeoutStartSec=4500ms"),
        "drop-in timeouts"
    );
    assert_eq!(rig.sd.property("hang.service", "Result"), "timeout");
    rig.run("SystemdService", "stop", &[("unit", "hang")])
        .expect(0, "stop after the failed start");
}

#[test]
fn a_start_whose_condition_fails_is_done_but_not_running() {
    let rig = Rig::new();
    rig.sd.install_unit(
        "cond.service",
        "[Unit]\nConditionPathExists=/nonexistent/ocfbox-condition\n\
         [Service]\nExecStart=/bin/sleep 600\n",
    );
    rig.run("SystemdService", "start", &[("unit", "cond")])
        .expect(1, "start with a failing Condition")
        .reason_has("condition")
        .reason_has("inactive");
    rig.run("SystemdService", "stop", &[("unit", "cond")])
        .expect(0, "stop");
}

#[test]
fn health_checks_catch_a_running_service_that_answers_500_or_hangs() {
    let rig = Rig::new();
    let mode = rig.install_http_unit("api.service", 8080);
    let url = "http://127.0.0.1:8080/v2.1";
    let base = [
        ("unit", "api"),
        ("monitor_url", url),
        ("monitor_url_body", "versions"),
        ("check_timeout", "2"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let recurring = with(&[("CRM_meta_interval", "10000")]);

    // start waits until the server answers (it needs a moment to bind).
    rig.run_inside("SystemdService", "start", &base)
        .expect(0, "start of the HTTP unit");
    rig.run_inside("SystemdService", "monitor", &recurring)
        .expect(0, "monitor of a healthy service");

    fs::write(&mode, "500").expect("mode");
    rig.run_inside("SystemdService", "monitor", &recurring)
        .expect(1, "monitor of a service answering 500")
        .reason_has("HTTP 500")
        .reason_has("database unavailable");
    rig.run_inside(
        "SystemdService",
        "monitor",
        &with(&[("CRM_meta_interval", "10000"), ("OCF_CHECK_LEVEL", "0")]),
    )
    .expect(0, "depth 0 looks at the unit only");
    rig.run_inside("SystemdService", "monitor", &base)
        .expect(0, "a probe looks at the unit only");
    rig.run_inside(
        "SystemdService",
        "monitor",
        &with(&[("CRM_meta_interval", "10000"), ("check_level", "0")]),
    )
    .expect(0, "check_level=0 makes plain monitors shallow");

    fs::write(&mode, "hang").expect("mode");
    rig.run_inside("SystemdService", "monitor", &recurring)
        .expect(1, "monitor of a hung service")
        .reason_has("no answer in time");

    // start: the service runs but stays unhealthy; start_grace ends the wait with a reason.
    fs::write(&mode, "500").expect("mode");
    rig.run_inside("SystemdService", "stop", &base)
        .expect(0, "stop");
    rig.run_inside("SystemdService", "start", &with(&[("start_grace", "2")]))
        .expect(1, "start of a service that never gets healthy")
        .reason_has("did not pass")
        .reason_has("start_grace")
        .reason_has("HTTP 500");
    // ... and without start_grace, the op's budget ends it, before CRM_meta_timeout.
    rig.run_inside(
        "SystemdService",
        "start",
        &with(&[("CRM_meta_timeout", "5000")]),
    )
    .expect(1, "start bounded by the op timeout")
    .reason_has("did not pass");
    fs::write(&mode, "ok").expect("mode");
    rig.run_inside("SystemdService", "start", &base)
        .expect(0, "start once healthy");

    // TCP and command checks against the same service.
    rig.run_inside(
        "SystemdService",
        "monitor",
        &[
            ("unit", "api"),
            ("CRM_meta_interval", "10000"),
            ("monitor_tcp", "127.0.0.1:8080"),
        ],
    )
    .expect(0, "TCP check of a listening port");
    rig.run_inside(
        "SystemdService",
        "monitor",
        &[
            ("unit", "api"),
            ("CRM_meta_interval", "10000"),
            ("monitor_tcp", "[::1]:8081"),
        ],
    )
    .expect(1, "TCP check of a closed port")
    .reason_has("TCP connect to [::1]:8081");
    let flag = rig.dir.join("healthy-flag");
    let cmd = format!("/bin/sh -c 'test -e {}'", flag.display());
    let cmd_params = [
        ("unit", "api"),
        ("CRM_meta_interval", "10000"),
        ("monitor_cmd", cmd.as_str()),
    ];
    rig.run_inside("SystemdService", "monitor", &cmd_params)
        .expect(1, "command check failing")
        .reason_has("exit status 1");
    fs::write(&flag, "").expect("flag");
    rig.run_inside("SystemdService", "monitor", &cmd_params)
        .expect(0, "command check passing");

    // The service dies while start waits for its health: the wait ends at once.
    rig.run_inside("SystemdService", "stop", &base)
        .expect(0, "stop");
    rig.sd.install_unit(
        "dies.service",
        "[Service]\nType=simple\nExecStart=/bin/sh -c 'sleep 1; exit 4'\n",
    );
    rig.run_inside(
        "SystemdService",
        "start",
        &[("unit", "dies"), ("monitor_tcp", "127.0.0.1:9")],
    )
    .expect(1, "start of a service that dies before it is healthy")
    .reason_has("while waiting for its health check");
}

#[test]
fn hostile_unit_names_are_refused_and_nothing_is_written() {
    let rig = Rig::new();
    rig.sd.install_unit("x.service", SLEEPER);
    let before = rig.unit_dir_listing();
    let units_before = rig
        .sd
        .systemctl_ok(&["list-units", "--all", "--no-legend", "--plain"]);
    for bad in [
        "../x",
        "a b",
        "web\nExecStart=/bin/reboot",
        "$(reboot)",
        "x.service/..",
        "`id`",
    ] {
        for action in ["start", "stop", "monitor", "reload", "validate-all"] {
            rig.run("SystemdService", action, &[("unit", bad)])
                .expect(6, &format!("{action} with unit {bad:?}"))
                .reason_has("invalid unit name");
        }
    }
    assert_eq!(
        rig.unit_dir_listing(),
        before,
        "a hostile name wrote a file"
    );
    assert_eq!(
        rig.sd
            .systemctl_ok(&["list-units", "--all", "--no-legend", "--plain"]),
        units_before,
        "a hostile name changed systemd's units"
    );
    assert!(!Path::new("/run/systemd/system/x.d").exists());
}

#[test]
fn ocf_tester_passes_on_a_sandbox_unit() {
    let ocf_tester = common::require_cmd("ocf-tester", "resource-agents");
    let rig = Rig::new();
    rig.sd.install_unit("tested.service", SLEEPER);
    let mut cmd = Command::new(ocf_tester);
    rig.env(&[])
        .apply(&mut cmd)
        .args(["-n", "t", "-o", "unit=tested"])
        .arg(rig.agent("SystemdService"));
    let run = execd::run_within(cmd, Duration::from_secs(120), "ocf-tester");
    // ocf-tester checks the meta-data against the OCF 1.0 DTD, which does not know OCF
    // 1.1's reloadable attribute and reload-agent action (SystemdService uses them on
    // purpose; tests/metadata.rs validates them against the widened schemas). That one
    // complaint is expected; every other test must pass.
    let failures: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("* rc="))
        .filter(|l| !l.contains("does not conform to ra-api-1.dtd"))
        .collect();
    let other_dtd_errors: Vec<&str> = run
        .stderr
        .lines()
        .chain(run.stdout.lines())
        .filter(|l| l.contains("validity error"))
        .filter(|l| !l.contains("attribute reloadable") && !l.contains("\"reload-agent\""))
        .collect();
    assert!(
        failures.is_empty()
            && other_dtd_errors.is_empty()
            && run.stdout.contains("Beginning tests"),
        "ocf-tester failed ({}):\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
}

#[test]
fn a_preset_picks_the_installed_candidate_and_checks_the_api_version_document() {
    let rig = Rig::new();
    // The Debian-family name: the preset tries openstack-nova-api.service first.
    let mode = rig.install_http_unit("nova-api.service", 8774);
    fs::write(&mode, "300").expect("mode");
    let none: [(&str, &str); 0] = [];
    rig.run_inside("openstack-nova-api", "validate-all", &none)
        .expect(0, "validate-all of the preset");
    rig.run_inside("openstack-nova-api", "monitor", &none)
        .expect(7, "probe of the preset");
    rig.run_inside("openstack-nova-api", "start", &none)
        .expect(0, "start of the preset");
    assert!(rig.dropin("nova-api.service").exists());
    assert!(!rig
        .sd
        .unit_dir()
        .join("openstack-nova-api.service.d")
        .exists());
    rig.run_inside(
        "openstack-nova-api",
        "monitor",
        &[("CRM_meta_interval", "10000")],
    )
    .expect(0, "monitor of the preset");
    fs::write(&mode, "500").expect("mode");
    rig.run_inside(
        "openstack-nova-api",
        "monitor",
        &[("CRM_meta_interval", "10000")],
    )
    .expect(1, "the preset's check sees the API fail")
    .reason_has("http://localhost:8774/");
    rig.run_inside("openstack-nova-api", "stop", &none)
        .expect(0, "stop of the preset");
    assert_eq!(rig.sd.active_state("nova-api.service"), "inactive");
    assert!(!rig.dropin("nova-api.service").exists());

    // None of the candidates installed: OCF_ERR_INSTALLED naming them; probe 7; stop 0.
    rig.run_inside("openstack-glance-api", "start", &none)
        .expect(5, "start of a preset whose unit is not installed")
        .reason_has("openstack-glance-api.service, glance-api.service");
    rig.run_inside("openstack-glance-api", "monitor", &none)
        .expect(7, "probe of a preset whose unit is not installed");
    rig.run_inside("openstack-glance-api", "stop", &none)
        .expect(0, "stop of a preset whose unit is not installed");
}

#[test]
fn pacemaker_recovers_a_killed_service_through_the_agent() {
    common::require_root();
    let rig = Rig::new();
    rig.sd.install_unit("victim.service", SLEEPER);
    let cluster = Cluster::start(ClusterOptions {
        env: rig.sd.agent_env(),
        ocf_provider_dirs: vec![("ocfbox".into(), rig.dir.join("agents"))],
        ..Default::default()
    });
    let node = cluster.node(0).name().to_string();
    cluster
        .cibadmin_create(
            "resources",
            r#"<primitive id="victim" class="ocf" provider="ocfbox" type="SystemdService">
                 <instance_attributes id="victim-ia">
                   <nvpair id="victim-unit" name="unit" value="victim"/>
                 </instance_attributes>
                 <operations>
                   <op id="victim-start" name="start" interval="0" timeout="30s"/>
                   <op id="victim-stop" name="stop" interval="0" timeout="30s"/>
                   <op id="victim-mon" name="monitor" interval="2s" timeout="20s"/>
                 </operations>
               </primitive>"#,
        )
        .expect("create the resource");
    cluster
        .wait_for_resource("victim", &node, "Started", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rig.sd.active_state("victim.service"), "active");
    assert!(
        rig.dropin("victim.service").exists(),
        "Pacemaker's start wrote no drop-in"
    );
    let first = rig.sd.main_pid("victim.service").expect("MainPID");
    cluster.demo_show("victim started through SystemdService; now its process is killed");

    assert!(common::proc::kill(first, "KILL"), "cannot kill {first}");
    // Restart=no (the drop-in): systemd leaves it failed; the monitor reports 7 and
    // Pacemaker stops and starts it again through the agent.
    let recovered = common::poll(Duration::from_secs(90), Duration::from_millis(200), || {
        let pid = rig.sd.main_pid("victim.service")?;
        (pid != first && rig.sd.active_state("victim.service") == "active").then_some(pid)
    });
    let second = recovered.unwrap_or_else(|| {
        panic!(
            "the service was not restarted after its process was killed\n{}\n{}",
            rig.sd.diagnostics(),
            cluster.diagnostics()
        )
    });
    assert_ne!(second, first);
    let failcount = common::poll(Duration::from_secs(30), Duration::from_millis(200), || {
        fail_count(&cluster, "victim", &node)
    });
    assert!(
        failcount.is_some(),
        "no fail count recorded for victim\n{}",
        cluster.diagnostics()
    );
    cluster
        .wait_for_resource("victim", &node, "Started", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    cluster.demo_show("recovered by Pacemaker through the agent; the failed monitor is counted");
    cluster.demo_keep("1");
}

/// systemd re-executing (daemon-reexec) drops off the bus for a moment: calls in flight get
/// NoReply, new ones ServiceUnknown. A monitor then asks again within its budget instead of
/// reporting a failure that would make Pacemaker restart a healthy service.
#[test]
fn monitors_ride_out_systemd_re_executing() {
    let rig = Rig::new();
    rig.sd.install_unit("steady.service", SLEEPER);
    rig.run("SystemdService", "start", &[("unit", "steady")])
        .expect(0, "start");
    let recurring = [("unit", "steady"), ("CRM_meta_interval", "10000")];
    let done = std::sync::atomic::AtomicBool::new(false);
    let reexecs = std::thread::scope(|s| {
        let reexec = s.spawn(|| {
            let mut n = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) && n < 20 {
                if rig.sd.systemctl(&["daemon-reexec"]).status.success() {
                    n += 1;
                }
            }
            n
        });
        for _ in 0..60 {
            rig.run("SystemdService", "monitor", &recurring)
                .expect(0, "monitor while systemd re-executes");
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        reexec.join().expect("reexec thread")
    });
    assert!(reexecs > 0, "systemd never re-executed during the monitors");
    rig.run("SystemdService", "stop", &[("unit", "steady")])
        .expect(0, "stop");
}

/// No systemd on the bus at all (no socket): "can it run here" questions say not
/// installed (a probe's 5 reads as not running), a stop and a recurring monitor cannot
/// conclude anything and fail with the reason; all within a short, bounded retry.
#[test]
fn without_a_reachable_systemd_start_and_probes_say_not_installed() {
    let dir = TempDir::new("nobus");
    let agent = dir.join("SystemdService");
    symlink(common::ocfbox_bin(), &agent).expect("symlink");
    let run = |action: &str, extra: &[(&str, &str)]| {
        let env = AgentEnv::bare()
            .var("OCFBOX_SYSTEMD_MANAGER", "user")
            .var("XDG_RUNTIME_DIR", &dir.path().display().to_string())
            .var(
                "DBUS_SESSION_BUS_ADDRESS",
                &format!("unix:path={}", dir.join("no-bus").display()),
            )
            .param("unit", "web")
            .meta("timeout", "20000")
            .vars(extra.iter().copied());
        execd::run(&agent, action, &env)
    };
    run("monitor", &[])
        .expect(5, "probe without systemd")
        .reason_has("not reachable");
    run("start", &[])
        .expect(5, "start without systemd")
        .reason_has("not reachable");
    run("validate-all", &[]).expect(5, "validate-all without systemd");
    run("stop", &[]).expect(1, "stop without systemd");
    run("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")])
        .expect(1, "recurring monitor without systemd");
    assert!(
        !dir.join("systemd").exists(),
        "a drop-in directory was created"
    );
}

/// Resource `id`'s fail count on `node` when it is set (not 0).
fn fail_count(cluster: &Cluster, id: &str, node: &str) -> Option<String> {
    let out = cluster
        .node(0)
        .exec_ok(&["crm_failcount", "--query", "--resource", id, "--node", node])
        .ok()?;
    let value = out.rsplit("value=").next()?.trim().to_string();
    (value != "0" && !value.is_empty()).then_some(value)
}

/// A Pacemaker node in the systemd sandbox's network, so the agents' health checks reach
/// the units' ports, with the ocfbox agents as provider `ocfbox`.
fn cluster_in(rig: &Rig) -> Cluster {
    Cluster::start(ClusterOptions {
        env: rig.sd.agent_env(),
        netns_of: Some(rig.sd.host_pid()),
        ocf_provider_dirs: vec![("ocfbox".into(), rig.dir.join("agents"))],
        ..Default::default()
    })
}

#[test]
fn changing_a_health_check_parameter_restarts_nothing_and_changing_unit_restarts() {
    common::require_root();
    let rig = Rig::new();
    rig.install_http_unit("api.service", 18774);
    // The same port: only one of them runs at a time.
    rig.install_http_unit("api2.service", 18774);
    let cluster = cluster_in(&rig);
    let node = cluster.node(0).name().to_string();
    cluster
        .cibadmin_create(
            "resources",
            r#"<primitive id="api" class="ocf" provider="ocfbox" type="SystemdService">
                 <instance_attributes id="api-ia">
                   <nvpair id="api-unit" name="unit" value="api"/>
                   <nvpair id="api-url" name="monitor_url" value="http://127.0.0.1:18774/"/>
                 </instance_attributes>
                 <operations>
                   <op id="api-start" name="start" interval="0" timeout="100s"/>
                   <op id="api-stop" name="stop" interval="0" timeout="100s"/>
                   <op id="api-mon" name="monitor" interval="2s" timeout="30s"/>
                 </operations>
               </primitive>"#,
        )
        .expect("create the resource");
    let wait = Duration::from_secs(60);
    cluster
        .wait_for_resource("api", &node, "Started", wait)
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = rig.sd.main_pid("api.service").expect("MainPID");

    // A health-check parameter (reloadable): Pacemaker calls reload-agent, the service
    // keeps running in the same process.
    for (name, value) in [
        ("monitor_url", "http://127.0.0.1:18774/v2/"),
        ("check_timeout", "5"),
    ] {
        cluster
            .node(0)
            .exec_ok(&[
                "crm_resource",
                "--resource",
                "api",
                "--set-parameter",
                name,
                "--parameter-value",
                value,
            ])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // Pacemaker records a reload-agent as the resource's start with the new digest; the
    // agent's own log line says it was the reload.
    common::poll(wait, Duration::from_millis(200), || {
        fs::read_to_string(cluster.log_path(0))
            .ok()
            .filter(|l| l.contains("parameters reloaded"))
            .map(drop)
    })
    .unwrap_or_else(|| panic!("no reload-agent ran\n{}", cluster.diagnostics()));
    cluster
        .wait_for_resource("api", &node, "Started", wait)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rig.sd.main_pid("api.service"),
        Some(pid),
        "the service was restarted by a health-check parameter"
    );

    // `unit` is not reloadable: the resource moves to the other unit.
    cluster
        .node(0)
        .exec_ok(&[
            "crm_resource",
            "--resource",
            "api",
            "--set-parameter",
            "unit",
            "--parameter-value",
            "api2",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    rig.sd
        .wait_for_state("api2.service", "active", wait)
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.diagnostics()));
    rig.sd
        .wait_for_state("api.service", "inactive", wait)
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.diagnostics()));
    cluster
        .wait_for_resource("api", &node, "Started", wait)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// openstack-resource-agents' nova-api primitive, built with pcs as its users did, moved
/// to ocfbox the way the README says (cibadmin, in maintenance mode): it runs, url is its
/// health check, the old parameters are accepted and their credentials never logged.
#[test]
fn an_openstack_resource_agents_nova_api_primitive_runs_after_the_provider_swap() {
    common::require_root();
    common::require_cmd("pcs", "pcs");
    let rig = Rig::new();
    let mode = rig.install_http_unit("nova-api.service", 18774);
    let cluster = cluster_in(&rig);
    let node = cluster.node(0).name().to_string();
    let password = "n0t-in-any-log-7f3a";

    // The old resource, as `pcs resource create` writes it (--force: the old agent is not
    // installed here, so pcs cannot read its meta-data; the XML is the same).
    let cib = rig.dir.join("old-cib.xml");
    let empty = Command::new("cibadmin")
        .arg("--empty")
        .output()
        .expect("cibadmin");
    fs::write(&cib, &empty.stdout).expect("write cib");
    let pcs = Command::new("pcs")
        .arg("-f")
        .arg(&cib)
        .args([
            "resource",
            "create",
            "p_nova-api",
            "ocf:openstack:nova-api",
            "url=http://127.0.0.1:18774/",
            "config=/etc/nova/nova.conf",
            "user=nova",
            "binary=/usr/bin/nova-api",
            "additional_parameters=--debug",
            "pid=/var/run/nova/nova-api.pid",
            "os_username=admin",
            &format!("os_password={password}"),
            "os_tenant_name=admin",
            "keystone_get_token_url=http://127.0.0.1:5000/v2.0/tokens",
            "op",
            "monitor",
            "interval=5s",
            "timeout=10s",
            "op",
            "start",
            "timeout=10s",
            "op",
            "stop",
            "timeout=10s",
            "--force",
        ])
        .output()
        .expect("run pcs");
    assert!(
        pcs.status.success(),
        "pcs: {}",
        String::from_utf8_lossy(&pcs.stderr)
    );
    let resources = Command::new("cibadmin")
        .args(["--query", "--scope", "resources"])
        .env("CIB_file", &cib)
        .output()
        .expect("cibadmin on the file");
    let old = String::from_utf8_lossy(&resources.stdout).to_string();
    assert!(old.contains("provider=\"openstack\""), "{old}");

    // The README's way: maintenance mode, swap the provider, leave maintenance mode.
    let n = cluster.node(0);
    n.exec_ok(&[
        "crm_attribute",
        "--name",
        "maintenance-mode",
        "--update",
        "true",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    n.exec_stdin(
        &[
            "cibadmin",
            "--replace",
            "--scope",
            "resources",
            "--xml-pipe",
        ],
        &old,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    n.exec_ok(&[
        "sh",
        "-ec",
        "cibadmin --query --scope resources \
         | sed 's/provider=\"openstack\"/provider=\"ocfbox\"/' \
         | cibadmin --replace --scope resources --xml-pipe",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    n.exec_ok(&["crm_attribute", "--name", "maintenance-mode", "--delete"])
        .unwrap_or_else(|e| panic!("{e}"));

    let wait = Duration::from_secs(60);
    cluster
        .wait_for_resource("p_nova-api", &node, "Started", wait)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rig.sd.active_state("nova-api.service"), "active");
    // url is the health check: the API failing fails the monitor, and Pacemaker restarts it.
    let pid = rig.sd.main_pid("nova-api.service").expect("MainPID");
    fs::write(&mode, "500").expect("mode");
    let failed = common::poll(wait, Duration::from_millis(200), || {
        fail_count(&cluster, "p_nova-api", &node)
    });
    fs::write(&mode, "ok").expect("mode");
    assert!(
        failed.is_some(),
        "a failing url did not fail the monitor\n{}",
        cluster.diagnostics()
    );
    common::poll(wait, Duration::from_millis(200), || {
        rig.sd
            .main_pid("nova-api.service")
            .filter(|p| *p != pid)
            .map(drop)
    })
    .unwrap_or_else(|| panic!("not restarted\n{}", cluster.diagnostics()));
    cluster
        .wait_for_resource("p_nova-api", &node, "Started", wait)
        .unwrap_or_else(|e| panic!("{e}"));

    let log = fs::read_to_string(cluster.log_path(0)).unwrap_or_default();
    for said in [
        "does not authenticate its health check",
        "user 'nova' differs",
        "additional_parameters --debug not on",
    ] {
        assert!(log.contains(said), "no {said:?} in the log:\n{log}");
    }
    // (Pacemaker's own CIB change lines carry every value; the agents' lines must not.)
    let agent_lines: Vec<&str> = log.lines().filter(|l| l.contains("nova-api(")).collect();
    assert!(!agent_lines.is_empty(), "no agent log lines:\n{log}");
    assert!(
        !agent_lines.iter().any(|l| l.contains(password)),
        "the password reached the agent's log"
    );
}
