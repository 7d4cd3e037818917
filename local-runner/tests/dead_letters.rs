//! The runner says what it skipped and keeps it: every status that may be billable but could not
//! be read is logged and a dead letter with its reason; a record billing cannot handle is dead-
//! lettered after 5 deliveries, listed by the command and the operator route, and redriven; and a
//! full billing queue answers 503 instead of growing.

mod runner;

use std::time::{Duration, Instant};

use runner::{PHONE, Runner, balance_when, data_dir, dead_letters, free_port, meta_body, status};
use serde_json::{Value, json};

fn priced(id: &str, timestamp: &str) -> Value {
    let mut status = status(id);
    status["timestamp"] = json!(timestamp);
    status
}

#[test]
fn skipped_billable_items_are_logged_and_dead_lettered_with_their_reason() {
    let data_dir = data_dir("skipped");
    let runner = Runner::start_with(free_port(), &data_dir, &["--log-json"]);
    let (operator, owner) = runner::wallet_with_card(&runner, 5);
    let long_wamid = format!("wamid.{}", "x".repeat(10_000));
    let body = meta_body(
        PHONE,
        vec![
            status("wamid.skip.ok"),
            priced("wamid.skip.past", "-100"),
            priced("wamid.skip.far", "1e20"),
            status(&long_wamid),
        ],
    );
    assert_eq!(runner.post_webhook(&body), Some(200));
    assert_eq!(
        balance_when(&runner, &owner, "9.9875", Duration::from_secs(30)),
        "9.9875"
    );

    // Logged, as the functions' JSON lines with --log-json (in AWS the same event also counts
    // the PossiblyBillableSkipped metric its alarm watches).
    let lines = runner.logged("webhook skipped items that may be billable");
    assert_eq!(lines.len(), 1, "{:?}", runner.logs.lock().unwrap());
    let line: Value = serde_json::from_str(&lines[0]).expect("a JSON log line");
    assert_eq!(line["level"], "ERROR");
    let metric = runner.logged(r#""metric":"PossiblyBillableSkipped""#);
    assert_eq!(metric.len(), 1, "{:?}", runner.logs.lock().unwrap());

    // And kept: one dead letter each, with the reason and the item as sent.
    let letters = dead_letters(&data_dir, &["list", "--queue", "billing"]);
    assert_eq!(letters.len(), 3, "{letters:?}");
    let reasons: Vec<&str> = letters
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("skipped by the webhook, may be billable: "))
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("status.timestamp"))
            .count(),
        2,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("status.id")),
        "{reasons:?}"
    );
    let bodies: Vec<Value> = letters
        .iter()
        .map(|l| serde_json::from_str(l["body"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies[0]["item"]["id"], "wamid.skip.past");
    assert!(letters.iter().all(|l| l["redrivable"] == false));

    // The operator route lists the same; an account token may not.
    let (status_code, page) = runner.call(
        "GET",
        "/local/operator/dead-letters?queue=billing",
        &operator,
        None,
    );
    assert_eq!(status_code, 200);
    assert_eq!(page["dead_letters"].as_array().map(Vec::len), Some(3));
    let (status_code, _) = runner.call("GET", "/local/operator/dead-letters", &owner, None);
    assert_eq!(status_code, 403);
    let (status_code, refused) = runner.call(
        "GET",
        "/local/operator/dead-letters?queue=nope",
        &operator,
        None,
    );
    assert_eq!(status_code, 422);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("queue")
    );
    // They outlive the process: a killed runner's restart lists the same letters.
    let port = runner.port;
    runner.kill();
    let runner = Runner::start(port, &data_dir);
    let (status_code, page) = runner.call(
        "GET",
        "/local/operator/dead-letters?queue=billing",
        &operator,
        None,
    );
    assert_eq!(status_code, 200);
    let kept: Vec<(Value, Value)> = page["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].clone(), l["reason"].clone()))
        .collect();
    let listed: Vec<(Value, Value)> = letters
        .iter()
        .map(|l| (l["id"].clone(), l["reason"].clone()))
        .collect();
    assert_eq!(kept, listed, "{page}");
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn a_record_billing_cannot_handle_is_dead_lettered_then_redriven_once_fixed() {
    let data_dir = data_dir("redrive");
    let runner = Runner::start(free_port(), &data_dir);
    let (operator, owner) = runner::wallet_with_card(&runner, 5);
    // A number no wallet is routed to yet: billing fails the record, 5 deliveries, then a letter.
    let unrouted = "222222222222222";
    assert_eq!(
        runner.post_webhook(&meta_body(unrouted, vec![status("wamid.later.1")])),
        Some(200)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let letter = loop {
        let letters = dead_letters(&data_dir, &["list"]);
        if let Some(letter) = letters.into_iter().next() {
            break letter;
        }
        assert!(Instant::now() < deadline, "no dead letter");
        std::thread::sleep(Duration::from_millis(200));
    };
    // The reason names what billing could not do, not only that it failed.
    assert_eq!(
        letter["reason"],
        "not handled after 5 deliveries; last error: no wallet for phone number 222222222222222"
    );
    assert_eq!(letter["redrivable"], true);
    // Fixed: the number is routed; the operator route redrives it and billing charges it.
    let (status_code, _) = runner.call(
        "PUT",
        &format!("/v1/operator/accounts/acme/phone-numbers/{unrouted}"),
        &operator,
        None,
    );
    assert_eq!(status_code, 200);
    let (status_code, refused) = runner.call(
        "POST",
        "/local/operator/dead-letters/redrive",
        &operator,
        Some(json!({"ids": [1], "all": true})),
    );
    assert_eq!(status_code, 422, "{refused}");
    let (status_code, outcome) = runner.call(
        "POST",
        "/local/operator/dead-letters/redrive",
        &operator,
        Some(json!({"ids": [letter["id"]]})),
    );
    assert_eq!(status_code, 200, "{outcome}");
    assert_eq!(outcome["redriven"], json!([letter["id"]]));
    assert_eq!(
        balance_when(&runner, &owner, "9.9875", Duration::from_secs(30)),
        "9.9875"
    );
    assert!(dead_letters(&data_dir, &["list"]).is_empty());
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn past_the_billing_queues_bound_the_webhook_answers_503_and_takes_nothing() {
    let data_dir = data_dir("bound");
    let runner = Runner::start_with(
        free_port(),
        &data_dir,
        &["--billing-queue-messages-max", "2"],
    );
    runner::wallet_with_card(&runner, 5);
    // Records for an unrouted number stay on the queue (released, retried) for ~2.5 s each.
    let unrouted = "333333333333333";
    let answers: Vec<Option<u16>> = (0..4)
        .map(|i| {
            runner.post_webhook(&meta_body(
                unrouted,
                vec![status(&format!("wamid.full.{i}"))],
            ))
        })
        .collect();
    assert_eq!(answers[..2], [Some(200), Some(200)]);
    assert!(answers[2..].contains(&Some(503)), "{answers:?}");
    // Once billing has dead-lettered them, there is room again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while runner.post_webhook(&meta_body(unrouted, vec![status("wamid.full.later")])) != Some(200) {
        assert!(Instant::now() < deadline, "the queue never had room again");
        std::thread::sleep(Duration::from_millis(500));
    }
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}
