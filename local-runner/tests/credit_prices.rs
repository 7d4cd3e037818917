//! The runner prices credits from the same configuration as the functions (`CREDIT_UNIT_PRICES`,
//! `CREDIT_FEE_RATE`, `CREDITS_PER_PURCHASE_MAX`), read by the same code, and refuses to start on a
//! bad value instead of falling back to the defaults.

mod runner;

use std::process::{Command, Stdio};

use runner::{RUNNER, Runner, free_port, token};
use serde_json::json;

fn data_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "imcredits-local-credits-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn configured_credit_prices_reach_the_runners_quotes() {
    let dir = data_dir("quote");
    let port = free_port();
    let runner = Runner::start_with_env(
        port,
        &dir,
        &[
            ("CREDIT_UNIT_PRICES", "USD=1.50,CLP=1900"),
            ("CREDIT_FEE_RATE", "0.05"),
        ],
    );
    let operator = token(&dir, &["--operator"]);
    for (account, currency) in [
        ("usd-buyer", "USD"),
        ("clp-buyer", "CLP"),
        ("eur-buyer", "EUR"),
    ] {
        let (status, _) = runner.call(
            "POST",
            &format!("/v1/operator/accounts/{account}/wallet"),
            &operator,
            Some(json!({"currency": currency})),
        );
        assert_eq!(status, 201, "{currency}");
    }
    let quote = |account: &str| {
        let owner = token(&dir, &["--account", account]);
        runner.call(
            "POST",
            "/v1/wallet/quotes",
            &owner,
            Some(json!({"credits": 3})),
        )
    };
    // 3 × 1.50 = 4.50, fee 5% = 0.225 → 0.23 (half away from zero), total 4.73.
    let (status, usd) = quote("usd-buyer");
    assert_eq!(status, 200, "{usd}");
    assert_eq!(usd["total"]["amount"], "4.73", "{usd}");
    // CLP has no minor unit: 3 × 1900 = 5700, fee 285, total 5985.
    let (status, clp) = quote("clp-buyer");
    assert_eq!(status, 200, "{clp}");
    assert_eq!(clp["total"]["amount"], "5985", "{clp}");
    // EUR is not in the configured list: refused, not priced at the built-in default.
    let (status, eur) = quote("eur-buyer");
    assert_eq!(status, 409, "{eur}");
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_credit_price_stops_the_runner_at_start() {
    let dir = data_dir("bad");
    let output = Command::new(RUNNER)
        .args(["--port", &free_port().to_string(), "--data-dir"])
        .arg(&dir)
        .env("CREDIT_UNIT_PRICES", "USD=0.015")
        .stdout(Stdio::null())
        .output()
        .expect("the runner runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CREDIT_UNIT_PRICES"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
