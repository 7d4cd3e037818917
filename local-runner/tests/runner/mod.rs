//! Drives the real runner binary: start it, call it over HTTP, mint tokens, sign Meta bodies, stop
//! it with a signal or kill it.

#![allow(dead_code)] // each test file uses a part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const RUNNER: &str = env!("CARGO_BIN_EXE_imcredits-local");
const START_TIMEOUT: Duration = Duration::from_secs(60);
pub const PHONE: &str = "106540352242922";

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// A fresh data dir for one test.
pub fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imcredits-local-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub struct Runner {
    child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Every line the runner wrote to stderr (its logs).
    pub logs: Arc<Mutex<Vec<String>>>,
    /// What the runner prints after it says it listens (the dashboard URL, the payments mode,
    /// notifications), in order, read by [`Runner::wait_for_line`].
    printed: Mutex<mpsc::Receiver<String>>,
}

impl Runner {
    pub fn start(port: u16, data_dir: &Path) -> Self {
        Self::launch(port, data_dir, &[], &[])
    }

    pub fn start_with(port: u16, data_dir: &Path, extra: &[&str]) -> Self {
        Self::launch(port, data_dir, extra, &[])
    }

    /// Starts the runner with extra environment variables (configuration under test).
    pub fn start_with_env(port: u16, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::launch(port, data_dir, &[], env)
    }

    fn launch(port: u16, data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(RUNNER)
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .args(extra)
            // Real keys in the developer's shell must not turn a test into a Stripe call.
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("STRIPE_WEBHOOK_SECRETS")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the runner starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&logs);
        // Drains stderr for the runner's whole life, as a terminal would.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let expected = format!("imcredits-local listening on http://127.0.0.1:{port}");
        loop {
            match received.recv_timeout(START_TIMEOUT) {
                Ok(line) if line == expected => break,
                Ok(_) => continue,
                Err(error) => panic!(
                    "the runner did not say it listens: {error}; logs: {:?}",
                    logs.lock().unwrap()
                ),
            }
        }
        // The reader thread keeps draining stdout into the channel, so the runner never blocks
        // on a full pipe; what it printed waits there for `wait_for_line`.
        Self {
            child,
            port,
            data_dir: data_dir.to_owned(),
            logs,
            printed: Mutex::new(received),
        }
    }

    /// The next printed line containing `needle` (the lines before it are passed over), waiting
    /// at most `within`.
    pub fn wait_for_line(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        let printed = self.printed.lock().unwrap();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match printed.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(error) => panic!("no printed line with {needle:?}: {error}"),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    /// Waits (bounded) for the runner to exit.
    pub fn wait(mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("the runner's status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the runner did not exit within {bound:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ctrl-C, then the exit status must be success (a clean shutdown).
    pub fn interrupt(self) {
        self.signal("INT");
        let status = self.wait(Duration::from_secs(60));
        assert!(status.success(), "the runner stopped uncleanly: {status}");
    }

    /// SIGKILL: no chance to clean up, as a crash.
    pub fn kill(self) {
        self.signal("KILL");
        let _ = self.wait(Duration::from_secs(30));
    }

    pub fn logged(&self, text: &str) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(text))
            .cloned()
            .collect()
    }

    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        self.json(method, path, token, &[], body)
    }

    /// A JSON call as `token`, with `extra` headers (an `Idempotency-Key`).
    pub fn json(
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

    /// One request with `headers`; the status and the body as text.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let headers: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let (status, body) = request(self.port, method, path, &headers, body.as_bytes())
            .expect("the runner answers");
        (status, String::from_utf8(body).expect("a UTF-8 body"))
    }

    /// POSTs a Meta body signed with the data dir's app secret; `None` if the connection failed.
    pub fn post_webhook(&self, body: &[u8]) -> Option<u16> {
        post_webhook(self.port, &self.data_dir, body)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection: the status and body, or `None` on a connection
/// error (a runner being killed or stopped).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .ok()?;
    stream.write_all(body).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response[split + 4..].to_vec()))
}

pub fn signature(data_dir: &Path, body: &[u8]) -> String {
    let text = std::fs::read_to_string(data_dir.join("meta-app-secret")).expect("the app secret");
    let secret = imcredits::meta::AppSecret::new(text.trim().as_bytes()).expect("a secret");
    imcredits::meta::signature::signature_header_value(&secret, body)
}

