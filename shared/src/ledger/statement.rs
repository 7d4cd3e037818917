//! The statement cursor: where the next, older page of a statement starts.

use crate::ids::{IdError, decode_cursor, encode_cursor, invalid_cursor};

/// Opaque to callers: it encodes the sequence number of the newest entry of the next page. It
/// names no account, so a cursor taken from one wallet reveals nothing of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementCursor {
    seq_max: u64,
}

const CURSOR_PREFIX: &str = "s1.";
const CURSOR_LEN_MAX: usize = 64;

impl StatementCursor {
    /// The next page starts at entry `seq_max` (which must exist: sequence numbers start at 1).
    pub fn starting_at(seq_max: u64) -> Self {
        assert!(seq_max >= 1, "a statement cursor points at an entry");
        Self { seq_max }
    }

    pub fn seq_max(&self) -> u64 {
        self.seq_max
    }

    pub fn encode(&self) -> String {
        encode_cursor(CURSOR_PREFIX, &self.seq_max.to_string())
    }

    pub fn decode(text: &str) -> Result<Self, IdError> {
        let digits = decode_cursor(text, CURSOR_PREFIX, CURSOR_LEN_MAX)?;
        let seq_max = Some(digits.as_str())
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok())
            .filter(|seq| *seq >= 1)
            .ok_or_else(invalid_cursor)?;
        Ok(Self { seq_max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = StatementCursor::starting_at(4_242);
        assert_eq!(StatementCursor::decode(&cursor.encode()), Ok(cursor));
        for bad in ["", "!!", "czEuMA", "czEu", "eHl6", &"A".repeat(65)] {
            assert!(StatementCursor::decode(bad).is_err(), "{bad:?} decoded");
        }
    }
}
