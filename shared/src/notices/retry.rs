//! When a webhook attempt is tried again: on a timeout, a connection failure, 429 (not before its
//! `Retry-After`) and 5xx, with full-jitter exponential backoff (`adapters::backoff`) for up to a
//! window (3 days by default) counted from the first attempt. Any other answer ends the chain.
//! An endpoint that has failed for `disable_after` (a day) without a success is disabled.

use std::time::Duration;

/// Attempts one delivery may make at most, whatever the schedule (bounds the stored log).
pub const ATTEMPTS_MAX: u32 = 40;
/// A `Retry-After` longer than this is read as this.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(24 * 3600);

/// The retry schedule, as configuration (`WEBHOOK_RETRY_*`, or the runner's `--webhook-schedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry waits up to this; each further one up to twice the previous ceiling.
    pub base: Duration,
    /// No ceiling grows past this.
    pub cap: Duration,
    /// No retry is scheduled later than this after the first attempt.
    pub window: Duration,
    /// An endpoint failing this long without a success is disabled.
    pub disable_after: Duration,
    /// One attempt (connect, send, read the capped answer) takes at most this.
    pub attempt_timeout: Duration,
    /// A claimed attempt is the claimant's for its timeout plus this (to record it); past that,
    /// a claimant that died is presumed dead and the attempt is made again.
    pub lease_margin: Duration,
}

impl RetryPolicy {
    /// AWS: retries up to 3 days, the endpoint disabled after a day of failures.
    pub const STANDARD: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(5),
        cap: Duration::from_secs(8 * 3600),
        window: Duration::from_secs(3 * 24 * 3600),
        disable_after: Duration::from_secs(24 * 3600),
        attempt_timeout: Duration::from_secs(10),
        lease_margin: Duration::from_secs(30),
    };

    /// The runner's `--webhook-schedule short`: seconds apart, for demos and tests.
    pub const SHORT: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(4),
        window: Duration::from_secs(120),
        disable_after: Duration::from_secs(30),
        attempt_timeout: Duration::from_secs(5),
        lease_margin: Duration::from_secs(5),
    };

    /// How long to wait before attempt `next` (2 for the first retry), or `None` when the chain
    /// ends. `elapsed` is the time since the first attempt; `retry_after` what a 429 asked for;
    /// `wait` draws the jittered wait for a retry index (the adapters' one backoff).
    pub fn next_wait(
        &self,
        outcome: &AttemptOutcome,
        next: u32,
        elapsed: Duration,
        wait: impl FnOnce(u32) -> Duration,
    ) -> Option<Duration> {
        assert!(next >= 2, "attempt 1 is never a retry");
        let retry_after = match outcome {
            AttemptOutcome::Status { code, retry_after } if *code == 429 => *retry_after,
            AttemptOutcome::Status { code, .. } if (500..=599).contains(code) => None,
            AttemptOutcome::Timeout | AttemptOutcome::Connect(_) => None,
            _ => return None,
        };
        if next > ATTEMPTS_MAX {
            return None;
        }
        let jittered = wait(next - 2);
        let wait = retry_after
            .map(|asked| asked.min(RETRY_AFTER_MAX).max(jittered))
            .unwrap_or(jittered);
        (elapsed.saturating_add(wait) <= self.window).then_some(wait)
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The endpoint answered (a redirect is an answer: it is never followed).
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// No complete answer within the per-attempt timeout.
    Timeout,
    /// No connection (refused, reset, TLS).
    Connect(String),
    /// The SSRF guard refused the address before any connection was made.
    Refused(String),
}

impl AttemptOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, AttemptOutcome::Status { code, .. } if (200..=299).contains(code))
    }

    pub fn status_code(&self) -> Option<u16> {
        match self {
            AttemptOutcome::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// What the delivery log says when there was no status code.
    pub fn error(&self) -> Option<String> {
        match self {
            AttemptOutcome::Status { .. } => None,
            AttemptOutcome::Timeout => Some("timeout".into()),
            AttemptOutcome::Connect(reason) => Some(format!("connection failed: {reason}")),
            AttemptOutcome::Refused(reason) => Some(format!("refused: {reason}")),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date, relative to `now` (epoch seconds).
pub fn parse_retry_after(value: &str, now_s: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(RETRY_AFTER_MAX));
    }
    let format = time::format_description::well_known::Rfc2822;
    let at = time::OffsetDateTime::parse(value, &format).ok()?;
    let seconds = u64::try_from(at.unix_timestamp().saturating_sub(now_s)).unwrap_or(0);
    Some(Duration::from_secs(seconds).min(RETRY_AFTER_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> AttemptOutcome {
        AttemptOutcome::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn timeouts_429_and_5xx_retry_within_the_window_and_nothing_else_does() {
        let policy = RetryPolicy::STANDARD;
        let fixed = |_| Duration::from_secs(7);
        for retried in [
            status(500),
            status(503),
            status(429),
            AttemptOutcome::Timeout,
            AttemptOutcome::Connect("reset".into()),
        ] {
            assert_eq!(
                policy.next_wait(&retried, 2, Duration::ZERO, fixed),
                Some(Duration::from_secs(7))
            );
        }
        for ended in [
            status(200),
            status(301),
            status(400),
            status(404),
            status(410),
            AttemptOutcome::Refused("private".into()),
        ] {
            assert_eq!(policy.next_wait(&ended, 2, Duration::ZERO, fixed), None);
        }
        let almost = policy.window - Duration::from_secs(6);
        assert_eq!(policy.next_wait(&status(500), 9, almost, fixed), None);
        assert_eq!(
            policy.next_wait(&status(500), ATTEMPTS_MAX + 1, Duration::ZERO, fixed),
            None
        );
        let asked = AttemptOutcome::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(120)),
        };
        assert_eq!(
            policy.next_wait(&asked, 2, Duration::ZERO, fixed),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn the_standard_schedule_spans_about_three_days() {
        // With every wait at its ceiling, the schedule's retries fit in the window, and the
        // ceilings reach the cap: the retries really continue for days.
        let policy = RetryPolicy::STANDARD;
        let (mut elapsed, mut attempts) = (Duration::ZERO, 1);
        while let Some(wait) = policy.next_wait(&status(503), attempts + 1, elapsed, |index| {
            policy
                .base
                .saturating_mul(1 << index.min(16))
                .min(policy.cap)
        }) {
            elapsed += wait;
            attempts += 1;
        }
        assert!(elapsed > Duration::from_secs(2 * 24 * 3600), "{elapsed:?}");
        assert!(elapsed <= policy.window);
        assert!(attempts < ATTEMPTS_MAX, "{attempts}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("30", 0), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", 40),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("999999999", 0), Some(RETRY_AFTER_MAX));
    }
}
