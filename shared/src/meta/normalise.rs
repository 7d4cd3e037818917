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

use serde::Serialize;
use time::OffsetDateTime;

use super::events::{
    Conversation, InboundMessage, MessageStatus, Pricing, PricingModel, RecipientType, StatusError,
    StatusEvent, ValueError, code_text,
};
use super::ids::{ConversationId, OpaqueData, PersonalId, WabaId, Wamid};
use super::loose::{Items, Loose, Overspent, UnixSeconds, with_budget};
use super::raw::{
    RawChange, RawConversation, RawEntry, RawError, RawMessage, RawPricing, RawStatus, RawValue,
};
use crate::ids::{IdError, PhoneNumberId};

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

/// What went wrong with one field of a skipped item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    Missing,
    /// Not the JSON type expected, or (for timestamps) not unix seconds.
    WrongType,
    /// The right type, but not a valid value (too long, bad characters, out of range).
    Invalid,
}

/// Why an item was skipped: which field (a path such as `"status.pricing.type"`) and what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SkipReason {
    pub field: &'static str,
    pub problem: Problem,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let problem = match self.problem {
            Problem::Missing => "is missing",
            Problem::WrongType => "has the wrong JSON type",
            Problem::Invalid => "is not valid",
        };
        write!(f, "{} {problem}", self.field)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Entry,
    Change,
    Status,
    Message,
}

/// One skipped item: where it was in the body, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub kind: ItemKind,
    pub entry_index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_index: Option<u32>,
    pub reason: SkipReason,
    /// It carried pricing, or its content could not be seen: it may have been a charge.
    pub possibly_billable: bool,
}

/// Counts for the caller to log and turn into metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BodyCounts {
    pub entries: u32,
    pub changes: u32,
    /// Changes for another `field` than `messages` (e.g. `account_update`): skipped by design.
    pub changes_unknown_field: u32,
    /// Statuses normalised.
    pub statuses: u32,
    /// Inbound messages normalised.
    pub messages: u32,
    pub contacts: u32,
    pub value_errors: u32,
    pub statuses_skipped: u32,
    pub messages_skipped: u32,
    /// Entries or changes that could not be read at all (not an object, `value` missing, ...).
    pub containers_skipped: u32,
    /// Skipped items that may have been charges: anything above zero deserves an alarm.
    pub possibly_billable_skipped: u32,
    /// Fields billing does not need that were dropped or cut because they were odd.
    pub fields_dropped: u32,
}

/// How often one unknown `field` value was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldCount {
    /// The field name if it is a short printable code, else `"(not a code)"`, `"(missing)"`.
    pub field: String,
    pub count: u32,
}

/// Everything about a body that is not an event: safe to log whole (no personal data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ParseReport {
    pub counts: BodyCounts,
    pub unknown_fields: Vec<FieldCount>,
    /// The first [`SKIPPED_LISTED_MAX`] skipped items.
    pub skipped: Vec<Skipped>,
}

impl ParseReport {
    /// True if something that may have been a charge was skipped: log at error level and alarm.
    pub fn possibly_billable_lost(&self) -> bool {
        self.counts.possibly_billable_skipped > 0
    }

    fn skip(&mut self, skipped: Skipped) {
        let counts = &mut self.counts;
        match skipped.kind {
            ItemKind::Entry | ItemKind::Change => counts.containers_skipped += 1,
            ItemKind::Status => counts.statuses_skipped += 1,
            ItemKind::Message => counts.messages_skipped += 1,
        }
        if skipped.possibly_billable {
            counts.possibly_billable_skipped += 1;
        }
        if self.skipped.len() < SKIPPED_LISTED_MAX {
            self.skipped.push(skipped);
        }
    }

