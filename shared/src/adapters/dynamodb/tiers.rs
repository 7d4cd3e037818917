//! Volume tiers on DynamoDB (keys in `docs/table-design.md`):
//!
//! | item | pk | sk |
//! |------|----|----|
//! | WABA route | `WABA#<waba>` | `ROUTE` |
//! | tier update | `WABA#<waba>` | `TIER#<yyyy-mm>#<category>#<market>` |
//! | tiers file version | `TIERS#<currency>` | `FROM#<effective_from ns:030>` |
//!
//! None of them is written on the billing path's hot key: a tier update is one conditional put per
//! Meta announcement, and billing only reads them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::format_description::well_known::Rfc3339;
use time::{Month, OffsetDateTime};

use super::codec::{Item, Reader, s, timestamp};
use super::{DynamoStore, conditional, keys, unavailable};
use crate::ids::AccountId;
use crate::meta::account_update::TierUpdate;
use crate::meta::ids::WabaId;
use crate::money::Currency;
use crate::ports::store::{Saved, StoreError};
use crate::ports::tiers::{TIER_UPDATES_PER_MONTH_MAX, TierBooks, TierUpdates, WabaRoutes};
use crate::pricing::tier_book::{TIER_VERSIONS_MAX, TierBook, TierBookError, TierCard};
use crate::pricing::tiers::TierBand;
use crate::pricing::{Category, MarketName};

/// Query pages read for one list here; each list is far under one 1 MB page.
const QUERY_PAGES_MAX: usize = 8;

fn waba_pk(waba: &WabaId) -> String {
    format!("WABA#{waba}")
}

fn month_text(year: i32, month: Month) -> String {
    format!("{year:04}-{:02}", u8::from(month))
}

fn tier_sk(update: &TierUpdate) -> String {
    format!(
        "TIER#{}#{}#{}",
        month_text(update.year, update.month),
        update.category,
        update.market
    )
}

fn tiers_pk(currency: Currency) -> String {
    format!("TIERS#{currency}")
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

fn seconds(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl WabaRoutes for DynamoStore {
    async fn attach_waba(
        &self,
        waba: &WabaId,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut item = key(waba_pk(waba), keys::ROUTE_SK.to_owned());
        item.insert("type".to_owned(), s("waba_route"));
        self.put_route(account, item, now, || StoreError::WabaTaken(waba.clone()))
            .await
    }

    async fn detach_waba(&self, waba: &WabaId, account: &AccountId) -> Result<bool, StoreError> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(waba_pk(waba), keys::ROUTE_SK.to_owned())))
            .condition_expression("account_id = :account")
            .expression_attribute_values(":account", s(account.as_str()))
            .send()
            .await;
        Ok(conditional(result)?.is_some())
    }

    async fn get_waba_route(&self, waba: &WabaId) -> Result<Option<AccountId>, StoreError> {
        self.route_of(key(waba_pk(waba), keys::ROUTE_SK.to_owned()), || {
            format!("WABA route {waba}")
        })
        .await
    }
}

fn tier_item(update: &TierUpdate, now: OffsetDateTime) -> Item {
    let mut item = key(waba_pk(&update.waba_id), tier_sk(update));
    for (name, value) in [
        ("type", "tier_update".to_owned()),
        ("waba_id", update.waba_id.as_str().to_owned()),
        ("market", update.market.as_str().to_owned()),
        ("category", update.category.as_str().to_owned()),
        ("month", month_text(update.year, update.month)),
        ("tier", update.tier.to_string()),
    ] {
        item.insert(name.to_owned(), s(value));
    }
    item.insert(
        "updated_at_s".to_owned(),
        seconds(update.updated_at.unix_timestamp()),
    );
    item.insert(
        "tier_from".to_owned(),
        AttributeValue::N(update.tier.from.to_string()),
    );
    item.insert("recorded_at".to_owned(), timestamp(now));
    item
}

