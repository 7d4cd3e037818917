//! The pipeline as it runs in AWS, on emulators: the webhook router, the billing queue on moto
//! (with a dead-letter queue), the billing handler, and the store on DynamoDB Local.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::sqs::SqsQueue;
use imcredits::handlers::batch::Record;
use imcredits::handlers::billing::{BatchOutcome, Billing};
use imcredits::handlers::webhook::{WebhookApp, router};
use imcredits::ids::{AccountId, PhoneNumberId};
use imcredits::meta::{AppSecret, SIGNATURE_HEADER, VerifyToken};
use imcredits::ports::clock::SystemClock;
use imcredits::ports::store::{RateCardSave, RouteSet};
use imcredits::pricing::RateCard;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::sqs::{drain, new_queue, sqs_client};

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "verify-me";
/// 2025-06-15: the flat 0.0125 USD card (effective 2025-01-01) is in force.
pub const EVENT_TIME: &str = "1750030073";
/// Receives before the billing queue dead-letters a message.
pub const RECEIVES_MAX: u32 = 2;

pub struct Pipeline {
    pub store: DynamoStore,
    pub sqs: aws_sdk_sqs::Client,
    pub billing_queue: String,
    pub dead_letters: String,
    pub notifications: String,
    pub recharges: String,
    webhook: Router,
    billing: Billing<DynamoStore, SqsQueue, SqsQueue>,
}

pub fn secret() -> AppSecret {
    AppSecret::new(APP_SECRET.as_bytes()).expect("a test secret")
}

/// A Meta webhook body for `phone` carrying `statuses`.
pub fn meta_body(phone: &str, statuses: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone},
            "contacts": [{"profile": {"name": "José Müller 😀"}, "wa_id": "919876543210"}],
            "statuses": statuses
        }}]}]
    }))
    .expect("json")
}

/// A status of `wamid`; `pricing` is `null` for none.
pub fn status(wamid: &str, state: &str, pricing: Value) -> Value {
    let mut status = json!({"id": wamid, "status": state, "timestamp": EVENT_TIME, "recipient_id": "919876543210"});
    if !pricing.is_null() {
        status["pricing"] = pricing;
    }
    status
}

pub fn pmp(pricing_type: &str, category: &str) -> Value {
    json!({"billable": pricing_type == "regular", "pricing_model": "PMP", "type": pricing_type, "category": category})
}

