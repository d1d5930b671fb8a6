//! The Nova simulator against clients nobody here wrote, unmodified: Debian's
//! python3-novaclient (`nova`), python3-openstackclient (`openstack` with a clouds.yaml)
//! and fence-agents' fence_compute / fence_evacuate. Each check asserts what the client
//! printed and what the simulator's state became. Where they disagree, the simulator is
//! wrong.

use crate::common;

use common::nova::*;
use common::pacemaker::{Cluster, ClusterOptions};
use common::{output_text, require_file, require_root, TempDir};
use serde_json::json;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
const TIMEOUT: &str = "/usr/bin/timeout";

/// `program` under coreutils timeout: a client stuck on a broken simulator (or fence_compute
/// `on` waiting for an attribute that never comes) fails the test instead of hanging it.
fn bounded(mut cmd: Command, program: &str) -> Command {
    cmd.args(["--kill-after=5", "120", program]);
    cmd
}

/// A clean environment for a Python client: Debian's python3 through the scripts'
/// shebangs (PATH without the pyenv shims), a private HOME, no inherited OS_* variables.
fn clean_env<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env_clear()
        .env("PATH", PATH)
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
}

/// `nova <args>` with the admin credentials in OS_* variables (RegionOne, internal).
fn nova(sim: &NovaSim, home: &Path, args: &[&str]) -> Output {
    require_file("/usr/bin/nova", "python3-novaclient");
    let a = sim.admin();
    let mut cmd = bounded(Command::new(TIMEOUT), "/usr/bin/nova");
    clean_env(&mut cmd, home)
        .env("OS_AUTH_URL", &a.auth_url)
        .env("OS_USERNAME", &a.username)
        .env("OS_PASSWORD", &a.password)
        .env("OS_PROJECT_NAME", &a.project_name)
        .env("OS_USER_DOMAIN_NAME", &a.user_domain)
        .env("OS_PROJECT_DOMAIN_NAME", &a.project_domain)
        .env("OS_REGION_NAME", "RegionOne")
        .env("OS_ENDPOINT_TYPE", "internal")
        .args(args);
    cmd.output().expect("cannot run nova")
}

/// `nova <args>` that must succeed; its stdout.
fn nova_ok(sim: &NovaSim, home: &Path, args: &[&str]) -> String {
    ok(&format!("nova {}", args.join(" ")), nova(sim, home, args))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(what: &str, o: Output) -> String {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}",
        o.status,
        output_text(&o)
    );
    stdout(&o)
}

/// The cells of one `| a | b |` table line.
fn cells(line: &str) -> Vec<String> {
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// Table rows of a prettytable/cliff listing: the cells of each data line.
fn rows(table: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = table
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(cells)
        .collect();
    if !out.is_empty() {
        out.remove(0); // the header
    }
    out
}

/// The cells under `column` in a listing, one per row.
fn column(table: &str, name: &str) -> Vec<String> {
    let header = table
        .lines()
        .find(|l| l.starts_with('|'))
        .map(cells)
        .unwrap_or_default();
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name:?} in:\n{table}"));
    rows(table).into_iter().map(|r| r[i].clone()).collect()
}

fn three_computes() -> SimConfig {
    SimConfig::new().hosts(&["compute-0", "compute-1", "compute-2"])
}

