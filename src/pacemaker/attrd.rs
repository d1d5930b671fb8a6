//! Transient node attributes through `attrd_updater` (Pacemaker's attribute manager).
//!
//! Queries are parsed from `--output-as=xml`, never from the text output: its quoting
//! changed between Pacemaker versions and silently broke glusterfs' ganesha_grace (#2522).
//! Updates are asynchronous: attrd accepts them at once and writes the CIB a little later,
//! so a caller that needs to see its own write must poll [`query`].

use std::time::Duration;

use crate::ocf::process::{self, ProcessError};
use crate::ocf::{Deadline, OcfError, OcfResult};

/// attrd_updater's exit status when the attribute does not exist (CRM_EX_NOSUCH).
const RC_NO_SUCH_ATTRIBUTE: i32 = 78;
/// CRM_EX_NOSUCH as some versions spell "no such attribute" with `--all`.
const RC_NOSUCH: i32 = 105;

/// No attrd_updater call may take more than this, whatever is left of the operation.
const CALL_CAP: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum AttrdError {
    #[error("attribute name '{0}' is not a valid Pacemaker attribute name")]
    BadName(String),
    #[error("no time left in the operation's budget to {0}")]
    NoTime(String),
    #[error("cannot run attrd_updater to {what}: {source}")]
    Tool { what: String, source: ProcessError },
    #[error("attrd_updater could not {what} ({status}): {stderr}")]
    Failed {
        what: String,
        status: String,
        stderr: String,
    },
    #[error("attrd_updater's answer to {what} is not the XML expected: {detail}")]
    BadOutput { what: String, detail: String },
}

impl From<AttrdError> for OcfError {
    fn from(e: AttrdError) -> Self {
        match &e {
            AttrdError::BadName(_) => OcfError::Configured(e.to_string()),
            AttrdError::Tool {
                source: ProcessError::NotFound { .. },
                ..
            } => OcfError::NotInstalled(e.to_string()),
            _ => OcfError::Generic(e.to_string()),
        }
    }
}

/// A parameter whose value names a node attribute: OCF_ERR_CONFIGURED unless valid.
pub fn name_param(param: &str, value: &str) -> OcfResult<String> {
    if valid_name(value) {
        Ok(value.to_string())
    } else {
        Err(OcfError::configured(format!(
            "parameter '{param}' is not a valid attribute name: '{}'",
            crate::ocf::params::printable(value)
        )))
    }
}

/// Attribute names become XML attribute values and command-line arguments: keep them to
/// the characters Pacemaker's own ids use.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '#'))
}

fn check_name(name: &str) -> Result<(), AttrdError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(AttrdError::BadName(crate::ocf::params::printable(name)))
    }
}

fn call(
    args: &[&str],
    what: &str,
    deadline: &Deadline,
) -> Result<process::ProcessOutput, AttrdError> {
    let limit = deadline.budget(CALL_CAP);
    if limit.is_zero() {
        return Err(AttrdError::NoTime(what.to_string()));
    }
    let mut argv = vec!["attrd_updater".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    // pacemaker-execd sets CRM_meta_on_node for every agent, and attrd_updater 2.1.5 takes it
    // as the node to answer for: `-A` would then report the local node only.
    let inv = process::Invocation {
        argv: &argv,
        env: &[],
        env_remove: &["OCF_RESKEY_CRM_meta_on_node"],
    };
    process::run_invocation(&inv, limit).map_err(|source| AttrdError::Tool {
        what: what.to_string(),
        source,
    })
}

fn failed(what: &str, out: &process::ProcessOutput) -> AttrdError {
    AttrdError::Failed {
        what: what.to_string(),
        status: out.describe_status(),
        stderr: out.stderr.trim().replace('\n', " "),
    }
}

/// Set `name` to `value` on `node` (the local node when None).
pub fn update(
    name: &str,
    value: &str,
    node: Option<&str>,
    deadline: &Deadline,
) -> Result<(), AttrdError> {
    change(
        name,
        &format!("set {name}={value}"),
        &["--update", value],
        node,
        deadline,
    )
}

/// Set the private attribute `name` to `value` on `node`: kept in attrd's memory only,
/// never written to the CIB, and no transition follows (fence_compute's `evacuate`).
pub fn update_private(
    name: &str,
    value: &str,
    node: &str,
    deadline: &Deadline,
) -> Result<(), AttrdError> {
    change(
        name,
        &format!("set {name}={value} on {node}"),
        &["--private", "--update", value],
        Some(node),
        deadline,
    )
}

/// Unset `name` on `node` (attrd keeps it with an empty value, which [`query`] reports as
/// absent, and removes it from the CIB).
pub fn delete(name: &str, node: Option<&str>, deadline: &Deadline) -> Result<(), AttrdError> {
    change(
        name,
        &format!("delete {name}"),
        &["--delete"],
        node,
        deadline,
    )
}

/// One attrd_updater call that changes `name` (on the local node unless `node` is given).
fn change(
    name: &str,
    what: &str,
    operation: &[&str],
    node: Option<&str>,
    deadline: &Deadline,
) -> Result<(), AttrdError> {
    check_name(name)?;
    let mut args = vec!["--name", name];
    args.extend_from_slice(operation);
    if let Some(n) = node {
        args.extend(["--node", n]);
    }
    let out = call(&args, what, deadline)?;
    if out.success() {
        Ok(())
    } else {
        Err(failed(what, &out))
    }
}

/// The value of `name` on `node` as attrd holds it; None when it is unset or empty.
pub fn query(name: &str, node: &str, deadline: &Deadline) -> Result<Option<String>, AttrdError> {
    check_name(name)?;
    let what = format!("query {name} on {node}");
    let out = call(
        &["--name", name, "--query", "--node", node, "--output-as=xml"],
        &what,
        deadline,
    )?;
    if out.status.code() == Some(RC_NO_SUCH_ATTRIBUTE) {
        return Ok(None);
    }
    if !out.success() {
        return Err(failed(&what, &out));
    }
    parse_query(&out.stdout, name, node).map_err(|detail| AttrdError::BadOutput { what, detail })
}

/// `name` on every node attrd knows it for: (node, value) pairs, empty values included (a
/// deleted attribute stays in attrd with an empty value).
pub fn query_all(name: &str, deadline: &Deadline) -> Result<Vec<(String, String)>, AttrdError> {
    check_name(name)?;
    let what = format!("query {name} on all nodes");
    let out = call(
        &["--name", name, "--query", "--all", "--output-as=xml"],
        &what,
        deadline,
    )?;
    if out.status.code() == Some(RC_NO_SUCH_ATTRIBUTE) || out.status.code() == Some(RC_NOSUCH) {
        return Ok(Vec::new());
    }
    if !out.success() {
        return Err(failed(&what, &out));
    }
    parse_query_all(&out.stdout, name).map_err(|detail| AttrdError::BadOutput { what, detail })
}

pub fn parse_query_all(xml: &str, name: &str) -> Result<Vec<(String, String)>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if !root.has_tag_name("pacemaker-result") {
        return Err(format!("root element is <{}>", root.tag_name().name()));
    }
    Ok(root
        .descendants()
        .filter(|n| n.has_tag_name("attribute"))
        .filter(|n| n.attribute("name") == Some(name))
        .filter_map(|n| {
            Some((
                n.attribute("host")?.to_string(),
                n.attribute("value").unwrap_or("").to_string(),
            ))
        })
        .collect())
}

