//! Tests across the module: Meta's own sample bodies from `shared/fixtures/meta` (beside the
//! repository), hand-made variants, limits, the queue round trip and arbitrary input.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::normalise::{ItemKind, Problem, SkipReason};
use super::signature::signature_header_value;
use super::*;
use crate::ledger::EntryId;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// `<repo>/../shared/fixtures/meta`: the worktree is `/work/wt-meta` and the fixtures are in
/// `/work/shared/fixtures/meta`; CI places the `shared/` folder beside the clone the same way.
fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/meta");
    assert!(
        dir.is_dir(),
        "Meta fixtures folder missing: expected {} (the shared fixtures folder sits beside the \
         repository root)",
        dir.display()
    );
    dir
}

fn read_fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Every webhook body in the folder (the snippets file is not a body).
fn fixture_bodies() -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures folder is readable")
        .map(|entry| entry.expect("directory entry").file_name())
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.ends_with(".json") && !name.ends_with(".snippets.json"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no fixture bodies found");
    names
        .into_iter()
        .map(|name| {
            let body = read_fixture(&name);
            (name, body)
        })
        .collect()
}

fn parse_ok(body: &[u8]) -> WebhookBatch {
    parse_webhook(body).unwrap_or_else(|error| panic!("body refused: {error}"))
}

fn secret() -> AppSecret {
    AppSecret::new(b"fixture test secret").unwrap()
}

/// What a fixture's single status should decide.
#[derive(Debug)]
enum Expect {
    Charge(&'static str, &'static str),
    NoCharge(NoChargeReason),
}

struct FixtureCase {
    file: &'static str,
    statuses: usize,
    messages: usize,
    value_errors: usize,
    statuses_skipped: u32,
    unknown_fields: &'static [&'static str],
    decision: Option<Expect>,
}

const WAMID_PMP: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=";

fn fixture_cases() -> Vec<FixtureCase> {
    let case = |file| FixtureCase {
        file,
        statuses: 0,
        messages: 0,
        value_errors: 0,
        statuses_skipped: 0,
        unknown_fields: &[],
        decision: None,
    };
    let status = |file, decision| FixtureCase {
        statuses: 1,
        decision: Some(decision),
        ..case(file)
    };
    vec![
        FixtureCase {
            messages: 1,
            ..case("meta-doc_inbound_image.json")
        },
        FixtureCase {
            messages: 1,
            ..case("meta-doc_inbound_interactive_button_reply.json")
        },
        FixtureCase {
            messages: 1,
            ..case("meta-doc_inbound_interactive_list_reply.json")
        },
        FixtureCase {
            messages: 1,
            ..case("meta-doc_inbound_text_from_ctwa_ad_referral.json")
        },
        status(
            "meta-doc_status_delivered_cbp_service.json",
            Expect::Charge("charge.conv:6ceb9d929c9bdc4f90e967a32f8639b4", "service"),
        ),
        status(
            "meta-doc_status_delivered_pmp_marketing_with_bsuid_contact.json",
            Expect::Charge(
                "charge.msg:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
                "marketing",
            ),
        ),
        status(
            "meta-doc_status_failed_131049.json",
            Expect::NoCharge(NoChargeReason::NoPricing),
        ),
        status(
            "meta-doc_status_sent_pmp_marketing_regular.json",
            Expect::NoCharge(NoChargeReason::AwaitingDelivery),
        ),
        status(
            "meta-doc_status_sent_v24_no_conversation_no_pricing.json",
            Expect::NoCharge(NoChargeReason::NoPricing),
        ),
        FixtureCase {
            value_errors: 1,
            ..case("meta-doc_value_level_errors.json")
        },
        FixtureCase {
            unknown_fields: &["account_update"],
            ..case("pywa_account_update_volume_tier_update.json")
        },
        status(
            "pywa_status_failed_130472.json",
            Expect::NoCharge(NoChargeReason::NoPricing),
        ),
        // Its ids are documentation placeholders (`<BUSINESS_PHONE_NUMBER_ID>`): no account can be
        // found for it, so the status is skipped and counted (it carries no pricing).
        FixtureCase {
            statuses_skipped: 1,
            ..case("pywa_status_read_group_recipient.json")
        },
        status(
            "pywa_status_sent_cbp_service_with_conversation_expiry.json",
            Expect::Charge("charge.conv:7270432eae37498234f4444b35ffc5", "service"),
        ),
        status(
            "pywa_status_sent_cbp_with_biz_opaque_callback_data.json",
            Expect::Charge("charge.conv:7270432eae37498234f4444b35ffc5", "service"),
        ),
    ]
}

