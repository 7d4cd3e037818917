//! The webhook receiver the notices tests deliver to: `webhook_receiver.py`, run with the Python
//! that `scripts/test` installed `standardwebhooks` into (`WEBHOOK_VERIFIER_PYTHON`), on a loopback
//! port. It verifies every delivery with that library and records it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub struct Receiver {
    child: Child,
    pub port: u16,
    http: reqwest::Client,
}

impl Receiver {
    pub fn start() -> Self {
        let python = std::env::var("WEBHOOK_VERIFIER_PYTHON").unwrap_or_else(|_| {
            panic!(
                "WEBHOOK_VERIFIER_PYTHON is not set: run the tests with scripts/test, which \
                 installs the standardwebhooks verifier (these tests never skip)"
            )
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/support/webhook_receiver.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the receiver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the receiver prints its port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the receiver said {line:?}"));
        Self {
            child,
            port,
            http: reqwest::Client::new(),
        }
    }

    /// The receiver's URL for `path` (plain http to 127.0.0.1: the runner's loopback rule).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How `path` answers, and the secrets each delivery to it is verified with.
    pub async fn route(&self, path: &str, secrets: &[&str], rule: Value) {
        let mut body = json!({"path": path, "secrets": secrets});
        if let (Some(body), Some(rule)) = (body.as_object_mut(), rule.as_object()) {
            body.extend(rule.clone());
        }
        let answer = self
            .http
            .post(self.url("/_control"))
            .json(&body)
            .send()
            .await
            .expect("the receiver answers");
        assert!(answer.status().is_success());
    }

    /// Everything received so far.
    pub async fn log(&self) -> Vec<Value> {
        self.http
            .get(self.url("/_log"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("JSON")
    }

    /// What `path` received so far.
    pub async fn received(&self, path: &str) -> Vec<Value> {
        self.log()
            .await
            .into_iter()
            .filter(|entry| entry["path"] == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Closing stdin ends it; kill only if it does not go (this process started it).
        drop(self.child.stdin.take());
        std::thread::sleep(Duration::from_millis(50));
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
