//! The purchase half of the store's contract: recorded once, credited once, statuses that only
//! move up, history newest first within one account, the newest purchase's card kept. On DynamoDB
//! Local and on dynoxide alike.

use imcredits::ids::AccountId;
use imcredits::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use imcredits::money::{Currency, QuotePolicy};
use imcredits::payments::purchase::{
    PaidCheckout, Purchase, PurchaseKey, PurchaseStatus, SavedPaymentMethod, StoredCheckout,
};
use imcredits::payments::{
    CheckoutSessionId, ProviderCustomerId, ProviderPaymentId, ProviderPaymentMethodId, PurchaseId,
};
use imcredits::ports::store::{
    Closed, Fulfilment, PaymentMethodGet, PaymentMethodSave, PurchaseListRequest, PurchaseRead,
    PurchaseRecord, PurchaseRecorded, PurchaseSettle, StoreError,
};
use imcredits_tests::faults::{FailOperation, Fault};
use imcredits_tests::{Backend, assert_reconciled, at, new_wallet, usd};
use time::Duration;

fn purchase(account: &AccountId, key: &str, credits: u64, minutes: i64) -> Purchase {
    let policy = QuotePolicy::zoho_default(Currency::Usd);
    let quote = policy
        .quote(policy.credits(credits).unwrap())
        .expect("a quote");
    Purchase::pending(
        PurchaseId::for_request(account, &PurchaseKey::parse(key).unwrap()),
        account.clone(),
        quote,
        format!("fingerprint-{credits}"),
        None,
        at() + Duration::minutes(minutes),
    )
}

fn entry(purchase: &Purchase) -> NewEntry {
    NewEntry::new(
        EntryId::purchase(purchase.id.as_str()).unwrap(),
        EntryKind::Purchase,
        purchase.quote.subtotal,
        "test purchase",
        Metadata::new(),
        at(),
    )
    .unwrap()
}

fn paid(session: &str, customer: Option<&str>, method: Option<&str>) -> PaidCheckout {
    PaidCheckout {
        session_id: CheckoutSessionId::parse(session).unwrap(),
        customer: customer.map(|c| ProviderCustomerId::parse(c).unwrap()),
        payment_intent: Some(ProviderPaymentId::parse("pi_1").unwrap()),
        payment_method: method.map(|m| ProviderPaymentMethodId::parse(m).unwrap()),
    }
}

fn checkout(session: &str) -> StoredCheckout {
    StoredCheckout {
        session_id: CheckoutSessionId::parse(session).unwrap(),
        url: format!("https://checkout.stripe.com/c/pay/{session}"),
    }
}

