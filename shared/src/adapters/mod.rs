//! Adapters: the ports implemented on real infrastructure.

pub mod dynamodb;
pub mod logging;
pub mod memory_queue;
pub mod sqs;
