//! Volume tiers end to end (issue 12, point 6): an operator loads Meta's rates and tiers files (the
//! layout as Meta publishes it, made-up figures) and attaches a WABA to a wallet; Meta's tier
//! update arrives through the webhook late, after charges it covers were posted; billing records
//! it, posts one true-up adjustment per covered charge, exactly once however often it is replayed
//! and whatever a duplicate with a later instant says, and prices later charges at the tier. And
//! re-rating (point 7): a corrected card, a dry run, adjustments once per reference.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::handlers::batch::Record;
use imcredits::handlers::billing::{BatchOutcome, Billing};
use imcredits::handlers::webhook::{WebhookApp, router};
use imcredits::ids::AccountId;
use imcredits::ledger::{EntryKind, LedgerEntry};
use imcredits::meta::{SIGNATURE_HEADER, VerifyToken};
use imcredits::ports::tiers::TierUpdates;
use imcredits_tests::app::TestApp;
use imcredits_tests::pipeline::{meta_body, secret};
use imcredits_tests::{dynamo_store_on_own_table, unique_account, whole_statement};
use serde_json::{Value, json};
use tower::ServiceExt;

const RATES: &str =
    include_str!("../shared/rate-cards/meta-format-examples/rates-USD-MADE-UP-FIGURES.csv");
const TIERS: &str =
    include_str!("../shared/rate-cards/meta-format-examples/tiers-USD-MADE-UP-FIGURES.csv");
const LIST: &str = "effective_from=2026-10-01&market_list=example-2026-10-01";
/// `entry[].id` of [`meta_body`].
const WABA: &str = "102290129340398";
/// 2026-11-02T10:00:00Z: Meta says the WABA reached India's utility tier 25000001:50000000.
const TIER_AT: i64 = 1_793_613_600;
const PHONE: &str = "5550201";

struct Rig {
    app: TestApp,
    queue: MemoryQueue,
    webhook: Router,
    billing: Billing<DynamoStore, MemoryQueue, MemoryQueue>,
}

impl Rig {
    async fn spawn() -> Self {
        let app = TestApp::spawn_on(dynamo_store_on_own_table("tiers").await).await;
        let queue = MemoryQueue::new(5, Duration::from_secs(60));
        let webhook = router(WebhookApp {
            secret: secret(),
            verify_token: VerifyToken::new("verify-me").unwrap(),
            queue: queue.clone(),
        });
        let billing = app.billing();
        Rig {
            app,
            queue,
            webhook,
            billing,
        }
    }

    async fn upload(&self, path: &str, csv: &str) -> imcredits_tests::app::Answer {
        self.app
            .upload(path, "text/csv", csv.as_bytes().to_vec())
            .await
    }

    /// Meta posts `body` (signed) to the webhook, and billing handles what it enqueued.
    async fn deliver_and_bill(&self, body: Vec<u8>) -> BatchOutcome {
        let signature = imcredits::meta::signature::signature_header_value(&secret(), &body);
        let request = Request::post("/webhooks/meta")
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(Body::from(body))
            .unwrap();
        let answer = self.webhook.clone().oneshot(request).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let deliveries = self.queue.receive(10);
        assert!(!deliveries.is_empty(), "the webhook enqueued something");
        let records: Vec<Record> = deliveries
            .iter()
            .map(|delivery| Record {
                id: delivery.receipt.to_string(),
                body: delivery.body.clone(),
            })
            .collect();
        let outcome = self.billing.handle(&records).await;
        for delivery in &deliveries {
            self.queue.delete(delivery.receipt);
        }
        outcome
    }
}

fn status(wamid: &str, category: &str, recipient: &str, at: i64) -> Value {
    json!({
        "id": wamid, "status": "delivered", "timestamp": at.to_string(), "recipient_id": recipient,
        "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": category}
    })
}

