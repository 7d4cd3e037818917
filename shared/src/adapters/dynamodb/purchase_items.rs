//! The items of a purchase (keys in [`super::purchases`]): the record and its log item, to and
//! from their attributes.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::codec::{Item, Reader, decimal_to_n, n, s, timestamp};
use super::keys;
use crate::ids::AccountId;
use crate::money::CreditQuote;
use crate::payments::purchase::{Purchase, PurchaseStatus, StoredCheckout};
use crate::payments::{CheckoutSessionId, ProviderCustomerId, ProviderPaymentId, PurchaseId};
use crate::ports::store::StoreError;

pub(super) fn epoch_ms(at: OffsetDateTime) -> u64 {
    // Purchases are created now, never before 1970.
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

pub(super) fn key(account: &AccountId, sk: String) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), s(keys::account_pk(account))),
        (keys::SK.to_owned(), s(sk)),
    ])
}

pub(super) fn corrupt(what: &str, purchase: &str) -> StoreError {
    StoreError::Corrupt(format!("purchase {purchase}: {what}"))
}

pub(super) fn purchase_item(purchase: &Purchase) -> Item {
    let quote = &purchase.quote;
    let mut item = key(&purchase.account_id, keys::purchase_sk(&purchase.id));
    item.extend([
        ("type".to_owned(), s("purchase")),
        ("purchase_id".to_owned(), s(purchase.id.as_str())),
        ("account_id".to_owned(), s(purchase.account_id.as_str())),
        ("status".to_owned(), s(purchase.status.as_str())),
        ("currency".to_owned(), s(quote.total.currency().code())),
        ("credits".to_owned(), n(u64::from(quote.credits))),
        (
            "unit_price".to_owned(),
            decimal_to_n(quote.unit_price.amount()),
        ),
        ("subtotal".to_owned(), decimal_to_n(quote.subtotal.amount())),
        ("fee_rate".to_owned(), decimal_to_n(quote.fee_rate)),
        ("fee".to_owned(), decimal_to_n(quote.fee.amount())),
        ("total".to_owned(), decimal_to_n(quote.total.amount())),
        ("request_sha256".to_owned(), s(&purchase.request_sha256)),
        ("created_at".to_owned(), timestamp(purchase.created_at)),
        ("created_ms".to_owned(), n(epoch_ms(purchase.created_at))),
        ("updated_at".to_owned(), timestamp(purchase.updated_at)),
    ]);
    if let Some(customer) = &purchase.checkout_customer {
        item.insert("checkout_customer_id".to_owned(), s(customer.as_str()));
    }
    if let Some(checkout) = &purchase.checkout {
        item.insert("session_id".to_owned(), s(checkout.session_id.as_str()));
        item.insert("checkout_url".to_owned(), s(&checkout.url));
    }
    item
}

pub(super) fn log_item(purchase: &Purchase) -> Item {
    let mut item = key(
        &purchase.account_id,
        keys::purchase_log_sk(epoch_ms(purchase.created_at), &purchase.id),
    );
    item.extend([
        ("type".to_owned(), s("purchase_log")),
        ("purchase_id".to_owned(), s(purchase.id.as_str())),
    ]);
    item
}

pub(super) fn optional<T>(
    item: &Item,
    name: &str,
    parse: impl Fn(&str) -> Result<T, crate::ids::IdError>,
) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(value) => {
            let text = value
                .as_s()
                .map_err(|_| StoreError::Corrupt(format!("{name} is not text")))?;
            parse(text)
                .map(Some)
                .map_err(|error| StoreError::Corrupt(format!("{name}: {error}")))
        }
    }
}

pub(super) fn purchase_from_item(item: &Item) -> Result<Purchase, StoreError> {
    let read = Reader(item);
    let id_text = read.str("purchase_id")?;
    let id = PurchaseId::parse(id_text).map_err(|e| corrupt(&e.to_string(), id_text))?;
    let account_id =
        AccountId::parse(read.str("account_id")?).map_err(|e| corrupt(&e.to_string(), id_text))?;
    let status = PurchaseStatus::parse(read.str("status")?)
        .ok_or_else(|| corrupt("unknown status", id_text))?;
    let currency = read.currency()?;
    let credits = u32::try_from(read.u64("credits")?)
        .map_err(|_| corrupt("credits out of range", id_text))?;
    let quote = CreditQuote {
        credits,
        unit_price: read.money("unit_price", currency)?,
        subtotal: read.money("subtotal", currency)?,
        fee_rate: read.decimal("fee_rate")?,
        fee: read.money("fee", currency)?,
        total: read.money("total", currency)?,
    };
    let checkout = match (
        optional(item, "session_id", CheckoutSessionId::parse)?,
        item.get("checkout_url").and_then(|v| v.as_s().ok()),
    ) {
        (Some(session_id), Some(url)) => Some(StoredCheckout {
            session_id,
            url: url.clone(),
        }),
        // Fulfilment may record the session before the checkout answer is stored (a crash
        // between Stripe's answer and the store): no page to show, but the purchase is fine.
        _ => None,
    };
    let paid_at = match item.get("paid_at") {
        Some(_) => Some(read.timestamp("paid_at")?),
        None => None,
    };
    Ok(Purchase {
        id,
        account_id,
        status,
        quote,
        request_sha256: read.str("request_sha256")?.to_owned(),
        checkout_customer: optional(item, "checkout_customer_id", ProviderCustomerId::parse)?,
        checkout,
        payment_intent: optional(item, "payment_intent_id", ProviderPaymentId::parse)?,
        created_at: read.timestamp("created_at")?,
        updated_at: read.timestamp("updated_at")?,
        paid_at,
    })
}
