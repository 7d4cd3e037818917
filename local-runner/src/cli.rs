//! The command line: `serve` (the default), `token`, `send-webhook`, `dead-letters`,
//! `backfill-statement-schedule` and `import-rate-card`, each with its own flags and `--help`, and environment variables as fallbacks
//! for the flags that have one.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use imcredits::notices::retry::RetryPolicy;
use imcredits::ports::statement_backfill::BackfillCursor;

use crate::payments::PaymentsMode;

pub const DATA_DIR_DEFAULT: &str = ".local-data";
pub const PORT_DEFAULT: u16 = 8787;
/// Hours a token (and the dashboard's demo URL) is valid unless `--hours` says otherwise.
pub const TOKEN_HOURS_DEFAULT: i64 = 12;

/// imcredits-local: all of imcredits in one process, on an embedded DynamoDB-compatible engine.
/// Without a command it serves.
#[derive(Debug, Parser)]
#[command(
    name = "imcredits-local",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API, Meta's webhook, billing and auto-recharge on 127.0.0.1 (the default).
    Serve(ServeArgs),
    /// Print a token signed with the data dir's local secret.
    Token(TokenArgs),
    /// Sign FILE with the local app secret and POST it to the runner's Meta webhook.
    SendWebhook(SendWebhookArgs),
    /// List or redrive the dead letters kept in the data dir (the runner may be running).
    #[command(subcommand)]
    DeadLetters(DeadLettersCommand),
    /// The operator's one-off job: give wallets stored before the monthly statement schedule
    /// existed their schedule (a bounded maintenance Scan; stop the runner first, or use --aws).
    /// Resumable with the "resume" a run prints; a second run changes nothing.
    BackfillStatementSchedule(BackfillArgs),
    /// POST Meta's rates CSV to the running runner's rate-card route as an operator:
    /// FILE --effective-from DATE [--market-list VERSION] [--port 8787] [--data-dir .local-data].
    #[command(disable_help_flag = true)]
    ImportRateCard {
        /// Read by the command itself (`import.rs`), which says what it needs.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Where the runner keeps its data and local secrets.
    #[arg(long, env = "IMCREDITS_LOCAL_DATA_DIR", default_value = DATA_DIR_DEFAULT)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct PortArg {
    /// The runner's port on 127.0.0.1.
    #[arg(long, env = "IMCREDITS_LOCAL_PORT", default_value_t = PORT_DEFAULT,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub port: PortArg,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Fake payments, or Stripe (default: Stripe when STRIPE_SECRET_KEY is set).
    #[arg(long, env = "IMCREDITS_LOCAL_PAYMENTS", value_enum)]
    pub payments: Option<PaymentsMode>,
    /// How often the auto-recharge sweep runs (the schedule in AWS).
    #[arg(long, env = "IMCREDITS_LOCAL_RECHARGE_TICK_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub recharge_tick_seconds: u64,
    /// Webhook retries as in AWS (up to 3 days), or seconds apart (1 s doubling to 4 s, for 2
    /// minutes; an endpoint failing for 30 s is disabled) for demos and tests.
    #[arg(long, env = "IMCREDITS_LOCAL_WEBHOOK_SCHEDULE", value_enum, default_value_t = WebhookSchedule::Standard)]
    pub webhook_schedule: WebhookSchedule,
    /// Logs as JSON lines (as the Lambda functions write them) instead of text for people.
    #[arg(long, env = "IMCREDITS_LOCAL_LOG_JSON")]
    pub log_json: bool,
    /// The billing queue's bound in MiB: past it the webhook answers 503 and Meta retries.
    #[arg(long, env = "IMCREDITS_LOCAL_BILLING_QUEUE_MIB_MAX", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=4_096))]
    pub billing_queue_mib_max: u64,
    /// The billing queue's bound in messages (each holds up to 500 statuses).
    #[arg(long, env = "IMCREDITS_LOCAL_BILLING_QUEUE_MESSAGES_MAX", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub billing_queue_messages_max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WebhookSchedule {
    Standard,
    Short,
}

impl WebhookSchedule {
    pub fn policy(self) -> RetryPolicy {
        match self {
            WebhookSchedule::Standard => RetryPolicy::STANDARD,
            WebhookSchedule::Short => RetryPolicy::SHORT,
        }
    }
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("who").required(true).multiple(true).args(["account", "operator"])))]
pub struct TokenArgs {
    /// The account the token acts for.
    #[arg(long)]
    pub account: Option<String>,
    /// Grant the operator scope.
    #[arg(long)]
    pub operator: bool,
    /// Hours the token is valid.
    #[arg(long, default_value_t = TOKEN_HOURS_DEFAULT, value_parser = clap::value_parser!(i64).range(1..=24 * 30))]
    pub hours: i64,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Clone, Args)]
