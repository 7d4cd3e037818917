//! The store contract (`store_contract/`) on DynamoDB Local, plus exact number round trips through it.

mod store_contract;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use imcredits::adapters::dynamodb::codec::{decimal_from_n, decimal_to_n};
use imcredits_tests::{Backend, TEST_TABLE, dynamo_store};
use rust_decimal::Decimal;

macro_rules! contract_on_dynamodb_local {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                store_contract::$name(&Backend::dynamodb_local()).await;
            }
        )*
    };
}

contract_on_dynamodb_local!(
    the_same_entry_posted_twenty_times_moves_the_balance_once,
    eight_tasks_of_fifty_charges_end_exact_with_a_gap_free_chain,
    a_write_that_fails_once_and_is_retried_ends_as_if_it_had_not_failed,
    a_batch_with_some_duplicates_posts_the_rest_and_reports_each,
    statement_pages_return_every_entry_once_in_order,
    a_delivered_charge_may_overdraw_and_then_blocks_sending,
    refused_postings_change_nothing,
    a_wallet_is_created_once,
    a_phone_number_routes_to_one_wallet,
    extras_commit_with_new_entries_only,
    // Purchases.
    a_purchase_is_recorded_once_and_credited_once_whatever_the_order,
    a_fulfilment_whose_answer_is_lost_is_credited_once_on_retry,
    purchase_history_pages_newest_first_within_one_account,
    the_newest_purchase_s_card_is_kept,
    // Auto-recharge.
    the_due_index_follows_balance_and_settings,
    the_recharge_lock_is_written_once_per_revision,
    a_table_made_before_the_due_index_gains_it,
);

mod number_round_trip {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Amounts written as DynamoDB numbers come back from DynamoDB Local exactly.
        #[test]
        fn amounts_survive_dynamodb_local_exactly(
            mantissa in -(10i128.pow(21))..10i128.pow(21),
            scale in 0u32..=6,
        ) {
            let amount = Decimal::from_i128_with_scale(mantissa, scale);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let read_back = runtime.block_on(async {
                let store = dynamo_store().await;
                let key = HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(format!("PROPTEST#{mantissa}#{scale}"))),
                    ("sk".to_owned(), AttributeValue::S("N".to_owned())),
                ]);
                let mut item = key.clone();
                item.insert("amount".to_owned(), decimal_to_n(amount));
                store.client().put_item().table_name(TEST_TABLE).set_item(Some(item)).send().await.unwrap();
                let output = store
                    .client()
                    .get_item()
                    .table_name(TEST_TABLE)
                    .set_key(Some(key))
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap();
                let text = output.item().unwrap()["amount"].as_n().unwrap().clone();
                decimal_from_n(&text)
            });
            prop_assert_eq!(read_back, Some(amount));
        }
    }
}
