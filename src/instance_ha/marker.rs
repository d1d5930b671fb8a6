//! The durable markers in the nova-compute service's disabled_reason. They outlive the
//! `evacuate` attribute (purged with a fenced node's attributes by Pacemaker 3.0.2, lost when
//! every attrd restarts) and a failover of NovaEvacuate: a new instance resumes from them.
//! One formatter and one parser, for every agent that writes or reads them.

use std::fmt;

const PREFIX: &str = "ocfbox ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// Evacuation requested (by the fence agent, or NovaEvacuate on seeing `yes`).
    Requested(u64),
    /// NovaEvacuate is evacuating the host.
    Running(u64),
    /// Every selected instance is evacuated.
    Done(u64),
    /// Evacuation goes on, but `instances` instances failed so far.
    Failed { since: u64, instances: u32 },
    /// NovaCompute saw nova-compute fail on the host.
    ComputeFailed(u64),
}

impl Marker {
    /// The epoch the request (or failure) was first recorded.
    pub fn epoch(&self) -> u64 {
        match *self {
            Marker::Requested(e)
            | Marker::Running(e)
            | Marker::Done(e)
            | Marker::ComputeFailed(e) => e,
            Marker::Failed { since, .. } => since,
        }
    }

    /// True while the host still needs evacuating (the request is open).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            Marker::Requested(_) | Marker::Running(_) | Marker::Failed { .. }
        )
    }

    /// The marker in a disabled_reason; None when the reason is not ours (an operator's
    /// own reason, or another tool's).
    pub fn parse(reason: &str) -> Option<Marker> {
        let rest = reason.trim().strip_prefix(PREFIX)?;
        let words: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
        match words.as_slice() {
            ["evacuation", "requested", ..] => num(2).map(Marker::Requested),
            ["evacuation", "running", ..] => num(2).map(Marker::Running),
            ["evacuation", "done", ..] => num(2).map(Marker::Done),
            ["evacuation", "failed", ..] => Some(Marker::Failed {
                since: num(2)?,
                instances: num(3).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            }),
            ["nova-compute", "failed", ..] => num(2).map(Marker::ComputeFailed),
            _ => None,
        }
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Marker::Requested(e) => write!(f, "{PREFIX}evacuation requested {e}"),
            Marker::Running(e) => write!(f, "{PREFIX}evacuation running {e}"),
            Marker::Done(e) => write!(f, "{PREFIX}evacuation done {e}"),
            Marker::Failed { since, instances } => {
                write!(
                    f,
                    "{PREFIX}evacuation failed {since} {instances} instance(s)"
                )
            }
            Marker::ComputeFailed(e) => write!(f, "{PREFIX}nova-compute failed {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for m in [
            Marker::Requested(1),
            Marker::Running(1_700_000_000),
            Marker::Done(2),
            Marker::Failed {
                since: 3,
                instances: 12,
            },
            Marker::ComputeFailed(4),
        ] {
            assert_eq!(Marker::parse(&m.to_string()), Some(m), "{m}");
        }
        assert_eq!(
            Marker::Failed {
                since: 3,
                instances: 1
            }
            .to_string(),
            "ocfbox evacuation failed 3 1 instance(s)"
        );
    }

    #[test]
    fn foreign_reasons_are_not_markers() {
        for r in [
            "",
            "maintenance",
            "instanceha evacuation: 2024",
            "ocfbox evacuation running",
            "ocfbox evacuation running soon",
            "ocfboxevacuation running 1",
        ] {
            assert_eq!(Marker::parse(r), None, "{r}");
        }
        assert!(Marker::Failed {
            since: 1,
            instances: 0
        }
        .is_open());
        assert!(!Marker::Done(1).is_open());
        assert!(!Marker::ComputeFailed(1).is_open());
    }
}
