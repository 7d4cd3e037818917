//! `imcredits-sim --seed S` replays one seed; `--seeds N [--from F]` runs seeds F..F+N and prints
//! how many ran and how many failed (exit 1 if any did). Run through `scripts/simulate`.

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;

use anyhow::{Context, bail};

fn run_seed(seed: u64) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("no runtime: {error}"))?;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(imcredits_sim::run::run(seed))
    }));
    match outcome {
        Ok(Ok(report)) => Ok(format!("{report:?}")),
        Ok(Err(broken)) => Err(broken),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
            .unwrap_or_else(|| "a panic".into())),
    }
}

fn arg(args: &[String], name: &str) -> anyhow::Result<Option<u64>> {
    match args.iter().position(|arg| arg == name) {
        None => Ok(None),
        Some(index) => {
            let value = args
                .get(index + 1)
                .with_context(|| format!("{name} needs a number"))?;
            Ok(Some(
                value.parse().with_context(|| format!("{name} {value}"))?,
            ))
        }
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(seed) = arg(&args, "--seed")? {
        return Ok(match run_seed(seed) {
            Ok(report) => {
                println!("seed {seed} passed: {report}");
                ExitCode::SUCCESS
            }
            Err(broken) => {
                println!("seed {seed} FAILED: {broken}\nreplay: scripts/simulate --seed {seed}");
                ExitCode::FAILURE
            }
        });
    }
    let Some(count) = arg(&args, "--seeds")? else {
        bail!("usage: imcredits-sim --seed S | --seeds N [--from F]");
    };
    let from = arg(&args, "--from")?.unwrap_or(0);
    // A failing seed's panic is caught and printed as one line with its replay command; the
    // default hook's backtrace would bury the summary (`--seed S` keeps it, for debugging).
    std::panic::set_hook(Box::new(|_| {}));
    let started = std::time::Instant::now();
    let mut failed = 0u64;
    for seed in from..from.saturating_add(count) {
        if let Err(broken) = run_seed(seed) {
            failed += 1;
            // One line a seed (a store error's debug form runs to kilobytes); the replay shows all.
            let short: String = broken.chars().take(300).collect();
            println!("seed {seed} FAILED: {short}\nreplay: scripts/simulate --seed {seed}");
        }
    }
    println!(
        "simulated {count} seeds ({from}..{}): {} passed, {failed} failed, in {:.1} s",
        from + count,
        count - failed,
        started.elapsed().as_secs_f64()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
