//! When a status is charged (DESIGN §3), decided per status, with the ledger entry id that makes
//! the charge happen once however often and in whatever order the statuses arrive.
//!
//! **Per-message pricing** (`pricing_model: PMP`): a message is charged when a `delivered` or `read`
//! status carries `pricing.type: regular` (or `billable: true` and no `type`, as Marketing Messages
//! Lite statuses do), once per wamid: Meta sends pricing on `sent` and on one of `delivered` /
//! `read`, and both map to the same entry id. `sent` waits for delivery; `failed` never charges.
//! Free types (`free_customer_service`, `free_entry_point`, any `free_*`) are recorded as zero-cost
//! usage, under the same entry id a charge would have had.
//!
//! **Groups** (`recipient_type: group`): Meta charges each delivery to a participant ("you are
//! charged each time a billable message is delivered to someone in the group", Groups API pricing),
//! so the entry id is per wamid *and participant*; the participant appears as a keyed hash, not in
//! clear. This refines "once per wamid" of DESIGN §3, which does not mention groups. The
//! participant is keyed by BSUID first, then phone number (the rule and why: `recipients.rs`).
//!
//! **No recipient**: a billable status that names neither a phone number nor a BSUID of the person
//! it reached cannot be priced by market: [`ReviewReason::NoRecipient`], never a fallback price.
//!
//! **Conversation pricing** (`CBP`, legacy): a conversation whose pricing says `billable: true` is
//! charged once per `conversation.id`, from whichever status (other than `failed`) brings it first;
//! `billable: false` is zero-cost usage of that conversation.
//!
//! Anything that looks billable but fits no rule (an unknown model or pricing type, a `billable`
//! that contradicts the type, a CBP charge without a conversation id, an unknown status carrying
//! pricing) is [`ChargeDecision::NeedsReview`]: neither charged nor dropped, for the caller to keep
//! and alarm on. A billing system must not lose a charge silently, nor invent one.

use serde::Serialize;

use super::events::{MessageStatus, Pricing, PricingModel, RecipientType, StatusEvent};
use super::ids::{ConversationId, Wamid};
use crate::ledger::EntryId;

/// `pricing.type` of a billable message.
const TYPE_REGULAR: &str = "regular";
/// `pricing.type` of every free message starts so.
const TYPE_FREE_PREFIX: &str = "free_";
/// Key for the participant hash in a group charge's entry id. Fixed, not secret: it only keeps the
/// phone number out of the id in clear; changing it would change every group entry id.
const PARTICIPANT_HASH_KEY: &[u8] = b"imcredits group participant v1";

