//! The purchase flow on the local runner, as the README walks through it: start the runner with
//! its fake payment provider, buy credits, open the checkout URL, press "Pay" (which sends signed
//! Stripe-shaped events to the runner's own webhook), and find the credits, the payment history and
//! a card that enables auto-recharge. "Decline" fails a second purchase. After the runner stops,
//! its data file is opened and the wallet reconciled.

mod runner;

use std::path::Path;
use std::time::Duration;

use runner::{Runner, data_dir, free_port, stopped_store, token};
use serde_json::{Value, json};

/// The wallet in the stopped runner's data file, reconciled against its ledger.
async fn reconciled_after_stop(data_dir: &Path, account: &str) -> imcredits::wallet::Wallet {
    let account = imcredits::ids::AccountId::parse(account).expect("an account id");
    imcredits_tests::assert_reconciled(&stopped_store(data_dir), &account).await
}

/// The tokens of the operator and of `acme`, whose USD wallet the operator has created.
fn acme_wallet(runner: &Runner) -> (String, String) {
    let operator = token(&runner.data_dir, &["--operator"]);
    let owner = token(&runner.data_dir, &["--account", "acme"]);
    let (status, _) = runner.json(
        "POST",
        "/v1/operator/accounts/acme/wallet",
        &operator,
        &[],
        Some(json!({"currency": "USD"})),
    );
    assert_eq!(status, 201);
    (operator, owner)
}

