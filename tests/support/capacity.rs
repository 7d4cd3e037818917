//! Write units by AWS's published rules, from the items as stored: DynamoDB Local does not
//! report transactional capacity the way DynamoDB does, so benchmarks compute it.
//!
//! Item size: attribute names plus values; strings and binaries by length, numbers about one byte
//! per two significant digits plus one, booleans and nulls one byte, lists and maps three bytes
//! plus one per element plus their contents. A transactional write costs 2 units per started KB
//! of the item (the larger of before and after, for an update).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => {
            let digits = number
                .trim_start_matches('-')
                .chars()
                .filter(char::is_ascii_digit)
                .count();
            digits.div_ceil(2) + 1
        }
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(items) => {
            3 + items.iter().map(|item| 1 + value_size(item)).sum::<usize>()
        }
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, item)| 1 + name.len() + value_size(item))
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// Units one transactional write of an item of `size` bytes costs.
pub fn transactional_write_units(size: usize) -> u64 {
    2 * size.div_ceil(1024).max(1) as u64
}
