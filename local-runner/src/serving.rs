//! What stands in front of every route: a stop (503 while the runner drains), and a bound on the
//! webhook bodies held in memory at once (a body waits for its turn before it is even read, and
//! past a short wait gets 503, which Meta retries), so memory does not follow a flood.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use imcredits::api::error::ApiError;
use imcredits::handlers::webhook::WEBHOOK_PATH;
use tokio::sync::{Notify, Semaphore};

/// Webhook bodies (up to 3 MiB each, and their parsed events) being handled at once.
pub const WEBHOOK_BODIES_MAX: usize = 4;
/// How long a webhook call waits for its turn before a 503.
const WEBHOOK_WAIT: Duration = Duration::from_secs(10);
/// Seconds a 503 asks the caller to wait.
const RETRY_AFTER_SECONDS: &str = "5";

#[derive(Default)]
pub struct Gate {
    stopping: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
    webhook_bodies: Option<Semaphore>,
}

impl Gate {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            webhook_bodies: Some(Semaphore::new(WEBHOOK_BODIES_MAX)),
            ..Self::default()
        })
    }

    /// From now on every request is answered 503.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.idle.notify_waiters();
    }

    /// Waits (at most `bound`) until no request is being handled; answers how many still were.
    pub async fn drained(&self, bound: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let idle = self.idle.notified();
            let in_flight = self.in_flight.load(Ordering::SeqCst);
            if in_flight == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.in_flight.load(Ordering::SeqCst);
            }
        }
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a Gate);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

fn unavailable(message: &str) -> Response {
    let mut response = ApiError::unavailable(message).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    response
}

pub async fn gate(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    gate.in_flight.fetch_add(1, Ordering::SeqCst);
    let _counted = InFlight(&gate);
    if gate.stopping.load(Ordering::SeqCst) {
        return unavailable("the runner is stopping; retry");
    }
    let is_webhook = request.method() == Method::POST && request.uri().path() == WEBHOOK_PATH;
    let _turn = match (&gate.webhook_bodies, is_webhook) {
        (Some(bodies), true) => match tokio::time::timeout(WEBHOOK_WAIT, bodies.acquire()).await {
            Ok(Ok(permit)) => Some(permit),
            _ => return unavailable("the runner is busy with other webhook bodies; retry"),
        },
        _ => None,
    };
    next.run(request).await
}
