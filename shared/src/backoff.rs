//! Full-jitter exponential backoff: the one backoff shape for retries that many callers may make
//! at once (a random wait up to a ceiling that doubles per attempt, capped), so they spread apart.

use std::time::Duration;

/// The ceiling of attempt `attempt` (0-based): `base × 2^attempt`, at most `cap`.
pub fn ceiling(attempt: u32, base: Duration, cap: Duration) -> Duration {
    base.saturating_mul(1u32 << attempt.min(20)).min(cap)
}

/// A wait drawn uniformly from zero to the attempt's [`ceiling`], to the millisecond.
pub fn full_jitter(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let millis = u64::try_from(ceiling(attempt, base, cap).as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap_and_waits_stay_under_them() {
        let (base, cap) = (Duration::from_millis(4), Duration::from_millis(160));
        let ceilings: Vec<u128> = (0..8).map(|a| ceiling(a, base, cap).as_millis()).collect();
        assert_eq!(ceilings, [4, 8, 16, 32, 64, 128, 160, 160]);
        assert_eq!(ceiling(u32::MAX, base, cap), cap);
        for attempt in 0..10 {
            assert!(full_jitter(attempt, base, cap) <= ceiling(attempt, base, cap));
        }
    }
}
