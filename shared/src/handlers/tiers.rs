//! Billing's part in Meta's volume tiers: charges priced at the tier Meta announced, and the
//! true-up a tier update calls for when it arrives after charges it covers were posted.
//!
//! A tier update record (the webhook enqueues it as its own message, see
//! [`crate::billing::tier_message`]) is handled in four steps, each safe to repeat: find the
//! wallet the WABA bills to; record the update (a conditional write: the earliest instant of a
//! WABA × market × category × month stands); read the wallet's charges posted since that instant;
//! post one adjustment per charge that was priced above the tier, with an id derived from the
//! update's key and the charge's id. A replay, a redelivery or a crash between steps ends the same:
//! the ledger refuses an adjustment id twice.

use time::{Duration, Month, OffsetDateTime};
use tracing::{info, warn};

use super::billing::{BatchOutcome, Billing};
use crate::billing::tier_pricing::{charged_to_waba, posted_tier_month, price_at_tier, tier_month};
use crate::billing::true_up::tier_true_ups;
use crate::ids::AccountId;
use crate::ledger::{EntryKind, LedgerEntry, NewEntry};
use crate::meta::account_update::TierUpdate;
use crate::meta::ids::WabaId;
use crate::money::{Currency, Money};
use crate::ports::holds::HoldStore;
use crate::ports::market_lists::MarketListStore;
use crate::ports::postings::{post_in_chunks, posted_within};
use crate::ports::queue::QueueSend;
use crate::ports::store::{
    ChargesPost, EntriesPost, PostedRange, RateBookGet, RouteGet, StatementRead, StoreError,
    WalletGet,
};
use crate::ports::tiers::{TierBooks, TierUpdates, WabaRoutes};
use crate::pricing::MarketLists;
use crate::pricing::tier_book::{TierBook, market_named};

/// Statement pages (of [`crate::ports::store::STATEMENT_PAGE_LIMIT_MAX`] entries) one true-up
/// reads: 20,000 entries posted since the tier's instant. A wallet with more fails the record,
/// which waits in the dead-letter queue for a person (see the runbook in `docs/`).
pub const TRUE_UP_PAGES_MAX: usize = 200;
/// Charges are posted after Meta saw them, but clocks differ: the true-up reads postings from a
/// little before the tier's instant (what it adjusts is still decided by the charge's own time).
const POSTED_SLACK: Duration = Duration::minutes(10);

/// The store a billing handler with tiers needs.
pub trait TierStore:
    RouteGet
    + WalletGet
    + RateBookGet
    + ChargesPost
    + HoldStore
    + WabaRoutes
    + TierBooks
    + TierUpdates
    + StatementRead
    + EntriesPost
    + MarketListStore
{
}

impl<T> TierStore for T where
    T: RouteGet
        + WalletGet
        + RateBookGet
        + ChargesPost
        + HoldStore
        + WabaRoutes
        + TierBooks
        + TierUpdates
        + StatementRead
        + EntriesPost
        + MarketListStore
{
}

