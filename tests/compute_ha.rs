//! The whole compute-node HA chain on a real cluster: two full nodes (the controllers,
//! running NovaEvacuate and reaching the simulated Nova), two pacemaker_remote compute nodes
//! (each with its own systemd running a fake nova-compute under NovaCompute), and the
//! harness's power switch that fences a node by killing its namespaces.
//!   A (fencing topology): level 1 of each compute = [power, fence_nova]; fence_nova
//!     provides unfencing (the recipe of reference/pacemaker-remote.md).
//!   B (alerts): power fencing only, plus the alert agent alert_nova.
//! In both: compute-1 crashes; Pacemaker fences it; the marks appear; NovaEvacuate
//! rebuilds its instances on compute-2; compute-1 comes back while the rebuilds still run,
//! rejoins (A: is unfenced), and NovaCompute starts nova-compute there only once every
//! evacuation is done; the service ends enabled, up and not forced down. The order is
//! asserted; the timeline (ms after the crash) is printed.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;
use common::nova::{NovaSim, SimConfig};
use common::pacemaker::{Cluster, ClusterOptions};
use common::remote::{ms_after, PowerFence, RemoteNode, RemoteOptions};
use common::TempDir;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Topology,
    Alert,
}

const VICTIM: &str = "compute-1";
const SPARE: &str = "compute-2";
const INSTANCES: usize = 3;
const UNIT: &str = "nova-compute.service";

fn fake_nova_compute(sim: &NovaSim, host: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nova-sim/fake-nova-compute.py");
    format!(
        "[Unit]\nDescription=fake nova-compute\n[Service]\nExecStart=/usr/bin/python3 {} {} {host}\n",
        script.display(),
        sim.control_socket().display()
    )
}

struct Chain {
    // drop order: the remote nodes, the power switch, the simulator, the cluster, the files
    remotes: Vec<RemoteNode>,
    fence: PowerFence,
    sim: NovaSim,
    c: Cluster,
    _tmp: TempDir,
}