pub fn post_webhook(port: u16, data_dir: &Path, body: &[u8]) -> Option<u16> {
    let headers = format!(
        "Content-Type: application/json\r\nX-Hub-Signature-256: {}\r\n",
        signature(data_dir, body)
    );
    request(port, "POST", "/webhooks/meta", &headers, body).map(|(status, _)| status)
}

/// A delivered, priced status (PMP marketing, charged once per wamid).
pub fn status(wamid: &str) -> Value {
    json!({
        "id": wamid, "status": "delivered", "timestamp": "1767225600", "recipient_id": "16315551181",
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}
    })
}

pub fn meta_body(phone: &str, statuses: Vec<Value>) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone},
                  "statuses": statuses}
    }]}]})
    .to_string()
    .into_bytes()
}

/// What the runner's `command` (with `args`, on `data_dir`) printed; it must succeed.
pub fn command_output(command: &str, data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(RUNNER)
        .arg(command)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap_or_else(|error| panic!("the {command} command runs: {error}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

pub fn token(data_dir: &Path, args: &[&str]) -> String {
    command_output("token", data_dir, args).trim().to_owned()
}

/// A wallet `acme` in USD with `credits` granted, phone [`PHONE`] routed to it, the flat
/// 0.0125 USD card. Answers the operator's and the owner's tokens.
pub fn wallet_with_card(runner: &Runner, credits: u32) -> (String, String) {
    let (operator, mut owners) = seed(runner, &[("acme", PHONE, credits)]);
    (operator, owners.remove(0))
}

/// Seeds the runner through its operator API, as a test's setup: the flat 0.0125 USD card, then
/// for each `(account, phone number, credits)` a USD wallet, the number routed to it and a grant
/// of the credits. Answers the operator's token and each wallet owner's, in order.
pub fn seed(runner: &Runner, wallets: &[(&str, &str, u32)]) -> (String, Vec<String>) {
    let operator = token(&runner.data_dir, &["--operator"]);
    let call = |method: &str, path: &str, body: Option<Value>| {
        let (status, answer) = runner.call(method, path, &operator, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
    };
    let card = include_str!("../../../shared/rate-cards/zoho-flat-usd.json");
    call(
        "POST",
        "/v1/operator/rate-cards",
        Some(serde_json::from_str(card).unwrap()),
    );
    let mut owners = Vec::with_capacity(wallets.len());
    for (account, phone, credits) in wallets {
        let base = format!("/v1/operator/accounts/{account}");
        call(
            "POST",
            &format!("{base}/wallet"),
            Some(json!({"currency": "USD"})),
        );
        call("PUT", &format!("{base}/phone-numbers/{phone}"), None);
        let grant = json!({"order_reference": format!("ZS-{account}"), "credits": credits, "source": "store"});
        call("POST", &format!("{base}/grants"), Some(grant));
        owners.push(token(&runner.data_dir, &["--account", account]));
    }
    (operator, owners)
}

/// The wallet's balance text once it equals `expected`, or what it was at the bound.
pub fn balance_when(runner: &Runner, owner: &str, expected: &str, bound: Duration) -> String {
    let deadline = Instant::now() + bound;
    loop {
        let (_, wallet) = runner.call("GET", "/v1/wallet", owner, None);
        let balance = wallet["balance"]["amount"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if balance == expected || Instant::now() > deadline {
            return balance;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The runner's `dead-letters` command's JSON lines.
pub fn dead_letters(data_dir: &Path, args: &[&str]) -> Vec<Value> {
    command_output("dead-letters", data_dir, args)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// The store in a stopped runner's data file, read as the runner reads it.
pub fn stopped_store(data_dir: &Path) -> imcredits::adapters::dynamodb::DynamoStore {
    let path = data_dir.join("imcredits.sqlite");
    let database =
        dynoxide::Database::new(path.to_str().expect("a UTF-8 path")).expect("the data file");
    imcredits::adapters::dynamodb::DynamoStore::new(
        imcredits::adapters::dynoxide::InProcessHttp::client(database),
        "imcredits-local",
    )
}

/// A process's peak resident memory, from /proc (VmHWM).
pub fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}