/// The value for (`name`, `node`) in attrd_updater's `<pacemaker-result>`.
pub fn parse_query(xml: &str, name: &str, node: &str) -> Result<Option<String>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if !root.has_tag_name("pacemaker-result") {
        return Err(format!("root element is <{}>", root.tag_name().name()));
    }
    let value = root
        .descendants()
        .filter(|n| n.has_tag_name("attribute"))
        .filter(|n| n.attribute("name") == Some(name))
        // Older tools omit host for the local node: accept that too.
        .find(|n| n.attribute("host").is_none_or(|h| h == node))
        .and_then(|n| n.attribute("value"))
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_restricted() {
        assert!(valid_name("grace-active"));
        assert!(valid_name("ganesha_active.1"));
        assert!(!valid_name(""));
        assert!(!valid_name("--delete"));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a\"b"));
        assert!(!valid_name("a\nb"));
    }

    #[test]
    fn parses_the_value_for_the_node_asked() {
        let xml = r#"<pacemaker-result api-version="2.25" request="attrd_updater -n grace-active -Q -N node2 --output-as=xml">
  <attribute name="grace-active" value="1" host="node2"/>
  <status code="0" message="OK"/>
</pacemaker-result>"#;
        assert_eq!(
            parse_query(xml, "grace-active", "node2").unwrap(),
            Some("1".to_string())
        );
        assert_eq!(parse_query(xml, "grace-active", "node1").unwrap(), None);
        assert_eq!(parse_query(xml, "other", "node2").unwrap(), None);
    }

    #[test]
    fn all_nodes_with_empty_values() {
        let xml = r#"<pacemaker-result api-version="2.25" request="attrd_updater -n evacuate -Q -A --output-as=xml">
  <attribute name="evacuate" value="yes" host="cmp1"/>
  <attribute name="evacuate" value="" host="cmp2"/>
  <attribute name="evacuate" value="ctl1@1700000000" host="cmp3.example.com"/>
  <status code="0" message="OK"/>
</pacemaker-result>"#;
        let all = parse_query_all(xml, "evacuate").unwrap();
        assert_eq!(
            all,
            vec![
                ("cmp1".to_string(), "yes".to_string()),
                ("cmp2".to_string(), String::new()),
                (
                    "cmp3.example.com".to_string(),
                    "ctl1@1700000000".to_string()
                ),
            ]
        );
        assert!(parse_query_all("<x/>", "evacuate").is_err());
    }

    #[test]
    fn empty_value_is_absent_and_garbage_is_an_error() {
        let xml = r#"<pacemaker-result><attribute name="a" value="" host="n"/></pacemaker-result>"#;
        assert_eq!(parse_query(xml, "a", "n").unwrap(), None);
        assert!(parse_query("name=\"a\" host=\"n\" value=\"1\"", "a", "n").is_err());
        assert!(parse_query("<other/>", "a", "n").is_err());
    }
}
