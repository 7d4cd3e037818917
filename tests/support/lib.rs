//! Helpers for the integration tests: clients pointed at the emulators `scripts/test` starts,
//! fresh accounts, entry builders and the reconciliation every test ends with.
//!
//! There is no fallback: a test that needs DynamoDB Local and cannot reach it fails, never skips.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use imcredits::adapters::dynamodb::{DynamoStore, table};
use imcredits::adapters::dynoxide::InProcessHttp;
use imcredits::ids::AccountId;
use imcredits::ledger::{EntryId, EntryKind, LedgerEntry, Metadata, NewEntry, reconcile};
use imcredits::money::{Currency, Money};
use imcredits::ports::store::{StatementRead, StatementRequest, WalletCreate, WalletGet};
use imcredits::wallet::{NewWallet, Wallet};
use time::OffsetDateTime;

pub mod app;
pub mod capacity;
pub mod faults;
pub mod holds;
pub mod notices;
pub mod pipeline;
pub mod receiver;
pub mod recharge;
pub mod sqs;
pub mod stripe;

/// The table the store tests share; every test works on accounts of its own.
pub const TEST_TABLE: &str = "imcredits-tests";

/// The DynamoDB Local endpoint `scripts/test` exported.
pub fn dynamodb_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test, which starts \
             DynamoDB Local (these tests never run against real AWS or skip)"
        )
    })
}

/// A DynamoDB client for the engine at `endpoint`, with `configure` applied.
async fn client_for(
    endpoint: &str,
    configure: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
) -> Client {
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only talk to emulators on loopback, not {endpoint}"
    );
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let config = configure(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "imcredits-tests",
            )),
    );
    Client::from_conf(config.build())
}

/// A store on DynamoDB Local's shared test table (created on first use).
pub async fn dynamo_store() -> DynamoStore {
    Backend::dynamodb_local().store().await
}

/// A DynamoDB-compatible engine the store contract runs on.
pub struct Backend {
    endpoint: String,
    /// dynoxide in this process, reached as the local runner reaches it (no port).
    in_process: Option<dynoxide::Database>,
}

impl Backend {
    /// DynamoDB Local, started by `scripts/test`.
    pub fn dynamodb_local() -> Self {
        Self {
            endpoint: dynamodb_endpoint(),
            in_process: None,
        }
    }

    /// dynoxide, in memory, reached in process by the same transport as the local runner's.
    pub async fn dynoxide() -> Self {
        let database = dynoxide::Database::memory().expect("an in-memory dynoxide database");
        Self {
            endpoint: String::new(),
            in_process: Some(database),
        }
    }

    pub async fn store(&self) -> DynamoStore {
        self.store_with(|config| config).await
    }

    /// A store whose client gets `configure` (e.g. a fault interceptor), on the shared test table.
    pub async fn store_with(
        &self,
        configure: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
    ) -> DynamoStore {
        self.store_on(TEST_TABLE, configure).await
    }

    /// A store on a table of its own (created now), for a test of what a whole partition holds
    /// that other tests write too (the rate books, tiers files and market lists).
    pub async fn store_on_own_table(&self, prefix: &str) -> DynamoStore {
        self.store_on(&unique_account(prefix).to_string(), |config| config)
            .await
    }

    async fn store_on(
        &self,
        table: &str,
        configure: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
    ) -> DynamoStore {
        let client = match &self.in_process {
            Some(database) => {
                Client::from_conf(configure(InProcessHttp::config(database.clone())).build())
            }
            None => client_for(&self.endpoint, configure).await,
        };
        table::ensure_table(&client, table)
            .await
            .expect("the engine accepts the table definition");
        DynamoStore::new(client, table)
    }
}

/// A store on a table of its own in DynamoDB Local (created now), for a test that counts what a
/// whole table holds.
pub async fn dynamo_store_on_own_table(prefix: &str) -> DynamoStore {
    Backend::dynamodb_local().store_on_own_table(prefix).await
}

/// An account id no other test (or earlier run against the same emulator) uses.
pub fn unique_account(prefix: &str) -> AccountId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    AccountId::parse(&format!("{prefix}-{}-{nanos}-{count}", std::process::id()))
        .expect("prefixes are short and plain")
}

pub fn usd(amount: &str) -> Money {
    Money::parse(amount, Currency::Usd).expect("test amounts are valid")
}

pub fn at() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_763_700_000).expect("a fixed test time")
}

pub async fn new_wallet(store: &DynamoStore, prefix: &str) -> Wallet {
    let account = unique_account(prefix);
    store
        .create_wallet(&NewWallet::new(account, Currency::Usd), at())
        .await
        .expect("a new account's wallet is created")
}

pub fn charge(wamid: &str, amount: &str) -> NewEntry {
    NewEntry::new(
        EntryId::message_charge(wamid).expect("test wamids are valid"),
        EntryKind::Charge,
        usd(amount),
        "test charge",
        Metadata::new(),
        at(),
    )
    .expect("a negative charge is valid")
}

pub fn grant(order_reference: &str, amount: &str) -> NewEntry {
    NewEntry::new(
        EntryId::grant(order_reference).expect("test references are valid"),
        EntryKind::Grant,
        usd(amount),
        "test grant",
        Metadata::new(),
        at(),
    )
    .expect("a positive grant is valid")
}

/// The whole statement, newest first, paged `page_limit` at a time (bounded by the wallet's count).
pub async fn whole_statement(
    store: &DynamoStore,
    account: &AccountId,
    page_limit: u32,
) -> Vec<LedgerEntry> {
    let wallet = store
        .get_wallet(account)
        .await
        .expect("the store answers")
        .expect("the wallet exists");
    let pages_max = wallet.entry_count / u64::from(page_limit) + 2;
    let mut entries = Vec::new();
    let mut cursor = None;
    for _ in 0..pages_max {
        let page = store
            .statement_page(account, &StatementRequest::new(page_limit, cursor))
            .await
            .expect("the statement reads");
        assert!(page.entries.len() <= page_limit as usize);
        entries.extend(page.entries);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return entries;
        }
    }
    panic!("statement of {account} did not end within {pages_max} pages");
}

/// The check every test ends with: the wallet's entries add up to its balance, each with the right
/// running balance, numbered without gaps.
pub async fn assert_reconciled(store: &DynamoStore, account: &AccountId) -> Wallet {
    let wallet = store
        .get_wallet(account)
        .await
        .expect("the store answers")
        .expect("the wallet exists");
    let entries = whole_statement(store, account, 100).await;
    if let Err(error) = reconcile(&wallet, &entries) {
        panic!("wallet {account} does not reconcile: {error}");
    }
    assert_eq!(wallet.can_send(), wallet.available().is_positive());
    holds::assert_holds_add_up(store, &wallet).await;
    wallet
}