pub async fn a_purchase_is_recorded_once_and_credited_once_whatever_the_order(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "pur-once").await;
    let account = &wallet.account_id;
    let original = purchase(account, "k1", 3, 0);
    assert_eq!(
        store.record_purchase(&original).await.unwrap(),
        PurchaseRecorded::Created(original.clone())
    );
    // A replay a minute later finds the original, as stored.
    let mut replay = original.clone();
    replay.created_at += Duration::minutes(1);
    replay.request_sha256 = "another body".into();
    assert_eq!(
        store.record_purchase(&replay).await.unwrap(),
        PurchaseRecorded::Existing(original.clone())
    );

    // The page is stored once; a different page later keeps the first.
    let stored = store
        .set_purchase_checkout(account, &original.id, &checkout("cs_1"), at())
        .await
        .unwrap();
    assert_eq!(stored.checkout, Some(checkout("cs_1")));
    let again = store
        .set_purchase_checkout(account, &original.id, &checkout("cs_2"), at())
        .await
        .unwrap();
    assert_eq!(again.checkout, Some(checkout("cs_1")));

    // Expired overtakes paid; paid still wins; later closes change nothing.
    assert_eq!(
        store
            .close_purchase(account, &original.id, PurchaseStatus::Expired, at())
            .await
            .unwrap(),
        Some(Closed::Changed(PurchaseStatus::Expired))
    );
    let first = store
        .fulfil_purchase(
            &original,
            &entry(&original),
            &paid("cs_1", Some("cus_1"), None),
            at(),
        )
        .await
        .unwrap();
    assert!(matches!(first, Fulfilment::Credited { .. }), "{first:?}");
    for _ in 0..3 {
        let repeat = store
            .fulfil_purchase(
                &original,
                &entry(&original),
                &paid("cs_1", Some("cus_1"), None),
                at(),
            )
            .await
            .unwrap();
        assert!(
            matches!(repeat, Fulfilment::AlreadyCredited(_)),
            "{repeat:?}"
        );
    }
    for status in [PurchaseStatus::Failed, PurchaseStatus::Expired] {
        assert_eq!(
            store
                .close_purchase(account, &original.id, status, at())
                .await
                .unwrap(),
            Some(Closed::Unchanged(PurchaseStatus::Paid))
        );
    }
    let read = store
        .get_purchase(account, &original.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.status, PurchaseStatus::Paid);
    assert_eq!(read.paid_at, Some(at()));
    assert_eq!(read.quote, original.quote);
    assert_eq!(read.payment_intent.unwrap().as_str(), "pi_1");
    // The completion saved the customer, not yet a card.
    let saved = store.get_payment_method(account).await.unwrap().unwrap();
    assert_eq!(saved.customer.as_str(), "cus_1");
    assert!(!saved.is_chargeable());

    // Nothing of this exists under another account, or under another id.
    let other = AccountId::parse("pur-once-somebody-else").unwrap();
    assert_eq!(
        store.get_purchase(&other, &original.id).await.unwrap(),
        None
    );
    let unknown = PurchaseId::parse("pur_unknown").unwrap();
    assert_eq!(
        store
            .close_purchase(account, &unknown, PurchaseStatus::Failed, at())
            .await
            .unwrap(),
        None
    );
    // Pending and paid are not reached by closing.
    assert!(matches!(
        store
            .close_purchase(account, &original.id, PurchaseStatus::Paid, at())
            .await,
        Err(StoreError::Corrupt(_))
    ));
    let after = assert_reconciled(&store, account).await;
    assert_eq!((after.entry_count, after.balance), (1, usd("6.00")));
}

pub async fn a_fulfilment_whose_answer_is_lost_is_credited_once_on_retry(backend: &Backend) {
    for fault in [Fault::RequestLost, Fault::AnswerLost] {
        let store = backend.store().await;
        let wallet = new_wallet(&store, "pur-fault").await;
        let account = &wallet.account_id;
        let bought = purchase(account, "k-fault", 2, 0);
        store.record_purchase(&bought).await.unwrap();
        let failing = FailOperation::new("TransactWriteItems", fault, 1);
        let interceptor = failing.clone();
        let faulty = backend
            .store_with(move |config| config.interceptor(interceptor))
            .await;
        let paid = paid("cs_f", Some("cus_f"), Some("pm_f"));
        let first = faulty
            .fulfil_purchase(&bought, &entry(&bought), &paid, at())
            .await;
        assert!(
            matches!(first, Err(StoreError::Unavailable(_))),
            "{first:?}"
        );
        assert_eq!(failing.remaining(), 0);
        // What the lost request did not write, and the lost answer did, the retry settles.
        let retry = faulty
            .fulfil_purchase(&bought, &entry(&bought), &paid, at())
            .await
            .unwrap();
        match fault {
            Fault::RequestLost => assert!(matches!(retry, Fulfilment::Credited { .. })),
            Fault::AnswerLost => assert!(matches!(retry, Fulfilment::AlreadyCredited(_))),
        }
        let read = store
            .get_purchase(account, &bought.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.status, PurchaseStatus::Paid, "{fault:?}");
        assert!(
            store
                .get_payment_method(account)
                .await
                .unwrap()
                .unwrap()
                .is_chargeable()
        );
        let after = assert_reconciled(&store, account).await;
        assert_eq!(
            (after.entry_count, after.balance),
            (1, usd("4.00")),
            "{fault:?}"
        );
    }
}

