//! The dashboard on the runner: a wallet for the demo account (made on the first start, USD, kept
//! after), and a URL that opens the page signed in as it. The token rides in the URL fragment, which
//! the browser never sends to a server; the page moves it into the tab's sessionStorage.

use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::api::auth::{AuthConfig, LocalJwtKey};
use imcredits::ids::AccountId;
use imcredits::money::Currency;
use imcredits::ports::clock::{Clock, SystemClock};
use imcredits::ports::store::{StoreError, WalletCreate};
use imcredits::wallet::NewWallet;

/// The account the printed URL signs in as: not `acme`, which the README's walk-through and the
/// tests create themselves.
pub const DEMO_ACCOUNT: &str = "demo";

/// Creates the demo wallet unless it exists; answers the dashboard URL with a fresh token for it.
pub async fn demo_url(
    store: &DynamoStore,
    key: &LocalJwtKey,
    base_url: &str,
    hours: i64,
) -> anyhow::Result<String> {
    let account = AccountId::parse(DEMO_ACCOUNT)?;
    let now = SystemClock.now();
    match store
        .create_wallet(&NewWallet::new(account.clone(), Currency::Usd), now)
        .await
    {
        Ok(_) | Err(StoreError::WalletExists(_)) => {}
        Err(error) => return Err(error.into()),
    }
    let config = AuthConfig::local(key.clone());
    let token = key.mint(
        &config,
        Some(&account),
        false,
        now,
        time::Duration::hours(hours),
    )?;
    Ok(format!("{base_url}/#token={token}"))
}
