//! The runtime of alert agents (programs Pacemaker runs for each cluster event, installed
//! under /usr/share/pacemaker/alerts): no action argument; the event is the `CRM_alert_*`
//! environment. Exit 0 when handled, 1 otherwise (Pacemaker logs the failure and the
//! agent's stderr).

use std::collections::BTreeMap;

use crate::ocf::agent::write_stderr;

/// What happened, as CRM_alert_kind says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Node,
    Fencing,
    Resource,
    Attribute,
}

/// One event: the kind, plus the `CRM_alert_*` variables by their suffix (`node`, `rsc`,
/// `task`, `rc`, `desc`, `recipient`, `timestamp`, `attribute_name`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvent {
    pub kind: AlertKind,
    vars: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AlertError(pub String);

impl AlertEvent {
    /// From `(name, value)` pairs of an environment; only `CRM_alert_*` are read.
    pub fn from_vars<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<AlertEvent, AlertError> {
        let vars: BTreeMap<String, String> = pairs
            .into_iter()
            .filter_map(|(k, v)| {
                k.as_ref()
                    .strip_prefix("CRM_alert_")
                    .map(|s| (s.to_string(), v.into()))
            })
            .collect();
        let kind = match vars.get("kind").map(String::as_str) {
            Some("node") => AlertKind::Node,
            Some("fencing") => AlertKind::Fencing,
            Some("resource") => AlertKind::Resource,
            Some("attribute") => AlertKind::Attribute,
            Some(other) => {
                return Err(AlertError(format!(
                    "unknown CRM_alert_kind '{}'",
                    crate::ocf::params::printable(other)
                )))
            }
            None => {
                return Err(AlertError(
                    "CRM_alert_kind is not set: an alert agent is run by Pacemaker".into(),
                ))
            }
        };
        Ok(AlertEvent { kind, vars })
    }

    /// `CRM_alert_<name>`, when set and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn node(&self) -> Option<&str> {
        self.var("node")
    }

    /// The operation's OCF code (resource events) or the fencing result (0 = success).
    pub fn rc(&self) -> Option<i32> {
        self.var("rc").and_then(|v| v.trim().parse().ok())
    }
}

/// An alert agent of the suite.
pub trait AlertAgent: Sync {
    fn name(&self) -> &str;
    fn shortdesc(&self) -> &str;
    fn handle(&self, event: &AlertEvent) -> Result<(), AlertError>;
}

/// Run an alert agent on this process's environment.
pub fn run(agent: &dyn AlertAgent) -> i32 {
    // vars_os: std::env::vars() panics on a value that is not UTF-8.
    let vars = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    match AlertEvent::from_vars(vars).and_then(|e| agent.handle(&e)) {
        Ok(()) => 0,
        Err(e) => {
            write_stderr(&format!("{}: {e}\n", agent.name()));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_from_the_environment() {
        let e = AlertEvent::from_vars([
            ("CRM_alert_kind", "fencing"),
            ("CRM_alert_node", "node2"),
            ("CRM_alert_rc", "0"),
            ("CRM_alert_desc", ""),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert_eq!(e.kind, AlertKind::Fencing);
        assert_eq!(e.node(), Some("node2"));
        assert_eq!(e.rc(), Some(0));
        assert_eq!(e.var("desc"), None);
        assert_eq!(e.var("PATH"), None);
        assert!(AlertEvent::from_vars([("CRM_alert_kind", "x")]).is_err());
        assert!(AlertEvent::from_vars(Vec::<(String, String)>::new()).is_err());
    }
}