pub async fn purchase_history_pages_newest_first_within_one_account(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "pur-history").await;
    let neighbour = new_wallet(&store, "pur-neighbour").await;
    let account = &wallet.account_id;
    let mut ids = Vec::new();
    for index in 0..5 {
        let bought = purchase(account, &format!("h{index}"), 1, index);
        store.record_purchase(&bought).await.unwrap();
        ids.push(bought.id);
    }
    // Two at the same millisecond: the id orders them, and neither is lost between pages.
    for key in ["same-a", "same-b"] {
        let bought = purchase(account, key, 1, 10);
        store.record_purchase(&bought).await.unwrap();
        ids.push(bought.id);
    }
    store
        .record_purchase(&purchase(&neighbour.account_id, "h0", 1, 20))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = store
            .purchase_page(account, &PurchaseListRequest::new(2, cursor))
            .await
            .unwrap();
        assert!(page.purchases.len() <= 2);
        seen.extend(page.purchases.into_iter().map(|purchase| purchase.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut last_two = ids.split_off(5);
    last_two.sort();
    let mut expected: Vec<PurchaseId> = last_two.into_iter().rev().collect();
    expected.extend(ids.into_iter().rev());
    assert_eq!(seen, expected);
    let neighbours = store
        .purchase_page(&neighbour.account_id, &PurchaseListRequest::new(100, None))
        .await
        .unwrap();
    assert_eq!(neighbours.purchases.len(), 1);
    assert_reconciled(&store, account).await;
    assert_reconciled(&store, &neighbour.account_id).await;
}

pub async fn the_newest_purchase_s_card_is_kept(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "pur-card").await;
    let account = &wallet.account_id;
    let card = |purchase: &Purchase, customer: &str, method: Option<&str>| SavedPaymentMethod {
        customer: ProviderCustomerId::parse(customer).unwrap(),
        payment_method: method.map(|m| ProviderPaymentMethodId::parse(m).unwrap()),
        source_purchase: purchase.id.clone(),
        source_created_at: purchase.created_at,
    };
    let older = purchase(account, "old", 1, 0);
    let newer = purchase(account, "new", 1, 5);
    assert!(
        store
            .save_payment_method(account, &card(&newer, "cus_a", Some("pm_new")), at())
            .await
            .unwrap()
    );
    assert!(
        !store
            .save_payment_method(account, &card(&older, "cus_a", Some("pm_old")), at())
            .await
            .unwrap()
    );
    let saved = store.get_payment_method(account).await.unwrap().unwrap();
    assert_eq!(saved.payment_method.unwrap().as_str(), "pm_new");
    // The same purchase again (its other event) is accepted.
    assert!(
        store
            .save_payment_method(account, &card(&newer, "cus_a", None), at())
            .await
            .unwrap()
    );
    assert!(
        store
            .get_payment_method(account)
            .await
            .unwrap()
            .unwrap()
            .is_chargeable()
    );
    // A newer purchase under another customer, whose card is not known yet: the old card belongs
    // to the old customer and is not offered for the new one.
    let newest = purchase(account, "newest", 1, 9);
    store
        .save_payment_method(account, &card(&newest, "cus_b", None), at())
        .await
        .unwrap();
    let saved = store.get_payment_method(account).await.unwrap().unwrap();
    assert_eq!(saved.customer.as_str(), "cus_b");
    assert!(!saved.is_chargeable());
    // A fulfilment of an older purchase credits, and keeps the newer card.
    store.record_purchase(&older).await.unwrap();
    let credited = store
        .fulfil_purchase(
            &older,
            &entry(&older),
            &paid("cs_old", Some("cus_a"), Some("pm_old")),
            at(),
        )
        .await
        .unwrap();
    assert!(matches!(credited, Fulfilment::Credited { .. }));
    assert_eq!(
        store
            .get_payment_method(account)
            .await
            .unwrap()
            .unwrap()
            .customer
            .as_str(),
        "cus_b"
    );
    let after = assert_reconciled(&store, account).await;
    assert_eq!(after.balance, usd("2.00"));
}
