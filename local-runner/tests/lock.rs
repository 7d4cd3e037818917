//! Nobody but the runner reaches its data: the engine has no port (the runner listens on its API
//! port only, so there is nothing to send made-up credentials to), the data dir is 0700 and every
//! file in it 0600 (an older, open one is tightened), and a second runner on it refuses to start.

#![cfg(target_os = "linux")]

mod runner;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use runner::{PHONE, RUNNER, Runner, data_dir, free_port, meta_body, status};

/// Ports the process `pid` listens on (TCP, IPv4 and IPv6), from /proc.
fn listening_ports(pid: u32) -> BTreeSet<u16> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the runner's fds")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            let inode = target.strip_prefix("socket:[")?.strip_suffix(']')?;
            Some(inode.to_owned())
        })
        .collect();
    let mut ports = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is field 1 (ADDR:PORT in hex), st field 3 (0A: LISTEN), inode field 9.
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().unwrap();
                ports.insert(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn only_the_api_port_listens_and_the_data_dir_is_the_owners_alone() {
    let data_dir = data_dir("lock");
    // An older data dir, open to everyone.
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let notes = data_dir.join("notes.txt");
    std::fs::write(&notes, "old").unwrap();
    std::fs::set_permissions(&notes, std::fs::Permissions::from_mode(0o644)).unwrap();

    let port = free_port();
    let runner = Runner::start(port, &data_dir);
    let (_, owner) = runner::wallet_with_card(&runner, 5);
    assert_eq!(
        runner.post_webhook(&meta_body(PHONE, vec![status("wamid.lock.1")])),
        Some(200)
    );
    assert_eq!(
        runner::balance_when(
            &runner,
            &owner,
            "9.9875",
            std::time::Duration::from_secs(30)
        ),
        "9.9875"
    );
    assert_eq!(
        listening_ports(runner.pid()),
        BTreeSet::from([port]),
        "the engine must not listen: its server would take any credentials"
    );
    assert_eq!(mode(&data_dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    for name in [
        "imcredits.sqlite",
        "queues.sqlite",
        "jwt-secret",
        "meta-app-secret",
    ] {
        assert!(files.contains(&data_dir.join(name)), "{name} in {files:?}");
    }
    assert!(files.iter().any(|f| f.to_string_lossy().ends_with("-wal")));
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    // Human-readable logs by default (the JSON form is in the skipped-items test).
    assert!(
        !runner.logged(" INFO ").is_empty(),
        "{:?}",
        runner.logs.lock().unwrap()
    );

    // A second runner on the same data dir would share its queues: it refuses.
    let second = Command::new(RUNNER)
        .args(["--port", &free_port().to_string(), "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another runner is serving"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn the_data_dir_comes_from_the_environment_when_no_flag_names_it() {
    let data_dir = data_dir("lock-env");
    let output = Command::new(RUNNER)
        .args(["token", "--operator"])
        .env("IMCREDITS_LOCAL_DATA_DIR", &data_dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(data_dir.join("jwt-secret").exists());
    assert_eq!(mode(&data_dir), 0o700);
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// `backfill-statement-schedule` on the data dir: refused beside a serving runner (the lock), and
/// on the stopped runner's data it gives a wallet stored without the statement schedule its
/// schedule, page by page, resumable from the cursor it prints; a second run changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_statement_schedule_backfill_runs_on_the_stopped_runner_s_data_once() {
    use imcredits::adapters::dynamodb::DynamoStore;
    use imcredits::adapters::dynamodb::codec::s;
    use imcredits::adapters::dynoxide::InProcessHttp;

    let data_dir = data_dir("backfill");
    let backfill = |extra: &[&str]| {
        let output = Command::new(RUNNER)
            .args([
                "backfill-statement-schedule",
                "--page-items",
                "2",
                "--data-dir",
            ])
            .arg(&data_dir)
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), stdout, stderr)
    };
    let runner = Runner::start(free_port(), &data_dir);
    runner::wallet_with_card(&runner, 1);
    let (ok, _, stderr) = backfill(&[]);
    assert!(
        !ok && stderr.contains("another runner is serving"),
        "{stderr}"
    );
    runner.interrupt();
    {
        // acme's wallet as stored before the schedule existed.
        let path = data_dir.join("imcredits.sqlite");
        let database = dynoxide::Database::new(path.to_str().unwrap()).expect("the data file");
        let store = DynamoStore::new(InProcessHttp::client(database), "imcredits-local");
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key("pk", s("ACCOUNT#acme"))
            .key("sk", s("WALLET"))
            .update_expression("REMOVE hx_pk, hx_sk")
            .send()
            .await
            .expect("the wallet updates");
    }
    let run = |extra: &[&str]| {
        let (ok, stdout, stderr) = backfill(extra);
        assert!(ok, "{stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).expect("one JSON line")
    };
    let first = run(&["--pages", "1"]);
    assert_eq!(first["done"], false, "{first}");
    let resume = first["resume"]
        .as_str()
        .expect("where to resume")
        .to_owned();
    let rest = run(&["--resume", &resume]);
    assert_eq!(rest["done"], true, "{rest}");
    let scheduled = first["scheduled"].as_u64().unwrap() + rest["scheduled"].as_u64().unwrap();
    assert_eq!(scheduled, 1, "{first} {rest}");
    let again = run(&[]);
    assert_eq!(
        (
            &again["wallets_unscheduled"],
            &again["scheduled"],
            &again["done"]
        ),
        (
            &serde_json::json!(0),
            &serde_json::json!(0),
            &serde_json::json!(true)
        ),
        "{again}"
    );
    let (ok, _, stderr) = backfill(&["--resume", "not a cursor"]);
    assert!(!ok && stderr.contains("--resume"), "{stderr}");
    let _ = std::fs::remove_dir_all(&data_dir);
}
