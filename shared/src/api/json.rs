//! JSON request bodies: bounded, `application/json`, unknown fields rejected by the request types
//! (`#[serde(deny_unknown_fields)]`), and every failure a 4xx that names the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Request bodies are small documents; anything larger is refused before it is read in full.
pub const REQUEST_BODY_LEN_MAX: usize = 64 * 1024;

/// The body limit of a route that takes more than [`REQUEST_BODY_LEN_MAX`]: set next to its
/// `DefaultBodyLimit` (see [`body_limit`]) so that its 413 states the limit that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLenMax(pub usize);

/// A route's body limit: the limit itself, and the extension its 413 reads the figure from.
pub fn body_limit<S>(
    route: axum::routing::MethodRouter<S>,
    len_max: usize,
) -> axum::routing::MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route
        .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(len_max))
        .layer::<_, std::convert::Infallible>(axum::Extension(BodyLenMax(len_max)))
}

pub use crate::web::error::too_large;

/// A JSON body of type `T`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                let media_type = value.split(';').next().unwrap_or("").trim();
                media_type.eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            ));
        }
        // The route's body limit (DefaultBodyLimit) makes reading past it fail.
        let len_max = request
            .extensions()
            .get::<BodyLenMax>()
            .map_or(REQUEST_BODY_LEN_MAX, |limit| limit.0);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large(len_max)
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses a body, naming the field at fault (`auto_recharge.credits: invalid type ...`).
///
/// Only a JSON object is a body: serde would otherwise read an array positionally into a struct
/// (`["ARR-1", 2, "store"]` as a grant), which no caller means.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "body: must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let out_of_range = inner.to_string().starts_with("number out of range");
        if inner.is_syntax() && path != "." && out_of_range {
            // Valid JSON (`1e400`) that no number type here holds: the field's value is wrong.
            ApiError::invalid_field(&path, "number out of range")
        } else if inner.is_syntax() && path != "." && is_json(bytes) {
            // serde_json reports a well-formed value of the wrong type for an enum (`"source": 5`)
            // as a syntax error; the body is JSON, so it is the field that is wrong.
            ApiError::invalid_field(
                &path,
                "has the wrong type (see the API's documented values)",
            )
        } else if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("the body is not valid JSON: {inner}"))
        } else if path == "." {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                inner.to_string(),
            )
        } else {
            ApiError::invalid_field(&path, inner)
        }
    })?;
    deserializer
        .end()
        .map_err(|_| ApiError::bad_request("the body has trailing characters after its JSON"))?;
    Ok(value)
}

/// Whether `bytes` are well-formed JSON (of any shape).
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        enabled: bool,
        credits: u32,
    }

    #[test]
    fn failures_name_the_field_and_pick_the_status() {
        let wrong_type = parse::<Settings>(br#"{"enabled": true, "credits": -1}"#).unwrap_err();
        assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            wrong_type.message.starts_with("credits: "),
            "{}",
            wrong_type.message
        );

        let unknown = parse::<Settings>(br#"{"enabled": true, "credits": 1, "x": 1}"#).unwrap_err();
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            unknown.message.contains("unknown field `x`"),
            "{}",
            unknown.message
        );

        let missing = parse::<Settings>(br#"{"enabled": true}"#).unwrap_err();
        assert!(
            missing.message.contains("missing field `credits`"),
            "{}",
            missing.message
        );

        let syntax = parse::<Settings>(b"{").unwrap_err();
        assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
        let trailing = parse::<Settings>(br#"{"enabled": true, "credits": 1} x"#).unwrap_err();
        assert_eq!(trailing.status, StatusCode::BAD_REQUEST);
    }
}
