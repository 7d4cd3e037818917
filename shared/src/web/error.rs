//! API errors: `{"error": {"code": "...", "message": "..."}}` with the status that tells the caller
//! what to do (fix the request, authenticate, retry later).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ports::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A well-formed request whose `field` has a value the API does not accept.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("{field}: {problem}"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Detail {
                code: self.code,
                message: &self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::money::NotSold> for ApiError {
    fn from(error: crate::money::NotSold) -> Self {
        Self::conflict(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::WalletNotFound(account) => {
                ApiError::not_found(format!("account {account} has no wallet"))
            }
            StoreError::WalletExists(account) => {
                ApiError::conflict(format!("account {account} already has a wallet"))
            }
            StoreError::RouteTaken(phone) => ApiError::conflict(format!(
                "phone number {phone} is attached to another account; detach it there first"
            )),
            StoreError::RateCardExists { .. } => ApiError::conflict(format!(
                "{error}; rate cards are immutable: upload a new version with a later effective_from"
            )),
            StoreError::WabaTaken(waba) => ApiError::conflict(format!(
                "WABA {waba} is attached to another account; detach it there first"
            )),
            StoreError::TiersExist { .. } => ApiError::conflict(format!(
                "{error}; tiers files are immutable: upload a new version with a later effective_from"
            )),
            StoreError::MarketListConflict(_) => ApiError::conflict(format!(
                "{error}; market lists are immutable: upload a new version with a later effective_from"
            )),
            StoreError::RateBookFull(_) | StoreError::ExtraRefused(_) => {
                ApiError::conflict(error.to_string())
            }
            StoreError::Rejected(reason) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rejected",
                reason.to_string(),
            ),
            StoreError::Labels(reason) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rejected",
                reason.to_string(),
            ),
            StoreError::Contended { .. } | StoreError::Unavailable(_) => {
                tracing::warn!(%error, "store unavailable");
                ApiError::unavailable("the store is busy; retry the request")
            }
            StoreError::Corrupt(_) => {
                tracing::error!(%error, "stored data is corrupt");
                ApiError::internal()
            }
        }
    }
}

/// The 413 every route answers for a body over `len_max` bytes.
pub fn too_large(len_max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("body: request bodies on this route are at most {len_max} bytes"),
    )
}
