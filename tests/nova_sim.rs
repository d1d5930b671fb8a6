//! The Nova/Keystone/Glance simulator's own semantics, which the client tests rely on.

mod common;

use common::nova::*;

#[test]
fn sim_auth_catalog_and_services() {
    let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0", "compute-1"]));
    let api = sim.api(&sim.admin());
    let r = api.nova("GET", "/os-services?binary=nova-compute", "2.53", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("OpenStack-API-Version"), Some("compute 2.53"));
    assert_eq!(r.body["services"].as_array().map(Vec::len), Some(2));
}
