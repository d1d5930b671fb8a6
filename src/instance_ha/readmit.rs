//! When a recovered compute host may run nova-compute again, and which disabled service it
//! may enable afterwards (NovaCompute, nova-compute-wait). Starting nova-compute while an
//! instance of this host is still being rebuilt elsewhere confuses or destroys it, so the
//! evacuation must be over, not merely submitted: the `evacuate` attribute is neither
//! `yes` nor in flight, the durable marker in Nova is not open, and Nova lists no
//! evacuation migration from the host that is still going on. The attribute alone is not
//! enough: a remote node's attributes are wiped when its connection drops and at rejoin.

use std::fmt;

use super::attribute::Value;
use super::marker::Marker;

/// Is a migration in this status still going on? Everything that is not finished one
/// way or the other counts (accepted, pre-migrating, migrating, running, post-migrating,
/// queued, preparing, and whatever a newer Nova adds).
pub fn migration_active(status: &str) -> bool {
    !matches!(
        status.to_ascii_lowercase().as_str(),
        "done" | "completed" | "finished" | "confirmed" | "failed" | "error" | "cancelled"
    )
}

/// One thing the host still waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// The `evacuate` attribute under `key` asks for, or reports, an evacuation.
    Attribute { key: String, value: String },
    /// The service's disabled_reason is an open ocfbox marker.
    Marker(String),
    /// Evacuations from the host still going on: (instance, status) pairs.
    Migrations(Vec<(String, String)>),
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Attribute { key, value } => {
                write!(f, "attribute evacuate={value} for {key}")
            }
            Blocker::Marker(m) => write!(f, "Nova marks the host '{m}'"),
            Blocker::Migrations(list) => {
                write!(f, "{} evacuation(s) still running (", list.len())?;
                for (i, (id, status)) in list.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    if i == 5 {
                        return write!(f, "…)");
                    }
                    write!(f, "{id} {status}")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// What blocks the host, from the attribute values under each key it may be known by, its
/// service's disabled_reason, and its evacuation migrations' (instance, status).
pub fn blockers(
    attributes: &[(String, Option<String>)],
    disabled_reason: Option<&str>,
    migrations: &[(String, String)],
) -> Vec<Blocker> {
    let mut out = Vec::new();
    for (key, raw) in attributes {
        match Value::parse(raw.as_deref()) {
            Value::Yes | Value::InFlight { .. } => out.push(Blocker::Attribute {
                key: key.clone(),
                value: raw.clone().unwrap_or_default(),
            }),
            Value::No | Value::Empty | Value::Other(_) => {}
        }
    }
    if let Some(m) = disabled_reason.and_then(Marker::parse) {
        if m.is_open() {
            out.push(Blocker::Marker(m.to_string()));
        }
    }
    let active: Vec<(String, String)> = migrations
        .iter()
        .filter(|(_, s)| migration_active(s))
        .cloned()
        .collect();
    if !active.is_empty() {
        out.push(Blocker::Migrations(active));
    }
    out
}

/// Blockers in one line, for the log and the exit reason.
pub fn describe(blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(Blocker::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whose disable is it? Only ours or the fencing's may be undone by the recovered host;
/// an operator's (maintenance) stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisabledBy {
    /// An ocfbox marker (fence agent, NovaEvacuate, NovaCompute).
    Ocfbox(Marker),
    /// Stock fence_compute: it disables without a reason, after forcing the service down.
    FenceCompute,
    /// Anyone else (a reason that is not ours, or no reason on a service never forced down).
    Operator(String),
}

/// `reason` of a disabled service; `forced_down` as the service was found before this
/// host cleared it.
pub fn disabled_by(reason: Option<&str>, forced_down: bool) -> DisabledBy {
    let reason = reason.map(str::trim).unwrap_or("");
    if let Some(m) = Marker::parse(reason) {
        return DisabledBy::Ocfbox(m);
    }
    if reason.is_empty() && forced_down {
        return DisabledBy::FenceCompute;
    }
    DisabledBy::Operator(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(key: &str, v: Option<&str>) -> (String, Option<String>) {
        (key.to_string(), v.map(str::to_string))
    }

    fn mig(id: &str, s: &str) -> (String, String) {
        (id.to_string(), s.to_string())
    }

    #[test]
    fn over_only_when_attribute_marker_and_migrations_all_agree() {
        assert!(blockers(&[attr("c0", None)], None, &[]).is_empty());
        assert!(blockers(&[attr("c0", Some("no"))], Some(""), &[mig("a", "done")]).is_empty());
        assert!(blockers(&[attr("c0", Some(""))], None, &[mig("a", "completed")]).is_empty());
        assert!(blockers(&[], Some("ocfbox evacuation done 5"), &[mig("a", "failed")]).is_empty());
        let b = blockers(&[attr("c0", Some("yes"))], None, &[]);
        assert_eq!(b.len(), 1);
        assert!(
            describe(&b).contains("evacuate=yes for c0"),
            "{}",
            describe(&b)
        );
        // in flight, fresh or stale: somebody is (or should be) at it
        assert_eq!(blockers(&[attr("c0", Some("ctl@1"))], None, &[]).len(), 1);
        // the attribute wiped at rejoin: Nova still says
        let b = blockers(
            &[attr("c0", None)],
            Some("ocfbox evacuation running 7"),
            &[],
        );
        assert_eq!(
            b,
            vec![Blocker::Marker("ocfbox evacuation running 7".into())]
        );
        let b = blockers(
            &[attr("c0", Some("no"))],
            None,
            &[
                mig("a", "running"),
                mig("b", "done"),
                mig("c", "pre-migrating"),
                mig("d", "accepted"),
            ],
        );
        assert_eq!(
            describe(&b),
            "3 evacuation(s) still running (a running, c pre-migrating, d accepted)"
        );
        assert!(migration_active("queued") && migration_active("preparing"));
        assert!(!migration_active("Completed") && !migration_active("error"));
    }

    #[test]
    fn only_our_or_the_fencings_disable_is_undone() {
        assert_eq!(
            disabled_by(Some("ocfbox evacuation done 3"), true),
            DisabledBy::Ocfbox(Marker::Done(3))
        );
        assert_eq!(
            disabled_by(Some("ocfbox nova-compute failed 3"), false),
            DisabledBy::Ocfbox(Marker::ComputeFailed(3))
        );
        assert_eq!(disabled_by(None, true), DisabledBy::FenceCompute);
        assert_eq!(disabled_by(Some(" "), true), DisabledBy::FenceCompute);
        assert_eq!(
            disabled_by(Some("maintenance: new disks"), true),
            DisabledBy::Operator("maintenance: new disks".into())
        );
        assert_eq!(
            disabled_by(None, false),
            DisabledBy::Operator(String::new())
        );
    }
}