fn tier_from_item(item: &Item) -> Result<TierUpdate, StoreError> {
    let reader = Reader(item);
    let corrupt = || StoreError::Corrupt("a tier update item".to_owned());
    let (year, month) = reader.str("month")?.split_once('-').ok_or_else(corrupt)?;
    // Stored as written (`Category::as_str`), and only a category with tiers.
    let category = Category::parse(reader.str("category")?)
        .ok()
        .filter(crate::pricing::tiers::has_tiers)
        .ok_or_else(corrupt)?;
    let at: i64 = item
        .get("updated_at_s")
        .and_then(|value| value.as_n().ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(corrupt)?;
    Ok(TierUpdate {
        waba_id: WabaId::parse(reader.str("waba_id")?).map_err(|_| corrupt())?,
        market: MarketName::parse(reader.str("market")?).ok_or_else(corrupt)?,
        category,
        year: year.parse().map_err(|_| corrupt())?,
        month: month
            .parse::<u8>()
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(corrupt)?,
        tier: TierBand::parse(reader.str("tier")?).ok_or_else(corrupt)?,
        updated_at: OffsetDateTime::from_unix_timestamp(at).map_err(|_| corrupt())?,
    })
}

impl TierUpdates for DynamoStore {
    async fn record_tier_update(
        &self,
        update: &TierUpdate,
        now: OffsetDateTime,
    ) -> Result<TierUpdate, StoreError> {
        // The earliest instant stands, then the lower tier: the same answer in any arrival order.
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(tier_item(update, now)))
            .condition_expression(
                "attribute_not_exists(pk) OR updated_at_s > :at \
                 OR (updated_at_s = :at AND tier_from > :from)",
            )
            .expression_attribute_values(":at", seconds(update.updated_at.unix_timestamp()))
            .expression_attribute_values(":from", AttributeValue::N(update.tier.from.to_string()))
            .send()
            .await;
        if conditional(result)?.is_some() {
            return Ok(update.clone());
        }
        let item = self
            .get_item(key(waba_pk(&update.waba_id), tier_sk(update)))
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("tier update {} refused but absent", update.key()))
            })?;
        tier_from_item(&item)
    }

    async fn month_tier_updates(
        &self,
        waba: &WabaId,
        year: i32,
        month: Month,
    ) -> Result<Vec<TierUpdate>, StoreError> {
        let items = self
            .query_prefix(waba_pk(waba), format!("TIER#{}#", month_text(year, month)))
            .await?;
        if items.len() > TIER_UPDATES_PER_MONTH_MAX {
            return Err(StoreError::Corrupt(format!(
                "WABA {waba} holds more than {TIER_UPDATES_PER_MONTH_MAX} tier updates in a month"
            )));
        }
        items.iter().map(tier_from_item).collect()
    }
}

impl DynamoStore {
    /// Every item of `pk` whose sort key starts with `prefix`, consistently, in bounded pages.
    pub(super) async fn query_prefix(
        &self,
        pk: String,
        prefix: String,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        for _ in 0..QUERY_PAGES_MAX {
            let output = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(output.items().iter().cloned());
            start_key = output.last_evaluated_key().cloned();
            if start_key.is_none() {
                return Ok(items);
            }
        }
        Err(StoreError::Corrupt(format!(
            "{pk} {prefix}: more than {QUERY_PAGES_MAX} pages"
        )))
    }
}

impl TierBooks for DynamoStore {
    async fn save_tier_card(
        &self,
        card: &TierCard,
        now: OffsetDateTime,
    ) -> Result<Saved, StoreError> {
        let currency = card.currency();
        let mut item = key(
            tiers_pk(currency),
            keys::rate_card_sk(card.effective_from()),
        );
        item.insert("type".to_owned(), s("tier_card"));
        item.insert("csv".to_owned(), s(card.csv()));
        item.insert("market_list".to_owned(), s(card.market_list()));
        item.insert(
            "effective_from".to_owned(),
            timestamp(card.effective_from()),
        );
        item.insert("saved_at".to_owned(), timestamp(now));
        self.put_version(
            item,
            || self.tier_book(currency),
            |book: &TierBook| {
                book.cards()
                    .iter()
                    .find(|c| c.effective_from() == card.effective_from())
                    .map(|existing| {
                        existing.csv() == card.csv() && existing.market_list() == card.market_list()
                    })
            },
            |mut book| match book.insert(card.clone()) {
                Ok(()) => Ok(()),
                Err(TierBookError::TooManyVersions) => Err(StoreError::RateBookFull(currency)),
                Err(error) => Err(StoreError::Corrupt(format!(
                    "tier book {currency}: {error}"
                ))),
            },
            || StoreError::TiersExist {
                currency,
                effective_from: card.effective_from().format(&Rfc3339).unwrap_or_default(),
            },
        )
        .await
    }

    async fn tier_book(&self, currency: Currency) -> Result<TierBook, StoreError> {
        let items = self
            .query_prefix(tiers_pk(currency), "FROM#".to_owned())
            .await?;
        if items.len() > TIER_VERSIONS_MAX {
            return Err(StoreError::Corrupt(format!(
                "tier book {currency} is over its bound"
            )));
        }
        let mut book = TierBook::new(currency);
        for item in &items {
            let reader = Reader(item);
            let card = TierCard::from_stored(
                reader.str("csv")?,
                reader.timestamp("effective_from")?,
                reader.str("market_list")?,
            )
            .map_err(|error| StoreError::Corrupt(format!("tier book {currency}: {error}")))?;
            book.insert(card)
                .map_err(|error| StoreError::Corrupt(format!("tier book {currency}: {error}")))?;
        }
        Ok(book)
    }
}
