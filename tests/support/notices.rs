//! A rig for the notices tests: the API (`TestApp`) publishing on an in-process notifications
//! queue, the notifications handler draining it with a short retry schedule, and a receiver on
//! 127.0.0.1 that verifies every delivery with the `standardwebhooks` library.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::http_webhooks::{StaticResolver, WebhookClient};
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::handlers::batch::Record;
use imcredits::handlers::notifications::Notifier;
use imcredits::ids::AccountId;
use imcredits::notices::address::AddressPolicy;
use imcredits::notices::delivery::event_message;
use imcredits::notices::retry::RetryPolicy;
use imcredits::notices::{Event, EventData};
use imcredits::ports::clock::SystemClock;
use imcredits::ports::queue::QueueSend;
use serde_json::{Value, json};

use crate::app::TestApp;
use crate::receiver::Receiver;

/// Retries tens of milliseconds apart, an endpoint disabled after `disable_after`.
pub fn quick_policy(disable_after: Duration) -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(200),
        window: Duration::from_secs(30),
        disable_after,
        attempt_timeout: Duration::from_secs(1),
        lease_margin: Duration::from_secs(1),
    }
}

pub type TestNotifier = Notifier<DynamoStore, MemoryQueue, WebhookClient>;

pub struct NoticesRig {
    pub app: TestApp,
    pub receiver: Receiver,
    pub notifier: TestNotifier,
}

/// A notifier on `queue` and `store`, delivering under `policy` with addresses judged by
/// `address_policy` and names from `resolver`.
pub fn notifier(
    store: DynamoStore,
    queue: MemoryQueue,
    address_policy: AddressPolicy,
    resolver: StaticResolver,
    policy: RetryPolicy,
) -> TestNotifier {
    Notifier {
        store,
        queue,
        web: WebhookClient::new(address_policy, Arc::new(resolver)).expect("a client"),
        clock: Arc::new(SystemClock),
        policy,
    }
}

/// Hands everything on `queue` to `notifier` once; answers how many records it handled.
pub async fn drain_once(notifier: &TestNotifier, queue: &MemoryQueue) -> usize {
    let deliveries = queue.receive(10);
    if deliveries.is_empty() {
        return 0;
    }
    let records: Vec<Record> = deliveries
        .iter()
        .map(|delivery| Record {
            id: delivery.receipt.to_string(),
            body: delivery.body.clone(),
        })
        .collect();
    let outcome = notifier.handle(&records).await;
    for delivery in &deliveries {
        if outcome.failed.contains(&delivery.receipt.to_string()) {
            queue.release(delivery.receipt);
        } else {
            queue.delete(delivery.receipt);
        }
    }
    records.len()
}

impl NoticesRig {
    pub async fn start(policy: RetryPolicy) -> Self {
        let app = TestApp::spawn().await;
        let notifier = notifier(
            app.store.clone(),
            app.notifications.clone(),
            AddressPolicy::AllowLoopbackHttp,
            StaticResolver::default(),
            policy,
        );
        Self {
            app,
            receiver: Receiver::start(),
            notifier,
        }
    }

    /// Runs the handler until `done` holds of what the receiver got, or `within` passes; answers
    /// the receiver's log then.
    pub async fn run_until(&self, within: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            drain_once(&self.notifier, &self.app.notifications).await;
            let log = self.receiver.log().await;
            if done(&log) || Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs the handler for `period` whatever arrives (to show nothing more does).
    pub async fn run_for(&self, period: Duration) -> Vec<Value> {
        self.run_until(period, |_| false).await
    }

    pub async fn publish(&self, event: &Event) {
        self.app
            .notifications
            .send_all(&[event_message(event)])
            .await
            .expect("queued");
    }

    /// Registers `path` of the receiver for `account` (or the platform when `None`); the
    /// receiver verifies with the secret shown once. Answers the endpoint's JSON.
    pub async fn register(
        &self,
        account: Option<&AccountId>,
        path: &str,
        types: &[&str],
        rule: Value,
    ) -> Value {
        let (route, token) = match account {
            Some(account) => (
                "/v1/wallet/webhook-endpoints",
                self.app.token(Some(account), false),
            ),
            None => ("/v1/operator/webhook-endpoints", self.app.operator()),
        };
        let created = self
            .app
            .call(
                Method::POST,
                route,
                &token,
                Some(json!({"url": self.receiver.url(path), "event_types": types})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let secret = created.body["secret"].as_str().expect("the secret, once");
        self.receiver.route(path, &[secret], rule).await;
        created.body
    }

    /// The account's feed, newest first.
    pub async fn feed(&self, account: &AccountId) -> Value {
        let token = self.app.token(Some(account), false);
        let page = self
            .app
            .call(Method::GET, "/v1/wallet/notices?limit=100", &token, None)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.body
    }
}

/// A `balance.low` event for `account`, keyed by `key`.
pub fn low_balance(account: &AccountId, key: &str) -> Event {
    Event::new(
        account,
        key,
        time::OffsetDateTime::now_utc(),
        EventData::BalanceLow {
            balance: crate::usd("4.50"),
            threshold: crate::usd("5.00"),
            available: Some(crate::usd("4.50")),
        },
    )
    .expect("a valid event")
}

/// Entries of `log` whose webhook-id is `id`.
pub fn with_id<'a>(log: &'a [Value], id: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|entry| entry["webhook_id"] == id)
        .collect()
}
