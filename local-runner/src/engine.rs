//! The embedded store: dynoxide (a DynamoDB-compatible engine on SQLite) in a file of the data dir,
//! reached **in process** by the very same DynamoDB adapter as in AWS (no port: nothing else on the
//! machine can read or write it), and the durable queues in a file beside it.
//!
//! The data dir is the runner's alone: created 0700 (an older one is tightened), every file in it
//! 0600, and locked while a runner serves from it (two runners would share one queue's messages).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use imcredits::adapters::dynamodb::{DynamoStore, table};
use imcredits::adapters::dynoxide::InProcessHttp;
use imcredits::adapters::sqlite_queue::QueueStore;

pub const TABLE_NAME: &str = "imcredits-local";
pub const DATABASE_FILE: &str = "imcredits.sqlite";
pub const QUEUES_FILE: &str = "queues.sqlite";
const LOCK_FILE: &str = "runner.lock";

/// Creates `data_dir` for its owner only, or tightens an existing one and the files in it.
pub fn private_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let private = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("making {} private", path.display()))
        };
        private(data_dir, 0o700)?;
        for entry in std::fs::read_dir(data_dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                private(&entry.path(), 0o600)?;
            }
        }
    }
    Ok(())
}

/// Opens (creating it 0600 if absent) a file of the data dir.
pub fn private_file(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true).read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The queues' file, for the `dead-letters` command (which may run beside a serving runner).
pub fn queue_store(data_dir: &Path) -> anyhow::Result<QueueStore> {
    private_data_dir(data_dir)?;
    Ok(QueueStore::open(&data_dir.join(QUEUES_FILE))?)
}

/// A running engine: the store that talks to it, the queues, and the data dir's lock.
pub struct Engine {
    pub store: DynamoStore,
    pub queues: QueueStore,
    _lock: File,
}

impl Engine {
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        private_data_dir(data_dir)?;
        let lock = private_file(&data_dir.join(LOCK_FILE))?;
        lock.try_lock().map_err(|_| {
            anyhow::anyhow!(
                "another runner is serving from {} (stop it, or use --data-dir)",
                data_dir.display()
            )
        })?;
        let path: PathBuf = data_dir.join(DATABASE_FILE);
        private_file(&path)?;
        let path_text = path.to_str().context("the data dir path must be UTF-8")?;
        let database = dynoxide::Database::new(path_text)
            .map_err(|error| anyhow::anyhow!("cannot open {}: {error}", path.display()))?;
        let client = InProcessHttp::client(database);
        table::ensure_table(&client, TABLE_NAME)
            .await
            .context("creating the table in the embedded engine")?;
        let queues = QueueStore::open(&data_dir.join(QUEUES_FILE))?;
        let resumed = queues.resume_in_flight()?;
        if resumed > 0 {
            tracing::info!(
                resumed,
                "messages in flight when the runner last stopped are delivered again"
            );
        }
        Ok(Self {
            store: DynamoStore::new(client, TABLE_NAME),
            queues,
            _lock: lock,
        })
    }
}