#[test]
fn every_fixture_body_parses_signed_over_its_exact_bytes() {
    let bodies = fixture_bodies();
    for (name, body) in &bodies {
        let header = signature_header_value(&secret(), body);
        let batch = verify_and_parse(&secret(), Some(header.as_bytes()), body)
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert!(
            !batch.report.possibly_billable_lost(),
            "{name}: {:?}",
            batch.report
        );
        // One byte changed anywhere and the signature no longer fits.
        let mut tampered = body.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0x01;
        assert_eq!(
            verify_and_parse(&secret(), Some(header.as_bytes()), &tampered),
            Err(WebhookRejection::Signature(SignatureError::Mismatch)),
            "{name}"
        );
    }
    // Every fixture has an expectation below, and every expectation a fixture.
    let on_disk: BTreeSet<&str> = bodies.iter().map(|(name, _)| name.as_str()).collect();
    let expected: BTreeSet<&str> = fixture_cases().iter().map(|case| case.file).collect();
    assert_eq!(on_disk, expected, "fixture table and folder differ");
}

#[test]
fn fixtures_normalise_and_decide_as_documented() {
    for case in fixture_cases() {
        let batch = parse_ok(&read_fixture(case.file));
        let file = case.file;
        assert_eq!(batch.statuses.len(), case.statuses, "{file}");
        assert_eq!(batch.messages.len(), case.messages, "{file}");
        assert_eq!(batch.value_errors.len(), case.value_errors, "{file}");
        assert_eq!(
            batch.report.counts.statuses_skipped, case.statuses_skipped,
            "{file}"
        );
        let unknown: Vec<&str> = batch
            .report
            .unknown_fields
            .iter()
            .map(|field| field.field.as_str())
            .collect();
        assert_eq!(unknown, case.unknown_fields, "{file}");
        let Some(expected) = case.decision else {
            continue;
        };
        let decision = decide_charge(&batch.statuses[0]);
        match (expected, decision) {
            (Expect::Charge(entry_id, category), ChargeDecision::Charge(usage)) => {
                assert_eq!(usage.entry_id.as_str(), entry_id, "{file}");
                assert_eq!(usage.category_raw.as_deref(), Some(category), "{file}");
            }
            (Expect::NoCharge(expected), ChargeDecision::NoCharge { reason }) => {
                assert_eq!(reason, expected, "{file}");
            }
            (expected, decision) => panic!("{file}: expected {expected:?}, got {decision:?}"),
        }
    }
}

#[test]
fn fixture_fields_land_where_billing_reads_them() {
    let batch = parse_ok(&read_fixture(
        "meta-doc_status_delivered_pmp_marketing_with_bsuid_contact.json",
    ));
    let status = &batch.statuses[0];
    assert_eq!(status.wamid.as_str(), WAMID_PMP);
    assert_eq!(status.status, MessageStatus::Delivered);
    assert_eq!(status.timestamp.unix_timestamp(), 1_750_030_073);
    assert_eq!(status.phone_number_id.as_str(), "106540352242922");
    assert_eq!(status.display_phone_number.as_deref(), Some("15550783881"));
    assert_eq!(
        status.waba_id.as_ref().map(WabaId::as_str),
        Some("102290129340398")
    );
    assert_eq!(
        status.recipient_id.as_ref().map(PersonalId::reveal),
        Some("16505551234")
    );
    assert_eq!(status.recipient_type, RecipientType::Individual);
    assert_eq!(
        status.pricing,
        Some(Pricing {
            billable: Some(true),
            pricing_model: Some(PricingModel::Pmp),
            type_: Some("regular".to_owned()),
            category: Some("marketing".to_owned()),
        })
    );
    assert_eq!(status.conversation, None);
    assert_eq!(batch.report.counts.contacts, 1);

    let batch = parse_ok(&read_fixture(
        "pywa_status_sent_cbp_with_biz_opaque_callback_data.json",
    ));
    let status = &batch.statuses[0];
    assert_eq!(
        status
            .biz_opaque_callback_data
            .as_ref()
            .map(OpaqueData::reveal),
        Some("some data")
    );
    let conversation = status.conversation.as_ref().expect("conversation");
    assert_eq!(conversation.id.as_str(), "7270432eae37498234f4444b35ffc5");
    assert_eq!(conversation.origin_type.as_deref(), Some("service"));
    assert_eq!(
        conversation
            .expiration_timestamp
            .map(|at| at.unix_timestamp()),
        Some(1_698_339_900)
    );

    let batch = parse_ok(&read_fixture("meta-doc_status_failed_131049.json"));
    let error = &batch.statuses[0].errors[0];
    assert_eq!(error.code, Some(131_049));
    assert_eq!(
        error.title.as_deref(),
        Some("This message was not delivered to maintain healthy ecosystem engagement.")
    );
    assert!(error.details.as_deref().unwrap().starts_with("In order to"));

    let batch = parse_ok(&read_fixture("meta-doc_value_level_errors.json"));
    assert_eq!(batch.value_errors[0].error.code, Some(130_429));
    assert_eq!(
        batch.value_errors[0]
            .phone_number_id
            .as_ref()
            .map(|id| id.as_str()),
        Some("106540352242922")
    );

    let ad = parse_ok(&read_fixture(
        "meta-doc_inbound_text_from_ctwa_ad_referral.json",
    ));
    let message = &ad.messages[0];
    assert!(message.from_ad_referral);
    assert_eq!(message.type_, "text");
    assert_eq!(message.timestamp.unix_timestamp(), 1_750_275_992);
    assert_eq!(
        message.from.as_ref().map(PersonalId::reveal),
        Some("16505551234")
    );
    let image = parse_ok(&read_fixture("meta-doc_inbound_image.json"));
    assert!(!image.messages[0].from_ad_referral);
    assert_eq!(image.messages[0].type_, "image");
}

