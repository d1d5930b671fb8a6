//! Where an instance is evacuated to: masakari's four recovery methods.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Nova's scheduler picks.
    Auto,
    /// To the reserved hosts, in turn.
    ReservedHost,
    /// Auto, then the reserved hosts.
    AutoPriority,
    /// The reserved hosts, then auto.
    RhPriority,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s.trim() {
            "auto" => Method::Auto,
            "reserved_host" => Method::ReservedHost,
            "auto_priority" => Method::AutoPriority,
            "rh_priority" => Method::RhPriority,
            _ => return None,
        })
    }

    pub fn uses_reserved(self) -> bool {
        self != Method::Auto
    }
}

/// One destination choice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Auto,
    Host(String),
}

impl Target {
    /// The form kept in the records: `auto` or the host name.
    pub fn key(&self) -> &str {
        match self {
            Target::Auto => "*auto",
            Target::Host(h) => h,
        }
    }

    pub fn from_key(k: &str) -> Target {
        if k == "*auto" {
            Target::Auto
        } else {
            Target::Host(k.to_string())
        }
    }

    pub fn host(&self) -> Option<&str> {
        match self {
            Target::Auto => None,
            Target::Host(h) => Some(h),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Auto => f.write_str("the scheduler's choice"),
            Target::Host(h) => write!(f, "reserved host {h}"),
        }
    }
}

/// Every destination `method` tries, in order, with the reserved hosts usable now.
pub fn sequence(method: Method, reserved: &[String]) -> Vec<Target> {
    let reserved = reserved.iter().cloned().map(Target::Host);
    match method {
        Method::Auto => vec![Target::Auto],
        Method::ReservedHost => reserved.collect(),
        Method::AutoPriority => std::iter::once(Target::Auto).chain(reserved).collect(),
        Method::RhPriority => reserved.chain(std::iter::once(Target::Auto)).collect(),
    }
}

/// The next destination for an instance that already failed at `tried` in this round of
/// attempts; None when every one was tried (with reserved hosts only: no reserved capacity
/// left).
pub fn next_target(method: Method, reserved: &[String], tried: &[Target]) -> Option<Target> {
    sequence(method, reserved)
        .into_iter()
        .find(|t| !tried.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn walk(method: Method, reserved: &[String]) -> Vec<Target> {
        let mut tried = Vec::new();
        while let Some(t) = next_target(method, reserved, &tried) {
            tried.push(t);
        }
        tried
    }

    #[test]
    fn each_method_in_order() {
        let res = r(&["spare1", "spare2"]);
        let h = |n: &str| Target::Host(n.into());
        assert_eq!(walk(Method::Auto, &res), vec![Target::Auto]);
        assert_eq!(
            walk(Method::ReservedHost, &res),
            vec![h("spare1"), h("spare2")]
        );
        assert_eq!(
            walk(Method::AutoPriority, &res),
            vec![Target::Auto, h("spare1"), h("spare2")]
        );
        assert_eq!(
            walk(Method::RhPriority, &res),
            vec![h("spare1"), h("spare2"), Target::Auto]
        );
    }

    #[test]
    fn no_reserved_capacity_left() {
        assert_eq!(next_target(Method::ReservedHost, &[], &[]), None);
        assert_eq!(
            next_target(Method::RhPriority, &[], &[]),
            Some(Target::Auto)
        );
        assert_eq!(Method::parse("rh_priority"), Some(Method::RhPriority));
        assert_eq!(Method::parse("random"), None);
        assert_eq!(Target::from_key(Target::Auto.key()), Target::Auto);
    }
}
