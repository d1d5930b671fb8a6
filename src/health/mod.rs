//! Application-level health checks: does the service answer, not merely does its process
//! exist. An HTTP request with an expected status (and optionally a body substring), a TCP
//! connect, or a command run without a shell. Each check runs once with a timeout and
//! reports what it saw, in words fit for an exit reason (credentials never appear).
//!
//! The kinds are an enum so a service-specific check (a D-Bus call to ganesha, say) is one
//! more variant.

pub mod command;
pub mod conn;
pub mod ganesha;
pub mod http;
pub mod tcp;

use std::time::Duration;

pub use command::CommandCheck;
pub use conn::ConnCheck;
pub use ganesha::GaneshaCheck;
pub use http::HttpCheck;
pub use tcp::TcpCheck;

/// One health check of a service.
#[derive(Debug, Clone)]
pub enum HealthCheck {
    Http(HttpCheck),
    Tcp(TcpCheck),
    Command(CommandCheck),
    /// ganesha.nfsd's admin interface on D-Bus (the nfs-ganesha preset).
    Ganesha(GaneshaCheck),
    /// The service's processes are connected to some ports (an OpenStack worker's AMQP).
    Connected(ConnCheck),
}

/// A check did not pass; the message says what it saw.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HealthFailure(pub String);

/// A health-check parameter that cannot work (OCF_ERR_CONFIGURED).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HealthConfigError(pub String);

impl HealthCheck {
    /// Run the check once, giving up after `timeout`, for the service whose main process
    /// is `main_pid` (when known). Ok carries a short summary.
    pub fn run(&self, timeout: Duration, main_pid: Option<u32>) -> Result<String, HealthFailure> {
        match self {
            HealthCheck::Http(c) => c.run(timeout),
            HealthCheck::Tcp(c) => c.run(timeout),
            HealthCheck::Command(c) => c.run(timeout),
            HealthCheck::Ganesha(c) => c.run(timeout),
            HealthCheck::Connected(c) => c.run(main_pid),
        }
    }

    /// Whether the check looks at the service's processes (the caller finds the main PID).
    pub fn needs_main_pid(&self) -> bool {
        matches!(self, HealthCheck::Connected(_))
    }

    /// What the check does, safe for logs and reasons.
    pub fn describe(&self) -> String {
        match self {
            HealthCheck::Http(c) => c.describe(),
            HealthCheck::Tcp(c) => c.describe(),
            HealthCheck::Command(c) => c.describe(),
            HealthCheck::Ganesha(c) => c.describe(),
            HealthCheck::Connected(c) => c.describe(),
        }
    }

    /// Checks that need this node to have something (a CA file, a program) before they can
    /// run: the error says what is missing (OCF_ERR_INSTALLED for the caller).
    pub fn check_local_prerequisites(&self) -> Result<(), HealthFailure> {
        match self {
            HealthCheck::Http(c) => c.check_local_prerequisites(),
            HealthCheck::Tcp(_) => Ok(()),
            HealthCheck::Command(c) => c.check_local_prerequisites(),
            HealthCheck::Ganesha(_) | HealthCheck::Connected(_) => Ok(()),
        }
    }
}

/// Run every check once; the first failure ends the round.
pub fn run_all(
    checks: &[HealthCheck],
    timeout: Duration,
    main_pid: Option<u32>,
) -> Result<Vec<String>, HealthFailure> {
    checks.iter().map(|c| c.run(timeout, main_pid)).collect()
}

/// Shorten an answer for a reason: one line, at most `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line: String = text
        .split(['\n', '\r'])
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if line.chars().count() > max {
        let mut s: String = line.chars().take(max).collect();
        s.push('…');
        s
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_takes_the_first_non_empty_line_and_caps_it() {
        assert_eq!(one_line("\n  boom \nmore", 10), "boom");
        assert_eq!(one_line("abcdefghijkl", 5), "abcde…");
        assert_eq!(one_line("a\u{1b}[1mb", 10), "a[1mb");
    }

    #[test]
    fn run_all_stops_at_the_first_failure() {
        let ok = HealthCheck::Command(CommandCheck::parse("true").unwrap());
        let bad = HealthCheck::Command(CommandCheck::parse("false").unwrap());
        assert!(run_all(std::slice::from_ref(&ok), Duration::from_secs(5), None).is_ok());
        assert!(run_all(&[ok, bad], Duration::from_secs(5), None).is_err());
    }
}
