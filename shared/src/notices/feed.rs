//! Feed cursors: the last notice of a page, `<stored ms:020>#<event id>`, of the caller's account.

use super::event::EventId;
use crate::ids::AccountId;

/// Whether `cursor` is one the feed could have answered for `account`.
pub fn is_feed_cursor(account: &AccountId, cursor: &str) -> bool {
    let Some((ms, id)) = cursor.split_once('#') else {
        return false;
    };
    let Ok(id) = EventId::parse(id) else {
        return false;
    };
    ms.len() == 20 && ms.bytes().all(|b| b.is_ascii_digit()) && &id.account() == account
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_name_the_caller_s_own_notices() {
        let acme = AccountId::parse("acme").unwrap();
        assert!(is_feed_cursor(
            &acme,
            "00000000000000000005#balance.low:acme:12"
        ));
        assert!(!is_feed_cursor(
            &acme,
            "00000000000000000005#balance.low:other:12"
        ));
        assert!(!is_feed_cursor(&acme, "5#balance.low:acme:12"));
        assert!(!is_feed_cursor(&acme, "garbage"));
    }
}
