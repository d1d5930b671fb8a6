//! The Nova/Keystone/Glance simulator's own semantics, which the client tests rely on
//! (shapes checked against the real clients in nova_fidelity).

use crate::common;

use common::nova::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

fn tokens_url(api: &Api) -> String {
    format!("{}/auth/tokens", api.identity)
}

fn auth(api: &Api, body: Value) -> Resp {
    api.call("POST", &tokens_url(api), None, Some(&body))
}

#[test]
fn keystone_password_app_credential_and_refusals() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let anon = sim.anonymous();
    let a = sim.admin();

    // by ids
    let r = auth(
        &anon,
        json!({"auth": {"identity": {"methods": ["password"],
                 "password": {"user": {"id": a.user_id, "password": a.password}}},
                 "scope": {"project": {"id": a.project_id}}}}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"]["project"]["id"], ADMIN_PROJECT_ID);
    assert!(r.header("X-Subject-Token").is_some_and(|t| t.len() > 20));
    // same user name in another domain, by domain name
    let r = auth(
        &anon,
        json!({"auth": {"identity": {"methods": ["password"],
                 "password": {"user": {"name": ADMIN_USER, "domain": {"name": OTHER_DOMAIN},
                                       "password": ADMIN_PASSWORD}}},
                 "scope": {"project": {"name": "admin", "domain": {"id": OTHER_DOMAIN_ID}}}}}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"]["user"]["domain"]["name"], OTHER_DOMAIN);
    // application credential by id, and by name + user
    for ac in [
        json!({"id": APP_CRED_ID, "secret": APP_CRED_SECRET}),
        json!({"name": APP_CRED_NAME, "secret": APP_CRED_SECRET,
               "user": {"name": ADMIN_USER, "domain": {"name": "Default"}}}),
    ] {
        let r = auth(
            &anon,
            json!({"auth": {"identity": {"methods": ["application_credential"],
                                         "application_credential": ac}}}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["token"]["application_credential"]["id"], APP_CRED_ID);
        assert_eq!(r.body["token"]["roles"][0]["name"], "admin");
    }
    // wrong password, wrong secret, unknown project: 401 in Keystone's shape
    let mut wrong = a.clone();
    wrong.password = "not-it".into();
    for body in [
        password_auth(&wrong),
        json!({"auth": {"identity": {"methods": ["application_credential"],
               "application_credential": {"id": APP_CRED_ID, "secret": "nope"}}}}),
        json!({"auth": {"identity": {"methods": ["password"],
               "password": {"user": {"id": a.user_id, "password": a.password}}},
               "scope": {"project": {"id": MEMBER_PROJECT_ID}}}}),
    ] {
        let r = auth(&anon, body);
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["error"]["code"], 401);
    }

    // an unscoped token is issued but Nova refuses it; an application credential takes no scope
    let r = auth(
        &anon,
        json!({"auth": {"identity": {"methods": ["password"],
                 "password": {"user": {"id": a.user_id, "password": a.password}}}}}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["token"].get("project").is_none());
    let mut unscoped = sim.anonymous();
    unscoped.token = r.header("X-Subject-Token").unwrap_or_default().to_string();
    assert_eq!(
        unscoped.nova("GET", "/os-services", "2.53", None).status,
        401
    );
    let r = auth(
        &anon,
        json!({"auth": {"identity": {"methods": ["application_credential"],
                 "application_credential": {"id": APP_CRED_ID, "secret": APP_CRED_SECRET}},
                 "scope": {"project": {"id": ADMIN_PROJECT_ID}}}}),
    );
    assert_eq!(r.status, 401, "{}", r.text);

    // a member is authenticated but Nova's admin APIs answer 403
    let member = sim.api(&sim.member());
    let r = member.nova("GET", "/os-services", "2.53", None);
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.body["forbidden"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("os-services")));

    // no token, expired token: 401 with the Keystone URI
    let r = anon.nova("GET", "/os-services", "2.53", None);
    assert_eq!(r.status, 401);
    let api = sim.api(&a);
    assert_eq!(api.nova("GET", "/os-services", "2.53", None).status, 200);
    sim.expire_tokens();
    let r = api.nova("GET", "/os-services", "2.53", None);
    assert_eq!(r.status, 401);
    assert!(r
        .header("WWW-Authenticate")
        .is_some_and(|h| h.contains("/identity")));

    // the log says a secret was sent, never which
    let reqs = sim.requests();
    assert!(reqs.iter().any(|r| r.had_secret && r.status == Some(201)));
    assert!(reqs.iter().any(|r| r.had_secret && r.status == Some(401)));
    assert!(reqs
        .iter()
        .filter(|r| r.service == "compute")
        .all(|r| !r.had_secret));
    assert!(reqs.iter().any(|r| r.had_token && r.status == Some(401)));
    let log = sim.control("GET", "requests", None).to_string();
    for s in [
        ADMIN_PASSWORD,
        APP_CRED_SECRET,
        MEMBER_PASSWORD,
        api.token.as_str(),
    ] {
        assert!(!log.contains(s), "request log holds a secret");
    }
}

#[test]
fn catalog_has_distinct_urls_per_region_and_interface() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let anon = sim.anonymous();
    let r = auth(&anon, password_auth(&sim.admin()));
    let catalog = r.body["token"]["catalog"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let types: BTreeSet<&str> = catalog.iter().filter_map(|s| s["type"].as_str()).collect();
    assert_eq!(types, BTreeSet::from(["compute", "identity", "image"]));
    let mut urls = BTreeSet::new();
    for svc in &catalog {
        let eps = svc["endpoints"].as_array().cloned().unwrap_or_default();
        assert_eq!(eps.len(), 6, "2 regions x 3 interfaces: {svc}");
        for ep in eps {
            urls.insert(ep["url"].as_str().unwrap_or("").to_string());
        }
    }
    assert_eq!(urls.len(), 18);
    assert!(urls.contains(&sim.compute_url("RegionTwo", "admin")));
    // nocatalog
    let r = anon.call(
        "POST",
        &format!("{}?nocatalog", tokens_url(&anon)),
        None,
        Some(&password_auth(&sim.admin())),
    );
    assert_eq!(r.status, 201);
    assert!(r.body["token"].get("catalog").is_none());
    // discovery: unversioned 300 with the list, versioned 200
    let r = anon.call("GET", &sim.auth_url(), None, None);
    assert_eq!(r.status, 300);
    assert_eq!(r.body["versions"]["values"][0]["id"], "v3.14");
    let r = anon.call("GET", &sim.auth_url_v3(), None, None);
    assert_eq!(r.status, 200);
    // a request through another endpoint is logged with it
    let mut api = sim.api(&sim.admin());
    api.compute = sim.compute_url("RegionTwo", "admin");
    assert_eq!(api.nova("GET", "/os-services", "2.1", None).status, 200);
    // a catalog URL of the /v2.1/<project_id> style works the same
    let r = api.call(
        "GET",
        &format!("{}/{ADMIN_PROJECT_ID}/os-services", api.compute),
        Some("2.1"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let last = sim.requests().pop().expect("logged");
    assert_eq!(last.region.as_deref(), Some("RegionTwo"));
    assert_eq!(last.interface.as_deref(), Some("admin"));
    assert_eq!(last.service, "compute");
}

#[test]
fn microversions_406_400_echo_and_shapes() {
    for (max, above) in [("2.11", "2.12"), ("2.53", "2.54"), ("2.95", "2.96")] {
        let sim = NovaSim::start(SimConfig::new().max_microversion(max).hosts(&["compute-0"]));
        let api = sim.api(&sim.admin());
        let doc = api.call("GET", &format!("{}/", api.compute), None, None);
        assert_eq!(doc.body["version"]["version"], max, "{}", doc.text);
        assert_eq!(doc.body["version"]["min_version"], "2.1");
        let root = api.call("GET", &api.compute.replace("/v2.1", "/"), None, None);
        assert_eq!(root.body["versions"][1]["version"], max, "{}", root.text);

        let r = api.nova("GET", "/os-services?binary=nova-compute", max, None);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("OpenStack-API-Version"),
            Some(format!("compute {max}").as_str())
        );
        assert_eq!(r.header("X-OpenStack-Nova-API-Version"), Some(max));
        assert!(r
            .header("Vary")
            .is_some_and(|v| v.contains("OpenStack-API-Version")));
        let svc = &r.body["services"][0];
        assert_eq!(svc["forced_down"], false);
        if max == "2.11" {
            assert!(svc["id"].is_u64(), "integer id below 2.53: {svc}");
        } else {
            assert_eq!(svc["id"], sim.service("compute-0", "nova-compute")["uuid"]);
        }
        let r = api.nova("GET", "/os-services", above, None);
        assert_eq!(r.status, 406, "{}", r.text);
        assert!(r.body["computeFault"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("maximum is {max}"))));
        let r = api.nova("GET", "/os-services", "2.x", None);
        assert_eq!(r.status, 400, "{}", r.text);
        let r = api.nova("GET", "/os-services", "latest", None);
        assert_eq!(r.header("X-OpenStack-Nova-API-Version"), Some(max));
        // the legacy header alone; with both, OpenStack-API-Version wins
        let url = format!("{}/os-services", api.compute);
        let r = api.call_with("GET", &url, &[("X-OpenStack-Nova-API-Version", max)], None);
        assert_eq!(
            r.header("OpenStack-API-Version"),
            Some(format!("compute {max}").as_str())
        );
        let both = [
            ("X-OpenStack-Nova-API-Version", "2.1"),
            ("OpenStack-API-Version", "compute 2.11"),
        ];
        let r = api.call_with("GET", &url, &both, None);
        assert_eq!(r.header("X-OpenStack-Nova-API-Version"), Some("2.11"));
        // no header: 2.1, without forced_down
        let r = api.call("GET", &format!("{}/os-services", api.compute), None, None);
        assert_eq!(r.header("X-OpenStack-Nova-API-Version"), Some("2.1"));
        assert!(r.body["services"][0].get("forced_down").is_none());
        assert_eq!(
            sim.requests().last().and_then(|r| r.microversion.clone()),
            None
        );
    }
}

#[test]
fn services_legacy_calls_below_2_53_and_one_put_from_2_53() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0", "compute-1"]));
    let api = sim.api(&sim.admin());
    let hb = |h: &str| json!({"host": h, "binary": "nova-compute"});
    // force-down exists from 2.11
    let r = api.nova(
        "PUT",
        "/os-services/force-down",
        "2.10",
        Some(&hb("compute-0")),
    );
    assert_eq!(r.status, 404);
    let mut b = hb("compute-0");
    b["forced_down"] = json!(true);
    let r = api.nova("PUT", "/os-services/force-down", "2.11", Some(&b));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["service"],
        json!({"host": "compute-0", "binary": "nova-compute", "forced_down": true})
    );
    let mut b = hb("compute-0");
    b["disabled_reason"] = json!("fenced");
    let r = api.nova("PUT", "/os-services/disable-log-reason", "2.11", Some(&b));
    assert_eq!(r.status, 200, "{}", r.text);
    let svc = sim.service("compute-0", "nova-compute");
    assert_eq!(
        (svc["status"].as_str(), svc["disabled_reason"].as_str()),
        (Some("disabled"), Some("fenced"))
    );
    assert_eq!(svc["state"], "down");
    let r = api.nova("PUT", "/os-services/enable", "2.11", Some(&hb("compute-0")));
    assert_eq!(r.body["service"]["status"], "enabled");
    assert_eq!(
        sim.service("compute-0", "nova-compute")["disabled_reason"],
        Value::Null
    );
    let r = api.nova("PUT", "/os-services/disable", "2.11", Some(&hb("nowhere")));
    assert_eq!(r.status, 404);

    // 2.53: the uuid in the path, several fields at once
    let uuid = sim.service("compute-1", "nova-compute")["uuid"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let path = format!("/os-services/{uuid}");
    let r = api.nova(
        "PUT",
        &path,
        "2.53",
        Some(&json!({"status": "disabled", "disabled_reason": "ocfbox evacuation requested 1", "forced_down": true})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["service"]["id"], uuid.as_str());
    assert_eq!(r.body["service"]["state"], "down");
    assert_eq!(
        r.body["service"]["disabled_reason"],
        "ocfbox evacuation requested 1"
    );
    let svc = sim.service("compute-1", "nova-compute");
    assert_eq!(
        (svc["forced_down"].as_bool(), svc["status"].as_str()),
        (Some(true), Some("disabled"))
    );
    for (body, status) in [
        (json!({}), 400),
        (json!({"status": "enabled", "disabled_reason": "x"}), 400),
        (json!({"status": "off"}), 400),
        (json!({"forced_down": "maybe"}), 400),
        (json!({"host": "compute-1"}), 400),
    ] {
        let r = api.nova("PUT", &path, "2.53", Some(&body));
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    let r = api.nova("PUT", "/os-services/force-down", "2.53", Some(&b));
    assert_eq!(r.status, 400, "the legacy path is gone at 2.53");
    let r = api.nova(
        "PUT",
        "/os-services/00000000-0000-4000-8000-000000000000",
        "2.53",
        Some(&json!({"status": "enabled"})),
    );
    assert_eq!(r.status, 404);
    let sched = sim.service("controller-0", "nova-scheduler")["uuid"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let r = api.nova(
        "PUT",
        &format!("/os-services/{sched}"),
        "2.53",
        Some(&json!({"status": "disabled"})),
    );
    assert_eq!(r.status, 400, "only nova-compute: {}", r.text);
    let r = api.nova(
        "PUT",
        &path,
        "2.53",
        Some(&json!({"status": "enabled", "forced_down": "false"})), // Nova's boolean words
    );
    assert_eq!(r.status, 200);
    assert_eq!(sim.service("compute-1", "nova-compute")["state"], "up");
    // 2.75: unknown query parameters are refused
    assert_eq!(
        api.nova("GET", "/os-services?foo=1", "2.75", None).status,
        400
    );
    assert_eq!(
        api.nova("GET", "/os-services?foo=1", "2.74", None).status,
        200
    );
    // host and binary filters
    let r = api.nova(
        "GET",
        "/os-services?host=compute-1&binary=nova-compute",
        "2.53",
        None,
    );
    assert_eq!(r.body["services"].as_array().map(Vec::len), Some(1));
}

/// Follows `<key>_links` next from `first` (relative to the compute endpoint) to the
/// end; returns (every item, pages).
fn all_pages(api: &Api, first: &str, mv: &str, key: &str) -> (Vec<Value>, usize) {
    let mut url = format!("{}{first}", api.compute);
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let r = api.call("GET", &url, Some(mv), None);
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        pages += 1;
        items.extend(r.body[key].as_array().cloned().unwrap_or_default());
        match r.body[format!("{key}_links")][0]["href"].as_str() {
            Some(next) => url = next.to_string(),
            None => return (items, pages),
        }
    }
}

#[test]
fn servers_pagination_filters_and_per_version_fields() {
    let img = "6f1d2c3b-0000-4000-8000-00000000aaaa";
    let sim = NovaSim::start(
        SimConfig::new()
            .page_cap(10)
            .hosts(&["compute-0", "compute-1"])
            .flavor("5", "ha", true, json!({"evacuable": "true"}))
            .image(img, &[], json!({}))
            .servers_on("compute-0", 25)
            .servers_on("compute-1", 3)
            .server(
                json!({"id": "dddddddd-0000-4000-8000-000000000001", "name": "mine",
                           "host": "compute-0", "tenant_id": MEMBER_PROJECT_ID,
                           "flavor_id": "5", "image_id": img}),
            ),
    );
    let api = sim.api(&sim.admin());
    let (servers, pages) = all_pages(
        &api,
        "/servers/detail?all_tenants=1&host=compute-0",
        "2.53",
        "servers",
    );
    let ids: Vec<String> = servers
        .iter()
        .map(|s| s["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 26);
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        26,
        "no duplicates across pages"
    );
    assert!(ids.contains(&server_id("compute-0", 24)));
    assert!(!ids.contains(&server_id("compute-1", 0)));
    // exactly one page of 10 carries a next link; limit is capped; a bad marker is 400
    let r = api.nova("GET", "/servers/detail?all_tenants=1&limit=7", "2.53", None);
    assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(7));
    assert!(r.body["servers_links"][0]["href"]
        .as_str()
        .is_some_and(|h| h.contains("marker=") && h.contains("limit=7")));
    let r = api.nova(
        "GET",
        "/servers/detail?all_tenants=1&limit=500",
        "2.53",
        None,
    );
    assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(10));
    let r = api.nova(
        "GET",
        "/servers/detail?all_tenants=1&marker=nope",
        "2.53",
        None,
    );
    assert_eq!(r.status, 400);
    // status and name (a regex) filters
    sim.set_server(&server_id("compute-0", 3), json!({"vm_state": "stopped"}));
    let r = api.nova(
        "GET",
        "/servers/detail?all_tenants=1&status=SHUTOFF",
        "2.53",
        None,
    );
    assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(1));
    let r = api.nova(
        "GET",
        "/servers?all_tenants=1&name=^compute-1-vm-",
        "2.53",
        None,
    );
    assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(3));
    assert!(r.body["servers"][0].get("status").is_none(), "not detailed");
    // without all_tenants: the token's project only
    let r = api.nova("GET", "/servers/detail?host=compute-0", "2.53", None);
    assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(10));
    let member = sim.api(&sim.member());
    let r = member.nova("GET", "/servers/detail?all_tenants=1", "2.53", None);
    assert_eq!(r.status, 403);
    // host is admin-only: ignored for a member, who sees their own server
    let r = member.nova("GET", "/servers/detail?host=compute-1", "2.53", None);
    assert_eq!(r.body["servers"][0]["name"], "mine");
    assert!(r.body["servers"][0].get("OS-EXT-SRV-ATTR:host").is_none());

    // per-version fields
    let one = |mv: &str| {
        api.nova(
            "GET",
            "/servers/dddddddd-0000-4000-8000-000000000001",
            mv,
            None,
        )
        .body["server"]
            .clone()
    };
    let s = one("2.1");
    assert_eq!(s["flavor"]["id"], "5");
    assert_eq!(s["image"]["id"], img);
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "compute-0");
    assert_eq!(s["OS-EXT-STS:vm_state"], "active");
    assert_eq!(s["status"], "ACTIVE");
    assert!(s.get("locked").is_none());
    let s = one("2.46");
    assert!(s.get("locked").is_some());
    assert_eq!(s["flavor"]["id"], "5");
    let s = one("2.47");
    assert!(s["flavor"].get("id").is_none());
    assert_eq!(s["flavor"]["original_name"], "ha");
    assert_eq!(s["flavor"]["extra_specs"]["evacuable"], "true");
    assert!(s.get("locked_reason").is_none());
    assert!(one("2.73").get("locked_reason").is_some());
    // fields by the version that brought them (host_status for admins)
    let s = one("2.15");
    assert!([
        "host_status",
        "description",
        "tags",
        "trusted_image_certificates",
        "server_groups"
    ]
    .iter()
    .all(|k| s.get(*k).is_none()));
    let s = one("2.71");
    assert_eq!(s["host_status"], "UP");
    assert_eq!(
        (
            s["description"].is_null(),
            s["tags"].as_array().map(Vec::len)
        ),
        (true, Some(0))
    );
    assert!(s.get("trusted_image_certificates").is_some() && s.get("server_groups").is_some());
    assert!(one("2.1").get("OS-EXT-SRV-ATTR:hostname").is_none());
    assert_eq!(one("2.3")["OS-EXT-SRV-ATTR:hostname"], "mine");
    let s = api
        .nova(
            "GET",
            &format!("/servers/{}", server_id("compute-0", 0)),
            "2.53",
            None,
        )
        .body["server"]
        .clone();
    assert_eq!(s["image"], "", "boot from volume");
    assert_eq!(
        api.nova(
            "GET",
            "/servers/00000000-0000-4000-8000-00000000ffff",
            "2.53",
            None
        )
        .status,
        404
    );
}

