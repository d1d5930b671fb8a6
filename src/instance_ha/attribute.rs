//! The private node attribute `evacuate`, byte-compatible with fence_compute (which writes
//! `yes`), nova-compute-wait and fence_compute `on` (which wait for `no` or empty) and the
//! old NovaEvacuate (which writes `<uname>@<epoch>` while it works).

/// The attribute's name.
pub const NAME: &str = "evacuate";
/// An in-flight mark older than this is an abandoned evacuation (the old agent's 60 s).
pub const STALE_AFTER_S: u64 = 60;
/// The value that says "evacuation over" to every reader.
pub const DONE: &str = "no";
/// The value fence_compute writes to request an evacuation.
pub const REQUESTED: &str = "yes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `yes`: evacuate this host.
    Yes,
    /// `<uname>@<epoch>`: controller `by` has been evacuating since `since`.
    InFlight { by: String, since: u64 },
    /// `no`: done (or never needed).
    No,
    /// Empty or absent: nothing to do.
    Empty,
    /// Anything else: nobody writes it; the old agent ignored it too.
    Other(String),
}

impl Value {
    pub fn parse(raw: Option<&str>) -> Value {
        let Some(v) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
            return Value::Empty;
        };
        match v {
            REQUESTED => Value::Yes,
            DONE => Value::No,
            _ => match v.rsplit_once('@') {
                Some((by, epoch)) if !by.is_empty() => match epoch.parse::<u64>() {
                    Ok(since) => Value::InFlight {
                        by: by.to_string(),
                        since,
                    },
                    Err(_) => Value::Other(v.to_string()),
                },
                _ => Value::Other(v.to_string()),
            },
        }
    }
}

/// What a value asks of the evacuator `me` at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Evacuate: `yes`, an abandoned in-flight mark, or our own mark (ours to continue).
    Evacuate,
    /// Another controller is at it (fresh mark): leave it alone, overlapping requests make
    /// Nova answer 409 and may rebuild twice.
    Busy { by: String, age_s: u64 },
    /// Nothing to do.
    Nothing,
}

pub fn classify(value: &Value, me: &str, now: u64) -> Request {
    match value {
        Value::Yes => Request::Evacuate,
        Value::InFlight { by, .. } if by == me => Request::Evacuate,
        Value::InFlight { by, since } => {
            let age_s = now.saturating_sub(*since);
            if age_s > STALE_AFTER_S {
                Request::Evacuate
            } else {
                Request::Busy {
                    by: by.clone(),
                    age_s,
                }
            }
        }
        Value::No | Value::Empty | Value::Other(_) => Request::Nothing,
    }
}

/// The in-flight mark `me` writes (and rewrites while it works, so it never looks stale).
pub fn in_flight(me: &str, now: u64) -> String {
    format!("{me}@{now}")
}

/// Rewrite the mark when it is this old, well inside [`STALE_AFTER_S`].
pub const REFRESH_AFTER_S: u64 = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_protocol() {
        let now = 1_000_000;
        let rows: &[(Option<&str>, Request)] = &[
            (Some("yes"), Request::Evacuate),
            (Some("no"), Request::Nothing),
            (Some(""), Request::Nothing),
            (None, Request::Nothing),
            (
                Some("ctl1@999990"),
                Request::Busy {
                    by: "ctl1".into(),
                    age_s: 10,
                },
            ),
            (
                Some("ctl1@999940"),
                Request::Busy {
                    by: "ctl1".into(),
                    age_s: 60,
                },
            ),
            (Some("ctl1@999939"), Request::Evacuate),
            (Some("me@999999"), Request::Evacuate),
            (Some("garbage"), Request::Nothing),
            (Some("x@notanumber"), Request::Nothing),
        ];
        for (raw, want) in rows {
            let got = classify(&Value::parse(*raw), "me", now);
            assert_eq!(&got, want, "{raw:?}");
        }
    }

    #[test]
    fn fqdn_unames_keep_their_dots() {
        assert_eq!(
            Value::parse(Some("ctl-1.example.com@17")),
            Value::InFlight {
                by: "ctl-1.example.com".into(),
                since: 17
            }
        );
        assert_eq!(in_flight("ctl-1.example.com", 17), "ctl-1.example.com@17");
    }
}
