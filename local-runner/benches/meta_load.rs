//! Meta's traffic played against the real runner binary: signed bodies of 1 to 1,000 statuses
//! from several senders at once (one connection each, one wallet each), on loopback.
//!
//! Two phases. A burst (every sender posts its bodies back to back, answers 503 retried as Meta
//! does) gives the webhook's latency under load and the statuses billed per second (first POST to
//! the last balance reflecting every charge). Then a paced phase, where billing keeps up: the
//! senders take turns, each posting one body and polling its own wallet (`GET /v1/wallet`, every
//! `POLL`) until the balance reflects the body's charges; the time from the POST's answer to that poll is the event
//! → balance latency (it includes up to one poll interval and the poll's own round trip).
//! At the end every status sent is accounted for: billed (from the balances) + refused (bodies
//! answered 401, deliberately badly signed) + dead-lettered (statuses with an unreadable
//! timestamp) = sent. Prints the runner's peak memory (VmHWM from /proc).
//! Run with `cargo bench -p imcredits-local --bench meta_load` (about a minute).

#[path = "../tests/runner/mod.rs"]
mod runner;

use std::time::{Duration, Instant};

use runner::{Runner, data_dir, free_port, meta_body, request, signature, status};
use serde_json::{Value, json};

const SENDERS: usize = 4;
const BURST_BODIES_PER_SENDER: usize = 25;
const PACED_BODIES_PER_SENDER: usize = 25;
const STATUSES_PER_BODY_MAX: u64 = 1_000;
/// Every this many bodies, one status carries a timestamp the webhook cannot read: a dead letter.
const SKIP_EVERY: usize = 10;
/// Every this many bodies, the body is sent once with a wrong signature only: refused.
const REFUSE_EVERY: usize = 20;
const POLL: Duration = Duration::from_millis(5);
/// Bounds the wait for any one body's charges (and the whole burst's).
const BALANCE_WAIT_MAX: Duration = Duration::from_secs(120);
/// The flat card's price of one delivered marketing status, in ten-thousandths of a dollar.
const PRICE_TEN_THOUSANDTHS: i64 = 125;
const CREDITS: u32 = 100_000;

struct Sender {
    index: usize,
    phone: String,
    owner: String,
    port: u16,
    data_dir: std::path::PathBuf,
    /// Deterministic sizes: the same run every time.
    seed: u64,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    refused: u64,
    skipped: u64,
    retried_503: u64,
    webhook: Vec<Duration>,
    /// (statuses in the body, event → balance).
    to_balance: Vec<(u64, Duration)>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.refused += other.refused;
        self.skipped += other.skipped;
        self.retried_503 += other.retried_503;
        self.webhook.extend(other.webhook);
        self.to_balance.extend(other.to_balance);
    }
}

/// Balance in ten-thousandths of a dollar, from the API's exact decimal text.
fn ten_thousandths(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(fraction.len() <= 4, "{text}");
    let fraction = format!("{fraction:0<4}");
    whole.parse::<i64>().expect("a balance") * 10_000 + fraction.parse::<i64>().expect("a balance")
}