#[test]
fn novaclient_service_list_shows_up_down_disabled_and_forced_down() {
    let sim = NovaSim::start(three_computes());
    sim.kill_compute("compute-1");
    sim.set_service(
        "compute-2",
        "nova-compute",
        json!({"status": "disabled", "disabled_reason": "maintenance window", "forced_down": true}),
    );
    let home = TempDir::new("nova-cli");
    let out = nova_ok(
        &sim,
        home.path(),
        &["service-list", "--binary", "nova-compute"],
    );
    let hosts = column(&out, "Host");
    assert_eq!(hosts, ["compute-0", "compute-1", "compute-2"], "{out}");
    assert_eq!(column(&out, "State"), ["up", "down", "down"], "{out}");
    assert_eq!(
        column(&out, "Status"),
        ["enabled", "enabled", "disabled"],
        "{out}"
    );
    assert_eq!(
        column(&out, "Forced down"),
        ["False", "False", "True"],
        "{out}"
    );
    assert_eq!(column(&out, "Disabled Reason")[2], "maintenance window");
    // ids are the uuids from 2.53 on (novaclient negotiated the simulator's maximum)
    let ids = column(&out, "Id");
    assert_eq!(ids[0], sim.service("compute-0", "nova-compute")["uuid"]);
    let reqs = sim.requests();
    let list = reqs
        .iter()
        .find(|r| r.path.ends_with("/os-services"))
        .expect("no os-services request");
    assert_eq!(list.microversion.as_deref(), Some("2.92"));
    assert_eq!(list.region.as_deref(), Some("RegionOne"));
    assert_eq!(list.interface.as_deref(), Some("internal"));
    // read-only: the state is as it was
    assert_eq!(
        sim.service("compute-0", "nova-compute")["status"],
        "enabled"
    );
    // the password went to Keystone in a body, and nowhere into the log
    assert!(reqs
        .iter()
        .any(|r| r.had_secret && r.path == "/identity/v3/auth/tokens"));
    let log = sim.control("GET", "requests", None).to_string();
    assert!(
        !log.contains(ADMIN_PASSWORD),
        "request log holds the password"
    );
}

#[test]
fn novaclient_list_all_tenants_host_follows_pages_only_when_asked() {
    // 5 servers on compute-0 (two projects), 2 on compute-1, page cap 2
    let sim = NovaSim::start(
        three_computes()
            .page_cap(2)
            .servers_on("compute-0", 4)
            .server(
                json!({"id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "tenant-vm",
                           "host": "compute-0", "tenant_id": MEMBER_PROJECT_ID}),
            )
            .servers_on("compute-1", 2),
    );
    let home = TempDir::new("nova-cli");
    let all = nova_ok(
        &sim,
        home.path(),
        &[
            "list",
            "--all-tenants",
            "--host",
            "compute-0",
            "--limit",
            "-1",
        ],
    );
    let mut names = column(&all, "Name");
    names.sort();
    assert_eq!(
        names,
        [
            "compute-0-vm-0",
            "compute-0-vm-1",
            "compute-0-vm-2",
            "compute-0-vm-3",
            "tenant-vm"
        ],
        "{all}"
    );
    assert!(column(&all, "Tenant ID").contains(&MEMBER_PROJECT_ID.to_string()));
    // 5 servers at 2 per page: novaclient followed the marker until an empty page
    let pages: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/servers/detail"))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(pages.len(), 4, "expected 3 full pages + 1 empty: {pages:?}");
    assert!(
        pages[1..].iter().all(|q| q.contains("marker=")),
        "{pages:?}"
    );
    // without --limit -1 novaclient shows one page (what fence_evacuate also does)
    let first = nova_ok(
        &sim,
        home.path(),
        &["list", "--all-tenants", "--host", "compute-0"],
    );
    assert_eq!(column(&first, "Name").len(), 2, "{first}");
}

