//! The OpenStack client (src/openstack) against the Nova/Keystone/Glance simulator: every
//! auth path, catalog selection, microversion negotiation, pagination, faults and TLS. The
//! client is the library the agents link, driven here through its public API; the
//! simulator records what went over the wire, which is what these tests assert on.

use crate::common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::nova::*;
use ocfbox::ocf::{Deadline, OcfCode};
use ocfbox::openstack::*;
use serde_json::json;

fn deadline(secs: u64) -> Deadline {
    Deadline::from_op_timeout(Duration::from_secs(secs))
}

fn params(c: &Credentials) -> CredentialParams {
    CredentialParams {
        auth_url: Some(c.auth_url.clone()),
        username: Some(c.username.clone()),
        password: Some(Secret::new(c.password.clone())),
        project_name: Some(c.project_name.clone()),
        user_domain: Some(c.user_domain.clone()),
        project_domain: Some(c.project_domain.clone()),
        ..Default::default()
    }
}

/// No clouds.yaml anywhere: only what the test passes.
fn no_files() -> ConfigSources {
    ConfigSources::default()
}

fn config(p: &CredentialParams) -> AuthConfig {
    AuthConfig::from_params_with(p, &no_files()).expect("valid configuration")
}

fn connect(p: &CredentialParams) -> Session {
    Session::connect(&config(p), &deadline(20)).expect("session")
}

fn token_requests(sim: &NovaSim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/auth/tokens"))
        .count()
}

fn compute_requests(sim: &NovaSim) -> Vec<Request> {
    sim.requests()
        .into_iter()
        .filter(|r| r.service == "compute")
        .collect()
}

#[test]
fn password_by_name_discovers_v3_and_reuses_one_token() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0", "compute-1"]));
    let s = connect(&params(&sim.admin()));
    let dl = deadline(20);
    let nova = s.compute();
    let all = nova.services(Some("nova-compute"), None, &dl).unwrap();
    assert_eq!(all.len(), 2);
    let one = nova
        .services(Some("nova-compute"), Some("compute-1"), &dl)
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].host, "compute-1");
    assert_eq!(one[0].state, ServiceState::Up);
    assert_eq!(one[0].status, ServiceStatus::Enabled);
    assert_eq!(one[0].id.len(), 36, "a uuid at 2.53: {}", one[0].id);
    let reqs = sim.requests();
    assert_eq!(
        reqs[0].method, "GET",
        "the unversioned auth_url is discovered first"
    );
    assert_eq!(token_requests(&sim), 1, "one token for the whole session");
    for r in reqs.iter().filter(|r| r.service == "compute") {
        assert!(r.had_token);
        assert!(!r.had_secret, "a compute request carried a secret: {r:?}");
    }
    assert!(compute_requests(&sim)
        .iter()
        .filter(|r| r.path.contains("os-services"))
        .all(|r| r.microversion.as_deref() == Some("2.53")));
}

#[test]
fn password_by_id_with_versioned_auth_url() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let a = sim.admin();
    let p = CredentialParams {
        auth_url: Some(sim.auth_url_v3()),
        user_id: Some(a.user_id.clone()),
        password: Some(Secret::new(a.password.clone())),
        project_id: Some(a.project_id.clone()),
        ..Default::default()
    };
    let s = connect(&p);
    assert_eq!(
        s.compute()
            .services(None, Some("compute-0"), &deadline(10))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        sim.requests()[0].method,
        "POST",
        "a versioned auth_url needs no discovery"
    );
}

