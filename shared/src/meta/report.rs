//! What a parse reports besides the events: the items it skipped and why, and counts of everything
//! it read. Holds no personal data, so it can be logged whole.

use serde::Serialize;

use super::events::code_text;
use super::loose::Loose;
use super::normalise::{SKIPPED_LISTED_MAX, UNKNOWN_FIELDS_LISTED_MAX};

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
    /// Every skipped item that may have been a charge (bounded by the body's item limit), for a
    /// dead letter each; too many to log, so not serialised.
    #[serde(skip)]
    pub possibly_billable: Vec<Skipped>,
}

impl ParseReport {
    /// True if something that may have been a charge was skipped: log at error level and alarm.
    pub fn possibly_billable_lost(&self) -> bool {
        self.counts.possibly_billable_skipped > 0
    }

    pub(super) fn skip(&mut self, skipped: Skipped) {
        let counts = &mut self.counts;
        match skipped.kind {
            ItemKind::Entry | ItemKind::Change => counts.containers_skipped += 1,
            ItemKind::Status => counts.statuses_skipped += 1,
            ItemKind::Message => counts.messages_skipped += 1,
        }
        if skipped.possibly_billable {
            counts.possibly_billable_skipped += 1;
            self.possibly_billable.push(skipped);
        }
        if self.skipped.len() < SKIPPED_LISTED_MAX {
            self.skipped.push(skipped);
        }
    }

    pub(super) fn unknown_field(&mut self, field: &Loose<String>) {
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
