//! `POST /webhooks/stripe`: a payment provider's webhook ([`PaymentWebhook`]) credits a paid
//! purchase, closes a failed or expired one, or saves the card that paid it (the order is in
//! [`crate::payments::purchase`]; fulfilment's crash safety in [`super::purchases`]).

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::error::ApiError;
use super::{ApiStore, AppState};
use crate::ids::AccountId;
use crate::payments::PurchaseId;
use crate::payments::purchase::{PaidCheckout, PurchaseStatus, SavedPaymentMethod};
use crate::payments::review::{HeldPayment, check_event_time, needs_review};
use crate::ports::payment_events::{
    CheckoutEvent, PaymentEvent, PaymentEventKind, PaymentSucceeded, WebhookRefused,
};
use crate::ports::store::{Closed, Fulfilment};

/// The header Stripe signs its webhooks with.
pub const STRIPE_SIGNATURE_HEADER: &str = "Stripe-Signature";

/// What a webhook delivery did, for Stripe's dashboard and our logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    Credited,
    AlreadyCredited,
    MarkedFailed,
    MarkedExpired,
    /// The purchase already had that status or a higher one.
    Unchanged,
    PaymentMethodSaved,
    /// A newer purchase's card is saved; this older one's was not.
    NewerPaymentMethodKept,
    /// A completed checkout whose delayed payment has not settled yet.
    AwaitingPayment,
    /// Paid, but not the quoted total: held for an operator, nothing credited.
    HeldForReview,
    /// A purchase this deployment does not know (another deployment on the same Stripe account).
    UnknownPurchase,
    /// An event type or object imcredits does not act on.
    Ignored,
}

#[derive(Debug, Serialize)]
pub struct WebhookAck {
    pub received: bool,
    pub event_id: String,
    pub outcome: WebhookOutcome,
}

fn bad_event(problem: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_event", problem.to_string())
}

/// The purchase and account a session names; `None` when it is not one of ours.
fn session_purchase(
    event: &PaymentEvent,
    session: &CheckoutEvent,
) -> Result<Option<(AccountId, PurchaseId)>, ApiError> {
    let Some(purchase) = session.purchase_id.clone().map_err(bad_event)? else {
        return Ok(None);
    };
    let Some(account) = session.account_id.clone().map_err(bad_event)? else {
        // Every session imcredits creates carries both; without the account it cannot be found.
        tracing::error!(event = %event.id, %purchase, "a purchase event carries no account id");
        return Ok(None);
    };
    Ok(Some((account, purchase)))
}

async fn fulfil<S: ApiStore>(
    app: &AppState<S>,
    event: &PaymentEvent,
    session: &CheckoutEvent,
) -> Result<WebhookOutcome, ApiError> {
    let Some((account, purchase_id)) = session_purchase(event, session)? else {
        return Ok(WebhookOutcome::Ignored);
    };
    let Some(purchase) = app.store.get_purchase(&account, &purchase_id).await? else {
        tracing::warn!(event = %event.id, %purchase_id, %account, "paid event for an unknown purchase");
        return Ok(WebhookOutcome::UnknownPurchase);
    };
    // Stripe's time becomes the entry's: bounded first, and refused (400) when out of bounds.
    let created = check_event_time(event.created, app.clock.now()).map_err(bad_event)?;
    let entry = super::review::purchase_entry(&purchase, &session.session_id, created)?;
    let paid = PaidCheckout {
        session_id: session.session_id.clone(),
        customer: session.customer.clone(),
        payment_intent: session.payment_intent.clone(),
        payment_method: session.payment_method.clone(),
    };
    let paid_total = session.amount_total.clone().unwrap_or_else(|error| {
        tracing::warn!(event = %event.id, %error, "unreadable paid amount");
        None
    });
    if needs_review(purchase.quote.total, paid_total) {
        // Money was taken, but not what was quoted: a person decides what it buys.
        let held = HeldPayment {
            paid_total,
            paid,
            event_created: created,
        };
        return Ok(
            match super::review::hold(app, event.id.as_str(), &purchase, &held).await? {
                Closed::Unchanged(PurchaseStatus::Paid) => WebhookOutcome::AlreadyCredited,
                _ => WebhookOutcome::HeldForReview,
            },
        );
    }
    let outcome = app
        .store
        .fulfil_purchase(&purchase, &entry, &paid, app.clock.now())
        .await?;
    super::notices::purchase_paid(app, &purchase, &outcome).await?;
    Ok(match outcome {
        Fulfilment::Credited { .. } => {
            tracing::info!(event = %event.id, %purchase_id, %account, "purchase credited");
            WebhookOutcome::Credited
        }
        Fulfilment::AlreadyCredited(_) => WebhookOutcome::AlreadyCredited,
    })
}

