//! Adapters: the ports implemented on real infrastructure.

pub mod backoff;
pub mod dynamodb;
pub mod http_webhooks;
pub mod logging;
pub mod memory_queue;
pub mod sqs;
pub mod stripe;
