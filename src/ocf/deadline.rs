//! The operation's time budget. pacemaker-execd SIGKILLs the agent's process group when
//! CRM_meta_timeout passes, so every wait takes its share of what is left and the action
//! keeps a reserve to report why it gave up.

use std::time::{Duration, Instant};

use super::error::OcfError;

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    started: Instant,
    usable: Duration,
}

impl Deadline {
    /// A budget of `op_timeout` minus a reserve (a tenth, between 200 ms and 2 s) for
    /// cleanup and the exit reason.
    pub fn from_op_timeout(op_timeout: Duration) -> Self {
        let reserve = (op_timeout / 10).clamp(Duration::from_millis(200), Duration::from_secs(2));
        Deadline {
            started: Instant::now(),
            usable: op_timeout.saturating_sub(reserve),
        }
    }

    pub fn remaining(&self) -> Duration {
        self.usable.saturating_sub(self.started.elapsed())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// What one wait may use: at most `cap`, never more than what is left.
    pub fn budget(&self, cap: Duration) -> Duration {
        self.remaining().min(cap)
    }

    /// The instant the usable budget ends.
    pub fn instant(&self) -> Instant {
        self.started + self.usable
    }

    pub fn timeout_error(&self, what: impl Into<String>) -> OcfError {
        OcfError::Timeout {
            what: what.into(),
            budget_ms: self.usable.as_millis(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_is_bounded() {
        let d = Deadline::from_op_timeout(Duration::from_secs(20));
        assert!(d.remaining() <= Duration::from_secs(18));
        assert!(d.remaining() > Duration::from_secs(17));
        let tiny = Deadline::from_op_timeout(Duration::from_millis(100));
        assert!(tiny.expired());
        assert_eq!(tiny.budget(Duration::from_secs(1)), Duration::ZERO);
    }
}