impl Pipeline {
    pub async fn spawn() -> Self {
        let store = crate::dynamo_store().await;
        let flat = include_str!("../../shared/rate-cards/zoho-flat-usd.json");
        store
            .save_rate_card(
                &RateCard::from_json(flat).expect("the sample card reads"),
                crate::at(),
            )
            .await
            .expect("the flat card saves (or was saved by another test)");
        imcredits::ports::market_lists::seed_market_lists(&store, crate::at())
            .await
            .expect("the seed fixture's market lists load");
        let sqs = sqs_client().await;
        let dead_letters = new_queue(&sqs, "billing-dlq").await;
        let dead_letter_arn = sqs
            .get_queue_attributes()
            .queue_url(&dead_letters)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes()
            .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn).cloned())
            .expect("a queue ARN");
        let billing_queue = new_queue(&sqs, "billing").await;
        sqs.set_queue_attributes()
            .queue_url(&billing_queue)
            .attributes(
                QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": RECEIVES_MAX.to_string()}).to_string(),
            )
            // Unacknowledged records come back at once, so a test need not wait out a timeout.
            .attributes(QueueAttributeName::VisibilityTimeout, "0")
            .send()
            .await
            .expect("redrive policy");
        let notifications = new_queue(&sqs, "notifications").await;
        let recharges = new_queue(&sqs, "recharges").await;
        let webhook = router(WebhookApp {
            secret: secret(),
            verify_token: VerifyToken::new(VERIFY_TOKEN).expect("a token"),
            queue: SqsQueue::new(sqs.clone(), &billing_queue),
        });
        let billing = Billing::new(
            store.clone(),
            SqsQueue::new(sqs.clone(), &notifications),
            SqsQueue::new(sqs.clone(), &recharges),
            Arc::new(SystemClock),
            Duration::from_millis(1),
        );
        Self {
            store,
            sqs,
            billing_queue,
            dead_letters,
            notifications,
            recharges,
            webhook,
            billing,
        }
    }

    /// A funded USD wallet with `phone` routed to it.
    pub async fn wallet(&self, prefix: &str, funds: &str) -> (AccountId, String) {
        let wallet = crate::new_wallet(&self.store, prefix).await;
        let phone = format!("{}", 100_000 + fastrand_like(&wallet.account_id));
        self.store
            .attach_route(
                &PhoneNumberId::parse(&phone).expect("digits"),
                &wallet.account_id,
                crate::at(),
            )
            .await
            .expect("route attached");
        imcredits::ports::store::EntriesPost::post_entries(
            &self.store,
            &wallet.account_id,
            &[crate::grant("FUNDS", funds)],
            crate::at(),
        )
        .await
        .expect("funded");
        (wallet.account_id, phone)
    }

    /// POSTs `body` to the webhook, signed with `secret` (or unsigned when `None`).
    pub async fn post_signed(&self, body: Vec<u8>, signature: Option<String>) -> StatusCode {
        let mut request =
            Request::post("/webhooks/meta").header("content-type", "application/json");
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        let response = self
            .webhook
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        response.status()
    }

    pub async fn post(&self, body: Vec<u8>) -> StatusCode {
        let signature = imcredits::meta::signature::signature_header_value(&secret(), &body);
        self.post_signed(body, Some(signature)).await
    }

    pub async fn get(&self, query: &str) -> (StatusCode, String) {
        let response = self
            .webhook
            .clone()
            .oneshot(
                Request::get(format!("/webhooks/meta?{query}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// One Lambda invocation: receives up to 10 records, bills them, deletes the ones that did not
    /// fail (as SQS does with a partial batch response). With `crash_before_delete`, deletes none:
    /// the function died after billing, before SQS heard back.
    pub async fn bill_once(&self, crash_before_delete: bool) -> Option<BatchOutcome> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.billing_queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let messages = output.messages();
        if messages.is_empty() {
            return None;
        }
        let records: Vec<Record> = messages
            .iter()
            .map(|m| Record {
                id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
            })
            .collect();
        let outcome = self.billing.handle(&records).await;
        if !crash_before_delete {
            for message in messages {
                if !outcome
                    .failed
                    .iter()
                    .any(|id| Some(id.as_str()) == message.message_id())
                {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.billing_queue)
                        .receipt_handle(message.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .expect("delete");
                }
            }
        }
        Some(outcome)
    }

    /// Runs the billing handler on `records` directly (no queue).
    pub async fn billing_handle(&self, records: &[Record]) -> BatchOutcome {
        self.billing.handle(records).await
    }

    /// Bills until the queue is empty (bounded), summing what each invocation did.
    pub async fn bill_all(&self) -> BatchOutcome {
        let mut total = BatchOutcome::default();
        for _ in 0..20 {
            let Some(outcome) = self.bill_once(false).await else {
                return total;
            };
            total.posted += outcome.posted;
            total.replayed += outcome.replayed;
            total.notices += outcome.notices;
            total.recharge_requests += outcome.recharge_requests;
            total.failed.extend(outcome.failed);
        }
        panic!("the billing queue did not drain");
    }

    pub async fn queue_bodies(&self, url: &str) -> Vec<Value> {
        drain(&self.sqs, url, 50)
            .await
            .iter()
            .map(|body| serde_json::from_str(body).expect("queue bodies are JSON"))
            .collect()
    }
}

/// A phone number id of digits derived from the (unique) account id.
fn fastrand_like(account: &AccountId) -> u64 {
    account
        .as_str()
        .bytes()
        .fold(1469598103934665603u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(1099511628211)
        })
        % 1_000_000_000_000
}