pub struct SendWebhookArgs {
    /// A Meta webhook body (at most 3 MiB).
    pub file: PathBuf,
    #[command(flatten)]
    pub port: PortArg,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    /// Go on where a run stopped: the "resume" it printed (a JSON array).
    #[arg(long)]
    pub resume: Option<BackfillCursor>,
    /// Items one page of the scan evaluates.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub page_items: u32,
    /// Pages this run reads at most (then it prints where to resume).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub pages: u32,
    /// Run against the AWS table named by TABLE_NAME (credentials, region and endpoint from the
    /// environment, as the AWS CLI takes them) instead of the data dir's.
    #[arg(long)]
    pub aws: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueName {
    Billing,
    Notifications,
    Recharges,
}

#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// Print dead letters as JSON lines, oldest first.
    List {
        /// Only this queue's.
        #[arg(long, value_enum)]
        queue: Option<QueueName>,
        /// Start after this id (the `next_after` a page ended with).
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000))]
        limit: u32,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Put dead letters back on their queue, to be delivered again.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Redrive {
        /// A dead letter's id (repeat for several).
        #[arg(long)]
        id: Vec<u64>,
        /// Every redrivable dead letter (up to 1,000 a call), of `--queue` if given.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, requires = "all")]
        queue: Option<QueueName>,
        #[command(flatten)]
        data: DataDirArg,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("imcredits-local").chain(line.split_whitespace()))
    }

    #[test]
    fn serve_is_the_default_and_its_flags_are_checked() {
        let cli = parse("").unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.port.port, 8787);
        assert_eq!(cli.serve.data.data_dir, PathBuf::from(".local-data"));
        assert_eq!(cli.serve.webhook_schedule, WebhookSchedule::Standard);
        let cli = parse(
            "--port 9000 --payments fake --recharge-tick-seconds 5 --log-json \
             --webhook-schedule short",
        )
        .unwrap();
        assert_eq!(cli.serve.port.port, 9000);
        assert_eq!(cli.serve.webhook_schedule.policy(), RetryPolicy::SHORT);
        assert_eq!(cli.serve.payments, Some(PaymentsMode::Fake));
        assert!(cli.serve.log_json);
        let Some(Command::Serve(serve)) = parse("serve --port 9001").unwrap().command else {
            panic!("serve");
        };
        assert_eq!(serve.port.port, 9001);
        for bad in [
            "--recharge-tick-seconds 0",
            "--recharge-tick-seconds 3601",
            "--payments paypal",
            "--webhook-schedule fast",
            "--port 0",
            "--port",
            "--bogus",
            "--operator",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_belong_to_their_command() {
        let Some(Command::Token(token)) = parse("token --account acme --operator").unwrap().command
        else {
            panic!("token");
        };
        assert_eq!(
            (token.account.as_deref(), token.operator, token.hours),
            (Some("acme"), true, 12)
        );
        assert!(
            parse("token").is_err(),
            "an account or the operator scope is needed"
        );
        assert!(
            parse("token --operator --port 9000").is_err(),
            "token has no port"
        );
        assert!(parse("token --account acme --hours 0").is_err());
        assert!(parse("send-webhook").is_err());
        let Some(Command::SendWebhook(send)) =
            parse("send-webhook body.json --port 9000").unwrap().command
        else {
            panic!("send-webhook");
        };
        assert_eq!(
            (send.file, send.port.port),
            (PathBuf::from("body.json"), 9000)
        );
        assert!(parse("dead-letters redrive").is_err(), "--id or --all");
        assert!(parse("dead-letters redrive --id 3 --all").is_err());
        assert!(parse("dead-letters list --queue billing --limit 10").is_ok());
        let Some(Command::ImportRateCard { args }) =
            parse("import-rate-card rates.csv --effective-from 2026-10-01 --port 9000")
                .unwrap()
                .command
        else {
            panic!("import-rate-card");
        };
        assert_eq!(
            args,
            [
                "rates.csv",
                "--effective-from",
                "2026-10-01",
                "--port",
                "9000"
            ]
        );
    }

    #[test]
    fn every_command_has_its_own_help() {
        for command in [
            "serve",
            "token",
            "send-webhook",
            "dead-letters",
            "dead-letters list",
        ] {
            let line = format!("{command} --help");
            let error = parse(&line).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::DisplayHelp,
                "{command}"
            );
        }
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
