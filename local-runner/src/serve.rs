//! `serve`: start the engine and the loops, serve the routes on 127.0.0.1 until a signal, then
//! stop taking requests, drain within bounds and exit. Each step is a function of its own.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::sqlite_queue::QueueLimits;
use imcredits::api::auth::{AuthConfig, LocalJwtKey};
use imcredits::api::purchases::Payments;
use imcredits::api::{App, router};
use imcredits::money::CreditPricing;
use imcredits::ports::clock::SystemClock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::{ServeArgs, TOKEN_HOURS_DEFAULT};
use crate::{dashboard, dead_letters, engine, notices, payments, pipeline, recharge, say};
use crate::{secrets, serving};

/// After a stop, requests already being handled get this long to finish.
const REQUESTS_DRAIN_MAX: Duration = Duration::from_secs(10);
/// Past the drain, connections that never finish get this much more before the runner stops.
const CONNECTIONS_GRACE: Duration = Duration::from_secs(5);

pub(crate) fn billing_limits(args: &ServeArgs) -> QueueLimits {
    QueueLimits {
        messages_max: args.billing_queue_messages_max,
        bytes_max: args.billing_queue_mib_max * 1024 * 1024,
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

/// The background loops; `stop` tells them to drain and return.
struct Loops {
    stop: watch::Sender<bool>,
    billing: JoinHandle<()>,
    recharges: JoinHandle<()>,
    notices: JoinHandle<anyhow::Result<()>>,
}

impl Loops {
    async fn finish(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.billing.await.context("the billing loop panicked")?;
        self.recharges
            .await
            .context("the auto-recharge loop panicked")?;
        self.notices.await.context("the notices loop panicked")?
    }
}

/// The payment provider the API uses, its extra routes, and what auto-recharge charges with.
struct PaymentParts {
    mode: payments::PaymentsMode,
    payments: Payments,
    routes: Router,
    charges: recharge::LocalCharges,
}

fn payment_parts(
    args: &ServeArgs,
    base_url: &str,
    store: &DynamoStore,
) -> anyhow::Result<PaymentParts> {
    let has_stripe_key = std::env::var_os(imcredits::config::PaymentsConfig::SECRET_KEY).is_some();
    let mode = payments::PaymentsMode::choose(args.payments, has_stripe_key);
    let (payments, routes, stripe_config) = payments::payments(mode, base_url, store)?;
    // Auto-recharge: the recharge queue and a tick for the schedule, on the same handler as AWS.
    let (charges, routes) = match stripe_config {
        Some(config) => (
            recharge::LocalCharges::Stripe(imcredits::adapters::stripe::StripeClient::new(config)?),
            routes,
        ),
        None => {
            let fake = Arc::new(recharge::FakeCharges::default());
            let routes = routes.merge(recharge::fake_routes(Arc::clone(&fake)));
            (recharge::LocalCharges::Fake(fake), routes)
        }
    };
    Ok(PaymentParts {
        mode,
        payments,
        routes,
        charges,
    })
}

fn start_loops(
    args: &ServeArgs,
    store: &DynamoStore,
    queues: &Arc<pipeline::Queues>,
    charges: recharge::LocalCharges,
    credits: CreditPricing,
) -> Loops {
    let (stop, stopped) = watch::channel(false);
    let billing = tokio::spawn(pipeline::run_billing(
        store.clone(),
        Arc::clone(queues),
        stopped,
    ));
    let recharges = tokio::spawn(recharge::run_recharge(
        store.clone(),
        Arc::clone(queues),
        charges,
        Duration::from_secs(args.recharge_tick_seconds),
        credits,
        stop.subscribe(),
    ));
    let notices = tokio::spawn(notices::run_notices(
        store.clone(),
        Arc::clone(queues),
        args.webhook_schedule.policy(),
        stop.subscribe(),
    ));
    Loops {
        stop,
        billing,
        recharges,
        notices,
    }
}

/// Every route behind the gate (503 while stopping, a bound on webhook bodies held at once).
fn routes(
    app: App<DynamoStore>,
    webhook: Router,
    payment_routes: Router,
    dead_letter_routes: Router,
    gate: &Arc<serving::Gate>,
) -> anyhow::Result<Router> {
    let frame = imcredits::api::dashboard::DashboardConfig::from_env()?;
    let routes = router(app)
        .merge(webhook)
        .merge(payment_routes)
        .merge(dead_letter_routes);
    Ok(frame
        .apply(routes)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(gate),
            serving::gate,
        )))
}

/// What the person at the terminal needs: where things are and how to reach them.
async fn greet(
    port: u16,
    data_dir: &std::path::Path,
    store: &DynamoStore,
    key: &LocalJwtKey,
    verify_token_text: &str,
    mode: payments::PaymentsMode,
) -> anyhow::Result<()> {
    let (dir, base_url) = (data_dir.display(), format!("http://127.0.0.1:{port}"));
    say(&format!("imcredits-local listening on {base_url}"));
    say(&format!(
        "data: {dir} (survives restarts; delete it to start afresh)"
    ));
    let dashboard = dashboard::demo_url(store, key, &base_url, TOKEN_HOURS_DEFAULT).await?;
    say(&format!(
        "dashboard (account {}, signed in for {} h): {dashboard}",
        dashboard::DEMO_ACCOUNT,
        TOKEN_HOURS_DEFAULT,
    ));
    say(&format!(
        "get a token: cargo run -p imcredits-local --release -- token --operator --data-dir {dir}"
    ));
    say(&format!(
        "             cargo run -p imcredits-local --release -- token --account ACCOUNT --data-dir {dir}"
    ));
    say(&format!(
        "meta webhook: {base_url}/webhooks/meta (verify token {verify_token_text}); \
         send a signed sample: cargo run -p imcredits-local --release -- send-webhook FILE --port {port} --data-dir {dir}"
    ));
    say(&payments_line(mode, &base_url));
    Ok(())
}

