//! Meta's webhook over HTTP: the GET handshake, and POSTs checked, normalised and enqueued for
//! billing. It reads no table: everything it needs is the app secret, the verify token and a queue.
//! Served by the webhook function (through `lambda_http`) and by the local runner.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use tracing::{error, info, warn};

use crate::api::error::ApiError;
use crate::billing::message::pack;
use crate::meta::{
    AppSecret, BODY_LEN_MAX, EnvelopeError, HandshakeQuery, SIGNATURE_HEADER, VerifyToken,
    WebhookRejection, answer_handshake, verify_and_parse,
};
use crate::ports::metrics::{self, Metric};
use crate::ports::queue::QueueSend;

pub const WEBHOOK_PATH: &str = "/webhooks/meta";

pub struct WebhookApp<Q> {
    pub secret: AppSecret,
    pub verify_token: VerifyToken,
    /// The billing queue.
    pub queue: Q,
}

type Shared<Q> = Arc<WebhookApp<Q>>;

/// The webhook's routes (listed for the OpenAPI check, like the API's).
pub fn routes<Q: QueueSend + Send + Sync + 'static>()
-> Vec<(Method, &'static str, MethodRouter<Shared<Q>>)> {
    vec![
        (Method::GET, WEBHOOK_PATH, get(handshake::<Q>)),
        (
            Method::POST,
            WEBHOOK_PATH,
            axum::routing::post(receive::<Q>).layer(DefaultBodyLimit::max(BODY_LEN_MAX)),
        ),
    ]
}

pub fn router<Q: QueueSend + Send + Sync + 'static>(app: WebhookApp<Q>) -> Router {
    let mut method_router: Option<MethodRouter<Shared<Q>>> = None;
    for (_, _, handler) in routes::<Q>() {
        method_router = Some(match method_router {
            Some(existing) => existing.merge(handler),
            None => handler,
        });
    }
    let method_router = method_router.expect("the webhook has routes");
    Router::new()
        .route(WEBHOOK_PATH, method_router)
        .layer(axum::middleware::map_response(
            crate::api::envelope::envelope_errors,
        ))
        .with_state(Arc::new(app))
}

/// Answers `hub.challenge` as plain text only for `hub.mode=subscribe` and the right token.
async fn handshake<Q>(State(app): State<Shared<Q>>, RawQuery(query): RawQuery) -> Response {
    let Ok(pairs) = crate::api::query::pairs(query.as_deref()) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let answer = HandshakeQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .and_then(|parsed| answer_handshake(&app.verify_token, &parsed).map(str::to_owned));
    match answer {
        Ok(challenge) => {
            info!("webhook subscription verified");
            ([(header::CONTENT_TYPE, "text/plain")], challenge).into_response()
        }
        Err(refusal) => {
            warn!(%refusal, "webhook handshake refused");
            StatusCode::FORBIDDEN.into_response()
        }
    }
}

/// 200 only once every event is on the billing queue; otherwise an error, so Meta sends it again.
async fn receive<Q: QueueSend + Send + Sync>(
    State(app): State<Shared<Q>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    // Past the route's limit the body is never read in full; the 413 is the envelope's.
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return crate::api::json::too_large(BODY_LEN_MAX).into_response();
        }
        Err(_) => return ApiError::bad_request("body: could not be read").into_response(),
    };
    let signature = headers.get(SIGNATURE_HEADER).map(|value| value.as_bytes());
    let batch = match verify_and_parse(&app.secret, signature, &body) {
        Ok(batch) => batch,
        Err(WebhookRejection::Signature(refusal)) => {
            warn!(%refusal, "webhook signature refused");
            return ApiError::unauthorized("the X-Hub-Signature-256 signature does not match")
                .into_response();
        }
        Err(WebhookRejection::Envelope(EnvelopeError::TooLarge { body_len })) => {
            warn!(body_len, "webhook body too large");
            return crate::api::json::too_large(BODY_LEN_MAX).into_response();
        }
        Err(WebhookRejection::Envelope(EnvelopeError::NotWhatsApp { object })) => {
            // Signed by Meta but for another product: nothing to bill, and a refusal would only
            // make Meta send it again for days.
            info!(?object, "webhook for another object ignored");
            return StatusCode::OK.into_response();
        }
        Err(WebhookRejection::Envelope(refusal)) => {
            warn!(%refusal, "webhook body refused");
            return ApiError::bad_request(refusal.to_string()).into_response();
        }
    };
    let report = &batch.report;
    if report.possibly_billable_lost() {
        error!(counts = ?report.counts, skipped = ?report.skipped, "webhook skipped items that may be billable");
        metrics::count(Metric::PossiblyBillableSkipped, 1);
    } else if !report.skipped.is_empty() || !report.unknown_fields.is_empty() {
        info!(counts = ?report.counts, unknown_fields = ?report.unknown_fields, skipped = ?report.skipped, "webhook parsed with omissions");
    }
    let mut bodies = pack(&batch);
    // Volume tier updates (`account_update`) travel to billing as a message of their own.
    let (tier_updates, malformed) = crate::meta::account_update::tier_updates(&body);
    if malformed > 0 {
        error!(malformed, "tier updates Meta sent could not be read");
        metrics::count(Metric::PossiblyBillableSkipped, malformed);
    }
    bodies.extend(crate::billing::tier_message::pack_tier_updates(&tier_updates));
    if bodies.is_empty() {
        return StatusCode::OK.into_response();
    }
    match app.queue.send_all(&bodies).await {
        Ok(()) => {
            info!(
                statuses = batch.statuses.len(),
                inbound = batch.messages.len(),
                messages = bodies.len(),
                "webhook enqueued"
            );
            metrics::count(Metric::Deliveries, 1);
            StatusCode::OK.into_response()
        }
        Err(refusal) => {
            error!(%refusal, "webhook could not be enqueued; Meta will retry");
            ApiError::unavailable("could not enqueue the events; retry").into_response()
        }
    }
}
