//! `account_update` webhooks announcing a volume tier (`event: VOLUME_BASED_PRICING_TIER_UPDATE`):
//!
//! ```json
//! {"entry": [{"id": "<WABA>", "changes": [{"field": "account_update", "value": {
//!   "event": "VOLUME_BASED_PRICING_TIER_UPDATE",
//!   "volume_tier_info": {"tier_update_time": 1743451903, "pricing_category": "UTILITY",
//!     "tier": "25000001:50000000", "effective_month": "2025-11", "region": "India"}}}]}]}
//! ```
//!
//! One [`TierUpdate`] is recorded per WABA × market × category × month ([`TierUpdate::key`]);
//! Meta sends duplicates, and the earliest `tier_update_time` wins ([`TierUpdate::earliest`]).

use serde::Deserialize;
use time::{Month, OffsetDateTime};

use super::ids::WabaId;
use crate::pricing::tiers::TierBand;
use crate::pricing::{Category, MarketName};

const EVENT: &str = "VOLUME_BASED_PRICING_TIER_UPDATE";
const FIELD: &str = "account_update";
/// Most tier updates read from one body (Meta sends one per change).
pub const TIER_UPDATES_PER_BODY_MAX: usize = 100;

/// A tier Meta announced for a WABA's market × category in a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierUpdate {
    pub waba_id: WabaId,
    /// Meta's market name (`region`), as its files write it.
    pub market: MarketName,
    /// `utility` or `authentication`.
    pub category: Category,
    pub year: i32,
    pub month: Month,
    pub tier: TierBand,
    /// From this instant on, the month's messages are priced at the tier.
    pub updated_at: OffsetDateTime,
}

impl TierUpdate {
    /// What one record is kept per: WABA × market × category × month (no personal data).
    pub fn key(&self) -> String {
        format!(
            "{}~{}~{}~{:04}-{:02}",
            self.waba_id.as_str(),
            self.market.as_str().replace(' ', "_"),
            self.category,
            self.year,
            u8::from(self.month)
        )
    }

    /// Of two updates with the same key, the one that stands: the earliest instant (then the
    /// lower tier, so that the choice never depends on arrival order).
    pub fn earliest(self, other: TierUpdate) -> TierUpdate {
        debug_assert_eq!(self.key(), other.key());
        if (other.updated_at, other.tier) < (self.updated_at, self.tier) {
            other
        } else {
            self
        }
    }

    /// Whether a message at `at` falls in this update's month at or after its instant.
    pub fn covers(&self, at: OffsetDateTime) -> bool {
        at >= self.updated_at && at.year() == self.year && at.month() == self.month
    }
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: Option<String>,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: Option<String>,
    value: Option<Value>,
}

#[derive(Deserialize)]
struct Value {
    event: Option<String>,
    volume_tier_info: Option<Info>,
}

#[derive(Deserialize)]
struct Info {
    tier_update_time: Option<i64>,
    pricing_category: Option<String>,
    tier: Option<String>,
    effective_month: Option<String>,
    region: Option<String>,
}

/// The tier updates of a (signature-checked) webhook body. Items that are not tier updates are
/// ignored; a tier update with a malformed field is counted in the second value (for an alarm),
/// never guessed.
pub fn tier_updates(body: &[u8]) -> (Vec<TierUpdate>, usize) {
    let Ok(body) = serde_json::from_slice::<Body>(body) else {
        return (Vec::new(), 0);
    };
    let mut updates = Vec::new();
    let mut malformed = 0;
    for entry in body.entry {
        for change in entry.changes {
            let is_tier = change.field.as_deref() == Some(FIELD)
                && change
                    .value
                    .as_ref()
                    .is_some_and(|value| value.event.as_deref() == Some(EVENT));
            if !is_tier || updates.len() == TIER_UPDATES_PER_BODY_MAX {
                continue;
            }
            let info = change.value.and_then(|value| value.volume_tier_info);
            match info.and_then(|info| update(entry.id.as_deref(), info)) {
                Some(update) => updates.push(update),
                None => malformed += 1,
            }
        }
    }
    (updates, malformed)
}

fn update(waba: Option<&str>, info: Info) -> Option<TierUpdate> {
    let category = crate::pricing::tiers::tier_category(&info.pricing_category?)?;
    let month_text = info.effective_month?;
    let (year, month) = month_text.split_once('-')?;
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Some(TierUpdate {
        waba_id: WabaId::parse(waba?).ok()?,
        market: MarketName::parse(info.region?.trim())?,
        category,
        year: year
            .parse()
            .ok()
            .filter(|year| (2000..=9999).contains(year))?,
        month,
        tier: TierBand::parse(&info.tier?)?,
        updated_at: OffsetDateTime::from_unix_timestamp(info.tier_update_time?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pywa_account_update_volume_tier_update.json` of the shared Meta fixtures, verbatim (pywa's
    /// test data, matching the example on Meta's pricing page).
    const FIXTURE: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "102290129340398",
      "time": 1743451903,
      "changes": [
        {
          "value": {
            "volume_tier_info": {
              "tier_update_time": 1743451903,
              "pricing_category": "UTILITY",
              "tier": "25000001:50000000",
              "effective_month": "2025-11",
              "region": "India"
            },
            "event": "VOLUME_BASED_PRICING_TIER_UPDATE"
          },
          "field": "account_update"
        }
      ]
    }
  ]
}"#;

    #[test]
    fn the_pywa_fixture_reads_as_one_tier_update() {
        let (updates, malformed) = tier_updates(FIXTURE.as_bytes());
        assert_eq!(malformed, 0);
        let [update] = updates.as_slice() else {
            panic!("{updates:?}")
        };
        assert_eq!(update.waba_id.as_str(), "102290129340398");
        assert_eq!(update.market.as_str(), "India");
        assert_eq!(update.category, Category::Utility);
        assert_eq!((update.year, update.month), (2025, Month::November));
        assert_eq!(update.tier.to_string(), "25000001:50000000");
        assert_eq!(update.updated_at.unix_timestamp(), 1743451903);
        assert_eq!(update.key(), "102290129340398~India~utility~2025-11");
    }

    #[test]
    fn duplicates_keep_the_earliest_instant_whatever_the_order() {
        let (updates, _) = tier_updates(FIXTURE.as_bytes());
        let first = updates[0].clone();
        let mut later = first.clone();
        later.updated_at += time::Duration::hours(1);
        later.tier = TierBand::parse("50000001:").unwrap();
        assert_eq!(first.clone().earliest(later.clone()), first);
        assert_eq!(later.earliest(first.clone()), first);
        let malformed = FIXTURE.replace("\"UTILITY\"", "\"MARKETING\"");
        assert_eq!(tier_updates(malformed.as_bytes()), (Vec::new(), 1));
    }
}
