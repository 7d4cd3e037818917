//! A credit purchase paid through a hosted checkout: its id, its status and what was quoted.
//!
//! # One purchase per buyer's idempotency key
//! The buyer sends an `Idempotency-Key` with `POST /v1/wallet/purchases`; the purchase id is a hash
//! of the account and that key ([`PurchaseId::for_request`]), so a retried request lands on the same
//! purchase (a conditional put finds it) and the same checkout page (Stripe's own idempotency key is
//! derived from the purchase id). A new key is a new purchase: a new checkout attempt.
//!
//! # Status, and why every order of events ends in the same state
//! Stripe's events arrive late, more than once and out of order. The status only ever moves *up*
//! this order, each move a DynamoDB condition:
//!
//! `pending` < `expired` < `failed` < `held` < `rejected` < `paid`
//!
//! so the final status is the highest one any event asked for, whatever the order of arrival.
//! `paid` is highest because money was taken: a payment that succeeds after the page expired (a
//! delayed bank debit, or an `expired` that overtook `completed`) is still credited, and an
//! `expired` or `failed` after `paid` changes nothing. `failed` ranks above `expired` only so that
//! the two never flip-flop. `held` is a paid checkout whose amount is not the quote's total: it
//! waits for an operator, who moves it to `paid` (credited) or `rejected` (not credited); only an
//! operator leaves `held` ([`super::review`]).

use std::fmt;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{CheckoutSessionId, ProviderCustomerId, ProviderPaymentId, PurchaseId};
use crate::ids::{AccountId, IdError, check_token, decode_cursor, encode_cursor, invalid_cursor};
use crate::money::CreditQuote;

/// The buyer's `Idempotency-Key`: 1 to 128 letters, digits, `-`, `_`, `.` or `:` (a UUID fits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseKey(String);

impl PurchaseKey {
    pub const LEN_MAX: usize = 128;
    /// The header that carries it.
    pub const HEADER: &'static str = "Idempotency-Key";

    pub fn parse(text: &str) -> Result<Self, IdError> {
        check_token(text, Self::LEN_MAX, "Idempotency-Key", |byte| {
            byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':')
        })?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PurchaseId {
    /// The purchase a buyer's request names: `pur_` and 32 hex digits (128 bits) of
    /// SHA-256(account, 0x00, key). Deterministic, so a replay finds the purchase; scoped to the
    /// account, so two accounts using the same key never meet.
    pub fn for_request(account: &AccountId, key: &PurchaseKey) -> Self {
        let mut hash = Sha256::new();
        hash.update(account.as_str().as_bytes());
        // Neither an account id nor a key contains a NUL byte, so the pair is unambiguous.
        hash.update([0u8]);
        hash.update(key.as_str().as_bytes());
        let digest = hash.finalize();
        Self(format!("pur_{}", hex::encode(&digest[..16])))
    }
}

/// Where a purchase is. See the module docs for the order and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    /// Recorded; the checkout page is (being) created and nobody has paid yet.
    Pending,
    /// The checkout page expired unpaid.
    Expired,
    /// The payment failed (a delayed payment method was declined, or the provider refused the
    /// checkout).
    Failed,
    /// Paid, but not the quoted total: nothing credited until an operator reviews it
    /// ([`super::review`]).
    Held,
    /// Held, then rejected by an operator: nothing credited (the payment is refunded outside).
    Rejected,
    /// Paid and credited.
    Paid,
}

impl PurchaseStatus {
    pub const ALL: [PurchaseStatus; 6] = [
        PurchaseStatus::Pending,
        PurchaseStatus::Expired,
        PurchaseStatus::Failed,
        PurchaseStatus::Held,
        PurchaseStatus::Rejected,
        PurchaseStatus::Paid,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            PurchaseStatus::Pending => "pending",
            PurchaseStatus::Expired => "expired",
            PurchaseStatus::Failed => "failed",
            PurchaseStatus::Held => "held",
            PurchaseStatus::Rejected => "rejected",
            PurchaseStatus::Paid => "paid",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// The statuses a purchase may be in for `self` to replace it: every lower one.
    pub fn replaces(self) -> impl Iterator<Item = PurchaseStatus> {
        Self::ALL.into_iter().filter(move |status| *status < self)
    }
}

impl fmt::Display for PurchaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A purchase as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub id: PurchaseId,
    pub account_id: AccountId,
    pub status: PurchaseStatus,
    /// What was quoted when the purchase was recorded: the card is charged `total`, the wallet
    /// credited `subtotal`.
    pub quote: CreditQuote,
    /// A fingerprint of the request body, telling a replay from another request reusing the key.
    pub request_sha256: String,
    /// The provider's customer the checkout was created for, decided when the purchase was
    /// recorded so that every retry sends Stripe the very same request.
    pub checkout_customer: Option<ProviderCustomerId>,
    /// The hosted checkout page, once created.
    pub checkout: Option<StoredCheckout>,
    /// The payment, once the provider confirmed it.
    pub payment_intent: Option<ProviderPaymentId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub paid_at: Option<OffsetDateTime>,
}

/// The hosted checkout page of a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckout {
    pub session_id: CheckoutSessionId,
    pub url: String,
}

impl Purchase {
    /// A purchase about to be recorded.
    pub fn pending(
        id: PurchaseId,
        account_id: AccountId,
        quote: CreditQuote,
        request_sha256: String,
        checkout_customer: Option<ProviderCustomerId>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            account_id,
            status: PurchaseStatus::Pending,
            quote,
            request_sha256,
            checkout_customer,
            checkout: None,
            payment_intent: None,
            created_at: now,
            updated_at: now,
            paid_at: None,
        }
    }
}

