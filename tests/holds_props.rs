//! A property test over random interleavings of hold, charge, fail, release and expire on one
//! wallet (DynamoDB Local), against a model: after every step `held` is the sum of the open
//! holds, each hold's amount is accounted for, the ledger reconciles, and the store agrees with
//! the model on every amount.

use std::collections::{BTreeMap, BTreeSet};

use imcredits::holds::{HoldId, HoldStatus};
use imcredits::money::Money;
use imcredits::ports::holds::{HoldPlaced, HoldStore};
use imcredits::ports::store::ChargesPost;
use imcredits_tests::holds::{failed, funded_wallet, hold_charge, new_hold};
use imcredits_tests::{assert_reconciled, at, dynamo_store, usd};
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone)]
enum Op {
    Place(u64),
    Charge { hold: usize, wamid: u8, cost: u8 },
    Fail { hold: usize, wamid: u8 },
    Release(usize),
    Expire(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..40).prop_map(Op::Place),
        (0usize..4, 0u8..12, 0u8..3).prop_map(|(hold, wamid, cost)| Op::Charge {
            hold,
            wamid,
            cost
        }),
        (0usize..4, 0u8..12).prop_map(|(hold, wamid)| Op::Fail { hold, wamid }),
        (0usize..4).prop_map(Op::Release),
        (0usize..4).prop_map(Op::Expire),
    ]
}

#[derive(Default)]
struct Model {
    balance: Option<Money>,
    holds: Vec<(HoldId, bool)>,
    remaining: BTreeMap<HoldId, Money>,
    charged: BTreeSet<u8>,
    failed: BTreeSet<u8>,
}

fn min(a: Money, b: Money) -> Money {
    if a.amount() <= b.amount() { a } else { b }
}

async fn run(ops: Vec<Op>) {
    let store = dynamo_store().await;
    let account = funded_wallet(&store, "holdprop", "1").await;
    let mut model = Model {
        balance: Some(usd("1")),
        ..Model::default()
    };
    let now = OffsetDateTime::now_utc();
    for (step, op) in ops.into_iter().enumerate() {
        let pick = |index: usize, model: &Model| {
            model.holds.get(index % model.holds.len().max(1)).cloned()
        };
        match op {
            Op::Place(count) => {
                let hold = new_hold(
                    &store,
                    &account,
                    &format!("p{step}"),
                    count,
                    now,
                    Duration::hours(1),
                )
                .await;
                let held: Money = model
                    .remaining
                    .values()
                    .fold(usd("0"), |sum, r| sum.checked_add(*r).unwrap());
                let available = model.balance.unwrap().checked_sub(held).unwrap();
                let placed = store.place_hold(&hold, now).await.unwrap();
                if available.amount() >= hold.amount.amount() {
                    assert!(matches!(placed, HoldPlaced::Granted(_)), "{placed:?}");
                    model.holds.push((hold.id.clone(), true));
                    model.remaining.insert(hold.id, hold.amount);
                } else {
                    assert_eq!(placed, HoldPlaced::Refused { available });
                }
            }
            Op::Charge { hold, wamid, cost } => {
                let Some((id, _)) = pick(hold, &model) else {
                    continue;
                };
                let cost = ["0.0125", "0.02", "0"][usize::from(cost)];
                let entry = hold_charge(&format!("wamid.P{wamid}"), &id, &format!("-{cost}"));
                store.post_charges(&account, &[entry], at()).await.unwrap();
                if model.charged.insert(wamid) {
                    model.balance = Some(model.balance.unwrap().checked_sub(usd(cost)).unwrap());
                    if let Some(remaining) = model.remaining.get_mut(&id) {
                        *remaining = remaining.checked_sub(min(usd(cost), *remaining)).unwrap();
                    }
                }
            }
            Op::Fail { hold, wamid } => {
                let Some((id, _)) = pick(hold, &model) else {
                    continue;
                };
                store
                    .release_failed(&account, &[failed(&id, &format!("wamid.P{wamid}"))], at())
                    .await
                    .unwrap();
                if let Some(remaining) = model.remaining.get_mut(&id)
                    && model.failed.insert(wamid)
                {
                    *remaining = remaining
                        .checked_sub(min(usd("0.0125"), *remaining))
                        .unwrap();
                }
            }
            Op::Release(hold) | Op::Expire(hold) => {
                let Some((id, _)) = pick(hold, &model) else {
                    continue;
                };
                let (status, at_time) = match op {
                    Op::Release(_) => (HoldStatus::Released, now),
                    _ => (HoldStatus::Expired, now + Duration::hours(2)),
                };
                store
                    .release_hold(&account, &id, status, at_time)
                    .await
                    .unwrap();
                model.remaining.remove(&id);
            }
        }
        let wallet = assert_reconciled(&store, &account).await;
        let held: Money = model
            .remaining
            .values()
            .fold(usd("0"), |sum, r| sum.checked_add(*r).unwrap());
        assert_eq!(
            (wallet.balance, wallet.held),
            (model.balance.unwrap(), held),
            "after {op:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn random_interleavings_keep_held_exact_and_the_ledger_reconciled(ops in proptest::collection::vec(op(), 1..16)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}
