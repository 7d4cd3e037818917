//! The billing handler: a batch of queue records (each a packed webhook body) to charges on
//! wallets, exactly once.
//!
//! A record fails (and the queue redelivers it, then dead-letters it) when any of its events cannot
//! be handled: an unknown phone number, no rate card in force, a status no rule fits. Everything
//! else in it is still posted; entries are idempotent by id, so the redelivery posts only what was
//! missing. Charges of all records for one wallet are posted together, in bounded transactions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tracing::{Instrument, info, info_span, warn};

use crate::billing::charges::charge_entry;
use crate::billing::message::BillingMessage;
use crate::billing::thresholds::crossings;
use crate::billing::usage::META_FLAG;
use crate::handlers::batch::Record;
use crate::handlers::cache::TtlCache;
use crate::ids::{AccountId, PhoneNumberId};
use crate::ledger::{EntryOutcome, LedgerEntry, NewEntry};
use crate::meta::{ChargeDecision, decide_charge};
use crate::money::Currency;
use crate::ports::clock::Clock;
use crate::ports::metrics::{self, Metric};
use crate::ports::queue::QueueSend;
use crate::ports::store::StoreError;
use crate::pricing::{MarketLists, RateBook};

/// What a batch did; `failed` are the ids of records to leave on the queue.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub failed: Vec<String>,
    /// Why each failed record failed (its first error), by record id: a dead letter states it.
    pub reasons: BTreeMap<String, String>,
    pub posted: usize,
    pub replayed: usize,
    pub notices: usize,
    pub recharge_requests: usize,
}

pub struct Billing<S, N, R> {
    pub store: S,
    pub notifications: N,
    pub recharges: R,
    pub clock: Arc<dyn Clock>,
    routes: TtlCache<PhoneNumberId, Option<AccountId>>,
    rates: TtlCache<Currency, Arc<RateBook>>,
    lists: TtlCache<(), Arc<MarketLists>>,
}

