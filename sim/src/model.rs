//! What the simulated world was asked to do, kept beside the system so the checks can say what
//! must (and what may) be in the ledger.

use std::collections::{BTreeMap, BTreeSet};

use imcredits::ids::AccountId;
use imcredits::ledger::EntryId;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::rng::Rng;

pub struct Account {
    pub id: AccountId,
    pub phone: String,
    pub token: String,
}

/// A purchase the API created, and what its buyer did.
#[derive(Debug, Clone)]
pub struct Bought {
    pub account: usize,
    pub purchase_id: String,
    /// A paid event (`completed` + paid, or `async_payment_succeeded`) was emitted.
    pub paid: bool,
}

#[derive(Default)]
pub struct Model {
    pub accounts: Vec<Account>,
    /// Meta's bodies not yet answered 200 (Meta retries them), in no order.
    pub meta_outbox: Vec<Vec<u8>>,
    /// Stripe's events not yet answered 2xx.
    pub stripe_outbox: Vec<Vec<u8>>,
    /// Grant requests an operator will retry until answered: (account, reference, credits).
    pub grants_pending: Vec<(usize, String, u64)>,
    /// Purchase requests a buyer will retry until answered: (account, key, credits).
    pub purchases_pending: Vec<(usize, String, u64)>,
    pub bought: BTreeMap<String, Bought>,
    /// Per account: the entry ids the run's requests and events call for (charges of billable
    /// statuses, grants asked for, paid purchases). After the drain the ledger holds exactly these
    /// (plus recharges, checked against the provider).
    pub expected: Vec<BTreeSet<String>>,
    /// Per account: ids the ledger may hold before the drain (asked for, maybe not yet done).
    pub allowed: Vec<BTreeSet<String>>,
    pub next_body: u64,
    pub next_event: u64,
    pub unexpected: Vec<String>,
    /// Per account: holds the API granted, (hold id, callback tag).
    pub holds: Vec<Vec<(String, String)>>,
    /// Deliveries and requests answered as done during the run; after the drain each comes once
    /// more (late duplicates), so every seed replays something already posted.
    pub acknowledged: Acknowledged,
}

/// What the run's senders saw acknowledged: Meta's bodies answered 200, Stripe's events answered
/// 2xx, and the grants answered 201 (at most one of each per step, so bounded by the steps).
#[derive(Default)]
pub struct Acknowledged {
    pub meta: Vec<Vec<u8>>,
    pub stripe: Vec<Vec<u8>>,
    pub grants: Vec<(usize, String, u64)>,
}

pub const WAMIDS_PER_ACCOUNT: u64 = 12;
pub const CONVERSATIONS_PER_ACCOUNT: u64 = 4;
pub const GRANT_REFERENCES: u64 = 6;
pub const PURCHASE_KEYS: u64 = 6;

impl Model {
    fn expect(&mut self, account: usize, id: EntryId) {
        self.expected[account].insert(id.as_str().to_owned());
        self.allowed[account].insert(id.as_str().to_owned());
    }

    /// A body from Meta of 1 to 4 statuses of `account`'s messages, repeating wamids and
    /// conversations so that duplicates and every order of sent/delivered/read occur.
    pub fn meta_body(&mut self, rng: &mut Rng, account: usize) -> Vec<u8> {
        let count = rng.between(1, 4);
        let mut statuses = Vec::new();
        for _ in 0..count {
            self.next_body += 1;
            if rng.chance(700) {
                let wamid = format!("wamid.A{account}M{}", rng.below(WAMIDS_PER_ACCOUNT));
                let state = *rng.pick(&["sent", "delivered", "read", "failed"]);
                let pricing = imcredits_tests::pipeline::pmp("regular", "marketing");
                if matches!(state, "delivered" | "read") {
                    self.expect(account, EntryId::message_charge(&wamid).expect("a wamid"));
                }
                let mut status = imcredits_tests::pipeline::status(&wamid, state, pricing);
                // Some sends were covered by a hold: their statuses carry its tag.
                if !self.holds[account].is_empty() && rng.chance(500) {
                    let (_, tag) = rng.pick(&self.holds[account]);
                    status["biz_opaque_callback_data"] = json!(tag);
                }
                statuses.push(status);
            } else {
                let conversation =
                    format!("conv{account}x{}", rng.below(CONVERSATIONS_PER_ACCOUNT));
                let wamid = format!("wamid.A{account}C{}", self.next_body);
                let state = *rng.pick(&["sent", "delivered", "read"]);
                let pricing =
                    json!({"billable": true, "pricing_model": "CBP", "category": "marketing"});
                let mut status = imcredits_tests::pipeline::status(&wamid, state, pricing);
                status["conversation"] =
                    json!({"id": conversation, "origin": {"type": "marketing"}});
                self.expect(
                    account,
                    EntryId::conversation_charge(&conversation).expect("an id"),
                );
                statuses.push(status);
            }
        }
        imcredits_tests::pipeline::meta_body(&self.accounts[account].phone, statuses)
    }

