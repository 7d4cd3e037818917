//! Adjustment entries: corrections posted as new entries, never by editing the past.
//!
//! A **volume tier true-up**: when Meta's tier update for a WABA × market × category × month
//! arrives after charges it covers were posted, each such charge gets one adjustment for the
//! difference between what it was charged and the tier's rate. The adjustment's id is derived from
//! the tier update's key and the charge's id, so however often the true-up runs (a replayed
//! webhook, a retried batch), each charge is adjusted once: the ledger refuses a second entry with
//! the same id. The description says why, so the statement shows the reason.

use sha2::{Digest, Sha256};

use crate::ledger::{EntryId, EntryKind, LedgerEntry, LedgerError, Metadata, NewEntry};
use crate::meta::account_update::TierUpdate;
use crate::money::Money;
use crate::pricing::MarketLists;

use super::usage::{META_CATEGORY, UsageLabels};

/// The adjustment of one charge for one cause: `adjust:<cause>~<16 hex of the charge id's hash>`
/// (hashed, so that the id stays bounded whatever the charge's id).
pub fn adjustment_id(cause: &str, charge: &EntryId) -> Result<EntryId, crate::ids::IdError> {
    let digest = Sha256::digest(charge.as_str().as_bytes());
    EntryId::adjustment(&format!("{cause}~{}", hex::encode(&digest[..8])))
}

/// The true-up entries `update` calls for among `charges` (a wallet's entries of the month), at
/// the tier's `tier_rate` per message. Charges outside the update (another market, category or
/// month, before its instant), free usage, and charges already at the rate give nothing. `lists`
/// places each charge's country in Meta's market under the list in force when it happened.
pub fn tier_true_ups(
    update: &TierUpdate,
    tier_rate: Money,
    lists: &MarketLists,
    charges: &[LedgerEntry],
) -> Result<Vec<NewEntry>, LedgerError> {
    let cause = format!("tier.{}", update.key());
    let mut entries = Vec::new();
    for charge in charges {
        if charge.kind != EntryKind::Charge || !charge.amount.is_negative() {
            continue;
        }
        // A charge without readable labels is not one a tier prices.
        let Ok(Some(labels)) = UsageLabels::read(&charge.metadata) else {
            continue;
        };
        if !update.covers(charge.occurred_at)
            || !same_market(update, lists, charge, &labels)
            || labels.category != update.category
        {
            continue;
        }
        // What was charged back, less what the tier charges: positive when the tier is cheaper.
        let Ok(difference) = charge.amount.negated().checked_sub(tier_rate) else {
            continue;
        };
        if difference.is_zero() {
            continue;
        }
        let id = adjustment_id(&cause, &charge.id).map_err(|_| LedgerError::TooLong {
            what: "adjustment reference",
            len_max: EntryId::REFERENCE_LEN_MAX,
        })?;
        let mut metadata = Metadata::new();
        metadata.insert("reason", "volume_tier_true_up")?;
        metadata.insert("tier", &update.tier.to_string())?;
        metadata.insert(META_CATEGORY, update.category.as_str())?;
        let description = format!(
            "volume tier true-up: {} {} tier {} from {} (charged {}, tier rate {})",
            update.market,
            update.category,
            update.tier,
            update
                .updated_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            charge.amount.negated().amount(),
            tier_rate.amount()
        );
        entries.push(NewEntry::adjustment(
            id,
            difference,
            &description,
            metadata,
            charge.occurred_at,
        )?);
    }
    Ok(entries)
}

fn same_market(
    update: &TierUpdate,
    lists: &MarketLists,
    charge: &LedgerEntry,
    labels: &UsageLabels,
) -> bool {
    let country = labels.market.market();
    let list = lists.in_force_at(charge.occurred_at);
    match (country, list) {
        (Some(country), Some(list)) => *list.market_of(country) == update.market,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::meta::account_update::tier_updates;
    use crate::money::Currency;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::Usd).unwrap()
    }

    fn charge(
        wamid: &str,
        market: &str,
        category: &str,
        amount: &str,
        at: time::OffsetDateTime,
    ) -> LedgerEntry {
        let mut metadata = Metadata::new();
        metadata.insert("market", market).unwrap();
        metadata.insert("category", category).unwrap();
        LedgerEntry {
            id: EntryId::message_charge(wamid).unwrap(),
            seq: 1,
            kind: EntryKind::Charge,
            amount: usd(amount),
            balance_after: usd("0"),
            description: String::new(),
            metadata,
            occurred_at: at,
            posted_at: at,
        }
    }

    #[test]
    fn a_late_tier_update_adjusts_the_charges_it_covers_once() {
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398",
            "changes":[{"field":"account_update","value":{"event":"VOLUME_BASED_PRICING_TIER_UPDATE",
            "volume_tier_info":{"tier_update_time":1793613600,"pricing_category":"UTILITY",
            "tier":"25000001:50000000","effective_month":"2026-11","region":"India"}}}]}]}"#;
        let (updates, _) = tier_updates(body.as_bytes());
        let update = &updates[0];
        let lists = crate::pricing::built_in_market_lists();
        let after = datetime!(2026-11-02 11:00 UTC);
        let charges = [
            charge("wamid.A", "IN", "utility", "-0.0014", after),
            charge(
                "wamid.B",
                "IN",
                "utility",
                "-0.0014",
                after + time::Duration::hours(1),
            ),
            // Before the instant, another category, another market, next month, at the rate.
            charge(
                "wamid.C",
                "IN",
                "utility",
                "-0.0014",
                datetime!(2026-11-02 09:59 UTC),
            ),
            charge("wamid.D", "IN", "marketing", "-0.0101", after),
            charge("wamid.E", "US", "utility", "-0.0021", after),
            charge(
                "wamid.F",
                "IN",
                "utility",
                "-0.0014",
                datetime!(2026-12-01 0:00 UTC),
            ),
            charge("wamid.G", "IN", "utility", "-0.0012", after),
        ];
        let rate = usd("0.0012");
        let first = tier_true_ups(update, rate, lists, &charges).unwrap();
        assert_eq!(first.len(), 2);
        for entry in &first {
            assert_eq!(entry.amount(), usd("0.0002"));
            assert_eq!(entry.kind(), EntryKind::Adjustment);
            assert_eq!(entry.metadata().get("reason"), Some("volume_tier_true_up"));
        }
        assert_ne!(first[0].id(), first[1].id());
        // Replayed: the same ids, which the ledger posts once.
        assert_eq!(tier_true_ups(update, rate, lists, &charges).unwrap(), first);
    }
}