/// Personal data never reaches a log line through `Debug`, nor through the report.
#[test]
fn debug_output_and_reports_hold_no_phone_numbers() {
    for (name, body) in fixture_bodies() {
        let batch = parse_ok(&body);
        let shown = format!("{batch:?}");
        let report = serde_json::to_string(&batch.report).unwrap();
        for phone in ["16505551234", "972987654321"] {
            assert!(!shown.contains(phone), "{name}: {shown}");
            assert!(!report.contains(phone), "{name}: {report}");
        }
        for status in &batch.statuses {
            let decision = format!("{:?}", decide_charge(status));
            assert!(!decision.contains("16505551234") && !decision.contains("972987654321"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-made bodies

fn body_with(value: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{ "value": value, "field": "messages" }]
        }]
    }))
    .unwrap()
}

fn statuses_body(statuses: Vec<Value>) -> Vec<u8> {
    body_with(json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
        "statuses": statuses
    }))
}

fn status(wamid: &str, state: &str, pricing: Value) -> Value {
    let mut status = json!({
        "id": wamid,
        "status": state,
        "timestamp": "1750030073",
        "recipient_id": "16505551234"
    });
    if !pricing.is_null() {
        status["pricing"] = pricing;
    }
    status
}

fn pmp(type_: &str, category: &str) -> Value {
    let billable = type_ == "regular";
    json!({ "billable": billable, "pricing_model": "PMP", "type": type_, "category": category })
}

fn decisions(statuses: Vec<Value>) -> Vec<ChargeDecision> {
    let batch = parse_ok(&statuses_body(statuses));
    assert_eq!(
        batch.report.counts.statuses_skipped, 0,
        "{:?}",
        batch.report
    );
    batch.statuses.iter().map(decide_charge).collect()
}