/// What a paid checkout tells fulfilment, from the provider's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidCheckout {
    pub session_id: CheckoutSessionId,
    pub customer: Option<ProviderCustomerId>,
    pub payment_intent: Option<ProviderPaymentId>,
    pub payment_method: Option<super::ProviderPaymentMethodId>,
}

/// The card auto-recharge charges: the customer and payment method a purchase saved, and which
/// purchase saved them (the newest purchase wins, whatever order the events arrive in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPaymentMethod {
    pub customer: ProviderCustomerId,
    /// Absent until the provider has told which card paid (`payment_intent.succeeded`).
    pub payment_method: Option<super::ProviderPaymentMethodId>,
    pub source_purchase: PurchaseId,
    /// When the purchase that saved them was created: what orders two purchases' saves.
    pub source_created_at: OffsetDateTime,
}

impl SavedPaymentMethod {
    /// Whether auto-recharge can charge it: a customer and a card.
    pub fn is_chargeable(&self) -> bool {
        self.payment_method.is_some()
    }
}

/// Where the next, older page of purchase history starts: the creation time (ms) and id of the
/// newest purchase on it. Opaque to callers (base64url); it names no account, and a page is only
/// ever read within the caller's own account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseCursor {
    pub created_ms: u64,
    pub purchase: PurchaseId,
}

const CURSOR_PREFIX: &str = "p1.";
const CURSOR_LEN_MAX: usize = 256;

impl PurchaseCursor {
    pub fn encode(&self) -> String {
        encode_cursor(
            CURSOR_PREFIX,
            &format!("{}.{}", self.created_ms, self.purchase),
        )
    }

    pub fn decode(text: &str) -> Result<Self, IdError> {
        let body = decode_cursor(text, CURSOR_PREFIX, CURSOR_LEN_MAX)?;
        let (millis, purchase) = body.split_once('.').ok_or_else(invalid_cursor)?;
        if millis.is_empty() || !millis.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_cursor());
        }
        Ok(Self {
            created_ms: millis.parse().map_err(|_| invalid_cursor())?,
            purchase: PurchaseId::parse(purchase).map_err(|_| invalid_cursor())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(text: &str) -> AccountId {
        AccountId::parse(text).unwrap()
    }

    #[test]
    fn purchase_ids_are_derived_from_account_and_key() {
        let key = PurchaseKey::parse("7f1c2a9e-5b7d-4d0e-9a57-2c1f7e3b8a10").unwrap();
        let id = PurchaseId::for_request(&account("acme"), &key);
        assert_eq!(id, PurchaseId::for_request(&account("acme"), &key));
        assert!(id.as_str().starts_with("pur_"));
        assert_eq!(id.as_str().len(), 4 + 32);
        // A valid purchase id, so it fits a ledger entry id and Stripe metadata.
        assert_eq!(PurchaseId::parse(id.as_str()), Ok(id.clone()));
        assert_ne!(id, PurchaseId::for_request(&account("acme2"), &key));
        let other = PurchaseKey::parse("another-key").unwrap();
        assert_ne!(id, PurchaseId::for_request(&account("acme"), &other));
        // "ab" + "c" and "a" + "bc" are different requests.
        assert_ne!(
            PurchaseId::for_request(&account("ab"), &PurchaseKey::parse("c").unwrap()),
            PurchaseId::for_request(&account("a"), &PurchaseKey::parse("bc").unwrap())
        );
        // Computed outside this code (Python hashlib), so what is hashed cannot drift unnoticed.
        assert_eq!(
            PurchaseId::for_request(&account("acme"), &PurchaseKey::parse("k1").unwrap()).as_str(),
            "pur_a9bff821b3c257c60dac37cb1b048293"
        );
    }

    #[test]
    fn buyer_keys_are_bounded() {
        assert!(PurchaseKey::parse("a").is_ok());
        assert!(PurchaseKey::parse(&"k".repeat(128)).is_ok());
        for bad in ["", "has space", "a/b", "ключ", &"k".repeat(129)] {
            assert!(PurchaseKey::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn statuses_only_move_up() {
        use PurchaseStatus::*;
        assert_eq!(
            Paid.replaces().collect::<Vec<_>>(),
            [Pending, Expired, Failed, Held, Rejected]
        );
        // Only an operator leaves `held` (to paid or rejected); events hold from below it.
        assert_eq!(
            Held.replaces().collect::<Vec<_>>(),
            [Pending, Expired, Failed]
        );
        assert_eq!(Failed.replaces().collect::<Vec<_>>(), [Pending, Expired]);
        assert_eq!(Expired.replaces().collect::<Vec<_>>(), [Pending]);
        assert_eq!(Pending.replaces().count(), 0);
        for status in PurchaseStatus::ALL {
            assert_eq!(PurchaseStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(PurchaseStatus::parse("refunded"), None);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = PurchaseCursor {
            created_ms: 1_763_726_400_123,
            purchase: PurchaseId::parse("pur_a9bff821b3c257c60dac37cb1b048293").unwrap(),
        };
        assert_eq!(PurchaseCursor::decode(&cursor.encode()), Ok(cursor));
        for bad in [
            "",
            "!!",
            "cDEu",
            "cDEuMTIz",
            "cDEueC5wdXI",
            &"A".repeat(257),
        ] {
            assert!(PurchaseCursor::decode(bad).is_err(), "{bad:?} decoded");
        }
    }
}
