//! Helpers for hold tests: placing a hold priced by the stored flat card, charges that settle
//! one, and the invariant every test ends with: `held` is the sum of the open holds' remaining,
//! and every hold's amount is accounted for.

use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::holds::{
    FailedSend, HOLD_TTL_DEFAULT, Hold, HoldId, LineRequest, META_HOLD, price_lines,
};
use imcredits::ids::AccountId;
use imcredits::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use imcredits::money::{Currency, Money};
use imcredits::payments::purchase::PurchaseKey;
use imcredits::ports::holds::{HoldListRequest, HoldPlaced, HoldStore};
use imcredits::ports::store::{EntriesPost, RateBookGet, RateCardSave};
use imcredits::pricing::{Category, Market, RateCard, RecipientMarket};
use imcredits::wallet::Wallet;
use time::{Duration, OffsetDateTime};

/// Saves the repo's flat 0.0125 USD card (once per table; a repeat is a no-op).
pub async fn flat_card(store: &DynamoStore) {
    let flat = include_str!("../../shared/rate-cards/zoho-flat-usd.json");
    store
        .save_rate_card(
            &RateCard::from_json(flat).expect("the sample card reads"),
            crate::at(),
        )
        .await
        .expect("the flat card saves");
}

/// A new wallet (`prefix`) on the flat card, granted `funds` USD.
pub async fn funded_wallet(store: &DynamoStore, prefix: &str, funds: &str) -> AccountId {
    flat_card(store).await;
    let account = crate::new_wallet(store, prefix).await.account_id;
    store
        .post_entries(&account, &[crate::grant("FUNDS", funds)], crate::at())
        .await
        .expect("the grant posts");
    account
}

/// A hold of `count` marketing messages to India under `key`, priced now by the stored card.
pub async fn new_hold(
    store: &DynamoStore,
    account: &AccountId,
    key: &str,
    count: u64,
    now: OffsetDateTime,
    ttl: Duration,
) -> Hold {
    let book = store
        .rate_book(Currency::Usd)
        .await
        .expect("the book reads");
    let lines = price_lines(
        &[LineRequest {
            market: RecipientMarket::Known(Market::parse("IN").expect("a market")),
            category: Category::Marketing,
            count,
        }],
        &book,
        Currency::Usd,
        now,
    )
    .expect("the flat card prices it");
    Hold::new(
        HoldId::for_request(account, &PurchaseKey::parse(key).expect("a key")),
        account.clone(),
        Some("spring_sale".into()),
        lines,
        format!("request-{key}"),
        now,
        ttl,
    )
    .expect("a valid hold")
}

/// Places a 24-hour hold of `count` messages and expects it granted.
pub async fn granted_hold(store: &DynamoStore, account: &AccountId, key: &str, count: u64) -> Hold {
    let now = OffsetDateTime::now_utc();
    let hold = new_hold(store, account, key, count, now, HOLD_TTL_DEFAULT).await;
    match store
        .place_hold(&hold, now)
        .await
        .expect("the store answers")
    {
        HoldPlaced::Granted(hold) => hold,
        other => panic!("hold {key} not granted: {other:?}"),
    }
}

/// A charge of `wamid` carrying the hold's metadata, as billing makes it from a tagged status.
pub fn hold_charge(wamid: &str, hold: &HoldId, amount: &str) -> NewEntry {
    let mut metadata = Metadata::new();
    metadata
        .insert(META_HOLD, hold.as_str())
        .expect("a hold id fits");
    NewEntry::new(
        EntryId::message_charge(wamid).expect("a wamid"),
        EntryKind::Charge,
        crate::usd(amount),
        "test charge under a hold",
        metadata,
        crate::at(),
    )
    .expect("a charge")
}

pub fn failed(hold: &HoldId, wamid: &str) -> FailedSend {
    FailedSend {
        hold: hold.clone(),
        wamid: wamid.to_owned(),
        market: Some(Market::parse("IN").expect("a market")),
        category: None,
    }
}

/// Every hold of the account (open and closed), newest first.
pub async fn all_holds(store: &DynamoStore, account: &AccountId) -> Vec<Hold> {
    let mut holds = Vec::new();
    let mut before = None;
    for _ in 0..1_000 {
        let page = store
            .hold_page(account, &HoldListRequest::new(100, None, before))
            .await
            .expect("the holds read");
        holds.extend(page.holds);
        before = page.next;
        if before.is_none() {
            return holds;
        }
    }
    panic!("the holds of {account} did not end");
}

/// `held` = the sum of the open holds' remaining; each hold's amount is what it still holds plus
/// what charges settled, failures released and its release gave back; closed holds hold nothing.
pub async fn assert_holds_add_up(store: &DynamoStore, wallet: &Wallet) {
    let holds = all_holds(store, &wallet.account_id).await;
    let mut open_sum = Money::zero(wallet.currency);
    for hold in &holds {
        assert!(!hold.remaining.is_negative(), "{hold:?}");
        assert_eq!(
            hold.accounted().expect("one currency"),
            hold.amount,
            "{hold:?}"
        );
        if hold.is_open() {
            open_sum = open_sum.checked_add(hold.remaining).expect("one currency");
        } else {
            assert!(
                hold.remaining.is_zero(),
                "a closed hold holds nothing: {hold:?}"
            );
        }
    }
    assert_eq!(wallet.held, open_sum, "held is the sum of the open holds");
}