    /// An operator's grant: references repeat (a retried order), each always for the same credits.
    pub fn grant(&mut self, rng: &mut Rng, account: usize) -> (usize, String, u64) {
        let number = rng.below(GRANT_REFERENCES);
        let reference = format!("ORDER-{number}");
        self.expect(account, EntryId::grant(&reference).expect("a reference"));
        (account, reference, 1 + number % 5)
    }

    /// A buyer's purchase request: keys repeat (a double click), each for the same credits.
    pub fn purchase(&mut self, rng: &mut Rng, account: usize) -> (usize, String, u64) {
        let number = rng.below(PURCHASE_KEYS);
        (account, format!("buy-{account}-{number}"), 3 + number * 2)
    }

    /// The events Stripe sends for a purchase the API created, by what the buyer does.
    /// `choice` forces the buyer's move (0 pays by card); `None` lets the seed choose.
    pub fn buyer_events(
        &mut self,
        rng: &mut Rng,
        index: usize,
        answer: &Value,
        now: OffsetDateTime,
        choice: Option<u64>,
    ) {
        let account = &self.accounts[index];
        let total = answer["quote"]["total"]["amount"].as_str().unwrap_or("0");
        let cents: i64 = total.replace('.', "").parse().unwrap_or(0);
        let purchase_id = answer["purchase_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let credits = answer["quote"]["credits"].as_u64().unwrap_or(0) as u32;
        let facts = imcredits_tests::stripe::SessionFacts::for_purchase(
            &purchase_id,
            account.id.as_str(),
            credits,
            cents,
        );
        let event = |this: &mut Self, kind: &str, payment_status: &str| {
            this.next_event += 1;
            let id = format!("evt_{}", this.next_event);
            let body = imcredits_tests::stripe::session_event(&id, kind, payment_status, &facts);
            this.stripe_outbox.push(stamped(&body, now));
        };
        let paid = match choice.unwrap_or_else(|| rng.below(10)) {
            0..=4 => {
                event(self, "checkout.session.completed", "paid");
                self.next_event += 1;
                let id = format!("evt_{}", self.next_event);
                let card = imcredits_tests::stripe::intent_succeeded(&id, &facts, "pm_card_visa");
                self.stripe_outbox.push(stamped(&card, now));
                true
            }
            5 => {
                event(self, "checkout.session.completed", "unpaid");
                event(self, "checkout.session.async_payment_succeeded", "paid");
                true
            }
            6 => {
                event(self, "checkout.session.completed", "unpaid");
                event(self, "checkout.session.async_payment_failed", "unpaid");
                false
            }
            7 | 8 => {
                event(self, "checkout.session.expired", "unpaid");
                false
            }
            _ => false,
        };
        if paid {
            self.expect(index, EntryId::purchase(&purchase_id).expect("an id"));
        }
        self.bought.insert(
            purchase_id.clone(),
            Bought {
                account: index,
                purchase_id,
                paid,
            },
        );
    }
}

/// Stripe stamps `created` with its own clock: the simulation's.
fn stamped(body: &[u8], now: OffsetDateTime) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(body).expect("the helpers write JSON");
    event["created"] = json!(now.unix_timestamp());
    serde_json::to_vec(&event).expect("JSON")
}
