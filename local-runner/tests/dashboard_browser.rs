//! The dashboard in real headless Chromium (Debian's `chromium`, driven by `playwright-core` from
//! npm, both installed by `scripts/test`), against the real runner binary with fake payments, on
//! loopback only. The runner is started here and its printed dashboard URL handed to
//! `tests/browser/dashboard.cjs`, which clicks through every page, checks what it shows against the
//! API, and saves a screenshot of each page under `target/dashboard-screenshots/`. A missing
//! browser, Node or playwright-core is a failure, never a skip.

mod runner;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use runner::{RUNNER, Runner, data_dir, free_port, token};

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

/// The dashboard URL the runner printed once it listens.
fn dashboard_url(runner: &Runner) -> String {
    let line = runner.wait_for_line("dashboard (account demo", START_TIMEOUT);
    let url = line.split(": ").nth(1).expect("a URL").to_owned();
    let prefix = format!("http://127.0.0.1:{}/#token=", runner.port);
    assert!(url.starts_with(&prefix), "{url}");
    url
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
    let data_dir = data_dir("dashboard");
    let port = free_port();
    let runner = Runner::start_with(port, &data_dir, &["--payments", "fake"]);
    let url = dashboard_url(&runner);
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
            panic!("the browser tests took over {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "the browser tests failed: {status}");
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}
