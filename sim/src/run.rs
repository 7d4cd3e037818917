//! One seed's run: set up accounts, take steps the seed picks (with faults on), check the
//! invariants after each, then drain with faults off and check that everything landed once.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use imcredits::ids::AccountId;
use imcredits::ports::clock::Clock;
use imcredits::ports::store::WalletGet;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::check;
use crate::faults::{Faults, Rates};
use crate::model::{Account, Model};
use crate::rng::Rng;
use crate::steps::{
    Consumer, deliver_meta, deliver_stripe, drain_queue, place_hold, release_hold, send_grants,
    send_purchases,
};
use crate::world::World;

/// 2025-06-15, just after the statuses' timestamp: the flat USD card is in force.
const START_UNIX: i64 = 1_750_030_100;
/// Rounds the drain may take before the run counts as stuck.
const DRAIN_ROUNDS_MAX: u32 = 60;

/// How a seed's run went.
#[derive(Debug)]
pub struct Report {
    pub steps: u32,
    pub counts: crate::faults::Counts,
    pub rates: Rates,
    /// Ledger entries by kind at the end.
    pub posted: std::collections::BTreeMap<String, usize>,
    pub holds: usize,
    pub recharge_intents: usize,
}

/// Runs `seed`; `Err` names the first broken invariant.
pub async fn run(seed: u64) -> Result<Report, String> {
    let mut root = Rng::new(seed);
    let rates = Rates::chosen(&mut root);
    let faults = Faults::new(root.fork(), rates);
    let mut rng = root.fork();
    let start = OffsetDateTime::from_unix_timestamp(START_UNIX).expect("a time");
    let delay_max = Duration::seconds(rng.between(0, 120) as i64);
    let built = std::time::Instant::now();
    let world = World::build(faults.clone(), start, delay_max).await;
    if std::env::var_os("SIM_TIMING").is_some() {
        eprintln!("built in {:?}", built.elapsed());
    }
    let mut model = Model::default();
    faults.set_enabled(false);
    setup(&world, &mut model, &mut rng).await?;
    let steps = rng.between(20, 80) as u32;
    for step in 0..steps {
        let calls_before = faults.counts().store_calls;
        faults.set_enabled(true);
        take_step(&world, &mut model, &mut rng).await?;
        faults.set_enabled(false);
        // Every store call of a step is counted, so a step that made none (Meta writing a body,
        // a webhook delivery, an empty queue) left the store as the last check read it.
        let store_touched = faults.counts().store_calls != calls_before;
        check::during(&world, &model, store_touched)
            .await
            .map_err(|broken| format!("after step {step}: {broken}"))?;
    }
    drain(&world, &mut model).await?;
    late_duplicates(&mut model);
    drain(&world, &mut model)
        .await
        .map_err(|broken| format!("after the late duplicates: {broken}"))?;
    let posted = check::at_end(&world, &model).await?;
    Ok(Report {
        steps,
        counts: faults.counts(),
        rates,
        posted,
        holds: model.holds.iter().map(Vec::len).sum(),
        recharge_intents: world.stripe.lock().intents.len(),
    })
}

async fn setup(world: &World, model: &mut Model, rng: &mut Rng) -> Result<(), String> {
    let count = rng.between(1, 3) as usize;
    for index in 0..count {
        let id = AccountId::parse(&format!("acct-{index}")).expect("an id");
        let phone = format!("{}", 155_500_000 + index);
        let operator = world.operator().to_owned();
        let base = format!("/v1/operator/accounts/{id}");
        let wallet = json!({"currency": "USD"}).to_string().into_bytes();
        expect_ok(
            world
                .api(
                    Method::POST,
                    &format!("{base}/wallet"),
                    Some(&operator),
                    &[],
                    wallet,
                )
                .await,
            "create wallet",
        )?;
        let route = format!("{base}/phone-numbers/{phone}");
        expect_ok(
            world
                .api(Method::PUT, &route, Some(&operator), &[], Vec::new())
                .await,
            "attach route",
        )?;
        let token = world.token(Some(&id), false);
        model.accounts.push(Account {
            id,
            phone,
            token: token.clone(),
        });
        model.expected.push(BTreeSet::new());
        model.allowed.push(BTreeSet::new());
        model.holds.push(Vec::new());
        // A first purchase by card saves the card auto-recharge charges.
        let headers = [("Idempotency-Key", format!("setup-{index}"))];
        let body = json!({"credits": 5}).to_string().into_bytes();
        let (status, answer) = world
            .api(
                Method::POST,
                "/v1/wallet/purchases",
                Some(&token),
                &headers,
                body,
            )
            .await;
        expect_ok((status, answer.clone()), "first purchase")?;
        model.buyer_events(rng, index, &answer, world.clock.now(), Some(0));
        deliver_stripe(world, model, rng, true).await?;
        let minimum = *rng.pick(&["1.00", "20.00", "100.00"]);
        let settings = json!({"enabled": rng.chance(800), "minimum_balance": minimum, "credits": rng.between(5, 20)});
        let path = "/v1/wallet/auto-recharge";
        expect_ok(
            world
                .api(
                    Method::PUT,
                    path,
                    Some(&token),
                    &[],
                    settings.to_string().into_bytes(),
                )
                .await,
            "auto-recharge",
        )?;
    }
    Ok(())
}

