//! Cursors of the two lists of events kept by time, the notice feed and an endpoint's deliveries,
//! on the one cursor codec (`ids::encode_cursor`): the body is the position of a page's last item,
//! `<stored ms:020>#<event id>`, the rest of its sort key.

use super::event::EventId;
use crate::ids::{AccountId, decode_cursor, encode_cursor};

/// Longest cursor either list accepts, in characters: a position of at most 300, in base64.
pub const EVENT_CURSOR_LEN_MAX: usize = 420;

/// Which list a cursor pages; its prefix names the list and the cursor's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventList {
    Feed,
    Deliveries,
}

impl EventList {
    fn prefix(self) -> &'static str {
        match self {
            Self::Feed => "feed.v1:",
            Self::Deliveries => "deliveries.v1:",
        }
    }

    /// The opaque cursor of a page that ended at `position`.
    pub fn encode(self, position: &str) -> String {
        encode_cursor(self.prefix(), position)
    }

    /// The position a cursor of this list names, if it is one this API issued.
    pub fn decode(self, cursor: &str) -> Option<String> {
        let position = decode_cursor(cursor, self.prefix(), EVENT_CURSOR_LEN_MAX).ok()?;
        event_of(&position).is_some().then_some(position)
    }
}

/// The event of a position `<stored ms:020>#<event id>`.
fn event_of(position: &str) -> Option<EventId> {
    let (ms, id) = position.split_once('#')?;
    let digits = ms.len() == 20 && ms.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| EventId::parse(id).ok()).flatten()
}

/// Whether `position` is one the feed could have answered for `account`.
pub fn is_feed_cursor(account: &AccountId, position: &str) -> bool {
    event_of(position).is_some_and(|id| &id.account() == account)
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

    #[test]
    fn event_cursors_use_the_one_codec_and_name_their_list() {
        let position = "00000000000000000005#balance.low:acme:12";
        let cursor = EventList::Feed.encode(position);
        assert_eq!(cursor, encode_cursor("feed.v1:", position));
        assert!(!cursor.contains('#'), "opaque: {cursor}");
        assert_eq!(EventList::Feed.decode(&cursor).as_deref(), Some(position));
        // A deliveries cursor is not a feed cursor, nor the raw position a cursor at all.
        let deliveries = EventList::Deliveries.encode(position);
        assert_eq!(EventList::Feed.decode(&deliveries), None);
        assert_eq!(
            EventList::Deliveries.decode(&deliveries).as_deref(),
            Some(position)
        );
        assert_eq!(EventList::Feed.decode(position), None);
        // A cursor of the codec whose body is not a position is refused.
        assert_eq!(EventList::Feed.decode(&EventList::Feed.encode("5#x")), None);
    }
}
