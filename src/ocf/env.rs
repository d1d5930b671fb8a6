//! The environment Pacemaker hands an agent: instance parameters (`OCF_RESKEY_*`), the
//! operation's meta attributes (`OCF_RESKEY_CRM_meta_*`) and the OCF variables.
//!
//! Captured once per invocation, so an action sees one consistent view, and so tests can
//! build one from a list of pairs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::notify::Notification;

const RESKEY: &str = "OCF_RESKEY_";
const META: &str = "OCF_RESKEY_CRM_meta_";

/// Pacemaker's default operation timeout, used when CRM_meta_timeout is absent (a manual run).
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Default)]
pub struct OcfEnv {
    vars: BTreeMap<String, String>,
    /// Variables whose value was not UTF-8: reading them as a parameter is an error, not a
    /// silently mangled string.
    not_utf8: BTreeSet<String>,
}

impl OcfEnv {
    pub fn from_process() -> Self {
        let mut env = OcfEnv::default();
        for (key, value) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            match value.into_string() {
                Ok(v) => {
                    env.vars.insert(key.to_string(), v);
                }
                Err(_) => {
                    env.not_utf8.insert(key.to_string());
                }
            }
        }
        env
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        OcfEnv {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            not_utf8: BTreeSet::new(),
        }
    }

    /// Any variable, as the process saw it (empty counts as unset, as `${X:-}` does in shell agents).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn var_is_not_utf8(&self, name: &str) -> bool {
        self.not_utf8.contains(name)
    }

    /// An instance parameter `OCF_RESKEY_<name>`; empty means unset.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.var(&format!("{RESKEY}{name}"))
    }

    pub fn param_is_not_utf8(&self, name: &str) -> bool {
        self.not_utf8.contains(&format!("{RESKEY}{name}"))
    }

    /// Names of all instance parameters present (without the prefix, meta attributes excluded).
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.vars
            .keys()
            .filter_map(|k| k.strip_prefix(RESKEY))
            .filter(|k| !k.starts_with("CRM_meta_") && *k != "crm_feature_set")
    }

    /// A meta attribute `OCF_RESKEY_CRM_meta_<name>`.
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.var(&format!("{META}{name}"))
    }

    /// The operation timeout (CRM_meta_timeout, in ms). Absent or unreadable means Pacemaker's
    /// default: a garbled value must not turn into "no time at all".
    pub fn op_timeout(&self) -> Duration {
        self.meta("timeout")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_OP_TIMEOUT)
    }

    /// The recurring interval in ms; absent means 0 (Pacemaker sends no interval for probes).
    pub fn interval_ms(&self) -> u64 {
        self.meta("interval")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    }

    /// A probe is a monitor with no (or a zero) interval.
    pub fn is_probe(&self, action: &str) -> bool {
        matches!(action, "monitor" | "status") && self.interval_ms() == 0
    }

    /// OCF_CHECK_LEVEL, 0 when absent.
    pub fn check_level(&self) -> u32 {
        self.check_level_given().unwrap_or(0)
    }

    /// OCF_CHECK_LEVEL when Pacemaker passed one (an agent may default otherwise). A value
    /// that is not a number reads as 0, with a warning: the lightest check is the safe
    /// reading.
    pub fn check_level_given(&self) -> Option<u32> {
        let v = self.var("OCF_CHECK_LEVEL")?;
        Some(v.trim().parse().unwrap_or_else(|_| {
            log::warn!(
                "OCF_CHECK_LEVEL '{}' is not a number; checking at level 0",
                super::params::printable(v)
            );
            0
        }))
    }

    pub fn resource_instance(&self) -> Option<&str> {
        self.var("OCF_RESOURCE_INSTANCE")
    }

    /// The node Pacemaker runs this operation on, when it says so.
    pub fn on_node(&self) -> Option<&str> {
        self.meta("on_node")
    }

    /// True when the resource is a clone instance (clone_max is set).
    pub fn is_clone(&self) -> bool {
        self.meta("clone_max").is_some()
    }

    /// The notification of a `notify` operation, if the variables describe one.
    pub fn notification(&self) -> Option<Notification> {
        Notification::from_env(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_interval_is_a_probe() {
        let env = OcfEnv::from_pairs([("OCF_RESKEY_CRM_meta_timeout", "5000")]);
        assert!(env.is_probe("monitor"));
        assert!(!env.is_probe("start"));
        let recurring = OcfEnv::from_pairs([("OCF_RESKEY_CRM_meta_interval", "10000")]);
        assert!(!recurring.is_probe("monitor"));
        let zero = OcfEnv::from_pairs([("OCF_RESKEY_CRM_meta_interval", "0")]);
        assert!(zero.is_probe("monitor"));
    }

    #[test]
    fn timeout_is_in_milliseconds_with_pacemakers_default() {
        let env = OcfEnv::from_pairs([("OCF_RESKEY_CRM_meta_timeout", "90000")]);
        assert_eq!(env.op_timeout(), Duration::from_secs(90));
        assert_eq!(OcfEnv::default().op_timeout(), DEFAULT_OP_TIMEOUT);
        let garbled = OcfEnv::from_pairs([("OCF_RESKEY_CRM_meta_timeout", "soon")]);
        assert_eq!(garbled.op_timeout(), DEFAULT_OP_TIMEOUT);
    }

    #[test]
    fn empty_parameter_counts_as_unset_and_meta_is_not_a_parameter() {
        let env = OcfEnv::from_pairs([
            ("OCF_RESKEY_unit", ""),
            ("OCF_RESKEY_name", "x"),
            ("OCF_RESKEY_CRM_meta_timeout", "1"),
            ("OCF_RESKEY_crm_feature_set", "3.16.1"),
        ]);
        assert_eq!(env.param("unit"), None);
        assert_eq!(env.param("name"), Some("x"));
        let names: Vec<&str> = env.param_names().collect();
        assert_eq!(names, vec!["name", "unit"]);
    }

    #[test]
    fn check_level_defaults_to_zero() {
        assert_eq!(OcfEnv::default().check_level(), 0);
        let env = OcfEnv::from_pairs([("OCF_CHECK_LEVEL", "10")]);
        assert_eq!(env.check_level(), 10);
        assert_eq!(OcfEnv::default().check_level_given(), None);
        let env = OcfEnv::from_pairs([("OCF_CHECK_LEVEL", "deep")]);
        assert_eq!(env.check_level_given(), Some(0));
    }
}