/// A purchase of `credits` under `key`, and the path of its checkout page on the runner.
fn buy(runner: &Runner, owner: &str, key: &str, credits: u64) -> (Value, String) {
    let (status, purchase) = runner.json(
        "POST",
        "/v1/wallet/purchases",
        owner,
        &[("Idempotency-Key", key)],
        Some(json!({ "credits": credits })),
    );
    assert_eq!(status, 201, "{purchase}");
    let prefix = format!("http://127.0.0.1:{}", runner.port);
    let page_path = purchase["checkout_url"]
        .as_str()
        .and_then(|url| url.strip_prefix(&prefix))
        .expect("a page on the runner")
        .to_owned();
    (purchase, page_path)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purchase_is_paid_and_declined_on_the_fake_checkout() {
    let data_dir = data_dir("pay");
    let port = free_port();
    let runner = Runner::start_with(port, &data_dir, &["--payments", "fake"]);
    // The fake mode is announced.
    runner.wait_for_line(
        "payments: FAKE (no card is charged",
        Duration::from_secs(10),
    );
    let (_, owner) = acme_wallet(&runner);

    let enable = json!({"enabled": true, "minimum_balance": "5.00", "credits": 10});
    let (status, refused) = runner.json(
        "PUT",
        "/v1/wallet/auto-recharge",
        &owner,
        &[],
        Some(enable.clone()),
    );
    assert_eq!(status, 409, "{refused}");

    let (purchase, page_path) = buy(&runner, &owner, "laptop-1", 3);
    assert_eq!(purchase["quote"]["total"]["display"], "6.18");
    assert!(
        page_path.starts_with("/local/fake-checkout/acme/"),
        "{purchase}"
    );

    let (status, page) = runner.send("GET", &page_path, &[], "");
    assert_eq!(status, 200);
    assert!(page.contains("FAKE PAYMENTS"), "{page}");
    assert!(page.contains("6.18") && page.contains(">Pay<") && page.contains(">Decline<"));

    let (status, paid) = runner.send("POST", &format!("{page_path}/pay"), &[], "");
    assert_eq!(status, 200, "{paid}");
    assert!(paid.contains("<code>credited</code>"), "{paid}");
    assert!(paid.contains("<code>payment_method_saved</code>"), "{paid}");
    let (_, wallet) = runner.json("GET", "/v1/wallet", &owner, &[], None);
    assert_eq!(wallet["balance"]["amount"], "6.00");
    // Pressing Pay again is a repeated delivery: nothing more is credited.
    let (_, again) = runner.send("POST", &format!("{page_path}/pay"), &[], "");
    assert!(again.contains("<code>already_credited</code>"), "{again}");
    let (status, _) = runner.json("PUT", "/v1/wallet/auto-recharge", &owner, &[], Some(enable));
    assert_eq!(status, 200);

    let (_, declined_path) = buy(&runner, &owner, "laptop-2", 10);
    let (status, declined) = runner.send("POST", &format!("{declined_path}/decline"), &[], "");
    assert_eq!(status, 200);
    assert!(
        declined.contains("<code>marked_failed</code>"),
        "{declined}"
    );

    let (status, history) = runner.json("GET", "/v1/wallet/purchases", &owner, &[], None);
    assert_eq!(status, 200);
    let statuses: Vec<&str> = history["purchases"]
        .as_array()
        .expect("purchases")
        .iter()
        .map(|purchase| purchase["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["failed", "paid"]);
    let (_, wallet) = runner.json("GET", "/v1/wallet", &owner, &[], None);
    assert_eq!(wallet["balance"]["amount"], "6.00");
    runner.interrupt();

    let wallet = reconciled_after_stop(&data_dir, "acme").await;
    assert_eq!(wallet.balance.amount().to_string(), "6.00");
    assert_eq!(wallet.entry_count, 1);
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// The auto-recharge loop on the laptop: a wallet below its minimum is recharged once by the sweep
/// tick (visible in the statement and the printed notifications), and a declined fake charge is
/// reported and credits nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_below_its_minimum_is_recharged_once_on_the_runner() {
    let data_dir = data_dir("recharge");
    let port = free_port();
    let runner = Runner::start_with(
        port,
        &data_dir,
        &["--payments", "fake", "--recharge-tick-seconds", "1"],
    );
    let (_, owner) = acme_wallet(&runner);
    let (_, page_path) = buy(&runner, &owner, "laptop-1", 3);
    let (status, _) = runner.send("POST", &format!("{page_path}/pay"), &[], "");
    assert_eq!(status, 200);

    // 6.00 is below a minimum of 10.00: the next tick buys 10 credits (20.00), once.
    let (status, _) = runner.json(
        "PUT",
        "/v1/wallet/auto-recharge",
        &owner,
        &[],
        Some(json!({"enabled": true, "minimum_balance": "10.00", "credits": 10})),
    );
    assert_eq!(status, 200);
    let notice = runner.wait_for_line("recharge.succeeded", Duration::from_secs(30));
    assert!(notice.contains("\"account_id\":\"acme\""), "{notice}");
    std::thread::sleep(Duration::from_secs(3));
    let (_, wallet) = runner.json("GET", "/v1/wallet", &owner, &[], None);
    assert_eq!(wallet["balance"]["amount"], "26.00", "{wallet}");
    let (_, statement) = runner.json("GET", "/v1/wallet/statement?limit=10", &owner, &[], None);
    let kinds: Vec<&str> = statement["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["auto_recharge", "purchase"], "{statement}");
    let (_, history) = runner.json("GET", "/v1/wallet/purchases", &owner, &[], None);
    let totals: Vec<(&str, &str)> = history["purchases"]
        .as_array()
        .expect("purchases")
        .iter()
        .map(|purchase| {
            (
                purchase["status"].as_str().unwrap_or(""),
                purchase["quote"]["total"]["display"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(totals, [("paid", "20.60"), ("paid", "6.18")], "{history}");

    // The next fake charge is declined: reported, nothing credited.
    let (status, queued) = runner.send("POST", "/local/fake-payments/decline-next", &[], "");
    assert_eq!(status, 200, "{queued}");
    let (status, _) = runner.json(
        "PUT",
        "/v1/wallet/auto-recharge",
        &owner,
        &[],
        Some(json!({"enabled": true, "minimum_balance": "30.00", "credits": 10})),
    );
    assert_eq!(status, 200);
    let failed = runner.wait_for_line("recharge.failed", Duration::from_secs(30));
    assert!(failed.contains("insufficient_funds"), "{failed}");
    let (_, wallet) = runner.json("GET", "/v1/wallet", &owner, &[], None);
    assert_eq!(wallet["balance"]["amount"], "26.00");
    runner.interrupt();

    let wallet = reconciled_after_stop(&data_dir, "acme").await;
    assert_eq!(wallet.entry_count, 2);
    let _ = std::fs::remove_dir_all(&data_dir);
}
