//! Usage aggregates on the table: typed labels in, the same strings stored (`sk`, `dimension`,
//! `d1`, `d2`), typed labels out; a charge whose labels do not read back is refused with nothing
//! written, and a stored value that does not read back is corrupt data naming its attribute.

use aws_sdk_dynamodb::types::AttributeValue;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::billing::usage::{
    Dimension, LabelError, META_CATEGORY, META_MARKET, UsageLabels, UsageTag, day_text,
};
use imcredits::ids::AccountId;
use imcredits::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use imcredits::money::Currency;
use imcredits::ports::store::{ChargesPost, EntriesPost, StoreError, UsageRead, WalletGet};
use imcredits::pricing::{Category, Market, RecipientMarket};
use imcredits_tests::{Backend, TEST_TABLE, assert_reconciled, at, grant, new_wallet, usd};

fn charge_with(wamid: &str, metadata: Metadata) -> NewEntry {
    let id = EntryId::message_charge(wamid).unwrap();
    NewEntry::new(id, EntryKind::Charge, usd("-0.01"), "usage", metadata, at()).unwrap()
}

fn labelled(wamid: &str, labels: &UsageLabels) -> NewEntry {
    let mut metadata = Metadata::new();
    labels.write(&mut metadata).unwrap();
    charge_with(wamid, metadata)
}

/// `dimension`, `d1`, `d2` of the usage item `sk`, as the table holds them.
async fn stored(store: &DynamoStore, account: &AccountId, sk: &str) -> [String; 3] {
    let output = store
        .client()
        .get_item()
        .table_name(TEST_TABLE)
        .key("pk", AttributeValue::S(format!("ACCOUNT#{account}")))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = output.item().unwrap_or_else(|| panic!("no item {sk}"));
    ["dimension", "d1", "d2"].map(|name| item[name].as_s().unwrap().clone())
}

pub async fn usage_labels_round_trip_through_the_table_as_the_same_strings(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "usage").await;
    let account = &wallet.account_id;
    store
        .post_entries(account, &[grant("ORDER-U", "10")], at())
        .await
        .unwrap();
    let jamaica = RecipientMarket::Known(Market::parse("JM").unwrap());
    let tagged = UsageLabels {
        category: Category::AuthenticationInternational,
        market: jamaica,
        tag: Some(UsageTag::parse("template:welcome_v2").unwrap()),
    };
    let unknown = UsageLabels {
        category: Category::from_meta("marketing_plus"),
        market: RecipientMarket::Unknown,
        tag: None,
    };
    let batch = [
        labelled("wamid.U1", &tagged),
        labelled("wamid.U2", &unknown),
        labelled("wamid.U3", &tagged),
    ];
    let receipt = store.post_charges(account, &batch, at()).await.unwrap();
    assert_eq!(receipt.posted_count(), 3);

    let day = at().date();
    let rows = store.usage(account, Currency::Usd, day, day).await.unwrap();
    let read: Vec<(&Dimension, u64)> = rows
        .iter()
        .map(|row| (&row.key.dimension, row.messages))
        .collect();
    let expected = [
        Dimension::CategoryMarket {
            category: Category::AuthenticationInternational,
            market: jamaica,
        },
        Dimension::CategoryMarket {
            category: unknown.category.clone(),
            market: RecipientMarket::Unknown,
        },
        Dimension::Tag(UsageTag::parse("template:welcome_v2").unwrap()),
    ];
    assert_eq!(read, expected.iter().zip([2, 1, 2]).collect::<Vec<_>>());
    let day = day_text(day);
    let items = [
        (
            format!("USAGE#{day}#CM#authentication_international#JM"),
            ["category_market", "authentication_international", "JM"],
        ),
        (
            format!("USAGE#{day}#CM#marketing_plus#unknown"),
            ["category_market", "marketing_plus", "unknown"],
        ),
        (
            format!("USAGE#{day}#TAG#template:welcome_v2"),
            ["tag", "template:welcome_v2", ""],
        ),
    ];
    for (sk, texts) in items {
        assert_eq!(stored(&store, account, &sk).await, texts.map(str::to_owned));
    }
    assert_reconciled(&store, account).await;
}

pub async fn unreadable_usage_labels_are_refused_and_corrupt_items_named(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "usage-bad").await;
    let account = &wallet.account_id;
    store
        .post_entries(account, &[grant("ORDER-UB", "10")], at())
        .await
        .unwrap();
    let before = store.get_wallet(account).await.unwrap().unwrap();
    let mut metadata = Metadata::new();
    metadata.insert(META_CATEGORY, "utility").unwrap();
    metadata.insert(META_MARKET, "UK").unwrap();
    let good = UsageLabels {
        category: Category::Utility,
        market: RecipientMarket::Unknown,
        tag: None,
    };
    let batch = [
        labelled("wamid.B1", &good),
        charge_with("wamid.B2", metadata),
    ];
    match store.post_charges(account, &batch, at()).await {
        Err(StoreError::Labels(LabelError::Unreadable { field, .. })) => {
            assert_eq!(field, META_MARKET);
        }
        other => panic!("an unreadable market was not refused: {other:?}"),
    }
    let after = store.get_wallet(account).await.unwrap().unwrap();
    assert_eq!(
        (after.balance, after.entry_count),
        (before.balance, before.entry_count)
    );

    // A usage item whose market is no market (written by hand: nothing in the code writes one).
    let day = at().date();
    let text = |value: &str| AttributeValue::S(value.to_owned());
    let number = |value: &str| AttributeValue::N(value.to_owned());
    store
        .client()
        .put_item()
        .table_name(TEST_TABLE)
        .item("pk", text(&format!("ACCOUNT#{account}")))
        .item(
            "sk",
            text(&format!("USAGE#{}#CM#utility#XX", day_text(day))),
        )
        .item("type", text("usage"))
        .item("day", text(&day_text(day)))
        .item("dimension", text("category_market"))
        .item("d1", text("utility"))
        .item("d2", text("XX"))
        .item("messages", number("1"))
        .item("charged", number("1"))
        .item("conversations", number("0"))
        .item("cost", number("0.01"))
        .send()
        .await
        .unwrap();
    match store.usage(account, Currency::Usd, day, day).await {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.starts_with("usage d2: "), "{message}");
        }
        other => panic!("a stored market XX was read as {other:?}"),
    }
    assert_reconciled(&store, account).await;
}
