//! The ledger: every credit and debit of a wallet, each with the balance after it.
//!
//! Exactly-once rests on [`EntryId`]: an entry's id is derived from *what the entry is* (a message's
//! wamid, a conversation id, a purchase id, a recharge attempt id, a grant's order reference), never
//! from when or how often it arrives. The store refuses a second entry with the same id, so a replay
//! is recognised as a duplicate and changes nothing.

mod posting;
mod reconcile;
mod statement;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::ids::{IdError, check_token};
use crate::money::{Money, MoneyError};

pub use posting::{
    ENTRIES_PER_POST_MAX, EntryOutcome, PostingPlan, outcomes_in_request_order, plan_posting,
    unique_entries,
};
pub use reconcile::{ReconcileError, reconcile};
pub use statement::StatementCursor;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("a {kind} entry cannot have amount {amount}")]
    WrongSign { kind: EntryKind, amount: Money },
    #[error("{what} is too long (at most {len_max})")]
    TooLong { what: &'static str, len_max: usize },
    #[error("metadata has more than {METADATA_PAIRS_MAX} pairs")]
    TooMuchMetadata,
    #[error("a posting needs at least one entry")]
    EmptyBatch,
    #[error("a posting takes at most {ENTRIES_PER_POST_MAX} entries, got {0}")]
    BatchTooLarge(usize),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// What an entry records. The kind fixes the sign its amount may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A charged message or conversation: zero (free usage) or negative.
    Charge,
    /// Credits bought and paid for: positive.
    Purchase,
    /// Credits granted by an operator for an offline order: positive.
    Grant,
    /// Credits bought by auto-recharge: positive.
    AutoRecharge,
    /// Credits taken back because a payment was refunded: negative.
    Refund,
    /// An operator's correction: either sign, never zero.
    Adjustment,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] = [
        EntryKind::Charge,
        EntryKind::Purchase,
        EntryKind::Grant,
        EntryKind::AutoRecharge,
        EntryKind::Refund,
        EntryKind::Adjustment,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::Charge => "charge",
            EntryKind::Purchase => "purchase",
            EntryKind::Grant => "grant",
            EntryKind::AutoRecharge => "auto_recharge",
            EntryKind::Refund => "refund",
            EntryKind::Adjustment => "adjustment",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        EntryKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    fn allows(self, amount: &Money) -> bool {
        match self {
            EntryKind::Charge => !amount.is_positive(),
            EntryKind::Purchase | EntryKind::Grant | EntryKind::AutoRecharge => {
                amount.is_positive()
            }
            EntryKind::Refund => amount.is_negative(),
            EntryKind::Adjustment => !amount.is_zero(),
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The deterministic id of a ledger entry: `<what>:<reference>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EntryId(String);

/// The prefixes of [`EntryId`], one per thing an entry can be.
const ID_PREFIXES: [&str; 7] = [
    "charge.msg",
    "charge.conv",
    "purchase",
    "grant",
    "recharge",
    "refund",
    "adjust",
];

fn printable_ascii(byte: u8) -> bool {
    byte.is_ascii_graphic()
}

impl EntryId {
    /// Longest reference an id is made from (a wamid is about 60 bytes).
    pub const REFERENCE_LEN_MAX: usize = 160;

    fn make(prefix: &'static str, reference: &str) -> Result<Self, IdError> {
        debug_assert!(ID_PREFIXES.contains(&prefix));
        check_token(
            reference,
            Self::REFERENCE_LEN_MAX,
            "entry reference",
            printable_ascii,
        )?;
        Ok(Self(format!("{prefix}:{reference}")))
    }

    /// A message charged under per-message pricing: once per wamid.
    pub fn message_charge(wamid: &str) -> Result<Self, IdError> {
        Self::make("charge.msg", wamid)
    }

    /// A conversation charged under legacy conversation pricing: once per conversation id.
    pub fn conversation_charge(conversation_id: &str) -> Result<Self, IdError> {
        Self::make("charge.conv", conversation_id)
    }

    pub fn purchase(purchase_id: &str) -> Result<Self, IdError> {
        Self::make("purchase", purchase_id)
    }

    pub fn grant(order_reference: &str) -> Result<Self, IdError> {
        Self::make("grant", order_reference)
    }

    pub fn auto_recharge(attempt_id: &str) -> Result<Self, IdError> {
        Self::make("recharge", attempt_id)
    }

    pub fn refund(reference: &str) -> Result<Self, IdError> {
        Self::make("refund", reference)
    }

    pub fn adjustment(reference: &str) -> Result<Self, IdError> {
        Self::make("adjust", reference)
    }

    /// Reads back an id the store wrote.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let invalid = |reason| IdError {
            what: "entry id",
            reason,
        };
        let (prefix, reference) = text.split_once(':').ok_or(invalid("no prefix"))?;
        let prefix = ID_PREFIXES
            .into_iter()
            .find(|known| *known == prefix)
            .ok_or(invalid("unknown prefix"))?;
        Self::make(prefix, reference)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A charge may carry up to 9 (category, market, model, rate basis, pricing type, template tag,
/// hold, flags, WABA) and the reporting day: 10.
pub const METADATA_PAIRS_MAX: usize = 10;
pub const METADATA_KEY_LEN_MAX: usize = 32;
pub const METADATA_VALUE_LEN_MAX: usize = 128;
pub const DESCRIPTION_LEN_MAX: usize = 200;

/// Small key/value facts about an entry (category, market, template tag, ...), bounded so an entry
/// stays one small storage item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), LedgerError> {
        check_token(key, METADATA_KEY_LEN_MAX, "metadata key", |byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'
        })?;
        if value.chars().count() > METADATA_VALUE_LEN_MAX {
            return Err(LedgerError::TooLong {
                what: "metadata value",
                len_max: METADATA_VALUE_LEN_MAX,
            });
        }
        if !self.0.contains_key(key) && self.0.len() == METADATA_PAIRS_MAX {
            return Err(LedgerError::TooMuchMetadata);
        }
        self.0.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

/// An entry about to be posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    id: EntryId,
    kind: EntryKind,
    amount: Money,
    description: String,
    metadata: Metadata,
    occurred_at: OffsetDateTime,
}

impl NewEntry {
    pub fn new(
        id: EntryId,
        kind: EntryKind,
        amount: Money,
        description: &str,
        metadata: Metadata,
        occurred_at: OffsetDateTime,
    ) -> Result<Self, LedgerError> {
        if !kind.allows(&amount) {
            return Err(LedgerError::WrongSign { kind, amount });
        }
        if description.chars().count() > DESCRIPTION_LEN_MAX {
            return Err(LedgerError::TooLong {
                what: "description",
                len_max: DESCRIPTION_LEN_MAX,
            });
        }
        Ok(Self {
            id,
            kind,
            amount,
            description: description.to_owned(),
            metadata,
            occurred_at,
        })
    }

    /// An [`EntryKind::Adjustment`] whose description, written by the system (a true-up, a
    /// re-rate), is cut to [`DESCRIPTION_LEN_MAX`] characters rather than refused.
    pub fn adjustment(
        id: EntryId,
        amount: Money,
        description: &str,
        metadata: Metadata,
        occurred_at: OffsetDateTime,
    ) -> Result<Self, LedgerError> {
        let description: String = description.chars().take(DESCRIPTION_LEN_MAX).collect();
        Self::new(
            id,
            EntryKind::Adjustment,
            amount,
            &description,
            metadata,
            occurred_at,
        )
    }

    pub fn id(&self) -> &EntryId {
        &self.id
    }

    pub fn amount(&self) -> Money {
        self.amount
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub fn occurred_at(&self) -> OffsetDateTime {
        self.occurred_at
    }

    /// The same entry at another amount (a charge priced again, e.g. at a volume tier), if the
    /// kind allows it.
    pub fn with_amount(mut self, amount: Money) -> Result<Self, LedgerError> {
        if !self.kind.allows(&amount) {
            return Err(LedgerError::WrongSign {
                kind: self.kind,
                amount,
            });
        }
        self.amount = amount;
        Ok(self)
    }

    /// The same entry with one more metadata pair (within the metadata's bounds).
    pub fn with_metadata(mut self, key: &str, value: &str) -> Result<Self, LedgerError> {
        self.metadata.insert(key, value)?;
        Ok(self)
    }
}

/// A posted entry, as the statement shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub id: EntryId,
    /// 1 for a wallet's first entry, then gap-free.
    pub seq: u64,
    pub kind: EntryKind,
    pub amount: Money,
    pub balance_after: Money,
    pub description: String,
    pub metadata: Metadata,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub posted_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn ids_are_derived_from_what_the_entry_is() {
        let wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA";
        assert_eq!(
            EntryId::message_charge(wamid).unwrap().as_str(),
            format!("charge.msg:{wamid}")
        );
        assert_eq!(
            EntryId::message_charge(wamid),
            EntryId::message_charge(wamid)
        );
        assert_ne!(
            EntryId::message_charge("x").unwrap(),
            EntryId::conversation_charge("x").unwrap()
        );
        let id = EntryId::grant("STORE-42").unwrap();
        assert_eq!(EntryId::parse(id.as_str()), Ok(id));
        assert!(EntryId::parse("nonsense:1").is_err());
        assert!(EntryId::grant("has space").is_err());
        assert!(EntryId::grant(&"x".repeat(161)).is_err());
    }

    #[test]
    fn the_kind_fixes_the_sign() {
        let usd = |text| Money::parse(text, Currency::Usd).unwrap();
        let at = OffsetDateTime::UNIX_EPOCH;
        let entry = |kind, amount| {
            NewEntry::new(
                EntryId::adjustment("r").unwrap(),
                kind,
                amount,
                "",
                Metadata::new(),
                at,
            )
        };
        assert!(entry(EntryKind::Charge, usd("-0.0125")).is_ok());
        assert!(entry(EntryKind::Charge, usd("0")).is_ok());
        assert!(entry(EntryKind::Charge, usd("1")).is_err());
        assert!(entry(EntryKind::Grant, usd("0")).is_err());
        assert!(entry(EntryKind::Purchase, usd("-1")).is_err());
        assert!(entry(EntryKind::Refund, usd("1")).is_err());
        assert!(entry(EntryKind::Adjustment, usd("0")).is_err());
        assert!(entry(EntryKind::Adjustment, usd("-3")).is_ok());
    }

    #[test]
    fn metadata_is_bounded() {
        let mut metadata = Metadata::new();
        for index in 0..METADATA_PAIRS_MAX {
            metadata.insert(&format!("k{index}"), "v").unwrap();
        }
        assert_eq!(
            metadata.insert("one_more", "v"),
            Err(LedgerError::TooMuchMetadata)
        );
        metadata.insert("k0", "replaced").unwrap();
        assert!(metadata.insert("Bad-Key", "v").is_err());
        assert!(metadata.insert("k1", &"v".repeat(129)).is_err());
    }
}
