//! The queues' tables, and the checks every insert goes through.
//!
//! `queue_stats` holds each queue's messages and bytes (and the dead letters' under `DEAD`), kept
//! exact by triggers in the same transaction as every insert and delete, so a bound is checked
//! without counting rows, and another process (the `dead-letters` command) keeps it exact too.

use std::path::Path;

use rusqlite::{Connection, Transaction, params};

use super::{INTAKE_MEMORY_MS, INTAKES_MAX, QueueLimits, optional, unavailable};
use crate::ports::queue::QueueError;

/// The stats row of the dead letters (all queues together).
pub const DEAD: &str = "(dead letters)";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    visible_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    redrivable INTEGER NOT NULL,
    dead_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_stats (
    queue TEXT PRIMARY KEY,
    messages INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS message_in AFTER INSERT ON messages BEGIN
    INSERT INTO queue_stats VALUES (NEW.queue, 1, length(CAST(NEW.body AS BLOB)))
    ON CONFLICT (queue) DO UPDATE SET messages = messages + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS message_out AFTER DELETE ON messages BEGIN
    UPDATE queue_stats SET messages = messages - 1, bytes = bytes - length(CAST(OLD.body AS BLOB))
    WHERE queue = OLD.queue;
END;
CREATE TRIGGER IF NOT EXISTS dead_in AFTER INSERT ON dead_letters BEGIN
    INSERT INTO queue_stats VALUES ('(dead letters)', 1, length(CAST(NEW.body AS BLOB)))
    ON CONFLICT (queue) DO UPDATE SET messages = messages + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS dead_out AFTER DELETE ON dead_letters BEGIN
    UPDATE queue_stats SET messages = messages - 1, bytes = bytes - length(CAST(OLD.body AS BLOB))
    WHERE queue = '(dead letters)';
END;
CREATE TABLE IF NOT EXISTS intakes (
    key TEXT PRIMARY KEY,
    taken_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS intakes_by_age ON intakes (taken_at_ms);
";

/// Creates `path` readable and writable by its owner only, if it does not exist. SQLite gives its
/// `-wal` and `-shm` files the database file's permissions.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// Write-ahead log with `synchronous = NORMAL`: a commit survives the process being killed (not a
/// power cut), at a fraction of the cost of syncing every commit.
pub fn prepare(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.execute_batch(SCHEMA)?;
    add_last_error(connection)
}

/// `messages.last_error`: why the last delivery failed, which a dead letter states. Added to files
/// made before it existed (SQLite has no `ADD COLUMN IF NOT EXISTS`).
fn add_last_error(connection: &Connection) -> rusqlite::Result<()> {
    let present: bool = connection.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('messages') WHERE name = 'last_error'",
        [],
        |row| row.get(0),
    )?;
    if !present {
        connection.execute_batch("ALTER TABLE messages ADD COLUMN last_error TEXT")?;
    }
    Ok(())
}

/// Messages and bytes on `queue`.
pub fn stats(connection: &Connection, queue: &str) -> rusqlite::Result<(u64, u64)> {
    let row = optional(connection.query_row(
        "SELECT messages, bytes FROM queue_stats WHERE queue = ?1",
        [queue],
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
    ))?;
    let (messages, bytes) = row.unwrap_or((0, 0));
    Ok((messages.max(0) as u64, bytes.max(0) as u64))
}

/// Refuses (`Unavailable`, retry later) when adding `count` messages of `bytes` to `queue` would
/// pass `limits`.
pub fn check_room(
    connection: &Connection,
    queue: &str,
    limits: QueueLimits,
    count: usize,
    bytes: usize,
) -> Result<(), QueueError> {
    let (messages_now, bytes_now) = stats(connection, queue).map_err(unavailable)?;
    let messages_after = messages_now.saturating_add(count as u64);
    let bytes_after = bytes_now.saturating_add(bytes as u64);
    if messages_after > limits.messages_max || bytes_after > limits.bytes_max {
        return Err(QueueError::Unavailable(format!(
            "the {queue} queue is full: {messages_now} messages, {bytes_now} bytes held, bounds \
             {} messages, {} bytes",
            limits.messages_max, limits.bytes_max
        )));
    }
    Ok(())
}

/// Inserts `bodies`, hidden until `visible_at_ms` (0: at once).
pub fn insert_messages(
    transaction: &Transaction<'_>,
    queue: &str,
    limits: QueueLimits,
    bodies: &[String],
    visible_at_ms: i64,
) -> Result<(), QueueError> {
    if bodies.is_empty() {
        return Ok(());
    }
    let bytes = bodies.iter().map(String::len).sum();
    check_room(transaction, queue, limits, bodies.len(), bytes)?;
    let mut statement = transaction
        .prepare_cached("INSERT INTO messages (queue, body, visible_at_ms) VALUES (?1, ?2, ?3)")
        .map_err(unavailable)?;
    for body in bodies {
        statement
            .execute(params![queue, body, visible_at_ms])
            .map_err(unavailable)?;
    }
    Ok(())
}

pub fn intake_known(connection: &Connection, key: &str) -> rusqlite::Result<bool> {
    let found =
        optional(connection.query_row("SELECT 1 FROM intakes WHERE key = ?1", [key], |_| Ok(())))?;
    Ok(found.is_some())
}

/// Remembers `key`; with `prune`, forgets keys past their memory or beyond [`INTAKES_MAX`].
pub fn remember_intake(
    transaction: &Transaction<'_>,
    key: &str,
    now_ms: i64,
    prune: bool,
) -> Result<(), QueueError> {
    transaction
        .execute(
            "INSERT OR IGNORE INTO intakes (key, taken_at_ms) VALUES (?1, ?2)",
            params![key, now_ms],
        )
        .map_err(unavailable)?;
    if prune {
        transaction
            .execute(
                "DELETE FROM intakes WHERE taken_at_ms < ?1",
                [now_ms.saturating_sub(INTAKE_MEMORY_MS)],
            )
            .map_err(unavailable)?;
        transaction
            .execute(
                "DELETE FROM intakes WHERE key IN (SELECT key FROM intakes ORDER BY taken_at_ms \
                 LIMIT max(0, (SELECT count(*) FROM intakes) - ?1))",
                [INTAKES_MAX],
            )
            .map_err(unavailable)?;
    }
    Ok(())
}
