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
        // Keep draining stdout so the runner never blocks on a full pipe.
        std::thread::spawn(move || while received.recv().is_ok() {});
        Self {
            child,
            port,
            data_dir: data_dir.to_owned(),
            logs,
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
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let headers =
            format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
        let (status, body) = request(self.port, method, path, &headers, body.as_bytes())
            .expect("the runner answers");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
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

pub fn token(data_dir: &Path, args: &[&str]) -> String {
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

/// A wallet `acme` in USD with `credits` granted, phone [`PHONE`] routed to it, the flat
/// 0.0125 USD card. Answers the operator's and the owner's tokens.
pub fn wallet_with_card(runner: &Runner, credits: u32) -> (String, String) {
    let operator = token(&runner.data_dir, &["--operator"]);
    let owner = token(&runner.data_dir, &["--account", "acme"]);
    let card = include_str!("../../../shared/rate-cards/zoho-flat-usd.json");
    let steps: [(&str, String, Option<Value>); 4] = [
        (
            "POST",
            "/v1/operator/accounts/acme/wallet".into(),
            Some(json!({"currency": "USD"})),
        ),
        (
            "PUT",
            format!("/v1/operator/accounts/acme/phone-numbers/{PHONE}"),
            None,
        ),
        (
            "POST",
            "/v1/operator/accounts/acme/grants".into(),
            Some(json!({"order_reference": "ZS-1", "credits": credits, "source": "store"})),
        ),
        (
            "POST",
            "/v1/operator/rate-cards".into(),
            Some(serde_json::from_str(card).unwrap()),
        ),
    ];
    for (method, path, body) in steps {
        let (status, answer) = runner.call(method, &path, &operator, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
    }
    (operator, owner)
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
    let output = Command::new(RUNNER)
        .arg("dead-letters")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("the dead-letters command runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}
