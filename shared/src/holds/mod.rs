//! Holds: money reserved for a send before it goes out, settled by its charges, released when not
//! used.
//!
//! A platform about to send a broadcast places a hold for its estimated cost (lines of market ×
//! category × count, priced by the rate card in force now). The hold is granted only if the
//! wallet's `available = balance − held` covers it, as a condition of the store's write. Charges
//! whose status carries the hold's tag ([`callback_tag`]) reduce its remaining amount (at most to
//! zero) in the transaction that posts them; a `failed` status releases that message's estimate;
//! what is left is released when the sender deletes the hold or when it expires.
//!
//! The invariant every commit keeps: a wallet's `held` is the sum of its open holds' `remaining`.
//! Holds are not ledger entries: no money moves when one is placed or released.

pub mod placement;
pub mod settle;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::ids::{AccountId, string_id};
use crate::money::{Currency, Money, MoneyError};
use crate::payments::purchase::PurchaseKey;
use crate::pricing::{Category, Market, PricingError, RateBook, RecipientMarket};

pub use settle::{FailedSend, HoldChange, failed_estimate, hold_ids_of, settle_charges};

/// Lines one hold may describe: enough for a broadcast split by market and category, few enough
/// that the hold stays one small item (its updates cost one write unit, not several).
pub const HOLD_LINES_MAX: usize = 10;
/// Messages one hold may cover in total (a broadcast larger than this places several holds).
pub const HOLD_MESSAGES_MAX: u64 = 1_000_000;
/// How long a hold lasts unless asked otherwise.
pub const HOLD_TTL_DEFAULT: Duration = Duration::hours(24);
pub const HOLD_TTL_MIN: Duration = Duration::minutes(1);
/// Longest a hold may last: money is not kept from a wallet for longer than a week.
pub const HOLD_TTL_MAX: Duration = Duration::days(7);
/// A template name as Meta allows it (lowercase letters, digits, `_`), cut to what usage keeps.
pub const TEMPLATE_LEN_MAX: usize = 64;
/// Metadata key of a charge that settles a hold.
pub const META_HOLD: &str = "hold";

fn hold_id_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'
}

string_id!(
    /// A hold: `hld_` and 32 hex digits of SHA-256(account, 0x00, `Idempotency-Key`).
    HoldId,
    "hold id",
    36,
    hold_id_byte
);

impl HoldId {
    const PREFIX: &'static str = "hld_";

    /// Deterministic, so a replay of the same key finds the same hold; scoped to the account.
    pub fn for_request(account: &AccountId, key: &PurchaseKey) -> Self {
        let mut hash = Sha256::new();
        hash.update(account.as_str().as_bytes());
        // Neither an account id nor a key holds a NUL byte, so the pair is unambiguous.
        hash.update([0u8]);
        hash.update(key.as_str().as_bytes());
        Self(format!(
            "{}{}",
            Self::PREFIX,
            hex::encode(&hash.finalize()[..16])
        ))
    }

    /// Only ids of the form `for_request` makes: what a tag names is checked before any read.
    pub fn parse_strict(text: &str) -> Option<Self> {
        let hex = text.strip_prefix(Self::PREFIX)?;
        let well_formed = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        (well_formed && !hex.bytes().any(|b| b.is_ascii_uppercase())).then(|| Self(text.into()))
    }
}

/// The tag a sender puts in `biz_opaque_callback_data`: `<hold id>:<template name>`, or the hold
/// id alone. Meta echoes it on every status of the message, so billing finds the hold, and the
/// template part still counts in the per-template usage as a plain template tag does.
pub fn callback_tag(hold: &HoldId, template: Option<&str>) -> String {
    match template {
        Some(template) => format!("{hold}:{template}"),
        None => hold.to_string(),
    }
}

/// A `biz_opaque_callback_data` read back: the hold it names (if it follows the convention) and
/// the template tag usage counts it under (the whole text when it is not a hold tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTag<'a> {
    pub hold: Option<HoldId>,
    pub template: Option<&'a str>,
}

pub fn parse_tag(tag: &str) -> ParsedTag<'_> {
    let (head, rest) = match tag.split_once(':') {
        Some((head, rest)) => (head, Some(rest)),
        None => (tag, None),
    };
    match HoldId::parse_strict(head) {
        Some(hold) => ParsedTag {
            hold: Some(hold),
            template: rest.filter(|template| !template.is_empty()),
        },
        None => ParsedTag {
            hold: None,
            template: Some(tag),
        },
    }
}

/// Checks a template name for a hold's tag.
pub fn check_template(name: &str) -> Result<(), HoldError> {
    let ok = !name.is_empty()
        && name.len() <= TEMPLATE_LEN_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(()).ok_or(HoldError::Template)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    #[error("a hold has 1 to {HOLD_LINES_MAX} lines, not {0}")]
    Lines(usize),
    #[error("line {0}: count must be at least 1")]
    ZeroCount(usize),
    #[error("a hold covers at most {HOLD_MESSAGES_MAX} messages in all")]
    TooManyMessages,
    #[error("template must be 1 to {TEMPLATE_LEN_MAX} of a-z, 0-9 and _")]
    Template,
    #[error("expires_in_seconds must be between {} and {}", HOLD_TTL_MIN.whole_seconds(), HOLD_TTL_MAX.whole_seconds())]
    Ttl,
    #[error("line {line}: {source}")]
    Pricing { line: usize, source: PricingError },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// One line of a hold as asked: where (a market), what (a category), how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    pub market: RecipientMarket,
    pub category: Category,
    pub count: u64,
}

