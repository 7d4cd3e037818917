use std::sync::{Arc, Mutex};

use tracing::{Level, debug, info, info_span, warn};
use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::ports::metrics::{Metric, count};

/// Lines written by `body` under an [`OperatorLog`] with `context`, parsed.
fn lines_of(context: LogContext, body: impl FnOnce()) -> Vec<Map<String, Value>> {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = buffer.clone();
    let make_writer = move || Sink(sink.clone());
    let subscriber = tracing_subscriber::registry().with(OperatorLog::new(context, make_writer));
    tracing::subscriber::with_default(subscriber, body);
    let bytes = buffer.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is one JSON object"))
        .collect()
}

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

fn context(level: Level, namespace: Option<&str>) -> LogContext {
    LogContext {
        function: "imcredits-dev-billing".into(),
        version: "7".into(),
        metrics_namespace: namespace.map(str::to_owned),
        level,
    }
}

#[test]
fn every_line_names_the_function_version_cold_start_and_request() {
    let lines = lines_of(context(Level::INFO, None), || {
        info!("configured");
        let first = info_span!(INVOKE_SPAN, requestId = "req-1");
        first.in_scope(|| {
            // Nested spans (axum's, the handler's) still belong to the invocation.
            info_span!("inner").in_scope(|| warn!(posted = 3, "billing batch done"));
        });
        let second = info_span!(INVOKE_SPAN, requestId = "req-2");
        second.in_scope(|| info!("second"));
        debug!("below the level");
    });
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        assert_eq!(line["function"], "imcredits-dev-billing");
        assert_eq!(line["version"], "7");
    }
    assert_eq!(lines[0]["cold_start"], true);
    assert!(!lines[0].contains_key("request_id"), "init has no request");
    assert_eq!(lines[1]["request_id"], "req-1");
    assert_eq!(lines[1]["cold_start"], true);
    assert_eq!(lines[1]["level"], "WARN");
    assert_eq!(lines[1]["message"], "billing batch done");
    assert_eq!(lines[1]["posted"], 3);
    assert_eq!(lines[2]["request_id"], "req-2");
    assert_eq!(lines[2]["cold_start"], false);
}

#[test]
fn metrics_are_emf_documents_whatever_the_log_level() {
    let lines = lines_of(context(Level::ERROR, Some("imcredits/dev")), || {
        info_span!(INVOKE_SPAN, requestId = "req-9").in_scope(|| {
            info!("not written at error level");
            count(Metric::ChargesPosted, 12);
            count(Metric::Replays, 0);
        });
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "imcredits/dev");
    assert_eq!(directive["Dimensions"], json!([[]]));
    assert_eq!(directive["Metrics"][0]["Name"], "ChargesPosted");
    assert_eq!(directive["Metrics"][0]["Unit"], "Count");
    assert!(line["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(line["ChargesPosted"], 12);
    assert_eq!(line["request_id"], "req-9");
}

#[test]
fn without_a_namespace_metrics_are_plain_lines() {
    let lines = lines_of(context(Level::INFO, None), || {
        count(Metric::Recharges, 1);
    });
    assert_eq!(lines.len(), 1);
    assert!(!lines[0].contains_key("_aws"));
    assert_eq!(lines[0]["metric"], "Recharges");
    assert_eq!(lines[0]["value"], 1);
}

#[test]
fn the_level_comes_from_configuration() {
    let only = |name: &'static str, value: &'static str| {
        move |asked: &str| (asked == name).then(|| value.to_owned())
    };
    assert_eq!(level_from(|_| None), Level::INFO);
    assert_eq!(level_from(only("LOG_LEVEL", "debug")), Level::DEBUG);
    assert_eq!(
        level_from(only("AWS_LAMBDA_LOG_LEVEL", "WARN")),
        Level::WARN
    );
    assert_eq!(level_from(only("RUST_LOG", "error")), Level::ERROR);
    assert_eq!(level_from(only("RUST_LOG", "imcredits=debug")), Level::INFO);
    assert_eq!(level_from(only("LOG_LEVEL", "loud")), Level::INFO);
}

#[test]
fn long_fields_are_cut_on_a_character_boundary() {
    let long = "é".repeat(FIELD_LEN_MAX);
    let lines = lines_of(context(Level::INFO, None), || {
        info!(detail = long.as_str(), "x")
    });
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(detail.len() <= FIELD_LEN_MAX + '…'.len_utf8());
    assert!(detail.ends_with('…'));
}
