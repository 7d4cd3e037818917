//! From the raw body to normalised events, item by item.
//!
//! # What fails the body, and what skips an item
//! The **body** is refused (an [`EnvelopeError`]) only when it cannot be read as a whole: larger
//! than [`BODY_LEN_MAX`], not JSON, a repeated key, not a WhatsApp Business Account webhook, no
//! `entry` array, or more than [`EVENTS_PER_BODY_MAX`] events / [`ITEMS_PER_BODY_MAX`] kept array
//! items (checked while parsing, so an oversized body costs no memory).
//!
//! An **item** that cannot be normalised (a status without an id, a timestamp that is not unix
//! seconds, a pricing `type` that is not a short code, ...) is skipped and the body goes on: Meta
//! resends a refused body for days and it would be refused every time, taking the valid items down
//! with it. A skipped item is never silent: it is counted in [`BodyCounts`], the first
//! [`SKIPPED_LISTED_MAX`] are listed with their position and reason in [`ParseReport::skipped`], and
//! every skipped item that could have been a charge (a status that carried `pricing`, or anything
//! whose content could not be seen) is counted in [`BodyCounts::possibly_billable_skipped`], which
//! the caller must alarm on. The report holds no personal data, so it can be logged whole.
//!
//! Fields billing depends on (ids, status, timestamp, recipients, pricing, conversation id) are
//! checked strictly: a bad one skips the item. Fields it does not depend on (`waba_id`,
//! `display_phone_number`, `biz_opaque_callback_data`, error texts, conversation origin and expiry)
//! are dropped or cut when odd, counted in [`BodyCounts::fields_dropped`], and the item is kept.

use super::events::{InboundMessage, StatusEvent, ValueError, code_text};
use super::ids::WabaId;
use super::items::{normalise_error, normalise_message, normalise_status, required_id};
use super::loose::{Items, Loose, Overspent, with_budget};
use super::raw::{RawChange, RawEntry, RawError, RawMessage, RawMetadata, RawStatus, RawValue};
pub use super::report::{
    BodyCounts, FieldCount, ItemKind, ParseReport, Problem, SkipReason, Skipped,
};
use crate::ids::PhoneNumberId;

/// Largest body parsed. API Gateway and the caller bound it too; this keeps the parser safe alone.
pub const BODY_LEN_MAX: usize = 3 * 1024 * 1024;
/// Most events (statuses and inbound messages) in one body. Meta batches up to 1,000 updates per
/// body; five times that leaves room for change without letting one body flood the queue.
pub const EVENTS_PER_BODY_MAX: u32 = 5_000;
/// Most array items kept from one body in all (entries, changes, events, errors): bounds memory
/// whatever the nesting.
pub const ITEMS_PER_BODY_MAX: u32 = 20_000;
/// Most skipped items listed one by one in a report (all are counted).
pub const SKIPPED_LISTED_MAX: usize = 32;
/// Most distinct unknown `field` names listed in a report (all are counted).
pub const UNKNOWN_FIELDS_LISTED_MAX: usize = 8;
/// Longest error title kept, in characters.
pub const ERROR_TITLE_LEN_MAX: usize = 256;
/// Longest error details kept, in characters.
pub const ERROR_DETAILS_LEN_MAX: usize = 512;

const OBJECT_WHATSAPP: &str = "whatsapp_business_account";
const FIELD_MESSAGES: &str = "messages";

/// Why a whole body is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body has {body_len} bytes, more than {BODY_LEN_MAX}")]
    TooLarge { body_len: usize },
    /// Only the category and position are kept: serde_json's message may quote the body.
    #[error("the body is not valid JSON ({category:?} at line {line}, column {column})")]
    Json {
        category: serde_json::error::Category,
        line: usize,
        column: usize,
    },
    #[error("the body is not a JSON object")]
    NotAnObject,
    /// A webhook for another Meta product (or none). Signed by Meta, so the caller may acknowledge
    /// it and log it rather than have Meta resend it.
    #[error("the body is not a WhatsApp Business Account webhook (object {object:?})")]
    NotWhatsApp { object: Option<String> },
    #[error("the body has no `entry` array")]
    NoEntries,
    #[error("the body has more than {EVENTS_PER_BODY_MAX} statuses and messages")]
    TooManyEvents,
    #[error("the body has more than {ITEMS_PER_BODY_MAX} array items")]
    TooManyItems,
}