impl<S, N, R> Billing<S, N, R>
where
    S: super::tiers::TierStore + Send + Sync,
    N: QueueSend + Send + Sync,
    R: QueueSend + Send + Sync,
{
    /// Routes and rate books are cached for `cache_ttl` (an unknown number for a tenth of it, so
    /// that attaching it takes effect quickly).
    pub fn new(
        store: S,
        notifications: N,
        recharges: R,
        clock: Arc<dyn Clock>,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            store,
            notifications,
            recharges,
            routes: TtlCache::new(cache_ttl, Arc::clone(&clock)),
            rates: TtlCache::new(cache_ttl, Arc::clone(&clock)),
            lists: TtlCache::new(cache_ttl, Arc::clone(&clock)),
            clock,
        }
    }

    async fn route(&self, phone: &PhoneNumberId) -> Result<Option<AccountId>, StoreError> {
        if let Some(route) = self.routes.get(phone) {
            return Ok(route);
        }
        let route = self.store.get_route(phone).await?;
        if route.is_some() {
            self.routes.put(phone.clone(), route.clone());
        }
        Ok(route)
    }

    async fn rate_book(&self, currency: Currency) -> Result<Arc<RateBook>, StoreError> {
        if let Some(book) = self.rates.get(&currency) {
            return Ok(book);
        }
        let book = Arc::new(self.store.rate_book(currency).await?);
        self.rates.put(currency, Arc::clone(&book));
        Ok(book)
    }

    /// Meta's market lists as operators loaded them (cached like the rate books).
    pub(super) async fn market_lists(&self) -> Result<Arc<MarketLists>, StoreError> {
        if let Some(lists) = self.lists.get(&()) {
            return Ok(lists);
        }
        let lists = Arc::new(self.store.market_lists().await?);
        self.lists.put((), Arc::clone(&lists));
        Ok(lists)
    }

    pub async fn handle(&self, records: &[Record]) -> BatchOutcome {
        // Each failed record's index and its first error.
        let mut failed: BTreeMap<usize, String> = BTreeMap::new();
        let mut outcome = BatchOutcome::default();
        // Meta's tier updates first, so that the batch's charges are priced at them.
        let tier_records = self
            .handle_tier_records(records, &mut failed, &mut outcome)
            .await;
        let work = self
            .route_records(records, &tier_records, &mut failed)
            .await;
        for (account, messages) in work {
            let span = info_span!("wallet", account = %account);
            match self
                .bill_wallet(&account, &messages, &mut failed, &mut outcome)
                .instrument(span)
                .await
            {
                Ok(()) => {}
                Err(error) => {
                    warn!(%error, "billing the wallet failed; its records will be retried");
                    for (index, _) in &messages {
                        failed
                            .entry(*index)
                            .or_insert_with(|| format!("billing wallet {account} failed: {error}"));
                    }
                }
            }
        }
        finish(records, failed, outcome)
    }

    /// Handles the records that carry Meta's tier updates; each that fails goes into `failed`.
    /// Answers their indexes, so that no body is read as a tier message twice (a billing
    /// message's body is up to 256 KiB).
    async fn handle_tier_records(
        &self,
        records: &[Record],
        failed: &mut BTreeMap<usize, String>,
        outcome: &mut BatchOutcome,
    ) -> BTreeSet<usize> {
        let mut tier_records = BTreeSet::new();
        for (index, record) in records.iter().enumerate() {
            let Some(updates) = crate::billing::tier_message::parse_tier_updates(&record.body)
            else {
                continue;
            };
            tier_records.insert(index);
            let handled = match updates {
                Ok(updates) => self.handle_tier_updates(&updates, outcome).await,
                Err(error) => Err(error.to_string()),
            };
            if let Err(error) = handled {
                warn!(message_id = %record.id, %error, "tier update not handled; the record will be retried");
                failed.insert(index, format!("tier update not handled: {error}"));
            }
        }
        tier_records
    }

    /// The other records' (not `tier_records`) billing messages by the wallet each bills to, with
    /// the index of the record each came from; a record that cannot be read or routed goes into
    /// `failed`.
    async fn route_records(
        &self,
        records: &[Record],
        tier_records: &BTreeSet<usize>,
        failed: &mut BTreeMap<usize, String>,
    ) -> BTreeMap<AccountId, Vec<(usize, BillingMessage)>> {
        let mut work: BTreeMap<AccountId, Vec<(usize, BillingMessage)>> = BTreeMap::new();
        for (index, record) in records.iter().enumerate() {
            if tier_records.contains(&index) {
                continue;
            }
            let span = info_span!("record", message_id = %record.id);
            match self.route_record(record).instrument(span).await {
                Ok((account, message)) => work.entry(account).or_default().push((index, message)),
                Err(reason) => {
                    failed.entry(index).or_insert(reason);
                }
            }
        }
        work
    }

    /// A record's billing message and the wallet its phone number bills to, or why it has none.
    async fn route_record(&self, record: &Record) -> Result<(AccountId, BillingMessage), String> {
        let message = BillingMessage::parse(&record.body).map_err(|error| {
            warn!(%error, "unreadable billing message");
            format!("unreadable billing message: {error}")
        })?;
        match self.route(&message.phone_number_id).await {
            Ok(Some(account)) => Ok((account, message)),
            Ok(None) => {
                // Never dropped: the record goes back, and on to the dead-letter queue.
                warn!(phone_number_id = %message.phone_number_id, "no wallet for this phone number");
                Err(format!(
                    "no wallet for phone number {}",
                    message.phone_number_id
                ))
            }
            Err(error) => {
                warn!(%error, "route lookup failed");
                Err(format!("route lookup failed: {error}"))
            }
        }
    }

    /// Posts a wallet's share of the batch and sends what its crossings call for. Records whose
    /// events cannot be charged go into `failed` here; an `Err` fails all the wallet's records
    /// (the caller marks them), so nothing is recorded twice.
    async fn bill_wallet(
        &self,
        account: &AccountId,
        messages: &[(usize, BillingMessage)],
        failed: &mut BTreeMap<usize, String>,
        outcome: &mut BatchOutcome,
    ) -> Result<(), StoreError> {
        let wallet = self
            .store
            .get_wallet(account)
            .await?
            .ok_or_else(|| StoreError::WalletNotFound(account.clone()))?;
        let book = self.rate_book(wallet.currency).await?;
        // Failed messages sent under a hold give their estimates back, before any charge posts.
        let failed_sends = failed_sends(messages);
        if !failed_sends.is_empty() {
            self.store
                .release_failed(account, &failed_sends, self.clock.now())
                .await?;
        }
        // Each charge counts on its local day in the wallet's reporting time zone.
        let lists = self.market_lists().await?;
        let entries = charge_entries(messages, (&book, &lists), wallet.currency, failed);
        // Utility and authentication at the volume tier Meta announced, where it did.
        let entries: Vec<NewEntry> = self
            .price_at_tiers(entries, wallet.currency)
            .await?
            .into_iter()
            .map(|entry| crate::reporting::usage::stamp_day(entry, &wallet.reporting_zone))
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let receipt = self
            .store
            .post_charges(account, &entries, self.clock.now())
            .await?;
        outcome.posted += receipt.outcomes.iter().filter(|o| o.is_posted()).count();
        outcome.replayed += receipt
            .outcomes
            .iter()
            .filter(|o| matches!(o, EntryOutcome::AlreadyPosted(_)))
            .count();
        let posted: Vec<LedgerEntry> = receipt.outcomes.iter().map(|o| o.entry().clone()).collect();
        // A tier update recorded since `price_at_tiers` read the month's updates.
        outcome.posted += self
            .true_up_posted(account, wallet.currency, &posted)
            .await?;
        self.send_crossings(&receipt.wallet, &posted, outcome).await
    }

    /// Low balance, depleted and recovered notices, and a recharge request below the minimum.
    async fn send_crossings(
        &self,
        wallet: &crate::wallet::Wallet,
        posted: &[LedgerEntry],
        outcome: &mut BatchOutcome,
    ) -> Result<(), StoreError> {
        let (notices, recharge) = crossings(wallet, posted);
        let mut bodies: Vec<String> = notices
            .iter()
            .map(|notice| crate::notices::delivery::event_message(&notice.into()))
            .collect();
        bodies.sort();
        bodies.dedup();
        if !bodies.is_empty() {
            self.notifications
                .send_all(&bodies)
                .await
                .map_err(|error| StoreError::Unavailable(format!("notifications: {error}")))?;
            outcome.notices += bodies.len();
        }
        if let Some(request) = recharge {
            let body = serde_json::to_string(&request).expect("requests serialize");
            self.recharges
                .send_all(&[body])
                .await
                .map_err(|error| StoreError::Unavailable(format!("recharge requests: {error}")))?;
            outcome.recharge_requests += 1;
        }
        Ok(())
    }
}