#[test]
fn user_and_project_in_another_domain() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let mut p = params(&sim.admin());
    p.user_domain = Some(OTHER_DOMAIN.into());
    p.project_domain = Some(OTHER_DOMAIN.into());
    let s = connect(&p);
    assert_eq!(
        s.compute()
            .services(Some("nova-compute"), None, &deadline(10))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn application_credential_by_id_and_by_name() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let by_id = CredentialParams {
        auth_url: Some(sim.auth_url()),
        application_credential_id: Some(APP_CRED_ID.into()),
        application_credential_secret: Some(Secret::new(APP_CRED_SECRET)),
        ..Default::default()
    };
    let cfg = config(&by_id);
    assert!(
        cfg.project.is_none(),
        "an application credential has its own scope"
    );
    let s = Session::connect(&cfg, &deadline(10)).unwrap();
    assert_eq!(
        s.compute()
            .services(None, Some("compute-0"), &deadline(10))
            .unwrap()
            .len(),
        1
    );
    let by_name = CredentialParams {
        auth_url: Some(sim.auth_url()),
        username: Some(ADMIN_USER.into()),
        application_credential_name: Some(APP_CRED_NAME.into()),
        application_credential_secret: Some(Secret::new(APP_CRED_SECRET)),
        ..Default::default()
    };
    let s = connect(&by_name);
    assert_eq!(
        s.compute()
            .services(None, Some("compute-0"), &deadline(10))
            .unwrap()
            .len(),
        1
    );
    let wrong = CredentialParams {
        application_credential_secret: Some(Secret::new("not-the-secret")),
        ..by_id
    };
    let e = Session::connect(&config(&wrong), &deadline(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
}

#[test]
fn clouds_yaml_with_secure_yaml_and_parameter_precedence() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let dir = sim.dir();
    let clouds = dir.join("clouds.yaml");
    let secure = dir.join("secure.yaml");
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  ha:\n    auth:\n      auth_url: {}\n      username: {ADMIN_USER}\n      \
             project_name: {ADMIN_PROJECT}\n      user_domain_name: Default\n      \
             project_domain_name: Default\n    region_name: RegionTwo\n    interface: public\n  \
             other:\n    auth:\n      auth_url: http://192.0.2.1/identity\n",
            sim.auth_url()
        ),
    )
    .unwrap();
    std::fs::write(
        &secure,
        format!("clouds:\n  ha:\n    auth:\n      password: {ADMIN_PASSWORD}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&secure, std::fs::Permissions::from_mode(0o600)).unwrap();
    let sources = ConfigSources {
        clouds: vec![dir.join("missing.yaml"), clouds.clone()],
        secure: vec![secure.clone()],
    };
    let p = CredentialParams {
        os_cloud: Some("ha".into()),
        ..Default::default()
    };
    let cfg = AuthConfig::from_params_with(&p, &sources).unwrap();
    assert_eq!(cfg.region.as_deref(), Some("RegionTwo"));
    assert_eq!(cfg.interface, Interface::Public);
    let s = Session::connect(&cfg, &deadline(10)).unwrap();
    s.compute()
        .services(None, Some("compute-0"), &deadline(10))
        .unwrap();
    let last = compute_requests(&sim).pop().unwrap();
    assert_eq!(last.region.as_deref(), Some("RegionTwo"));
    assert_eq!(last.interface.as_deref(), Some("public"));

    // The agent's parameters win over the cloud entry.
    let p = CredentialParams {
        os_cloud: Some("ha".into()),
        region_name: Some("RegionOne".into()),
        endpoint_type: Some("internalURL".into()),
        ..Default::default()
    };
    let cfg = AuthConfig::from_params_with(&p, &sources).unwrap();
    assert_eq!(cfg.region.as_deref(), Some("RegionOne"));
    assert_eq!(cfg.interface, Interface::Internal);

    // An unknown cloud or a broken file is a configuration error naming the file,
    // never quoting it (a password may be on the offending line).
    let cloud_error = |name: &str| {
        let p = CredentialParams {
            os_cloud: Some(name.into()),
            ..Default::default()
        };
        let e = AuthConfig::from_params_with(&p, &sources).unwrap_err();
        assert_eq!(e.ocf_code(), OcfCode::ErrConfigured, "{e}");
        e
    };
    let e = cloud_error("nope");
    assert!(e.to_string().contains("nope"), "{e}");
    std::fs::write(
        &secure,
        format!("clouds:\n  ha:\n    auth:\n      password: [{ADMIN_PASSWORD}\n"),
    )
    .unwrap();
    let e = cloud_error("ha");
    assert!(e.to_string().contains("secure.yaml"), "{e}");
    assert!(!e.to_string().contains(ADMIN_PASSWORD), "{e}");

    // A password in a file others can read works, with a warning naming the file.
    capture_logs();
    let open = dir.join("open-clouds.yaml");
    std::fs::write(
        &open,
        format!(
            "clouds:\n  ha:\n    auth:\n      auth_url: {}\n      username: {ADMIN_USER}\n      \
             password: {ADMIN_PASSWORD}\n      project_name: {ADMIN_PROJECT}\n",
            sim.auth_url()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sources = ConfigSources {
        clouds: vec![open.clone()],
        secure: vec![],
    };
    let p = CredentialParams {
        os_cloud: Some("ha".into()),
        ..Default::default()
    };
    AuthConfig::from_params_with(&p, &sources).unwrap();
    let shown = open.display().to_string();
    let logged = LOGGED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        logged
            .iter()
            .any(|l| l.starts_with("WARN") && l.contains(&shown) && l.contains("chmod 600")),
        "{logged:?}"
    );
    assert!(logged.iter().all(|l| !l.contains(ADMIN_PASSWORD)));
}

#[test]
fn password_file_is_read_and_refused_when_others_can_read_it() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let file = sim.dir().join("nova.pw");
    std::fs::write(&file, format!("{ADMIN_PASSWORD}\nsecond line ignored\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut p = params(&sim.admin());
    p.password = None;
    p.password_file = Some(file.display().to_string());
    let s = connect(&p);
    s.compute()
        .services(None, Some("compute-0"), &deadline(10))
        .unwrap();

    for mode in [0o640, 0o604, 0o644] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = AuthConfig::from_params_with(&p, &no_files()).unwrap_err();
        assert_eq!(e.ocf_code(), OcfCode::ErrConfigured, "{e}");
        assert!(e.to_string().contains("group or others"), "{e}");
        assert!(!e.to_string().contains(ADMIN_PASSWORD));
    }
    p.password_file = Some("relative/pw".into());
    assert_eq!(
        AuthConfig::from_params_with(&p, &no_files())
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
    // A password parameter wins over the file.
    p.password = Some(Secret::new(ADMIN_PASSWORD));
    assert!(AuthConfig::from_params_with(&p, &no_files()).is_ok());
}

#[test]
fn missing_settings_are_configuration_errors() {
    let full = CredentialParams {
        auth_url: Some("http://127.0.0.1:1/identity".into()),
        username: Some("u".into()),
        password: Some(Secret::new("pw")),
        project_name: Some("p".into()),
        ..Default::default()
    };
    let cfg = AuthConfig::from_params_with(&full, &no_files()).unwrap();
    assert_eq!(
        cfg.interface,
        Interface::Internal,
        "the fence agents' default"
    );
    let user = match &cfg.method {
        AuthMethod::Password { user, .. } => user.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        user,
        NameOrId::Name {
            name: "u".into(),
            domain: DomainRef::Name("Default".into())
        }
    );
    for broken in [
        CredentialParams {
            auth_url: None,
            ..full.clone()
        },
        CredentialParams {
            auth_url: Some("keystone:5000".into()),
            ..full.clone()
        },
        CredentialParams {
            username: None,
            ..full.clone()
        },
        CredentialParams {
            password: None,
            ..full.clone()
        },
        CredentialParams {
            project_name: None,
            ..full.clone()
        },
        CredentialParams {
            endpoint_type: Some("privateURL".into()),
            ..full.clone()
        },
        CredentialParams {
            ca_file: Some("ca.pem".into()),
            ..full.clone()
        },
    ] {
        let e = AuthConfig::from_params_with(&broken, &no_files()).unwrap_err();
        assert_eq!(e.ocf_code(), OcfCode::ErrConfigured, "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
    }
    for (name, iface) in [
        ("publicURL", Interface::Public),
        ("adminURL", Interface::Admin),
        ("internal", Interface::Internal),
    ] {
        let c = AuthConfig::from_params_with(
            &CredentialParams {
                endpoint_type: Some(name.into()),
                ..full.clone()
            },
            &no_files(),
        )
        .unwrap();
        assert_eq!(c.interface, iface);
    }
}

#[test]
fn wrong_password_and_missing_admin_role() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let mut p = params(&sim.admin());
    p.password = Some(Secret::new("wrong-password-9x"));
    let e = Session::connect(&config(&p), &deadline(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.ocf_code(), OcfCode::ErrGeneric);
    assert!(
        e.to_string().contains("auth/tokens"),
        "names the request: {e}"
    );
    assert!(!e.to_string().contains("wrong-password-9x"));

    let s = connect(&params(&sim.member()));
    let e = s
        .compute()
        .servers_on_host("compute-0", &deadline(10))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    assert_eq!(e.ocf_code(), OcfCode::ErrPerm);
}

#[test]
fn token_expired_or_revoked_mid_run_is_renewed_once() {
    let sim = NovaSim::start(
        SimConfig::new()
            .hosts(&["compute-0"])
            .servers_on("compute-0", 3),
    );
    let s = connect(&params(&sim.admin()));
    let dl = deadline(20);
    let nova = s.compute();
    assert_eq!(nova.servers_on_host("compute-0", &dl).unwrap().len(), 3);
    sim.expire_tokens();
    assert_eq!(nova.servers_on_host("compute-0", &dl).unwrap().len(), 3);
    assert_eq!(token_requests(&sim), 2, "one new token after the expiry");
    sim.fault(Fault::new(Some("GET"), "/servers/detail", FaultKind::Unauthorized).times(1));
    assert_eq!(nova.servers_on_host("compute-0", &dl).unwrap().len(), 3);
    assert_eq!(token_requests(&sim), 3);
    // Many workers hitting the same expiry get one new token, not one each.
    sim.expire_tokens();
    let ids: Vec<String> = (0..3).map(|i| server_id("compute-0", i)).collect();
    let got = parallel(ids, 3, |id| nova.server(&id, &dl));
    assert!(got.iter().all(Result::is_ok), "{got:?}");
    assert_eq!(token_requests(&sim), 4);
    // A token refused every time: one retry, then the 401 is the error.
    sim.fault(Fault::new(
        Some("GET"),
        "/servers/detail",
        FaultKind::Unauthorized,
    ));
    let e = nova.servers_on_host("compute-0", &dl).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(token_requests(&sim), 5);
}

#[test]
fn a_token_about_to_end_is_renewed_before_it_is_refused() {
    let sim = NovaSim::start(
        SimConfig::new()
            .token_ttl(Duration::from_secs(1))
            .hosts(&["compute-0"]),
    );
    let s = connect(&params(&sim.admin()));
    let dl = deadline(20);
    s.compute().services(None, None, &dl).unwrap();
    // Past the token's life: the next request renews it first instead of taking a 401.
    std::thread::sleep(Duration::from_millis(1300));
    s.compute().services(None, None, &dl).unwrap();
    assert_eq!(token_requests(&sim), 2);
    let refused: Vec<Request> = sim
        .requests()
        .into_iter()
        .filter(|r| r.status == Some(401))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
fn catalog_by_interface_and_region() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    for (endpoint_type, region, iface) in [
        (None, None, "internal"),
        (Some("publicURL"), Some("RegionOne"), "public"),
        (Some("adminURL"), Some("RegionTwo"), "admin"),
        (Some("internal"), Some("RegionTwo"), "internal"),
    ] {
        let mut p = params(&sim.admin());
        p.endpoint_type = endpoint_type.map(str::to_string);
        p.region_name = region.map(str::to_string);
        let s = connect(&p);
        sim.clear_requests();
        s.compute()
            .services(None, Some("compute-0"), &deadline(10))
            .unwrap();
        let reqs = compute_requests(&sim);
        assert!(!reqs.is_empty());
        for r in reqs {
            assert_eq!(r.interface.as_deref(), Some(iface), "{r:?}");
            if let Some(region) = region {
                assert_eq!(r.region.as_deref(), Some(region), "{r:?}");
            }
        }
    }
    let mut p = params(&sim.admin());
    p.region_name = Some("RegionNine".into());
    let s = connect(&p);
    let e = s.compute().services(None, None, &deadline(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoEndpoint);
    assert_eq!(e.ocf_code(), OcfCode::ErrConfigured);
    assert!(e.to_string().contains("RegionNine"), "{e}");
}

/// What the simulator recorded for the compute requests of `f`, as (method, path, version).
fn wire(sim: &NovaSim, f: impl FnOnce()) -> Vec<(String, String, String)> {
    sim.clear_requests();
    f();
    compute_requests(sim)
        .into_iter()
        .filter(|r| !r.path.ends_with("/v2.1/") && !r.path.ends_with("/compute/"))
        .map(|r| (r.method, r.path, r.microversion.unwrap_or_default()))
        .collect()
}

#[test]
fn microversions_against_2_11_2_53_and_2_95() {
    for max in ["2.11", "2.53", "2.95"] {
        let sim = NovaSim::start(
            SimConfig::new()
                .max_microversion(max)
                .hosts(&["compute-0", "compute-1"])
                .servers_on("compute-0", 2),
        );
        let s = connect(&params(&sim.admin()));
        let dl = deadline(20);
        let nova = s.compute();
        assert_eq!(nova.max_microversion(&dl).unwrap().to_string(), max);
        let svc = nova
            .services(Some("nova-compute"), Some("compute-0"), &dl)
            .unwrap()
            .remove(0);
        sim.kill_compute("compute-0");
        let reason = "ocfbox evacuation requested 1700000000";
        let calls = wire(&sim, || {
            nova.force_down_and_disable(&svc, reason, &dl).unwrap()
        });
        let rec = sim.service("compute-0", "nova-compute");
        assert_eq!(rec["forced_down"], true, "{max}: {rec}");
        assert_eq!(rec["status"], "disabled", "{max}: {rec}");
        assert_eq!(rec["disabled_reason"], reason, "{max}: {rec}");
        if max == "2.11" {
            let paths: Vec<&str> = calls.iter().map(|c| c.1.as_str()).collect();
            assert!(
                paths[0].ends_with("/os-services/force-down")
                    && paths[1].ends_with("/os-services/disable-log-reason")
                    && paths.len() == 2,
                "force-down first, then disable: {calls:?}"
            );
            assert!(calls.iter().all(|c| c.2 == "2.11"), "{calls:?}");
        } else {
            assert_eq!(calls.len(), 1, "one PUT: {calls:?}");
            assert!(calls[0].1.ends_with(&format!("/os-services/{}", svc.id)));
            assert_eq!(calls[0].2, "2.53");
        }

        let servers = nova.servers_on_host("compute-0", &dl).unwrap();
        assert_eq!(servers.len(), 2);
        assert!(servers.iter().all(|s| s.flavor.id.is_some()), "flavor ids");
        let calls = wire(&sim, || {
            nova.evacuate(
                &servers[0].id,
                &EvacuateRequest {
                    target_host: None,
                    on_shared_storage: false,
                },
                &dl,
            )
            .unwrap()
        });
        let want = if max == "2.95" { "2.94" } else { max };
        assert_eq!(calls[0].2, want, "evacuate stays below 2.95: {calls:?}");
        nova.lock(&servers[1].id, "ocfbox evacuating", &dl).unwrap();
        let rec = sim.server(&servers[1].id);
        assert_eq!(rec["locked"], true);
        if max == "2.95" {
            assert_eq!(rec["locked_reason"], "ocfbox evacuating", "{rec}");
        }
        nova.unlock(&servers[1].id, &dl).unwrap();
        assert_eq!(sim.server(&servers[1].id)["locked"], false);
        nova.reset_state(&servers[1].id, ResetState::Error, &dl)
            .unwrap();
        assert_eq!(sim.server(&servers[1].id)["vm_state"], "error");

        let settled = sim.wait_evacuations_settled(Duration::from_secs(10));
        assert!(
            settled.iter().any(|m| m["status"] == "done"),
            "{max}: {settled:?}"
        );
        let migs = nova
            .migrations(
                &MigrationFilter {
                    source_compute: Some("compute-0".into()),
                    migration_type: Some("evacuation".into()),
                    ..Default::default()
                },
                &dl,
            )
            .unwrap();
        assert_eq!(migs.len(), 1, "{migs:?}");
        assert_eq!(migs[0].instance_uuid, servers[0].id);
        assert_eq!(migs[0].dest_compute.as_deref(), Some("compute-1"));

        // Back up: force up then enable (the Xena guard lets go once the compute restarted).
        sim.restart_compute("compute-0");
        nova.force_up(&svc, &dl).unwrap();
        nova.enable(&svc, &dl).unwrap();
        let rec = sim.service("compute-0", "nova-compute");
        assert_eq!(rec["forced_down"], false, "{max}: {rec}");
        assert_eq!(rec["status"], "enabled", "{max}: {rec}");
        let top: Microversion = max.parse().unwrap();
        for r in compute_requests(&sim) {
            assert_ne!(r.status, Some(406), "{r:?}");
            if let Some(v) = &r.microversion {
                let v: Microversion = v.parse().unwrap();
                assert!(v <= top, "{max}: sent {v}: {r:?}");
                if r.path.ends_with("/action") {
                    assert!(v < Microversion::new(2, 95), "{r:?}");
                }
            }
        }
    }
}

#[test]
fn evacuate_below_2_14_sends_on_shared_storage_and_the_xena_guard_is_a_bad_request() {
    let sim = NovaSim::start(
        SimConfig::new()
            .max_microversion("2.11")
            .rebuild_time(Duration::from_secs(2))
            .hosts(&["compute-0", "compute-1", "compute-2"])
            .servers_on("compute-0", 1),
    );
    let s = connect(&params(&sim.admin()));
    let dl = deadline(20);
    let nova = s.compute();
    let id = server_id("compute-0", 0);
    // The source still up: Nova refuses (400), the client says which request.
    let e = nova
        .evacuate(&id, &EvacuateRequest::default(), &dl)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
    assert!(e.to_string().contains("/action"), "{e}");
    let svc = nova
        .services(Some("nova-compute"), Some("compute-0"), &dl)
        .unwrap()
        .remove(0);
    sim.kill_compute("compute-0");
    nova.force_down_and_disable(&svc, "ocfbox evacuation requested 1", &dl)
        .unwrap();
    nova.evacuate(
        &id,
        &EvacuateRequest {
            target_host: Some("compute-2".into()),
            on_shared_storage: true,
        },
        &dl,
    )
    .unwrap();
    // A second request while the rebuild runs: 409.
    let e = nova
        .evacuate(&id, &EvacuateRequest::default(), &dl)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let m = sim.wait_evacuations_settled(Duration::from_secs(10));
    assert_eq!(
        m[0]["dest_compute"], "compute-2",
        "the host asked for: {m:?}"
    );
    assert_eq!(m[0]["status"], "done");
    let e = nova.force_up(&svc, &dl).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest, "Xena guard: {e}");
    sim.restart_compute("compute-0");
    nova.force_up(&svc, &dl).unwrap();
}

#[test]
fn listings_follow_every_page() {
    let mut cfg = SimConfig::new()
        .page_cap(7)
        .hosts(&["compute-0", "compute-1"])
        .servers_on("compute-0", 30)
        .servers_on("compute-1", 4);
    for i in 0..20 {
        cfg = cfg.flavor(
            &format!("f{i:02}"),
            &format!("flavor-{i}"),
            i % 3 != 0,
            json!({"evacuable": if i % 2 == 0 { "true" } else { "false" }}),
        );
    }
    for i in 0..12 {
        cfg = cfg.migration(
            json!({"source_compute": "compute-1", "dest_compute": "compute-0",
            "status": "completed", "migration_type": "evacuation",
            "instance_uuid": format!("inst-{i}")}),
        );
    }
    let sim = NovaSim::start(cfg);
    let s = connect(&params(&sim.admin()));
    let dl = deadline(30);
    let nova = s.compute();
    let servers = nova.servers_on_host("compute-0", &dl).unwrap();
    let ids: BTreeSet<String> = servers.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids.len(), 30, "all 30 servers over 5 pages, no duplicates");
    assert!(servers
        .iter()
        .all(|s| s.host.as_deref() == Some("compute-0")));
    let pages = compute_requests(&sim)
        .iter()
        .filter(|r| r.path.ends_with("/servers/detail"))
        .count();
    assert!(pages >= 5, "{pages} pages");

    let flavors = nova.flavors(&dl).unwrap();
    assert_eq!(flavors.len(), 21, "public and private, every page");
    let private = flavors.iter().filter(|f| !f.is_public).count();
    assert_eq!(private, 7);
    let f04 = flavors.iter().find(|f| f.id == "f04").unwrap();
    assert_eq!(f04.extra_specs["evacuable"], "true");
    assert!(
        compute_requests(&sim)
            .iter()
            .all(|r| !r.path.contains("os-extra_specs")),
        "specs inline at 2.61+"
    );

    let migs = nova
        .migrations(
            &MigrationFilter {
                source_compute: Some("compute-1".into()),
                ..Default::default()
            },
            &dl,
        )
        .unwrap();
    let uuids: BTreeSet<String> = migs.iter().map(|m| m.instance_uuid.clone()).collect();
    assert_eq!(uuids.len(), 12, "{migs:?}");
}

#[test]
fn extra_specs_below_2_61_are_fetched_by_a_bounded_pool() {
    let mut cfg = SimConfig::new().max_microversion("2.53");
    for i in 0..10 {
        cfg = cfg.flavor(
            &format!("f{i}"),
            &format!("flavor-{i}"),
            true,
            json!({"evacuable": "true", "n": i.to_string()}),
        );
    }
    let sim = NovaSim::start(cfg);
    let s = connect(&params(&sim.admin()));
    let flavors = s.compute().flavors(&deadline(20)).unwrap();
    assert_eq!(flavors.len(), 11);
    assert_eq!(
        flavors.iter().find(|f| f.id == "f7").unwrap().extra_specs["n"],
        "7"
    );
    let specs = compute_requests(&sim)
        .iter()
        .filter(|r| r.path.contains("os-extra_specs"))
        .count();
    assert_eq!(specs, 11, "one per flavor");
}

#[test]
fn images_are_exactly_those_asked_for() {
    let mut cfg = SimConfig::new();
    for i in 0..40 {
        let tags: &[&str] = if i % 4 == 0 { &["evacuable"] } else { &[] };
        cfg = cfg.image(&format!("img-{i:02}"), tags, json!({"os_distro": "cirros"}));
    }
    let sim = NovaSim::start(cfg);
    let s = connect(&params(&sim.admin()));
    let ids: Vec<String> = ["img-36", "img-01", "img-36", "img-gone", "img-08"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let images = s.image().images(&ids, &deadline(10)).unwrap();
    let got: Vec<&str> = images.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(got, vec!["img-01", "img-08", "img-36"]);
    assert_eq!(images[2].tags, vec!["evacuable"]);
    assert!(images[0].tags.is_empty());
    assert_eq!(images[1].properties["os_distro"], "cirros");
    let glance = sim
        .requests()
        .into_iter()
        .filter(|r| r.service == "image")
        .count();
    assert_eq!(glance, 1, "one filtered listing, not every page");
    assert!(s.image().images(&[], &deadline(10)).unwrap().is_empty());
}

#[test]
fn faults_give_the_right_error() {
    let sim = NovaSim::start(
        SimConfig::new()
            .hosts(&["compute-0"])
            .servers_on("compute-0", 2),
    );
    let s = connect(&params(&sim.admin()));
    let nova = s.compute();
    let dl = deadline(20);
    nova.max_microversion(&dl).unwrap();

    sim.fault(Fault::new(Some("GET"), "/os-services", FaultKind::Status(503)).times(1));
    let e = nova.services(None, None, &dl).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.status(), Some(503));
    assert_eq!(e.ocf_code(), OcfCode::ErrGeneric);
    assert!(
        e.to_string().contains("GET ") && e.to_string().contains("os-services"),
        "{e}"
    );

    sim.fault(Fault::new(Some("GET"), "/servers/detail", FaultKind::Malformed).times(1));
    let e = nova.servers_on_host("compute-0", &dl).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Malformed, "{e}");

    sim.fault(Fault::new(Some("GET"), "/servers/detail", FaultKind::Drop).times(1));
    let e = nova.servers_on_host("compute-0", &dl).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");

    sim.fault(Fault::new(None, "/os-migrations", FaultKind::Status(404)).times(1));
    let e = nova
        .migrations(&MigrationFilter::default(), &dl)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    // A hung Nova never outlives the operation: a 3 s budget against a 60 s hang.
    sim.fault(Fault::new(
        Some("GET"),
        "/os-services",
        FaultKind::Hang(Duration::from_secs(60)),
    ));
    let short = Deadline::from_op_timeout(Duration::from_secs(3));
    let t = Instant::now();
    let e = nova.services(None, None, &short).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "bounded by the deadline"
    );
    // And an exhausted budget sends nothing.
    let spent = Deadline::from_op_timeout(Duration::from_millis(100));
    sim.clear_requests();
    let e = nova.services(None, None, &spent).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(compute_requests(&sim).is_empty());
    sim.clear_faults();
    // The session still works after all of that.
    assert_eq!(nova.servers_on_host("compute-0", &dl).unwrap().len(), 2);

    // Nothing listening.
    let mut p = params(&sim.admin());
    p.auth_url = Some("http://127.0.0.1:1/identity".into());
    let e = Session::connect(&config(&p), &dl).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
}

#[test]
fn tls_verified_with_ca_file_refused_with_a_wrong_ca_accepted_with_insecure() {
    let sim = NovaSim::start(SimConfig::new().tls(true).hosts(&["compute-0"]));
    let ca = sim.ca_file().expect("TLS sim has a CA").to_path_buf();
    let mut p = params(&sim.admin());
    assert!(p.auth_url.as_deref().unwrap().starts_with("https://"));

    p.ca_file = Some(ca.display().to_string());
    let s = connect(&p);
    s.compute()
        .services(None, Some("compute-0"), &deadline(10))
        .unwrap();

    let (wrong, _key) = generate_ca(sim.dir(), "wrong-ca");
    p.ca_file = Some(wrong.display().to_string());
    let e = Session::connect(&config(&p), &deadline(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");

    // System roots only: the simulator's CA is not among them.
    p.ca_file = None;
    let e = Session::connect(&config(&p), &deadline(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");

    p.insecure = Some(true);
    let s = connect(&p);
    s.compute()
        .services(None, Some("compute-0"), &deadline(10))
        .unwrap();

    p.insecure = None;
    p.ca_file = Some(sim.dir().join("no-such-ca.pem").display().to_string());
    let e = Session::connect(&config(&p), &deadline(10)).unwrap_err();
    assert_eq!(e.ocf_code(), OcfCode::ErrInstalled, "{e}");
}

/// What NovaEvacuate does for a fenced host: its compute dies, is forced down and disabled,
/// and every server on it is evacuated by `workers` threads.
fn fence_and_evacuate(
    sim: &NovaSim,
    nova: Compute<'_>,
    host: &str,
    workers: usize,
    dl: &Deadline,
) -> Vec<Result<(), OpenStackError>> {
    let svc = nova
        .services(Some("nova-compute"), Some(host), dl)
        .unwrap()
        .remove(0);
    sim.kill_compute(host);
    nova.force_down_and_disable(&svc, "ocfbox evacuation requested 1", dl)
        .unwrap();
    let servers = nova.servers_on_host(host, dl).unwrap();
    parallel(servers, workers, |srv| {
        nova.evacuate(&srv.id, &EvacuateRequest::default(), dl)
    })
}

#[test]
fn parallel_evacuations_share_the_session() {
    let sim = NovaSim::start(
        SimConfig::new()
            .hosts(&["compute-0", "compute-1", "compute-2"])
            .servers_on("compute-0", 24)
            .latency_ms(20),
    );
    let s = connect(&params(&sim.admin()));
    let dl = deadline(60);
    let nova = s.compute();
    let results = fence_and_evacuate(&sim, nova, "compute-0", 8, &dl);
    assert_eq!(results.len(), 24);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let m = sim.wait_evacuations_settled(Duration::from_secs(20));
    assert_eq!(m.iter().filter(|m| m["status"] == "done").count(), 24);
    assert!(sim.servers_on("compute-0").is_empty());
    assert_eq!(token_requests(&sim), 1);
}

/// Every log record of this test binary up to debug: what ocfbox's logger writes with
/// HA_debug=1 (it admits nothing below debug; ureq's trace level dumps raw requests).
struct Capture;

static LOGGED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        LOGGED.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
    fn flush(&self) {}
}

fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = log::set_boxed_logger(Box::new(Capture));
        log::set_max_level(log::LevelFilter::Debug);
    });
}

/// Processes whose argv or environment holds one of `needles` (all of /proc: the client
/// starts no child, so anything found came from somewhere it must not have).
fn processes_holding(needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for f in ["cmdline", "environ"] {
            if let Ok(raw) = std::fs::read(e.path().join(f)) {
                let text = String::from_utf8_lossy(&raw);
                if needles.iter().any(|n| text.contains(n)) {
                    found.push(format!("/proc/{name}/{f}"));
                }
            }
        }
    }
    found
}