fn nv(prefix: &str, name: &str, value: &str) -> String {
    format!(r#"<nvpair id="{prefix}-{name}" name="{name}" value="{value}"/>"#)
}

impl Chain {
    fn build(mode: Mode) -> Chain {
        common::require_root();
        let tmp = TempDir::new("compute-ha");
        let provider = common::ocfbox_provider_dir(tmp.path());
        let c = Cluster::start(ClusterOptions {
            nodes: 2,
            ocf_provider_dirs: vec![("ocfbox".into(), provider.clone())],
            fence_agents: vec![("fence_nova".into(), common::ocfbox_bin())],
            ..Default::default()
        });
        let (pid, ip) = c.service_endpoint().unwrap_or_else(|e| panic!("{e}"));
        let sim = NovaSim::start(
            SimConfig::new()
                .hosts(&[VICTIM, SPARE])
                .servers_on(VICTIM, INSTANCES)
                .rebuild_time(Duration::from_secs(5))
                .netns_of(pid)
                .bind(&ip),
        );
        let remotes: Vec<RemoteNode> = [VICTIM, SPARE]
            .iter()
            .map(|name| {
                let mut ro = RemoteOptions::new(name);
                ro.ocf_provider_dirs = vec![("ocfbox".into(), provider.clone())];
                ro.units = vec![(UNIT.into(), fake_nova_compute(&sim, name))];
                RemoteNode::start(&c, ro)
            })
            .collect();
        let ok = |r: Result<String, String>| r.unwrap_or_else(|e| panic!("{e}"));
        let ok0 = |r: Result<(), String>| r.unwrap_or_else(|e| panic!("{e}"));
        // Every resource needs fencing before it starts; NovaCompute needs unfencing (A).
        ok(c.exec_ok(&[
            "crm_attribute",
            "--type",
            "rsc_defaults",
            "--name",
            "requires",
            "--update",
            "fencing",
        ]));
        let refs: Vec<&RemoteNode> = remotes.iter().collect();
        let fence = PowerFence::start(&c, &refs);
        let a = sim.admin();
        let creds = |p: &str| {
            [
                nv(p, "auth_url", &a.auth_url),
                nv(p, "username", &a.username),
                nv(p, "password", &a.password),
                nv(p, "tenant_name", &a.project_name),
                nv(p, "endpoint_type", "publicURL"),
            ]
            .concat()
        };
        match mode {
            Mode::Topology => {
                // The power device also unfences the controllers (provides=unfencing on
                // any device makes every node need it).
                ok(c.exec_ok(&[
                    "crm_resource",
                    "-r",
                    "power",
                    "--set-parameter",
                    "pcmk_host_list",
                    "--parameter-value",
                    "compute-1 compute-2 node1 node2",
                ]));
                ok0(c.cibadmin_create(
                    "resources",
                    &format!(
                        r#"<primitive id="nova-fence" class="stonith" type="fence_nova">
                          <instance_attributes id="nf-ia">{}{}{}{}{}{}{}{}</instance_attributes>
                          <meta_attributes id="nf-meta">{}</meta_attributes>
                          <operations><op id="nf-mon" name="monitor" interval="60s"/></operations>
                        </primitive>"#,
                        nv("nf", "auth_url", &a.auth_url),
                        nv("nf", "login", &a.username),
                        nv("nf", "passwd", &a.password),
                        nv("nf", "tenant_name", &a.project_name),
                        nv("nf", "endpoint_type", "publicURL"),
                        nv("nf", "record_only", "1"),
                        nv("nf", "pcmk_host_list", "compute-1 compute-2"),
                        nv("nf", "verbose", "1"),
                        nv("nf", "provides", "unfencing"),
                    ),
                ));
                ok0(c.cibadmin_create(
                    "configuration",
                    r#"<fencing-topology>
                      <fencing-level id="fl-c1" target="compute-1" index="1" devices="power,nova-fence"/>
                      <fencing-level id="fl-c2" target="compute-2" index="1" devices="power,nova-fence"/>
                    </fencing-topology>"#,
                ));
            }
            Mode::Alert => {
                // What the README asks: the password in a file only hacluster reads.
                let pw = tmp.join("nova-password");
                std::fs::write(&pw, format!("{}\n", a.password)).expect("write password");
                let st = std::process::Command::new("chown")
                    .arg("hacluster:haclient")
                    .arg(&pw)
                    .status()
                    .expect("chown");
                assert!(st.success());
                std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                    .expect("chmod");
                let alert = common::provider_dir(
                    &tmp.join("alerts"),
                    &[("alert_nova", common::ocfbox_bin().as_path())],
                )
                .join("alert_nova");
                ok0(c.cibadmin_create(
                    "configuration",
                    &format!(
                        r#"<alerts><alert id="nova-alert" path="{}">
                          <meta_attributes id="na-meta">{}</meta_attributes>
                          <instance_attributes id="na-ia">{}{}{}{}{}{}</instance_attributes>
                        </alert></alerts>"#,
                        alert.display(),
                        nv("na", "timeout", "30s"),
                        nv("na", "auth_url", &a.auth_url),
                        nv("na", "username", &a.username),
                        nv("na", "password_file", &pw.display().to_string()),
                        nv("na", "project_name", &a.project_name),
                        nv("na", "endpoint_type", "publicURL"),
                        nv("na", "backup_delay", "2"),
                    ),
                ));
            }
        }
        let requires = if mode == Mode::Topology {
            "unfencing"
        } else {
            "fencing"
        };
        let nova_conf = tmp.join("none.conf").display().to_string();
        ok0(c.cibadmin_create(
            "resources",
            &format!(
                r#"<primitive id="nova-evacuate" class="ocf" provider="ocfbox" type="NovaEvacuate">
                  <instance_attributes id="ne-ia">{}</instance_attributes>
                  <operations>
                    <op id="ne-mon" name="monitor" interval="2s" timeout="600s"/>
                  </operations>
                </primitive>"#,
                creds("ne")
            ),
        ));
        ok0(c.cibadmin_create(
            "resources",
            &format!(
                r#"<clone id="nova-compute-clone">
                  <meta_attributes id="ncc-meta">{}</meta_attributes>
                  <primitive id="nova-compute" class="ocf" provider="ocfbox" type="NovaCompute">
                    <instance_attributes id="nc-ia">{}{}</instance_attributes>
                    <meta_attributes id="nc-meta">{}</meta_attributes>
                    <operations>
                      <op id="nc-start" name="start" interval="0" timeout="300s"/>
                      <op id="nc-mon" name="monitor" interval="10s" timeout="20s"/>
                      <op id="nc-stop" name="stop" interval="0" timeout="60s"/>
                    </operations>
                  </primitive>
                </clone>"#,
                nv("ncc", "interleave", "true"),
                creds("nc"),
                nv("nc", "nova_conf", &nova_conf),
                nv("nc", "requires", requires),
            ),
        ));
        let mut locs = String::new();
        for ctl in ["node1", "node2"] {
            locs.push_str(&format!(
                r#"<rsc_location id="nc-not-{ctl}" rsc="nova-compute-clone" node="{ctl}" score="-INFINITY" resource-discovery="never"/>"#
            ));
        }
        for cmp in [VICTIM, SPARE] {
            locs.push_str(&format!(
                r#"<rsc_location id="ne-not-{cmp}" rsc="nova-evacuate" node="{cmp}" score="-INFINITY" resource-discovery="never"/>"#
            ));
        }
        for one in locs.split("/>").filter(|x| !x.trim().is_empty()) {
            ok0(c.cibadmin_create("constraints", &format!("{one}/>")));
        }
        let chain = Chain {
            remotes,
            fence,
            sim,
            c,
            _tmp: tmp,
        };
        for cmp in [VICTIM, SPARE] {
            chain
                .c
                .wait_for_resource("nova-compute", cmp, "Started", Duration::from_secs(120))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        common::poll(Duration::from_secs(60), Duration::from_millis(200), || {
            let s = chain.svc(VICTIM);
            (s["state"] == "up" && s["status"] == "enabled").then_some(())
        })
        .unwrap_or_else(|| panic!("nova-compute never reported up: {}", chain.svc(VICTIM)));
        chain
            .c
            .demo_show("2 controllers, 2 compute nodes on pacemaker_remote; now compute-1 crashes");
        chain
    }

    fn svc(&self, host: &str) -> Value {
        self.sim.service(host, "nova-compute")
    }

    fn attr(&self) -> Option<String> {
        self.c
            .attrd_query_all(0, "evacuate")
            .into_iter()
            .find(|(h, _)| h == VICTIM)
            .map(|(_, v)| v)
    }

    fn evacuations(&self) -> Vec<Value> {
        self.sim
            .migrations()
            .into_iter()
            .filter(|m| m["source_compute"] == VICTIM && m["migration_type"] == "evacuation")
            .collect()
    }

    /// Successful unfencings (on) of the victim by fence_nova, as the fencers log them
    /// (the fencing history keeps no older entry of a remote node that rejoined).
    fn unfencings(&self) -> usize {
        let needle = format!("targeting {VICTIM} using nova-fence returned 0");
        (0..2)
            .map(|i| {
                std::fs::read_to_string(self.c.log_path(i))
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains("Operation 'on'") && l.contains(&needle))
                    .count()
            })
            .sum()
    }

    fn victim(&self) -> &RemoteNode {
        &self.remotes[0]
    }
}

/// First time (ms after the crash) each event was seen.
#[derive(Default, Debug)]
struct Timeline {
    fenced: Option<u128>,
    marked: Option<u128>,
    attr_yes: Option<u128>,
    first_accepted: Option<u128>,
    all_done: Option<u128>,
    power_on: Option<u128>,
    rejoined: Option<u128>,
    unfenced: Option<u128>,
    nova_compute_up: Option<u128>,
    readmitted: Option<u128>,
}

fn set(slot: &mut Option<u128>, t0: Instant) {
    if slot.is_none() {
        *slot = Some(ms_after(t0, Instant::now()));
    }
}

fn run(mode: Mode) {
    let chain = Chain::build(mode);
    assert_eq!(chain.svc(VICTIM)["forced_down"], false);
    let unfenced_before = chain.unfencings();
    let t0 = chain.victim().crash();
    // Its heartbeats stop with it.
    chain.sim.kill_compute(VICTIM);
    let ev = chain
        .fence
        .wait(VICTIM, "reboot", t0, Duration::from_secs(60));
    assert_eq!(ev.rc, 0);
    let mut tl = Timeline {
        fenced: Some(ms_after(t0, ev.done)),
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    let chain = &chain;
    thread::scope(|scope| {
        let mut rejoin: Option<thread::ScopedJoinHandle<'_, Result<Duration, String>>> = None;
        let mut was_up_again = false;
        loop {
            let svc = chain.svc(VICTIM);
            let reason = svc["disabled_reason"].as_str().unwrap_or("").to_string();
            if svc["forced_down"] == true
                && svc["status"] == "disabled"
                && reason.starts_with("ocfbox evacuation")
            {
                set(&mut tl.marked, t0);
            }
            if chain.attr().as_deref() == Some("yes") {
                set(&mut tl.attr_yes, t0);
            }
            let evs = chain.evacuations();
            if !evs.is_empty() {
                set(&mut tl.first_accepted, t0);
            }
            let done = evs.len() >= INSTANCES
                && evs
                    .iter()
                    .all(|m| m["status"] == "done" || m["status"] == "completed");
            if done {
                set(&mut tl.all_done, t0);
            }
            // Power it back on as soon as Nova is told, while the rebuilds still run: the
            // agents, not the test, must keep nova-compute from starting too early.
            if tl.marked.is_some() && rejoin.is_none() {
                set(&mut tl.power_on, t0);
                rejoin = Some(
                    scope.spawn(move || chain.victim().rejoin(&chain.c, Duration::from_secs(120))),
                );
            }
            if let Some(h) = &rejoin {
                if h.is_finished() {
                    set(&mut tl.rejoined, t0);
                }
            }
            if mode == Mode::Topology
                && tl.power_on.is_some()
                && tl.unfenced.is_none()
                && chain.unfencings() > unfenced_before
            {
                set(&mut tl.unfenced, t0);
            }
            if tl.power_on.is_some() && svc["state"] == "up" {
                was_up_again = true;
                set(&mut tl.nova_compute_up, t0);
            }
            if was_up_again && svc["status"] == "enabled" && svc["forced_down"] == false {
                set(&mut tl.readmitted, t0);
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "{mode:?}: the chain did not complete within 240 s: {tl:?}\nservice {svc}\n\
                 evacuations {evs:?}\n{}",
                    chain.c.diagnostics()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
        if let Some(h) = rejoin.take() {
            h.join()
                .expect("rejoin thread")
                .unwrap_or_else(|e| panic!("rejoin: {e}"));
        }
    });
    eprintln!("{mode:?} timeline (ms after the crash of {VICTIM}): {tl:#?}");
    chain
        .c
        .demo_show("compute-1 fenced, its instances rebuilt on compute-2, compute-1 back");
    if std::env::var_os("OCFBOX_DEMO").is_some() {
        eprintln!("--- the Nova simulator's view");
        for srv in chain.sim.servers() {
            eprintln!(
                "instance {} on {} ({})",
                srv["id"], srv["host"], srv["vm_state"]
            );
        }
        for m in chain.sim.migrations() {
            eprintln!(
                "migration of {}: {} -> {}, {}",
                m["instance_uuid"], m["source_compute"], m["dest_compute"], m["status"]
            );
        }
    }
    chain.c.demo_keep("3");
    let at = |o: Option<u128>, what: &str| {
        o.unwrap_or_else(|| panic!("{mode:?}: never saw {what}: {tl:?}"))
    };
    let fenced = at(tl.fenced, "the fencing");
    let marked = at(tl.marked, "Nova's marks");
    let accepted = at(tl.first_accepted, "an evacuation");
    let all_done = at(tl.all_done, "every evacuation done");
    let up = at(tl.nova_compute_up, "nova-compute up again");
    assert!(
        marked >= fenced.saturating_sub(1000),
        "marks before the fencing? {tl:?}"
    );
    assert!(
        accepted >= marked.saturating_sub(100),
        "evacuated before marked: {tl:?}"
    );
    assert!(
        up >= all_done,
        "nova-compute started on {VICTIM} before every evacuation was done: {tl:?}"
    );
    if mode == Mode::Topology {
        let unfenced = at(tl.unfenced, "the unfencing");
        assert!(
            unfenced + 100 >= all_done,
            "unfenced before the evacuation was over: {tl:?}"
        );
    }
    // Every instance now on the spare, rebuilt once.
    let servers = chain.sim.servers_on(SPARE);
    assert_eq!(servers.len(), INSTANCES, "{servers:?}");
    let evs = chain.evacuations();
    assert_eq!(evs.len(), INSTANCES, "one evacuation per instance: {evs:?}");
    let svc = chain.svc(VICTIM);
    assert_eq!(svc["state"], "up", "{svc}");
    assert_eq!(svc["status"], "enabled", "{svc}");
    assert_eq!(svc["forced_down"], false, "{svc}");
}

#[test]
fn scenario_a_fencing_topology_power_and_fence_nova() {
    run(Mode::Topology);
}

#[test]
fn scenario_b_power_fencing_and_the_alert_agent() {
    run(Mode::Alert);
}