impl Sender {
    /// A log-uniform size in 1..=1,000 (most bodies small, some full), from a 64-bit LCG.
    fn next_size(&mut self) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let unit = (self.seed >> 11) as f64 / (1u64 << 53) as f64;
        ((STATUSES_PER_BODY_MAX as f64).powf(unit) as u64).clamp(1, STATUSES_PER_BODY_MAX)
    }

    fn balance(&self) -> i64 {
        let headers = format!("Authorization: Bearer {}\r\n", self.owner);
        let (code, body) =
            request(self.port, "GET", "/v1/wallet", &headers, b"").expect("the runner answers");
        assert_eq!(code, 200);
        let wallet: Value = serde_json::from_slice(&body).expect("JSON");
        ten_thousandths(wallet["balance"]["amount"].as_str().expect("a balance"))
    }

    /// Body `n` of `phase`: its bytes and how many of its statuses are billable.
    fn body(&mut self, phase: &str, n: usize) -> (Vec<u8>, u64, u64) {
        let size = self.next_size();
        let skip = n % SKIP_EVERY == SKIP_EVERY - 1;
        let statuses = (0..size)
            .map(|i| {
                let mut status = status(&format!("wamid.{phase}.{}.{n}.{i}", self.index));
                if skip && i == 0 {
                    status["timestamp"] = json!("-100");
                }
                status
            })
            .collect();
        let skipped = u64::from(skip);
        (meta_body(&self.phone, statuses), size, skipped)
    }

    /// Posts until answered 200 (503 retried after a pause, as Meta retries); the latency of the
    /// accepted POST.
    fn post(&self, body: &[u8], tally: &mut Tally) -> Duration {
        let headers = format!(
            "Content-Type: application/json\r\nX-Hub-Signature-256: {}\r\n",
            signature(&self.data_dir, body)
        );
        let deadline = Instant::now() + BALANCE_WAIT_MAX;
        loop {
            let started = Instant::now();
            let answer = request(self.port, "POST", "/webhooks/meta", &headers, body);
            let took = started.elapsed();
            match answer.map(|(code, _)| code) {
                Some(200) => {
                    tally.webhook.push(took);
                    return took;
                }
                Some(503) => tally.retried_503 += 1,
                other => panic!("the webhook answered {other:?}"),
            }
            assert!(Instant::now() < deadline, "a body was never accepted");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A body whose signature is wrong: must be refused, and nothing in it charged.
    fn refuse(&self, body: &[u8], tally: &mut Tally, statuses: u64) {
        let headers = format!(
            "Content-Type: application/json\r\nX-Hub-Signature-256: sha256={}\r\n",
            "0".repeat(64)
        );
        let answer = request(self.port, "POST", "/webhooks/meta", &headers, body);
        assert_eq!(answer.map(|(code, _)| code), Some(401));
        tally.refused += statuses;
    }

    /// One body of the run: refused, or posted (and, when `wait`, followed to the balance).
    fn send(&mut self, phase: &str, n: usize, wait: bool, tally: &mut Tally) {
        let (body, size, skipped) = self.body(phase, n);
        tally.sent += size;
        if n % REFUSE_EVERY == REFUSE_EVERY - 1 {
            return self.refuse(&body, tally, size);
        }
        tally.skipped += skipped;
        let before = if wait { self.balance() } else { 0 };
        self.post(&body, tally);
        if !wait {
            return;
        }
        let answered = Instant::now();
        let expected = before - (size - skipped) as i64 * PRICE_TEN_THOUSANDTHS;
        loop {
            let balance = self.balance();
            if balance == expected {
                tally.to_balance.push((size, answered.elapsed()));
                return;
            }
            assert!(
                balance > expected,
                "charged more than sent: {balance} < {expected}"
            );
            assert!(
                answered.elapsed() < BALANCE_WAIT_MAX,
                "charges never posted"
            );
            std::thread::sleep(POLL);
        }
    }
}

fn setup(runner: &Runner) -> Vec<Sender> {
    let wallets: Vec<(String, String)> = (0..SENDERS)
        .map(|index| (format!("load{index}"), format!("10654035224{index:04}")))
        .collect();
    let seeds: Vec<(&str, &str, u32)> = wallets
        .iter()
        .map(|(account, phone)| (account.as_str(), phone.as_str(), CREDITS))
        .collect();
    let (_, owners) = runner::seed(runner, &seeds);
    wallets
        .into_iter()
        .zip(owners)
        .enumerate()
        .map(|(index, ((_, phone), owner))| Sender {
            index,
            phone,
            owner,
            port: runner.port,
            data_dir: runner.data_dir.clone(),
            seed: 0x5eed + index as u64,
        })
        .collect()
}

/// Runs `work` on every sender at once (one thread, so one connection at a time, each).
fn all_at_once(
    senders: Vec<Sender>,
    work: impl Fn(&mut Sender, &mut Tally) + Send + Sync + Copy + 'static,
) -> (Vec<Sender>, Tally) {
    let threads: Vec<_> = senders
        .into_iter()
        .map(|mut sender| {
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                work(&mut sender, &mut tally);
                (sender, tally)
            })
        })
        .collect();
    let mut total = Tally::default();
    let mut senders = Vec::new();
    for thread in threads {
        let (sender, tally) = thread.join().expect("a sender");
        senders.push(sender);
        total.add(tally);
    }
    (senders, total)
}

