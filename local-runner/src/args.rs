//! Command-line arguments, parsed by hand: a handful of flags does not need a parser crate.

use std::path::PathBuf;

use imcredits::notices::retry::RetryPolicy;

use crate::payments::PaymentsMode;

pub const PORT_DEFAULT: u16 = 8787;
pub const DATA_DIR_DEFAULT: &str = ".local-data";
pub const TOKEN_HOURS_DEFAULT: i64 = 12;
pub const RECHARGE_TICK_SECONDS_DEFAULT: u64 = 60;
const RECHARGE_TICK_SECONDS_MAX: u64 = 3_600;
const TOKEN_HOURS_MAX: i64 = 24 * 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve the API on 127.0.0.1:`port`, storing everything under `data_dir`.
    Serve {
        port: u16,
        data_dir: PathBuf,
        /// `--payments fake|stripe`; `None` lets the environment decide (Stripe keys: Stripe).
        payments: Option<PaymentsMode>,
        /// `--recharge-tick-seconds`: how often the auto-recharge sweep runs (the schedule).
        recharge_tick_seconds: u64,
        /// `--webhook-schedule standard|short`: webhook retries as in AWS (up to 3 days), or
        /// seconds apart (1 s doubling to 4 s, for 2 minutes; an endpoint failing for 30 s is
        /// disabled) for demos and tests.
        webhook_schedule: RetryPolicy,
    },
    /// Print a token signed with the data dir's local secret.
    Token {
        data_dir: PathBuf,
        account: Option<String>,
        operator: bool,
        hours: i64,
    },
    /// Sign FILE with the local app secret and POST it to the runner's Meta webhook.
    SendWebhook {
        port: u16,
        data_dir: PathBuf,
        file: PathBuf,
    },
    Help,
}

pub const USAGE: &str = "\
imcredits-local: all of imcredits in one process, on an embedded DynamoDB-compatible engine.

USAGE:
    imcredits-local [serve] [--port 8787] [--data-dir .local-data] [--payments fake|stripe]
                    [--recharge-tick-seconds 60] [--webhook-schedule standard|short]
    imcredits-local token (--account ID | --operator | both) [--hours 12] [--data-dir .local-data]
    imcredits-local send-webhook FILE [--port 8787] [--data-dir .local-data]
";

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter().peekable();
    let command = match args.peek().map(String::as_str) {
        Some("serve") | Some("token") | Some("help") | Some("send-webhook") => args.next(),
        _ => None,
    };
    let file = if command.as_deref() == Some("send-webhook") {
        match args.next() {
            Some(file) if !file.starts_with("--") => Some(PathBuf::from(file)),
            _ => return Err("send-webhook needs the FILE to send".into()),
        }
    } else {
        None
    };
    let mut port = PORT_DEFAULT;
    let mut data_dir = PathBuf::from(DATA_DIR_DEFAULT);
    let mut account = None;
    let mut operator = false;
    let mut hours = TOKEN_HOURS_DEFAULT;
    let mut payments = None;
    let mut recharge_tick_seconds = RECHARGE_TICK_SECONDS_DEFAULT;
    let mut webhook_schedule = RetryPolicy::STANDARD;
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                port = value("--port")?
                    .parse()
                    .ok()
                    .filter(|port| *port != 0)
                    .ok_or("--port takes a number from 1 to 65535")?;
            }
            "--data-dir" => data_dir = PathBuf::from(value("--data-dir")?),
            "--account" => account = Some(value("--account")?),
            "--operator" => operator = true,
            "--payments" => {
                payments = Some(match value("--payments")?.as_str() {
                    "fake" => PaymentsMode::Fake,
                    "stripe" => PaymentsMode::Stripe,
                    _ => return Err("--payments takes fake or stripe".into()),
                });
            }
            "--recharge-tick-seconds" => {
                recharge_tick_seconds = value("--recharge-tick-seconds")?
                    .parse()
                    .ok()
                    .filter(|seconds| (1..=RECHARGE_TICK_SECONDS_MAX).contains(seconds))
                    .ok_or(format!(
                        "--recharge-tick-seconds takes a number from 1 to {RECHARGE_TICK_SECONDS_MAX}"
                    ))?;
            }
            "--webhook-schedule" => {
                webhook_schedule = match value("--webhook-schedule")?.as_str() {
                    "standard" => RetryPolicy::STANDARD,
                    "short" => RetryPolicy::SHORT,
                    _ => return Err("--webhook-schedule takes standard or short".into()),
                };
            }
            "--hours" => {
                hours = value("--hours")?
                    .parse()
                    .ok()
                    .filter(|hours| (1..=TOKEN_HOURS_MAX).contains(hours))
                    .ok_or(format!(
                        "--hours takes a number from 1 to {TOKEN_HOURS_MAX}"
                    ))?;
            }
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    match command.as_deref() {
        Some("help") => Ok(Command::Help),
        Some("send-webhook") => {
            let file = file.ok_or("send-webhook needs the FILE to send")?;
            Ok(Command::SendWebhook {
                port,
                data_dir,
                file,
            })
        }
        Some("token") => {
            if account.is_none() && !operator {
                return Err("token needs --account ID, --operator, or both".into());
            }
            Ok(Command::Token {
                data_dir,
                account,
                operator,
                hours,
            })
        }
        _ => {
            if account.is_some() || operator {
                return Err("--account and --operator belong to the token command".into());
            }
            Ok(Command::Serve {
                port,
                data_dir,
                payments,
                recharge_tick_seconds,
                webhook_schedule,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Command, String> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn serve_is_the_default_and_flags_are_checked() {
        assert_eq!(
            parse_line(""),
            Ok(Command::Serve {
                port: 8787,
                data_dir: ".local-data".into(),
                payments: None,
                recharge_tick_seconds: 60,
                webhook_schedule: RetryPolicy::STANDARD,
            })
        );
        assert_eq!(
            parse_line(
                "serve --port 9000 --data-dir /tmp/x --payments fake --recharge-tick-seconds 5 \
                 --webhook-schedule short"
            ),
            Ok(Command::Serve {
                port: 9000,
                data_dir: "/tmp/x".into(),
                payments: Some(PaymentsMode::Fake),
                recharge_tick_seconds: 5,
                webhook_schedule: RetryPolicy::SHORT,
            })
        );
        assert!(parse_line("--recharge-tick-seconds 0").is_err());
        assert!(parse_line("--recharge-tick-seconds 3601").is_err());
        assert!(parse_line("--payments paypal").is_err());
        assert!(parse_line("--webhook-schedule fast").is_err());
        assert!(parse_line("--port 0").is_err());
        assert!(parse_line("--port").is_err());
        assert!(parse_line("--bogus").is_err());
        assert!(parse_line("--operator").is_err());
    }

    #[test]
    fn token_needs_an_account_or_the_operator_scope() {
        assert_eq!(
            parse_line("token --account acme --operator"),
            Ok(Command::Token {
                data_dir: ".local-data".into(),
                account: Some("acme".into()),
                operator: true,
                hours: 12
            })
        );
        assert!(parse_line("token").is_err());
        assert!(parse_line("token --account acme --hours 0").is_err());
    }

    #[test]
    fn send_webhook_needs_a_file() {
        assert_eq!(
            parse_line("send-webhook body.json --port 9000"),
            Ok(Command::SendWebhook {
                port: 9000,
                data_dir: ".local-data".into(),
                file: "body.json".into()
            })
        );
        assert!(parse_line("send-webhook").is_err());
        assert!(parse_line("send-webhook --port 9000").is_err());
    }
}