#[test]
fn novaclient_force_down_evacuate_and_migration_list() {
    let sim = NovaSim::start(three_computes().servers_on("compute-0", 2));
    sim.set_service("compute-1", "nova-compute", json!({"status": "disabled"}));
    let home = TempDir::new("nova-cli");
    let vm0 = server_id("compute-0", 0);

    // the source is up: Nova refuses
    let refused = nova(&sim, home.path(), &["evacuate", &vm0]);
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains("Compute service of compute-0 is still in use. (HTTP 400)"),
        "{}",
        output_text(&refused)
    );
    assert_eq!(sim.migrations().len(), 0);

    let uuid = sim.service("compute-0", "nova-compute")["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    let out = nova_ok(&sim, home.path(), &["service-force-down", &uuid]);
    assert_eq!(column(&out, "Forced down"), ["True"], "{out}");
    let svc = sim.service("compute-0", "nova-compute");
    assert_eq!(svc["forced_down"], true);
    assert_eq!(svc["state"], "down");

    for i in 0..2 {
        nova_ok(&sim, home.path(), &["evacuate", &server_id("compute-0", i)]);
    }
    let migs = sim.wait_evacuations_settled(Duration::from_secs(10));
    assert_eq!(migs.len(), 2);
    for m in &migs {
        assert_eq!(m["status"], "done", "{m}");
        assert_eq!(m["migration_type"], "evacuation");
        assert_eq!(m["source_compute"], "compute-0");
        // the scheduler skipped the source and the disabled compute-1
        assert_eq!(m["dest_compute"], "compute-2", "{m}");
    }
    assert_eq!(sim.servers_on("compute-2").len(), 2);
    assert_eq!(sim.server(&vm0)["vm_state"], "active");
    let evac = sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(&format!("/servers/{vm0}/action")) && r.status == Some(200))
        .expect("no evacuate request");
    assert_eq!(evac.microversion.as_deref(), Some("2.92"));

    let list = nova_ok(
        &sim,
        home.path(),
        &["migration-list", "--host", "compute-0"],
    );
    assert_eq!(column(&list, "Status"), ["done", "done"], "{list}");
    assert_eq!(
        column(&list, "Type"),
        ["evacuation", "evacuation"],
        "{list}"
    );
    assert_eq!(column(&list, "Dest Compute"), ["compute-2", "compute-2"]);
    let mut inst = column(&list, "Instance UUID");
    inst.sort();
    let mut want = vec![server_id("compute-0", 0), server_id("compute-0", 1)];
    want.sort();
    assert_eq!(inst, want);

    // Xena+: forced_down cannot be cleared while the evacuations are `done`
    let unset = nova(&sim, home.path(), &["service-force-down", "--unset", &uuid]);
    assert!(!unset.status.success(), "{}", output_text(&unset));
    assert!(
        output_text(&unset).contains("`done` evacuation migration records remain"),
        "{}",
        output_text(&unset)
    );
    assert_eq!(
        sim.service("compute-0", "nova-compute")["forced_down"],
        true
    );
    sim.restart_compute("compute-0");
    let list = nova_ok(
        &sim,
        home.path(),
        &["migration-list", "--host", "compute-0"],
    );
    assert_eq!(
        column(&list, "Status"),
        ["completed", "completed"],
        "{list}"
    );
    let out = nova_ok(&sim, home.path(), &["service-force-down", "--unset", &uuid]);
    assert_eq!(column(&out, "Forced down"), ["False"], "{out}");
    assert_eq!(sim.service("compute-0", "nova-compute")["state"], "up");
}

/// novaclient builds its command line for the version given here (its default, 2.latest,
/// would expect service uuids).
const V211: &str = "--os-compute-api-version=2.11";

#[test]
fn novaclient_at_2_11_uses_legacy_calls_and_on_shared_storage() {
    let sim = NovaSim::start(
        three_computes()
            .max_microversion("2.11")
            .servers_on("compute-0", 1),
    );
    let home = TempDir::new("nova-cli");
    let h = home.path();
    let out = nova_ok(&sim, h, &[V211, "service-list", "--binary", "nova-compute"]);
    // integer ids below 2.53 (controller-0's two services come first)
    assert_eq!(column(&out, "Id"), ["3", "4", "5"], "{out}");
    let out = nova_ok(&sim, h, &[V211, "service-force-down", "compute-0"]);
    assert!(out.contains("True"), "{out}");
    assert_eq!(
        sim.service("compute-0", "nova-compute")["forced_down"],
        true
    );
    let out = nova_ok(
        &sim,
        h,
        &[V211, "service-disable", "--reason", "fenced", "compute-0"],
    );
    assert!(out.contains("fenced"), "{out}");
    let svc = sim.service("compute-0", "nova-compute");
    assert_eq!(svc["status"], "disabled");
    assert_eq!(svc["disabled_reason"], "fenced");
    let vm = server_id("compute-0", 0);
    let out = nova_ok(&sim, h, &[V211, "evacuate", "--on-shared-storage", &vm]);
    // below 2.14 Nova answers the admin password; novaclient prints it
    assert!(out.contains("adminPass"), "{out}");
    let reqs = sim.requests();
    let puts: Vec<&str> = reqs
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.path.rsplit('/').next().unwrap_or(""))
        .collect();
    assert_eq!(puts, ["force-down", "disable-log-reason"]);
    let m = sim.wait_evacuations_settled(Duration::from_secs(10));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["request"]["onSharedStorage"], true, "{}", m[0]);
    assert_eq!(m[0]["microversion"], "2.11");
    assert_eq!(m[0]["status"], "done");
}

