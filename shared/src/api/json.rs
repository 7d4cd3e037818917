//! JSON request bodies: bounded, `application/json`, unknown fields rejected by the request types
//! (`#[serde(deny_unknown_fields)]`), and every failure a 4xx that names the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Request bodies are small documents; anything larger is refused before it is read in full.
pub const REQUEST_BODY_LEN_MAX: usize = 64 * 1024;

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
        // The router's body limit (DefaultBodyLimit) makes reading past REQUEST_BODY_LEN_MAX fail.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("request bodies are at most {REQUEST_BODY_LEN_MAX} bytes"),
                    )
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses a body, naming the field at fault (`auto_recharge.credits: invalid type ...`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
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
