//! The README's notifications walk-through, run as written against the runner binary: the README's
//! own `sh` steps (in bash, with `$runner` the binary under test on a fresh data dir) register the
//! account's endpoint, start the README's own `verify.py` (Standard Webhooks' `standardwebhooks`
//! library, from the Python `scripts/test` installs) and send Meta's sample webhook; the signed
//! `balance.low` must arrive and verify, and the feed must hold it unread. Loopback only: the only
//! change made to the README's text is the receiver's port (9000 → a free one) and where
//! `verify.py` is written.

mod runner;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runner::{RUNNER, Runner, data_dir, free_port, token};
use serde_json::Value;

const README: &str = include_str!("../../README.md");
const RECEIVER_PORT_IN_README: &str = "9000";

/// The first fenced block of `lang` after the line containing `marker`.
fn block_after(marker: &str, lang: &str) -> String {
    let start = README
        .find(marker)
        .unwrap_or_else(|| panic!("the README has {marker:?}"));
    let fence = format!("```{lang}\n");
    let open = start + README[start..].find(&fence).expect("a block follows") + fence.len();
    let close = open + README[open..].find("```").expect("the block closes");
    README[open..close].to_owned()
}

/// The command of `block` (with its continuation lines) on the line containing `marker`.
fn command_in(block: &str, marker: &str) -> String {
    let lines: Vec<&str> = block.lines().collect();
    let first = lines
        .iter()
        .position(|line| line.contains(marker))
        .unwrap_or_else(|| panic!("the block has {marker:?}"));
    let mut command = Vec::new();
    for line in &lines[first..] {
        command.push(*line);
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    command.join("\n")
}

/// The bash running the README's steps, and the receiver it leaves in the background: one process
/// group, ended (by its id) when the test ends however it ends.
struct Steps(Child);

impl Drop for Steps {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path, bound: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + bound;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if done(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_readme_s_signed_balance_low_arrives_and_verifies_with_standardwebhooks() {
    let python = PathBuf::from(std::env::var("WEBHOOK_VERIFIER_PYTHON").expect(
        "WEBHOOK_VERIFIER_PYTHON is not set: run the tests with scripts/test, which installs \
         the standardwebhooks verifier (this test never skips)",
    ));
    let data = data_dir("readme-notices");
    let port = free_port();
    let runner = Runner::start_with(port, &data, &["--webhook-schedule", "short"]);
    let receiver_port = free_port().to_string();
    let work = data.with_extension("work");
    std::fs::create_dir_all(&work).unwrap();

    let verify = block_after("**Verify a delivery**", "python");
    assert!(verify.contains(RECEIVER_PORT_IN_README));
    let verify_path = work.join("verify.py");
    std::fs::write(
        &verify_path,
        verify.replace(RECEIVER_PORT_IN_README, &receiver_port),
    )
    .unwrap();
    let first_session = block_after("## A first session with the local runner", "sh");
    let rate_card = command_in(&first_session, "/v1/operator/rate-cards");
    let steps = block_after("**A signed `balance.low` on the runner.**", "sh");
    assert!(steps.contains(RECEIVER_PORT_IN_README) && steps.contains("python3 verify.py"));
    let steps = steps
        .replace(RECEIVER_PORT_IN_README, &receiver_port)
        .replace("verify.py", &verify_path.display().to_string());
    let script = format!(
        "set -euo pipefail\nrunner={RUNNER:?}\napi=http://127.0.0.1:{port}\n\
         OPERATOR=$($runner token --operator)\n{rate_card}\n{steps}"
    );
    // `python3` is the one with standardwebhooks, as after `pip install standardwebhooks`.
    let venv_bin = python.parent().expect("the venv's bin");
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = work.join("output.txt");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut steps = Steps(
        Command::new("bash")
            .args(["-c", &script])
            .current_dir(repo)
            .env("PATH", path)
            .env("IMCREDITS_LOCAL_DATA_DIR", &data)
            .env("IMCREDITS_LOCAL_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(File::create(&output).unwrap())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("bash runs the README's steps"),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = steps.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the README's steps hung");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "the README's steps failed: {status}");

    let said = wait_for(&output, Duration::from_secs(30), |text| {
        text.contains("verified balance.low")
    });
    assert!(
        said.contains("verified balance.low"),
        "verify.py did not accept a balance.low: {said}"
    );
    assert!(!said.contains("REFUSED"), "{said}");
    assert!(
        said.contains("whsec_"),
        "the secret was answered once: {said}"
    );

    let beta = token(&data, &["--account", "beta"]);
    let (status, feed) = runner.call("GET", "/v1/wallet/notices", &beta, None);
    assert_eq!(status, 200, "{feed}");
    let low: Vec<&Value> = feed["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .filter(|notice| notice["type"] == "balance.low")
        .collect();
    assert_eq!(low.len(), 1, "{feed}");
    assert_eq!(low[0]["unread"], true);
    drop(steps);
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&work);
}
