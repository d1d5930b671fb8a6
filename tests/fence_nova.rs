//! fence_nova against the Nova simulator, run inside a real Pacemaker node (attrd for the
//! `evacuate` attribute) the way pacemaker-fenced runs it: options on stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common;
use common::nova::{Fault, FaultKind, NovaSim, SimConfig};
use common::pacemaker::{Cluster, ClusterOptions};
use common::{output_text, TempDir};

const PASSWORD_MARK: &str = "not-used-here";

pub struct Rig {
    pub c: Cluster,
    pub sim: NovaSim,
    pub tmp: TempDir,
    pub bin: PathBuf,
}

impl Rig {
    pub fn new(cfg: SimConfig) -> Rig {
        let tmp = TempDir::new("fence-nova");
        let bin = common::provider_dir(
            &tmp.join("sbin"),
            &[("fence_nova", common::ocfbox_bin().as_path())],
        )
        .join("fence_nova");
        let c = Cluster::start(ClusterOptions::default());
        let pid = c.node(0).host_pid().expect("node runs");
        let sim = NovaSim::start(cfg.netns_of(pid));
        Rig { c, sim, tmp, bin }
    }

    /// The credentials as stdin lines, in fence_compute's old names where it had them.
    pub fn creds(&self) -> String {
        let a = self.sim.admin();
        format!(
            "auth_url={}\nlogin={}\npasswd={}\ntenant_name={}\nuser_domain={}\n\
             project_domain={}\nendpoint_type=publicURL\n",
            a.auth_url, a.username, a.password, a.project_name, a.user_domain, a.project_domain
        )
    }

    /// `action`/`plug` plus `extra` lines on stdin, as the fencer sends them.
    pub fn fence(&self, action: &str, plug: &str, extra: &str) -> Output {
        let input = format!(
            "action={action}\nport={plug}\nnodename={plug}\n{}{extra}",
            self.creds()
        );
        self.run(&[], &input)
    }

    pub fn run(&self, args: &[&str], input: &str) -> Output {
        let mut cmd = self.c.node(0).command(&self.bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("PCMK_service", "pacemaker-fenced")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run fence_nova");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        // A hung agent must not hang the test: the fencer would kill it, so do we.
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(out) => out.expect("wait fence_nova"),
            Err(_) => {
                common::proc::kill(pid, "KILL");
                panic!("fence_nova did not end within 90 s");
            }
        }
    }

    pub fn svc(&self, host: &str) -> Value {
        self.sim.service(host, "nova-compute")
    }

    pub fn reason(&self, host: &str) -> String {
        self.svc(host)["disabled_reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub fn attr(&self, node: &str) -> Option<String> {
        self.c
            .attrd_query_all(0, "evacuate")
            .into_iter()
            .find(|(h, _)| h == node)
            .map(|(_, v)| v)
    }

    pub fn wait_attr(&self, node: &str, want: &str) {
        common::poll(Duration::from_secs(10), Duration::from_millis(50), || {
            (self.attr(node).as_deref() == Some(want)).then_some(())
        })
        .unwrap_or_else(|| {
            panic!(
                "{node}: evacuate never became {want}: {:?}",
                self.attr(node)
            )
        });
    }

    /// PUTs on os-services (force-down, disable, enable ...) so far.
    pub fn service_writes(&self) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/os-services"))
            .count()
    }
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn assert_code(o: &Output, want: i32, what: &str) {
    assert_eq!(code(o), want, "{what}: {}", output_text(o));
}

fn two_hosts() -> SimConfig {
    SimConfig::new()
        .hosts(&["compute-0", "compute-1"])
        .servers_on("compute-0", 2)
}

#[test]
fn every_action_with_its_exit_code_over_the_stdin_protocol() {
    let rig = Rig::new(two_hosts());

    assert_code(
        &rig.fence("validate-all", "compute-0", ""),
        0,
        "validate-all",
    );
    rig.sim.clear_requests();
    assert_code(&rig.fence("monitor", "compute-0", ""), 0, "monitor");
    let reqs = rig.sim.requests();
    let tokens = reqs
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/auth/tokens"))
        .count();
    assert_eq!(tokens, 1, "monitor: one token request: {reqs:?}");
    assert!(
        reqs.iter().all(|r| r.service == "identity"),
        "monitor asks Keystone only: {reqs:?}"
    );

    let list = rig.fence("list", "compute-0", "");
    assert_code(&list, 0, "list");
    let text = String::from_utf8_lossy(&list.stdout);
    for h in ["compute-0,", "compute-1,"] {
        assert!(text.lines().any(|l| l == h), "list lacks {h}: {text}");
    }
    let ls = rig.fence("list-status", "compute-0", "");
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("compute-1,,ON"),
        "{}",
        output_text(&ls)
    );