#[test]
fn secrets_reach_no_log_line_error_message_debug_form_or_process() {
    capture_logs();
    // A password of this test alone, so that a hit cannot come from another test.
    let password = format!(
        "scan-pw-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let pw = password.clone();
    let sim = NovaSim::start(
        SimConfig::new()
            .max_microversion("2.11")
            .hosts(&["compute-0", "compute-1"])
            .servers_on("compute-0", 4)
            .with_state(move |s| {
                s["users"].as_array_mut().unwrap().push(json!({
                    "id": "u-scan", "name": "scan", "domain_id": "default", "password": pw,
                    "roles": {ADMIN_PROJECT_ID: ["admin"]}
                }));
            }),
    );
    let p = CredentialParams {
        auth_url: Some(sim.auth_url()),
        username: Some("scan".into()),
        password: Some(Secret::new(password.clone())),
        project_name: Some(ADMIN_PROJECT.into()),
        ..Default::default()
    };
    let cfg = config(&p);
    let dl = deadline(30);
    let s = Session::connect(&cfg, &dl).unwrap();
    let nova = s.compute();
    let mut texts = vec![format!("{p:?}"), format!("{cfg:?}"), format!("{s:?}")];
    let mut procs = processes_holding(&[&password, "gAAAAA"]);

    // At 2.11 Nova answers an evacuation with an adminPass: read, dropped, never shown.
    let done = fence_and_evacuate(&sim, nova, "compute-0", 4, &dl);
    assert!(done.iter().all(Result::is_ok), "{done:?}");
    procs.extend(processes_holding(&[&password, "gAAAAA"]));
    texts.extend(done.iter().map(|r| format!("{r:?}")));

    // Failures, including a peer that quotes the secret back in its error.
    sim.fault(
        Fault::new(
            Some("GET"),
            "/os-services",
            FaultKind::StatusBody(
                500,
                json!({"computeFault": {"code": 500, "message": format!("db error near '{password}'")}}),
            ),
        )
        .times(1),
    );
    let e = nova.services(None, None, &dl).unwrap_err();
    assert!(e.to_string().contains("<redacted>"), "{e}");
    texts.push(e.to_string());
    texts.push(format!("{e:?}"));
    sim.expire_tokens();
    sim.fault(Fault::new(
        Some("GET"),
        "/os-migrations",
        FaultKind::Unauthorized,
    ));
    let e = nova
        .migrations(&MigrationFilter::default(), &dl)
        .unwrap_err();
    texts.push(format!("{e} {e:?}"));
    for kind in [
        FaultKind::Malformed,
        FaultKind::Drop,
        FaultKind::Status(503),
    ] {
        sim.fault(Fault::new(Some("GET"), "/servers/detail", kind).times(1));
        let e = nova.servers_on_host("compute-0", &dl).unwrap_err();
        texts.push(format!("{e} {e:?}"));
    }
    let mut wrong = p.clone();
    wrong.password = Some(Secret::new(format!("{password}-wrong")));
    let e = Session::connect(&config(&wrong), &dl).unwrap_err();
    texts.push(format!("{e} {e:?}"));
    procs.extend(processes_holding(&[&password, "gAAAAA"]));

    let logged = LOGGED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        logged.iter().any(|l| l.starts_with("DEBUG")),
        "debug lines were captured: {logged:?}"
    );
    for t in texts.iter().chain(logged.iter()) {
        assert!(!t.contains(&password), "the password leaked: {t}");
        assert!(!t.contains("gAAAAA"), "a token leaked: {t}");
        assert!(!t.contains("adminPass"), "an adminPass leaked: {t}");
    }
    assert!(procs.is_empty(), "secrets in {procs:?}");
    // The secrets went where they belong: only the token request carried one.
    let reqs = sim.requests();
    assert!(reqs
        .iter()
        .filter(|r| r.had_secret)
        .all(|r| r.path.ends_with("/auth/tokens") || r.path.ends_with("/action")));
}

