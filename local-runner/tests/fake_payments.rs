//! The purchase flow on the local runner, as the README walks through it: start the runner with
//! its fake payment provider, buy credits, open the checkout URL, press "Pay" (which sends signed
//! Stripe-shaped events to the runner's own webhook), and find the credits, the payment history and
//! a card that enables auto-recharge. "Decline" fails a second purchase. After the runner stops,
//! its data file is opened and the wallet reconciled.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

const RUNNER: &str = env!("CARGO_BIN_EXE_imcredits-local");
const START_TIMEOUT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

struct Runner {
    child: Child,
    port: u16,
    startup: Vec<String>,
    /// What the runner prints after starting (notifications among it).
    lines: mpsc::Receiver<String>,
}

impl Runner {
    fn start(port: u16, data_dir: &Path) -> Self {
        Self::start_with(port, data_dir, &[])
    }

    fn start_with(port: u16, data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(RUNNER)
            .args([
                "--port",
                &port.to_string(),
                "--payments",
                "fake",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(extra)
            // Real keys in the developer's shell must not turn this test into a Stripe call.
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("STRIPE_WEBHOOK_SECRETS")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the runner starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut startup = Vec::new();
        let expected = format!("imcredits-local listening on http://127.0.0.1:{port}");
        loop {
            match received.recv_timeout(START_TIMEOUT) {
                Ok(line) => {
                    let done = line == expected;
                    startup.push(line);
                    if done {
                        break;
                    }
                }
                Err(error) => panic!("the runner did not say it listens: {error}"),
            }
        }
        // The lines printed right after (the payments mode) arrive promptly.
        while let Ok(line) = received.recv_timeout(Duration::from_secs(2)) {
            startup.push(line);
        }
        Self {
            child,
            port,
            startup,
            lines: received,
        }
    }

    /// Waits (at most `within`) for a printed line containing `needle`.
    fn wait_for_line(&self, needle: &str, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(error) => panic!("no line with {needle:?}: {error}"),
            }
        }
    }

    fn interrupt(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let status = self.child.wait().expect("the runner exits");
        assert!(status.success(), "the runner stopped uncleanly: {status}");
    }