/// `openstack --os-cloud sim ...` with a clouds.yaml in OS_CLIENT_CONFIG_FILE.
fn openstack(dir: &Path, clouds: &Path, args: &[&str]) -> Output {
    require_file("/usr/bin/openstack", "python3-openstackclient");
    let mut cmd = bounded(Command::new(TIMEOUT), "/usr/bin/openstack");
    clean_env(&mut cmd, dir)
        .env("OS_CLIENT_CONFIG_FILE", clouds)
        .args(["--os-cloud", "sim"])
        .args(args);
    cmd.output().expect("cannot run openstack")
}

fn clouds_yaml(sim: &NovaSim, dir: &Path, region: &str, interface: &str) -> PathBuf {
    let a = sim.admin();
    let path = dir.join("clouds.yaml");
    fs::write(
        &path,
        format!(
            "clouds:\n  sim:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      \
             project_name: {}\n      user_domain_name: {}\n      project_domain_name: {}\n    \
             region_name: {region}\n    interface: {interface}\n    identity_api_version: 3\n",
            a.auth_url, a.username, a.password, a.project_name, a.user_domain, a.project_domain
        ),
    )
    .expect("cannot write clouds.yaml");
    path
}

#[test]
fn openstackclient_service_and_server_lists_through_the_chosen_endpoint() {
    let img = "5a3c1f2e-1111-4222-8333-444455556666";
    let sim = NovaSim::start(
        three_computes()
            .flavor("42", "ha.private", false, json!({"evacuable": "true"}))
            .image(img, &["evacuable"], json!({"os_distro": "cirros"}))
            .server(
                json!({"id": "bbbbbbbb-0000-4000-8000-000000000001", "name": "web-1",
                           "host": "compute-1", "flavor_id": "42", "image_id": img}),
            )
            .server(
                json!({"id": "bbbbbbbb-0000-4000-8000-000000000002", "name": "db-1",
                           "host": "compute-1", "tenant_id": MEMBER_PROJECT_ID,
                           "vm_state": "stopped"}),
            )
            .servers_on("compute-2", 1),
    );
    sim.kill_compute("compute-2");
    let dir = TempDir::new("osc");
    let clouds = clouds_yaml(&sim, dir.path(), "RegionTwo", "public");

    let out = ok(
        "openstack compute service list",
        openstack(
            dir.path(),
            &clouds,
            &["compute", "service", "list", "--service", "nova-compute"],
        ),
    );
    assert_eq!(
        column(&out, "Host"),
        ["compute-0", "compute-1", "compute-2"],
        "{out}"
    );
    assert_eq!(column(&out, "State"), ["up", "up", "down"], "{out}");
    assert_eq!(column(&out, "Status"), ["enabled", "enabled", "enabled"]);

    let out = ok(
        "openstack server list --all-projects --host compute-1",
        openstack(
            dir.path(),
            &clouds,
            &["server", "list", "--all-projects", "--host", "compute-1"],
        ),
    );
    let mut names = column(&out, "Name");
    names.sort();
    assert_eq!(names, ["db-1", "web-1"], "{out}");
    let r = rows(&out);
    let web = r.iter().find(|r| r[1] == "web-1").expect("web-1 row");
    assert_eq!(web[2], "ACTIVE");
    // names looked up in Glance and among private flavors
    assert!(web.contains(&format!("img-{img}")), "{out}");
    assert!(web.contains(&"ha.private".to_string()), "{out}");
    let db = r.iter().find(|r| r[1] == "db-1").expect("db-1 row");
    assert_eq!(db[2], "SHUTOFF");
    // from 2.47 the flavor is embedded (no id): the client shows its original_name
    let json_out = ok(
        "openstack server list (2.47)",
        openstack(
            dir.path(),
            &clouds,
            &[
                "--os-compute-api-version",
                "2.47",
                "server",
                "list",
                "--all-projects",
                "--host",
                "compute-1",
                "--name",
                "web-1",
                "-f",
                "json",
            ],
        ),
    );
    let listed: serde_json::Value = serde_json::from_str(&json_out).expect("server list JSON");
    assert_eq!(listed[0]["Flavor"], "ha.private", "{listed}");

    // every service call went through RegionTwo's public endpoints
    let reqs = sim.requests();
    let api: Vec<_> = reqs
        .iter()
        .filter(|r| r.service == "compute" || r.service == "image")
        .collect();
    assert!(!api.is_empty());
    for r in &api {
        assert_eq!(r.region.as_deref(), Some("RegionTwo"), "{r:?}");
        assert_eq!(r.interface.as_deref(), Some("public"), "{r:?}");
    }
    assert!(reqs
        .iter()
        .any(|r| r.path.ends_with("/servers/detail") && r.query.contains("host=compute-1")));
    // listing changed nothing
    assert_eq!(sim.servers_on("compute-1").len(), 2);
}