    assert_code(
        &rig.fence("status", "compute-0", ""),
        0,
        "status of a running host",
    );
    assert_code(
        &rig.fence("status", "compute-9", ""),
        1,
        "status of an unknown host",
    );

    // off: forced down, disabled with the marker, then evacuate=yes.
    rig.sim.kill_compute("compute-0");
    assert_code(&rig.fence("off", "compute-0", ""), 0, "off");
    let svc = rig.svc("compute-0");
    assert_eq!(svc["forced_down"], true, "{svc}");
    assert_eq!(svc["status"], "disabled", "{svc}");
    let reason = rig.reason("compute-0");
    assert!(
        reason.starts_with("ocfbox evacuation requested "),
        "{reason}"
    );
    rig.wait_attr("compute-0", "yes");
    assert_code(&rig.fence("status", "compute-0", ""), 2, "status after off");

    // A second off (the fencer retries, or a second device) changes nothing in Nova.
    let writes = rig.service_writes();
    assert_code(&rig.fence("reboot", "compute-0", ""), 0, "reboot = off");
    assert_eq!(rig.service_writes(), writes, "no second write");
    assert_eq!(
        rig.reason("compute-0"),
        reason,
        "the request keeps its epoch"
    );

    // on while the request is open: waits, then fails within power_timeout.
    let on = rig.fence("on", "compute-0", "power_timeout=3\n");
    assert_code(&on, 1, "on while evacuating");
    assert!(
        output_text(&on).contains("not over"),
        "on says why: {}",
        output_text(&on)
    );
    assert_eq!(rig.svc("compute-0")["forced_down"], true);

