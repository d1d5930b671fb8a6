//! Reading the few facts the runtime needs from an agent's own meta-data XML: the actions
//! it advertises (so an action it does not advertise is OCF_ERR_UNIMPLEMENTED) and its
//! short description. The XML is our own, static and validated in tests, so a small scan
//! is enough; no XML parser ships in the binary.

/// The values of `attr` on every `<tag ...>` element, in document order.
fn attribute_values<'a>(xml: &'a str, tag: &str, attr: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let needle = format!("{attr}=\"");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(pos) = rest.find(&open) {
        rest = &rest[pos + open.len()..];
        // `<action` must not match `<actions`.
        if !rest.starts_with(|c: char| c.is_whitespace()) {
            continue;
        }
        let end = rest.find('>').unwrap_or(rest.len());
        let element = &rest[..end];
        let value = element
            .match_indices(&needle)
            .find(|(i, _)| element[..*i].ends_with(char::is_whitespace))
            .and_then(|(i, _)| {
                let start = i + needle.len();
                let len = element[start..].find('"')?;
                Some(&element[start..start + len])
            });
        if let Some(v) = value {
            out.push(v);
        }
        rest = &rest[end..];
    }
    out
}

/// Text made safe for an XML attribute value or element (meta-data, a CIB).
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The names of the `<action name="...">` elements.
pub fn advertised_actions(xml: &str) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for name in attribute_values(xml, "action", "name") {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The agent-level `<shortdesc>` (the first one before `<parameters>`).
pub fn shortdesc(xml: &str) -> &str {
    let head = xml.split("<parameters").next().unwrap_or(xml);
    head.find("<shortdesc")
        .and_then(|s| {
            let after = &head[s..];
            let open_end = after.find('>')? + 1;
            let close = after.find("</shortdesc>")?;
            Some(after[open_end..close].trim())
        })
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="X">
<version>1.1</version>
<longdesc lang="en">Long</longdesc>
<shortdesc lang="en">Short text</shortdesc>
<parameters>
<parameter name="p"><longdesc lang="en">l</longdesc><shortdesc lang="en">param short</shortdesc><content type="string"/></parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" depth="0"/>
<action name="monitor" timeout="30s" interval="60s" depth="10"/>
<action name="meta-data"   timeout="5s"/>
</actions>
</resource-agent>"#;

    #[test]
    fn finds_actions_once_each() {
        assert_eq!(
            advertised_actions(XML),
            vec!["start", "monitor", "meta-data"]
        );
    }

    #[test]
    fn finds_agent_shortdesc_not_a_parameters() {
        assert_eq!(shortdesc(XML), "Short text");
    }
}