fn charged_ids(decisions: &[ChargeDecision]) -> Vec<&str> {
    decisions
        .iter()
        .filter_map(|decision| match decision {
            ChargeDecision::Charge(usage) => Some(usage.entry_id.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn pmp_read_before_delivered_before_sent_charges_once() {
    let wamid = "wamid.OUT-OF-ORDER";
    let decided = decisions(vec![
        status(wamid, "read", pmp("regular", "marketing")),
        status(wamid, "delivered", pmp("regular", "marketing")),
        status(wamid, "sent", pmp("regular", "marketing")),
    ]);
    let charged = charged_ids(&decided);
    // Read and delivered both name the same entry: the store keeps the first, refuses the second.
    assert_eq!(charged, ["charge.msg:wamid.OUT-OF-ORDER"; 2]);
    assert_eq!(
        decided[2],
        ChargeDecision::NoCharge {
            reason: NoChargeReason::AwaitingDelivery
        }
    );
    // v24: pricing on only one of delivered/read; the other has none.
    let decided = decisions(vec![
        status(wamid, "read", Value::Null),
        status(wamid, "delivered", pmp("regular", "utility")),
    ]);
    assert_eq!(charged_ids(&decided), ["charge.msg:wamid.OUT-OF-ORDER"]);
    assert_eq!(
        decided[0],
        ChargeDecision::NoCharge {
            reason: NoChargeReason::NoPricing
        }
    );
}

#[test]
fn failed_never_charges_even_after_sent() {
    let wamid = "wamid.FAILS";
    let decided = decisions(vec![
        status(wamid, "sent", pmp("regular", "marketing")),
        status(wamid, "failed", pmp("regular", "marketing")),
    ]);
    assert!(charged_ids(&decided).is_empty(), "{decided:?}");
    assert_eq!(
        decided[1],
        ChargeDecision::NoCharge {
            reason: NoChargeReason::Failed
        }
    );
    let mut cbp_failed = status(
        wamid,
        "failed",
        json!({"billable": true, "pricing_model": "CBP"}),
    );
    cbp_failed["conversation"] = json!({"id": "conv-1"});
    assert!(charged_ids(&decisions(vec![cbp_failed])).is_empty());
}

#[test]
fn cbp_conversation_with_three_messages_names_one_entry() {
    let cbp = json!({ "billable": true, "pricing_model": "CBP", "category": "utility" });
    let statuses: Vec<Value> = ["sent", "delivered", "read"]
        .iter()
        .enumerate()
        .map(|(index, state)| {
            let mut item = status(&format!("wamid.M{index}"), state, cbp.clone());
            item["conversation"] = json!({"id": "conv-abc", "origin": {"type": "utility"}});
            item
        })
        .collect();
    let decided = decisions(statuses);
    let charged = charged_ids(&decided);
    assert_eq!(charged, ["charge.conv:conv-abc"; 3]);
    for decision in &decided {
        let ChargeDecision::Charge(usage) = decision else {
            panic!("{decision:?}")
        };
        assert_eq!(usage.model, PricingModel::Cbp);
        assert_eq!(usage.category_raw.as_deref(), Some("utility"));
    }
    // Not billable: free usage of the conversation; billable without a conversation: review.
    let mut free = status(
        "wamid.F",
        "delivered",
        json!({"billable": false, "pricing_model": "CBP"}),
    );
    free["conversation"] = json!({"id": "conv-free", "origin": {"type": "referral_conversion"}});
    let no_conversation = status("wamid.N", "sent", cbp.clone());
    let decided = decisions(vec![free, no_conversation]);
    assert!(
        matches!(&decided[0], ChargeDecision::FreeUsage(usage) if usage.entry_id.as_str() == "charge.conv:conv-free")
    );
    assert_eq!(
        decided[1],
        ChargeDecision::NeedsReview(ReviewReason::CbpWithoutConversation)
    );
}

#[test]
fn free_types_are_zero_cost_usage_under_the_message_id() {
    for free_type in [
        "free_customer_service",
        "free_entry_point",
        "free_future_kind",
    ] {
        let mut item = status("wamid.FREE", "delivered", pmp(free_type, "service"));
        if free_type == "free_entry_point" {
            item["conversation"] =
                json!({"id": "window-1", "origin": {"type": "referral_conversion"}});
        }
        let decided = decisions(vec![item]);
        let ChargeDecision::FreeUsage(usage) = &decided[0] else {
            panic!("{free_type}: {decided:?}")
        };
        assert_eq!(usage.entry_id.as_str(), "charge.msg:wamid.FREE");
        assert_eq!(usage.pricing_type.as_deref(), Some(free_type));
    }
}

#[test]
fn the_documented_pricing_variants_decide_as_documented() {
    let snippets: Value = serde_json::from_slice(&read_fixture(
        "meta-doc_pmp_pricing_object_variants.snippets.json",
    ))
    .expect("snippets file is JSON");
    let expected = [
        ("pmp_billable_regular", true, "<PRICING_CATEGORY>"),
        ("pmp_free_non_template_in_csw", false, "service"),
        ("pmp_free_utility_template_in_csw", false, "utility"),
        ("pmp_service_billable_from_2026_10_01", true, "service"),
        ("mm_api_for_whatsapp_marketing_lite", true, "marketing_lite"),
    ];
    let listed: BTreeSet<&str> = snippets
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|key| !key.starts_with('_'))
        .collect();
    let covered: BTreeSet<&str> = expected.iter().map(|(key, _, _)| *key).collect();
    assert_eq!(listed, covered, "snippet table and file differ");
    for (key, charged, category) in expected {
        let snippet = &snippets[key];
        let mut item = status("wamid.SNIPPET", "delivered", snippet["pricing"].clone());
        if let Some(conversation) = snippet.get("conversation") {
            item["conversation"] = conversation.clone();
        }
        let decided = decisions(vec![item]);
        let usage = match (&decided[0], charged) {
            (ChargeDecision::Charge(usage), true) | (ChargeDecision::FreeUsage(usage), false) => {
                usage
            }
            (other, _) => panic!("{key}: {other:?}"),
        };
        assert_eq!(usage.entry_id.as_str(), "charge.msg:wamid.SNIPPET", "{key}");
        assert_eq!(usage.category_raw.as_deref(), Some(category), "{key}");
        assert_eq!(usage.model, PricingModel::Pmp, "{key}");
    }
}

#[test]
fn what_fits_no_rule_is_kept_for_review_not_charged_nor_dropped() {
    let cases = [
        (
            json!({"billable": true, "pricing_model": "PMP", "type": "premium"}),
            ReviewReason::UnknownPricingType {
                pricing_type: "premium".to_owned(),
            },
        ),
        (
            json!({"billable": false, "pricing_model": "PMP", "type": "regular"}),
            ReviewReason::BillableContradictsType {
                pricing_type: "regular".to_owned(),
                billable: false,
            },
        ),
        (
            json!({"billable": true, "pricing_model": "PMP", "type": "free_entry_point"}),
            ReviewReason::BillableContradictsType {
                pricing_type: "free_entry_point".to_owned(),
                billable: true,
            },
        ),
        (
            json!({"pricing_model": "PMP", "category": "marketing"}),
            ReviewReason::BillabilityUnknown,
        ),
        (
            json!({"billable": true, "pricing_model": "XBP"}),
            ReviewReason::UnknownPricingModel {
                model: "XBP".to_owned(),
            },
        ),
        (
            json!({"billable": true, "type": "regular"}),
            ReviewReason::NoPricingModel,
        ),
        (
            json!({"pricing_model": "CBP", "category": "service"}),
            ReviewReason::CbpBillabilityUnknown,
        ),
    ];
    for (pricing, reason) in cases {
        let decided = decisions(vec![status("wamid.R", "delivered", pricing.clone())]);
        assert_eq!(decided[0], ChargeDecision::NeedsReview(reason), "{pricing}");
    }
    let unknown_status = decisions(vec![status("wamid.R", "queued", pmp("regular", "utility"))]);
    assert_eq!(
        unknown_status[0],
        ChargeDecision::NeedsReview(ReviewReason::UnknownStatusWithPricing {
            status: "queued".to_owned()
        })
    );
    let played = decisions(vec![status("wamid.R", "played", pmp("regular", "utility"))]);
    assert_eq!(
        played[0],
        ChargeDecision::NoCharge {
            reason: NoChargeReason::NotADeliveryStatus
        }
    );
}

fn group_status(wamid: &str, state: &str, participant: Option<&str>) -> Value {
    let mut item = status(wamid, state, pmp("regular", "marketing"));
    item["recipient_id"] = json!("120363040000000000");
    item["recipient_type"] = json!("group");
    if let Some(participant) = participant {
        item["recipient_participant_id"] = json!(participant);
    }
    item
}

#[test]
fn group_messages_charge_once_per_participant_delivery() {
    let decided = decisions(vec![
        group_status("wamid.G", "delivered", Some("16505551234")),
        group_status("wamid.G", "read", Some("16505551234")),
        group_status("wamid.G", "delivered", Some("447700900123")),
        group_status("wamid.G", "sent", Some("447700900999")),
    ]);
    let charged = charged_ids(&decided);
    assert_eq!(charged.len(), 3);
    assert_eq!(charged[0], charged[1], "same participant, same entry");
    assert_ne!(charged[0], charged[2], "each participant is a delivery");
    for id in &charged {
        assert!(id.starts_with("charge.msg:wamid.G~"), "{id}");
        assert!(!id.contains("5551234") && !id.contains("900123"), "{id}");
        assert!(EntryId::parse(id).is_ok());
    }
    let ChargeDecision::Charge(usage) = &decided[0] else {
        unreachable!()
    };
    assert!(matches!(usage.basis, ChargeBasis::GroupDelivery { .. }));
    let batch = parse_ok(&statuses_body(vec![group_status(
        "wamid.G",
        "read",
        Some("16505551234"),
    )]));
    assert_eq!(
        batch.statuses[0].billed_recipient().map(PersonalId::reveal),
        Some("16505551234")
    );
    let decided = decisions(vec![group_status("wamid.G", "delivered", None)]);
    assert_eq!(
        decided[0],
        ChargeDecision::NeedsReview(ReviewReason::GroupWithoutParticipant)
    );
}

/// The pywa group fixture with its placeholders replaced by well-formed ids: `recipient_type` and
/// the participant fields come through.
#[test]
fn the_group_fixture_with_real_looking_ids_normalises() {
    let text = String::from_utf8(read_fixture("pywa_status_read_group_recipient.json")).unwrap();
    let text = text
        .replace("<WHATSAPP_BUSINESS_ACCOUNT_ID>", "102290129340398")
        .replace("<BUSINESS_DISPLAY_PHONE_NUMBER>", "15550783881")
        .replace("<BUSINESS_PHONE_NUMBER_ID>", "106540352242922")
        .replace("<WHATSAPP_MESSAGE_ID>", "wamid.GROUP1")
        .replace("<GROUP_PARTICIPANT_USER_PHONE_NUMBER>", "16505551234");
    let batch = parse_ok(text.as_bytes());
    assert_eq!(batch.report.counts.statuses_skipped, 0);
    let status = &batch.statuses[0];
    assert_eq!(status.recipient_type, RecipientType::Group);
    assert_eq!(status.status, MessageStatus::Read);
    assert_eq!(
        status
            .recipient_participant_id
            .as_ref()
            .map(PersonalId::reveal),
        Some("16505551234")
    );
    assert_eq!(
        status
            .recipient_participant_user_id
            .as_ref()
            .map(PersonalId::reveal),
        Some("US.123456")
    );
    assert_eq!(
        decide_charge(status),
        ChargeDecision::NoCharge {
            reason: NoChargeReason::NoPricing
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Invalid items and limits

#[test]
fn invalid_statuses_are_skipped_counted_and_flagged_when_priced() {
    let mut missing_id = status("x", "delivered", pmp("regular", "marketing"));
    missing_id.as_object_mut().unwrap().remove("id");
    let mut bad_time = status("wamid.T", "delivered", Value::Null);
    bad_time["timestamp"] = json!("yesterday");
    let mut bad_billable = status("wamid.B", "delivered", pmp("regular", "marketing"));
    bad_billable["pricing"]["billable"] = json!("true");
    let mut numeric_time = status("wamid.N", "sent", Value::Null);
    numeric_time["timestamp"] = json!(1_750_030_073);
    let batch = parse_ok(&statuses_body(vec![
        status("wamid.OK", "delivered", pmp("regular", "marketing")),
        missing_id,
        bad_time,
        json!("not an object"),
        bad_billable,
        numeric_time,
        status(&"w".repeat(Wamid::LEN_MAX + 1), "sent", Value::Null),
    ]));
    let kept: Vec<&str> = batch.statuses.iter().map(|s| s.wamid.as_str()).collect();
    assert_eq!(kept, ["wamid.OK", "wamid.N"]);
    let counts = batch.report.counts;
    assert_eq!(counts.statuses, 2);
    assert_eq!(counts.statuses_skipped, 5);
    // The id-less priced one, the non-object, and the one with a mistyped `billable`.
    assert_eq!(counts.possibly_billable_skipped, 3);
    assert!(batch.report.possibly_billable_lost());
    let reasons: Vec<(Option<u32>, SkipReason, bool)> = batch
        .report
        .skipped
        .iter()
        .map(|skipped| {
            assert_eq!(skipped.kind, ItemKind::Status);
            (
                skipped.item_index,
                skipped.reason,
                skipped.possibly_billable,
            )
        })
        .collect();
    let reason = |field, problem| SkipReason { field, problem };
    assert_eq!(
        reasons,
        [
            (Some(1), reason("status.id", Problem::Missing), true),
            (
                Some(2),
                reason("status.timestamp", Problem::WrongType),
                false
            ),
            (Some(3), reason("status", Problem::WrongType), true),
            (
                Some(4),
                reason("status.pricing.billable", Problem::WrongType),
                true
            ),
            (Some(6), reason("status.id", Problem::Invalid), false),
        ]
    );
}

#[test]
fn a_change_without_a_valid_business_number_skips_all_its_events() {
    for metadata in [
        json!({"phone_number_id": "<BUSINESS_PHONE_NUMBER_ID>"}),
        json!({"phone_number_id": 106540352242922u64}),
        Value::Null,
    ] {
        let mut value = json!({
            "statuses": [status("wamid.A", "delivered", pmp("regular", "utility")),
                         status("wamid.B", "sent", Value::Null)],
            "messages": [{"id": "wamid.IN", "from": "1", "timestamp": "1", "type": "text"}]
        });
        if !metadata.is_null() {
            value["metadata"] = metadata.clone();
        }
        let batch = parse_ok(&body_with(value));
        assert!(
            batch.statuses.is_empty() && batch.messages.is_empty(),
            "{metadata}"
        );
        assert_eq!(batch.report.counts.statuses_skipped, 2, "{metadata}");
        assert_eq!(batch.report.counts.messages_skipped, 1, "{metadata}");
        assert_eq!(
            batch.report.counts.possibly_billable_skipped, 1,
            "{metadata}"
        );
    }
}

#[test]
fn unknown_fields_and_values_are_tolerated_and_counted() {
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "new_top_level": {"x": [1, 2]},
        "entry": [{
            "id": "not-a-waba-id",
            "time": 1743451903,
            "changes": [
                {"field": "account_update", "value": {"event": "X"}},
                {"field": "account_update", "value": {}},
                {"field": "history", "value": {"statuses": [status("wamid.H", "delivered", pmp("regular", "utility"))]}},
                {"value": {}},
                {"field": "messages", "value": {
                    "metadata": {"phone_number_id": "106540352242922", "display_phone_number": "x".repeat(40)},
                    "statuses": [{
                        "id": "wamid.U", "status": "delivered", "timestamp": "1750030073",
                        "recipient_id": "16505551234", "new_field": {"deep": [true]},
                        "biz_opaque_callback_data": "y".repeat(600),
                        "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular",
                                    "category": "authentication-international", "price": 0.0075},
                        "errors": [{"code": "x", "title": "t".repeat(300)}, 5]
                    }]
                }}
            ]
        }]
    }))
    .unwrap();
    let batch = parse_ok(&body);
    let report = &batch.report;
    let unknown: Vec<(&str, u32)> = report
        .unknown_fields
        .iter()
        .map(|field| (field.field.as_str(), field.count))
        .collect();
    assert_eq!(
        unknown,
        [("account_update", 2), ("history", 1), ("(missing)", 1)]
    );
    assert_eq!(report.counts.changes_unknown_field, 4);
    // Priced statuses under a field this code does not read are counted as possible charges.
    assert_eq!(report.counts.possibly_billable_skipped, 1);
    let status = &batch.statuses[0];
    assert_eq!(status.waba_id, None);
    assert_eq!(status.display_phone_number, None);
    assert_eq!(status.biz_opaque_callback_data, None);
    assert_eq!(status.errors.len(), 1);
    assert_eq!(status.errors[0].code, None);
    assert_eq!(
        status.errors[0].title.as_ref().map(|t| t.chars().count()),
        Some(normalise::ERROR_TITLE_LEN_MAX)
    );
    // waba id, display number, opaque data, error code, error title cut, error item not an object.
    assert_eq!(report.counts.fields_dropped, 6);
    let ChargeDecision::Charge(usage) = decide_charge(status) else {
        panic!()
    };
    assert_eq!(
        usage.category_raw.as_deref(),
        Some("authentication-international")
    );
}

#[test]
fn bodies_that_cannot_be_read_as_a_whole_are_refused_with_a_reason() {
    let refused = |body: &[u8]| parse_webhook(body).unwrap_err();
    assert!(matches!(
        refused(b"{\"object\":"),
        EnvelopeError::Json { .. }
    ));
    assert!(matches!(refused(b""), EnvelopeError::Json { .. }));
    assert!(matches!(refused(&[0xff, 0xfe]), EnvelopeError::Json { .. }));
    assert_eq!(refused(b"[]"), EnvelopeError::NotAnObject);
    assert_eq!(refused(b"null"), EnvelopeError::NotAnObject);
    assert_eq!(
        refused(br#"{"object":"page","entry":[]}"#),
        EnvelopeError::NotWhatsApp {
            object: Some("page".to_owned())
        }
    );
    assert_eq!(
        refused(br#"{"entry":[]}"#),
        EnvelopeError::NotWhatsApp { object: None }
    );
    assert_eq!(
        refused(br#"{"object":"whatsapp_business_account"}"#),
        EnvelopeError::NoEntries
    );
    assert_eq!(
        refused(br#"{"object":"whatsapp_business_account","entry":{}}"#),
        EnvelopeError::NoEntries
    );
    // A repeated key makes an object ambiguous (which wamid?).
    let repeated = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","id":"2"}]}"#;
    assert!(matches!(refused(repeated), EnvelopeError::Json { .. }));
    // serde_json's messages may quote the body; the error keeps none of it.
    let quoted = refused(br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"statuses":[{"recipient_id":"16505551234","recipient_id":"16505551234"}]}}]}]}"#);
    assert!(!format!("{quoted} {quoted:?}").contains("16505551234"));

    let too_large = vec![b' '; BODY_LEN_MAX + 1];
    assert_eq!(
        refused(&too_large),
        EnvelopeError::TooLarge {
            body_len: BODY_LEN_MAX + 1
        }
    );
    assert_eq!(
        verify_and_parse(&secret(), None, &too_large),
        Err(WebhookRejection::Envelope(EnvelopeError::TooLarge {
            body_len: BODY_LEN_MAX + 1
        }))
    );
    assert_eq!(
        verify_and_parse(&secret(), None, b"{}"),
        Err(WebhookRejection::Signature(SignatureError::Missing))
    );
}

fn many(item: &str, count: usize) -> String {
    vec![item; count].join(",")
}

#[test]
fn event_and_item_limits_are_enforced_at_their_boundary() {
    let max = EVENTS_PER_BODY_MAX as usize;
    let events = |statuses: usize, messages: usize| {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{{"field":"messages","value":{{"statuses":[{}],"messages":[{}]}}}}]}}]}}"#,
            many("{}", statuses),
            many("{}", messages)
        )
    };
    let at_limit = parse_ok(events(max - 1, 1).as_bytes());
    assert_eq!(
        at_limit.report.counts.statuses_skipped + at_limit.report.counts.messages_skipped,
        EVENTS_PER_BODY_MAX
    );
    assert_eq!(
        parse_webhook(events(max, 1).as_bytes()),
        Err(EnvelopeError::TooManyEvents)
    );
    assert_eq!(
        parse_webhook(events(max + 1, 0).as_bytes()),
        Err(EnvelopeError::TooManyEvents)
    );

    let items = ITEMS_PER_BODY_MAX as usize;
    let entries = |count: usize| {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{}]}}"#,
            many("{}", count)
        )
    };
    assert_eq!(
        parse_ok(entries(items).as_bytes()).report.counts.entries,
        ITEMS_PER_BODY_MAX
    );
    assert_eq!(
        parse_webhook(entries(items + 1).as_bytes()),
        Err(EnvelopeError::TooManyItems)
    );
    // Arrays that are not kept (contacts, unknown fields) cost nothing.
    let contacts = format!(
        r#"{{"object":"whatsapp_business_account","extra":[{}],"entry":[{{"changes":[{{"field":"messages","value":{{"metadata":{{"phone_number_id":"1"}},"contacts":[{}]}}}}]}}]}}"#,
        many("1", items * 2),
        many("{}", items * 2)
    );
    let batch = parse_ok(contacts.as_bytes());
    assert_eq!(batch.report.counts.contacts as usize, items * 2);
}

