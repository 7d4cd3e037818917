//! Notifications on the real runner binary ride the durable queue: a `balance.low` whose first
//! signed delivery fails is retried after a delay that is kept on disk, so killing the runner
//! (SIGKILL, no cleanup) during the wait loses nothing; the restarted runner delivers it.

mod runner;

use std::time::{Duration, Instant};

use imcredits_tests::receiver::Receiver;
use runner::{PHONE, Runner, data_dir, free_port, meta_body, status, token};
use serde_json::{Value, json};

const HOOK: &str = "/low";

/// Account `beta` with a 1.995 threshold and one credit (2.00), [`PHONE`] routed to it, the flat
/// 0.0125 USD card, and an endpoint for `balance.low` at `url`. Answers the endpoint's secret.
fn beta_with_endpoint(runner: &Runner, url: &str) -> String {
    let operator = token(&runner.data_dir, &["--operator"]);
    let card = include_str!("../../shared/rate-cards/zoho-flat-usd.json");
    let steps: [(&str, String, Value); 3] = [
        (
            "/v1/operator/accounts/beta/wallet".into(),
            json!({"currency": "USD", "low_balance_threshold": "1.995"}),
        ),
        (
            "/v1/operator/accounts/beta/grants".into(),
            json!({"order_reference": "ZS-N1", "credits": 1, "source": "store"}),
        ),
        (
            "/v1/operator/rate-cards".into(),
            serde_json::from_str(card).unwrap(),
        ),
    ]
    .map(|(path, body): (String, Value)| ("POST", path, body));
    for (method, path, body) in steps {
        let (status, answer) = runner.call(method, &path, &operator, Some(body));
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
    }
    let route = format!("/v1/operator/accounts/beta/phone-numbers/{PHONE}");
    let (status, answer) = runner.call("PUT", &route, &operator, None);
    assert!((200..300).contains(&status), "{route}: {status} {answer}");
    let owner = token(&runner.data_dir, &["--account", "beta"]);
    let (status, endpoint) = runner.call(
        "POST",
        "/v1/wallet/webhook-endpoints",
        &owner,
        Some(json!({"url": url, "event_types": ["balance.low"]})),
    );
    assert_eq!(status, 201, "{endpoint}");
    endpoint["secret"]
        .as_str()
        .expect("the secret is shown once")
        .to_owned()
}

/// What the receiver logged for [`HOOK`] once `done` holds, or at the bound.
async fn received_when(
    receiver: &Receiver,
    bound: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + bound;
    loop {
        let log = receiver.received(HOOK).await;
        if done(&log) || Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notice_retry_waiting_on_disk_survives_a_kill() {
    let receiver = Receiver::start();
    let data_dir = data_dir("notices");
    let schedule = ["--webhook-schedule", "short"];
    let runner = Runner::start_with(free_port(), &data_dir, &schedule);
    let secret = beta_with_endpoint(&runner, &receiver.url(HOOK));
    receiver
        .route(
            HOOK,
            &[&secret],
            json!({"fail_first": 1, "fail_status": 500}),
        )
        .await;
    // 2.00 - 0.0125 = 1.9875, below the 1.995 threshold: one balance.low.
    let body = meta_body(PHONE, vec![status("wamid.notice.low")]);
    assert_eq!(runner.post_webhook(&body), Some(200));

    let first = received_when(&receiver, Duration::from_secs(30), |log| !log.is_empty()).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["status"], 500, "the first attempt is refused");
    // The retry is due 1 s later; the runner dies before it, with no chance to clean up.
    runner.kill();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        receiver.received(HOOK).await.len(),
        1,
        "nothing is sent while the runner is down"
    );

    let runner = Runner::start_with(free_port(), &data_dir, &schedule);
    // If the kill came between the attempt and its record, the retry waits for the dead claim's
    // lease (the short schedule's 5 s timeout and 5 s margin) to lapse.
    let log = received_when(&receiver, Duration::from_secs(60), |log| {
        log.iter().any(|entry| entry["status"] == 200)
    })
    .await;
    let delivered: Vec<&Value> = log.iter().filter(|e| e["status"] == 200).collect();
    assert_eq!(delivered.len(), 1, "{log:?}");
    assert_eq!(delivered[0]["verified"], json!([true]), "signed: {log:?}");
    assert_eq!(
        delivered[0]["webhook_id"], first[0]["webhook_id"],
        "the same event, retried"
    );
    let event = &delivered[0]["body"];
    assert_eq!(event["type"], "balance.low", "{event}");
    // Delivered once: nothing more arrives.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = receiver.received(HOOK).await;
    assert_eq!(
        after.iter().filter(|e| e["status"] == 200).count(),
        1,
        "{after:?}"
    );
    runner.interrupt();
}
