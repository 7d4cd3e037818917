//! Auto-recharge under test: the handler on DynamoDB Local, Stripe's PaymentIntents API stood in
//! for by `wiremock`, a clock the test moves, and the notifications on an in-process queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::adapters::stripe::{StripeClient, StripeConfig, StripeSecretKey};
use imcredits::handlers::auto_recharge::AutoRecharger;
use imcredits::ids::AccountId;
use imcredits::money::CreditPricing;
use imcredits::payments::purchase::SavedPaymentMethod;
use imcredits::payments::{ProviderCustomerId, ProviderPaymentMethodId, PurchaseId};
use imcredits::ports::clock::Clock;
use imcredits::ports::store::{EntriesPost, PaymentMethodSave, WalletSettingsSet};
use imcredits::recharge::RechargeLimits;
use imcredits::wallet::AutoRecharge;
use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{at, charge, grant, new_wallet, usd};

/// A clock that moves only when the test says so.
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(now: OffsetDateTime) -> Arc<Self> {
        Arc::new(Self(Mutex::new(now)))
    }

    pub fn advance(&self, by: time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `POST /v1/payment_intents` answered as Stripe does for a confirmed off-session charge: the
/// PaymentIntent's id is a function of the `Idempotency-Key`.
pub struct IntentPerKey {
    pub status: &'static str,
    /// How long Stripe takes to answer.
    pub delay: Duration,
}

impl Respond for IntentPerKey {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = idempotency_key(request).unwrap_or_default();
        let tail: String = key.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({
                "id": format!("pi_{tail}"),
                "object": "payment_intent",
                "status": self.status,
                "last_payment_error": null
            }))
            .set_delay(self.delay)
    }
}

pub fn idempotency_key(request: &Request) -> Option<String> {
    request
        .headers
        .get("Idempotency-Key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Stripe's answer to a declined off-session charge.
pub fn declined() -> ResponseTemplate {
    ResponseTemplate::new(402).set_body_json(json!({"error": {
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.", "payment_intent": {"id": "pi_declined"}}}))
}

pub struct RechargeRig {
    pub store: DynamoStore,
    pub stripe: MockServer,
    pub notifications: MemoryQueue,
    pub clock: Arc<ManualClock>,
    pub recharger: Arc<AutoRecharger<DynamoStore, StripeClient, MemoryQueue>>,
}

impl RechargeRig {
    /// A rig whose Stripe client gives up after `timeout_request_ms`, without retrying itself
    /// (retries are the handler's, through the lease).
    pub async fn start(
        store: DynamoStore,
        limits: RechargeLimits,
        timeout_request_ms: u64,
    ) -> Self {
        let stripe = MockServer::start().await;
        let mut config = StripeConfig::new(
            StripeSecretKey::parse(crate::stripe::SECRET_KEY).expect("a test key"),
        );
        config.base_url = stripe.uri();
        config.timeout_request_ms = timeout_request_ms;
        config.retries_max = 0;
        let notifications = MemoryQueue::new(5, Duration::from_secs(30));
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let recharger = Arc::new(AutoRecharger {
            store: store.clone(),
            payments: StripeClient::new(config).expect("a valid client"),
            notifications: notifications.clone(),
            clock: clock.clone(),
            pricing: CreditPricing::default(),
            limits,
        });
        Self {
            store,
            stripe,
            notifications,
            clock,
            recharger,
        }
    }

    pub async fn answer_every_charge(&self, response: impl Respond + 'static) {
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .respond_with(response)
            .mount(&self.stripe)
            .await;
    }

    /// Every PaymentIntent creation the handler sent, in order.
    pub async fn charges(&self) -> Vec<Request> {
        self.stripe
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.url.path() == "/v1/payment_intents")
            .collect()
    }

    /// Notifications sent so far (each read once), as JSON.
    pub fn notices(&self) -> Vec<Value> {
        self.notifications
            .receive(100)
            .into_iter()
            .map(|delivery| {
                self.notifications.delete(delivery.receipt);
                serde_json::from_str(&delivery.body).expect("notices are JSON")
            })
            .collect()
    }

    /// A wallet with `balance` USD, a saved card and auto-recharge at minimum 5.00, 10 credits.
    pub async fn due_wallet(&self, prefix: &str, balance: &str) -> AccountId {
        let wallet = new_wallet(&self.store, prefix).await;
        let account = wallet.account_id;
        self.store
            .post_entries(&account, &[grant(&format!("G-{prefix}"), "6")], at())
            .await
            .expect("granted");
        let card = SavedPaymentMethod {
            customer: ProviderCustomerId::parse("cus_test").expect("valid"),
            payment_method: Some(ProviderPaymentMethodId::parse("pm_test").expect("valid")),
            source_purchase: PurchaseId::parse("pur_test").expect("valid"),
            source_created_at: at(),
        };
        self.store
            .save_payment_method(&account, &card, at())
            .await
            .expect("card saved");
        let settings = AutoRecharge::new(true, usd("5"), 10, imcredits::money::Currency::Usd)
            .expect("valid settings");
        self.store
            .set_auto_recharge(&account, &settings, at())
            .await
            .expect("settings saved");
        self.spend(&account, &format!("{prefix}-drop"), balance)
            .await;
        account
    }

    /// Posts a charge that brings the balance from 6 to `balance` (or by 6 - balance).
    pub async fn spend(&self, account: &AccountId, wamid: &str, balance: &str) {
        let amount = usd("6").checked_sub(usd(balance)).expect("same currency");
        let negative = usd("0").checked_sub(amount).expect("same currency");
        self.store
            .post_entries(
                account,
                &[charge(wamid, &negative.amount().to_string())],
                at(),
            )
            .await
            .expect("charged");
    }
}
