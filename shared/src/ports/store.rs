//! The store, as narrow traits: each handler asks only for the operations it uses, so a test (or a
//! second adapter) implements only those.

use std::future::Future;

use time::OffsetDateTime;

use crate::ids::{AccountId, PhoneNumberId};
use crate::ledger::{
    ENTRIES_PER_POST_MAX, EntryOutcome, LedgerEntry, LedgerError, NewEntry, StatementCursor,
};
use crate::money::{Currency, Money};
use crate::payments::PurchaseId;
use crate::payments::purchase::{
    PaidCheckout, Purchase, PurchaseCursor, PurchaseStatus, SavedPaymentMethod, StoredCheckout,
};
use crate::pricing::{RateBook, RateCard};
use crate::wallet::{AutoRecharge, NewWallet, Wallet};

/// Store failures, grouped by what the caller must do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // The request cannot succeed as asked: tell the caller (4xx, or a dead-letter with the reason).
    #[error("account {0} has no wallet")]
    WalletNotFound(AccountId),
    #[error("account {0} already has a wallet")]
    WalletExists(AccountId),
    #[error("phone number {0} is attached to another account")]
    RouteTaken(PhoneNumberId),
    #[error("posting refused: {0}")]
    Rejected(#[from] LedgerError),
    /// A charge whose usage labels do not read back (the charge path writes them typed, so a
    /// caller's bug); nothing of its batch is written.
    #[error("posting refused: {0}")]
    Labels(#[from] crate::billing::usage::LabelError),
    #[error("a different {currency} rate card is already effective from {effective_from}")]
    RateCardExists {
        currency: Currency,
        effective_from: String,
    },
    #[error("the {0} rate book is full")]
    RateBookFull(Currency),
    #[error("WABA {0} is attached to another account")]
    WabaTaken(crate::meta::ids::WabaId),
    #[error("a different {currency} tiers file is already effective from {effective_from}")]
    TiersExist {
        currency: Currency,
        effective_from: String,
    },
    /// A market list clashes with one saved (the same instant or version, another text), or
    /// one list too many.
    #[error("{0}")]
    MarketListConflict(String),
    /// The condition of an item committed alongside a posting failed (which item: its index
    /// among the extras); nothing was written.
    #[error("a condition alongside the posting failed (extra item {0})")]
    ExtraRefused(usize),

    // Nothing was changed and the same request may succeed later: retry it (5xx, or let the queue
    // redeliver).
    #[error("wallet {account} stayed busy through {attempts} attempts")]
    Contended { account: AccountId, attempts: u32 },
    #[error("store unavailable: {0}")]
    Unavailable(String),

    // Stored data breaks an invariant: a bug or tampering. Alert; never retry blindly.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the same request may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Contended { .. } | StoreError::Unavailable(_)
        )
    }
}

/// What a posting did: one outcome per requested entry, in request order, and the wallet after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostReceipt {
    pub outcomes: Vec<EntryOutcome>,
    pub wallet: Wallet,
}

impl PostReceipt {
    pub fn posted_count(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|outcome| outcome.is_posted())
            .count()
    }
}

/// Statement pages hold at most this many entries.
pub const STATEMENT_PAGE_LIMIT_MAX: u32 = 100;

/// One page of a wallet's statement, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRequest {
    limit: u32,
    pub cursor: Option<StatementCursor>,
    /// Only entries posted within this range (both ends inclusive).
    pub posted: Option<PostedRange>,
}

/// A closed range of posting times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostedRange {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

impl StatementRequest {
    /// `limit` is clamped to 1..=[`STATEMENT_PAGE_LIMIT_MAX`].
    pub fn new(limit: u32, cursor: Option<StatementCursor>) -> Self {
        Self {
            limit: limit.clamp(1, STATEMENT_PAGE_LIMIT_MAX),
            cursor,
            posted: None,
        }
    }

