//! The metrics operators alarm on, as CloudWatch reads them: EMF lines written by the functions'
//! logging layer while the webhook and billing handle real traffic (moto SQS, DynamoDB Local).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use imcredits::adapters::logging::{LogContext, OperatorLog};
use imcredits::ports::metrics::Metric;
use imcredits_tests::pipeline::{Pipeline, meta_body, pmp, status};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sums of each metric in the EMF lines of `bytes` (other lines are ignored).
fn metric_sums(bytes: &[u8]) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    for line in String::from_utf8_lossy(bytes).lines() {
        let line: Value = serde_json::from_str(line).expect("JSON lines");
        let Some(directive) = line["_aws"]["CloudWatchMetrics"].get(0) else {
            continue;
        };
        assert_eq!(directive["Namespace"], "imcredits/test");
        let name = directive["Metrics"][0]["Name"].as_str().unwrap().to_owned();
        *sums.entry(name.clone()).or_default() += line[&name].as_u64().unwrap();
    }
    sums
}

#[tokio::test]
async fn the_webhook_and_billing_count_deliveries_charges_replays_and_reviews() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let context = LogContext {
        function: "metrics-test".into(),
        version: "1".into(),
        metrics_namespace: Some("imcredits/test".into()),
        // Metrics are written even when logs are reduced to errors.
        level: tracing::Level::ERROR,
    };
    let subscriber =
        tracing_subscriber::registry().with(OperatorLog::new(context, move || Sink(sink.clone())));
    // A current-thread test runtime: everything below runs on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let pipeline = Pipeline::spawn().await;
    let (_, phone) = pipeline.wallet("metrics", "1").await;
    let charged = meta_body(
        &phone,
        vec![status(
            "wamid.METRIC1",
            "delivered",
            pmp("regular", "marketing"),
        )],
    );
    // Pricing without a pricing model: no rule fits, the record needs review.
    let unclear = meta_body(
        &phone,
        vec![status(
            "wamid.METRIC2",
            "delivered",
            json!({"billable": true, "type": "regular", "category": "marketing"}),
        )],
    );
    for body in [charged.clone(), charged, unclear] {
        assert_eq!(pipeline.post(body).await, StatusCode::OK);
    }
    let outcome = pipeline.bill_all().await;
    assert_eq!((outcome.posted, outcome.replayed), (1, 1));

    let sums = metric_sums(&buffer.lock().unwrap());
    assert_eq!(sums.get(Metric::Deliveries.name()), Some(&3), "{sums:?}");
    assert_eq!(sums.get(Metric::ChargesPosted.name()), Some(&1), "{sums:?}");
    assert_eq!(sums.get(Metric::Replays.name()), Some(&1), "{sums:?}");
    // Once per delivery of the unclear record before it is dead-lettered.
    assert!(sums.get(Metric::NeedsReview.name()) >= Some(&1), "{sums:?}");
}
