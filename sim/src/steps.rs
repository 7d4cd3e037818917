//! The steps the scheduler takes: each is one delivery, request or Lambda invocation, run with the
//! faults on, and each retries what the real sender would retry.

use axum::http::{Method, StatusCode};
use imcredits::handlers::batch::Record;
use imcredits::ports::clock::Clock;
use serde_json::json;

use crate::model::Model;
use crate::ports::SimQueue;
use crate::rng::Rng;
use crate::world::World;

/// A platform reserves money for a send (keys repeat: a retried request).
pub async fn place_hold(
    world: &World,
    model: &mut Model,
    rng: &mut Rng,
    account: usize,
) -> Result<(), String> {
    let key = format!("hold-{account}-{}", rng.below(6));
    let count = 1 + key.len() as u64 % 3 + rng.below(3);
    let body = json!({"expires_in_seconds": 60 * rng.between(1, 60), "lines": [
        {"country": "IN", "category": "marketing", "count": count}]});
    let token = model.accounts[account].token.clone();
    world.faults.start_run();
    let headers = [("Idempotency-Key", key.clone())];
    let (status, answer) = world
        .api(
            Method::POST,
            "/v1/wallet/holds",
            Some(&token),
            &headers,
            body.to_string().into_bytes(),
        )
        .await;
    let crashed = world.faults.end_run();
    if crashed || status.is_server_error() {
        return Ok(());
    }
    match status {
        StatusCode::CREATED => {
            let id = answer["hold_id"].as_str().unwrap_or_default().to_owned();
            let tag = answer["callback_tag"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !model.holds[account].iter().any(|(known, _)| *known == id) {
                model.holds[account].push((id, tag));
            }
            Ok(())
        }
        // Not enough available, or the key was used with another body: refused, nothing held.
        StatusCode::PAYMENT_REQUIRED | StatusCode::CONFLICT => Ok(()),
        _ => Err(format!("hold {key} answered {status}: {answer}")),
    }
}

/// The sender releases a hold it no longer needs (perhaps one already settled or expired).
pub async fn release_hold(
    world: &World,
    model: &mut Model,
    rng: &mut Rng,
    account: usize,
) -> Result<(), String> {
    if model.holds[account].is_empty() {
        return Ok(());
    }
    let (id, _) = rng.pick(&model.holds[account]).clone();
    let token = model.accounts[account].token.clone();
    world.faults.start_run();
    let path = format!("/v1/wallet/holds/{id}");
    let (status, answer) = world
        .api(Method::DELETE, &path, Some(&token), &[], Vec::new())
        .await;
    let crashed = world.faults.end_run();
    if crashed || status.is_success() || status.is_server_error() || status == StatusCode::CONFLICT
    {
        return Ok(());
    }
    Err(format!("release of {id} answered {status}: {answer}"))
}

/// Meta delivers one pending body (any one: reordered); an answer of 200 may still be delivered
/// again (Meta's duplicates).
pub async fn deliver_meta(world: &World, model: &mut Model, rng: &mut Rng) {
    if model.meta_outbox.is_empty() {
        return;
    }
    let index = rng.below(model.meta_outbox.len() as u64) as usize;
    world.faults.start_run();
    let status = world.deliver_meta(&model.meta_outbox[index]).await;
    let crashed = world.faults.end_run();
    if status == StatusCode::OK && !crashed && !rng.chance(150) {
        let body = model.meta_outbox.swap_remove(index);
        model.acknowledged.meta.push(body);
    }
}

#[derive(Clone, Copy)]
pub enum Consumer {
    Billing,
    Recharge,
}

/// One Lambda invocation on `queue`: a batch, the handler, and SQS's partial-batch deletes. A crash
/// deletes nothing; a success may still come again (SQS delivers at least once).
pub async fn drain_queue(world: &World, queue: &SimQueue, rng: &mut Rng, consumer: Consumer) {
    let batch = queue.receive(rng.between(1, 10) as usize);
    if batch.is_empty() {
        return;
    }
    let records: Vec<Record> = batch
        .iter()
        .map(|message| Record {
            id: message.id.to_string(),
            body: message.body.clone(),
        })
        .collect();
    world.faults.start_run();
    let failed = match consumer {
        Consumer::Billing => world.billing.handle(&records).await.failed,
        Consumer::Recharge => world.recharger.handle_requests(&records).await.failed,
    };
    if world.faults.end_run() {
        return;
    }
    for message in batch {
        let id = message.id.to_string();
        if !failed.contains(&id) && !rng.chance(100) {
            queue.delete(message.id);
        }
    }
}

/// The operator (re)sends every pending grant; a 201 ends it, a 5xx or a crash leaves it pending.
pub async fn send_grants(
    world: &World,
    model: &mut Model,
    rng: &mut Rng,
    all: bool,
) -> Result<(), String> {
    let mut still = Vec::new();
    for (account, reference, credits) in std::mem::take(&mut model.grants_pending) {
        if !all && rng.chance(300) {
            still.push((account, reference, credits));
            continue;
        }
        let path = format!(
            "/v1/operator/accounts/{}/grants",
            model.accounts[account].id
        );
        let body = json!({"order_reference": reference, "credits": credits, "source": "store"});
        world.faults.start_run();
        let operator = world.operator().to_owned();
        let (status, answer) = world
            .api(
                Method::POST,
                &path,
                Some(&operator),
                &[],
                body.to_string().into_bytes(),
            )
            .await;
        let crashed = world.faults.end_run();
        if crashed || status.is_server_error() {
            still.push((account, reference, credits));
        } else if status == StatusCode::CREATED {
            model
                .acknowledged
                .grants
                .push((account, reference, credits));
        } else {
            return Err(format!("grant {reference} answered {status}: {answer}"));
        }
    }
    model.grants_pending = still;
    Ok(())
}

/// The buyer (re)sends every pending purchase; a 201 opens a checkout, and the buyer then pays,
/// waits, fails or walks away (the events Stripe will send).
pub async fn send_purchases(
    world: &World,
    model: &mut Model,
    rng: &mut Rng,
    all: bool,
) -> Result<(), String> {
    let mut still = Vec::new();
    for (account, key, credits) in std::mem::take(&mut model.purchases_pending) {
        if !all && rng.chance(300) {
            still.push((account, key, credits));
            continue;
        }
        let token = model.accounts[account].token.clone();
        let body = json!({"credits": credits}).to_string().into_bytes();
        world.faults.start_run();
        let headers = [("Idempotency-Key", key.clone())];
        let (status, answer) = world
            .api(
                Method::POST,
                "/v1/wallet/purchases",
                Some(&token),
                &headers,
                body,
            )
            .await;
        let crashed = world.faults.end_run();
        if crashed || status.is_server_error() {
            still.push((account, key, credits));
        } else if status == StatusCode::CREATED {
            let purchase_id = answer["purchase_id"].as_str().unwrap_or_default();
            if !model.bought.contains_key(purchase_id) {
                model.buyer_events(rng, account, &answer, world.clock.now(), None);
            }
        } else {
            return Err(format!("purchase {key} answered {status}: {answer}"));
        }
    }
    model.purchases_pending = still;
    Ok(())
}

/// Stripe delivers one pending event (or, draining, all of them); a 2xx may be delivered again.
pub async fn deliver_stripe(
    world: &World,
    model: &mut Model,
    rng: &mut Rng,
    all: bool,
) -> Result<(), String> {
    let rounds = if all { model.stripe_outbox.len() } else { 1 };
    for _ in 0..rounds {
        if model.stripe_outbox.is_empty() {
            break;
        }
        let index = if all {
            0
        } else {
            rng.below(model.stripe_outbox.len() as u64) as usize
        };
        world.faults.start_run();
        let status = world.deliver_stripe(&model.stripe_outbox[index]).await;
        let crashed = world.faults.end_run();
        if status.is_success() && !crashed {
            if all || !rng.chance(150) {
                let event = model.stripe_outbox.remove(index);
                model.acknowledged.stripe.push(event);
            }
        } else if status.is_client_error() {
            return Err(format!("Stripe event refused with {status}"));
        }
    }
    Ok(())
}
