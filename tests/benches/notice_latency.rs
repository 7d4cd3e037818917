//! Delivery latency on the runner: from an event put on the notifications queue to the first
//! webhook attempt arriving at a receiver, as the local runner runs it (its durable SQLite
//! notifications queue, drained by the notifications handler as `local-runner/src/notices.rs`
//! does, dynoxide as the store, a signed POST over loopback).
//! Events are sent one at a time, so each figure is one event's own path, not a queue's backlog.
//! Run with `scripts/bench --bench notice_latency`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use imcredits::adapters::http_webhooks::{StaticResolver, WebhookClient};
use imcredits::adapters::sqlite_queue::{DurableQueue, QueueLimits, QueueRules, QueueStore};
use imcredits::handlers::batch::Record;
use imcredits::handlers::notifications::Notifier;
use imcredits::notices::address::{AddressPolicy, WebhookUrl};
use imcredits::notices::delivery::event_message;
use imcredits::notices::endpoint::{Endpoint, Owner};
use imcredits::notices::retry::RetryPolicy;
use imcredits::notices::signing::SigningSecret;
use imcredits::ports::clock::SystemClock;
use imcredits::ports::notices::EndpointStore;
use imcredits::ports::queue::QueueSend;
use imcredits_tests::notices::low_balance;
use imcredits_tests::{Backend, new_wallet};
use tokio::sync::mpsc;

const EVENTS: usize = 200;

#[tokio::main]
async fn main() {
    let backend = Backend::dynoxide().await;
    let store = backend.store().await;
    let account = new_wallet(&store, "latency").await.account_id;

    let (arrived, mut arrivals) = mpsc::unbounded_channel::<Instant>();
    let receiver = Router::new().route(
        "/hook",
        post(move || {
            let arrived = arrived.clone();
            async move {
                let _ = arrived.send(Instant::now());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let parsed = WebhookUrl::parse(&url, AddressPolicy::AllowLoopbackHttp).unwrap();
    let endpoint = Endpoint::new(
        Owner::Account(account.clone()),
        &parsed,
        vec![],
        SigningSecret::generate().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    store.create_endpoint(&endpoint).await.unwrap();

    // The runner's notifications queue: a SQLite file, with the runner's rules.
    let path = std::env::temp_dir().join(format!("notice-latency-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let rules = QueueRules {
        receives_max: 5,
        visibility: Duration::from_secs(30),
        limits: QueueLimits {
            messages_max: 10_000,
            bytes_max: 16 * 1024 * 1024,
        },
    };
    let queue = QueueStore::open(&path)
        .unwrap()
        .queue("notifications", rules);
    let notices = Arc::new(Notifier {
        store: store.clone(),
        queue: queue.clone(),
        web: WebhookClient::new(
            AddressPolicy::AllowLoopbackHttp,
            Arc::new(StaticResolver::default()),
        )
        .unwrap(),
        clock: Arc::new(SystemClock),
        policy: RetryPolicy::SHORT,
    });
    // The runner's loop: handle what arrives, else wait for the queue (or a 1 s poll).
    let looped = {
        let (notices, queue) = (Arc::clone(&notices), queue.clone());
        tokio::spawn(async move {
            loop {
                if drain_once(&notices, &queue).await == 0 {
                    queue.wait(Duration::from_secs(1)).await;
                }
            }
        })
    };
    let mut latencies: Vec<Duration> = Vec::with_capacity(EVENTS);
    for index in 0..EVENTS {
        let event = low_balance(&account, &format!("bench-{index}"));
        let sent = Instant::now();
        queue.send_all(&[event_message(&event)]).await.unwrap();
        let at = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
            .await
            .expect("a first attempt within 10 s")
            .expect("the receiver runs");
        latencies.push(at - sent);
    }
    looped.abort();
    let _ = looped.await;
    let _ = std::fs::remove_file(&path);
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "notice_latency: event -> first webhook attempt over {EVENTS} events (runner loop, SQLite queue, dynoxide, loopback): \
         median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(pick(0.99)),
        ms(pick(1.0))
    );
}

type LocalNotifier =
    Notifier<imcredits::adapters::dynamodb::DynamoStore, DurableQueue, WebhookClient>;

/// One receive from the durable queue handed to the notifier: what was handled leaves the queue,
/// what failed is released with its reason (as the runner's notices loop does).
async fn drain_once(notices: &LocalNotifier, queue: &DurableQueue) -> usize {
    let deliveries = queue.receive(10).await.unwrap();
    let records: Vec<Record> = deliveries
        .iter()
        .map(|delivery| Record {
            id: delivery.receipt.to_string(),
            body: delivery.body.clone(),
        })
        .collect();
    if records.is_empty() {
        return 0;
    }
    let outcome = notices.handle(&records).await;
    let (failed, done): (Vec<u64>, Vec<u64>) = deliveries
        .iter()
        .map(|delivery| delivery.receipt)
        .partition(|receipt| outcome.failed.contains(&receipt.to_string()));
    queue.delete(done).await.unwrap();
    let failed = failed
        .into_iter()
        .map(|receipt| (receipt, outcome.reasons[&receipt.to_string()].clone()))
        .collect();
    queue.release_failed(failed).await.unwrap();
    records.len()
}
