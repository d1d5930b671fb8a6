//! What crm_mon and attrd_updater answer, read as pure functions of their XML (unit-tested
//! below, without a cluster).

/// Ok if crm_mon's XML shows every node of `want` online, a DC and quorum.
pub fn cluster_ready(xml: &str, want: &[&str]) -> Result<(), String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("bad crm_mon XML: {e}"))?;
    let dc = doc
        .descendants()
        .find(|n| n.has_tag_name("current_dc"))
        .ok_or("no current_dc in crm_mon output")?;
    if dc.attribute("present") != Some("true") {
        return Err("no DC elected yet".into());
    }
    if dc.attribute("with_quorum") != Some("true") {
        return Err("no quorum yet".into());
    }
    let online: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("node") && n.parent().is_some_and(|p| p.has_tag_name("nodes")))
        .filter(|n| n.attribute("online") == Some("true"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    let missing: Vec<&&str> = want.iter().filter(|w| !online.contains(w)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("not online yet: {missing:?} (online: {online:?})"))
    }
}

/// Does crm_mon's XML show resource `id` (or a clone instance `id:N`) in `role` on
/// `node`? "Stopped" means: not active on `node`.
pub fn resource_has_role(xml: &str, id: &str, node: &str, role: &str) -> Result<bool, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("bad crm_mon XML: {e}"))?;
    let is_id = |rid: &str| rid == id || rid.strip_prefix(id).is_some_and(|r| r.starts_with(':'));
    let on_node = |r: &roxmltree::Node| {
        r.children()
            .any(|c| c.has_tag_name("node") && c.attribute("name") == Some(node))
    };
    let mut found = false;
    let mut matched = false;
    for r in doc.descendants().filter(|n| n.has_tag_name("resource")) {
        if !r.attribute("id").is_some_and(is_id) {
            continue;
        }
        found = true;
        if role == "Stopped" {
            if r.attribute("active") == Some("true") && on_node(&r) {
                return Ok(false);
            }
        } else if r.attribute("role") == Some(role) && on_node(&r) {
            matched = true;
        }
    }
    if role == "Stopped" {
        // a resource that is not in the configuration (yet) is not "Stopped"
        return if found {
            Ok(true)
        } else {
            Err(format!("no resource {id} in crm_mon output"))
        };
    }
    Ok(matched)
}

/// (host, value) of every `<attribute>` in attrd_updater's XML output.
pub fn attributes(xml: &str) -> Vec<(String, String)> {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Vec::new();
    };
    doc.descendants()
        .filter(|n| n.has_tag_name("attribute"))
        .filter_map(|n| Some((n.attribute("host")?.into(), n.attribute("value")?.into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: &str = r#"<pacemaker-result>
  <summary><current_dc present="true" with_quorum="true" name="node1"/></summary>
  <nodes>
    <node name="node1" online="true"/>
    <node name="node2" online="false"/>
  </nodes>
  <resources>
    <clone id="grace-clone">
      <resource id="grace:0" role="Started" active="true"><node name="node1"/></resource>
      <resource id="grace:1" role="Stopped" active="false"/>
    </clone>
    <resource id="web" role="Started" active="true"><node name="node1"/></resource>
  </resources>
</pacemaker-result>"#;

    #[test]
    fn readiness_needs_dc_quorum_and_every_node_online() {
        assert!(cluster_ready(MON, &["node1"]).is_ok());
        let e = cluster_ready(MON, &["node1", "node2"]).unwrap_err();
        assert!(e.contains("node2"), "{e}");
        let no_quorum = MON.replace(r#"with_quorum="true""#, r#"with_quorum="false""#);
        assert_eq!(
            cluster_ready(&no_quorum, &["node1"]).unwrap_err(),
            "no quorum yet"
        );
        assert!(cluster_ready("<not xml", &[]).is_err());
    }

    #[test]
    fn roles_of_resources_and_clone_instances() {
        assert_eq!(resource_has_role(MON, "web", "node1", "Started"), Ok(true));
        assert_eq!(
            resource_has_role(MON, "grace", "node1", "Started"),
            Ok(true)
        );
        assert_eq!(
            resource_has_role(MON, "grace", "node2", "Started"),
            Ok(false)
        );
        assert_eq!(resource_has_role(MON, "web", "node2", "Stopped"), Ok(true));
        assert_eq!(resource_has_role(MON, "web", "node1", "Stopped"), Ok(false));
        assert!(resource_has_role(MON, "nothere", "node1", "Stopped").is_err());
    }

    #[test]
    fn attributes_from_attrd_updater() {
        let xml = r#"<pacemaker-result><attribute name="a" value="1" host="node1"/><attribute name="a" value="" host="node2"/></pacemaker-result>"#;
        assert_eq!(
            attributes(xml),
            vec![("node1".into(), "1".into()), ("node2".into(), "".into())]
        );
        assert!(attributes("garbage").is_empty());
    }
}