async fn close<S: ApiStore>(
    app: &AppState<S>,
    event: &PaymentEvent,
    session: &CheckoutEvent,
    status: PurchaseStatus,
) -> Result<WebhookOutcome, ApiError> {
    let Some((account, purchase_id)) = session_purchase(event, session)? else {
        return Ok(WebhookOutcome::Ignored);
    };
    let closed = app
        .store
        .close_purchase(&account, &purchase_id, status, app.clock.now())
        .await?;
    if let Some(Closed::Changed(now) | Closed::Unchanged(now)) = &closed {
        super::notices::purchase_closed(app, &account, &purchase_id, *now).await?;
    }
    Ok(match closed {
        None => WebhookOutcome::UnknownPurchase,
        Some(Closed::Unchanged(_)) => WebhookOutcome::Unchanged,
        Some(Closed::Changed(PurchaseStatus::Expired)) => WebhookOutcome::MarkedExpired,
        Some(Closed::Changed(_)) => WebhookOutcome::MarkedFailed,
    })
}

/// `payment_intent.succeeded` of a checkout's payment: the card that paid, saved for auto-recharge.
async fn save_card<S: ApiStore>(
    app: &AppState<S>,
    intent: &PaymentSucceeded,
) -> Result<WebhookOutcome, ApiError> {
    // Auto-recharge's own charges carry an attempt id instead: not a purchase's.
    let Some(purchase_id) = intent.purchase_id.clone().map_err(bad_event)? else {
        return Ok(WebhookOutcome::Ignored);
    };
    let (Some(account), Some(customer)) = (
        intent.account_id.clone().map_err(bad_event)?,
        &intent.customer,
    ) else {
        return Ok(WebhookOutcome::Ignored);
    };
    let Some(purchase) = app.store.get_purchase(&account, &purchase_id).await? else {
        return Ok(WebhookOutcome::UnknownPurchase);
    };
    let saved = SavedPaymentMethod {
        customer: customer.clone(),
        payment_method: intent.payment_method.clone(),
        source_purchase: purchase.id.clone(),
        source_created_at: purchase.created_at,
    };
    Ok(
        if app
            .store
            .save_payment_method(&account, &saved, app.clock.now())
            .await?
        {
            WebhookOutcome::PaymentMethodSaved
        } else {
            WebhookOutcome::NewerPaymentMethodKept
        },
    )
}

/// `POST /webhooks/stripe`: no bearer token (Stripe cannot send one); the `Stripe-Signature` over
/// the raw body is the authentication. A bad, stale or missing signature is a 400 and nothing is
/// read from the body; an event type imcredits does not use is a 200.
pub async fn stripe_webhook<S: ApiStore>(
    State(app): State<AppState<S>>,
    request: Request,
) -> Result<Json<WebhookAck>, ApiError> {
    let (parts, body) = request.into_parts();
    let body_len_max = app.payments.webhook.body_len_max();
    let body = axum::body::to_bytes(body, body_len_max)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("webhook bodies are at most {body_len_max} bytes"),
            )
        })?;
    let header = match parts.headers.get(STRIPE_SIGNATURE_HEADER) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_signature",
                "malformed Stripe-Signature header",
            )
        })?),
    };
    let event = app
        .payments
        .webhook
        .read(header, &body, app.clock.now())
        .map_err(|refused| match refused {
            WebhookRefused::Signature(error) => {
                tracing::warn!(%error, "Stripe webhook refused");
                ApiError::new(StatusCode::BAD_REQUEST, "bad_signature", error)
            }
            WebhookRefused::Unreadable(error) => {
                tracing::error!(%error, "a signed Stripe webhook is not an event we can read");
                bad_event(error)
            }
        })?;
    let outcome = match &event.kind {
        PaymentEventKind::CheckoutPaid(session) => fulfil(&app, &event, session).await?,
        PaymentEventKind::CheckoutAwaitingPayment => WebhookOutcome::AwaitingPayment,
        PaymentEventKind::CheckoutFailed(session) => {
            close(&app, &event, session, PurchaseStatus::Failed).await?
        }
        PaymentEventKind::CheckoutExpired(session) => {
            close(&app, &event, session, PurchaseStatus::Expired).await?
        }
        PaymentEventKind::PaymentSucceeded(intent) => save_card(&app, intent).await?,
        PaymentEventKind::Other => WebhookOutcome::Ignored,
    };
    tracing::info!(event = %event.id, event_type = %event.event_type, ?outcome, "Stripe webhook");
    Ok(Json(WebhookAck {
        received: true,
        event_id: event.id.to_string(),
        outcome,
    }))
}