/// What to record for a status that is charged or used for free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Deterministic: the same message (or conversation) always gives the same id.
    pub entry_id: EntryId,
    pub model: PricingModel,
    /// What the charge is for.
    pub basis: ChargeBasis,
    /// `pricing.category` as Meta sent it; the pricing module parses it (and prices an unknown or
    /// missing one with its default).
    pub category_raw: Option<String>,
    /// `pricing.type` as Meta sent it.
    pub pricing_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ChargeBasis {
    /// One message to one user.
    Message { wamid: Wamid },
    /// One delivery of a group message to one participant.
    GroupDelivery { wamid: Wamid },
    /// A legacy 24-hour conversation.
    Conversation { conversation_id: ConversationId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoChargeReason {
    /// The status carries no pricing (v24+ sends it on only one of delivered / read).
    NoPricing,
    /// A failed message is never charged.
    Failed,
    /// PMP charges on delivery: a `sent` status waits for its `delivered` or `read`.
    AwaitingDelivery,
    /// `played` or `deleted`: not a delivery event, never charged.
    NotADeliveryStatus,
    /// CBP `billable: false` without a conversation id to record the free usage under.
    FreeWithoutConversation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum ReviewReason {
    /// `pricing_model` is missing.
    NoPricingModel,
    UnknownPricingModel {
        model: String,
    },
    /// A `pricing.type` that is neither `regular` nor `free_*`.
    UnknownPricingType {
        pricing_type: String,
    },
    /// PMP with neither `type` nor `billable`.
    BillabilityUnknown,
    /// `billable` says the opposite of `type` (e.g. `regular` with `billable: false`).
    BillableContradictsType {
        pricing_type: String,
        billable: bool,
    },
    /// CBP billable (or billability unknown) but no conversation id to charge once per.
    CbpWithoutConversation,
    /// CBP pricing without `billable`.
    CbpBillabilityUnknown,
    /// A group status without a participant to charge the delivery to.
    GroupWithoutParticipant,
    /// A billable status with neither the recipient's phone number nor their BSUID: no market.
    NoRecipient,
    /// A status value this code does not know, carrying pricing.
    UnknownStatusWithPricing {
        status: String,
    },
    /// The ledger refused the entry id (cannot happen for parsed ids; kept rather than panic).
    EntryIdRefused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum ChargeDecision {
    /// Post a charge, priced by the rate card, under `entry_id`.
    Charge(Usage),
    /// Record zero-cost usage under `entry_id`.
    FreeUsage(Usage),
    /// Nothing to post.
    NoCharge { reason: NoChargeReason },
    /// Fits no rule: keep the event, alarm, and let a person decide.
    NeedsReview(ReviewReason),
}

/// The decision for one status.
pub fn decide_charge(event: &StatusEvent) -> ChargeDecision {
    let Some(pricing) = &event.pricing else {
        return ChargeDecision::NoCharge {
            reason: NoChargeReason::NoPricing,
        };
    };
    if event.status == MessageStatus::Failed {
        return ChargeDecision::NoCharge {
            reason: NoChargeReason::Failed,
        };
    }
    match &pricing.pricing_model {
        None => ChargeDecision::NeedsReview(ReviewReason::NoPricingModel),
        Some(PricingModel::Pmp) => decide_pmp(event, pricing),
        Some(PricingModel::Cbp) => decide_cbp(event, pricing),
        Some(PricingModel::Unknown(model)) => {
            ChargeDecision::NeedsReview(ReviewReason::UnknownPricingModel {
                model: model.clone(),
            })
        }
    }
}

/// Whether a PMP pricing object means a charge (`Some(true)`), free usage (`Some(false)`), or fits
/// no rule.
fn pmp_billable(pricing: &Pricing) -> Result<bool, ReviewReason> {
    match (pricing.type_.as_deref(), pricing.billable) {
        (Some(TYPE_REGULAR), Some(false)) => Err(ReviewReason::BillableContradictsType {
            pricing_type: TYPE_REGULAR.to_owned(),
            billable: false,
        }),
        (Some(TYPE_REGULAR), _) => Ok(true),
        (Some(free), Some(true)) if free.starts_with(TYPE_FREE_PREFIX) => {
            Err(ReviewReason::BillableContradictsType {
                pricing_type: free.to_owned(),
                billable: true,
            })
        }
        (Some(free), _) if free.starts_with(TYPE_FREE_PREFIX) => Ok(false),
        (Some(other), _) => Err(ReviewReason::UnknownPricingType {
            pricing_type: other.to_owned(),
        }),
        (None, Some(billable)) => Ok(billable),
        (None, None) => Err(ReviewReason::BillabilityUnknown),
    }
}

fn decide_pmp(event: &StatusEvent, pricing: &Pricing) -> ChargeDecision {
    match &event.status {
        MessageStatus::Delivered | MessageStatus::Read => {}
        MessageStatus::Sent => {
            return ChargeDecision::NoCharge {
                reason: NoChargeReason::AwaitingDelivery,
            };
        }
        MessageStatus::Played | MessageStatus::Deleted => {
            return ChargeDecision::NoCharge {
                reason: NoChargeReason::NotADeliveryStatus,
            };
        }
        MessageStatus::Failed => {
            return ChargeDecision::NoCharge {
                reason: NoChargeReason::Failed,
            };
        }
        MessageStatus::Unknown(status) => {
            return ChargeDecision::NeedsReview(ReviewReason::UnknownStatusWithPricing {
                status: status.clone(),
            });
        }
    }
    let billable = match pmp_billable(pricing) {
        Ok(billable) => billable,
        Err(reason) => return ChargeDecision::NeedsReview(reason),
    };
    let (entry_id, basis) = if event.recipient_type == RecipientType::Group {
        let Some(participant) = event.participant_charge_key() else {
            return ChargeDecision::NeedsReview(ReviewReason::GroupWithoutParticipant);
        };
        let reference = format!(
            "{}~{}",
            event.wamid.as_str(),
            participant.hashed(PARTICIPANT_HASH_KEY)
        );
        let basis = ChargeBasis::GroupDelivery {
            wamid: event.wamid.clone(),
        };
        (EntryId::message_charge(&reference), basis)
    } else {
        if billable && event.billed_recipient().is_none() {
            return ChargeDecision::NeedsReview(ReviewReason::NoRecipient);
        }
        let basis = ChargeBasis::Message {
            wamid: event.wamid.clone(),
        };
        (EntryId::message_charge(event.wamid.as_str()), basis)
    };
    usage(billable, entry_id, basis, PricingModel::Pmp, pricing)
}

fn decide_cbp(event: &StatusEvent, pricing: &Pricing) -> ChargeDecision {
    if let MessageStatus::Unknown(status) = &event.status {
        return ChargeDecision::NeedsReview(ReviewReason::UnknownStatusWithPricing {
            status: status.clone(),
        });
    }
    let conversation = event.conversation.as_ref();
    match (pricing.billable, conversation) {
        (Some(billable), Some(conversation)) => {
            let basis = ChargeBasis::Conversation {
                conversation_id: conversation.id.clone(),
            };
            let entry_id = EntryId::conversation_charge(conversation.id.as_str());
            usage(billable, entry_id, basis, PricingModel::Cbp, pricing)
        }
        (Some(false), None) => ChargeDecision::NoCharge {
            reason: NoChargeReason::FreeWithoutConversation,
        },
        (Some(true), None) => ChargeDecision::NeedsReview(ReviewReason::CbpWithoutConversation),
        (None, _) => ChargeDecision::NeedsReview(ReviewReason::CbpBillabilityUnknown),
    }
}

fn usage(
    billable: bool,
    entry_id: Result<EntryId, crate::ids::IdError>,
    basis: ChargeBasis,
    model: PricingModel,
    pricing: &Pricing,
) -> ChargeDecision {
    let Ok(entry_id) = entry_id else {
        return ChargeDecision::NeedsReview(ReviewReason::EntryIdRefused);
    };
    let usage = Usage {
        entry_id,
        model,
        basis,
        category_raw: pricing.category.clone(),
        pricing_type: pricing.type_.clone(),
    };
    if billable {
        ChargeDecision::Charge(usage)
    } else {
        ChargeDecision::FreeUsage(usage)
    }
}
