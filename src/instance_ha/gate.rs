//! When a fenced compute host may take instances again: "evacuation over for host H" =
//! the attribute is neither `yes` nor a fresh in-flight mark, Nova's marker is not an open
//! request, and no evacuation migration from H is still moving. The attribute alone is not
//! enough: a remote node's attributes are wiped when its connection is lost and again at
//! its rejoin, so a recovered node asks Nova.

use super::attribute::{classify, Request, Value};
use super::marker::Marker;
use crate::openstack::Migration;

/// A migration status that is still moving (accepted, pre-migrating, running, queued,
/// preparing, migrating, post-migrating, ...): anything not final.
pub fn migration_active(status: &str) -> bool {
    !matches!(
        status.to_ascii_lowercase().as_str(),
        "done" | "completed" | "finished" | "confirmed" | "failed" | "error" | "cancelled"
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Over,
    /// Still evacuating: why, for the log.
    Waiting(String),
}

/// `migrations`: the evacuation migrations whose source is the host.
pub fn evacuation_gate(
    attr: &Value,
    marker: Option<Marker>,
    migrations: &[Migration],
    now: u64,
) -> Gate {
    // Not "me": a mark of any controller counts while it is fresh.
    match classify(attr, "", now) {
        Request::Evacuate if *attr == Value::Yes => {
            return Gate::Waiting("the evacuate attribute is yes".into())
        }
        Request::Busy { by, age_s } => {
            return Gate::Waiting(format!("{by} has been evacuating it for {age_s} s"))
        }
        _ => {}
    }
    if let Some(m) = marker.filter(Marker::is_open) {
        return Gate::Waiting(format!("Nova's marker says '{m}'"));
    }
    let moving: Vec<&str> = migrations
        .iter()
        .filter(|m| migration_active(&m.status))
        .map(|m| m.instance_uuid.as_str())
        .collect();
    if !moving.is_empty() {
        return Gate::Waiting(format!(
            "{} evacuation(s) still in progress ({})",
            moving.len(),
            moving.join(", ")
        ));
    }
    Gate::Over
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mig(status: &str) -> Migration {
        Migration {
            id: "1".into(),
            uuid: None,
            instance_uuid: "i-1".into(),
            source_compute: Some("c1".into()),
            dest_compute: None,
            status: status.into(),
            migration_type: Some("evacuation".into()),
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn every_way_an_evacuation_is_still_on() {
        let now = 1000;
        let over = |a: &Value, m: Option<Marker>, ms: &[Migration]| {
            evacuation_gate(a, m, ms, now) == Gate::Over
        };
        assert!(over(&Value::Empty, None, &[]));
        assert!(over(&Value::No, Some(Marker::Done(5)), &[mig("done")]));
        assert!(over(
            &Value::Empty,
            Some(Marker::ComputeFailed(5)),
            &[mig("completed")]
        ));
        assert!(!over(&Value::Yes, None, &[]));
        let fresh = Value::InFlight {
            by: "ctl".into(),
            since: 990,
        };
        assert!(!over(&fresh, None, &[]));
        let stale = Value::InFlight {
            by: "ctl".into(),
            since: 100,
        };
        assert!(over(&stale, None, &[]));
        assert!(!over(&Value::Empty, Some(Marker::Requested(1)), &[]));
        assert!(!over(&Value::Empty, Some(Marker::Running(1)), &[]));
        for s in [
            "accepted",
            "pre-migrating",
            "running",
            "queued",
            "preparing",
        ] {
            assert!(!over(&Value::No, Some(Marker::Done(1)), &[mig(s)]), "{s}");
        }
        assert!(over(&Value::No, None, &[mig("failed"), mig("error")]));
    }
}