// ---------------------------------------------------------------------------------------------
// The queue round trip

#[test]
fn events_survive_the_queue_round_trip() {
    let mut statuses = Vec::new();
    let mut messages = Vec::new();
    for (_, body) in fixture_bodies() {
        let batch = parse_ok(&body);
        statuses.extend(batch.statuses);
        messages.extend(batch.messages);
    }
    let group = parse_ok(&statuses_body(vec![
        group_status("wamid.G", "read", Some("16505551234")),
        status("wamid.Q", "queued", Value::Null),
    ]));
    statuses.extend(group.statuses);
    assert!(statuses.len() >= 10 && messages.len() >= 4);

    let json = serde_json::to_string(&statuses).unwrap();
    let back: Vec<StatusEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, statuses);
    let json = serde_json::to_string(&messages).unwrap();
    let back: Vec<InboundMessage> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, messages);

    // Unknown enum values survive as themselves.
    let queued = statuses.last().unwrap();
    assert_eq!(queued.status, MessageStatus::Unknown("queued".to_owned()));
    // Timestamps travel as unix seconds; absent options are left out.
    let one = serde_json::to_value(&statuses[0]).unwrap();
    assert!(one["timestamp"].is_i64(), "{one}");
    assert!(one.get("biz_opaque_callback_data").is_none(), "{one}");
}

