//! Business metrics operators alarm on: charges posted, replays, items that need review,
//! recharges, deliveries, and the few conditions that need a person.
//!
//! A count is a `tracing` event with the target [`METRICS_TARGET`], so a handler records one in a
//! line and needs no extra field or constructor argument. The subscriber built at cold start
//! ([`crate::adapters::logging`]) writes it as a CloudWatch embedded-metric-format (EMF) line in a
//! function, which CloudWatch turns into a metric without any filter on log text; elsewhere it is
//! an ordinary log line. Zero counts are not recorded: alarms treat missing data as not breaching.

/// The `tracing` target of metric events; the logging adapter keys on it.
pub const METRICS_TARGET: &str = "imcredits::metrics";

/// Every metric the code emits. The names are the CloudWatch metric names the template's alarms
/// read (`infra/template.yaml`), so renaming one is a template change too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Ledger entries a billing batch posted (charges and free usage), replays excluded.
    ChargesPosted,
    /// Entries a billing batch found already posted: a redelivery or a Meta retry.
    Replays,
    /// Statuses no charge rule fits: their records go back to the queue and on to its DLQ.
    NeedsReview,
    /// Auto-recharges that credited a wallet.
    Recharges,
    /// Meta webhook deliveries accepted (checked, parsed and on the billing queue).
    Deliveries,
    /// Webhook items skipped that may have been billable (unparseable statuses with pricing).
    PossiblyBillableSkipped,
    /// Off-session charges the payment provider did not answer (the attempt is held and resumed).
    RechargeNoAnswer,
    /// Recharge attempts held past the provider's idempotency window: a person must look them up.
    RechargeStuck,
    /// Paid checkouts whose amount differs from the quote, held uncredited for an operator.
    PaymentsHeldForReview,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::ChargesPosted,
        Metric::Replays,
        Metric::NeedsReview,
        Metric::Recharges,
        Metric::Deliveries,
        Metric::PossiblyBillableSkipped,
        Metric::RechargeNoAnswer,
        Metric::RechargeStuck,
        Metric::PaymentsHeldForReview,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Metric::ChargesPosted => "ChargesPosted",
            Metric::Replays => "Replays",
            Metric::NeedsReview => "NeedsReview",
            Metric::Recharges => "Recharges",
            Metric::Deliveries => "Deliveries",
            Metric::PossiblyBillableSkipped => "PossiblyBillableSkipped",
            Metric::RechargeNoAnswer => "RechargeNoAnswer",
            Metric::RechargeStuck => "RechargeStuck",
            Metric::PaymentsHeldForReview => "PaymentsHeldForReview",
        }
    }
}

/// Counts `value` occurrences of `metric` (nothing for zero).
pub fn count(metric: Metric, value: usize) {
    if value == 0 {
        return;
    }
    let value = u64::try_from(value).unwrap_or(u64::MAX);
    tracing::info!(target: METRICS_TARGET, metric = metric.name(), value);
}
