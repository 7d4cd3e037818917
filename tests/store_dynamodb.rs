//! The store contract (`store_contract/`) on DynamoDB Local, plus exact number round trips through it.

#[macro_use]
mod store_contract;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use imcredits::adapters::dynamodb::codec::{decimal_from_n, decimal_to_n};
use imcredits_tests::{Backend, TEST_TABLE, dynamo_store};
use rust_decimal::Decimal;

store_contract_on!(Backend::dynamodb_local());

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
