//! Pacemaker's clone notifications (`OCF_RESKEY_CRM_meta_notify_*`).
//!
//! Lists are space separated, an empty list is a single space, and `<list>_resource[i]`
//! runs on `<list>_uname[i]`: they are paired by position, never sorted.

use super::env::OcfEnv;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyType {
    Pre,
    Post,
}

/// One clone instance named in a notification, with the node it is on (when Pacemaker says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceOnNode {
    pub resource: String,
    pub uname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: NotifyType,
    /// start, stop, promote or demote
    pub operation: String,
    pub start: Vec<InstanceOnNode>,
    pub stop: Vec<InstanceOnNode>,
    pub active: Vec<InstanceOnNode>,
    pub promote: Vec<InstanceOnNode>,
    pub demote: Vec<InstanceOnNode>,
    pub all_unames: Vec<String>,
    pub available_unames: Vec<String>,
}

impl Notification {
    pub fn from_env(env: &OcfEnv) -> Option<Notification> {
        let kind = match env.meta("notify_type")?.trim() {
            "pre" => NotifyType::Pre,
            "post" => NotifyType::Post,
            _ => return None,
        };
        let operation = env.meta("notify_operation")?.trim().to_string();
        let pairs = |list: &str| {
            paired(
                env.meta(&format!("notify_{list}_resource")),
                env.meta(&format!("notify_{list}_uname")),
            )
        };
        Some(Notification {
            kind,
            operation,
            start: pairs("start"),
            stop: pairs("stop"),
            active: pairs("active"),
            promote: pairs("promote"),
            demote: pairs("demote"),
            all_unames: split_list(env.meta("notify_all_uname")),
            available_unames: split_list(env.meta("notify_available_uname")),
        })
    }

    /// The distinct node names of a list, in the order Pacemaker gave them.
    pub fn unames(list: &[InstanceOnNode]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in list.iter().filter_map(|i| i.uname.clone()) {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }
}

/// Split a notify list: whitespace separated, a lone space (or nothing) is empty.
pub fn split_list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn paired(resources: Option<&str>, unames: Option<&str>) -> Vec<InstanceOnNode> {
    let resources = split_list(resources);
    let mut unames = split_list(unames).into_iter();
    let mut out: Vec<InstanceOnNode> = resources
        .into_iter()
        .map(|resource| InstanceOnNode {
            resource,
            uname: unames.next(),
        })
        .collect();
    // More unames than resources should not happen; keep them rather than lose a node.
    out.extend(unames.map(|u| InstanceOnNode {
        resource: String::new(),
        uname: Some(u),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> OcfEnv {
        OcfEnv::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_CRM_meta_{k}"), v.to_string())),
        )
    }

    #[test]
    fn single_space_is_an_empty_list() {
        let n = Notification::from_env(&env(&[
            ("notify_type", "pre"),
            ("notify_operation", "start"),
            ("notify_stop_resource", " "),
            ("notify_stop_uname", " "),
        ]))
        .expect("a notification");
        assert_eq!(n.kind, NotifyType::Pre);
        assert!(n.stop.is_empty());
    }

    #[test]
    fn resources_pair_with_unames_by_position_not_sorted() {
        let n = Notification::from_env(&env(&[
            ("notify_type", "post"),
            ("notify_operation", "stop"),
            ("notify_stop_resource", "grace:2 grace:0"),
            ("notify_stop_uname", "node3 node1"),
            ("notify_active_uname", "node2 node3 node1"),
            ("notify_active_resource", "grace:1 grace:2 grace:0"),
        ]))
        .expect("a notification");
        assert_eq!(
            n.stop,
            vec![
                InstanceOnNode {
                    resource: "grace:2".into(),
                    uname: Some("node3".into())
                },
                InstanceOnNode {
                    resource: "grace:0".into(),
                    uname: Some("node1".into())
                },
            ]
        );
        assert_eq!(
            Notification::unames(&n.active),
            vec!["node2", "node3", "node1"]
        );
    }

    #[test]
    fn not_a_notification_without_type() {
        assert!(Notification::from_env(&env(&[("notify_operation", "stop")])).is_none());
        assert!(Notification::from_env(&env(&[
            ("notify_type", "sideways"),
            ("notify_operation", "stop")
        ]))
        .is_none());
    }
}
