//! Unit names: what the agent accepts before it touches systemd or the file system.
//!
//! The rules are systemd's (`unit_name_is_valid`: charset, length, one type suffix,
//! `prefix@instance.type` for template instances) made a little stricter where a name
//! ends up in a path: the drop-in directory `<unit>.d` must fit in NAME_MAX, and a name
//! can never contain `/`, so `../x` cannot leave the drop-in root.

use std::fmt;

use crate::ocf::params::printable;

/// The unit types the agent can start and stop. Devices and scopes cannot be started by
/// a client, so they are refused up front.
const STARTABLE: &[&str] = &[
    "service",
    "socket",
    "target",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
];
const NOT_STARTABLE: &[&str] = &["device", "scope"];

/// systemd's UNIT_NAME_MAX is 256 with the NUL; the drop-in directory adds ".d" and must
/// still be a valid file name (NAME_MAX 255).
const MAX_LEN: usize = 253;

/// A validated unit name with its type suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid unit name '{shown}': {why}")]
pub struct InvalidUnitName {
    shown: String,
    why: &'static str,
}

impl UnitName {
    /// Validate `raw`, appending `.service` when it names no unit type (as systemctl does).
    pub fn parse(raw: &str) -> Result<Self, InvalidUnitName> {
        let bad = |why| InvalidUnitName {
            shown: printable(raw),
            why,
        };
        if raw.is_empty() {
            return Err(bad("it is empty"));
        }
        if raw.contains('/') {
            return Err(bad("a unit name cannot contain '/'"));
        }
        if raw.chars().any(|c| c.is_control()) {
            return Err(bad("it contains control characters"));
        }
        if raw.chars().any(char::is_whitespace) {
            return Err(bad("it contains whitespace"));
        }
        if let Some(c) = raw.chars().find(|c| !is_valid_char(*c)) {
            return Err(InvalidUnitName {
                shown: printable(raw),
                why: if c == '$' || c == '`' || c == ';' || c == '(' || c == '|' || c == '&' {
                    "it contains shell metacharacters; only ASCII letters, digits and :-_.\\@ are allowed"
                } else {
                    "only ASCII letters, digits and :-_.\\@ are allowed"
                },
            });
        }
        if raw.starts_with('-') {
            return Err(bad("it starts with '-'"));
        }
        let full = match raw.rsplit_once('.') {
            Some((_, ty)) if STARTABLE.contains(&ty) => raw.to_string(),
            Some((_, ty)) if NOT_STARTABLE.contains(&ty) => {
                return Err(bad("device and scope units cannot be started"))
            }
            _ => format!("{raw}.service"),
        };
        if full.len() > MAX_LEN {
            return Err(bad("it is longer than 253 characters"));
        }
        let (prefix, _) = full.rsplit_once('.').ok_or_else(|| bad("it has no name"))?;
        if prefix.is_empty() {
            return Err(bad("it has no name before the type suffix"));
        }
        if let Some((template, instance)) = prefix.split_once('@') {
            if template.is_empty() {
                return Err(bad("it has no name before '@'"));
            }
            if instance.is_empty() {
                return Err(bad(
                    "it is a template ('name@.type'); give an instance ('name@instance.type')",
                ));
            }
        }
        Ok(UnitName(full))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The type suffix (`service`, `socket`, ...).
    pub fn unit_type(&self) -> &str {
        self.0.rsplit_once('.').map(|(_, t)| t).unwrap_or("service")
    }

    pub fn is_service(&self) -> bool {
        self.unit_type() == "service"
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '\\' | '@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_is_added_only_when_no_unit_type_is_given() {
        assert_eq!(UnitName::parse("httpd").unwrap().as_str(), "httpd.service");
        assert_eq!(
            UnitName::parse("nfs-server.service").unwrap().as_str(),
            "nfs-server.service"
        );
        assert_eq!(UnitName::parse("x.socket").unwrap().as_str(), "x.socket");
        assert_eq!(
            UnitName::parse("uwsgi.app").unwrap().as_str(),
            "uwsgi.app.service"
        );
        assert_eq!(
            UnitName::parse("getty@tty1").unwrap().as_str(),
            "getty@tty1.service"
        );
        assert!(UnitName::parse("x.socket").unwrap().unit_type() == "socket");
        assert!(!UnitName::parse("x.socket").unwrap().is_service());
    }

    #[test]
    fn hostile_and_malformed_names_are_refused() {
        for raw in [
            "",
            "../x",
            "a/b.service",
            "a b",
            "a\nb",
            "a\tb",
            "$(reboot)",
            "`id`",
            "x;reboot",
            "x|y",
            "-x.service",
            ".service",
            "@x.service",
            "getty@.service",
            "getty@",
            "dev-sda.device",
            "session-1.scope",
            "caf\u{e9}.service",
            "x\u{0}.service",
        ] {
            let err = UnitName::parse(raw).expect_err(raw);
            assert!(err.to_string().starts_with("invalid unit name"), "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
        let long = "a".repeat(250);
        assert!(UnitName::parse(&long).is_err());
        assert!(UnitName::parse(&"a".repeat(245)).is_ok());
    }

    #[test]
    fn escaped_names_are_valid() {
        assert!(UnitName::parse("systemd-fsck@dev-disk-by\\x2duuid-1.service").is_ok());
        assert!(UnitName::parse("mnt-data.mount").is_ok());
    }
}
