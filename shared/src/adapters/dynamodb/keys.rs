//! The single-table key design (written out with its reasons in `docs/table-design.md`).
//!
//! | item    | pk                  | sk                        |
//! |---------|---------------------|---------------------------|
//! | wallet  | `ACCOUNT#<account>` | `WALLET`                  |
//! | entry   | `ACCOUNT#<account>` | `ENTRY#<entry id>`        |
//! | journal | `ACCOUNT#<account>` | `JOURNAL#<first seq:020>` |
//! | route   | `PHONE#<phone id>`  | `ROUTE`                   |
//! | rate card | `RATECARD#<currency>` | `FROM#<effective_from ns:030>` |
//! | purchase | `ACCOUNT#<account>` | `PURCHASE#<purchase id>` |
//! | purchase log | `ACCOUNT#<account>` | `PURCHASE_LOG#<created ms:020>#<purchase id>` |
//! | payment method | `ACCOUNT#<account>` | `PAYMENT_METHOD` |
//! | recharge lock | `ACCOUNT#<account>` | `RECHARGE_LOCK` (in `recharge.rs`) |

use time::OffsetDateTime;

use crate::ids::{AccountId, PhoneNumberId};
use crate::ledger::EntryId;
use crate::money::Currency;
use crate::payments::PurchaseId;

pub const PK: &str = "pk";
pub const SK: &str = "sk";

pub const WALLET_SK: &str = "WALLET";
pub const ROUTE_SK: &str = "ROUTE";
pub const JOURNAL_SK_PREFIX: &str = "JOURNAL#";

pub fn account_pk(account: &AccountId) -> String {
    format!("ACCOUNT#{account}")
}

pub fn entry_sk(id: &EntryId) -> String {
    format!("ENTRY#{id}")
}

/// Zero-padded so that the string order of journal keys is the order of sequence numbers.
pub fn journal_sk(first_seq: u64) -> String {
    format!("{JOURNAL_SK_PREFIX}{first_seq:020}")
}

pub fn rate_card_pk(currency: Currency) -> String {
    format!("RATECARD#{currency}")
}

/// Nanoseconds since the epoch, zero-padded, so that key order is time order (cards before 1970
/// are refused when they are parsed).
pub fn rate_card_sk(effective_from: OffsetDateTime) -> String {
    let nanos = u128::try_from(effective_from.unix_timestamp_nanos()).unwrap_or(0);
    format!("FROM#{nanos:030}")
}

pub fn phone_pk(phone: &PhoneNumberId) -> String {
    format!("PHONE#{phone}")
}

// Purchases: the record (by id, for the webhook), an immutable log item (by time, for the history)
// and the card auto-recharge charges. See docs/table-design.md.

pub const PURCHASE_LOG_SK_PREFIX: &str = "PURCHASE_LOG#";
pub const PAYMENT_METHOD_SK: &str = "PAYMENT_METHOD";

pub fn purchase_sk(purchase: &PurchaseId) -> String {
    format!("PURCHASE#{purchase}")
}

/// Zero-padded milliseconds, so that key order is creation order (the id breaks ties).
pub fn purchase_log_sk(created_ms: u64, purchase: &PurchaseId) -> String {
    format!("{PURCHASE_LOG_SK_PREFIX}{created_ms:020}#{purchase}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_keys_sort_like_their_numbers() {
        let mut keys: Vec<String> = [10, 9, 100, 1, u64::MAX]
            .into_iter()
            .map(journal_sk)
            .collect();
        keys.sort();
        assert_eq!(keys, [1, 9, 10, 100, u64::MAX].map(journal_sk));
    }

    #[test]
    fn purchase_log_keys_sort_by_time_then_id() {
        let id = |text: &str| PurchaseId::parse(text).unwrap();
        let mut keys = vec![
            purchase_log_sk(1_000, &id("pur_b")),
            purchase_log_sk(999, &id("pur_z")),
            purchase_log_sk(1_000, &id("pur_a")),
            purchase_log_sk(10_000, &id("pur_a")),
        ];
        keys.sort();
        assert_eq!(
            keys,
            [
                purchase_log_sk(999, &id("pur_z")),
                purchase_log_sk(1_000, &id("pur_a")),
                purchase_log_sk(1_000, &id("pur_b")),
                purchase_log_sk(10_000, &id("pur_a")),
            ]
        );
        // The log never shares a prefix with the records it points at.
        assert!(!purchase_log_sk(1, &id("pur_a")).starts_with(&purchase_sk(&id("pur_a"))));
        assert!(!purchase_log_sk(1, &id("pur_a")).starts_with("PURCHASE#"));
    }
}
