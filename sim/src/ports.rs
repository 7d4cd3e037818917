//! The simulation's own ports: a clock the scheduler moves, queues that deliver late, twice and out
//! of order, and a payment provider that times out, fails, settles later and declines.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use imcredits::ids::AccountId;
use imcredits::payments::{CheckoutSessionId, ProviderPaymentId};
use imcredits::ports::clock::Clock;
use imcredits::ports::payments::{
    ChargeOutcome, CheckoutCreate, CheckoutRequest, CheckoutSession, OffSessionCharge,
    OffSessionChargeRequest, PaymentError, RetryCause,
};
use imcredits::ports::queue::{QueueError, QueueSend};
use time::{Duration, OffsetDateTime};

use crate::faults::Faults;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Simulated time: moves only when the scheduler says.
#[derive(Debug)]
pub struct SimClock(Mutex<OffsetDateTime>);

impl SimClock {
    pub fn new(start: OffsetDateTime) -> Arc<Self> {
        Arc::new(Self(Mutex::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        assert!(!by.is_negative(), "simulated time never runs backwards");
        *lock(&self.0) += by;
    }
}

impl Clock for SimClock {
    fn now(&self) -> OffsetDateTime {
        *lock(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    pub body: String,
    pub visible_at: OffsetDateTime,
    pub receives: u32,
}

#[derive(Debug, Default)]
struct QueueState {
    next_id: u64,
    messages: Vec<Message>,
}

/// An SQS queue in simulated time: a send may fail, or land and report failure (its sender retries:
/// a duplicate); a message may be delayed; a receive takes visible messages in the seed's order.
#[derive(Debug, Clone)]
pub struct SimQueue {
    state: Arc<Mutex<QueueState>>,
    faults: Faults,
    clock: Arc<SimClock>,
    /// Delay a sent message by up to this much (the seed's "delayed delivery").
    pub delay_max: Duration,
}

/// How long a received message stays hidden (SQS's visibility timeout).
pub const VISIBILITY: Duration = Duration::seconds(30);

impl SimQueue {
    pub fn new(faults: Faults, clock: Arc<SimClock>, delay_max: Duration) -> Self {
        Self {
            state: Arc::default(),
            faults,
            clock,
            delay_max,
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.state).messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `max` visible messages in an order the seed picks, hidden for [`VISIBILITY`].
    pub fn receive(&self, max: usize) -> Vec<Message> {
        let now = self.clock.now();
        let mut state = lock(&self.state);
        let mut visible: Vec<usize> = (0..state.messages.len())
            .filter(|&index| state.messages[index].visible_at <= now)
            .collect();
        let mut taken = Vec::new();
        while taken.len() < max && !visible.is_empty() {
            let pick = self.faults.draw(visible.len() as u64) as usize;
            let index = visible.swap_remove(pick);
            let message = &mut state.messages[index];
            message.receives += 1;
            message.visible_at = now + VISIBILITY;
            taken.push(message.clone());
        }
        taken
    }

    pub fn delete(&self, id: u64) {
        lock(&self.state)
            .messages
            .retain(|message| message.id != id);
    }

    /// Every body on the queue (for the checks).
    pub fn bodies(&self) -> Vec<String> {
        lock(&self.state)
            .messages
            .iter()
            .map(|message| message.body.clone())
            .collect()
    }

    fn enqueue(&self, bodies: &[String]) {
        let now = self.clock.now();
        let delay_s = self.delay_max.whole_seconds().max(0) as u64;
        let mut state = lock(&self.state);
        for body in bodies {
            let delay = Duration::seconds(self.faults.draw(delay_s + 1) as i64);
            let id = state.next_id;
            state.next_id += 1;
            state.messages.push(Message {
                id,
                body: body.clone(),
                visible_at: now + delay,
                receives: 0,
            });
        }
    }
}

impl QueueSend for SimQueue {
    async fn send_all(&self, bodies: &[String]) -> Result<(), QueueError> {
        if self.faults.dead() {
            return Err(QueueError::Unavailable("crashed".into()));
        }
        if self.faults.strikes(|rates| rates.queue_send_failed) {
            return Err(QueueError::Unavailable("simulated: SQS refused".into()));
        }
        self.enqueue(bodies);
        if self.faults.strikes(|rates| rates.queue_answer_lost) {
            return Err(QueueError::Unavailable(
                "simulated: sent, then the answer was lost".into(),
            ));
        }
        Ok(())
    }
}

/// One PaymentIntent of the fake provider, keyed by the idempotency key.
#[derive(Debug, Clone)]
pub struct Intent {
    pub account: AccountId,
    pub credits: u32,
    pub outcome: IntentOutcome,
    /// A final answer (succeeded or refused) reached the caller at least once.
    pub answered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentOutcome {
    Succeeded,
    /// Settles as succeeded once the clock passes this time.
    Processing(OffsetDateTime),
    Declined,
    RequiresAction,
}

#[derive(Debug, Default)]
pub struct StripeState {
    /// By idempotency key, in creation order of keys per account.
    pub intents: BTreeMap<String, Intent>,
    /// Broken rules the provider saw (a second attempt while one was unanswered).
    pub violations: Vec<String>,
    pub checkouts: u64,
}

/// The payment provider. A new key while an earlier key of the same wallet never got a final answer
/// would be a second recharge in flight: recorded as a violation.
#[derive(Debug, Clone)]
pub struct FakeStripe {
    pub state: Arc<Mutex<StripeState>>,
    faults: Faults,
    clock: Arc<SimClock>,
}

impl FakeStripe {
    pub fn new(faults: Faults, clock: Arc<SimClock>) -> Self {
        Self {
            state: Arc::default(),
            faults,
            clock,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, StripeState> {
        lock(&self.state)
    }

    fn unavailable(&self) -> Option<PaymentError> {
        if self.faults.dead() {
            return Some(retryable(RetryCause::Connection));
        }
        if self.faults.strikes(|rates| rates.stripe_5xx) {
            return Some(retryable(RetryCause::Status {
                status: 503,
                code: None,
            }));
        }
        if self.faults.strikes(|rates| rates.stripe_timeout) {
            return Some(retryable(RetryCause::Timeout));
        }
        None
    }

    fn new_intent(&self, request: &OffSessionChargeRequest) -> Intent {
        let now = self.clock.now();
        let outcome = match self.faults.draw(20) {
            0..=12 => IntentOutcome::Succeeded,
            13..=14 => IntentOutcome::Processing(now + Duration::minutes(10)),
            15..=18 => IntentOutcome::Declined,
            _ => IntentOutcome::RequiresAction,
        };
        Intent {
            account: request.account_id.clone(),
            credits: request.credits,
            outcome,
            answered: false,
        }
    }
}

fn retryable(cause: RetryCause) -> PaymentError {
    PaymentError::Retryable { cause, attempts: 1 }
}

fn payment_id(key: &str) -> ProviderPaymentId {
    let tail: String = key.chars().filter(char::is_ascii_alphanumeric).collect();
    ProviderPaymentId::parse(&format!("pi_{tail}")).expect("letters and digits")
}

impl OffSessionCharge for FakeStripe {
    async fn charge_off_session(
        &self,
        request: &OffSessionChargeRequest,
    ) -> Result<ChargeOutcome, PaymentError> {
        if let Some(error) = self.unavailable() {
            return Err(error);
        }
        let key = request.idempotency_key.as_str().to_owned();
        let now = self.clock.now();
        let mut state = self.lock();
        if !state.intents.contains_key(&key) {
            let open: Vec<&String> = state
                .intents
                .iter()
                .filter(|(_, intent)| intent.account == request.account_id && !intent.answered)
                .map(|(key, _)| key)
                .collect();
            if !open.is_empty() {
                let violation = format!(
                    "{}: new recharge {key} while {open:?} had no final answer",
                    request.account_id
                );
                state.violations.push(violation);
            }
            let intent = self.new_intent(request);
            state.intents.insert(key.clone(), intent);
        }
        let intent = state.intents.get_mut(&key).expect("just inserted");
        if let IntentOutcome::Processing(settles) = intent.outcome
            && now >= settles
        {
            intent.outcome = IntentOutcome::Succeeded;
        }
        let outcome = intent.outcome;
        drop(state);
        // Applied, then the answer is lost on the way back.
        if self.faults.strikes(|rates| rates.stripe_timeout) || self.faults.dead() {
            return Err(retryable(RetryCause::Timeout));
        }
        let id = payment_id(&key);
        let answer = match outcome {
            IntentOutcome::Succeeded => ChargeOutcome::Succeeded { payment_id: id },
            IntentOutcome::Processing(_) => {
                return Ok(ChargeOutcome::Processing { payment_id: id });
            }
            IntentOutcome::Declined => ChargeOutcome::Declined {
                code: "card_declined".into(),
                decline_code: Some("insufficient_funds".into()),
                message: "simulated decline".into(),
                payment_id: Some(id),
            },
            IntentOutcome::RequiresAction => ChargeOutcome::RequiresAction {
                payment_id: Some(id),
            },
        };
        if let Some(intent) = self.lock().intents.get_mut(&key) {
            intent.answered = true;
        }
        Ok(answer)
    }
}

impl CheckoutCreate for FakeStripe {
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        if let Some(error) = self.unavailable() {
            return Err(error);
        }
        self.lock().checkouts += 1;
        let id = imcredits_tests::stripe::session_id_for_key(request.idempotency_key.as_str());
        Ok(CheckoutSession {
            url: format!("https://checkout.stripe.com/c/pay/{id}"),
            id: CheckoutSessionId::parse(&id).expect("letters, digits and underscores"),
        })
    }
}
