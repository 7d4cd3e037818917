//! The HTTP side: one form-encoded POST to Stripe, with timeouts, bounded retries under the same
//! `Idempotency-Key`, and the answer sorted by what the caller must do.

use std::fmt;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use serde::Deserialize;

use crate::payments::IdempotencyKey;
use crate::ports::payments::{PaymentError, RetryCause};

/// Stripe's production API.
pub const STRIPE_API_BASE_URL: &str = "https://api.stripe.com";

/// Stripe answers in a few KiB; anything much larger is not Stripe, and is not read into memory.
const RESPONSE_BODY_LEN_MAX: usize = 1024 * 1024;
/// Error messages from outside are kept to this many characters in our errors and logs.
const MESSAGE_LEN_MAX: usize = 300;

/// A Stripe secret (`sk_…`) or restricted (`rk_…`) API key. Its `Debug` never shows it, and it
/// has no `Display`, so it cannot end up in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSecretKey(String);

impl StripeSecretKey {
    pub fn parse(text: &str) -> Result<Self, StripeSetupError> {
        let known_prefix = text.starts_with("sk_") || text.starts_with("rk_");
        // Visible ASCII only: the key goes into a header, and a stray newline from a secret store
        // would otherwise be a confusing 401 on the first request.
        let clean = text.len() <= 255 && text.bytes().all(|byte| byte.is_ascii_graphic());
        if !known_prefix || !clean {
            return Err(StripeSetupError::SecretKey);
        }
        Ok(Self(text.to_owned()))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StripeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StripeSecretKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StripeSetupError {
    #[error("the Stripe secret key must start with sk_ or rk_ and hold only visible ASCII")]
    SecretKey,
    #[error("invalid Stripe base URL: {0}")]
    BaseUrl(&'static str),
    #[error("invalid Stripe client setting: {0}")]
    Setting(&'static str),
    #[error("could not build the HTTP client: {0}")]
    Http(String),
}

/// How the adapter talks to Stripe. Built once at cold start.
///
/// The worst case of one call is `(retries_max + 1) × timeout_request_ms + retries_max ×
/// backoff_max_ms`; with the defaults 3 × 8 s + 2 × 1 s = 26 s, which fits under API Gateway's
/// 30 s limit for the checkout function. The calling function's own timeout must exceed it.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com` in production; tests point it at a local stand-in.
    pub base_url: String,
    pub secret_key: StripeSecretKey,
    /// Sent as `Stripe-Version` when set, so the shape of answers does not change when the
    /// account's default API version is upgraded in the dashboard.
    pub api_version: Option<String>,
    pub timeout_connect_ms: u64,
    /// The whole exchange: connect, send, and read the answer.
    pub timeout_request_ms: u64,
    /// Retries after the first attempt, for timeouts, connection errors, 409, 429 and 5xx.
    pub retries_max: u32,
    /// Exponential backoff with full jitter ([`crate::adapters::backoff`]): the n-th retry waits
    /// up to `min(backoff_base_ms × 2ⁿ, backoff_max_ms)`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

impl StripeConfig {
    pub const TIMEOUT_CONNECT_MS_DEFAULT: u64 = 3_000;
    pub const TIMEOUT_REQUEST_MS_DEFAULT: u64 = 8_000;
    pub const RETRIES_MAX_DEFAULT: u32 = 2;
    pub const BACKOFF_BASE_MS_DEFAULT: u64 = 250;
    pub const BACKOFF_MAX_MS_DEFAULT: u64 = 1_000;
    /// No call may retry more than this, whatever the configuration says: a payment call that keeps
    /// failing belongs to the caller's retry (the queue, the next sweep), not to a busy loop here.
    pub const RETRIES_ABS_MAX: u32 = 5;

    /// Production settings for `secret_key`.
    pub fn new(secret_key: StripeSecretKey) -> Self {
        Self {
            base_url: STRIPE_API_BASE_URL.to_owned(),
            secret_key,
            api_version: None,
            timeout_connect_ms: Self::TIMEOUT_CONNECT_MS_DEFAULT,
            timeout_request_ms: Self::TIMEOUT_REQUEST_MS_DEFAULT,
            retries_max: Self::RETRIES_MAX_DEFAULT,
            backoff_base_ms: Self::BACKOFF_BASE_MS_DEFAULT,
            backoff_max_ms: Self::BACKOFF_MAX_MS_DEFAULT,
        }
    }
}

/// The Stripe adapter: implements [`CheckoutCreate`](crate::ports::payments::CheckoutCreate) and
/// [`OffSessionCharge`](crate::ports::payments::OffSessionCharge). Cheap to clone (the connection
/// pool is shared).
#[derive(Debug, Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    /// Without a trailing slash; paths are appended as `/v1/...`.
    base_url: String,
    secret_key: StripeSecretKey,
    retries_max: u32,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
}

/// A failed call, before the endpoint decides what it means (a 402 is a decline for a charge).
#[derive(Debug)]
pub(crate) enum CallFailure {
    /// Stripe (or something at the base URL) answered with a status other than 2xx; if the
    /// status was retryable, the retries are used up.
    Status {
        status: u16,
        error: ApiError,
        retryable: bool,
        attempts: u32,
    },
    /// No answer: timeout or connection failure, retries used up.
    Transport { cause: RetryCause, attempts: u32 },
    /// The request could not be built (an invalid header value): our bug or configuration.
    Setup(String),
}

/// Stripe's error object: `{"error": {"type", "code", "decline_code", "message", ...}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
    /// On a failed charge, the PaymentIntent it left behind.
    pub payment_intent: Option<ApiErrorPaymentIntent>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ApiErrorPaymentIntent {
    pub id: Option<String>,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    error: ApiError,
}

impl ApiError {
    fn from_body(body: &[u8]) -> Self {
        serde_json::from_slice::<ApiErrorBody>(body)
            .map(|parsed| parsed.error)
            .unwrap_or_default()
    }

    pub fn message_bounded(&self) -> String {
        bounded(self.message.as_deref().unwrap_or("no message"))
    }
}

pub(crate) fn bounded(text: &str) -> String {
    text.chars().take(MESSAGE_LEN_MAX).collect()
}

/// Statuses where the same request may succeed later: 409 (a request with the same idempotency key
/// is still in flight), 429 (rate limit or lock timeout) and 5xx. Stripe may override this either
/// way with `Stripe-Should-Retry`.
fn is_retryable_status(status: u16) -> bool {
    status == 409 || status == 429 || status >= 500
}

impl CallFailure {
    /// The meaning of a failure for any endpoint (a charge first handles 402 itself).
    pub(crate) fn into_payment_error(self) -> PaymentError {
        match self {
            CallFailure::Transport { cause, attempts } => {
                PaymentError::Retryable { cause, attempts }
            }
            CallFailure::Setup(reason) => PaymentError::Misconfigured(reason),
            CallFailure::Status {
                status,
                error,
                retryable: true,
                attempts,
            } => PaymentError::Retryable {
                cause: RetryCause::Status {
                    status,
                    code: error.code,
                },
                attempts,
            },
            // 401: the key is wrong or revoked; 403: a restricted key lacks a permission; 404: our
            // paths are fixed, so the base URL is wrong.
            CallFailure::Status {
                status: status @ (401 | 403 | 404),
                error,
                ..
            } => PaymentError::Misconfigured(format!(
                "Stripe answered {status} ({}): {}",
                error.kind.as_deref().unwrap_or("no type"),
                error.message_bounded()
            )),
            CallFailure::Status {
                status: status @ 400..=499,
                error,
                ..
            } => PaymentError::Rejected {
                status,
                message: error.message_bounded(),
                code: error.code,
            },
            // 1xx and 3xx (redirects are not followed): whatever answered is not Stripe's API.
            CallFailure::Status { status, .. } => {
                PaymentError::Misconfigured(format!("unexpected HTTP status {status}"))
            }
        }
    }
}

impl StripeClient {
    pub fn new(config: StripeConfig) -> Result<Self, StripeSetupError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|_| StripeSetupError::BaseUrl("not an absolute URL"))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
            return Err(StripeSetupError::BaseUrl(
                "must be an http(s) URL with a host",
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(StripeSetupError::BaseUrl(
                "must not have a query or fragment",
            ));
        }
        if config.timeout_connect_ms == 0 || config.timeout_request_ms == 0 {
            return Err(StripeSetupError::Setting("timeouts must be positive"));
        }
        if config.retries_max > StripeConfig::RETRIES_ABS_MAX {
            return Err(StripeSetupError::Setting("retries_max is at most 5"));
        }
        if config.backoff_base_ms > config.backoff_max_ms {
            return Err(StripeSetupError::Setting(
                "backoff_base_ms must not exceed backoff_max_ms",
            ));
        }

        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("imcredits/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(version) = &config.api_version {
            let value = HeaderValue::from_str(version)
                .map_err(|_| StripeSetupError::Setting("api_version is not a header value"))?;
            headers.insert("Stripe-Version", value);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.timeout_connect_ms))
            .timeout(Duration::from_millis(config.timeout_request_ms))
            // A redirect is never part of Stripe's API; following one would resend the key.
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .map_err(|error| StripeSetupError::Http(error.to_string()))?;
        Ok(Self {
            http,
            base_url,
            secret_key: config.secret_key,
            retries_max: config.retries_max,
            backoff_base_ms: config.backoff_base_ms,
            backoff_max_ms: config.backoff_max_ms,
        })
    }

    /// POSTs a form-encoded `body` to `/v1/{path}` and returns the 2xx answer's body. Retries
    /// timeouts, connection errors and retryable statuses up to `retries_max` times, always with
    /// the same `Idempotency-Key`, so Stripe performs the operation at most once.
    pub(crate) async fn post_form(
        &self,
        path: &'static str,
        body: String,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Vec<u8>, CallFailure> {
        let url = format!("{}/v1/{path}", self.base_url);
        let key = HeaderValue::from_str(idempotency_key.as_str())
            .map_err(|_| CallFailure::Setup("idempotency key is not a header value".into()))?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let failure = match self.attempt(&url, &body, &key).await {
                Ok(Attempt::Success(answer)) => return Ok(answer),
                Ok(Attempt::Status {
                    status,
                    body,
                    should_retry,
                }) => {
                    let retryable = should_retry.unwrap_or_else(|| is_retryable_status(status));
                    let failure = CallFailure::Status {
                        status,
                        error: ApiError::from_body(&body),
                        // Stripe saying "don't retry" (it would replay a saved 5xx) stops this
                        // loop, but the outcome is still unknown to the caller, so a 5xx stays
                        // retryable for it.
                        retryable: retryable || is_retryable_status(status),
                        attempts,
                    };
                    if !retryable {
                        return Err(failure);
                    }
                    failure
                }
                Err(cause) => CallFailure::Transport { cause, attempts },
            };
            if attempts > self.retries_max {
                return Err(failure);
            }
            let delay_ms = self.backoff_ms(attempts);
            tracing::warn!(
                path,
                idempotency_key = idempotency_key.as_str(),
                attempt = attempts,
                delay_ms,
                failure = %failure_summary(&failure),
                "Stripe call failed; retrying with the same idempotency key"
            );
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
    }

    async fn attempt(
        &self,
        url: &str,
        body: &str,
        idempotency_key: &HeaderValue,
    ) -> Result<Attempt, RetryCause> {
        let response = self
            .http
            .post(url)
            // `bearer_auth` marks the header sensitive, so it is never printed by `Debug`.
            .bearer_auth(self.secret_key.expose())
            .header("Idempotency-Key", idempotency_key.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|error| transport_cause(&error))?;
        let status = response.status().as_u16();
        let should_retry = response
            .headers()
            .get("Stripe-Should-Retry")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| match value {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            });
        let body = read_bounded(response).await?;
        if (200..300).contains(&status) {
            Ok(Attempt::Success(body))
        } else {
            Ok(Attempt::Status {
                status,
                body,
                should_retry,
            })
        }
    }

    fn backoff_ms(&self, attempts: u32) -> u64 {
        let delay = crate::adapters::backoff::backoff(
            attempts.saturating_sub(1),
            Duration::from_millis(self.backoff_base_ms),
            Duration::from_millis(self.backoff_max_ms),
        );
        u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
    }
}

enum Attempt {
    Success(Vec<u8>),
    Status {
        status: u16,
        body: Vec<u8>,
        should_retry: Option<bool>,
    },
}

fn transport_cause(error: &reqwest::Error) -> RetryCause {
    if error.is_timeout() {
        RetryCause::Timeout
    } else {
        RetryCause::Connection
    }
}

/// Reads the body, refusing (as a connection failure) one larger than [`RESPONSE_BODY_LEN_MAX`].
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, RetryCause> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_cause(&error))?
    {
        if body.len() + chunk.len() > RESPONSE_BODY_LEN_MAX {
            return Err(RetryCause::Connection);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn failure_summary(failure: &CallFailure) -> String {
    match failure {
        CallFailure::Status { status, error, .. } => {
            format!("status {status}, code {:?}", error.code)
        }
        CallFailure::Transport { cause, .. } => format!("{cause:?}"),
        CallFailure::Setup(reason) => reason.clone(),
    }
}