    // NovaEvacuate finished: on clears forced_down and enables (the reason is ours).
    rig.sim.set_service(
        "compute-0",
        "nova-compute",
        json!({"disabled_reason": "ocfbox evacuation done 1"}),
    );
    rig.c
        .node(0)
        .exec_ok(&[
            "attrd_updater",
            "-p",
            "-n",
            "evacuate",
            "-N",
            "compute-0",
            "-U",
            "no",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    rig.wait_attr("compute-0", "no");
    let on = rig.fence("on", "compute-0", "");
    assert_code(&on, 0, "on after the evacuation");
    let svc = rig.svc("compute-0");
    assert_eq!(svc["forced_down"], false, "{svc}");
    assert_eq!(svc["status"], "enabled", "{svc}");

    assert_code(&rig.fence("explode", "compute-0", ""), 1, "unknown action");
    assert_code(&rig.run(&[], "action=status\n"), 1, "no credentials");
}

#[test]
fn a_host_already_down_and_disabled_is_still_marked_and_an_operators_reason_kept() {
    let rig = Rig::new(two_hosts().with_state(|s| {
        for svc in s["services"].as_array_mut().into_iter().flatten() {
            if svc["host"] == "compute-1" {
                svc["alive"] = json!(false);
                svc["status"] = json!("disabled");
                svc["disabled_reason"] = json!("disk swap");
            }
        }
    }));
    assert_code(&rig.fence("off", "compute-1", ""), 0, "off");
    let reason = rig.reason("compute-1");
    assert!(
        reason.starts_with("ocfbox evacuation requested ") && reason.ends_with("(was: disk swap)"),
        "{reason}"
    );
    assert_eq!(rig.svc("compute-1")["forced_down"], true);
    rig.wait_attr("compute-1", "yes");
}

#[test]
fn nova_guard_400_leaves_forced_down_to_nova_compute_and_says_so() {
    let rig = Rig::new(
        two_hosts()
            .xena_guard(true)
            .with_state(|s| {
                for svc in s["services"].as_array_mut().into_iter().flatten() {
                    if svc["host"] == "compute-0" {
                        svc["alive"] = json!(false);
                        svc["forced_down"] = json!(true);
                        svc["status"] = json!("disabled");
                        svc["disabled_reason"] = json!("ocfbox evacuation done 5");
                    }
                }
            })
            .migration(
                json!({"source_compute": "compute-0", "dest_compute": "compute-1",
                              "status": "done", "migration_type": "evacuation",
                              "instance_uuid": common::nova::server_id("compute-0", 0)}),
            ),
    );
    let on = rig.fence("on", "compute-0", "");
    assert_code(&on, 0, "on under the guard");
    let text = output_text(&on);
    assert!(
        text.contains("refuses to clear forced_down") && text.contains("NovaCompute"),
        "on says who clears it: {text}"
    );
    let svc = rig.svc("compute-0");
    assert_eq!(svc["forced_down"], true, "{svc}");
    assert_eq!(svc["status"], "disabled", "left for NovaCompute: {svc}");
}

#[test]
fn faults_and_hangs_are_bounded_and_never_a_success_without_nova() {
    let rig = Rig::new(two_hosts());
    rig.sim.fault(Fault::new(
        Some("GET"),
        "/os-services",
        FaultKind::Hang(Duration::from_secs(60)),
    ));
    let o = rig.fence("off", "compute-0", "power_timeout=3\n");
    assert_code(&o, 1, "off with a hung Nova");
    assert!(
        output_text(&o).contains("os-services"),
        "names the request: {}",
        output_text(&o)
    );
    let o = rig.fence("on", "compute-0", "power_timeout=3\n");
    assert_code(&o, 1, "on with a hung Nova");
    rig.sim.clear_faults();
    rig.sim.fault(Fault::new(
        Some("PUT"),
        "/os-services",
        FaultKind::Status(503),
    ));
    let o = rig.fence("off", "compute-0", "");
    assert_code(&o, 1, "off with Nova answering 503");
    assert!(output_text(&o).contains("503"), "{}", output_text(&o));
    rig.sim.clear_faults();
    assert!(
        rig.attr("compute-0").is_none(),
        "no attribute before Nova knows"
    );

    // Keystone unreachable: every action that needs it fails.
    let dead = "auth_url=http://127.0.0.1:9/identity\n";
    for action in ["on", "off", "status", "monitor", "list"] {
        let o = rig.fence(action, "compute-0", dead);
        assert_code(&o, 1, &format!("{action} without Keystone"));
    }
}

#[test]
fn command_line_use_warns_about_the_password_and_secrets_stay_out_of_every_output() {
    let rig = Rig::new(two_hosts());
    let a = rig.sim.admin();
    let o = rig.run(
        &[
            "-o",
            "status",
            "-n",
            "compute-0",
            "-k",
            &a.auth_url,
            "-l",
            &a.username,
            "-p",
            &a.password,
            "-t",
            &a.project_name,
            "-e",
            "publicURL",
            "-v",
        ],
        "",
    );
    assert_code(&o, 0, "status from the command line");
    let text = output_text(&o);
    assert!(text.contains("command line"), "warns: {text}");
    assert!(
        !text.contains(&a.password),
        "password in the output: {text}"
    );

    // password_file, and a wrong password: the error never shows either.
    let pw = rig.tmp.join("pw");
    std::fs::write(&pw, format!("{}\n", a.password)).expect("write pw");
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let input = format!(
        "action=off\nplug=compute-1\nauth_url={}\nusername={}\npassword_file={}\n\
         tenant_name={}\nendpoint_type=publicURL\nverbose=1\n",
        a.auth_url,
        a.username,
        pw.display(),
        a.project_name
    );
    let o = rig.run(&[], &input);
    assert_code(&o, 0, "off with password_file");
    assert!(!output_text(&o).contains(&a.password));
    let wrong = format!(
        "{}password={PASSWORD_MARK}\n",
        input.replace("password_file", "x_ignored")
    );
    let o = rig.run(&[], &wrong);
    assert_code(&o, 1, "wrong password");
    assert!(
        !output_text(&o).contains(PASSWORD_MARK),
        "{}",
        output_text(&o)
    );
    for r in rig.sim.requests() {
        assert!(
            !r.had_secret || r.path.ends_with("/auth/tokens"),
            "a secret went to {} {}",
            r.method,
            r.path
        );
    }
}

#[test]
fn metadata_validates_against_fence_agents_schema() {
    let xmllint = common::require_cmd("xmllint", "libxml2-utils");
    common::require_file("/usr/share/cluster/relaxng/metadata.rng", "fence-agents");
    let tmp = TempDir::new("fence-nova-meta");
    let bin = common::provider_dir(
        &tmp.join("sbin"),
        &[("fence_nova", common::ocfbox_bin().as_path())],
    )
    .join("fence_nova");
    let out = std::process::Command::new(&bin)
        .args(["-o", "metadata"])
        .output()
        .expect("run fence_nova");
    assert_code(&out, 0, "-o metadata");
    let xml = tmp.join("meta.xml");
    std::fs::write(&xml, &out.stdout).expect("write meta");
    let v = std::process::Command::new(xmllint)
        .args([
            "--noout",
            "--relaxng",
            "/usr/share/cluster/relaxng/metadata.rng",
        ])
        .arg(&xml)
        .output()
        .expect("run xmllint");
    assert_code(&v, 0, "xmllint --relaxng");
    // The same from stdin, as the fencer asks it.
    let mut child = std::process::Command::new(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"action=metadata\n")
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.stdout, out.stdout);
}

#[test]
fn the_fencers_own_tools_read_its_metadata_and_run_it_as_a_device() {
    let tmp = TempDir::new("fence-nova-fencer");
    let c = Cluster::start(ClusterOptions {
        fence_agents: vec![("fence_nova".into(), common::ocfbox_bin())],
        ..Default::default()
    });
    let installed = c
        .node(0)
        .exec_ok(&["stonith_admin", "--list-installed"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        installed.lines().any(|l| l.trim() == "fence_nova"),
        "--list-installed: {installed}"
    );
    let meta = c
        .node(0)
        .exec_ok(&["stonith_admin", "--metadata", "-a", "fence_nova"])
        .unwrap_or_else(|e| panic!("{e}"));
    for needle in [
        "<resource-agent name=\"fence_nova\"",
        "name=\"auth_url\"",
        "name=\"passwd\"",
        "<action name=\"on\" automatic=\"1\"/>",
    ] {
        assert!(
            meta.contains(needle),
            "{needle} not in stonith_admin's answer:\n{meta}"
        );
    }
    // A device of it: the fencer starts it (its monitor = one Keystone login) and asks it
    // to list its targets.
    let pid = c.node(0).host_pid().expect("node runs");
    let sim = NovaSim::start(two_hosts().netns_of(pid));
    let a = sim.admin();
    let nv = |n: &str, v: &str| format!(r#"<nvpair id="nova-{n}" name="{n}" value="{v}"/>"#);
    c.cibadmin_create(
        "resources",
        &format!(
            r#"<primitive id="nova" class="stonith" type="fence_nova">
                 <instance_attributes id="nova-ia">{}{}{}{}{}{}</instance_attributes>
                 <operations><op id="nova-mon" name="monitor" interval="60s"/></operations>
               </primitive>"#,
            nv("auth_url", &a.auth_url),
            nv("login", &a.username),
            nv("passwd", &a.password),
            nv("tenant_name", &a.project_name),
            nv("endpoint_type", "publicURL"),
            nv("pcmk_host_check", "dynamic-list"),
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_resource("nova", c.node(0).name(), "Started", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let targets = common::poll(Duration::from_secs(30), Duration::from_millis(500), || {
        let o = c.node(0).exec(&["stonith_admin", "--list-targets", "nova"]);
        let t = String::from_utf8_lossy(&o.stdout).to_string();
        t.contains("compute-1").then_some(t)
    })
    .unwrap_or_else(|| {
        let o = c.node(0).exec(&["stonith_admin", "--list-targets", "nova"]);
        panic!(
            "stonith_admin --list-targets nova never named compute-1: {}\n{}",
            output_text(&o),
            c.diagnostics()
        )
    });
    assert!(targets.contains("compute-0"), "{targets}");
    drop(tmp);
}

#[test]
fn host_names_are_fixed_up_per_host_in_a_nova_with_short_and_fqdn_hosts() {
    // fence_compute exits 1 for every host of such a Nova (two DNS suffixes).
    let rig = Rig::new(
        SimConfig::new()
            .hosts(&["compute-0.example.com", "compute-1"])
            .servers_on("compute-0.example.com", 1),
    );
    rig.sim.kill_compute("compute-0.example.com");
    assert_code(
        &rig.fence("off", "compute-0", ""),
        0,
        "short node name, FQDN in Nova",
    );
    assert_eq!(rig.svc("compute-0.example.com")["forced_down"], true);
    // the attribute's key stays the Pacemaker node name
    rig.wait_attr("compute-0", "yes");
    assert_code(
        &rig.fence("status", "compute-1.example.com", "domain=example.com\n"),
        0,
        "FQDN node name, short in Nova",
    );
    assert_code(&rig.fence("status", "compute-0", ""), 2, "status after off");
}
