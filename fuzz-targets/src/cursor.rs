//! The one cursor codec (`ids::encode_cursor` / `ids::decode_cursor`) and the cursors built on it
//! (statement, purchase history), plus the notice feed's cursor check: whatever a caller sends
//! decodes or is refused, and what was encoded decodes back to itself.

use imcredits::ids::{AccountId, decode_cursor, encode_cursor};
use imcredits::ledger::StatementCursor;
use imcredits::notices::feed::is_feed_cursor;
use imcredits::payments::purchase::PurchaseCursor;

/// Longest cursor the round trip below accepts (the codec's callers use 64 and 256).
const ROUND_TRIP_LEN_MAX: usize = 4096;

/// Selector: how many of the following bytes are the prefix (mod 8); the rest is the body. Both
/// directions run on the whole input as text too.
pub fn cursor(data: &[u8]) {
    let Some((selector, rest)) = crate::split_selector(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // What a caller sends: decoded or refused, and a decoded cursor encodes to one that decodes
    // to the same position.
    if let Ok(cursor) = StatementCursor::decode(text) {
        assert_eq!(StatementCursor::decode(&cursor.encode()), Ok(cursor));
    }
    if let Ok(cursor) = PurchaseCursor::decode(text) {
        assert_eq!(
            PurchaseCursor::decode(&cursor.encode()).as_ref(),
            Ok(&cursor)
        );
    }
    let _ = decode_cursor(text, "s1.", 64);
    if let Ok(account) = AccountId::parse("fuzz-account") {
        let _ = is_feed_cursor(&account, text);
    }
    // What the API issues: any prefix and body round-trip.
    let split = usize::from(selector % 8).min(text.len());
    let Some((prefix, body)) = text.split_at_checked(split) else {
        return;
    };
    let encoded = encode_cursor(prefix, body);
    if encoded.len() <= ROUND_TRIP_LEN_MAX {
        assert_eq!(
            decode_cursor(&encoded, prefix, ROUND_TRIP_LEN_MAX).ok(),
            (!encoded.is_empty()).then(|| body.to_owned()),
            "an encoded cursor decodes to its body"
        );
    }
}