#[test]
fn evacuate_preconditions_bodies_and_lifecycle() {
    let sim = NovaSim::start(
        SimConfig::new()
            .rebuild_time(Duration::from_secs(3))
            .hosts(&["compute-0", "compute-1", "compute-2"])
            .servers_on("compute-0", 6)
            .server(
                json!({"id": "eeeeeeee-0000-4000-8000-000000000001", "name": "paused",
                           "host": "compute-0", "vm_state": "paused"}),
            )
            .server(
                json!({"id": "eeeeeeee-0000-4000-8000-000000000002", "name": "breaks",
                           "host": "compute-0", "evacuate_outcome": "failed"}),
            ),
    );
    sim.set_service("compute-1", "nova-compute", json!({"status": "disabled"}));
    let api = sim.api(&sim.admin());
    let evac = |id: &str, mv: &str, body: Value| {
        api.nova(
            "POST",
            &format!("/servers/{id}/action"),
            mv,
            Some(&json!({"evacuate": body})),
        )
    };
    let vm = |i| server_id("compute-0", i);

    let r = evac(&vm(0), "2.53", json!({}));
    assert_eq!(r.status, 400, "source up: {}", r.text);
    assert!(r
        .text
        .contains("Compute service of compute-0 is still in use"));
    sim.kill_compute("compute-0");
    assert_eq!(
        evac("eeeeeeee-0000-4000-8000-000000000001", "2.53", json!({})).status,
        409
    );
    assert_eq!(
        evac(&vm(0), "2.53", json!({"host": "compute-0"})).status,
        400
    );
    assert_eq!(
        evac(&vm(0), "2.53", json!({"host": "compute-9"})).status,
        404
    );
    assert_eq!(
        evac(&vm(0), "2.11", json!({})).status,
        400,
        "onSharedStorage required below 2.14"
    );
    assert_eq!(
        evac(&vm(0), "2.14", json!({"onSharedStorage": true})).status,
        400
    );
    assert_eq!(
        evac(&vm(0), "2.28", json!({"host": "compute-2", "force": true})).status,
        400
    );
    assert_eq!(
        evac(&vm(0), "2.68", json!({"host": "compute-2", "force": true})).status,
        400
    );
    assert_eq!(
        evac(&vm(0), "2.29", json!({"force": true})).status,
        400,
        "force needs a host"
    );
    assert_eq!(sim.migrations().len(), 0, "refusals create no record");

    // accepted: 2.11 answers the admin password, later versions nothing
    let r = evac(&vm(0), "2.11", json!({"onSharedStorage": false}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["adminPass"].is_string());
    let r = evac(&vm(1), "2.53", json!({}));
    assert_eq!((r.status, r.text.as_str()), (200, ""));
    assert_eq!(
        evac(&vm(1), "2.53", json!({})).status,
        409,
        "a rebuild runs"
    );
    assert_eq!(
        evac(&vm(2), "2.29", json!({"host": "compute-1", "force": true})).status,
        200
    );
    assert_eq!(evac(&vm(3), "2.95", json!({})).status, 200);
    // from 2.29 a requested host is checked by the scheduler: disabled compute-1 fails
    assert_eq!(
        evac(&vm(5), "2.53", json!({"host": "compute-1"})).status,
        200
    );
    assert_eq!(
        evac("eeeeeeee-0000-4000-8000-000000000002", "2.53", json!({})).status,
        200
    );

    // lifecycle of vm(1), watched through the state
    let order = ["accepted", "pre-migrating", "running", "done"];
    let mut seen: Vec<String> = Vec::new();
    let mut dest_while_running = None;
    let give_up = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            std::time::Instant::now() < give_up,
            "vm1 never done: {seen:?}"
        );
        let st = sim.state();
        let m = st["migrations"]
            .as_array()
            .and_then(|l| {
                l.iter()
                    .find(|m| m["instance_uuid"] == vm(1).as_str())
                    .cloned()
            })
            .expect("migration of vm1");
        let status = m["status"].as_str().unwrap_or("").to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "running" {
            let srv = st["servers"]
                .as_array()
                .and_then(|l| l.iter().find(|s| s["id"] == vm(1).as_str()).cloned());
            dest_while_running = srv.map(|s| s["host"].clone());
        }
        if status == "done" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let idx: Vec<usize> = seen
        .iter()
        .map(|s| {
            order
                .iter()
                .position(|o| o == s)
                .unwrap_or_else(|| panic!("unexpected status {s}"))
        })
        .collect();
    assert!(
        idx.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seen:?}"
    );
    if let Some(h) = dest_while_running {
        assert_eq!(h, "compute-2", "running: the server is on the destination");
    }

    let migs = sim.wait_evacuations_settled(Duration::from_secs(10));
    let by = |id: &str| {
        migs.iter()
            .find(|m| m["instance_uuid"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // the scheduler avoided the source and the disabled compute-1; forced to compute-1 worked
    assert_eq!(by(&vm(0))["dest_compute"], "compute-2");
    assert_eq!(by(&vm(2))["dest_compute"], "compute-1");
    assert_eq!(by(&vm(0))["request"]["onSharedStorage"], false);
    assert_eq!(by(&vm(5))["status"], "error");
    assert_eq!(sim.server(&vm(0))["vm_state"], "active");
    assert_eq!(
        sim.server(&vm(3))["vm_state"],
        "stopped",
        "2.95 leaves it stopped"
    );
    assert_eq!(
        by("eeeeeeee-0000-4000-8000-000000000002")["status"],
        "failed"
    );
    assert_eq!(
        sim.server("eeeeeeee-0000-4000-8000-000000000002")["vm_state"],
        "error"
    );
    for m in &migs {
        assert_eq!(m["migration_type"], "evacuation");
        assert_eq!(m["source_compute"], "compute-0");
    }
    // no valid host: the only other up, enabled compute goes down too
    sim.kill_compute("compute-2");
    sim.set_service("compute-1", "nova-compute", json!({"status": "disabled"}));
    assert_eq!(evac(&vm(4), "2.53", json!({})).status, 200);
    let migs = sim.wait_evacuations_settled(Duration::from_secs(10));
    let m = migs
        .iter()
        .find(|m| m["instance_uuid"] == vm(4).as_str())
        .expect("record");
    assert_eq!(m["status"], "error");
    assert_eq!(sim.server(&vm(4))["host"], "compute-0");
    assert_eq!(sim.server(&vm(4))["vm_state"], "error");
}

#[test]
fn xena_guard_refuses_force_up_until_the_compute_restarts() {
    let done = |i: usize| {
        json!({"source_compute": "compute-0", "dest_compute": "compute-1",
                                 "status": "done", "instance_uuid": server_id("compute-0", i)})
    };
    let cfg = SimConfig::new()
        .service(
            json!({"host": "compute-0", "binary": "nova-compute", "forced_down": true,
                        "alive": false, "status": "disabled", "disabled_reason": "fenced"}),
        )
        .hosts(&["compute-1"])
        .migration(done(0))
        .migration(done(1));
    let sim = NovaSim::start(cfg.clone());
    let api = sim.api(&sim.admin());
    let uuid = sim.service("compute-0", "nova-compute")["uuid"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let up = json!({"forced_down": false});
    let r = api.nova("PUT", &format!("/os-services/{uuid}"), "2.53", Some(&up));
    assert_eq!(r.status, 400);
    assert!(
        r.text
            .contains("`done` evacuation migration records remain"),
        "{}",
        r.text
    );
    let legacy = json!({"host": "compute-0", "binary": "nova-compute", "forced_down": false});
    assert_eq!(
        api.nova("PUT", "/os-services/force-down", "2.11", Some(&legacy))
            .status,
        400
    );
    assert_eq!(
        sim.service("compute-0", "nova-compute")["forced_down"],
        true
    );
    // disabling/enabling is not guarded
    let r = api.nova(
        "PUT",
        &format!("/os-services/{uuid}"),
        "2.53",
        Some(&json!({"status": "enabled"})),
    );
    assert_eq!(r.status, 200);
    // also when the service is not forced down (the guard looks at the records only)
    let other = json!({"source_compute": "compute-1", "dest_compute": "compute-0",
                       "status": "done", "instance_uuid": server_id("compute-1", 0)});
    let mut st = sim.state();
    st["migrations"].as_array_mut().expect("list").push(other);
    sim.set_state(&st);
    let c1 = sim.service("compute-1", "nova-compute")["uuid"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let r = api.nova("PUT", &format!("/os-services/{c1}"), "2.53", Some(&up));
    assert_eq!(r.status, 400, "{}", r.text);
    sim.restart_compute("compute-1");
    sim.restart_compute("compute-0");
    assert!(sim.migrations().iter().all(|m| m["status"] == "completed"));
    let r = api.nova("PUT", &format!("/os-services/{uuid}"), "2.53", Some(&up));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["service"]["state"], "up");

    // a pre-Xena Nova has no guard
    let old = NovaSim::start(cfg.xena_guard(false));
    let api = old.api(&old.admin());
    assert_eq!(
        api.nova("PUT", &format!("/os-services/{uuid}"), "2.53", Some(&up))
            .status,
        200
    );
}

#[test]
fn migrations_filters_paging_and_fields() {
    let mut cfg = SimConfig::new().hosts(&["compute-0", "compute-1", "compute-2"]);
    for i in 0..12 {
        let (src, status, kind) = match i % 3 {
            0 => ("compute-0", "done", "evacuation"),
            1 => ("compute-1", "running", "evacuation"),
            _ => ("compute-0", "completed", "live-migration"),
        };
        cfg = cfg.migration(json!({"source_compute": src, "dest_compute": "compute-2",
                                   "status": status, "migration_type": kind,
                                   "instance_uuid": server_id("x", i)}));
    }
    let sim = NovaSim::start(cfg);
    let api = sim.api(&sim.admin());
    let r = api.nova("GET", "/os-migrations", "2.22", None);
    let all = r.body["migrations"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 12, "no paging below 2.59");
    assert!(all[0].get("migration_type").is_none() && all[0].get("uuid").is_none());
    let r = api.nova(
        "GET",
        "/os-migrations?migration_type=evacuation&source_compute=compute-0",
        "2.23",
        None,
    );
    let l = r.body["migrations"].as_array().cloned().unwrap_or_default();
    assert_eq!(l.len(), 4);
    assert!(l
        .iter()
        .all(|m| m["migration_type"] == "evacuation" && m["status"] == "done"));
    let r = api.nova(
        "GET",
        &format!("/os-migrations?instance_uuid={}", server_id("x", 4)),
        "2.23",
        None,
    );
    assert_eq!(r.body["migrations"][0]["status"], "running");
    let r = api.nova(
        "GET",
        "/os-migrations?host=compute-2&status=completed",
        "2.23",
        None,
    );
    assert_eq!(r.body["migrations"].as_array().map(Vec::len), Some(4));
    // 2.59: newest first, limit/marker by uuid, links
    let (migs, pages) = all_pages(&api, "/os-migrations?limit=5", "2.59", "migrations");
    assert!(migs.iter().all(|m| m["uuid"].is_string()));
    let ids: Vec<u64> = migs.iter().map(|m| m["id"].as_u64().unwrap_or(0)).collect();
    assert_eq!(pages, 3);
    assert_eq!(ids, (1..=12).rev().collect::<Vec<u64>>(), "newest first");
    let r = api.nova(
        "GET",
        "/os-migrations?changes-since=2000-01-01T00:00:00Z",
        "2.59",
        None,
    );
    assert_eq!(r.body["migrations"].as_array().map(Vec::len), Some(12));
    let r = api.nova(
        "GET",
        "/os-migrations?changes-since=2999-01-01T00:00:00Z",
        "2.59",
        None,
    );
    assert_eq!(r.body["migrations"].as_array().map(Vec::len), Some(0));
    let r = api.nova(
        "GET",
        "/os-migrations?changes-before=2000-01-01T00:00:00Z",
        "2.66",
        None,
    );
    assert_eq!(r.body["migrations"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        api.nova(
            "GET",
            "/os-migrations?changes-since=yesterday",
            "2.59",
            None
        )
        .status,
        400
    );
    let member = sim.api(&sim.member());
    assert_eq!(
        member.nova("GET", "/os-migrations", "2.59", None).status,
        403
    );
}

#[test]
fn flavors_extra_specs_and_glance_images() {
    let mut cfg = SimConfig::new().hosts(&["compute-0"]).flavor(
        "2",
        "private.ha",
        false,
        json!({"evacuable": "true"}),
    );
    for i in 0..30 {
        let tags: &[&str] = if i == 3 { &["evacuable"] } else { &[] };
        cfg = cfg.image(
            &format!("00000000-0000-4000-8000-{i:012}"),
            tags,
            json!({"evacuable": if i == 4 { "true" } else { "false" }}),
        );
    }
    let sim = NovaSim::start(cfg);
    let api = sim.api(&sim.admin());
    let names = |r: &Resp| -> Vec<String> {
        r.body["flavors"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| f["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let r = api.nova("GET", "/flavors/detail", "2.53", None);
    assert_eq!(names(&r), ["m1.small"], "default: public only");
    let r = api.nova("GET", "/flavors/detail?is_public=None", "2.60", None);
    assert_eq!(names(&r), ["m1.small", "private.ha"]);
    assert!(r.body["flavors"][1].get("extra_specs").is_none());
    assert_eq!(r.body["flavors"][1]["os-flavor-access:is_public"], false);
    let r = api.nova("GET", "/flavors/detail?is_public=None", "2.61", None);
    assert_eq!(
        r.body["flavors"][1]["extra_specs"],
        json!({"evacuable": "true"})
    );
    let r = api.nova("GET", "/flavors?is_public=None&limit=1", "2.61", None);
    assert_eq!(names(&r), ["m1.small"]);
    let next = r.body["flavors_links"][0]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(next.contains("marker=1"), "{next}");
    assert_eq!(
        names(&api.call("GET", &next, Some("2.61"), None)),
        ["private.ha"]
    );
    let r = api.nova("GET", "/flavors/2/os-extra_specs", "2.1", None);
    assert_eq!(r.body, json!({"extra_specs": {"evacuable": "true"}}));
    let r = api.nova("GET", "/flavors/2/os-extra_specs/evacuable", "2.1", None);
    assert_eq!(r.body, json!({"evacuable": "true"}));
    assert_eq!(
        api.nova("GET", "/flavors/2/os-extra_specs/nope", "2.1", None)
            .status,
        404
    );
    let r = api.nova("GET", "/flavors/2/os-flavor-access", "2.1", None);
    assert_eq!(r.body["flavor_access"][0]["tenant_id"], ADMIN_PROJECT_ID);
    assert_eq!(
        api.nova("GET", "/flavors/1/os-flavor-access", "2.1", None)
            .status,
        404
    );
    let member = sim.api(&sim.member());
    let r = member.nova("GET", "/flavors/detail?is_public=None", "2.61", None);
    assert_eq!(
        names(&r),
        ["m1.small"],
        "a member does not see others' private flavors"
    );

    // Glance: 25 per page with a next link; by id; id=in:
    let r = api.glance("GET", "/v2/images");
    assert_eq!(r.body["images"].as_array().map(Vec::len), Some(25));
    assert!(r.body["next"]
        .as_str()
        .is_some_and(|n| n.starts_with("/v2/images?") && n.contains("marker=")));
    let next = r.body["next"].as_str().unwrap_or("").to_string();
    let r2 = api.glance("GET", &next);
    assert_eq!(r2.body["images"].as_array().map(Vec::len), Some(5));
    assert!(r2.body.get("next").is_none());
    let r = api.glance("GET", "/v2/images/00000000-0000-4000-8000-000000000003");
    assert_eq!(r.body["tags"], json!(["evacuable"]));
    assert_eq!(
        r.body["evacuable"], "false",
        "custom properties are top-level keys"
    );
    let r = api.glance(
        "GET",
        "/v2/images?id=in:00000000-0000-4000-8000-000000000004,00000000-0000-4000-8000-000000000029",
    );
    let ids: BTreeSet<String> = r.body["images"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let r = api.glance("GET", "/v2/images/nope");
    assert_eq!(r.status, 404);
    assert!(r.text.contains("No image found with ID nope"));
    assert_eq!(
        api.glance("GET", "/v2/images?tag=evacuable").body["images"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn faults_status_drop_malformed_hang_and_a_401_mid_run() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0"]));
    let api = sim.api(&sim.admin());
    let services = format!("{}/os-services", api.compute);
    sim.fault(Fault::new(Some("GET"), "/os-services$", FaultKind::Status(503)).times(1));
    assert_eq!(api.nova("GET", "/os-services", "2.53", None).status, 503);
    assert_eq!(
        api.nova("GET", "/os-services", "2.53", None).status,
        200,
        "times(1)"
    );
    sim.fault(
        Fault::new(
            None,
            "/os-services$",
            FaultKind::StatusBody(
                409,
                json!({"conflictingRequest": {"code": 409, "message": "busy"}}),
            ),
        )
        .after(1)
        .times(1),
    );
    assert_eq!(
        api.nova("GET", "/os-services", "2.53", None).status,
        200,
        "after(1)"
    );
    let r = api.nova("GET", "/os-services", "2.53", None);
    assert_eq!(
        (r.status, r.body["conflictingRequest"]["message"].as_str()),
        (409, Some("busy"))
    );

    sim.fault(Fault::new(Some("GET"), "/os-services$", FaultKind::Malformed).times(1));
    let r = api.nova("GET", "/os-services", "2.53", None);
    assert_eq!(r.status, 200);
    assert!(
        serde_json::from_str::<Value>(&r.text).is_err(),
        "truncated JSON: {}",
        r.text
    );

    sim.fault(Fault::new(Some("GET"), "/os-services$", FaultKind::Drop).times(1));
    assert!(api
        .try_call("GET", &services, Duration::from_secs(5))
        .is_err());

    sim.fault(
        Fault::new(
            Some("GET"),
            "/os-services$",
            FaultKind::Hang(Duration::from_secs(3)),
        )
        .times(1),
    );
    let e = api.try_call("GET", &services, Duration::from_millis(300));
    assert!(e.is_err(), "a hang outlasts the client's timeout: {e:?}");

    // a token "revoked" in the middle of a run: one 401, the next call works
    sim.fault(Fault::new(None, "/compute/", FaultKind::Unauthorized).times(1));
    assert_eq!(api.nova("GET", "/os-services", "2.53", None).status, 401);
    assert_eq!(
        api.try_call("GET", &services, Duration::from_secs(5)),
        Ok(200)
    );

    let faults: Vec<String> = sim
        .requests()
        .iter()
        .filter_map(|r| r.fault.clone())
        .collect();
    assert_eq!(
        faults,
        [
            "status",
            "status",
            "malformed",
            "drop",
            "hang",
            "unauthorized"
        ]
    );
    sim.fault(Fault::new(None, ".", FaultKind::Status(500)));
    sim.clear_faults();
    assert_eq!(api.nova("GET", "/os-services", "2.53", None).status, 200);

    // latency delays the answer, not its content
    sim.set_latency(30);
    let before = sim.requests().len();
    assert_eq!(api.nova("GET", "/os-services", "2.53", None).status, 200);
    let reqs = sim.requests();
    assert_eq!(reqs.len(), before + 1);
    assert!(reqs.windows(2).all(|w| w[0].time <= w[1].time));
    assert!(!sim.stderr().contains("Traceback"), "{}", sim.stderr());
}

#[test]
fn lock_unlock_and_reset_state() {
    let sim = NovaSim::start(
        SimConfig::new()
            .hosts(&["compute-0"])
            .servers_on("compute-0", 1),
    );
    let api = sim.api(&sim.admin());
    let id = server_id("compute-0", 0);
    let act =
        |mv: &str, body: Value| api.nova("POST", &format!("/servers/{id}/action"), mv, Some(&body));
    assert_eq!(
        act("2.72", json!({"lock": {"locked_reason": "evacuating"}})).status,
        400
    );
    assert_eq!(
        act("2.73", json!({"lock": {"locked_reason": "evacuating"}})).status,
        202
    );
    let s = api
        .nova("GET", &format!("/servers/{id}"), "2.73", None)
        .body["server"]
        .clone();
    assert_eq!(
        (s["locked"].as_bool(), s["locked_reason"].as_str()),
        (Some(true), Some("evacuating"))
    );
    assert_eq!(act("2.1", json!({"unlock": null})).status, 202);
    assert_eq!(sim.server(&id)["locked"], false);
    assert_eq!(act("2.1", json!({"lock": null})).status, 202);
    assert_eq!(sim.server(&id)["locked_reason"], Value::Null);
    // an admin's lock: the owner (a member here) cannot lift it
    let owned = "abababab-0000-4000-8000-000000000001";
    sim.set_state(&{
        let mut st = sim.state();
        st["servers"]
            .as_array_mut()
            .expect("servers")
            .push(json!({"id": owned, "name": "owned", "host": "compute-0",
                         "tenant_id": MEMBER_PROJECT_ID}));
        st
    });
    let member = sim.api(&sim.member());
    let path = format!("/servers/{owned}/action");
    assert_eq!(
        api.nova("POST", &path, "2.73", Some(&json!({"lock": null})))
            .status,
        202
    );
    assert_eq!(
        member
            .nova("POST", &path, "2.73", Some(&json!({"unlock": null})))
            .status,
        403
    );
    assert_eq!(
        api.nova("POST", &path, "2.73", Some(&json!({"unlock": null})))
            .status,
        202
    );
    assert_eq!(
        member
            .nova("POST", &path, "2.73", Some(&json!({"lock": null})))
            .status,
        202
    );
    assert_eq!(
        member
            .nova("POST", &path, "2.73", Some(&json!({"unlock": null})))
            .status,
        202
    );
    assert_eq!(
        member
            .nova(
                "POST",
                &path,
                "2.1",
                Some(&json!({"os-resetState": {"state": "error"}}))
            )
            .status,
        403
    );

    sim.set_server(&id, json!({"task_state": "rebuilding"}));
    assert_eq!(
        act("2.1", json!({"os-resetState": {"state": "paused"}})).status,
        400
    );
    assert_eq!(
        act("2.1", json!({"os-resetState": {"state": "error"}})).status,
        202
    );
    let s = sim.server(&id);
    assert_eq!(
        (s["vm_state"].as_str(), s["task_state"].is_null()),
        (Some("error"), true)
    );
    assert_eq!(
        act("2.1", json!({"os-resetState": {"state": "active"}})).status,
        202
    );
    assert_eq!(sim.server(&id)["vm_state"], "active");
    assert_eq!(act("2.1", json!({"nonsense": {}})).status, 400);
}

#[test]
fn tls_endpoint_is_verified_against_its_ca() {
    let sim = NovaSim::start(SimConfig::new().tls(true).hosts(&["compute-0"]));
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let ca = sim
        .ca_file()
        .expect("TLS simulators have a CA")
        .to_path_buf();
    let api = sim.api(&sim.admin());
    let r = api.nova("GET", "/os-services", "2.53", None);
    assert_eq!(r.status, 200);
    assert!(r.body["services"]
        .as_array()
        .is_some_and(|l| l.iter().any(|s| s["host"] == "compute-0")));
    // the catalog points at https too
    let doc = api.call("GET", &sim.compute_url("RegionOne", "public"), None, None);
    assert!(doc.body["version"]["links"][0]["href"]
        .as_str()
        .is_some_and(|h| h.starts_with("https://")));
    // a different CA does not verify it
    let (other, _) = generate_ca(sim.dir(), "other-ca");
    assert_ne!(other, ca);
    let pem = std::fs::read(&other).expect("read other CA");
    let cert = ureq::tls::Certificate::from_pem(&pem).expect("PEM");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                .build(),
        )
        .build()
        .into();
    assert!(
        agent.get(sim.auth_url()).call().is_err(),
        "wrong CA accepted"
    );
    assert!(Path::new(&ca).exists());
}

#[test]
fn control_api_state_config_reset_and_process_end() {
    let sim = NovaSim::start(
        SimConfig::new()
            .hosts(&["compute-0"])
            .latency_ms(0)
            .token_ttl(Duration::from_secs(600))
            .service_down_time(Duration::from_secs(60))
            .with_state(|v| v["regions"] = json!(["RegionOne", "RegionTwo", "RegionThree"])),
    );
    assert!(sim.port() > 0);
    // a nova-compute that stopped reporting 1 s ago is still "up" (service_down_time)
    let now = sim.requests().len(); // (no requests yet)
    assert_eq!(now, 0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    sim.set_service(
        "compute-0",
        "nova-compute",
        json!({"alive": false, "dead_since": t - 1.0}),
    );
    assert_eq!(sim.service("compute-0", "nova-compute")["state"], "up");
    sim.set_config(json!({"service_down_time": 0.5}));
    assert_eq!(sim.service("compute-0", "nova-compute")["state"], "down");
    // tokens live token_ttl
    sim.set_config(json!({"token_ttl": -1}));
    let anon = sim.anonymous();
    let r = auth(&anon, password_auth(&sim.admin()));
    let mut api = sim.anonymous();
    api.token = r.header("X-Subject-Token").unwrap_or_default().to_string();
    assert_eq!(
        api.nova("GET", "/os-services", "2.1", None).status,
        401,
        "born expired"
    );
    // whole-state replace, then reset to the start-up file
    let mut st = sim.state();
    st["servers"] =
        json!([{"id": "ffffffff-0000-4000-8000-000000000001", "name": "x", "host": "compute-0"}]);
    sim.set_state(&st);
    assert_eq!(sim.servers().len(), 1);
    assert_eq!(sim.state()["regions"].as_array().map(Vec::len), Some(3));
    sim.reset();
    assert_eq!(sim.servers().len(), 0);
    assert_eq!(sim.service("compute-0", "nova-compute")["state"], "up");
    assert!(sim.requests().is_empty());
    sim.clear_requests();
    assert_eq!(sim.control("GET", "config", None)["token_ttl"], 600.0);

    // Drop ends the process by PID
    let pid = sim.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(sim);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "simulator {pid} outlived its NovaSim"
    );
}

#[test]
fn bind_address_is_what_the_catalog_names() {
    // 127.0.0.0/8 is all loopback: another address stands for a node's service endpoint
    let sim = NovaSim::start(SimConfig::new().bind("127.0.0.2").hosts(&["compute-0"]));
    assert!(
        sim.base_url().starts_with("http://127.0.0.2:"),
        "{}",
        sim.base_url()
    );
    let api = sim.api(&sim.admin());
    assert!(api.compute.starts_with("http://127.0.0.2:"));
    let r = auth(&sim.anonymous(), password_auth(&sim.admin()));
    let urls = r.body["token"]["catalog"].to_string();
    assert!(
        urls.contains("http://127.0.0.2:") && !urls.contains("127.0.0.1"),
        "{urls}"
    );
    assert_eq!(api.nova("GET", "/os-services", "2.53", None).status, 200);
}
