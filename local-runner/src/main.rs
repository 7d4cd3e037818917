//! The local runner: the API, Meta's webhook and billing (and, as its issue lands, the scheduler)
//! in one process on 127.0.0.1, storing everything in a file under the data dir.

mod args;
mod dashboard;
mod engine;
mod import;
mod notices;
mod payments;
mod pipeline;
mod recharge;
mod secrets;
mod send;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use imcredits::api::auth::AuthConfig;
use imcredits::api::{App, router};
use imcredits::ids::AccountId;
use imcredits::ports::clock::{Clock, SystemClock};

use args::Command;

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

async fn serve(
    port: u16,
    data_dir: &Path,
    payments_flag: Option<payments::PaymentsMode>,
    recharge_tick: std::time::Duration,
    webhook_policy: imcredits::notices::retry::RetryPolicy,
) -> anyhow::Result<()> {
    let key = secrets::jwt_key(data_dir)?;
    let app_secret = secrets::meta_app_secret(data_dir)?;
    let (verify_token, verify_token_text) = secrets::meta_verify_token(data_dir)?;
    // The same credit prices the functions read (CREDIT_UNIT_PRICES, CREDIT_FEE_RATE,
    // CREDITS_PER_PURCHASE_MAX), by the same code: a bad value stops the runner at start.
    let credits = imcredits::config::ApiConfig::from_env()
        .context("credit prices")?
        .credits;
    let engine = engine::Engine::start(data_dir).await?;
    let queues = Arc::new(pipeline::Queues::new());
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
    let payments_mode = payments::PaymentsMode::choose(payments_flag, has_stripe_key);
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
        recharge_tick,
        credits.clone(),
        stop_billing.subscribe(),
    ));
    let notices = tokio::spawn(notices::run_notices(
        engine.store.clone(),
        Arc::clone(&queues),
        webhook_policy,
        stop_billing.subscribe(),
    ));
    let app = App {
        store: engine.store.clone(),
        clock: Arc::new(SystemClock),
        auth: AuthConfig::local(key.clone()),
        credits,
        payments,
        notices: notices::api(&queues)?,
    };
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
    let dashboard = dashboard::demo_url(&engine.store, &key, &base_url, args::TOKEN_HOURS_DEFAULT);
    say(&format!(
        "dashboard (account {}, signed in for {} h): {}",
        dashboard::DEMO_ACCOUNT,
        args::TOKEN_HOURS_DEFAULT,
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
    let frame = imcredits::api::dashboard::DashboardConfig::from_env()?;
    let routes = router(app).merge(webhook).merge(payment_routes);
    axum::serve(listener, frame.apply(routes))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving the API")?;
    let _ = stop_billing.send(true);
    billing.await.context("the billing loop panicked")?;
    recharges.await.context("the auto-recharge loop panicked")?;
    notices.await.context("the notices loop panicked")??;
    engine.stop().await?;
    say("imcredits-local stopped");
    Ok(())
}

fn token(
    data_dir: &Path,
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
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.first().map(String::as_str) == Some(import::COMMAND) {
        std::process::exit(import::run(&arguments[1..])?);
    }
    match args::parse(arguments) {
        Ok(Command::Serve {
            port,
            data_dir,
            payments,
            recharge_tick_seconds,
            webhook_schedule,
        }) => {
            serve(
                port,
                &data_dir,
                payments,
                std::time::Duration::from_secs(recharge_tick_seconds),
                webhook_schedule,
            )
            .await
        }
        Ok(Command::Token {
            data_dir,
            account,
            operator,
            hours,
        }) => {
            println!("{}", token(&data_dir, account.as_deref(), operator, hours)?);
            Ok(())
        }
        Ok(Command::SendWebhook {
            port,
            data_dir,
            file,
        }) => {
            let status = send::send_webhook(port, &data_dir, &file)?;
            println!("{status}");
            if status == 200 {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Ok(Command::Help) => {
            print!("{}{}", args::USAGE, import::USAGE);
            Ok(())
        }
        Err(problem) => {
            eprint!("{problem}\n\n{}", args::USAGE);
            std::process::exit(2);
        }
    }
}