#[test]
fn openstackclient_app_credential_over_tls_service_set_image_and_flavor() {
    let img = "7e2d4c6a-1111-4222-8333-000000000007";
    let sim = NovaSim::start(
        three_computes()
            .tls(true)
            .flavor("9", "ha.tagged", false, json!({"evacuable": "true"}))
            .image(
                img,
                &["evacuable"],
                json!({"os_distro": "cirros", "hw_qemu_guest_agent": "yes"}),
            )
            .with_state(|st| {
                for i in 0..26 {
                    st["images"].as_array_mut().expect("images").push(json!({
                        "id": format!("7e2d4c6a-2222-4222-8222-{i:012}")}));
                }
            }),
    );
    let dir = TempDir::new("osc");
    let ca = sim.ca_file().expect("TLS sim has a CA").to_path_buf();
    let clouds = |ca: &Path| -> PathBuf {
        let path = dir.join("clouds.yaml");
        fs::write(
            &path,
            format!(
                "clouds:\n  sim:\n    auth_type: v3applicationcredential\n    auth:\n      \
                 auth_url: {}\n      application_credential_id: {APP_CRED_ID}\n      \
                 application_credential_secret: {APP_CRED_SECRET}\n    region_name: RegionOne\n    \
                 interface: admin\n    cacert: {}\n",
                sim.auth_url_v3(),
                ca.display()
            ),
        )
        .expect("write clouds.yaml");
        path
    };
    let good = clouds(&ca);
    let osc = |args: &[&str]| {
        ok(
            &format!("openstack {}", args.join(" ")),
            openstack(dir.path(), &good, args),
        )
    };

    let project = osc(&["token", "issue", "-f", "value", "-c", "project_id"]);
    assert_eq!(project.trim(), ADMIN_PROJECT_ID);

    // the 2.53 path: service by uuid, disable with a reason and force down
    osc(&[
        "--os-compute-api-version",
        "2.53",
        "compute",
        "service",
        "set",
        "--disable",
        "--disable-reason",
        "ocfbox evacuation requested 1",
        "--down",
        "compute-0",
        "nova-compute",
    ]);
    let svc = sim.service("compute-0", "nova-compute");
    assert_eq!(svc["forced_down"], true, "{svc}");
    assert_eq!(svc["status"], "disabled");
    assert_eq!(svc["disabled_reason"], "ocfbox evacuation requested 1");
    let uuid = svc["uuid"].as_str().unwrap_or("").to_string();
    let puts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert!(!puts.is_empty());
    for r in &puts {
        assert!(r.path.ends_with(&format!("/os-services/{uuid}")), "{r:?}");
        assert_eq!(r.microversion.as_deref(), Some("2.53"));
        assert_eq!(
            (r.region.as_deref(), r.interface.as_deref()),
            (Some("RegionOne"), Some("admin"))
        );
    }

    let ids = osc(&["image", "list", "-f", "value", "-c", "ID"]);
    assert_eq!(ids.lines().count(), 27, "{ids}");
    let pages = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/image/v2/images"))
        .count();
    assert_eq!(pages, 2, "openstacksdk follows Glance's next link");

    let image: serde_json::Value =
        serde_json::from_str(&osc(&["image", "show", img, "-f", "json"])).expect("image JSON");
    assert_eq!(image["tags"], json!(["evacuable"]), "{image}");
    assert_eq!(image["properties"]["os_distro"], "cirros", "{image}");
    assert_eq!(image["properties"]["hw_qemu_guest_agent"], "yes", "{image}");

    let flavor: serde_json::Value =
        serde_json::from_str(&osc(&["flavor", "show", "ha.tagged", "-f", "json"]))
            .expect("flavor JSON");
    assert_eq!(
        flavor["properties"],
        json!({"evacuable": "true"}),
        "{flavor}"
    );
    assert_eq!(flavor["os-flavor-access:is_public"], false);

    // another CA: the client refuses the simulator's certificate
    let (other, _) = generate_ca(dir.path(), "other-ca");
    let bad = clouds(&other);
    let o = openstack(dir.path(), &bad, &["token", "issue"]);
    assert!(!o.status.success(), "{}", output_text(&o));
    assert!(
        output_text(&o).contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        output_text(&o)
    );
}