impl<S, N, R> Billing<S, N, R>
where
    S: TierStore + Send + Sync,
    N: QueueSend + Send + Sync,
    R: QueueSend + Send + Sync,
{
    /// `entries` with each tier-eligible charge priced at the tier recorded for its WABA, market,
    /// category and month, if one covers it. Reads the month's tier updates (one query per WABA
    /// and month in the batch) and, only if some exist, the tiers files; writes nothing.
    pub(super) async fn price_at_tiers(
        &self,
        entries: Vec<NewEntry>,
        currency: Currency,
    ) -> Result<Vec<NewEntry>, StoreError> {
        let lists = self.market_lists().await?;
        let lists = lists.as_ref();
        let months = entries.iter().filter_map(|entry| tier_month(entry, lists));
        let updates = self.month_tier_updates(months).await?;
        if updates.is_empty() {
            return Ok(entries);
        }
        let book = self.store.tier_book(currency).await?;
        entries
            .into_iter()
            .map(|entry| {
                price_at_tier(entry, &updates, Some(&book), lists)
                    .map_err(|error| StoreError::Unavailable(error.to_string()))
            })
            .collect()
    }

    /// The tier updates recorded for each distinct WABA and month in `months` (one query each).
    async fn month_tier_updates(
        &self,
        months: impl Iterator<Item = (WabaId, i32, Month)>,
    ) -> Result<Vec<TierUpdate>, StoreError> {
        let mut distinct = Vec::new();
        for month in months {
            if !distinct.contains(&month) {
                distinct.push(month);
            }
        }
        let mut updates = Vec::new();
        for (waba, year, month) in &distinct {
            updates.extend(self.store.month_tier_updates(waba, *year, *month).await?);
        }
        Ok(updates)
    }

    /// The true-ups the month's recorded tier updates call for among charges this batch just
    /// posted (or found already posted). It closes a race with a late tier update: the batch read
    /// the month's updates (none) before the update was recorded, and posted after the update's
    /// true-up read the charges. The true-up records before it reads, and this reads after the
    /// post, so one of the two sees the other's charges; the ids are the true-up's own, so a
    /// charge both see is adjusted once. Answers the entries posted.
    pub(super) async fn true_up_posted(
        &self,
        account: &AccountId,
        currency: Currency,
        posted: &[LedgerEntry],
    ) -> Result<usize, StoreError> {
        let lists = self.market_lists().await?;
        let lists = lists.as_ref();
        let months = posted
            .iter()
            .filter_map(|entry| posted_tier_month(entry, lists));
        let updates = self.month_tier_updates(months).await?;
        if updates.is_empty() {
            return Ok(0);
        }
        let book = self.store.tier_book(currency).await?;
        let mut entries = Vec::new();
        for update in &updates {
            // No rate for the tier: the update's own true-up fails and waits for the operator.
            let Some(rate) = tier_rate(&book, update) else {
                continue;
            };
            let charges: Vec<LedgerEntry> = posted
                .iter()
                .filter(|charge| charged_to_waba(charge, &update.waba_id))
                .cloned()
                .collect();
            let found = tier_true_ups(update, rate, lists, &charges)
                .map_err(|error| StoreError::Unavailable(error.to_string()))?;
            entries.extend(found);
        }
        post_in_chunks(&self.store, account, &entries, self.clock.now()).await
    }

    /// Records Meta's tier updates and posts the true-ups they call for. `Err` leaves the record
    /// on the queue (every step is idempotent, so the redelivery finishes the work).
    pub(super) async fn handle_tier_updates(
        &self,
        updates: &[TierUpdate],
        outcome: &mut BatchOutcome,
    ) -> Result<(), String> {
        for update in updates {
            let posted = self
                .true_up(update)
                .await
                .map_err(|error| format!("tier update {}: {error}", update.key()))?;
            info!(
                key = update.key(),
                posted, "tier update recorded and trued up"
            );
            outcome.posted += posted;
        }
        Ok(())
    }

    /// One tier update's four steps (see the module's doc): its wallet, the update recorded (the
    /// standing one answered), the wallet's charges since its instant, their true-ups posted.
    async fn true_up(&self, update: &TierUpdate) -> Result<usize, String> {
        let lists = self.market_lists().await.map_err(|e| e.to_string())?;
        let lists = lists.as_ref();
        let account = self
            .store
            .get_waba_route(&update.waba_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no wallet for this WABA (attach it with the operator route)")?;
        let update = in_listed_market(update, lists)?;
        let now = self.clock.now();
        let standing = self
            .store
            .record_tier_update(&update, now)
            .await
            .map_err(|e| e.to_string())?;
        let rate = self.standing_rate(&account, &standing).await?;
        let charges = self
            .charges_posted_since(&account, standing.updated_at - POSTED_SLACK, now)
            .await
            .map_err(|e| e.to_string())?;
        let charges: Vec<LedgerEntry> = charges
            .into_iter()
            .filter(|charge| charged_to_waba(charge, &standing.waba_id))
            .collect();
        let entries = tier_true_ups(&standing, rate, lists, &charges).map_err(|e| e.to_string())?;
        post_in_chunks(&self.store, &account, &entries, now)
            .await
            .map_err(|e| e.to_string())
    }

    /// The rate of the standing update's tier in the wallet's currency, from the tiers file in
    /// force at its instant. None is an error: the record waits for the operator to load one.
    async fn standing_rate(
        &self,
        account: &AccountId,
        standing: &TierUpdate,
    ) -> Result<Money, String> {
        let wallet = self
            .store
            .get_wallet(account)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| StoreError::WalletNotFound(account.clone()).to_string())?;
        let book = self
            .store
            .tier_book(wallet.currency)
            .await
            .map_err(|e| e.to_string())?;
        tier_rate(&book, standing).ok_or_else(|| {
            format!(
                "no {} {} rate for tier {} of {} in the tiers file in force",
                wallet.currency, standing.category, standing.tier, standing.market
            )
        })
    }

    /// The account's charges posted within `from..=to`, newest first, bounded by
    /// [`TRUE_UP_PAGES_MAX`] pages.
    async fn charges_posted_since(
        &self,
        account: &AccountId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let entries = posted_within(
            &self.store,
            account,
            PostedRange { from, to },
            TRUE_UP_PAGES_MAX,
        )
        .await?;
        let Some(entries) = entries else {
            warn!(%account, "a true-up found more postings than it may read");
            return Err(StoreError::Unavailable(format!(
                "more than {TRUE_UP_PAGES_MAX} statement pages since the tier's instant"
            )));
        };
        Ok(entries
            .into_iter()
            .filter(|entry| entry.kind == EntryKind::Charge)
            .collect())
    }
}

/// `update` with its market as the market list in force at its instant names it: Meta writes
/// `INDIA` in the webhook and `India` in its files.
fn in_listed_market(update: &TierUpdate, lists: &MarketLists) -> Result<TierUpdate, String> {
    let market = lists
        .in_force_at(update.updated_at)
        .and_then(|list| market_named(list, update.market.as_str()))
        .ok_or_else(|| {
            format!(
                "market {} is not in the market list in force",
                update.market
            )
        })?;
    Ok(TierUpdate {
        market,
        ..update.clone()
    })
}

/// The rate of `update`'s tier for its market and category, in the tiers file in force at its
/// instant.
fn tier_rate(book: &TierBook, update: &TierUpdate) -> Option<Money> {
    book.rate(
        update.updated_at,
        &update.market,
        &update.category,
        update.tier,
    )
}