/// A priced line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldLine {
    /// `None`: a recipient no market could be found for, priced by the card's fallback.
    pub market: Option<Market>,
    pub category: Category,
    pub count: u64,
    pub unit_price: Money,
    pub amount: Money,
}

/// Prices `requests` with the rate card in force at `now`: each line at its market and category.
pub fn price_lines(
    requests: &[LineRequest],
    book: &RateBook,
    currency: Currency,
    now: OffsetDateTime,
) -> Result<Vec<HoldLine>, HoldError> {
    if requests.is_empty() || requests.len() > HOLD_LINES_MAX {
        return Err(HoldError::Lines(requests.len()));
    }
    let mut total: u64 = 0;
    let mut lines = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        if request.count == 0 {
            return Err(HoldError::ZeroCount(index));
        }
        total = total.saturating_add(request.count);
        if total > HOLD_MESSAGES_MAX {
            return Err(HoldError::TooManyMessages);
        }
        let priced = book
            .price(now, currency, request.market, &request.category)
            .map_err(|source| HoldError::Pricing {
                line: index,
                source,
            })?;
        lines.push(HoldLine {
            market: request.market.market(),
            category: request.category.clone(),
            count: request.count,
            unit_price: priced.amount,
            amount: priced.amount.checked_times(request.count)?,
        });
    }
    Ok(lines)
}

/// The total of `lines` (at least one line).
pub fn total_of(lines: &[HoldLine]) -> Result<Money, MoneyError> {
    assert!(!lines.is_empty(), "a hold has lines");
    lines
        .iter()
        .try_fold(Money::zero(lines[0].amount.currency()), |sum, line| {
            sum.checked_add(line.amount)
        })
}

/// How many of the messages `available` pays for, cheapest first (the most messages it can).
pub fn messages_covered(lines: &[HoldLine], available: Money) -> u64 {
    let mut left = available.amount();
    let mut by_price: Vec<&HoldLine> = lines.iter().collect();
    by_price.sort_by_key(|line| line.unit_price.amount());
    let mut covered = 0;
    for line in by_price {
        let unit = line.unit_price.amount();
        let affordable = if unit.is_zero() {
            line.count
        } else if left <= rust_decimal::Decimal::ZERO {
            0
        } else {
            use rust_decimal::prelude::ToPrimitive;
            (left / unit)
                .floor()
                .to_u64()
                .unwrap_or(u64::MAX)
                .min(line.count)
        };
        covered += affordable;
        left -= unit * rust_decimal::Decimal::from(affordable);
    }
    covered
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    /// Holding `remaining`; settled by charges that carry its tag.
    Open,
    /// Released by the sender (`DELETE`): what was left went back to `available`.
    Released,
    /// Released by the sweep at its expiry.
    Expired,
}

impl HoldStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Open => "open",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [HoldStatus::Open, HoldStatus::Released, HoldStatus::Expired]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

impl fmt::Display for HoldStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub account_id: AccountId,
    pub template: Option<String>,
    pub lines: Vec<HoldLine>,
    /// What was reserved: the sum of the lines.
    pub amount: Money,
    /// Still held: `amount` less what charges settled, failures released and a release freed.
    pub remaining: Money,
    pub status: HoldStatus,
    /// Charges that settled against it, and what they took from it.
    pub settled_count: u64,
    pub settled_amount: Money,
    /// Failed messages whose estimate it released, and what they released.
    pub failed_count: u64,
    pub failed_amount: Money,
    /// What the release (delete or expiry) gave back, once closed.
    pub released_amount: Money,
    /// Fingerprint of the request that placed it: a replay of the key must carry the same.
    pub request_sha256: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    /// What placing it crossed on `available` (low, depleted): kept so a replay re-sends those
    /// notices with the same ids.
    pub placed: placement::PlacementCrossings,
    /// What its release (delete or expiry) did when it took `available` back above zero: the
    /// figures of its `balance.recovered`, kept so a repeated release re-sends that notice.
    pub recovered: Option<ReleaseRecovery>,
}

/// The wallet's `balance` and `available` right after a release that recovered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRecovery {
    pub balance: Money,
    pub available: Money,
}

impl Hold {
    /// A new open hold of `lines`, holding their whole total.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: HoldId,
        account_id: AccountId,
        template: Option<String>,
        lines: Vec<HoldLine>,
        request_sha256: String,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<Self, HoldError> {
        if !(HOLD_TTL_MIN..=HOLD_TTL_MAX).contains(&ttl) {
            return Err(HoldError::Ttl);
        }
        if let Some(template) = &template {
            check_template(template)?;
        }
        let amount = total_of(&lines)?;
        let zero = Money::zero(amount.currency());
        Ok(Self {
            id,
            account_id,
            template,
            lines,
            amount,
            remaining: amount,
            status: HoldStatus::Open,
            settled_count: 0,
            settled_amount: zero,
            failed_count: 0,
            failed_amount: zero,
            released_amount: zero,
            request_sha256,
            created_at: now,
            expires_at: now + ttl,
            closed_at: None,
            placed: placement::PlacementCrossings::default(),
            recovered: None,
        })
    }

    pub fn is_open(&self) -> bool {
        self.status == HoldStatus::Open
    }

    pub fn message_count(&self) -> u64 {
        self.lines.iter().map(|line| line.count).sum()
    }

    /// What the hold's amount became: still held, settled by charges, released by failures, or
    /// released at the end. Every commit keeps `amount` equal to their sum.
    pub fn accounted(&self) -> Result<Money, MoneyError> {
        self.remaining
            .checked_add(self.settled_amount)?
            .checked_add(self.failed_amount)?
            .checked_add(self.released_amount)
    }

    pub fn tag(&self) -> String {
        callback_tag(&self.id, self.template.as_deref())
    }
}