/// A webhook body, normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookBatch {
    pub statuses: Vec<StatusEvent>,
    pub messages: Vec<InboundMessage>,
    pub value_errors: Vec<ValueError>,
    pub report: ParseReport,
}

/// Parses and normalises a webhook body (whose signature the caller has already checked).
pub fn parse_webhook(body: &[u8]) -> Result<WebhookBatch, EnvelopeError> {
    if body.len() > BODY_LEN_MAX {
        return Err(EnvelopeError::TooLarge {
            body_len: body.len(),
        });
    }
    let (parsed, overspent) = with_budget(EVENTS_PER_BODY_MAX, ITEMS_PER_BODY_MAX, || {
        serde_json::from_slice::<Loose<super::raw::RawEnvelope>>(body)
    });
    match overspent {
        Some(Overspent::Events) => return Err(EnvelopeError::TooManyEvents),
        Some(Overspent::Items) => return Err(EnvelopeError::TooManyItems),
        None => {}
    }
    let envelope = match parsed {
        Ok(Loose::Got(envelope)) => envelope,
        Ok(Loose::Absent | Loose::Wrong) => return Err(EnvelopeError::NotAnObject),
        Err(error) => {
            return Err(EnvelopeError::Json {
                category: error.classify(),
                line: error.line(),
                column: error.column(),
            });
        }
    };
    match &envelope.object {
        Loose::Got(object) if object == OBJECT_WHATSAPP => {}
        Loose::Got(object) => {
            return Err(EnvelopeError::NotWhatsApp {
                object: Some(code_text(object).unwrap_or("(not a code)").to_owned()),
            });
        }
        Loose::Absent | Loose::Wrong => return Err(EnvelopeError::NotWhatsApp { object: None }),
    }
    let Loose::Got(Items(entries)) = envelope.entry else {
        return Err(EnvelopeError::NoEntries);
    };

    let mut batch = WebhookBatch::default();
    for (entry_index, entry) in (0u32..).zip(entries) {
        batch.report.counts.entries += 1;
        let here = Position {
            entry_index,
            change_index: None,
        };
        match entry {
            Loose::Got(entry) => normalise_entry(entry, here, &mut batch),
            Loose::Absent | Loose::Wrong => {
                let problem = problem_of(&entry);
                batch
                    .report
                    .skip(here.skipped(ItemKind::Entry, None, "entry", problem, true));
            }
        }
    }
    Ok(batch)
}

#[derive(Debug, Clone, Copy)]
struct Position {
    entry_index: u32,
    change_index: Option<u32>,
}

impl Position {
    fn skipped(
        self,
        kind: ItemKind,
        item_index: Option<u32>,
        field: &'static str,
        problem: Problem,
        possibly_billable: bool,
    ) -> Skipped {
        Skipped {
            kind,
            entry_index: self.entry_index,
            change_index: self.change_index,
            item_index,
            reason: SkipReason { field, problem },
            possibly_billable,
        }
    }
}

pub(super) fn problem_of<T>(value: &Loose<T>) -> Problem {
    match value {
        Loose::Absent => Problem::Missing,
        Loose::Wrong | Loose::Got(_) => Problem::WrongType,
    }
}

/// What every event of one change shares.
pub(super) struct ChangeContext<'a> {
    pub(super) phone_number_id: &'a PhoneNumberId,
    pub(super) display_phone_number: Option<&'a str>,
    pub(super) waba_id: Option<&'a WabaId>,
}

