//! Log lines for operators, and metrics as CloudWatch embedded metric format (EMF).
//!
//! Every line is one JSON object carrying the function's name and version, whether the process
//! is on its cold start, and the request id of the invocation it belongs to, so a line found in
//! CloudWatch Logs says where it came from without any call site adding it. The request id comes
//! from the span `lambda_runtime` opens around each invocation; the cold-start flag is true for
//! init and the first invocation of a process, false afterwards.
//!
//! Events with the target [`METRICS_TARGET`] ([`crate::ports::metrics::count`]) become EMF lines
//! when a namespace is configured (CloudWatch Logs extracts the metric; no metric filter on
//! message text), and stay ordinary lines otherwise (the local runner). They are written whatever
//! the log level: an alarm must not go quiet because someone lowered the logging.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::ports::metrics::METRICS_TARGET;

/// The span `lambda_runtime` opens around each invocation, with its `requestId` field.
pub const INVOKE_SPAN: &str = "Lambda runtime invoke";
/// Fields kept per line: a runaway `Debug` field must not make a line CloudWatch splits (256 KiB).
const FIELD_LEN_MAX: usize = 8 * 1024;

/// What every line says about the process; read once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogContext {
    /// `AWS_LAMBDA_FUNCTION_NAME` (the binary's name elsewhere).
    pub function: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION` (`$LATEST` unless published).
    pub version: String,
    /// `METRICS_NAMESPACE`: metrics become EMF lines in it; `None` keeps them as plain lines.
    pub metrics_namespace: Option<String>,
    /// Lines above this level are not written (metrics are always written).
    pub level: Level,
}

/// Reads `LOG_LEVEL` (set from the template's `LogLevel`), else Lambda's `AWS_LAMBDA_LOG_LEVEL`,
/// else `RUST_LOG` when it is a bare level; `info` otherwise. Unknown values fall back to `info`.
pub fn level_from(lookup: impl Fn(&str) -> Option<String>) -> Level {
    ["LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(|name| lookup(name).and_then(|text| text.trim().parse::<Level>().ok()))
        .unwrap_or(Level::INFO)
}

/// The layer: JSON lines with the process context, and EMF for metric events.
pub struct OperatorLog<W> {
    context: LogContext,
    make_writer: W,
    /// Set by the first invocation span: later invocations are warm.
    invoked: AtomicBool,
}

/// Per-invocation facts, kept in the invoke span's extensions.
#[derive(Debug, Clone)]
struct Invocation {
    request_id: Option<String>,
    cold_start: bool,
}

impl<W> OperatorLog<W> {
    pub fn new(context: LogContext, make_writer: W) -> Self {
        Self {
            context,
            make_writer,
            invoked: AtomicBool::new(false),
        }
    }

    /// Whether this layer writes for `metadata`: metrics and the invoke span always, the rest by
    /// level.
    pub fn wants(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == METRICS_TARGET
            || (metadata.is_span() && metadata.name() == INVOKE_SPAN)
            || *metadata.level() <= self.context.level
    }

    fn line(&self, event: &Event<'_>, invocation: Option<&Invocation>) -> Map<String, Value> {
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let mut line = if metadata.target() == METRICS_TARGET {
            self.metric_line(fields.0)
        } else {
            let mut line = Map::new();
            line.insert("level".into(), metadata.level().as_str().into());
            line.insert("target".into(), metadata.target().into());
            line.extend(fields.0);
            line
        };
        line.insert("function".into(), self.context.function.clone().into());
        line.insert("version".into(), self.context.version.clone().into());
        let cold_start = invocation.is_none_or(|invocation| invocation.cold_start);
        line.insert("cold_start".into(), cold_start.into());
        if let Some(request_id) = invocation.and_then(|i| i.request_id.clone()) {
            line.insert("request_id".into(), request_id.into());
        }
        line
    }

    /// `{"_aws": {...}, "<Name>": value}`: one metric, no dimensions (the namespace names the
    /// stage), the unit a count.
    fn metric_line(&self, mut fields: Map<String, Value>) -> Map<String, Value> {
        let name = match fields.remove("metric") {
            Some(Value::String(name)) => name,
            _ => "Unnamed".to_owned(),
        };
        let value = fields.remove("value").unwrap_or(Value::from(0));
        let mut line = Map::new();
        if let Some(namespace) = &self.context.metrics_namespace {
            let timestamp_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis());
            line.insert(
                "_aws".into(),
                json!({
                    "Timestamp": u64::try_from(timestamp_ms).unwrap_or(u64::MAX),
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [[]],
                        "Metrics": [{"Name": name, "Unit": "Count"}],
                    }],
                }),
            );
            line.insert(name, value);
        } else {
            line.insert("level".into(), "INFO".into());
            line.insert("message".into(), "metric".into());
            line.insert("metric".into(), name.into());
            line.insert("value".into(), value);
        }
        line
    }
}

impl<S, W> Layer<S> for OperatorLog<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.wants(metadata)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != INVOKE_SPAN {
            return;
        }
        let mut fields = FieldMap::default();
        attrs.record(&mut fields);
        let invocation = Invocation {
            request_id: match fields.0.remove("requestId") {
                Some(Value::String(id)) => Some(id),
                _ => None,
            },
            cold_start: !self.invoked.swap(true, Ordering::Relaxed),
        };
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(invocation);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let invocation = ctx.event_scope(event).and_then(|scope| {
            scope
                .from_root()
                .find_map(|span| span.extensions().get::<Invocation>().cloned())
        });
        let line = self.line(event, invocation.as_ref());
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        // One write per line, so concurrent lines never interleave; a failed write to stdout
        // has nowhere to be reported.
        let _ = self.make_writer.make_writer().write_all(&bytes);
    }
}

/// An event's or span's fields as JSON values.
#[derive(Default)]
struct FieldMap(Map<String, Value>);

impl FieldMap {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for FieldMap {
    fn record_str(&mut self, field: &Field, value: &str) {
        let mut text = value.to_owned();
        truncate(&mut text);
        self.put(field, text.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        truncate(&mut text);
        self.put(field, text.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = format!("{value:?}");
        truncate(&mut text);
        self.put(field, text.into());
    }
}

fn truncate(text: &mut String) {
    if text.len() > FIELD_LEN_MAX {
        let mut end = FIELD_LEN_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

#[cfg(test)]
mod tests;
