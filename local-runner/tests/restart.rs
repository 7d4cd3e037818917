//! The local runner as a newcomer uses it: start it on a free port with a fresh data dir, create a
//! wallet, grant credits, stop it with Ctrl-C, start it again, and find everything still there.

mod runner;

use runner::{Runner, free_port, token};
use serde_json::json;

#[test]
fn a_restart_loses_nothing() {
    let data_dir =
        std::env::temp_dir().join(format!("imcredits-local-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();

    let runner = Runner::start(port, &data_dir);
    let operator = token(&data_dir, &["--operator"]);
    let owner = token(&data_dir, &["--account", "acme"]);
    let (status, _) = runner.call(
        "POST",
        "/v1/operator/accounts/acme/wallet",
        &operator,
        Some(json!({"currency": "USD"})),
    );
    assert_eq!(status, 201);
    let grant = json!({"order_reference": "ZS-42", "credits": 5, "source": "store"});
    let (status, _) = runner.call(
        "POST",
        "/v1/operator/accounts/acme/grants",
        &operator,
        Some(grant.clone()),
    );
    assert_eq!(status, 201);
    let (_, wallet_before) = runner.call("GET", "/v1/wallet", &owner, None);
    let (_, statement_before) = runner.call("GET", "/v1/wallet/statement", &owner, None);
    assert_eq!(wallet_before["balance"]["amount"], "10.00");
    assert_eq!(
        statement_before["entries"].as_array().map(Vec::len),
        Some(1)
    );
    runner.interrupt();

    let runner = Runner::start(port, &data_dir);
    // Tokens minted before the restart still work: the secret lives in the data dir.
    let (status, wallet_after) = runner.call("GET", "/v1/wallet", &owner, None);
    assert_eq!(status, 200);
    assert_eq!(wallet_after, wallet_before);
    let (_, statement_after) = runner.call("GET", "/v1/wallet/statement", &owner, None);
    assert_eq!(statement_after, statement_before);
    // And the grant is still recognised: a replay after the restart credits nothing.
    let (status, _) = runner.call(
        "POST",
        "/v1/operator/accounts/acme/grants",
        &operator,
        Some(grant),
    );
    assert_eq!(status, 201);
    let (_, wallet_replayed) = runner.call("GET", "/v1/wallet", &owner, None);
    assert_eq!(wallet_replayed["balance"]["amount"], "10.00");
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}