fn normalise_entry(entry: RawEntry, here: Position, batch: &mut WebhookBatch) {
    let waba_id = match &entry.id {
        Loose::Got(id) => {
            let parsed = WabaId::parse(id).ok();
            if parsed.is_none() {
                batch.report.counts.fields_dropped += 1;
            }
            parsed
        }
        Loose::Absent => None,
        Loose::Wrong => {
            batch.report.counts.fields_dropped += 1;
            None
        }
    };
    let changes = match entry.changes {
        Loose::Got(Items(changes)) => changes,
        Loose::Absent => Vec::new(),
        Loose::Wrong => {
            batch.report.skip(here.skipped(
                ItemKind::Entry,
                None,
                "entry.changes",
                Problem::WrongType,
                true,
            ));
            return;
        }
    };
    for (change_index, change) in (0u32..).zip(changes) {
        batch.report.counts.changes += 1;
        let here = Position {
            change_index: Some(change_index),
            ..here
        };
        match change {
            Loose::Got(change) => normalise_change(change, waba_id.as_ref(), here, batch),
            Loose::Absent | Loose::Wrong => {
                let problem = problem_of(&change);
                batch
                    .report
                    .skip(here.skipped(ItemKind::Change, None, "change", problem, true));
            }
        }
    }
}

fn normalise_change(
    change: RawChange,
    waba_id: Option<&WabaId>,
    here: Position,
    batch: &mut WebhookBatch,
) {
    let is_messages = matches!(&change.field, Loose::Got(field) if field == FIELD_MESSAGES);
    if !is_messages {
        count_other_field(&change, here, batch);
        return;
    }
    let value = match change.value {
        Loose::Got(value) => value,
        other => {
            let problem = problem_of(&other);
            batch
                .report
                .skip(here.skipped(ItemKind::Change, None, "change.value", problem, true));
            return;
        }
    };
    let RawValue {
        metadata,
        statuses,
        messages,
        contacts,
        errors,
    } = value;
    if let Loose::Got(count) = contacts {
        batch.report.counts.contacts += count.0;
    }
    let (phone_number_id, display_phone_number) = business_number(metadata, &mut batch.report);
    keep_value_errors(errors, phone_number_id.as_ref().ok(), batch);
    let statuses = items_or_skip(statuses, "value.statuses", true, here, &mut batch.report);
    let messages = items_or_skip(messages, "value.messages", false, here, &mut batch.report);
    let phone_number_id = match phone_number_id {
        Ok(id) => id,
        Err(reason) => {
            skip_unattributed(&statuses, messages.len(), reason, here, &mut batch.report);
            return;
        }
    };
    let context = ChangeContext {
        phone_number_id: &phone_number_id,
        display_phone_number: display_phone_number.as_deref(),
        waba_id,
    };
    push_statuses(statuses, &context, here, batch);
    push_messages(messages, &context, here, batch);
}

/// A value under another field should hold no statuses; if one holds priced statuses anyway,
/// they are charges this code would miss, so say so.
fn count_other_field(change: &RawChange, here: Position, batch: &mut WebhookBatch) {
    batch.report.unknown_field(&change.field);
    if let Loose::Got(RawValue {
        statuses: Loose::Got(Items(statuses)),
        ..
    }) = &change.value
    {
        for (item_index, status) in (0u32..).zip(statuses) {
            if matches!(status, Loose::Got(status) if status.pricing.is_present()) {
                batch.report.counts.possibly_billable_skipped += 1;
                // Listed for a dead letter each, not counted again as a skipped status.
                let skipped = here.skipped(
                    ItemKind::Status,
                    Some(item_index),
                    "change.field",
                    Problem::Invalid,
                    true,
                );
                batch.report.possibly_billable.push(skipped);
            }
        }
    }
}

/// The business number the change belongs to, and its display form when it is plausible.
fn business_number(
    metadata: Loose<RawMetadata>,
    report: &mut ParseReport,
) -> (Result<PhoneNumberId, SkipReason>, Option<String>) {
    let metadata = match metadata {
        Loose::Got(metadata) => metadata,
        other => {
            let reason = SkipReason {
                field: "metadata",
                problem: problem_of(&other),
            };
            return (Err(reason), None);
        }
    };
    let display = match &metadata.display_phone_number {
        Loose::Got(number) => {
            let ok = number.len() <= 32 && number.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                report.counts.fields_dropped += 1;
            }
            ok.then(|| number.clone())
        }
        Loose::Absent => None,
        Loose::Wrong => {
            report.counts.fields_dropped += 1;
            None
        }
    };
    let id = required_id(
        &metadata.phone_number_id,
        "metadata.phone_number_id",
        PhoneNumberId::parse,
    );
    (id, display)
}