    /// One HTTP/1.1 exchange; answers the status and the body as text.
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        stream
            .write_all(request.as_bytes())
            .expect("request written");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        (status, body.to_owned())
    }

    fn json(
        &self,
        method: &str,
        path: &str,
        token: &str,
        extra: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![
            ("Authorization", bearer.as_str()),
            ("Content-Type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let (status, text) = self.send(method, path, &headers, &body);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn token(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(RUNNER)
        .arg("token")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("the token command runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// The wallet in the stopped runner's data file, reconciled against its ledger.
async fn reconciled_after_stop(data_dir: &Path, account: &str) -> imcredits::wallet::Wallet {
    let path = data_dir.join("imcredits.sqlite");
    let database = dynoxide::Database::new(path.to_str().expect("utf-8 path")).expect("the file");
    let store = imcredits::adapters::dynamodb::DynamoStore::new(
        imcredits::adapters::dynoxide::InProcessHttp::client(database),
        "imcredits-local",
    );
    let account = imcredits::ids::AccountId::parse(account).expect("an account id");
    imcredits_tests::assert_reconciled(&store, &account).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purchase_is_paid_and_declined_on_the_fake_checkout() {
    let data_dir = std::env::temp_dir().join(format!("imcredits-local-pay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();
    let runner = Runner::start(port, &data_dir);
    assert!(
        runner
            .startup
            .iter()
            .any(|line| line.starts_with("payments: FAKE (no card is charged")),
        "the fake mode is announced: {:?}",
        runner.startup
    );
    let operator = token(&data_dir, &["--operator"]);
    let owner = token(&data_dir, &["--account", "acme"]);
    let (status, _) = runner.json(
        "POST",
        "/v1/operator/accounts/acme/wallet",
        &operator,
        &[],
        Some(json!({"currency": "USD"})),
    );
    assert_eq!(status, 201);

    let enable = json!({"enabled": true, "minimum_balance": "5.00", "credits": 10});
    let (status, refused) = runner.json(
        "PUT",
        "/v1/wallet/auto-recharge",
        &owner,
        &[],
        Some(enable.clone()),
    );
    assert_eq!(status, 409, "{refused}");

    let (status, purchase) = runner.json(
        "POST",
        "/v1/wallet/purchases",
        &owner,
        &[("Idempotency-Key", "laptop-1")],
        Some(json!({"credits": 3})),
    );
    assert_eq!(status, 201, "{purchase}");
    assert_eq!(purchase["quote"]["total"]["display"], "6.18");
    let url = purchase["checkout_url"].as_str().expect("a checkout URL");
    let prefix = format!("http://127.0.0.1:{port}");
    let page_path = url.strip_prefix(&prefix).expect("a page on the runner");
    assert!(page_path.starts_with("/local/fake-checkout/acme/"), "{url}");

    let (status, page) = runner.send("GET", page_path, &[], "");
    assert_eq!(status, 200);
    assert!(page.contains("FAKE PAYMENTS"), "{page}");
    assert!(page.contains("6.18") && page.contains(">Pay<") && page.contains(">Decline<"));

    let (status, paid) = runner.send("POST", &format!("{page_path}/pay"), &[], "");
    assert_eq!(status, 200, "{paid}");
    assert!(paid.contains("<code>credited</code>"), "{paid}");
    assert!(paid.contains("<code>payment_method_saved</code>"), "{paid}");
    let (_, wallet) = runner.json("GET", "/v1/wallet", &owner, &[], None);
    assert_eq!(wallet["balance"]["amount"], "6.00");
    // Pressing Pay again is a repeated delivery: nothing more is credited.
    let (_, again) = runner.send("POST", &format!("{page_path}/pay"), &[], "");
    assert!(again.contains("<code>already_credited</code>"), "{again}");
    let (status, _) = runner.json("PUT", "/v1/wallet/auto-recharge", &owner, &[], Some(enable));
    assert_eq!(status, 200);

    let (_, declined_purchase) = runner.json(
        "POST",
        "/v1/wallet/purchases",
        &owner,
        &[("Idempotency-Key", "laptop-2")],
        Some(json!({"credits": 10})),
    );
    let declined_path = declined_purchase["checkout_url"]
        .as_str()
        .and_then(|url| url.strip_prefix(&prefix))
        .expect("a page on the runner")
        .to_owned();
    let (status, declined) = runner.send("POST", &format!("{declined_path}/decline"), &[], "");
    assert_eq!(status, 200);
    assert!(
        declined.contains("<code>marked_failed</code>"),
        "{declined}"
    );

    let (status, history) = runner.json("GET", "/v1/wallet/purchases", &owner, &[], None);
    assert_eq!(status, 200);
    let statuses: Vec<&str> = history["purchases"]
        .as_array()
        .expect("purchases")
        .iter()
        .map(|purchase| purchase["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["failed", "paid"]);
    let (_, wallet) = runner.json("GET", "/v1/wallet", &owner, &[], None);
    assert_eq!(wallet["balance"]["amount"], "6.00");
    runner.interrupt();

    let wallet = reconciled_after_stop(&data_dir, "acme").await;
    assert_eq!(wallet.balance.amount().to_string(), "6.00");
    assert_eq!(wallet.entry_count, 1);
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// The auto-recharge loop on the laptop: a wallet below its minimum is recharged once by the sweep
/// tick (visible in the statement and the printed notifications), and a declined fake charge is
/// reported and credits nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_below_its_minimum_is_recharged_once_on_the_runner() {
    let data_dir =
        std::env::temp_dir().join(format!("imcredits-local-recharge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();
    let runner = Runner::start_with(port, &data_dir, &["--recharge-tick-seconds", "1"]);
    let operator = token(&data_dir, &["--operator"]);
    let owner = token(&data_dir, &["--account", "acme"]);
    let (status, _) = runner.json(
        "POST",
        "/v1/operator/accounts/acme/wallet",
        &operator,
        &[],
        Some(json!({"currency": "USD"})),
    );
    assert_eq!(status, 201);
    let (_, purchase) = runner.json(
        "POST",
        "/v1/wallet/purchases",
        &owner,
        &[("Idempotency-Key", "laptop-1")],
        Some(json!({"credits": 3})),
    );
    let prefix = format!("http://127.0.0.1:{port}");
    let page_path = purchase["checkout_url"]
        .as_str()
        .and_then(|url| url.strip_prefix(&prefix))
        .expect("a page on the runner")
        .to_owned();
    let (status, _) = runner.send("POST", &format!("{page_path}/pay"), &[], "");
    assert_eq!(status, 200);

    // 6.00 is below a minimum of 10.00: the next tick buys 10 credits (20.00), once.
    let (status, _) = runner.json(
        "PUT",
        "/v1/wallet/auto-recharge",
        &owner,
        &[],
        Some(json!({"enabled": true, "minimum_balance": "10.00", "credits": 10})),
    );
    assert_eq!(status, 200);
    let notice = runner.wait_for_line("recharge.succeeded", Duration::from_secs(30));
    assert!(notice.contains("\"account_id\":\"acme\""), "{notice}");
    std::thread::sleep(Duration::from_secs(3));
    let (_, wallet) = runner.json("GET", "/v1/wallet", &owner, &[], None);
    assert_eq!(wallet["balance"]["amount"], "26.00", "{wallet}");
    let (_, statement) = runner.json("GET", "/v1/wallet/statement?limit=10", &owner, &[], None);
    let kinds: Vec<&str> = statement["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["auto_recharge", "purchase"], "{statement}");
    let (_, history) = runner.json("GET", "/v1/wallet/purchases", &owner, &[], None);
    let totals: Vec<(&str, &str)> = history["purchases"]
        .as_array()
        .expect("purchases")
        .iter()
        .map(|purchase| {
            (
                purchase["status"].as_str().unwrap_or(""),
                purchase["quote"]["total"]["display"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(totals, [("paid", "20.60"), ("paid", "6.18")], "{history}");

    // The next fake charge is declined: reported, nothing credited.
    let (status, queued) = runner.send("POST", "/local/fake-payments/decline-next", &[], "");
    assert_eq!(status, 200, "{queued}");
    let (status, _) = runner.json(
        "PUT",
        "/v1/wallet/auto-recharge",
        &owner,
        &[],
        Some(json!({"enabled": true, "minimum_balance": "30.00", "credits": 10})),
    );
    assert_eq!(status, 200);
    let failed = runner.wait_for_line("recharge.failed", Duration::from_secs(30));
    assert!(failed.contains("insufficient_funds"), "{failed}");
    let (_, wallet) = runner.json("GET", "/v1/wallet", &owner, &[], None);
    assert_eq!(wallet["balance"]["amount"], "26.00");
    runner.interrupt();

    let wallet = reconciled_after_stop(&data_dir, "acme").await;
    assert_eq!(wallet.entry_count, 2);
    let _ = std::fs::remove_dir_all(&data_dir);
}
