//! When a lost server is tried again: after a failure that says the server cannot be reached,
//! requests fail at once (counted by the element, never waiting) until the backoff has passed;
//! the next request then tries the server, and a success resets the backoff.
use std::time::{Duration, Instant};

/// Exponential backoff between attempts to reach a lost server.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
    retry_at: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

impl Backoff {
    /// Waits `first` after the first failure, doubling up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            failures: 0,
            retry_at: None,
        }
    }

    /// `Some(wait)` while requests must fail at once (the server is lost and its next try is
    /// `wait` away), `None` when a request may go to the server.
    pub fn hold(&self, now: Instant) -> Option<Duration> {
        self.retry_at
            .filter(|at| *at > now)
            .map(|at| at.duration_since(now))
    }

    /// A request could not reach the server: the next try waits longer. Returns the wait.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let doubled = self
            .first
            .saturating_mul(1u32 << (self.failures - 1).min(16));
        let wait = doubled.min(self.max);
        self.retry_at = Some(now + wait);
        wait
    }

    /// A request reached the server; returns how many failures came before it.
    pub fn succeeded(&mut self) -> u32 {
        self.retry_at = None;
        std::mem::take(&mut self.failures)
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_a_success_resets_them() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(1000));
        let t0 = Instant::now();
        assert_eq!(b.hold(t0), None, "a new client tries the server");
        let waits: Vec<Duration> = (0..6).map(|_| b.failed(t0)).collect();
        assert_eq!(
            waits,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(b.hold(t0), Some(ms(1000)));
        assert_eq!(b.hold(t0 + ms(400)), Some(ms(600)));
        assert_eq!(
            b.hold(t0 + ms(1000)),
            None,
            "tried again once the wait is over"
        );
        assert_eq!(b.succeeded(), 6);
        assert_eq!((b.failures(), b.hold(t0)), (0, None));
        assert_eq!(
            b.failed(t0),
            ms(100),
            "a new outage starts from the first wait"
        );
    }
}