/// The TCP connections this process opened to `port` (from ureq's debug log).
fn connections_to(port: u16) -> usize {
    let needle = format!("Connected TcpStream to 127.0.0.1:{port}");
    LOGGED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|l| l.contains(&needle))
        .count()
}

#[test]
fn workers_share_one_pool_of_tls_connections_and_insecure_is_warned_once() {
    capture_logs();
    let sim = NovaSim::start(
        SimConfig::new()
            .tls(true)
            .latency_ms(5)
            .hosts(&["compute-0"])
            .servers_on("compute-0", 60),
    );
    let mut p = params(&sim.admin());
    p.insecure = Some(true);
    let s = connect(&p);
    let _again = connect(&p);
    let warned = LOGGED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|l| l.starts_with("WARN") && l.contains("insecure"))
        .count();
    assert_eq!(warned, 1, "one warning per process");
    let dl = deadline(60);
    let nova = s.compute();
    let ids: Vec<String> = nova
        .servers_on_host("compute-0", &dl)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let before = connections_to(sim.port());
    for _ in 0..3 {
        let got = parallel(ids.clone(), 12, |id| nova.server(&id, &dl));
        assert!(got.iter().all(Result::is_ok));
    }
    let opened = connections_to(sim.port()) - before;
    assert!(
        opened <= 12,
        "180 requests by 12 workers opened {opened} TLS connections (one per worker at most)"
    );
}
