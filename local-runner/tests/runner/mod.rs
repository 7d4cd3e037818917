//! Drives the real runner binary: start it, call it over HTTP, mint tokens, stop it with Ctrl-C.

#![allow(dead_code)] // each test file uses a part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const RUNNER: &str = env!("CARGO_BIN_EXE_imcredits-local");
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

pub struct Runner {
    child: Child,
    pub port: u16,
}

impl Runner {
    pub fn start(port: u16, data_dir: &Path) -> Self {
        Self::start_with_env(port, data_dir, &[])
    }

    /// Starts the runner with extra environment variables (configuration under test).
    pub fn start_with_env(port: u16, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(RUNNER)
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .envs(env.iter().copied())
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
    pub fn interrupt(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let status = self.child.wait().expect("the runner exits");
        assert!(status.success(), "the runner stopped uncleanly: {status}");
    }

    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
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
