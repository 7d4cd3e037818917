//! Fault injection at the HTTP edge of the DynamoDB client, to show what a lost request or a lost
//! answer does to a posting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection drops before the request leaves: DynamoDB never sees it.
    RequestLost,
    /// DynamoDB commits, then the answer is lost on the way back.
    AnswerLost,
}

/// Fails the next `remaining` calls of one DynamoDB operation with `fault`.
#[derive(Debug, Clone)]
pub struct FailOperation {
    operation: &'static str,
    fault: Fault,
    remaining: Arc<AtomicU32>,
}

impl FailOperation {
    pub fn new(operation: &'static str, fault: Fault, times: u32) -> Self {
        Self {
            operation,
            fault,
            remaining: Arc::new(AtomicU32::new(times)),
        }
    }

    /// How many injected failures are still to come.
    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::SeqCst)
    }

    fn strike(&self, stage: Fault, cfg: &ConfigBag) -> Result<(), BoxError> {
        let targeted = cfg
            .load::<Metadata>()
            .is_some_and(|metadata| metadata.name() == self.operation);
        if stage != self.fault || !targeted {
            return Ok(());
        }
        let armed = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            Err(format!("injected fault: {:?} on {}", self.fault, self.operation).into())
        } else {
            Ok(())
        }
    }
}

impl Intercept for FailOperation {
    fn name(&self) -> &'static str {
        "FailOperation"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.strike(Fault::RequestLost, cfg)
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.strike(Fault::AnswerLost, cfg)
    }
}
