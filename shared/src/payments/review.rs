//! Payments a person must look at before they move money: a checkout paid with an amount that is
//! not the quote's total (or no readable amount at all) is **held**, never credited automatically,
//! and an operator settles it by crediting the quote or rejecting it (and refunding at the
//! provider). Also the bound on a provider's event time before it becomes an entry's time.

use time::{Duration, OffsetDateTime};

use super::purchase::PaidCheckout;
use crate::money::Money;

/// The log line (error level) written with each hold, for the person reading the logs; the alarm
/// counts the EMF metric `PaymentsHeldForReview` (`ports::metrics`), not this text.
pub const HELD_FOR_REVIEW_LOG: &str = "payment held for review";

/// Stripe retries a webhook for three days and lets a person resend an event for up to 30; an
/// event older than this is not one Stripe would deliver.
pub const EVENT_AGE_MAX: Duration = Duration::days(31);
/// A provider's clock may run ahead of ours by this much.
pub const EVENT_SKEW_MAX: Duration = Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventTimeError {
    #[error("created: {created} is more than {EVENT_AGE_MAX} before now")]
    TooOld { created: OffsetDateTime },
    #[error("created: {created} lies in the future")]
    InTheFuture { created: OffsetDateTime },
}

/// Checks a provider event's `created` before it is stored as an entry's time: within
/// [`EVENT_AGE_MAX`] before `now` and [`EVENT_SKEW_MAX`] after it.
pub fn check_event_time(
    created: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, EventTimeError> {
    if created < now - EVENT_AGE_MAX {
        return Err(EventTimeError::TooOld { created });
    }
    if created > now + EVENT_SKEW_MAX {
        return Err(EventTimeError::InTheFuture { created });
    }
    Ok(created)
}

/// Whether a paid checkout may be credited without a person: only when the provider says it took
/// exactly the quote's total, in its currency.
pub fn needs_review(quoted_total: Money, paid_total: Option<Money>) -> bool {
    paid_total != Some(quoted_total)
}

/// A paid checkout held for review: what the provider said was paid, and what crediting it later
/// needs (the session, customer and card, and the event's time for the entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPayment {
    /// `None` when the provider's amount was missing or unreadable.
    pub paid_total: Option<Money>,
    pub paid: PaidCheckout,
    pub event_created: OffsetDateTime,
}

/// An operator's decision on a held purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Credit the quoted credits, as an automatic fulfilment would have: the purchase is paid.
    Credit,
    /// Credit nothing: the purchase is rejected (refund the payment at the provider).
    Reject,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use time::macros::datetime;

    #[test]
    fn event_times_are_bounded_on_both_sides() {
        let now = datetime!(2026-11-27 12:00 UTC);
        assert_eq!(check_event_time(now, now), Ok(now));
        assert!(check_event_time(now - Duration::days(30), now).is_ok());
        assert!(check_event_time(now + Duration::minutes(4), now).is_ok());
        for created in [
            OffsetDateTime::UNIX_EPOCH,
            datetime!(9999-12-31 23:59 UTC),
            now - Duration::days(32),
            now + Duration::minutes(6),
        ] {
            assert!(check_event_time(created, now).is_err(), "{created}");
        }
    }

    #[test]
    fn only_the_exact_quoted_total_skips_review() {
        let quoted = Money::parse("20.60", Currency::Usd).unwrap();
        assert!(!needs_review(quoted, Some(quoted)));
        assert!(needs_review(
            quoted,
            Some(Money::parse("0.01", Currency::Usd).unwrap())
        ));
        assert!(needs_review(
            quoted,
            Some(Money::parse("20.60", Currency::Eur).unwrap())
        ));
        assert!(needs_review(quoted, None));
    }

    #[test]
    fn an_alarm_watches_payments_held_for_review() {
        // The checkout function counts each hold as the EMF metric PaymentsHeldForReview
        // (`ports::metrics`); without an alarm on it a held payment would wait unseen.
        let template = include_str!("../../../infra/template.yaml");
        assert!(
            template.contains("MetricName: PaymentsHeldForReview"),
            "infra/template.yaml must alarm on PaymentsHeldForReview"
        );
    }
}
