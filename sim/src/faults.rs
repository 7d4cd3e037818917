//! The faults the seed chooses, in one place: every port wrapper (the DynamoDB client's
//! interceptor, the queues, the fake Stripe) asks [`Faults`] what happens to its next call.
//!
//! A *crash* kills the running handler between two store calls: the call it was about to make, and
//! every later call of any port, fail without effect until the scheduler [`revives`](Faults::revive)
//! the process and redelivers the work, as SQS or the sender would.

use std::sync::{Arc, Mutex, MutexGuard};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::rng::Rng;

/// How often each fault strikes, per mille of calls, as the seed chose them.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub store_request_lost: u32,
    pub store_answer_lost: u32,
    pub store_throttled: u32,
    /// Of handler runs: crash before one of its store calls.
    pub crash: u32,
    pub queue_send_failed: u32,
    pub queue_answer_lost: u32,
    pub stripe_timeout: u32,
    pub stripe_5xx: u32,
}

impl Rates {
    /// Rates for one seed: some seeds are calm, some stormy.
    pub fn chosen(rng: &mut Rng) -> Self {
        let storm = rng.between(0, 4) as u32; // 0: no faults at all
        let mut rate = |max: u32| (rng.below(u64::from(max) + 1) as u32) * storm / 4;
        Self {
            store_request_lost: rate(80),
            store_answer_lost: rate(80),
            store_throttled: rate(60),
            crash: rate(250),
            queue_send_failed: rate(60),
            queue_answer_lost: rate(60),
            stripe_timeout: rate(120),
            stripe_5xx: rate(120),
        }
    }
}

/// What the faults did in a run (printed with a failing seed).
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Store calls made with faults on (the checks' reads are not counted).
    pub store_calls: u64,
    pub requests_lost: u64,
    pub answers_lost: u64,
    pub throttled: u64,
    pub crashes: u64,
    /// A digest of every decision in order: two runs of a seed that agree on it made the same
    /// calls and met the same faults.
    pub trace: u64,
}

impl Counts {
    fn record(&mut self, decision: u64) {
        self.trace = (self.trace ^ decision).wrapping_mul(0x0000_0100_0000_01B3);
    }
}

#[derive(Debug)]
struct State {
    rng: Rng,
    rates: Rates,
    enabled: bool,
    dead: bool,
    /// Crash before the store call of this number within the current handler run.
    crash_before: Option<u32>,
    calls_in_run: u32,
    lose_answer: bool,
    counts: Counts,
}

/// Shared by every fault-injecting wrapper of one run.
#[derive(Debug, Clone)]
pub struct Faults(Arc<Mutex<State>>);

impl Faults {
    pub fn new(rng: Rng, rates: Rates) -> Self {
        Self(Arc::new(Mutex::new(State {
            rng,
            rates,
            // Off until the scheduler's steps begin: building the table is not under test.
            enabled: false,
            dead: false,
            crash_before: None,
            calls_in_run: 0,
            lose_answer: false,
            counts: Counts::default(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Faults on (the run) or off (checks and the final drain).
    pub fn set_enabled(&self, enabled: bool) {
        self.lock().enabled = enabled;
    }

    /// A handler run starts: maybe it will crash before its `k`th store call.
    pub fn start_run(&self) {
        let mut state = self.lock();
        state.calls_in_run = 0;
        state.dead = false;
        let crash = state.enabled && {
            let rate = state.rates.crash;
            state.rng.chance(rate)
        };
        state.crash_before = if crash {
            Some(state.rng.below(8) as u32)
        } else {
            None
        };
    }

    /// The run ended; `true` if it crashed (its work must be redelivered, its answers ignored).
    pub fn end_run(&self) -> bool {
        let mut state = self.lock();
        let crashed = state.dead;
        state.dead = false;
        state.crash_before = None;
        crashed
    }

    pub fn dead(&self) -> bool {
        self.lock().dead
    }

    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// A draw for a port's own fault (`per_mille` of the rate chosen by `rate`), never while off.
    pub fn strikes(&self, rate: impl Fn(&Rates) -> u32) -> bool {
        let mut state = self.lock();
        if !state.enabled {
            return false;
        }
        let per_mille = rate(&state.rates);
        let struck = state.rng.chance(per_mille);
        state.counts.record(u64::from(struck) + 2);
        struck
    }

    /// The generator the fake ports use for their answers (declines, processing): drawn from the
    /// same stream, in call order, so a seed replays them.
    pub fn draw(&self, bound: u64) -> u64 {
        let mut state = self.lock();
        let drawn = state.rng.below(bound);
        state.counts.record(drawn + 16);
        drawn
    }

    fn before_store_call(&self) -> Result<(), BoxError> {
        let mut state = self.lock();
        if state.dead {
            return Err("crashed: the process is gone".into());
        }
        state.lose_answer = false;
        if !state.enabled {
            return Ok(());
        }
        state.counts.store_calls += 1;
        let call = state.calls_in_run;
        state.calls_in_run += 1;
        if state.crash_before == Some(call) {
            state.dead = true;
            state.counts.crashes += 1;
            return Err("crashed before this store call".into());
        }
        let rates = state.rates;
        if state.rng.chance(rates.store_throttled) {
            state.counts.throttled += 1;
            return Err("ProvisionedThroughputExceeded (simulated throttling)".into());
        }
        if state.rng.chance(rates.store_request_lost) {
            state.counts.requests_lost += 1;
            return Err("simulated: the request was lost before the store saw it".into());
        }
        state.lose_answer = state.rng.chance(rates.store_answer_lost);
        let decision = u64::from(state.lose_answer) + 4;
        state.counts.record(decision);
        Ok(())
    }

    fn after_store_call(&self) -> Result<(), BoxError> {
        let mut state = self.lock();
        if std::mem::take(&mut state.lose_answer) {
            state.counts.answers_lost += 1;
            return Err("simulated: the store committed, then the answer was lost".into());
        }
        Ok(())
    }
}

/// The DynamoDB client's fault wrapper: every store call of every handler passes through it.
#[derive(Debug, Clone)]
pub struct StoreFaults(pub Faults);

impl Intercept for StoreFaults {
    fn name(&self) -> &'static str {
        "SimStoreFaults"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.before_store_call()
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.after_store_call()
    }
}
