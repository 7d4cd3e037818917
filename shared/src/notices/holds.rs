//! The notice a hold's release makes: `balance.recovered` when giving back what it held took
//! `available` above zero again (the rule of [`crate::billing::thresholds::crossed`], judged by
//! the store on the wallet the release was conditioned on, and kept on the hold).

use super::event::{Event, EventData, EventError};
use crate::holds::Hold;

/// `balance.recovered` of a closed `hold` whose release recovered the wallet, keyed
/// `hold-<hold id>` like its placement's notices: a repeated release (a retried `DELETE`, a
/// second sweep) makes the same id, which the feed stores once and the consumer delivers once.
pub fn release_event(hold: &Hold) -> Result<Option<Event>, EventError> {
    let Some(recovered) = hold.recovered else {
        return Ok(None);
    };
    assert!(!hold.is_open(), "only a closed hold was released");
    let data = EventData::BalanceRecovered {
        balance: recovered.balance,
        available: Some(recovered.available),
    };
    let at = hold.closed_at.unwrap_or(hold.created_at);
    Event::new(&hold.account_id, &format!("hold-{}", hold.id), at, data).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holds::{HoldId, HoldLine, HoldStatus, ReleaseRecovery};
    use crate::ids::AccountId;
    use crate::money::{Currency, Money};
    use crate::payments::purchase::PurchaseKey;
    use crate::pricing::Category;

    #[test]
    fn a_recovering_release_makes_one_id_however_often_it_is_read() {
        let usd = |text: &str| Money::parse(text, Currency::Usd).unwrap();
        let account = AccountId::parse("acme").unwrap();
        let at = time::macros::datetime!(2026-11-27 12:00 UTC);
        let mut hold = Hold::new(
            HoldId::for_request(&account, &PurchaseKey::parse("k").unwrap()),
            account,
            None,
            vec![HoldLine {
                market: None,
                category: Category::Marketing,
                count: 2,
                unit_price: usd("1"),
                amount: usd("2"),
            }],
            "ab".repeat(16),
            at,
            time::Duration::hours(1),
        )
        .unwrap();
        hold.status = HoldStatus::Released;
        hold.closed_at = Some(at);
        assert_eq!(release_event(&hold), Ok(None), "recovered nothing");
        hold.recovered = Some(ReleaseRecovery {
            balance: usd("2"),
            available: usd("2"),
        });
        let event = release_event(&hold).unwrap().unwrap();
        assert_eq!(
            event.id.as_str(),
            format!("balance.recovered:acme:hold-{}", hold.id)
        );
        assert_eq!(release_event(&hold).unwrap(), Some(event));
    }
}
