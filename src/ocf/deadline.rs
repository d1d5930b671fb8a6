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

    /// Exactly `usable` from now, no reserve: a sub-wait given its own budget (a health
    /// check's timeout) by a caller that already kept the operation's reserve.
    pub fn within(usable: Duration) -> Self {
        Deadline {
            started: Instant::now(),
            usable,
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

/// Growing pauses between the attempts of a retry loop: each `num/den` times the last,
/// never more than `max`. The loop decides whether there is room for [`Backoff::pause`];
/// [`Backoff::advance`] returns it and grows the next one.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pause: Duration,
    max: Duration,
    num: u32,
    den: u32,
}

impl Backoff {
    /// Doubling from `first` up to `max`.
    pub fn doubling(first: Duration, max: Duration) -> Self {
        Backoff::growing(first, max, 2, 1)
    }

    /// Growing by `num/den` from `first` up to `max`.
    pub fn growing(first: Duration, max: Duration, num: u32, den: u32) -> Self {
        Backoff {
            pause: first,
            max,
            num,
            den: den.max(1),
        }
    }

    /// The pause the next wait would take.
    pub fn pause(&self) -> Duration {
        self.pause
    }

    /// Take the current pause (returned for the caller to sleep) and grow the next one.
    pub fn advance(&mut self) -> Duration {
        let now = self.pause;
        self.pause = (self.pause * self.num / self.den).min(self.max);
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap() {
        let mut b = Backoff::doubling(Duration::from_millis(100), Duration::from_millis(350));
        let taken: Vec<u128> = (0..4).map(|_| b.advance().as_millis()).collect();
        assert_eq!(taken, vec![100, 200, 350, 350]);
        let mut g = Backoff::growing(Duration::from_millis(200), Duration::from_secs(2), 3, 2);
        g.advance();
        assert_eq!(g.pause(), Duration::from_millis(300));
    }

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
