//! The local runner: the API (and, as their issues land, the webhook, billing and the scheduler)
//! in one process on 127.0.0.1, storing everything in a file under the data dir.

mod args;
mod engine;
mod payments;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use imcredits::api::auth::{AuthConfig, LocalJwtKey};
use imcredits::api::{App, CreditPricing, router};
use imcredits::ids::AccountId;
use imcredits::ports::clock::{Clock, SystemClock};

use args::Command;

const SECRET_FILE: &str = "jwt-secret";

/// The local signing secret, made on first use and kept in the data dir so that tokens survive a
/// restart. It signs local tokens only: no deployed function accepts them.
fn local_key(data_dir: &Path) -> anyhow::Result<LocalJwtKey> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let path = data_dir.join(SECRET_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let secret = hex::decode(text.trim()).context("the local secret file is not hex")?;
        return LocalJwtKey::new(secret).context("the local secret file is too short");
    }
    let key = LocalJwtKey::generate()?;
    std::fs::write(&path, hex::encode(key.secret()))
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(key)
}

/// Status lines for the person at the terminal. A closed stdout (a pipe whose reader went away)
/// must not stop a running server, so write errors are ignored.
fn say(line: &str) {
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
) -> anyhow::Result<()> {
    let key = local_key(data_dir)?;
    let engine = engine::Engine::start(data_dir).await?;
    let base_url = format!("http://127.0.0.1:{port}");
    let has_stripe_key = std::env::var_os(imcredits::config::PaymentsConfig::SECRET_KEY).is_some();
    let payments_mode = payments::PaymentsMode::choose(payments_flag, has_stripe_key);
    let (payments, payment_routes) = payments::payments(payments_mode, &base_url, &engine.store)?;
    let app = App {
        store: engine.store.clone(),
        clock: Arc::new(SystemClock),
        auth: AuthConfig::local(key),
        credits: CreditPricing::default().validated()?,
        payments,
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
    say(&format!(
        "get a token: cargo run -p imcredits-local --release -- token --operator --data-dir {dir}"
    ));
    say(&format!(
        "             cargo run -p imcredits-local --release -- token --account ACCOUNT --data-dir {dir}"
    ));
    match payments_mode {
        payments::PaymentsMode::Fake => say(&format!(
            "payments: FAKE (no card is charged, no money moves): checkout pages are served at \
             {base_url}/local/fake-checkout/..., whose Pay/Decline buttons send signed events to \
             {base_url}/webhooks/stripe; set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRETS for Stripe"
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
    axum::serve(listener, router(app).merge(payment_routes))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving the API")?;
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
    let key = local_key(data_dir)?;
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
    match args::parse(std::env::args().skip(1)) {
        Ok(Command::Serve {
            port,
            data_dir,
            payments,
        }) => serve(port, &data_dir, payments).await,
        Ok(Command::Token {
            data_dir,
            account,
            operator,
            hours,
        }) => {
            println!("{}", token(&data_dir, account.as_deref(), operator, hours)?);
            Ok(())
        }
        Ok(Command::Help) => {
            print!("{}", args::USAGE);
            Ok(())
        }
        Err(problem) => {
            eprint!("{problem}\n\n{}", args::USAGE);
            std::process::exit(2);
        }
    }
}