/// The batch's outcome: the failed records' ids, each with its reason, in record order; logged
/// and counted.
fn finish(
    records: &[Record],
    failed: BTreeMap<usize, String>,
    mut outcome: BatchOutcome,
) -> BatchOutcome {
    for (index, reason) in failed {
        let id = records[index].id.clone();
        outcome.failed.push(id.clone());
        outcome.reasons.insert(id, reason);
    }
    info!(
        posted = outcome.posted,
        replayed = outcome.replayed,
        failed = outcome.failed.len(),
        notices = outcome.notices,
        "billing batch done"
    );
    metrics::count(Metric::ChargesPosted, outcome.posted);
    metrics::count(Metric::Replays, outcome.replayed);
    outcome
}

/// The failed messages among the statuses that were sent under a hold (statuses that charge
/// nothing, so the hold's estimate goes back to the wallet).
fn failed_sends(messages: &[(usize, BillingMessage)]) -> Vec<crate::holds::FailedSend> {
    messages
        .iter()
        .flat_map(|(_, message)| &message.statuses)
        .filter(|event| matches!(decide_charge(event), ChargeDecision::NoCharge { .. }))
        .filter_map(super::holds::failed_send)
        .collect()
}

/// The entries the messages' statuses charge (free ones at zero); the index of each record with a
/// status that cannot be charged goes into `failed`.
fn charge_entries(
    messages: &[(usize, BillingMessage)],
    (book, lists): (&RateBook, &MarketLists),
    currency: Currency,
    failed: &mut BTreeMap<usize, String>,
) -> Vec<NewEntry> {
    let mut entries = Vec::new();
    for (index, message) in messages {
        for event in &message.statuses {
            let (usage, free) = match decide_charge(event) {
                ChargeDecision::Charge(usage) => (usage, false),
                ChargeDecision::FreeUsage(usage) => (usage, true),
                ChargeDecision::NoCharge { .. } => continue,
                ChargeDecision::NeedsReview(reason) => {
                    warn!(wamid = event.wamid.as_str(), ?reason, "status needs review");
                    metrics::count(Metric::NeedsReview, 1);
                    failed.entry(*index).or_insert_with(|| {
                        format!("status {} needs review: {reason:?}", event.wamid.as_str())
                    });
                    continue;
                }
            };
            match charge_entry(lists, event, &usage, free, book, currency) {
                Ok(entry) => {
                    if let Some(flag) = entry.metadata().get(META_FLAG) {
                        warn!(entry = %entry.id(), flag, "charge flagged");
                    }
                    entries.push(entry);
                }
                Err(error) => {
                    warn!(wamid = event.wamid.as_str(), %error, "cannot price the charge");
                    failed.entry(*index).or_insert_with(|| {
                        format!("cannot price status {}: {error}", event.wamid.as_str())
                    });
                }
            }
        }
    }
    entries
}