    fn unknown_field(&mut self, field: &Loose<String>) {
        self.counts.changes_unknown_field += 1;
        let name = match field {
            Loose::Got(name) => code_text(name).unwrap_or("(not a code)"),
            Loose::Absent => "(missing)",
            Loose::Wrong => "(not a string)",
        };
        if let Some(seen) = self
            .unknown_fields
            .iter_mut()
            .find(|seen| seen.field == name)
        {
            seen.count += 1;
        } else if self.unknown_fields.len() < UNKNOWN_FIELDS_LISTED_MAX {
            self.unknown_fields.push(FieldCount {
                field: name.to_owned(),
                count: 1,
            });
        }
    }
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

fn problem_of<T>(value: &Loose<T>) -> Problem {
    match value {
        Loose::Absent => Problem::Missing,
        Loose::Wrong | Loose::Got(_) => Problem::WrongType,
    }
}

/// What every event of one change shares.
struct ChangeContext<'a> {
    phone_number_id: &'a PhoneNumberId,
    display_phone_number: Option<&'a str>,
    waba_id: Option<&'a WabaId>,
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
        batch.report.unknown_field(&change.field);
        // A value under another field should hold no statuses; if one holds priced statuses
        // anyway, they are charges this code would miss, so say so.
        if let Loose::Got(RawValue {
            statuses: Loose::Got(Items(statuses)),
            ..
        }) = &change.value
        {
            let priced = statuses.iter().filter(|status| match status {
                Loose::Got(status) => status.pricing.is_present(),
                Loose::Absent | Loose::Wrong => false,
            });
            let priced = u32::try_from(priced.count()).unwrap_or(u32::MAX);
            batch.report.counts.possibly_billable_skipped += priced;
        }
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
    let (phone_number_id, display_phone_number) = match metadata {
        Loose::Got(metadata) => {
            let display = match &metadata.display_phone_number {
                Loose::Got(number) => {
                    let ok = number.len() <= 32 && number.bytes().all(|b| b.is_ascii_graphic());
                    if !ok {
                        batch.report.counts.fields_dropped += 1;
                    }
                    ok.then(|| number.clone())
                }
                Loose::Absent => None,
                Loose::Wrong => {
                    batch.report.counts.fields_dropped += 1;
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
        other => {
            let reason = SkipReason {
                field: "metadata",
                problem: problem_of(&other),
            };
            (Err(reason), None)
        }
    };

    // Value-level errors do not need the phone number id; keep them even without it.
    if let Loose::Got(Items(errors)) = errors {
        for error in errors {
            match error {
                Loose::Got(error) => {
                    let error = normalise_error(error, &mut batch.report.counts.fields_dropped);
                    batch.value_errors.push(ValueError {
                        phone_number_id: phone_number_id.as_ref().ok().cloned(),
                        error,
                    });
                    batch.report.counts.value_errors += 1;
                }
                Loose::Absent | Loose::Wrong => batch.report.counts.fields_dropped += 1,
            }
        }
    }

    let statuses = match statuses {
        Loose::Got(Items(statuses)) => statuses,
        Loose::Absent => Vec::new(),
        Loose::Wrong => {
            batch.report.skip(here.skipped(
                ItemKind::Change,
                None,
                "value.statuses",
                Problem::WrongType,
                true,
            ));
            Vec::new()
        }
    };
    let messages = match messages {
        Loose::Got(Items(messages)) => messages,
        Loose::Absent => Vec::new(),
        Loose::Wrong => {
            batch.report.skip(here.skipped(
                ItemKind::Change,
                None,
                "value.messages",
                Problem::WrongType,
                false,
            ));
            Vec::new()
        }
    };

    let phone_number_id = match phone_number_id {
        Ok(id) => id,
        Err(reason) => {
            // Without the business number no event can be attributed to an account: skip them
            // all, each counted.
            for (item_index, status) in (0u32..).zip(&statuses) {
                let possibly_billable = match status {
                    Loose::Got(status) => status.pricing.is_present(),
                    Loose::Absent | Loose::Wrong => true,
                };
                batch.report.skip(here.skipped(
                    ItemKind::Status,
                    Some(item_index),
                    reason.field,
                    reason.problem,
                    possibly_billable,
                ));
            }
            for item_index in (0u32..).take(messages.len()) {
                batch.report.skip(here.skipped(
                    ItemKind::Message,
                    Some(item_index),
                    reason.field,
                    reason.problem,
                    false,
                ));
            }
            return;
        }
    };
    let context = ChangeContext {
        phone_number_id: &phone_number_id,
        display_phone_number: display_phone_number.as_deref(),
        waba_id,
    };

    batch.statuses.reserve(statuses.len());
    for (item_index, status) in (0u32..).zip(statuses) {
        let (result, possibly_billable) = match status {
            Loose::Got(status) => {
                let priced = status.pricing.is_present();
                (
                    normalise_status(status, &context, &mut batch.report.counts),
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
    for (item_index, message) in (0u32..).zip(messages) {
        let result = match message {
            Loose::Got(message) => normalise_message(message, &context, &mut batch.report.counts),
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

fn required<'a>(value: &'a Loose<String>, field: &'static str) -> Result<&'a str, SkipReason> {
    match value {
        Loose::Got(text) => Ok(text),
        Loose::Absent => Err(SkipReason {
            field,
            problem: Problem::Missing,
        }),
        Loose::Wrong => Err(SkipReason {
            field,
            problem: Problem::WrongType,
        }),
    }
}

fn optional<'a>(
    value: &'a Loose<String>,
    field: &'static str,
) -> Result<Option<&'a str>, SkipReason> {
    match value {
        Loose::Absent => Ok(None),
        other => required(other, field).map(Some),
    }
}

fn invalid(field: &'static str) -> SkipReason {
    SkipReason {
        field,
        problem: Problem::Invalid,
    }
}

fn required_id<T>(
    value: &Loose<String>,
    field: &'static str,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<T, SkipReason> {
    parse(required(value, field)?).map_err(|_| invalid(field))
}

fn optional_person(
    value: &Loose<String>,
    field: &'static str,
) -> Result<Option<PersonalId>, SkipReason> {
    optional(value, field)?
        .map(|text| PersonalId::parse(text).map_err(|_| invalid(field)))
        .transpose()
}

fn optional_code(value: &Loose<String>, field: &'static str) -> Result<Option<String>, SkipReason> {
    optional(value, field)?
        .map(|text| code_text(text).map(str::to_owned).ok_or(invalid(field)))
        .transpose()
}

fn required_time(
    value: &Loose<UnixSeconds>,
    field: &'static str,
) -> Result<OffsetDateTime, SkipReason> {
    match value {
        Loose::Got(UnixSeconds(seconds)) => {
            OffsetDateTime::from_unix_timestamp(*seconds).map_err(|_| invalid(field))
        }
        Loose::Absent => Err(SkipReason {
            field,
            problem: Problem::Missing,
        }),
        Loose::Wrong => Err(SkipReason {
            field,
            problem: Problem::WrongType,
        }),
    }
}

fn normalise_status(
    status: RawStatus,
    context: &ChangeContext<'_>,
    counts: &mut BodyCounts,
) -> Result<StatusEvent, SkipReason> {
    let wamid = required_id(&status.id, "status.id", Wamid::parse)?;
    let state = MessageStatus::parse(required(&status.status, "status.status")?)
        .ok_or(invalid("status.status"))?;
    let timestamp = required_time(&status.timestamp, "status.timestamp")?;
    let recipient_id = optional_person(&status.recipient_id, "status.recipient_id")?;
    let recipient_user_id = optional_person(&status.recipient_user_id, "status.recipient_user_id")?;
    let recipient_type = match optional(&status.recipient_type, "status.recipient_type")? {
        None => RecipientType::Individual,
        Some(text) => RecipientType::parse(text).ok_or(invalid("status.recipient_type"))?,
    };
    let recipient_participant_id = optional_person(
        &status.recipient_participant_id,
        "status.recipient_participant_id",
    )?;
    let recipient_participant_user_id = optional_person(
        &status.recipient_participant_user_id,
        "status.recipient_participant_user_id",
    )?;
    let pricing = match status.pricing {
        Loose::Got(pricing) => Some(normalise_pricing(pricing)?),
        Loose::Absent => None,
        Loose::Wrong => {
            return Err(SkipReason {
                field: "status.pricing",
                problem: Problem::WrongType,
            });
        }
    };
    let conversation = match status.conversation {
        Loose::Got(conversation) => Some(normalise_conversation(conversation, counts)?),
        Loose::Absent => None,
        Loose::Wrong => {
            return Err(SkipReason {
                field: "status.conversation",
                problem: Problem::WrongType,
            });
        }
    };
    let biz_opaque_callback_data = match &status.biz_opaque_callback_data {
        Loose::Got(text) => {
            let data = OpaqueData::parse(text);
            if data.is_none() {
                counts.fields_dropped += 1;
            }
            data
        }
        Loose::Absent => None,
        Loose::Wrong => {
            counts.fields_dropped += 1;
            None
        }
    };
    let errors = match status.errors {
        Loose::Got(Items(errors)) => errors
            .into_iter()
            .filter_map(|error| match error {
                Loose::Got(error) => Some(normalise_error(error, &mut counts.fields_dropped)),
                Loose::Absent | Loose::Wrong => {
                    counts.fields_dropped += 1;
                    None
                }
            })
            .collect(),
        Loose::Absent => Vec::new(),
        Loose::Wrong => {
            counts.fields_dropped += 1;
            Vec::new()
        }
    };
    Ok(StatusEvent {
        wamid,
        status: state,
        timestamp,
        phone_number_id: context.phone_number_id.clone(),
        display_phone_number: context.display_phone_number.map(str::to_owned),
        waba_id: context.waba_id.cloned(),
        recipient_id,
        recipient_user_id,
        recipient_type,
        recipient_participant_id,
        recipient_participant_user_id,
        pricing,
        conversation,
        biz_opaque_callback_data,
        errors,
    })
}

fn normalise_pricing(pricing: RawPricing) -> Result<Pricing, SkipReason> {
    let billable = match pricing.billable {
        Loose::Got(billable) => Some(billable),
        Loose::Absent => None,
        Loose::Wrong => {
            return Err(SkipReason {
                field: "status.pricing.billable",
                problem: Problem::WrongType,
            });
        }
    };
    let pricing_model = optional(&pricing.pricing_model, "status.pricing.pricing_model")?
        .map(|text| PricingModel::parse(text).ok_or(invalid("status.pricing.pricing_model")))
        .transpose()?;
    Ok(Pricing {
        billable,
        pricing_model,
        type_: optional_code(&pricing.type_, "status.pricing.type")?,
        category: optional_code(&pricing.category, "status.pricing.category")?,
    })
}

fn normalise_conversation(
    conversation: RawConversation,
    counts: &mut BodyCounts,
) -> Result<Conversation, SkipReason> {
    let id = required_id(
        &conversation.id,
        "status.conversation.id",
        ConversationId::parse,
    )?;
    // Origin and expiry inform dashboards, not charges: odd values are dropped, not fatal.
    let origin_type = match conversation.origin {
        Loose::Got(origin) => match &origin.type_ {
            Loose::Got(text) => {
                let code = code_text(text).map(str::to_owned);
                if code.is_none() {
                    counts.fields_dropped += 1;
                }
                code
            }
            Loose::Absent => None,
            Loose::Wrong => {
                counts.fields_dropped += 1;
                None
            }
        },
        Loose::Absent => None,
        Loose::Wrong => {
            counts.fields_dropped += 1;
            None
        }
    };
    let expiration_timestamp = match &conversation.expiration_timestamp {
        Loose::Absent => None,
        other => {
            let parsed = required_time(other, "status.conversation.expiration_timestamp").ok();
            if parsed.is_none() {
                counts.fields_dropped += 1;
            }
            parsed
        }
    };
    Ok(Conversation {
        id,
        origin_type,
        expiration_timestamp,
    })
}

fn cut(text: &str, chars_max: usize) -> (String, bool) {
    match text.char_indices().nth(chars_max) {
        Some((end, _)) => (text[..end].to_owned(), true),
        None => (text.to_owned(), false),
    }
}

fn normalise_error(error: RawError, fields_dropped: &mut u32) -> StatusError {
    let mut text = |value: &Loose<String>, chars_max: usize| match value {
        Loose::Got(text) => {
            let (kept, was_cut) = cut(text, chars_max);
            if was_cut {
                *fields_dropped += 1;
            }
            Some(kept)
        }
        Loose::Absent => None,
        Loose::Wrong => {
            *fields_dropped += 1;
            None
        }
    };
    let title = text(&error.title, ERROR_TITLE_LEN_MAX);
    let details = match &error.error_data {
        Loose::Got(data) => text(&data.details, ERROR_DETAILS_LEN_MAX),
        Loose::Absent => None,
        Loose::Wrong => {
            *fields_dropped += 1;
            None
        }
    };
    let code = match error.code {
        Loose::Got(code) => Some(code),
        Loose::Absent => None,
        Loose::Wrong => {
            *fields_dropped += 1;
            None
        }
    };
    StatusError {
        code,
        title,
        details,
    }
}

fn normalise_message(
    message: RawMessage,
    context: &ChangeContext<'_>,
    counts: &mut BodyCounts,
) -> Result<InboundMessage, SkipReason> {
    let id = required_id(&message.id, "message.id", Wamid::parse)?;
    let from = optional_person(&message.from, "message.from")?;
    let from_user_id = optional_person(&message.from_user_id, "message.from_user_id")?;
    let timestamp = required_time(&message.timestamp, "message.timestamp")?;
    let type_ = code_text(required(&message.type_, "message.type")?)
        .ok_or(invalid("message.type"))?
        .to_owned();
    let from_ad_referral = match &message.referral {
        Loose::Got(referral) => {
            matches!(&referral.source_type, Loose::Got(source) if source == "ad")
                || matches!(&referral.ctwa_clid, Loose::Got(clid) if !clid.is_empty())
        }
        Loose::Absent => false,
        Loose::Wrong => {
            counts.fields_dropped += 1;
            false
        }
    };
    Ok(InboundMessage {
        id,
        from,
        from_user_id,
        timestamp,
        type_,
        from_ad_referral,
        phone_number_id: context.phone_number_id.clone(),
        waba_id: context.waba_id.cloned(),
    })
}
