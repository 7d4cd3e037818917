//! Handlers: what each function does with an event, written against ports so they run without AWS.

pub mod auto_recharge;
pub mod billing;
pub mod notifications;
pub mod webhook;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The function is deployed before its handler: refuse rather than acknowledge.
    #[error("the {0} function does not handle events yet")]
    NotServedYet(&'static str),
}

/// Until a function's handler lands, every event is refused, so nothing is acknowledged that was
/// not handled: an SQS message goes back to its queue (and on to its dead-letter queue), an HTTP
/// call gets an error.
pub async fn refuse_unserved(function: &'static str, _event: Value) -> Result<Value, HandlerError> {
    tracing::warn!(function, "event refused: handler not deployed yet");
    Err(HandlerError::NotServedYet(function))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unserved_functions_refuse_every_event() {
        let refused = refuse_unserved("billing", serde_json::json!({"Records": []})).await;
        assert!(matches!(
            refused,
            Err(HandlerError::NotServedYet("billing"))
        ));
    }
}
