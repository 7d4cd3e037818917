use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn temp_file(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("imcredits-queue-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("queues.sqlite")
}

const ROOMY: QueueLimits = QueueLimits {
    messages_max: 1_000,
    bytes_max: 1024 * 1024,
};

fn rules(receives_max: u32) -> QueueRules {
    QueueRules {
        receives_max,
        visibility: Duration::from_secs(60),
        limits: ROOMY,
    }
}

fn bodies(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries.iter().map(|d| d.body.as_str()).collect()
}

#[tokio::test]
async fn what_was_sent_survives_a_reopen_and_what_was_in_flight_comes_back() {
    let path = temp_file("reopen");
    {
        let store = QueueStore::open(&path).unwrap();
        let queue = store.queue("billing", rules(5));
        queue
            .send_all(&["a".into(), "b".into(), "c".into()])
            .await
            .unwrap();
        let first = queue.receive(2).await.unwrap();
        assert_eq!(bodies(&first), ["a", "b"]);
        assert_eq!(bodies(&queue.receive(10).await.unwrap()), ["c"]);
        assert!(
            queue.receive(10).await.unwrap().is_empty(),
            "in flight is hidden"
        );
        queue.delete(vec![first[0].receipt]).await.unwrap();
        // Dropped here without deleting b and c: as a process killed mid-batch.
    }
    let store = QueueStore::open(&path).unwrap();
    assert_eq!(store.resume_in_flight().unwrap(), 2);
    let queue = store.queue("billing", rules(5));
    let again = queue.receive(10).await.unwrap();
    assert_eq!(bodies(&again), ["b", "c"]);
    assert!(again.iter().all(|d| d.receive_count == 2));
    assert_eq!(queue.depth().unwrap(), (2, 2));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_message_not_handled_goes_to_the_dead_letters_and_is_redriven_from_there() {
    let store = QueueStore::open(&temp_file("dead")).unwrap();
    let queue = store.queue("billing", rules(2));
    queue
        .send_all(&["poison".into(), "fine".into()])
        .await
        .unwrap();
    for _ in 0..2 {
        let got = queue.receive(1).await.unwrap();
        assert_eq!(bodies(&got), ["poison"]);
        let reason = "no wallet for phone number 106540352242922".to_owned();
        queue
            .release_failed(vec![(got[0].receipt, reason)])
            .await
            .unwrap();
    }
    // The third receive dead-letters it and hands out the next.
    let got = queue.receive(1).await.unwrap();
    assert!(got.is_empty() || bodies(&got) == ["fine"]);
    let page = store.dead_letters(Some("billing"), 0, 10).unwrap();
    assert_eq!(page.dead_letters.len(), 1);
    let letter = &page.dead_letters[0];
    assert_eq!(
        (
            letter.body.as_str(),
            letter.receive_count,
            letter.redrivable
        ),
        ("poison", 2, true)
    );
    assert_eq!(
        letter.reason,
        "not handled after 2 deliveries; last error: no wallet for phone number 106540352242922"
    );
    let outcome = store
        .redrive(&[letter.id, 999], |queue| {
            (queue == "billing").then_some(ROOMY)
        })
        .unwrap();
    assert_eq!(outcome.redriven, [letter.id]);
    assert_eq!(outcome.not_found, [999]);
    assert_eq!(store.dead_letter_count().unwrap().0, 0);
    let redriven = queue.receive(10).await.unwrap();
    assert!(
        redriven
            .iter()
            .any(|d| d.body == "poison" && d.receive_count == 1)
    );
}

#[tokio::test]
async fn past_either_bound_a_send_is_refused_as_unavailable_and_nothing_is_taken() {
    let store = QueueStore::open(&temp_file("bounds")).unwrap();
    let by_count = store.queue(
        "count",
        QueueRules {
            limits: QueueLimits {
                messages_max: 3,
                bytes_max: 1024,
            },
            ..rules(5)
        },
    );
    by_count.send_all(&["1".into(), "2".into()]).await.unwrap();
    let refused = by_count.send_all(&["3".into(), "4".into()]).await;
    assert!(
        matches!(refused, Err(QueueError::Unavailable(_))),
        "{refused:?}"
    );
    assert_eq!(by_count.depth().unwrap(), (2, 2));
    let by_bytes = store.queue(
        "bytes",
        QueueRules {
            limits: QueueLimits {
                messages_max: 100,
                bytes_max: 10,
            },
            ..rules(5)
        },
    );
    by_bytes.send_all(&["12345678".into()]).await.unwrap();
    assert!(by_bytes.send_all(&["123".into()]).await.is_err());
    // Room comes back once the receiver deletes.
    let got = by_bytes.receive(10).await.unwrap();
    by_bytes.delete(vec![got[0].receipt]).await.unwrap();
    by_bytes.send_all(&["123".into()]).await.unwrap();
    assert_eq!(by_bytes.depth().unwrap(), (1, 3));
}

#[tokio::test]
async fn an_intake_is_taken_once_with_its_dead_letters_and_recognised_after() {
    let store = QueueStore::open(&temp_file("intake")).unwrap();
    let queue = store.queue("billing", rules(5));
    let letter = r#"{"source":"meta_webhook","reason":"status.timestamp is not valid"}"#.to_owned();
    let intake = Intake {
        key: "sha256=abc",
        bodies: &["m1".into(), "m2".into()],
        dead_letters: std::slice::from_ref(&letter),
    };
    assert!(!queue.taken_before("sha256=abc").await.unwrap());
    queue.take(intake).await.unwrap();
    assert!(queue.taken_before("sha256=abc").await.unwrap());
    queue.take(intake).await.unwrap();
    assert_eq!(queue.depth().unwrap().0, 2, "the replay added nothing");
    let page = store.dead_letters(None, 0, 10).unwrap();
    assert_eq!(page.dead_letters.len(), 1);
    let skipped = &page.dead_letters[0];
    assert!(!skipped.redrivable);
    assert_eq!(
        skipped.reason,
        "skipped by the webhook, may be billable: status.timestamp is not valid"
    );
    let outcome = store.redrive(&[skipped.id], |_| Some(ROOMY)).unwrap();
    assert_eq!(outcome.not_redrivable, [skipped.id]);
}

#[tokio::test]
async fn a_delayed_message_waits_out_its_delay_even_across_a_reopen() {
    use crate::ports::notices::QueueSendDelayed;
    let path = temp_file("delayed");
    {
        let store = QueueStore::open(&path).unwrap();
        let queue = store.queue("notifications", rules(5));
        queue
            .send_delayed("later".into(), Duration::from_millis(600))
            .await
            .unwrap();
        queue
            .send_delayed("much later".into(), Duration::from_secs(3_600))
            .await
            .unwrap();
        queue.send_all(&["now".into()]).await.unwrap();
        assert_eq!(bodies(&queue.receive(10).await.unwrap()), ["now"]);
        assert_eq!(queue.depth().unwrap().0, 3, "held, on disk");
    }
    // A restart makes what was in flight visible, not what is delayed.
    let store = QueueStore::open(&path).unwrap();
    assert_eq!(store.resume_in_flight().unwrap(), 1);
    let queue = store.queue("notifications", rules(5));
    assert_eq!(bodies(&queue.receive(10).await.unwrap()), ["now"]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let due = queue.receive(10).await.unwrap();
    assert_eq!(bodies(&due), ["later"]);
    assert_eq!(due[0].receive_count, 1);
    assert!(queue.receive(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_dead_letter_says_when_no_delivery_reported_an_error_and_long_reasons_are_cut() {
    let store = QueueStore::open(&temp_file("dead-reasons")).unwrap();
    let queue = store.queue("billing", rules(1));
    queue
        .send_all(&["silent".into(), "loud".into()])
        .await
        .unwrap();
    let got = queue.receive(2).await.unwrap();
    queue.release(vec![got[0].receipt]).await.unwrap();
    let long = format!("cannot price status wamid.{}", "é".repeat(2_000));
    queue
        .release_failed(vec![(got[1].receipt, long)])
        .await
        .unwrap();
    assert!(queue.receive(2).await.unwrap().is_empty());
    let page = store.dead_letters(Some("billing"), 0, 10).unwrap();
    let reasons: Vec<&str> = page
        .dead_letters
        .iter()
        .map(|l| l.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with("not handled after 1 deliveries; no error was reported"),
        "{reasons:?}"
    );
    let prefix = "not handled after 1 deliveries; last error: cannot price status wamid.é";
    assert!(reasons[1].starts_with(prefix), "{reasons:?}");
    let kept = reasons[1].len() - "not handled after 1 deliveries; last error: ".len();
    assert!(kept <= super::LAST_ERROR_LEN_MAX && kept > super::LAST_ERROR_LEN_MAX - 4);
}
