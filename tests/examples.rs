//! The crm examples under packaging/examples load into a real Pacemaker as written, with
//! the ocfbox agents installed: an example an operator cannot paste is worse than none.
//! The cluster is in maintenance mode, so nothing in them is started on this machine.

use crate::common;

use common::pacemaker::{Cluster, ClusterOptions};
use common::{ocfbox_provider_dir, require_root, TempDir};

#[test]
fn crm_examples_load_and_name_ocfbox_agents_pacemaker_knows() {
    require_root();
    let tmp = TempDir::new("examples");
    let cluster = Cluster::start(ClusterOptions {
        ocf_provider_dirs: vec![("ocfbox".into(), ocfbox_provider_dir(tmp.path()))],
        properties: vec![("maintenance-mode".into(), "true".into())],
        ..Default::default()
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/examples");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).expect("packaging/examples exists") {
        let path = entry.expect("read dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("crm") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read example");
        cluster
            .crm_configure(&text)
            .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()));
        // Every ocfbox primitive of the example is in the CIB, and Pacemaker can read the
        // agent's meta-data (crm_resource asks the agent itself).
        for agent in text
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("ocf:ocfbox:"))
        {
            cluster
                .node(0)
                .exec_ok(&[
                    "crm_resource",
                    "--show-metadata",
                    &format!("ocf:ocfbox:{agent}"),
                ])
                .unwrap_or_else(|e| panic!("{}: agent {agent}: {e}", path.display()));
        }
        let cib = cluster
            .node(0)
            .exec_ok(&["cibadmin", "-Q", "-o", "resources"])
            .expect("query the CIB");
        for id in text.lines().filter_map(|l| {
            l.strip_prefix("primitive ")
                .and_then(|rest| rest.split_whitespace().next())
        }) {
            assert!(
                cib.contains(&format!("id=\"{id}\"")),
                "{}: primitive {id} is not in the CIB",
                path.display()
            );
        }
        loaded += 1;
    }
    assert!(loaded >= 2, "expected the crm examples, found {loaded}");
}
