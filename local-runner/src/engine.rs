//! The embedded store: dynoxide (a DynamoDB-compatible engine on SQLite) persisted to a file,
//! served on a loopback port and driven by the very same DynamoDB adapter as in AWS.

use std::path::Path;

use anyhow::Context;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use imcredits::adapters::dynamodb::{DynamoStore, table};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TABLE_NAME: &str = "imcredits-local";
const DATABASE_FILE: &str = "imcredits.sqlite";

/// A running engine: the store that talks to it, and the handle that stops it.
pub struct Engine {
    pub store: DynamoStore,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<(), String>>,
}

impl Engine {
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(DATABASE_FILE);
        let path_text = path.to_str().context("the data dir path must be UTF-8")?;
        let database = dynoxide::Database::new(path_text)
            .map_err(|error| anyhow::anyhow!("cannot open {}: {error}", path.display()))?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the engine's loopback port")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(dynoxide::server::serve_with_shutdown(
            listener,
            database,
            async move {
                let _ = stopped.await;
            },
        ));
        // The engine checks no signatures; fixed credentials keep the SDK from looking for real ones.
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "local",
                "local",
                None,
                None,
                "imcredits-local",
            ))
            .endpoint_url(endpoint)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        table::ensure_table(&client, TABLE_NAME)
            .await
            .context("creating the table in the embedded engine")?;
        Ok(Self {
            store: DynamoStore::new(client, TABLE_NAME),
            stop,
            server,
        })
    }

    /// Stops the engine after the requests it is serving, closing the database file.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        drop(self.store);
        self.server
            .await
            .context("the engine task panicked")?
            .map_err(|error| anyhow::anyhow!("engine: {error}"))
    }
}
