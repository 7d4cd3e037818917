//! Query strings: decoded into bounded name/value pairs, with the checks every paged list shares.

use super::error::ApiError;

/// Query strings longer than this are refused before they are decoded.
pub const QUERY_LEN_MAX: usize = 2048;
/// Pairs one query may hold (a list takes a handful).
const PAIRS_MAX: usize = 16;

/// The decoded `name=value` pairs of `query` (`+` and `%XX` decoded); a 400 or a 422 naming the
/// parameter when the query is too long, has too many pairs or is not decodable.
pub fn pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let query = query.unwrap_or("");
    if query.len() > QUERY_LEN_MAX {
        return Err(ApiError::bad_request("the query string is too long"));
    }
    let raw: Vec<&str> = query.split('&').filter(|pair| !pair.is_empty()).collect();
    if raw.len() > PAIRS_MAX {
        return Err(ApiError::bad_request(
            "the query string has too many parameters",
        ));
    }
    raw.into_iter()
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name)
                .ok_or_else(|| ApiError::bad_request("bad percent-encoding"))?;
            let value = percent_decode(value)
                .ok_or_else(|| ApiError::invalid_field(&name, "bad percent-encoding"))?;
            Ok((name, value))
        })
        .collect()
}

/// A page size from 1 to `max`.
pub fn limit(value: &str, max: u32) -> Result<u32, ApiError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|limit| (1..=max).contains(limit))
        .ok_or_else(|| {
            ApiError::invalid_field("limit", format!("expected a number from 1 to {max}"))
        })
}

/// The error for a parameter a list does not take.
pub fn unknown(name: &str, expected: &str) -> ApiError {
    ApiError::invalid_field(
        name.get(..32).unwrap_or(name),
        format!("unknown query parameter (expected {expected})"),
    )
}

/// Decodes `%XX` and `+`; `None` for malformed escapes or non-UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                decoded.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                index += 3;
            }
            b'+' => {
                decoded.push(b' ');
                index += 1;
            }
            byte => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_and_every_bound_is_a_4xx() {
        let decoded = pairs(Some("from=2026-01-01T00%3A00%3A00Z&note=a+b&flag")).unwrap();
        assert_eq!(decoded[0], ("from".into(), "2026-01-01T00:00:00Z".into()));
        assert_eq!(decoded[1], ("note".into(), "a b".into()));
        assert_eq!(decoded[2], ("flag".into(), String::new()));
        assert!(
            pairs(Some("limit=%zz"))
                .unwrap_err()
                .message
                .starts_with("limit: ")
        );
        assert!(pairs(Some(&"a=1&".repeat(17))).is_err());
        assert!(pairs(Some(&"x".repeat(QUERY_LEN_MAX + 1))).is_err());
        assert_eq!(limit("100", 100), Ok(100));
        for bad in ["0", "101", "-1", "ten"] {
            assert!(limit(bad, 100).unwrap_err().message.starts_with("limit: "));
        }
    }
}