    pub fn posted_within(mut self, range: PostedRange) -> Self {
        self.posted = Some(range);
        self
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementPage {
    pub entries: Vec<LedgerEntry>,
    /// Where the next (older) page starts; `None` on the last page. With a time filter a page may
    /// hold fewer entries than asked for and still have a next page: the read is bounded.
    pub next_cursor: Option<StatementCursor>,
}

pub trait WalletCreate {
    /// Creates a zero-balance wallet; [`StoreError::WalletExists`] if the account has one.
    fn create_wallet(
        &self,
        wallet: &NewWallet,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Wallet, StoreError>> + Send;
}

pub trait WalletGet {
    fn get_wallet(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<Wallet>, StoreError>> + Send;
}

pub trait WalletSettingsSet {
    /// Saves auto-recharge settings (already checked against the wallet's currency).
    fn set_auto_recharge(
        &self,
        account: &AccountId,
        settings: &AutoRecharge,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Wallet, StoreError>> + Send;

    fn set_low_balance_threshold(
        &self,
        account: &AccountId,
        threshold: Money,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Wallet, StoreError>> + Send;
}

pub trait EntriesPost {
    /// Posts `batch` to the account's wallet atomically: every new entry and the balance move
    /// together or not at all. Entries whose id was posted before are reported as
    /// [`EntryOutcome::AlreadyPosted`] and change nothing; the rest still post. Safe to retry.
    fn post_entries(
        &self,
        account: &AccountId,
        batch: &[NewEntry],
        posted_at: OffsetDateTime,
    ) -> impl Future<Output = Result<PostReceipt, StoreError>> + Send;
}

pub trait StatementRead {
    fn statement_page(
        &self,
        account: &AccountId,
        request: &StatementRequest,
    ) -> impl Future<Output = Result<StatementPage, StoreError>> + Send;
}

pub trait RouteGet {
    /// The account whose wallet pays for messages sent from `phone`.
    fn get_route(
        &self,
        phone: &PhoneNumberId,
    ) -> impl Future<Output = Result<Option<AccountId>, StoreError>> + Send;
}

pub trait RouteSet {
    /// Attaches `phone` to the account's wallet (which must exist). Attaching it again to the same
    /// account is a no-op; to another account, [`StoreError::RouteTaken`].
    fn attach_route(
        &self,
        phone: &PhoneNumberId,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Detaches `phone` from the account; `false` if it was not attached to that account.
    fn detach_route(
        &self,
        phone: &PhoneNumberId,
        account: &AccountId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Whether a save wrote something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Created,
    /// The same thing was saved before; nothing changed.
    AlreadySaved,
}

pub trait RateCardSave {
    /// Saves an immutable rate-card version. The same card again is [`Saved::AlreadySaved`]; a
    /// different card with the same currency and `effective_from` is [`StoreError::RateCardExists`].
    fn save_rate_card(
        &self,
        card: &RateCard,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send;
}

pub trait RateBookGet {
    /// Every rate-card version of `currency` (empty if none was uploaded).
    fn rate_book(
        &self,
        currency: Currency,
    ) -> impl Future<Output = Result<RateBook, StoreError>> + Send;
}

pub trait ChargesPost: Sync {
    /// Aggregates and holds one transaction of [`Self::post_charge_chunk`] may touch.
    const CHUNK_KEYS_MAX: usize;

    /// Posts one chunk of usage charges (at most [`ENTRIES_PER_POST_MAX`] entries touching at
    /// most [`Self::CHUNK_KEYS_MAX`] aggregates and holds) in one transaction, like
    /// [`EntriesPost::post_entries`], adding the usage of the entries it newly posts to the
    /// wallet's daily aggregates. A replay changes neither balance nor usage.
    fn post_charge_chunk(
        &self,
        account: &AccountId,
        chunk: &[NewEntry],
        posted_at: OffsetDateTime,
    ) -> impl Future<Output = Result<PostReceipt, StoreError>> + Send;

    /// Posts any number of usage charges, in the chunks of [`crate::billing::usage::charge_chunks`]
    /// (the one chunking policy); the outcomes in request order, the wallet as the last chunk
    /// left it.
    fn post_charges(
        &self,
        account: &AccountId,
        batch: &[NewEntry],
        posted_at: OffsetDateTime,
    ) -> impl Future<Output = Result<PostReceipt, StoreError>> + Send {
        async move {
            let chunks = crate::billing::usage::charge_chunks(
                batch,
                ENTRIES_PER_POST_MAX,
                Self::CHUNK_KEYS_MAX,
            )?;
            let mut outcomes: Vec<Option<EntryOutcome>> = batch.iter().map(|_| None).collect();
            let mut wallet = None;
            for chunk in chunks {
                let entries: Vec<NewEntry> = chunk.iter().map(|i| batch[*i].clone()).collect();
                let receipt = self.post_charge_chunk(account, &entries, posted_at).await?;
                assert_eq!(receipt.outcomes.len(), chunk.len(), "one outcome per entry");
                for (index, outcome) in chunk.into_iter().zip(receipt.outcomes) {
                    outcomes[index] = Some(outcome);
                }
                wallet = Some(receipt.wallet);
            }
            let wallet = wallet.ok_or(StoreError::Rejected(LedgerError::EmptyBatch))?;
            let outcomes = outcomes
                .into_iter()
                .map(|outcome| outcome.expect("every entry is in one chunk"))
                .collect();
            Ok(PostReceipt { outcomes, wallet })
        }
    }
}

pub use crate::billing::usage::UsageRow;

/// Days of usage one read may cover.
pub const USAGE_DAYS_MAX: i64 = 92;

pub trait UsageRead {
    /// Usage rows of the days `from..=to` (at most [`USAGE_DAYS_MAX`] days), oldest first.
    fn usage(
        &self,
        account: &AccountId,
        currency: Currency,
        from: time::Date,
        to: time::Date,
    ) -> impl Future<Output = Result<Vec<UsageRow>, StoreError>> + Send;
}

// --- Purchases (credits bought through a hosted checkout) and the card they save. ---

/// Purchase history pages hold at most this many purchases.
pub const PURCHASE_PAGE_LIMIT_MAX: u32 = 100;

/// What recording a purchase found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseRecorded {
    /// New: recorded as given.
    Created(Purchase),
    /// A purchase with this id was recorded before (a replay of the same key): as stored.
    Existing(Purchase),
}

/// One page of an account's purchases, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseListRequest {
    limit: u32,
    pub cursor: Option<PurchaseCursor>,
}

impl PurchaseListRequest {
    /// `limit` is clamped to 1..=[`PURCHASE_PAGE_LIMIT_MAX`].
    pub fn new(limit: u32, cursor: Option<PurchaseCursor>) -> Self {
        Self {
            limit: limit.clamp(1, PURCHASE_PAGE_LIMIT_MAX),
            cursor,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchasePage {
    pub purchases: Vec<Purchase>,
    /// Where the next (older) page starts; `None` on the last page.
    pub next_cursor: Option<PurchaseCursor>,
}

/// What a paid event did to the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fulfilment {
    /// Credited now, in the same transaction that marked the purchase paid.
    Credited { entry: LedgerEntry, wallet: Wallet },
    /// Credited before (a repeated or overtaken event): nothing changed.
    AlreadyCredited(LedgerEntry),
}

/// What a `failed` or `expired` event did to a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The status moved up to the one asked for.
    Changed(PurchaseStatus),
    /// The purchase already had this status or a higher one (e.g. `paid`): nothing changed.
    Unchanged(PurchaseStatus),
}

pub trait PurchaseRecord {
    /// Records a pending purchase unless one with its id exists (a conditional put: no
    /// read-then-write), answering which.
    fn record_purchase(
        &self,
        purchase: &Purchase,
    ) -> impl Future<Output = Result<PurchaseRecorded, StoreError>> + Send;

    /// Stores the checkout page created for a pending purchase. Storing the same page again is a
    /// no-op; a different page for a purchase that has one keeps the first and answers it.
    fn set_purchase_checkout(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        checkout: &StoredCheckout,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Purchase, StoreError>> + Send;
}

pub trait PurchaseRead {
    fn get_purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
    ) -> impl Future<Output = Result<Option<Purchase>, StoreError>> + Send;

    /// The account's purchases, newest first.
    fn purchase_page(
        &self,
        account: &AccountId,
        request: &PurchaseListRequest,
    ) -> impl Future<Output = Result<PurchasePage, StoreError>> + Send;
}

pub trait PurchaseSettle {
    /// Credits a paid purchase exactly once: posts `entry` (whose id is the purchase's) and, in
    /// the same transaction, marks the purchase paid and saves the customer (and card, when the
    /// event names it) for auto-recharge. A repeat changes nothing.
    fn fulfil_purchase(
        &self,
        purchase: &Purchase,
        entry: &NewEntry,
        paid: &PaidCheckout,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Fulfilment, StoreError>> + Send;

    /// Moves a purchase to `failed` or `expired` if its status is lower (never over `paid`);
    /// `None` if there is no such purchase.
    fn close_purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        status: PurchaseStatus,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Closed>, StoreError>> + Send;
}

pub trait PaymentMethodGet {
    fn get_payment_method(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<SavedPaymentMethod>, StoreError>> + Send;
}

pub trait PaymentMethodSave {
    /// Saves the card a purchase paid with, unless a newer purchase saved one already (ordered by
    /// the purchase's creation, then id, so any order of events ends with the newest purchase's
    /// card). `false` when a newer one was kept.
    fn save_payment_method(
        &self,
        account: &AccountId,
        saved: &SavedPaymentMethod,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
