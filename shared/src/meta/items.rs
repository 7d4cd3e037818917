//! One item at a time: a status, its pricing and conversation, an error, an inbound message, and
//! the field readers they share. Each answers the event or the reason it was skipped.

use time::OffsetDateTime;

use super::events::{
    Conversation, InboundMessage, MessageStatus, Pricing, PricingModel, RecipientType, StatusError,
    StatusEvent, code_text,
};
use super::ids::{ConversationId, OpaqueData, PersonalId, Wamid};
use super::loose::{Items, Loose, UnixSeconds};
use super::normalise::{ChangeContext, ERROR_DETAILS_LEN_MAX, ERROR_TITLE_LEN_MAX};
use super::raw::{RawConversation, RawError, RawMessage, RawPricing, RawStatus};
use super::report::{BodyCounts, Problem, SkipReason};
use crate::ids::IdError;

/// A field that must be there, of its type.
fn got<'a, T>(value: &'a Loose<T>, field: &'static str) -> Result<&'a T, SkipReason> {
    match value {
        Loose::Got(value) => Ok(value),
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

pub(super) fn required<'a>(
    value: &'a Loose<String>,
    field: &'static str,
) -> Result<&'a str, SkipReason> {
    got(value, field).map(String::as_str)
}

pub(super) fn optional<'a>(
    value: &'a Loose<String>,
    field: &'static str,
) -> Result<Option<&'a str>, SkipReason> {
    match value {
        Loose::Absent => Ok(None),
        other => required(other, field).map(Some),
    }
}

pub(super) fn invalid(field: &'static str) -> SkipReason {
    SkipReason {
        field,
        problem: Problem::Invalid,
    }
}

pub(super) fn required_id<T>(
    value: &Loose<String>,
    field: &'static str,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<T, SkipReason> {
    parse(required(value, field)?).map_err(|_| invalid(field))
}

pub(super) fn optional_person(
    value: &Loose<String>,
    field: &'static str,
) -> Result<Option<PersonalId>, SkipReason> {
    optional(value, field)?
        .map(|text| PersonalId::parse(text).map_err(|_| invalid(field)))
        .transpose()
}

pub(super) fn optional_code(
    value: &Loose<String>,
    field: &'static str,
) -> Result<Option<String>, SkipReason> {
    optional(value, field)?
        .map(|text| code_text(text).map(str::to_owned).ok_or(invalid(field)))
        .transpose()
}

pub(super) fn required_time(
    value: &Loose<UnixSeconds>,
    field: &'static str,
) -> Result<OffsetDateTime, SkipReason> {
    let UnixSeconds(seconds) = got(value, field)?;
    OffsetDateTime::from_unix_timestamp(*seconds).map_err(|_| invalid(field))
}

pub(super) fn normalise_status(
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
    let pricing = optional_object(status.pricing, "status.pricing", normalise_pricing)?;
    let conversation = optional_object(status.conversation, "status.conversation", |raw| {
        normalise_conversation(raw, counts)
    })?;
    let biz_opaque_callback_data =
        kept_or_dropped(&status.biz_opaque_callback_data, OpaqueData::parse, counts);
    let errors = status_errors(status.errors, counts);
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

/// An optional object of a status: absent is `None`, the wrong type skips the status.
fn optional_object<R, T>(
    value: Loose<R>,
    field: &'static str,
    normalise: impl FnOnce(R) -> Result<T, SkipReason>,
) -> Result<Option<T>, SkipReason> {
    match value {
        Loose::Got(raw) => normalise(raw).map(Some),
        Loose::Absent => Ok(None),
        Loose::Wrong => Err(SkipReason {
            field,
            problem: Problem::WrongType,
        }),
    }
}

/// A status's errors: each unreadable one (or an unreadable list) is dropped and counted.
fn status_errors(errors: Loose<Items<RawError>>, counts: &mut BodyCounts) -> Vec<StatusError> {
    match errors {
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
    }
}

pub(super) fn normalise_pricing(pricing: RawPricing) -> Result<Pricing, SkipReason> {
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

pub(super) fn normalise_conversation(
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
        Loose::Got(origin) => kept_or_dropped(
            &origin.type_,
            |text| code_text(text).map(str::to_owned),
            counts,
        ),
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

pub(super) fn cut(text: &str, chars_max: usize) -> (String, bool) {
    match text.char_indices().nth(chars_max) {
        Some((end, _)) => (text[..end].to_owned(), true),
        None => (text.to_owned(), false),
    }
}

pub(super) fn normalise_error(error: RawError, fields_dropped: &mut u32) -> StatusError {
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

pub(super) fn normalise_message(
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

/// An optional field that informs but does not decide: its value if `parse` accepts it; an odd
/// one is dropped and counted, never fatal.
fn kept_or_dropped<T>(
    value: &Loose<String>,
    parse: impl FnOnce(&str) -> Option<T>,
    counts: &mut BodyCounts,
) -> Option<T> {
    let kept = match value {
        Loose::Got(text) => parse(text),
        Loose::Absent => return None,
        Loose::Wrong => None,
    };
    if kept.is_none() {
        counts.fields_dropped += 1;
    }
    kept
}
