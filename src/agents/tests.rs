//! Checks that hold for every registered agent: the meta-data XML and the code agree.

use std::collections::BTreeMap;

use crate::ocf::metadata;
use crate::ocf::ParamType;

struct XmlParam {
    ty: String,
    required: bool,
    default: Option<String>,
}

fn xml_params(xml: &str) -> BTreeMap<String, XmlParam> {
    // roxmltree refuses DTDs unless told; the DOCTYPE names an external DTD only.
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).expect("meta-data parses");
    let mut out = BTreeMap::new();
    for p in doc.descendants().filter(|n| n.has_tag_name("parameter")) {
        let name = p
            .attribute("name")
            .expect("parameter has a name")
            .to_string();
        let content = p
            .children()
            .find(|n| n.has_tag_name("content"))
            .unwrap_or_else(|| panic!("parameter {name} has no <content>"));
        out.insert(
            name,
            XmlParam {
                ty: content.attribute("type").unwrap_or("").to_string(),
                required: p.attribute("required") == Some("1"),
                default: content.attribute("default").map(str::to_string),
            },
        );
    }
    out
}

#[test]
fn every_agent_has_a_unique_name_and_a_shortdesc() {
    let agents = super::all();
    let mut names: Vec<&str> = agents.iter().map(|a| a.name()).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "duplicate agent names: {names:?}");
    for a in &agents {
        let xml = a.metadata();
        assert!(
            !metadata::shortdesc(&xml).is_empty(),
            "{} has no shortdesc",
            a.name()
        );
        assert!(
            xml.contains(&format!("<resource-agent name=\"{}\"", a.name())),
            "{}: resource-agent name attribute differs from the agent name",
            a.name()
        );
    }
}

#[test]
fn metadata_and_code_agree_on_every_parameter() {
    for agent in super::all() {
        let xml = agent.metadata();
        let declared = xml_params(&xml);
        let specs = agent.params();
        let name = agent.name();
        for spec in specs.iter() {
            let x = declared.get(spec.name).unwrap_or_else(|| {
                panic!(
                    "{name}: code reads parameter '{}' that meta-data does not declare",
                    spec.name
                )
            });
            let ty = match spec.ty {
                ParamType::String => "string",
                ParamType::Integer => "integer",
                ParamType::Boolean => "boolean",
            };
            assert_eq!(x.ty, ty, "{name}: type of '{}'", spec.name);
            assert_eq!(
                x.required, spec.required,
                "{name}: required flag of '{}'",
                spec.name
            );
            assert_eq!(
                x.default.as_deref(),
                spec.default,
                "{name}: default of '{}'",
                spec.name
            );
        }
        for xml_name in declared.keys() {
            assert!(
                specs.iter().any(|s| s.name == xml_name),
                "{name}: meta-data declares '{xml_name}' which the code never reads"
            );
        }
    }
}

/// The mandatory actions, and exactly the actions the agent's enum implements.
#[test]
fn every_agent_advertises_the_mandatory_actions() {
    for agent in super::all() {
        let xml = agent.metadata();
        let actions = metadata::advertised_actions(&xml);
        for required in ["start", "stop", "monitor", "meta-data", "validate-all"] {
            assert!(
                actions.contains(&required),
                "{} does not advertise {required}",
                agent.name()
            );
        }
        let mut advertised: Vec<&str> = actions.into_iter().filter(|a| *a != "meta-data").collect();
        advertised.sort();
        advertised.dedup();
        let mut implemented = agent.action_names().to_vec();
        implemented.sort();
        assert_eq!(advertised, implemented, "{}", agent.name());
    }
}

#[test]
fn meta_data_advertises_exactly_the_actions_the_code_implements() {
    for agent in super::all() {
        let xml = agent.metadata();
        let mut advertised: Vec<&str> = metadata::advertised_actions(&xml)
            .into_iter()
            .filter(|a| *a != "meta-data")
            .collect();
        advertised.sort();
        advertised.dedup();
        let mut implemented = agent.action_names().to_vec();
        implemented.sort();
        assert_eq!(advertised, implemented, "{}", agent.name());
    }
}