#[test]
fn novaclient_lock_reset_state_hypervisors_and_flavor_specs() {
    let sim = NovaSim::start(three_computes().servers_on("compute-0", 1).flavor(
        "9",
        "ha.tagged",
        false,
        json!({"evacuable": "true"}),
    ));
    sim.kill_compute("compute-2");
    let home = TempDir::new("nova-cli");
    let h = home.path();
    let vm = server_id("compute-0", 0);
    nova_ok(&sim, h, &["lock", "--reason", "ocfbox evacuation", &vm]);
    let s = sim.server(&vm);
    assert_eq!(
        (s["locked"].as_bool(), s["locked_reason"].as_str()),
        (Some(true), Some("ocfbox evacuation"))
    );
    let show = nova_ok(&sim, h, &["show", &vm]);
    assert!(show.contains("ocfbox evacuation"), "{show}");
    nova_ok(&sim, h, &["unlock", &vm]);
    assert_eq!(sim.server(&vm)["locked"], false);
    nova_ok(&sim, h, &["reset-state", &vm]);
    assert_eq!(sim.server(&vm)["vm_state"], "error");
    let list = nova_ok(&sim, h, &["list", "--all-tenants"]);
    assert_eq!(column(&list, "Status"), ["ERROR"], "{list}");
    nova_ok(&sim, h, &["reset-state", "--active", &vm]);
    assert_eq!(sim.server(&vm)["vm_state"], "active");

    let hv = nova_ok(&sim, h, &["hypervisor-list"]);
    assert_eq!(
        column(&hv, "Hypervisor hostname"),
        ["compute-0", "compute-1", "compute-2"],
        "{hv}"
    );
    assert_eq!(column(&hv, "State"), ["up", "up", "down"], "{hv}");

    let fl = nova_ok(&sim, h, &["flavor-list", "--all", "--extra-specs"]);
    let names = column(&fl, "Name");
    assert_eq!(names, ["m1.small", "ha.tagged"], "{fl}");
    assert!(column(&fl, "extra_specs")[1].contains("evacuable"), "{fl}");
}

// ---- fence-agents ----------------------------------------------------------------------

/// fence-agents 4.12 calls inspect.getargspec, removed in Python 3.11: supplied here, the
/// agents themselves untouched.
fn sitecustomize(dir: &Path) -> PathBuf {
    let d = dir.join("site");
    fs::create_dir_all(&d).expect("mkdir site");
    fs::write(
        d.join("sitecustomize.py"),
        "import inspect\nif not hasattr(inspect, 'getargspec'):\n    \
         inspect.getargspec = inspect.getfullargspec\n",
    )
    .expect("write sitecustomize");
    d
}

