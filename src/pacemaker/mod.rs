//! Pacemaker's command-line tools, wrapped: structured output in, typed answers out.

pub mod attrd;

use std::time::Duration;

use crate::ocf::process;
use crate::ocf::{Context, OcfError, OcfResult};

/// The cluster's name for this node: Pacemaker's own word (CRM_meta_on_node), else
/// `crm_node -n`. Never the host name, which differs from it in FQDN clusters.
pub fn local_node_name(ctx: &Context<'_>) -> OcfResult<String> {
    if let Some(node) = ctx.env.on_node() {
        return Ok(node.to_string());
    }
    let argv = ["crm_node".to_string(), "-n".to_string()];
    let out = process::run(&argv, ctx.deadline.budget(Duration::from_secs(10)))
        .map_err(|e| OcfError::Generic(format!("cannot learn this node's cluster name: {e}")))?;
    let name = out.stdout.trim();
    if !out.success() || name.is_empty() {
        return Err(OcfError::Generic(format!(
            "crm_node -n failed ({}): {}",
            out.describe_status(),
            out.stderr.trim()
        )));
    }
    Ok(name.to_string())
}

/// Who is in the cluster, as crm_mon sees it from this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// The DC, when one is elected.
    pub dc: Option<String>,
    /// Full members (not remote nodes) that are online.
    pub online_members: Vec<String>,
}

/// `crm_mon --output-as=xml`, bounded by `limit`.
pub fn membership(limit: Duration) -> Result<Membership, String> {
    let argv: Vec<String> = ["crm_mon", "--one-shot", "--output-as=xml"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = process::run(&argv, limit).map_err(|e| format!("crm_mon: {e}"))?;
    if !out.success() {
        return Err(format!(
            "crm_mon failed ({}): {}",
            out.describe_status(),
            out.stderr.trim().replace('\n', " ")
        ));
    }
    parse_membership(&out.stdout)
}

pub fn parse_membership(xml: &str) -> Result<Membership, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("crm_mon XML: {e}"))?;
    let dc = doc
        .descendants()
        .find(|n| n.has_tag_name("current_dc"))
        .filter(|n| n.attribute("present") == Some("true"))
        .and_then(|n| n.attribute("name"))
        .map(str::to_string);
    let online_members = doc
        .descendants()
        .filter(|n| n.has_tag_name("node"))
        .filter(|n| n.attribute("type") == Some("member") && n.attribute("online") == Some("true"))
        .filter_map(|n| n.attribute("name").map(str::to_string))
        .collect();
    Ok(Membership { dc, online_members })
}

/// This node's cluster name (`crm_node -n`), for programs without CRM_meta_on_node.
pub fn node_name(limit: Duration) -> Result<String, String> {
    let argv = ["crm_node".to_string(), "-n".to_string()];
    let out = process::run(&argv, limit).map_err(|e| format!("crm_node -n: {e}"))?;
    let name = out.stdout.trim();
    if !out.success() || name.is_empty() {
        return Err(format!(
            "crm_node -n failed ({}): {}",
            out.describe_status(),
            out.stderr.trim()
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_from_crm_mon() {
        let xml = r#"<pacemaker-result api-version="2.30" request="crm_mon --output-as=xml">
  <summary><current_dc present="true" version="2.1.5" name="ctl-1" id="2" with_quorum="true"/></summary>
  <nodes>
    <node name="ctl-0" id="1" online="true" standby="false" type="member"/>
    <node name="ctl-1" id="2" online="true" type="member"/>
    <node name="ctl-2" id="3" online="false" type="member"/>
    <node name="compute-1" id="compute-1" online="true" type="remote"/>
  </nodes></pacemaker-result>"#;
        let m = parse_membership(xml).unwrap();
        assert_eq!(m.dc.as_deref(), Some("ctl-1"));
        assert_eq!(m.online_members, ["ctl-0", "ctl-1"]);
        let none = parse_membership(
            r#"<pacemaker-result><summary><current_dc present="false"/></summary></pacemaker-result>"#,
        )
        .unwrap();
        assert_eq!(none.dc, None);
    }
}
