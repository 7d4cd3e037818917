//! The last line of the error contract: every 4xx and 5xx leaves in the
//! `{"error":{"code","message"}}` envelope, including the ones no handler of ours wrote (axum's own
//! rejections of a path, a query or a body it could not read are plain text).

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// How much of a plain-text refusal is kept as the message (axum's are one line).
const PLAIN_MESSAGE_LEN_MAX: usize = 1024;

/// The code an error status gets when nothing more specific named it.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_field",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        status if status.is_client_error() => "bad_request",
        _ => "internal",
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// Rewrites an error answer that is not JSON into the envelope, keeping its status and (bounded)
/// its text as the message. Success answers and JSON errors pass untouched.
pub async fn envelope_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let bytes = axum::body::to_bytes(response.into_body(), PLAIN_MESSAGE_LEN_MAX)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("refused").to_owned(),
        text => text.to_owned(),
    };
    ApiError::new(status, code_of(status), message).into_response()
}

/// A plain-text refusal turned into an envelope (for tests of the layer itself).
pub fn plain(status: StatusCode, text: &str) -> Response {
    (status, Body::from(text.to_owned())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn plain_refusals_become_envelopes_and_json_passes() {
        let rewritten = envelope_errors(plain(StatusCode::BAD_REQUEST, "Invalid URL")).await;
        assert_eq!(rewritten.status(), StatusCode::BAD_REQUEST);
        let body = rewritten.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "bad_request");
        assert_eq!(json["error"]["message"], "Invalid URL");

        let ok = envelope_errors(plain(StatusCode::OK, "challenge")).await;
        let body = ok.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"challenge");

        let forbidden = envelope_errors(StatusCode::FORBIDDEN.into_response()).await;
        let body = forbidden.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "forbidden");
    }
}