/// Options on stdin, as the fencer passes them (the password never in argv).
fn fence_stdin(sim: &NovaSim, action: &str, plug: &str) -> String {
    let a = sim.admin();
    format!(
        "action={action}\nplug={plug}\nauth_url={}\nusername={}\npassword={}\ntenant_name={}\n\
         user_domain={}\nproject_domain={}\nendpoint_type=internalURL\nregion_name=RegionOne\n",
        a.auth_url, a.username, a.password, a.project_name, a.user_domain, a.project_domain
    )
}

fn run_fence(mut cmd: Command, site: &Path, home: &Path, input: &str) -> Output {
    clean_env(&mut cmd, home)
        .env("PYTHONPATH", site)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot run the fence agent");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait fence agent")
}

fn rc(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn fence_compute_and_fence_evacuate_on_a_real_cluster() {
    require_root();
    require_file("/usr/sbin/fence_compute", "fence-agents");
    require_file("/usr/sbin/fence_evacuate", "fence-agents");
    require_file(
        "/usr/lib/python3/dist-packages/keystoneclient/__init__.py",
        "python3-keystoneclient",
    );
    let tmp = TempDir::new("fence-nova");
    let mut cluster = Cluster::start(ClusterOptions::default());
    cluster
        .wait_for_online(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("cluster: {e}"));
    let node = cluster.node(0);
    let host_pid = node.host_pid().expect("node runs");
    let evac_img = "9d0c1e11-aaaa-4bbb-8ccc-000000000001";
    // Glance lists newest first, 25 per page: the oldest image, also tagged, is on page 2
    let late_img = "9d0c1e11-aaaa-4bbb-8ccc-000000000002";
    let mut cfg = three_computes()
        .netns_of(host_pid)
        .flavor("7", "ha.tagged", false, json!({"evacuable": "True "}))
        .image(late_img, &["evacuable"], json!({}));
    for i in 0..25 {
        cfg = cfg.image(&format!("9d0c1e11-ffff-4fff-8fff-{i:012}"), &[], json!({}));
    }
    let server = |n: u32, name: &str, flavor: &str, image: Option<&str>| {
        json!({"id": format!("cccccccc-0000-4000-8000-00000000000{n}"), "name": name,
               "host": "compute-0", "flavor_id": flavor, "image_id": image})
    };
    let sim = NovaSim::start(
        cfg.image(evac_img, &["evacuable"], json!({}))
            .server(server(1, "by-flavor", "7", None))
            .server(server(2, "by-image", "1", Some(evac_img)))
            .server(server(3, "untagged", "1", None))
            .server(server(4, "by-image-on-page-2", "1", Some(late_img)))
            .servers_on("compute-1", 1),
    );
    let site = sitecustomize(tmp.path());
    let home = tmp.join("home");
    fs::create_dir_all(&home).expect("mkdir home");
    let fence = |agent: &str, action: &str, plug: &str| -> Output {
        let cmd = bounded(node.command(TIMEOUT), &format!("/usr/sbin/{agent}"));
        run_fence(cmd, &site, &home, &fence_stdin(&sim, action, plug))
    };
    let attr = |host: &str| -> Option<String> {
        let out = node
            .exec_ok(&[
                "attrd_updater",
                "-Q",
                "-A",
                "-n",
                "evacuate",
                "--output-as=xml",
            ])
            .ok()?;
        common::pacemaker::attributes(&out)
            .into_iter()
            .find(|(h, _)| h == host)
            .map(|(_, v)| v)
    };

    // status: up+enabled is ON (0)
    let o = fence("fence_compute", "status", "compute-0");
    assert_eq!(rc(&o), 0, "{}", output_text(&o));
    assert!(stdout(&o).contains("Status: ON"), "{}", output_text(&o));
    let reqs = sim.requests();
    assert!(reqs.iter().any(|r| r.path.contains("/os-hypervisors")));
    assert!(reqs
        .iter()
        .filter(|r| r.service == "compute")
        .all(|r| r.microversion.as_deref() == Some("2.11")));

    // fence_evacuate refuses while the host is not down+disabled
    let o = fence("fence_evacuate", "off", "compute-0");
    assert_eq!(rc(&o), 1, "{}", output_text(&o));
    assert_eq!(sim.migrations().len(), 0);

    // off: force-down then disable (legacy calls at 2.11), evacuate=yes in attrd
    sim.kill_compute("compute-0");
    let o = fence("fence_compute", "off", "compute-0");
    assert_eq!(rc(&o), 0, "{}", output_text(&o));
    let svc = sim.service("compute-0", "nova-compute");
    assert_eq!(svc["forced_down"], true, "{svc}");
    assert_eq!(svc["status"], "disabled", "{svc}");
    assert_eq!(attr("compute-0").as_deref(), Some("yes"));
    let order: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.path.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        order,
        ["force-down", "disable"],
        "force-down must come first"
    );

    // status: down+disabled is OFF (2)
    let o = fence("fence_compute", "status", "compute-0");
    assert_eq!(rc(&o), 2, "{}", output_text(&o));
    assert!(stdout(&o).contains("Status: OFF"), "{}", output_text(&o));

    // fence_evacuate off: only the servers with a tagged flavor or image, 2.11 bodies
    sim.clear_requests();
    let o = fence("fence_evacuate", "off", "compute-0");
    assert_eq!(rc(&o), 0, "{}", output_text(&o));
    let migs = sim.wait_evacuations_settled(Duration::from_secs(10));
    let mut moved: Vec<String> = migs
        .iter()
        .map(|m| m["instance_uuid"].as_str().unwrap_or("").to_string())
        .collect();
    moved.sort();
    assert_eq!(
        moved,
        [
            "cccccccc-0000-4000-8000-000000000001",
            "cccccccc-0000-4000-8000-000000000002"
        ]
    );
    for m in &migs {
        assert_eq!(m["status"], "done");
        assert_ne!(m["dest_compute"], "compute-0");
        assert_eq!(m["request"], json!({"onSharedStorage": true}));
    }
    assert_eq!(
        sim.server("cccccccc-0000-4000-8000-000000000003")["host"],
        "compute-0"
    );
    // fence_evacuate reads only Glance's first page: the tagged image on page 2 is missed
    assert_eq!(
        sim.server("cccccccc-0000-4000-8000-000000000004")["host"],
        "compute-0"
    );
    let reqs = sim.requests();
    assert!(reqs
        .iter()
        .any(|r| r.path.ends_with("/flavors/detail") && r.query.contains("is_public=None")));
    assert!(reqs.iter().any(|r| r.path.ends_with("/image/v2/images")));

    // on: waits for evacuate=no; Xena+ refuses to clear forced_down (fence_compute only
    // logs that), enable still happens
    node.exec_ok(&[
        "attrd_updater",
        "-p",
        "-n",
        "evacuate",
        "-N",
        "compute-0",
        "-U",
        "no",
    ])
    .unwrap_or_else(|e| panic!("attrd_updater: {e}"));
    // off on a host already down+disabled does nothing, not even evacuate=yes (the
    // known fence_compute gap this project fixes)
    sim.clear_requests();
    let o = fence("fence_compute", "off", "compute-0");
    assert_eq!(rc(&o), 0, "{}", output_text(&o));
    assert_eq!(attr("compute-0").as_deref(), Some("no"));
    assert!(sim.requests().iter().all(|r| r.method != "PUT"));
    let o = fence("fence_compute", "on", "compute-0");
    assert_eq!(rc(&o), 0, "{}", output_text(&o));
    let svc = sim.service("compute-0", "nova-compute");
    assert_eq!(svc["status"], "enabled", "{svc}");
    assert_eq!(
        svc["forced_down"], true,
        "the Xena guard kept it forced down: {svc}"
    );
    assert!(sim
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/os-services/force-down") && r.status == Some(400)));

    // once nova-compute restarted there, on clears forced_down
    sim.restart_compute("compute-0");
    let o = fence("fence_compute", "on", "compute-0");
    assert_eq!(rc(&o), 0, "{}", output_text(&o));
    let svc = sim.service("compute-0", "nova-compute");
    assert_eq!(svc["forced_down"], false, "{svc}");
    assert_eq!(svc["state"], "up", "{svc}");
    let o = fence("fence_compute", "status", "compute-0");
    assert_eq!(rc(&o), 0, "{}", output_text(&o));
}