fn tier_update(at: i64, tier: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "time": at, "changes": [{"field": "account_update", "value": {
            "event": "VOLUME_BASED_PRICING_TIER_UPDATE",
            "volume_tier_info": {"tier_update_time": at, "pricing_category": "UTILITY",
                "tier": tier, "effective_month": "2026-11", "region": "INDIA"}}}]}]
    }))
    .unwrap()
}

fn of_kind(entries: &[LedgerEntry], kind: EntryKind) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = entries
        .iter()
        .filter(|entry| entry.kind == kind)
        .map(|entry| (entry.description.clone(), entry.amount.amount().to_string()))
        .collect();
    found.sort();
    found
}

async fn wallet(rig: &Rig) -> AccountId {
    let routes = [format!("phone-numbers/{PHONE}"), format!("wabas/{WABA}")];
    rig.app.routed_wallet("tiers", &routes).await
}

#[tokio::test]
async fn a_late_tier_update_is_trued_up_once_and_later_charges_priced_at_the_tier() {
    let rig = Rig::spawn().await;
    let rates = rig
        .upload(&format!("/v1/operator/rate-cards?{LIST}"), RATES)
        .await;
    assert_eq!(rates.status, StatusCode::CREATED, "{}", rates.body);
    let tiers = rig
        .upload(&format!("/v1/operator/volume-tiers?{LIST}"), TIERS)
        .await;
    assert_eq!(tiers.status, StatusCode::CREATED, "{}", tiers.body);
    assert_eq!(tiers.body["bands"], 7);
    let account = wallet(&rig).await;

    // Charged at the card before Meta's update arrives: India utility 0.0013 each.
    let hour = 3_600;
    let before = rig
        .deliver_and_bill(meta_body(
            PHONE,
            vec![
                // Before the tier's instant: stays at 0.0013.
                status("wamid.T0", "utility", "919876543210", TIER_AT - hour),
                // After it: each trued up by 0.0013 - 0.0010 = 0.0003.
                status("wamid.T1", "utility", "919876543210", TIER_AT + hour),
                status("wamid.T2", "utility", "919876543211", TIER_AT + 2 * hour),
                // Not covered: marketing in India, utility in North America.
                status("wamid.M1", "marketing", "919876543210", TIER_AT + hour),
                status("wamid.U1", "utility", "12025550123", TIER_AT + hour),
            ],
        ))
        .await;
    assert_eq!((before.posted, before.failed.len()), (5, 0), "{before:?}");

    // Meta's update, late, with Meta's upper-case region; then replayed, and a duplicate with a
    // later instant and another tier (the earliest stands).
    let late = rig
        .deliver_and_bill(tier_update(TIER_AT, "25000001:50000000"))
        .await;
    assert_eq!((late.posted, late.failed.len()), (2, 0), "{late:?}");
    for body in [
        tier_update(TIER_AT, "25000001:50000000"),
        tier_update(TIER_AT + 10 * hour, "50000001:"),
        tier_update(TIER_AT, "25000001:50000000"),
    ] {
        let replay = rig.deliver_and_bill(body).await;
        assert_eq!((replay.posted, replay.failed.len()), (0, 0), "{replay:?}");
    }

    // After the update is recorded, a utility charge is priced at the tier directly: 0.0010.
    let after = rig
        .deliver_and_bill(meta_body(
            PHONE,
            vec![status(
                "wamid.T3",
                "utility",
                "919876543210",
                TIER_AT + 20 * hour,
            )],
        ))
        .await;
    assert_eq!(after.posted, 1, "{after:?}");

    let entries = whole_statement(&rig.app.store, &account, 50).await;
    let adjustments = of_kind(&entries, EntryKind::Adjustment);
    assert_eq!(adjustments.len(), 2, "{adjustments:?}");
    for (description, amount) in &adjustments {
        assert_eq!(amount, "0.0003");
        assert!(
            description.starts_with("volume tier true-up: India utility tier 25000001:50000000"),
            "{description}"
        );
    }
    let t3 = entries
        .iter()
        .find(|entry| entry.id.as_str() == "charge.msg:wamid.T3")
        .unwrap();
    // Money's one canonical text drops the trailing zero (1.5000 USD is 1.50; 0.0010 is 0.001).
    assert_eq!(t3.amount.amount().to_string(), "-0.001");
    assert_eq!(
        t3.metadata.get("rate_basis"),
        Some("tier 25000001:50000000")
    );
    // By hand: 3 × 0.0013 (T0, T1, T2) + 0.0101 (M1) + 0.0021 (U1) + 0.0010 (T3) - 2 × 0.0003.
    let wallet = imcredits_tests::assert_reconciled(&rig.app.store, &account).await;
    assert_eq!(wallet.balance.amount().to_string(), "-0.0165");
}

