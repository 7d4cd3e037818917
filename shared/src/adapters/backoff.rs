//! The one retry delay of every adapter: exponential backoff with full jitter, so that callers that
//! failed at the same moment (concurrent posters to one wallet, many functions after one Stripe
//! outage) spread apart instead of colliding again.

use std::time::Duration;

/// The delay before retry `retry` (0 for the first retry): a uniformly random time between zero
/// and `min(base × 2^retry, cap)`.
pub fn backoff(retry: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1 << retry.min(16)).min(cap);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_never_pass_it() {
        let base = Duration::from_millis(4);
        let cap = Duration::from_millis(160);
        for retry in [0, 1, 5, 40] {
            for _ in 0..200 {
                let ceiling = (base * 2u32.pow(retry.min(16))).min(cap);
                assert!(backoff(retry, base, cap) <= ceiling);
            }
        }
        let longest = (0..500)
            .map(|_| backoff(40, base, cap))
            .max()
            .unwrap_or_default();
        assert!(
            longest > Duration::from_millis(80),
            "{longest:?}: jitter spans the range"
        );
    }
}
