//! The dashboard in real headless Chromium (Debian's `chromium`, driven by `playwright-core` from
//! npm, both installed by `scripts/test`), against the real runner binary with fake payments, on
//! loopback only. The runner is started here and its printed dashboard URL handed to
//! `tests/browser/dashboard.cjs`, which clicks through every page, checks what it shows against the
//! API, and saves a screenshot of each page under `target/dashboard-screenshots/`. A missing
//! browser, Node or playwright-core is a failure, never a skip.

mod runner;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use runner::{RUNNER, free_port, token};

const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The whole browser run; it takes about a minute here.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

fn node_modules() -> PathBuf {
    std::env::var_os("PLAYWRIGHT_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".tools/browser/node_modules"))
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM_BIN").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// Starts the runner; answers it and the dashboard URL it printed.
fn start(port: u16, data_dir: &Path) -> (std::process::Child, String) {
    let mut child = Command::new(RUNNER)
        .args(["--port", &port.to_string(), "--payments", "fake"])
        .arg("--data-dir")
        .arg(data_dir)
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
    let deadline = Instant::now() + START_TIMEOUT;
    let mut url = None;
    let listening = format!("imcredits-local listening on http://127.0.0.1:{port}");
    let mut heard = false;
    while url.is_none() || !heard {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .expect("the runner says it listens and prints the dashboard URL");
        heard |= line == listening;
        if line.starts_with("dashboard (account demo") {
            url = line.split(": ").nth(1).map(str::to_owned);
        }
    }
    let url = url.expect("a URL");
    let prefix = format!("http://127.0.0.1:{port}/#token=");
    assert!(url.starts_with(&prefix), "{url}");
    (child, url)
}

#[test]
fn the_dashboard_works_in_headless_chromium() {
    let modules = node_modules();
    assert!(
        modules.join("playwright-core").is_dir(),
        "playwright-core is not installed under {}: run scripts/test, which installs it",
        modules.display()
    );
    assert!(
        chromium().exists(),
        "no browser at {}: run scripts/test, which installs Debian's chromium",
        chromium().display()
    );
    let data_dir = std::env::temp_dir().join(format!("imcredits-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();
    let (mut child, url) = start(port, &data_dir);
    let operator = token(&data_dir, &["--operator"]);
    let other = token(&data_dir, &["--account", "other"]);
    let screenshots = workspace().join("target/dashboard-screenshots");
    std::fs::create_dir_all(&screenshots).expect("the screenshot folder");
    let started = Instant::now();
    let mut browser = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.cjs"))
        .env("NODE_PATH", &modules)
        .env("CHROMIUM_BIN", chromium())
        .env("BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("DASHBOARD_URL", &url)
        .env("OPERATOR_TOKEN", &operator)
        .env("OTHER_TOKEN", &other)
        .env("DATA_DIR", &data_dir)
        .env("RUNNER_BIN", RUNNER)
        .env("SCREENSHOT_DIR", &screenshots)
        .spawn()
        .expect("node runs (Debian's nodejs)");
    let status = loop {
        if let Some(status) = browser.try_wait().expect("the browser run") {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = browser.kill();
            let _ = child.kill();
            panic!("the browser tests took over {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let stopped = child.wait().expect("the runner exits");
    let _ = std::fs::remove_dir_all(&data_dir);
    assert!(status.success(), "the browser tests failed: {status}");
    assert!(stopped.success(), "the runner stopped uncleanly: {stopped}");
}
