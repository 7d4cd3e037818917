//! The local runner as a newcomer uses it: start it on a free port with a fresh data dir, create a
//! wallet, grant credits, stop it with Ctrl-C, start it again, and find everything still there.

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
}

impl Runner {
    fn start(port: u16, data_dir: &Path) -> Self {
        let mut child = Command::new(RUNNER)
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the runner starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        // Drains stdout for the runner's whole life, as a terminal would.
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
                Err(error) => panic!("the runner did not say it listens: {error}"),
            }
        }
        Self { child, port }
    }

    /// Ctrl-C, then the exit status must be success (a clean shutdown).
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

    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("request written");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
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

#[test]
fn a_restart_loses_nothing() {
    let data_dir =
        std::env::temp_dir().join(format!("imcredits-local-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();

    let runner = Runner::start(port, &data_dir);
    let operator = token(&data_dir, &["--operator"]);
    let owner = token(&data_dir, &["--account", "acme"]);
    let (status, _) = runner.call(
        "POST",
        "/v1/operator/accounts/acme/wallet",
        &operator,
        Some(json!({"currency": "USD"})),
    );
    assert_eq!(status, 201);
    let grant = json!({"order_reference": "ZS-42", "credits": 5, "source": "store"});
    let (status, _) = runner.call(
        "POST",
        "/v1/operator/accounts/acme/grants",
        &operator,
        Some(grant.clone()),
    );
    assert_eq!(status, 201);
    let (_, wallet_before) = runner.call("GET", "/v1/wallet", &owner, None);
    let (_, statement_before) = runner.call("GET", "/v1/wallet/statement", &owner, None);
    assert_eq!(wallet_before["balance"]["amount"], "10.00");
    assert_eq!(
        statement_before["entries"].as_array().map(Vec::len),
        Some(1)
    );
    runner.interrupt();

    let runner = Runner::start(port, &data_dir);
    // Tokens minted before the restart still work: the secret lives in the data dir.
    let (status, wallet_after) = runner.call("GET", "/v1/wallet", &owner, None);
    assert_eq!(status, 200);
    assert_eq!(wallet_after, wallet_before);
    let (_, statement_after) = runner.call("GET", "/v1/wallet/statement", &owner, None);
    assert_eq!(statement_after, statement_before);
    // And the grant is still recognised: a replay after the restart credits nothing.
    let (status, _) = runner.call(
        "POST",
        "/v1/operator/accounts/acme/grants",
        &operator,
        Some(grant),
    );
    assert_eq!(status, 201);
    let (_, wallet_replayed) = runner.call("GET", "/v1/wallet", &owner, None);
    assert_eq!(wallet_replayed["balance"]["amount"], "10.00");
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}