/// Value-level errors do not need the phone number id; keep them even without it.
fn keep_value_errors(
    errors: Loose<Items<RawError>>,
    phone_number_id: Option<&PhoneNumberId>,
    batch: &mut WebhookBatch,
) {
    let Loose::Got(Items(errors)) = errors else {
        return;
    };
    for error in errors {
        match error {
            Loose::Got(error) => {
                let error = normalise_error(error, &mut batch.report.counts.fields_dropped);
                batch.value_errors.push(ValueError {
                    phone_number_id: phone_number_id.cloned(),
                    error,
                });
                batch.report.counts.value_errors += 1;
            }
            Loose::Absent | Loose::Wrong => batch.report.counts.fields_dropped += 1,
        }
    }
}

/// The items of a list field; a list of the wrong type is skipped whole (and said so).
fn items_or_skip<T>(
    list: Loose<Items<T>>,
    field: &'static str,
    possibly_billable: bool,
    here: Position,
    report: &mut ParseReport,
) -> Vec<Loose<T>> {
    match list {
        Loose::Got(Items(items)) => items,
        Loose::Absent => Vec::new(),
        Loose::Wrong => {
            report.skip(here.skipped(
                ItemKind::Change,
                None,
                field,
                Problem::WrongType,
                possibly_billable,
            ));
            Vec::new()
        }
    }
}

/// Without the business number no event can be attributed to an account: skip them all, each
/// counted.
fn skip_unattributed(
    statuses: &[Loose<RawStatus>],
    messages: usize,
    reason: SkipReason,
    here: Position,
    report: &mut ParseReport,
) {
    for (item_index, status) in (0u32..).zip(statuses) {
        let possibly_billable = match status {
            Loose::Got(status) => status.pricing.is_present(),
            Loose::Absent | Loose::Wrong => true,
        };
        report.skip(here.skipped(
            ItemKind::Status,
            Some(item_index),
            reason.field,
            reason.problem,
            possibly_billable,
        ));
    }
    for item_index in (0u32..).take(messages) {
        report.skip(here.skipped(
            ItemKind::Message,
            Some(item_index),
            reason.field,
            reason.problem,
            false,
        ));
    }
}

fn push_statuses(
    statuses: Vec<Loose<RawStatus>>,
    context: &ChangeContext<'_>,
    here: Position,
    batch: &mut WebhookBatch,
) {
    batch.statuses.reserve(statuses.len());
    for (item_index, status) in (0u32..).zip(statuses) {
        let (result, possibly_billable) = match status {
            Loose::Got(status) => {
                let priced = status.pricing.is_present();
                (
                    normalise_status(status, context, &mut batch.report.counts),
                    priced,
                )
            }
            other => {
                let reason = SkipReason {
                    field: "status",
                    problem: problem_of(&other),
                };
                (Err(reason), true)
            }
        };
        match result {
            Ok(event) => {
                batch.statuses.push(event);
                batch.report.counts.statuses += 1;
            }
            Err(reason) => batch.report.skip(here.skipped(
                ItemKind::Status,
                Some(item_index),
                reason.field,
                reason.problem,
                possibly_billable,
            )),
        }
    }
}

fn push_messages(
    messages: Vec<Loose<RawMessage>>,
    context: &ChangeContext<'_>,
    here: Position,
    batch: &mut WebhookBatch,
) {
    for (item_index, message) in (0u32..).zip(messages) {
        let result = match message {
            Loose::Got(message) => normalise_message(message, context, &mut batch.report.counts),
            other => Err(SkipReason {
                field: "message",
                problem: problem_of(&other),
            }),
        };
        match result {
            Ok(message) => {
                batch.messages.push(message);
                batch.report.counts.messages += 1;
            }
            Err(reason) => batch.report.skip(here.skipped(
                ItemKind::Message,
                Some(item_index),
                reason.field,
                reason.problem,
                false,
            )),
        }
    }
}