fn payments_line(mode: payments::PaymentsMode, base_url: &str) -> String {
    match mode {
        payments::PaymentsMode::Fake => format!(
            "payments: FAKE (no card is charged, no money moves): checkout pages are served at \
             {base_url}/local/fake-checkout/..., whose Pay/Decline buttons send signed events to \
             {base_url}/webhooks/stripe; auto-recharge charges succeed unless \
             POST {base_url}/local/fake-payments/decline-next queued a decline; set \
             STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRETS for Stripe"
        ),
        payments::PaymentsMode::Stripe => {
            // Only the key's mode prefix is looked at; the key itself is never printed.
            let live = std::env::var(imcredits::config::PaymentsConfig::SECRET_KEY)
                .is_ok_and(|key| key.starts_with("sk_live_") || key.starts_with("rk_live_"));
            let mode = if live {
                "LIVE MODE: real cards are charged"
            } else {
                "test mode"
            };
            format!(
                "payments: Stripe, {mode} (STRIPE_SECRET_KEY from the environment); forward its \
                 webhooks with `stripe listen --forward-to {base_url}/webhooks/stripe`"
            )
        }
    }
}

/// Serves until a signal; then new requests get 503, those in flight get [`REQUESTS_DRAIN_MAX`],
/// and connections that never finish at most [`CONNECTIONS_GRACE`] more.
async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    routes: Router,
    gate: Arc<serving::Gate>,
) -> anyhow::Result<()> {
    let (stopped, stop_seen) = tokio::sync::oneshot::channel::<()>();
    let stopping = async move {
        shutdown_signal().await;
        say("imcredits-local stopping: new requests get 503, billing finishes what it holds");
        gate.stop();
        let _ = stopped.send(());
        let left = gate.drained(REQUESTS_DRAIN_MAX).await;
        if left > 0 {
            tracing::warn!(
                left,
                "requests still running after the drain bound; stopping anyway"
            );
        }
    };
    let server = axum::serve(listener, routes).with_graceful_shutdown(stopping);
    let bound = async move {
        let _ = stop_seen.await;
        tokio::time::sleep(REQUESTS_DRAIN_MAX + CONNECTIONS_GRACE).await;
    };
    tokio::select! {
        served = server => served.context("serving the API")?,
        () = bound => tracing::warn!("connections still open after the drain bound; stopping anyway"),
    }
    Ok(())
}

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (port, data_dir) = (args.port.port, args.data.data_dir.as_path());
    let key = secrets::jwt_key(data_dir)?;
    let (verify_token, verify_token_text) = secrets::meta_verify_token(data_dir)?;
    // The same credit prices the functions read (CREDIT_UNIT_PRICES, CREDIT_FEE_RATE,
    // CREDITS_PER_PURCHASE_MAX), by the same code: a bad value stops the runner at start.
    let credits = imcredits::config::ApiConfig::from_env()
        .context("credit prices")?
        .credits;
    let engine = engine::Engine::start(data_dir).await?;
    // The seed fixture's market lists unless already loaded (operators load Meta's own).
    imcredits::ports::market_lists::seed_market_lists(
        &engine.store,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .context("seeding the market lists")?;
    let billing_limits = billing_limits(&args);
    let queues = Arc::new(pipeline::Queues::new(&engine.queues, billing_limits));
    let webhook = imcredits::handlers::webhook::router(imcredits::handlers::webhook::WebhookApp {
        secret: secrets::meta_app_secret(data_dir)?,
        verify_token,
        queue: queues.billing.clone(),
    });
    let base_url = format!("http://127.0.0.1:{port}");
    let pay = payment_parts(&args, &base_url, &engine.store)?;
    let loops = start_loops(&args, &engine.store, &queues, pay.charges, credits.clone());
    let auth = AuthConfig::local(key.clone());
    let app = App {
        store: engine.store.clone(),
        clock: Arc::new(SystemClock),
        auth: auth.clone(),
        credits,
        payments: pay.payments,
        notices: notices::api(&queues)?,
    };
    let dead_letter_routes = dead_letters::routes(engine.queues.clone(), billing_limits, auth);
    let gate = serving::Gate::new();
    let routes = routes(app, webhook, pay.routes, dead_letter_routes, &gate)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| {
            format!("binding 127.0.0.1:{port} (is another runner on it? try --port)")
        })?;
    greet(
        port,
        data_dir,
        &engine.store,
        &key,
        &verify_token_text,
        pay.mode,
    )
    .await?;
    serve_until_signal(listener, routes, gate).await?;
    loops.finish().await?;
    drop(engine);
    say("imcredits-local stopped");
    Ok(())
}