/// The race between a batch and a late tier update: the batch read the month's updates (none yet),
/// the update was recorded and its true-up read the wallet's charges (this one not yet posted),
/// then the batch posted at the card. Billing re-reads the month's updates after it posts, so the
/// charge is trued up there, once: the update's own true-up later finds it adjusted. Here the
/// batch's second look comes from a redelivery of the same body, after the update was recorded by
/// the true-up's first step (its read having found nothing).
#[tokio::test]
async fn a_charge_posted_after_the_true_up_read_is_trued_up_by_billing_once() {
    let rig = Rig::spawn().await;
    for (path, csv) in [("rate-cards", RATES), ("volume-tiers", TIERS)] {
        let answer = rig
            .upload(&format!("/v1/operator/{path}?{LIST}"), csv)
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let account = wallet(&rig).await;
    let body = meta_body(
        PHONE,
        vec![status(
            "wamid.R1",
            "utility",
            "919876543210",
            TIER_AT + 3_600,
        )],
    );
    let first = rig.deliver_and_bill(body.clone()).await;
    assert_eq!((first.posted, first.failed.len()), (1, 0), "{first:?}");

    // The true-up's first step, recording the update; its read of the charges came before the post.
    let (updates, skipped) =
        imcredits::meta::account_update::tier_updates(&tier_update(TIER_AT, "25000001:50000000"));
    assert_eq!((updates.len(), skipped), (1, 0));
    let update = imcredits::meta::account_update::TierUpdate {
        market: imcredits::pricing::MarketName::parse("India").unwrap(),
        ..updates[0].clone()
    };
    rig.app
        .store
        .record_tier_update(&update, time::OffsetDateTime::now_utc())
        .await
        .unwrap();

    let again = rig.deliver_and_bill(body).await;
    assert_eq!(
        (again.posted, again.failed.len()),
        (1, 0),
        "the true-up: {again:?}"
    );
    let entries = whole_statement(&rig.app.store, &account, 50).await;
    let adjustments = of_kind(&entries, EntryKind::Adjustment);
    assert_eq!(adjustments.len(), 1, "{adjustments:?}");
    assert_eq!(adjustments[0].1, "0.0003");

    // The update's own true-up (Meta's webhook, replayed too) finds the charge adjusted.
    for _ in 0..2 {
        let late = rig
            .deliver_and_bill(tier_update(TIER_AT, "25000001:50000000"))
            .await;
        assert_eq!((late.posted, late.failed.len()), (0, 0), "{late:?}");
    }
    let entries = whole_statement(&rig.app.store, &account, 50).await;
    assert_eq!(of_kind(&entries, EntryKind::Adjustment).len(), 1);
    let wallet = imcredits_tests::assert_reconciled(&rig.app.store, &account).await;
    // By hand: -0.0013 + 0.0003.
    assert_eq!(wallet.balance.amount().to_string(), "-0.001");
}

#[tokio::test]
async fn tiers_files_and_waba_routes_refuse_bad_requests_and_save_nothing() {
    let rig = Rig::spawn().await;
    let tiers = |query: &str| format!("/v1/operator/volume-tiers?{query}");
    for (csv, needle) in [
        (TIERS.replace("0.0010", "0,0010"), "line 4"),
        (
            TIERS.replace("India,USD,Utility,5", "Atlantis,USD,Utility,5"),
            "line 5",
        ),
        (
            TIERS.replace("India,USD,Authentication,0", "India,EUR,Authentication,0"),
            "line 6",
        ),
        (
            format!("{TIERS}India,USD,Utility,0:25000000,0.0014\n"),
            "line 10",
        ),
    ] {
        let answer = rig.upload(&tiers(LIST), &csv).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], "invalid_tiers_file");
        assert!(
            answer.message().contains(needle),
            "{needle}: {}",
            answer.message()
        );
    }
    for (query, field) in [
        ("market_list=example-2026-10-01", "effective_from"),
        ("effective_from=2026-10-01", "market_list"),
        (
            "effective_from=2026-10-01&market_list=example-2026-04-01",
            "market_list",
        ),
    ] {
        let answer = rig.upload(&tiers(query), TIERS).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        assert!(answer.message().starts_with(field), "{}", answer.message());
    }
    let operator = rig.app.operator();
    let listed = rig
        .app
        .call(
            Method::GET,
            "/v1/operator/volume-tiers/USD",
            &operator,
            None,
        )
        .await;
    assert_eq!(listed.body["versions"], json!([]), "nothing was saved");
    let saved = rig.upload(&tiers(LIST), TIERS).await;
    assert_eq!(saved.status, StatusCode::CREATED);
    let replay = rig.upload(&tiers(LIST), TIERS).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    let other = rig
        .upload(&tiers(LIST), &TIERS.replace("0.0008", "0.0007"))
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);

    // WABA routes: to one wallet only; a missing wallet, a bad id, a token without the scope.
    let account = wallet(&rig).await;
    let elsewhere = unique_account("tiers");
    let path =
        |account: &AccountId, waba: &str| format!("/v1/operator/accounts/{account}/wabas/{waba}");
    let missing = rig
        .app
        .call(Method::PUT, &path(&elsewhere, "777"), &operator, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    let other_wallet = wallet_for(&rig, &elsewhere).await;
    let taken = rig
        .app
        .call(Method::PUT, &path(&other_wallet, WABA), &operator, None)
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    let bad = rig
        .app
        .call(Method::PUT, &path(&account, "12ab"), &operator, None)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.message().starts_with("waba_id"), "{}", bad.message());
    let owner = rig.app.token(Some(&account), false);
    let forbidden = rig
        .app
        .call(Method::PUT, &path(&account, "778"), &owner, None)
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let detached = rig
        .app
        .call(Method::DELETE, &path(&account, WABA), &operator, None)
        .await;
    assert_eq!(detached.status, StatusCode::NO_CONTENT);
    let again = rig
        .app
        .call(Method::DELETE, &path(&account, WABA), &operator, None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // A tier update for a WABA no wallet claims is never dropped: its record fails (and waits).
    let orphan = rig
        .deliver_and_bill(tier_update(TIER_AT, "25000001:50000000"))
        .await;
    assert_eq!(orphan.failed.len(), 1, "{orphan:?}");
}

