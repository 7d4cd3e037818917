//! The local runner: the API, the dashboard, Meta's webhook, billing, notifications and
//! auto-recharge in one process on 127.0.0.1, storing everything (the ledger and the queues) in
//! files under the data dir.

mod backfill;
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
mod serve;
mod serving;

use anyhow::Context;
use clap::Parser;
use imcredits::api::auth::AuthConfig;
use imcredits::ids::AccountId;
use imcredits::ports::clock::{Clock, SystemClock};
use imcredits::setup::{LogFormat, init_tracing_as};

use cli::{Cli, Command};

/// Status lines for the person at the terminal. A closed stdout (a pipe whose reader went away)
/// must not stop a running server, so write errors are ignored.
pub(crate) fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
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
            return dead_letters::run(command, serve::billing_limits(&cli.serve));
        }
        Some(Command::BackfillStatementSchedule(args)) => return backfill::run(args).await,
        Some(Command::ImportRateCard { args }) => std::process::exit(import::run(&args)?),
    };
    let format = if serve_args.log_json {
        LogFormat::Json
    } else {
        LogFormat::Human
    };
    // Logs go to stderr: stdout carries the status lines for the person at the terminal.
    init_tracing_as(format, std::io::stderr);
    serve::serve(serve_args).await
}