fn percentile(samples: &mut [Duration], share: f64) -> f64 {
    assert!(!samples.is_empty());
    samples.sort();
    let index = ((samples.len() as f64 * share).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[index].as_secs_f64() * 1e3
}

fn peak_rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

/// Waits (bounded) until every sender's balance reflects `charged` statuses in all.
fn wait_for_billing(senders: &[Sender], start: i64, charged: u64) -> u64 {
    let deadline = Instant::now() + BALANCE_WAIT_MAX;
    loop {
        let billed: i64 = senders.iter().map(|s| start - s.balance()).sum();
        let billed = (billed / PRICE_TEN_THOUSANDTHS) as u64;
        if billed >= charged || Instant::now() > deadline {
            return billed;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let data_dir = data_dir("meta-load-bench");
    let runner = Runner::start(free_port(), &data_dir);
    let senders = setup(&runner);
    let start = senders[0].balance();
    println!(
        "meta_load: {SENDERS} senders, one connection and one wallet each, bodies of 1 to {STATUSES_PER_BODY_MAX} statuses (log-uniform)"
    );

    let began = Instant::now();
    let (senders, mut burst) = all_at_once(senders, |sender, tally| {
        for n in 0..BURST_BODIES_PER_SENDER {
            sender.send("burst", n, false, tally);
        }
    });
    let charged = burst.sent - burst.refused - burst.skipped;
    let billed = wait_for_billing(&senders, start, charged);
    let burst_seconds = began.elapsed().as_secs_f64();
    assert_eq!(billed, charged, "the burst was not billed within the bound");
    println!(
        "burst: {} bodies, {} statuses; webhook p50 {:.1} ms, p99 {:.1} ms ({} answers 503, retried); {} statuses billed in {:.2} s: {:.0} statuses/s",
        burst.webhook.len(),
        burst.sent,
        percentile(&mut burst.webhook, 0.5),
        percentile(&mut burst.webhook, 0.99),
        burst.retried_503,
        billed,
        burst_seconds,
        billed as f64 / burst_seconds
    );

    // Billing keeps up: one body in the runner at a time (the senders take turns), so each body's
    // latency is its own billing, not a wait behind another sender's thousand statuses.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let (senders, mut paced) = all_at_once(senders, |sender, tally| {
        for n in 0..PACED_BODIES_PER_SENDER {
            let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            sender.send("paced", n, true, tally);
        }
    });
    let mut to_balance: Vec<Duration> = paced.to_balance.iter().map(|(_, d)| *d).collect();
    println!(
        "paced (one body at a time, each sender waits for its balance): {} bodies, {} statuses; webhook p50 {:.1} ms, p99 {:.1} ms; event -> balance p50 {:.1} ms, p99 {:.1} ms (poll every {} ms)",
        paced.webhook.len(),
        paced.sent,
        percentile(&mut paced.webhook, 0.5),
        percentile(&mut paced.webhook, 0.99),
        percentile(&mut to_balance, 0.5),
        percentile(&mut to_balance, 0.99),
        POLL.as_millis()
    );
    for (low, high) in [(1, 10), (11, 100), (101, 1_000)] {
        let mut bucket: Vec<Duration> = paced
            .to_balance
            .iter()
            .filter(|(size, _)| (low..=high).contains(size))
            .map(|(_, d)| *d)
            .collect();
        if !bucket.is_empty() {
            println!(
                "  bodies of {low}-{high} statuses: {} bodies, event -> balance p50 {:.1} ms, p99 {:.1} ms",
                bucket.len(),
                percentile(&mut bucket, 0.5),
                percentile(&mut bucket, 0.99)
            );
        }
    }

    burst.add(paced);
    let billed: i64 = senders.iter().map(|s| start - s.balance()).sum();
    let billed = (billed / PRICE_TEN_THOUSANDTHS) as u64;
    let letters = runner::dead_letters(
        &data_dir,
        &["list", "--queue", "billing", "--limit", "1000"],
    );
    let dead = letters.len() as u64;
    println!(
        "accounted: sent {} = billed {billed} + refused {} + dead-lettered {dead} ({})",
        burst.sent,
        burst.refused,
        if billed + burst.refused + dead == burst.sent {
            "every status"
        } else {
            "MISSING STATUSES"
        }
    );
    assert_eq!(dead, burst.skipped, "{letters:?}");
    assert_eq!(billed + burst.refused + dead, burst.sent);
    println!("runner peak RSS (VmHWM): {} MB", peak_rss_mb(runner.pid()));
    runner.interrupt();
}
