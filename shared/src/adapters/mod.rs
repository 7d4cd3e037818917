//! Adapters: the ports implemented on real infrastructure.

pub mod backoff;
#[cfg(feature = "aws")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod dynoxide;
pub mod http_webhooks;
pub mod logging;
pub mod memory_queue;
#[cfg(feature = "embedded")]
pub mod sqlite_queue;
#[cfg(feature = "aws")]
pub mod sqs;
#[cfg(feature = "aws")]
pub mod sqs_webhook;
pub mod stripe;