async fn wallet_for(rig: &Rig, account: &AccountId) -> AccountId {
    let created = rig
        .app
        .call(
            Method::POST,
            &format!("/v1/operator/accounts/{account}/wallet"),
            &rig.app.operator(),
            Some(json!({"currency": "USD"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    account.clone()
}

/// Issue 12, point 7: a corrected card for a past period, a dry run showing the total, then the
/// adjustments posted once per reference, visible in the statement with the reason.
#[tokio::test]
async fn a_corrected_card_re_rates_a_period_after_a_dry_run_once_per_reference() {
    let rig = Rig::spawn().await;
    let rates = rig
        .upload(&format!("/v1/operator/rate-cards?{LIST}"), RATES)
        .await;
    assert_eq!(rates.status, StatusCode::CREATED, "{}", rates.body);
    let account = wallet(&rig).await;
    let billed = rig
        .deliver_and_bill(meta_body(
            PHONE,
            vec![
                status("wamid.R1", "marketing", "919876543210", TIER_AT),
                status("wamid.R2", "marketing", "919876543211", TIER_AT + 60),
                status("wamid.R3", "marketing", "12025550123", TIER_AT + 120),
            ],
        ))
        .await;
    assert_eq!(billed.posted, 3, "{billed:?}");
    // The operator finds India's marketing rate was wrong from November on: 0.0090, not 0.0101.
    let corrected = RATES.replace("India,USD,0.0101", "India,USD,0.0090");
    let path = "/v1/operator/rate-cards?effective_from=2026-11-01&market_list=example-2026-10-01";
    let saved = rig.upload(path, &corrected).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);

    let operator = rig.app.operator();
    let re_rates = format!("/v1/operator/accounts/{account}/re-rates");
    let body = |reference: &str, dry_run: bool| json!({"reference": reference, "from": "2026-11-01", "to": "2026-12-01", "dry_run": dry_run});
    let dry = rig
        .app
        .call(
            Method::POST,
            &re_rates,
            &operator,
            Some(body("FIX-1", true)),
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    // Two Indian marketing charges, each 0.0101 - 0.0090 = 0.0011 back; the US one unchanged.
    assert_eq!(
        (
            dry.body["adjustments"].as_u64(),
            dry.body["posted"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(dry.body["total"]["amount"], "0.0022");
    let entries = whole_statement(&rig.app.store, &account, 50).await;
    assert!(
        of_kind(&entries, EntryKind::Adjustment).is_empty(),
        "a dry run posts nothing"
    );

    let done = rig
        .app
        .call(
            Method::POST,
            &re_rates,
            &operator,
            Some(body("FIX-1", false)),
        )
        .await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(
        (
            done.body["posted"].as_u64(),
            done.body["total"]["amount"].as_str()
        ),
        (Some(2), Some("0.0022"))
    );
    let replay = rig
        .app
        .call(
            Method::POST,
            &re_rates,
            &operator,
            Some(body("FIX-1", false)),
        )
        .await;
    assert_eq!(replay.body["posted"], 0, "{}", replay.body);
    // Another reference against the same book finds every charge already corrected.
    let again = rig
        .app
        .call(
            Method::POST,
            &re_rates,
            &operator,
            Some(body("FIX-2", true)),
        )
        .await;
    assert_eq!(again.body["adjustments"], 0, "{}", again.body);

    let adjustments = of_kind(
        &whole_statement(&rig.app.store, &account, 50).await,
        EntryKind::Adjustment,
    );
    assert_eq!(adjustments.len(), 2, "{adjustments:?}");
    for (description, amount) in &adjustments {
        assert_eq!(amount, "0.0011");
        assert!(
            description.starts_with("re-rate FIX-1: marketing (IN)"),
            "{description}"
        );
    }
    // By hand: -(0.0101 + 0.0101 + 0.0112) + 2 × 0.0011.
    let wallet = imcredits_tests::assert_reconciled(&rig.app.store, &account).await;
    assert_eq!(wallet.balance.amount().to_string(), "-0.0292");

    for (bad, field) in [
        (
            json!({"reference": "X", "from": "2026-12-01", "to": "2026-11-01"}),
            "to",
        ),
        (
            json!({"reference": "X", "from": "2026-01-01", "to": "2026-12-01"}),
            "to",
        ),
        (
            json!({"reference": "X", "from": "soon", "to": "2026-12-01"}),
            "from",
        ),
        (
            json!({"reference": "has space", "from": "2026-11-01", "to": "2026-12-01"}),
            "reference",
        ),
    ] {
        let refused = rig
            .app
            .call(Method::POST, &re_rates, &operator, Some(bad))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }
    let owner = rig.app.token(Some(&account), false);
    let forbidden = rig
        .app
        .call(Method::POST, &re_rates, &owner, Some(body("FIX-3", true)))
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
}
