//! `import-rate-card FILE --effective-from DATE [--market-list VERSION] [--port] [--data-dir]`:
//! posts Meta's rates CSV to the running runner's `POST /v1/operator/rate-cards` as an operator,
//! exactly as an operator's own client would, and prints the answer. The market list defaults to
//! the seed fixture's list in force at `--effective-from` (the lists the runner loads at start);
//! after loading Meta's own lists, name one with `--market-list` (the API refuses a list that is
//! not the one in force, naming it). Its arguments are parsed here, so that hooking it into
//! the runner's command line takes a few lines.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;

pub const USAGE: &str = "    imcredits-local import-rate-card FILE --effective-from DATE [--market-list VERSION]\n                    [--port 8787] [--data-dir .local-data]\n";
/// Meta's rates files are a few KiB; the API takes at most 256 KiB.
const FILE_LEN_MAX: u64 = 256 * 1024;

#[derive(Debug, PartialEq, Eq)]
struct Import {
    file: PathBuf,
    effective_from: String,
    market_list: Option<String>,
    port: u16,
    data_dir: PathBuf,
}

fn parse(args: &[String]) -> Result<Import, String> {
    let mut args = args.iter();
    let file = match args.next() {
        Some(file) if !file.starts_with("--") => PathBuf::from(file),
        _ => return Err("import-rate-card needs the FILE to import".into()),
    };
    let mut import = Import {
        file,
        effective_from: String::new(),
        market_list: None,
        port: crate::cli::PORT_DEFAULT,
        data_dir: PathBuf::from(crate::cli::DATA_DIR_DEFAULT),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--effective-from" => import.effective_from = value.clone(),
            "--market-list" => import.market_list = Some(value.clone()),
            "--port" => {
                import.port = value
                    .parse()
                    .ok()
                    .filter(|port| *port != 0)
                    .ok_or("--port takes a number from 1 to 65535")?;
            }
            "--data-dir" => import.data_dir = PathBuf::from(value),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if import.effective_from.is_empty() {
        return Err("import-rate-card needs --effective-from DATE (e.g. 2026-10-01)".into());
    }
    Ok(import)
}

/// Runs the command; the process's exit code is 0 when the card was saved (or already was).
pub fn run(args: &[String]) -> anyhow::Result<i32> {
    let import = match parse(args) {
        Ok(import) => import,
        Err(problem) => {
            eprintln!("{problem}\n\nUSAGE:\n{USAGE}");
            return Ok(2);
        }
    };
    let market_list = match &import.market_list {
        Some(version) => version.clone(),
        None => imcredits::pricing::json::parse_effective_from(&import.effective_from)
            .and_then(|at| imcredits::pricing::built_in_market_lists().in_force_at(at))
            .map(|list| list.version().to_owned())
            .context(
                "no market list is in force at --effective-from; name one with --market-list",
            )?,
    };
    let length = std::fs::metadata(&import.file)
        .with_context(|| format!("reading {}", import.file.display()))?
        .len();
    anyhow::ensure!(
        length <= FILE_LEN_MAX,
        "{} is over 256 KiB",
        import.file.display()
    );
    let body = std::fs::read(&import.file)
        .with_context(|| format!("reading {}", import.file.display()))?;
    let token = crate::token(&import.data_dir, None, true, 1)?;
    let query = format!(
        "effective_from={}&market_list={}",
        percent_encoded(&import.effective_from),
        percent_encoded(&market_list)
    );
    let port = import.port;
    let mut stream = crate::send::connect(port)?;
    write!(
        stream,
        "POST /v1/operator/rate-cards?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    let mut response = String::new();
    stream.take(64 * 1024).read_to_string(&mut response)?;
    let status: u16 = response
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .context("the runner's answer has no status")?;
    let answer = response.split("\r\n\r\n").nth(1).unwrap_or("");
    println!("{status} {answer}");
    Ok(if status == 201 { 0 } else { 1 })
}

/// A query value with everything but unreserved characters percent-encoded.
fn percent_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_file_and_the_effective_date_are_required() {
        assert_eq!(
            parse(&line("rates.csv --effective-from 2026-10-01 --port 9000")),
            Ok(Import {
                file: "rates.csv".into(),
                effective_from: "2026-10-01".into(),
                market_list: None,
                port: 9000,
                data_dir: ".local-data".into(),
            })
        );
        assert!(parse(&line("rates.csv")).is_err());
        assert!(parse(&line("--effective-from 2026-10-01")).is_err());
        assert!(parse(&line("rates.csv --effective-from")).is_err());
        assert!(parse(&line("rates.csv --effective-from 2026-10-01 --bogus 1")).is_err());
        assert_eq!(
            percent_encoded("2026-10-01T00:00:00+02:00"),
            "2026-10-01T00%3A00%3A00%2B02%3A00"
        );
    }
}