fn expect_ok(answer: (StatusCode, serde_json::Value), what: &str) -> Result<(), String> {
    if answer.0.is_success() {
        Ok(())
    } else {
        Err(format!("setup: {what} answered {}: {}", answer.0, answer.1))
    }
}

async fn take_step(world: &World, model: &mut Model, rng: &mut Rng) -> Result<(), String> {
    let seconds = rng.below(6) as i64;
    world.clock.advance(Duration::seconds(seconds));
    if rng.chance(30) {
        // A clock jump: minutes to an hour and a half pass between two events.
        world
            .clock
            .advance(Duration::minutes(rng.between(1, 90) as i64));
    }
    let account = rng.below(model.accounts.len() as u64) as usize;
    match rng.below(100) {
        0..=17 => {
            let body = model.meta_body(rng, account);
            model.meta_outbox.push(body);
        }
        18..=37 => deliver_meta(world, model, rng).await,
        38..=59 => drain_queue(world, &world.billing_queue, rng, Consumer::Billing).await,
        60..=67 => drain_queue(world, &world.recharge_queue, rng, Consumer::Recharge).await,
        68..=70 => {
            world.faults.start_run();
            let _ = world.recharger.sweep().await;
            world.faults.end_run();
        }
        71..=76 => {
            let grant = model.grant(rng, account);
            model.grants_pending.push(grant);
            send_grants(world, model, rng, false).await?;
        }
        77..=83 => {
            let purchase = model.purchase(rng, account);
            model.purchases_pending.push(purchase);
            send_purchases(world, model, rng, false).await?;
        }
        84..=89 => place_hold(world, model, rng, account).await?,
        90..=91 => release_hold(world, model, rng, account).await?,
        92 => {
            world.faults.start_run();
            let _ = imcredits::handlers::holds::sweep_expired_holds(
                &world.store,
                &world.notice_queue,
                world.clock.now(),
            )
            .await;
            world.faults.end_run();
        }
        _ => deliver_stripe(world, model, rng, false).await?,
    }
    Ok(())
}

/// Faults off: every sender retries, every queue empties, every recharge in flight is resumed.
async fn drain(world: &World, model: &mut Model) -> Result<(), String> {
    world.faults.set_enabled(false);
    let mut rng = Rng::new(0);
    for _ in 0..DRAIN_ROUNDS_MAX {
        world.clock.advance(Duration::minutes(3));
        send_grants(world, model, &mut rng, true).await?;
        send_purchases(world, model, &mut rng, true).await?;
        deliver_stripe(world, model, &mut rng, true).await?;
        while let Some(body) = model.meta_outbox.pop() {
            if world.deliver_meta(&body).await != StatusCode::OK {
                return Err("Meta's delivery refused with faults off".into());
            }
            model.acknowledged.meta.push(body);
        }
        for _ in 0..100 {
            if world.billing_queue.is_empty() && world.recharge_queue.is_empty() {
                break;
            }
            world.clock.advance(VISIBILITY_PLUS);
            drain_queue(world, &world.billing_queue, &mut rng, Consumer::Billing).await;
            drain_queue(world, &world.recharge_queue, &mut rng, Consumer::Recharge).await;
        }
        let _ = world.recharger.sweep().await;
        if settled(world, model) {
            return Ok(());
        }
    }
    let mut wallets = Vec::new();
    for account in &model.accounts {
        if let Ok(Some(wallet)) = world.store.get_wallet(&account.id).await {
            let settings = &wallet.auto_recharge;
            wallets.push(format!(
                "{}: available {} minimum {} enabled {}",
                account.id,
                wallet.available(),
                settings.minimum_balance,
                settings.enabled
            ));
        }
    }
    Err(format!(
        "not settled after {DRAIN_ROUNDS_MAX} drain rounds: billing queue {}, recharge queue {}, \
         unanswered recharges {:?}; wallets {wallets:?}",
        world.billing_queue.len(),
        world.recharge_queue.len(),
        check::open_intents(world)
    ))
}

/// Everything acknowledged comes once more, long after it was posted: Meta and Stripe deliver at
/// least once and retry on their own schedules, an operator resubmits an order. Every seed has one
/// at least (the setup's paid purchase), so every seed replays an entry already in the ledger.
fn late_duplicates(model: &mut Model) {
    let acknowledged = std::mem::take(&mut model.acknowledged);
    model.meta_outbox.extend(acknowledged.meta);
    model.stripe_outbox.extend(acknowledged.stripe);
    model.grants_pending.extend(acknowledged.grants);
}

const VISIBILITY_PLUS: Duration = Duration::seconds(31);

fn settled(world: &World, model: &Model) -> bool {
    model.meta_outbox.is_empty()
        && model.stripe_outbox.is_empty()
        && model.grants_pending.is_empty()
        && model.purchases_pending.is_empty()
        && world.billing_queue.is_empty()
        && world.recharge_queue.is_empty()
        && check::open_intents(world).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn once(seed: u64) -> Report {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime
            .block_on(run(seed))
            .unwrap_or_else(|broken| panic!("seed {seed}: {broken}"))
    }

    #[test]
    fn a_seed_replays_exactly() {
        // Seed 3 crashes handlers, loses answers and throttles: the hardest to replay.
        let (first, second) = (once(3), once(3));
        assert!(first.counts.store_calls > 0 && first.counts.requests_lost > 0);
        assert_eq!(format!("{first:?}"), format!("{second:?}"));
        assert_ne!(
            first.counts.trace,
            once(4).counts.trace,
            "another seed, another run"
        );
    }
}
