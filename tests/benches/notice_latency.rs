//! Delivery latency on the runner: from an event put on the notifications queue to the first
//! webhook attempt arriving at a receiver, as the local runner runs it (the in-process queue
//! drained by the notifications handler, dynoxide as the store, a signed POST over loopback).
//! Events are sent one at a time, so each figure is one event's own path, not a queue's backlog.
//! Run with `scripts/bench --bench notice_latency`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use imcredits::adapters::http_webhooks::StaticResolver;
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::notices::address::{AddressPolicy, WebhookUrl};
use imcredits::notices::delivery::event_message;
use imcredits::notices::endpoint::{Endpoint, Owner};
use imcredits::notices::retry::RetryPolicy;
use imcredits::notices::signing::SigningSecret;
use imcredits::ports::notices::EndpointStore;
use imcredits::ports::queue::QueueSend;
use imcredits_tests::notices::{drain_once, low_balance, notifier};
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

    let queue = MemoryQueue::new(5, Duration::from_secs(30));
    let notices = Arc::new(notifier(
        store.clone(),
        queue.clone(),
        AddressPolicy::AllowLoopbackHttp,
        StaticResolver::default(),
        RetryPolicy::SHORT,
    ));
    // The runner's loop: handle what arrives, else wait for the queue (or its 200 ms poll).
    let looped = {
        let (notices, queue) = (Arc::clone(&notices), queue.clone());
        tokio::spawn(async move {
            loop {
                if drain_once(&notices, &queue).await == 0 {
                    queue.wait(Duration::from_millis(200)).await;
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
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "notice_latency: event -> first webhook attempt over {EVENTS} events (runner loop, dynoxide, loopback): \
         median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(pick(0.99)),
        ms(pick(1.0))
    );
}
