//! `backfill-statement-schedule`: the operator's one-off job that gives wallets stored before the
//! monthly statement schedule their schedule (`imcredits::handlers::statement_backfill`), on the
//! data dir's engine (the runner stopped: the data dir is locked while it serves) or, with
//! `--aws`, on the deployed table. Prints one JSON line: what it did and where to resume.

use imcredits::config::StoreConfig;
use imcredits::handlers::statement_backfill::backfill_statement_schedule;
use imcredits::ports::clock::{Clock, SystemClock};
use imcredits::setup;
use serde_json::json;

use crate::cli::BackfillArgs;
use crate::engine::Engine;

pub async fn run(args: BackfillArgs) -> anyhow::Result<()> {
    // The engine (and its lock on the data dir) lives until the job ends.
    let engine;
    let store = if args.aws {
        let config = StoreConfig::from_env()?;
        setup::dynamo_store(&setup::aws_config().await, &config)
    } else {
        engine = Engine::start(&args.data.data_dir).await?;
        engine.store.clone()
    };
    let run = backfill_statement_schedule(
        &store,
        args.resume,
        args.page_items,
        args.pages,
        SystemClock.now(),
    )
    .await?;
    let line = json!({
        "pages": run.pages,
        "items_examined": run.items_examined,
        "wallets_unscheduled": run.wallets_unscheduled,
        "scheduled": run.scheduled,
        "done": run.resume.is_none(),
        "resume": run.resume.map(|cursor| cursor.to_string()),
    });
    println!("{line}");
    Ok(())
}