#[test]
fn billing_rechecks_what_it_reads_from_the_queue() {
    let batch = parse_ok(&read_fixture(
        "meta-doc_status_delivered_pmp_marketing_with_bsuid_contact.json",
    ));
    let good = serde_json::to_value(&batch.statuses[0]).unwrap();
    assert!(serde_json::from_value::<StatusEvent>(good.clone()).is_ok());
    for (field, bad) in [
        ("wamid", json!("has space")),
        ("phone_number_id", json!("+1555")),
        ("status", json!("")),
        ("timestamp", json!("1750030073")),
        ("recipient_id", json!("x".repeat(PersonalId::LEN_MAX + 1))),
    ] {
        let mut tampered = good.clone();
        tampered[field] = bad;
        assert!(
            serde_json::from_value::<StatusEvent>(tampered).is_err(),
            "{field}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary input

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        "[a-z0-9_.<>+=]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("whatsapp_business_account"),
            Just("messages"),
            Just("delivered"),
            Just("PMP"),
            Just("regular"),
            Just("106540352242922"),
            Just("1750030073"),
        ]
        .prop_map(Value::from),
    ];
    let keys = prop_oneof![
        Just("object"),
        Just("entry"),
        Just("id"),
        Just("changes"),
        Just("field"),
        Just("value"),
        Just("metadata"),
        Just("phone_number_id"),
        Just("statuses"),
        Just("messages"),
        Just("status"),
        Just("timestamp"),
        Just("pricing"),
        Just("pricing_model"),
        Just("billable"),
        Just("type"),
        Just("conversation"),
        Just("errors"),
        Just("recipient_type"),
        Just("referral"),
        Just("other"),
    ];
    leaf.prop_recursive(6, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(str::to_owned), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_parser(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_webhook(&body);
        let _ = verify_and_parse(&secret(), Some(b"sha256=00"), &body);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..15,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let bodies = fixture_bodies();
        let (_, body) = &bodies[which % bodies.len()];
        let mut body = body.clone();
        for (index, byte) in flips {
            let at = index.index(body.len());
            body[at] = byte;
        }
        if let Ok(batch) = parse_webhook(&body) {
            for status in &batch.statuses {
                let _ = decide_charge(status);
            }
        }
    }

    #[test]
    fn arbitrary_json_never_panics_and_every_event_round_trips(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Ok(batch) = parse_webhook(&body) {
            for status in &batch.statuses {
                let _ = decide_charge(status);
                let json = serde_json::to_string(status).unwrap();
                prop_assert_eq!(&serde_json::from_str::<StatusEvent>(&json).unwrap(), status);
            }
        }
    }
}
