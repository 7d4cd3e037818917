//! The local runner: the API, the dashboard, Meta's webhook, billing, notifications and
//! auto-recharge in one process on 127.0.0.1, storing everything (the ledger and the queues) in
//! files under the data dir.

mod cli;
mod dashboard;
mod dead_letters;
mod engine;
mod import;
mod notices;
mod payments;
mod pipeline;
mod recharge;
mod secrets;
mod send;
mod serving;

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use imcredits::adapters::sqlite_queue::QueueLimits;
use imcredits::api::auth::AuthConfig;
use imcredits::api::{App, router};
use imcredits::ids::AccountId;
use imcredits::ports::clock::{Clock, SystemClock};
use imcredits::setup::{LogFormat, init_tracing_as};

use cli::{Cli, Command, ServeArgs, TOKEN_HOURS_DEFAULT};

/// After a stop, requests already being handled get this long to finish.
const REQUESTS_DRAIN_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// Status lines for the person at the terminal. A closed stdout (a pipe whose reader went away)
/// must not stop a running server, so write errors are ignored.
pub(crate) fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
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

fn billing_limits(args: &ServeArgs) -> QueueLimits {
    QueueLimits {
        messages_max: args.billing_queue_messages_max,
        bytes_max: args.billing_queue_mib_max * 1024 * 1024,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (port, data_dir) = (args.port.port, args.data.data_dir.as_path());
    let key = secrets::jwt_key(data_dir)?;
    let app_secret = secrets::meta_app_secret(data_dir)?;
    let (verify_token, verify_token_text) = secrets::meta_verify_token(data_dir)?;
    // The same credit prices the functions read (CREDIT_UNIT_PRICES, CREDIT_FEE_RATE,
    // CREDITS_PER_PURCHASE_MAX), by the same code: a bad value stops the runner at start.
    let credits = imcredits::config::ApiConfig::from_env()
        .context("credit prices")?
        .credits;
    let engine = engine::Engine::start(data_dir).await?;
    let billing_limits = billing_limits(&args);
    let queues = Arc::new(pipeline::Queues::new(&engine.queues, billing_limits));
    let (stop_billing, billing_stopped) = tokio::sync::watch::channel(false);
    let billing = tokio::spawn(pipeline::run_billing(
        engine.store.clone(),
        Arc::clone(&queues),
        billing_stopped,
    ));
    let webhook = imcredits::handlers::webhook::router(imcredits::handlers::webhook::WebhookApp {
        secret: app_secret,
        verify_token,
        queue: queues.billing.clone(),
    });
    let base_url = format!("http://127.0.0.1:{port}");
    let has_stripe_key = std::env::var_os(imcredits::config::PaymentsConfig::SECRET_KEY).is_some();
    let payments_mode = payments::PaymentsMode::choose(args.payments, has_stripe_key);
    let (payments, payment_routes, stripe_config) =
        payments::payments(payments_mode, &base_url, &engine.store)?;
    // Auto-recharge: the recharge queue and a tick for the schedule, on the same handler as AWS.
    let (charges, payment_routes) = match stripe_config {
        Some(config) => (
            recharge::LocalCharges::Stripe(imcredits::adapters::stripe::StripeClient::new(config)?),
            payment_routes,
        ),
        None => {
            let fake = Arc::new(recharge::FakeCharges::default());
            let routes = payment_routes.merge(recharge::fake_routes(Arc::clone(&fake)));
            (recharge::LocalCharges::Fake(fake), routes)
        }
    };
    let recharges = tokio::spawn(recharge::run_recharge(
        engine.store.clone(),
        Arc::clone(&queues),
        charges,
        std::time::Duration::from_secs(args.recharge_tick_seconds),
        credits.clone(),
        stop_billing.subscribe(),
    ));
    let notices = tokio::spawn(notices::run_notices(
        engine.store.clone(),
        Arc::clone(&queues),
        args.webhook_schedule.policy(),
        stop_billing.subscribe(),
    ));
    let auth = AuthConfig::local(key.clone());
    let app = App {
        store: engine.store.clone(),
        clock: Arc::new(SystemClock),
        auth: auth.clone(),
        credits,
        payments,
        notices: notices::api(&queues)?,
    };
    let gate = serving::Gate::new();
    let frame = imcredits::api::dashboard::DashboardConfig::from_env()?;
    let routes = frame
        .apply(
            router(app)
                .merge(webhook)
                .merge(payment_routes)
                .merge(dead_letters::routes(
                    engine.queues.clone(),
                    billing_limits,
                    auth,
                )),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&gate),
            serving::gate,
        ));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| {
            format!("binding 127.0.0.1:{port} (is another runner on it? try --port)")
        })?;
    let dir = data_dir.display();
    say(&format!(
        "imcredits-local listening on http://127.0.0.1:{port}"
    ));
    say(&format!(
        "data: {dir} (survives restarts; delete it to start afresh)"
    ));
    let dashboard = dashboard::demo_url(&engine.store, &key, &base_url, TOKEN_HOURS_DEFAULT);
    say(&format!(
        "dashboard (account {}, signed in for {} h): {}",
        dashboard::DEMO_ACCOUNT,
        TOKEN_HOURS_DEFAULT,
        dashboard.await?
    ));
    say(&format!(
        "get a token: cargo run -p imcredits-local --release -- token --operator --data-dir {dir}"
    ));
    say(&format!(
        "             cargo run -p imcredits-local --release -- token --account ACCOUNT --data-dir {dir}"
    ));
    say(&format!(
        "meta webhook: http://127.0.0.1:{port}/webhooks/meta (verify token {verify_token_text}); \
         send a signed sample: cargo run -p imcredits-local --release -- send-webhook FILE --port {port} --data-dir {dir}"
    ));
    match payments_mode {
        payments::PaymentsMode::Fake => say(&format!(
            "payments: FAKE (no card is charged, no money moves): checkout pages are served at \
             {base_url}/local/fake-checkout/..., whose Pay/Decline buttons send signed events to \
             {base_url}/webhooks/stripe; auto-recharge charges succeed unless \
             POST {base_url}/local/fake-payments/decline-next queued a decline; set \
             STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRETS for Stripe"
        )),
        payments::PaymentsMode::Stripe => {
            // Only the key's mode prefix is looked at; the key itself is never printed.
            let live = std::env::var(imcredits::config::PaymentsConfig::SECRET_KEY)
                .is_ok_and(|key| key.starts_with("sk_live_") || key.starts_with("rk_live_"));
            let mode = if live {
                "LIVE MODE: real cards are charged"
            } else {
                "test mode"
            };
            say(&format!(
                "payments: Stripe, {mode} (STRIPE_SECRET_KEY from the environment); forward its \
                 webhooks with `stripe listen --forward-to {base_url}/webhooks/stripe`"
            ))
        }
    }
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
    // A connection that never finishes must not hold the stop forever.
    let bound = async move {
        let _ = stop_seen.await;
        tokio::time::sleep(REQUESTS_DRAIN_MAX + std::time::Duration::from_secs(5)).await;
    };
    tokio::select! {
        served = server => served.context("serving the API")?,
        () = bound => tracing::warn!("connections still open after the drain bound; stopping anyway"),
    }
    let _ = stop_billing.send(true);
    billing.await.context("the billing loop panicked")?;
    recharges.await.context("the auto-recharge loop panicked")?;
    notices.await.context("the notices loop panicked")??;
    drop(engine);
    say("imcredits-local stopped");
    Ok(())
}

