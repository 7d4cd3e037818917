//! Events per second through webhook → queue → billing → store as the local runner runs them:
//! the webhook router and the billing handler over an in-process queue, on dynoxide (the runner's
//! embedded engine) in this process. Signed bodies of 100 statuses are posted, then the queue is
//! drained by the billing handler ten records at a time, as the runner's billing loop does.
//! Run with `scripts/bench --bench pipeline_throughput`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::handlers::batch::Record;
use imcredits::handlers::billing::Billing;
use imcredits::handlers::webhook::{WebhookApp, router};
use imcredits::ids::PhoneNumberId;
use imcredits::meta::{SIGNATURE_HEADER, VerifyToken};
use imcredits::ports::clock::SystemClock;
use imcredits::ports::store::{EntriesPost, RateCardSave, RouteSet};
use imcredits::pricing::RateCard;
use imcredits_tests::pipeline::{meta_body, pmp, secret};
use imcredits_tests::{Backend, assert_reconciled, at, grant, new_wallet};
use serde_json::json;
use tower::ServiceExt;

const BODIES: usize = 50;
const STATUSES_PER_BODY: usize = 100;

#[tokio::main]
async fn main() {
    let backend = Backend::dynoxide().await;
    let store = backend.store().await;
    let flat = include_str!("../../shared/rate-cards/zoho-flat-usd.json");
    store
        .save_rate_card(&RateCard::from_json(flat).unwrap(), at())
        .await
        .unwrap();
    let wallet = new_wallet(&store, "throughput").await;
    let phone = PhoneNumberId::parse("106540352242922").unwrap();
    store
        .attach_route(&phone, &wallet.account_id, at())
        .await
        .unwrap();
    store
        .post_entries(&wallet.account_id, &[grant("FUNDS", "1000")], at())
        .await
        .unwrap();

    let queue = MemoryQueue::new(5, Duration::from_secs(30));
    let webhook = router(WebhookApp {
        secret: secret(),
        verify_token: VerifyToken::new("bench").unwrap(),
        queue: queue.clone(),
    });
    let billing = Billing::new(
        store.clone(),
        MemoryQueue::new(1, Duration::from_secs(30)),
        MemoryQueue::new(1, Duration::from_secs(30)),
        Arc::new(SystemClock),
        Duration::from_secs(60),
    );
    let bodies: Vec<Vec<u8>> = (0..BODIES)
        .map(|b| {
            let statuses = (0..STATUSES_PER_BODY)
                .map(|s| json!({"id": format!("wamid.TP{b:03}{s:03}"), "status": "delivered", "timestamp": "1750030073",
                                "recipient_id": "919876543210", "pricing": pmp("regular", "marketing")}))
                .collect();
            meta_body("106540352242922", statuses)
        })
        .collect();

    let started = Instant::now();
    for body in bodies {
        let signature = imcredits::meta::signature::signature_header_value(&secret(), &body);
        let request = Request::post("/webhooks/meta")
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(Body::from(body))
            .unwrap();
        assert_eq!(
            webhook.clone().oneshot(request).await.unwrap().status(),
            StatusCode::OK
        );
    }
    let enqueued = started.elapsed();
    let mut posted = 0;
    for _ in 0..BODIES * 2 {
        let deliveries = queue.receive(10);
        if deliveries.is_empty() {
            break;
        }
        let records: Vec<Record> = deliveries
            .iter()
            .map(|d| Record {
                id: d.receipt.to_string(),
                body: d.body.clone(),
            })
            .collect();
        let outcome = billing.handle(&records).await;
        assert!(outcome.failed.is_empty(), "{outcome:?}");
        posted += outcome.posted;
        for delivery in deliveries {
            queue.delete(delivery.receipt);
        }
    }
    let elapsed = started.elapsed();
    let events = BODIES * STATUSES_PER_BODY;
    assert_eq!(posted, events);
    let wallet = assert_reconciled(&store, &wallet.account_id).await;
    assert_eq!(wallet.entry_count, events as u64 + 1);
    println!(
        "local runner pipeline (webhook → in-process queue → billing → dynoxide), {events} events in {BODIES} signed bodies:"
    );
    println!(
        "  webhook: {:.0} events/s ({:.1} ms per 100-status body)",
        events as f64 / enqueued.as_secs_f64(),
        enqueued.as_secs_f64() * 1000.0 / BODIES as f64
    );
    println!(
        "  end to end: {:.0} events/s ({:.2} s for all)",
        events as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}
