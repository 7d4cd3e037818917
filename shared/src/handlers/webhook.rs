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

use crate::billing::message::pack;
use crate::meta::{
    AppSecret, BODY_LEN_MAX, EnvelopeError, HandshakeQuery, ParseReport, SIGNATURE_HEADER,
    VerifyToken, WebhookBatch, WebhookRejection, answer_handshake, parse_webhook,
    skipped_dead_letters, verify_signature,
};
use crate::ports::metrics::{self, Metric};
use crate::ports::queue::{Intake, QueueSend};
use crate::web::error::{ApiError, too_large};

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
            crate::web::envelope::envelope_errors,
        ))
        .with_state(Arc::new(app))
}

/// Answers `hub.challenge` as plain text only for `hub.mode=subscribe` and the right token.
async fn handshake<Q>(State(app): State<Shared<Q>>, RawQuery(query): RawQuery) -> Response {
    let Ok(pairs) = crate::web::query::pairs(query.as_deref()) else {
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

/// 200 only once every event is on the billing queue (and every item that may be billable but
/// could not be read is a dead letter); otherwise an error, so Meta sends it again. A replay of
/// bytes the queue already took is acknowledged without being read again.
async fn receive<Q: QueueSend + Send + Sync>(
    State(app): State<Shared<Q>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let signature = headers.get(SIGNATURE_HEADER).map(|value| value.as_bytes());
    let key = match verify(&app.secret, signature, &body) {
        Ok(key) => key,
        Err(refusal) => return refused(refusal),
    };
    if taken_before(&app.queue, &key).await {
        return StatusCode::OK.into_response();
    }
    let batch = match parse_webhook(&body) {
        Ok(batch) => batch,
        Err(refusal) => return refused(refusal.into()),
    };
    log_omissions(&batch.report);
    let bodies = billing_bodies(&batch, &body);
    let dead_letters = skipped_dead_letters(&body, &batch.report);
    if bodies.is_empty() && dead_letters.is_empty() {
        return StatusCode::OK.into_response();
    }
    let intake = Intake {
        key: &key,
        bodies: &bodies,
        dead_letters: &dead_letters,
    };
    match app.queue.take(intake).await {
        Ok(()) => {
            info!(
                statuses = batch.statuses.len(),
                inbound = batch.messages.len(),
                messages = bodies.len(),
                dead_letters = dead_letters.len(),
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

/// The body as axum read it, or the refusal: past the route's limit the body is never read in
/// full, and the 413 is the envelope's.
fn read_body(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Bytes, ApiError> {
    match body {
        Ok(body) => Ok(body),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(too_large(BODY_LEN_MAX))
        }
        Err(_) => Err(ApiError::bad_request("body: could not be read")),
    }
}

/// Whether the queue took these verified bytes before (a replay to acknowledge). A failed check
/// answers no: the body is then handled in full, and the queue's ids keep that safe.
async fn taken_before<Q: QueueSend + Send + Sync>(queue: &Q, key: &str) -> bool {
    match queue.taken_before(key).await {
        Ok(true) => {
            info!("webhook replay acknowledged: these bytes were taken before");
            true
        }
        Ok(false) => false,
        Err(error) => {
            warn!(%error, "replay check failed; the body is handled in full");
            false
        }
    }
}

/// Logs what the parse left out: loudly (and counted) when it may be billable.
fn log_omissions(report: &ParseReport) {
    if report.possibly_billable_lost() {
        error!(counts = ?report.counts, skipped = ?report.skipped, "webhook skipped items that may be billable");
        metrics::count(Metric::PossiblyBillableSkipped, 1);
    } else if !report.skipped.is_empty() || !report.unknown_fields.is_empty() {
        info!(counts = ?report.counts, unknown_fields = ?report.unknown_fields, skipped = ?report.skipped, "webhook parsed with omissions");
    }
}

/// The billing queue's messages for this body: its statuses packed by business phone number,
/// then its volume tier updates (`account_update`), which travel as a message of their own.
fn billing_bodies(batch: &WebhookBatch, body: &[u8]) -> Vec<String> {
    let mut bodies = pack(batch);
    let (tier_updates, malformed) = crate::meta::account_update::tier_updates(body);
    if malformed > 0 {
        error!(malformed, "tier updates Meta sent could not be read");
        metrics::count(Metric::PossiblyBillableSkipped, malformed);
    }
    bodies.extend(crate::billing::tier_message::pack_tier_updates(
        &tier_updates,
    ));
    bodies
}

/// The size limit first (an oversized body is not even hashed), then the signature over the exact
/// bytes. The verified signature, in lowercase hex, names the bytes for replay detection.
fn verify(
    secret: &AppSecret,
    signature: Option<&[u8]>,
    body: &[u8],
) -> Result<String, WebhookRejection> {
    if body.len() > BODY_LEN_MAX {
        return Err(EnvelopeError::TooLarge {
            body_len: body.len(),
        }
        .into());
    }
    verify_signature(secret, signature, body)?;
    let header = signature.expect("a verified signature was present");
    Ok(String::from_utf8_lossy(header).to_ascii_lowercase())
}

fn refused(refusal: WebhookRejection) -> Response {
    match refusal {
        WebhookRejection::Signature(refusal) => {
            warn!(%refusal, "webhook signature refused");
            ApiError::unauthorized("the X-Hub-Signature-256 signature does not match")
                .into_response()
        }
        WebhookRejection::Envelope(EnvelopeError::TooLarge { body_len }) => {
            warn!(body_len, "webhook body too large");
            too_large(BODY_LEN_MAX).into_response()
        }
        WebhookRejection::Envelope(EnvelopeError::NotWhatsApp { object }) => {
            // Signed by Meta but for another product: nothing to bill, and a refusal would only
            // make Meta send it again for days.
            info!(?object, "webhook for another object ignored");
            StatusCode::OK.into_response()
        }
        WebhookRejection::Envelope(refusal) => {
            warn!(%refusal, "webhook body refused");
            ApiError::bad_request(refusal.to_string()).into_response()
        }
    }
}