/// A token signed with the data dir's local secret (also the import command's operator token).
fn token(
    data_dir: &std::path::Path,
    account: Option<&str>,
    operator: bool,
    hours: i64,
) -> anyhow::Result<String> {
    let key = secrets::jwt_key(data_dir)?;
    let account = account
        .map(AccountId::parse)
        .transpose()
        .context("--account")?;
    let config = AuthConfig::local(key.clone());
    Ok(key.mint(
        &config,
        account.as_ref(),
        operator,
        SystemClock.now(),
        time::Duration::hours(hours),
    )?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let serve_args = match cli.command {
        None => cli.serve,
        Some(Command::Serve(args)) => args,
        Some(Command::Token(args)) => {
            let account = args.account.as_deref();
            let token = token(&args.data.data_dir, account, args.operator, args.hours)?;
            println!("{token}");
            return Ok(());
        }
        Some(Command::SendWebhook(args)) => {
            let status = send::send_webhook(args.port.port, &args.data.data_dir, &args.file)?;
            println!("{status}");
            if status == 200 {
                return Ok(());
            }
            std::process::exit(1)
        }
        Some(Command::DeadLetters(command)) => {
            return dead_letters::run(command, billing_limits(&cli.serve));
        }
        Some(Command::ImportRateCard { args }) => std::process::exit(import::run(&args)?),
    };
    let format = if serve_args.log_json {
        LogFormat::Json
    } else {
        LogFormat::Human
    };
    // Logs go to stderr: stdout carries the status lines for the person at the terminal.
    init_tracing_as(format, std::io::stderr);
    serve(serve_args).await
}
