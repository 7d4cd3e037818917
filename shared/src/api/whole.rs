//! Whole numbers in request bodies. JSON has one number type, and JSON Schema (which the OpenAPI
//! file speaks) counts `3.0` as the integer 3, so a field documented as an integer takes `3` and
//! `3.0` alike. A fraction, or a float past 2^53 (where a float stops being exact), is refused as
//! the wrong type; a value outside the field's type is out of range. Each is a 422 naming the field.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The largest float every integer below is exactly representable as (2^53).
const EXACT_FLOAT_MAX: f64 = 9_007_199_254_740_992.0;

struct WholeVisitor;

impl Visitor<'_> for WholeVisitor {
    type Value = i128;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<i128, E> {
        Ok(value.into())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<i128, E> {
        Ok(value.into())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<i128, E> {
        if value.fract() == 0.0 && value.abs() <= EXACT_FLOAT_MAX {
            // Exact: a whole float within 2^53 converts without loss.
            Ok(value as i128)
        } else {
            Err(E::invalid_type(de::Unexpected::Float(value), &self))
        }
    }
}

fn whole<'de, D: Deserializer<'de>, T: TryFrom<i128>>(deserializer: D) -> Result<T, D::Error> {
    let value = deserializer.deserialize_any(WholeVisitor)?;
    T::try_from(value).map_err(|_| {
        de::Error::invalid_value(
            de::Unexpected::Other(&format!("the number {value}")),
            &"a whole number in the field's range",
        )
    })
}

/// `#[serde(deserialize_with = "whole::u64")]`
pub fn u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    whole(deserializer)
}

/// `#[serde(deserialize_with = "whole::u32")]`
pub fn u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    whole(deserializer)
}

struct WholeI64(i64);

impl<'de> Deserialize<'de> for WholeI64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        whole(deserializer).map(WholeI64)
    }
}

/// `#[serde(default, deserialize_with = "whole::option_i64")]`: absent or `null` is `None`.
pub fn option_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<WholeI64>::deserialize(deserializer)?.map(|whole| whole.0))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use crate::api::json::parse;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(deserialize_with = "super::u32")]
        credits: u32,
        #[serde(default, deserialize_with = "super::option_i64")]
        hours: Option<i64>,
    }

    #[test]
    fn whole_floats_are_integers_and_fractions_are_refused_by_field() {
        let body = parse::<Body>(br#"{"credits": 943.0, "hours": 76.0}"#).unwrap();
        assert_eq!((body.credits, body.hours), (943, Some(76)));
        let body = parse::<Body>(br#"{"credits": 3, "hours": null}"#).unwrap();
        assert_eq!((body.credits, body.hours), (3, None));
        assert_eq!(parse::<Body>(br#"{"credits": 3}"#).unwrap().hours, None);
        for (bad, field) in [
            (r#"{"credits": 1.5}"#, "credits"),
            (r#"{"credits": -1}"#, "credits"),
            (r#"{"credits": 4294967296}"#, "credits"),
            (r#"{"credits": 1e300}"#, "credits"),
            (r#"{"credits": "3"}"#, "credits"),
            (r#"{"credits": 1, "hours": 0.5}"#, "hours"),
            (r#"{"credits": 1, "hours": 9007199254740994.0}"#, "hours"),
        ] {
            let error = parse::<Body>(bad.as_bytes()).unwrap_err();
            assert_eq!(
                error.status,
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}"
            );
            assert!(
                error.message.starts_with(&format!("{field}: ")),
                "{bad}: {}",
                error.message
            );
        }
    }
}
