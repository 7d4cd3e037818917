//! The recharge rules on their own: no store, no provider, no clock but the one passed in.

use time::macros::datetime;

use super::*;
use crate::money::{Currency, Money};
use crate::wallet::AutoRecharge;

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::Usd).unwrap()
}

fn wallet(balance: &str, enabled: bool) -> Wallet {
    let at = datetime!(2026-11-01 0:00 UTC);
    Wallet {
        account_id: AccountId::parse("acme").unwrap(),
        currency: Currency::Usd,
        balance: usd(balance),
        held: usd("0"),
        low_balance_threshold: usd("0"),
        auto_recharge: AutoRecharge::new(enabled, usd("5"), 10, Currency::Usd).unwrap(),
        version: 1,
        entry_count: 1,
        created_at: at,
        updated_at: at,
        reporting_zone: Default::default(),
    }
}

#[test]
fn months_and_backoff_steps() {
    let at = time::macros::datetime!(2026-11-30 23:59 UTC);
    assert_eq!(month_of(at), "2026-11");
    assert_eq!(month_of(at + time::Duration::minutes(1)), "2026-12");
    assert_eq!(DECLINE_BACKOFF.len() as u32, DECLINES_MAX);
}

#[test]
fn a_wallet_is_charged_only_when_enabled_due_and_within_every_cap() {
    let now = datetime!(2026-11-20 12:00 UTC);
    let limits = RechargeLimits::default();
    let idle = RechargeState::default();
    assert_eq!(idle.may_charge(&wallet("4", true), &limits, now), Ok(()));
    assert_eq!(
        idle.may_charge(&wallet("4", false), &limits, now),
        Err(Skip::Disabled)
    );
    assert_eq!(
        idle.may_charge(&wallet("5", true), &limits, now),
        Err(Skip::NotDue)
    );
    // The minimum is judged on what is available: 8 with 4 held is below 5.
    let mut holding = wallet("8", true);
    holding.held = usd("4");
    assert_eq!(idle.may_charge(&holding, &limits, now), Ok(()));
    let (declined, disabled) = idle.after_decline(now);
    assert!(!disabled);
    assert_eq!(
        declined.may_charge(
            &wallet("4", true),
            &limits,
            now + time::Duration::minutes(59)
        ),
        Err(Skip::BackingOff)
    );
    assert_eq!(
        declined.may_charge(
            &wallet("4", true),
            &limits,
            now + time::Duration::minutes(61)
        ),
        Ok(())
    );
    let mut state = idle;
    for _ in 0..limits.per_day_max {
        state = state.after_success(10, now);
    }
    assert_eq!(
        state.may_charge(&wallet("4", true), &limits, now),
        Err(Skip::DailyCap)
    );
    assert_eq!(state.month_credits, 30);
    let capped = RechargeLimits {
        monthly_credits_max: Some(35),
        per_day_max: 24,
        ..limits
    };
    assert_eq!(
        state.may_charge(&wallet("4", true), &capped, now),
        Err(Skip::MonthlyCap)
    );
    // A new month starts the count afresh.
    let december = datetime!(2026-12-01 0:00 UTC);
    assert_eq!(
        state.may_charge(&wallet("4", true), &capped, december),
        Ok(())
    );
}

#[test]
fn declines_back_off_in_steps_and_the_last_one_disables() {
    let now = datetime!(2026-11-20 12:00 UTC);
    let mut state = RechargeState::default();
    for (step, wait) in DECLINE_BACKOFF.iter().enumerate() {
        let (next, disabled) = state.after_decline(now);
        assert_eq!(disabled, step + 1 == DECLINES_MAX as usize);
        assert_eq!(
            next.backoff_until_ms,
            epoch_ms(now) + i64::try_from(wait.as_millis()).unwrap()
        );
        assert_eq!(next.rev, state.rev + 1);
        state = next;
    }
    let refused = RechargeState::default().after_refusal(now);
    assert_eq!(
        refused.declines, 0,
        "a refused request is not the card's fault"
    );
    assert!(refused.backoff_until_ms > epoch_ms(now));
    assert_eq!(state.after_success(1, now).declines, 0);
}

#[test]
fn a_held_lock_lapses_and_a_lost_attempt_is_resumed_only_inside_the_window() {
    let now = datetime!(2026-11-20 12:00 UTC);
    let policy = crate::money::QuotePolicy::zoho_default(Currency::Usd);
    let account = AccountId::parse("acme").unwrap();
    let attempt = InFlight {
        attempt_id: attempt_id(&account, 0),
        quote: policy.quote(policy.credits(10).unwrap()).unwrap(),
        customer: crate::payments::ProviderCustomerId::parse("cus_1").unwrap(),
        payment_method: crate::payments::ProviderPaymentMethodId::parse("pm_1").unwrap(),
        started_ms: epoch_ms(now),
    };
    let held = RechargeState::default().held(attempt.clone(), 1, now, Duration::from_secs(120));
    assert!(held.is_held(now + time::Duration::seconds(119)));
    assert!(!held.is_held(now + time::Duration::seconds(120)));
    assert!(attempt.may_resume(now + time::Duration::hours(23)));
    assert!(!attempt.may_resume(now + time::Duration::hours(23) + time::Duration::milliseconds(1)));
}
