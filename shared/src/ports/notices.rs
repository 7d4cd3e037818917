//! Ports of notices: the feed, webhook endpoints and their deliveries (a store), the HTTP POST of
//! one attempt, address checks, and queues that take a delay.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use time::OffsetDateTime;

use super::queue::{QueueError, QueueSend};
use super::store::StoreError;
use crate::ids::AccountId;
use crate::notices::address::{AddressRefused, WebhookUrl};
use crate::notices::delivery::{AttemptRecord, Delivery, DeliveryStatus};
use crate::notices::endpoint::{Endpoint, EndpointId, Owner, PreviousSecret};
use crate::notices::event::{Event, EventId};
use crate::notices::retry::AttemptOutcome;
use crate::notices::signing::SigningSecret;

/// Notices one feed page holds at most.
pub const NOTICES_PAGE_LIMIT_MAX: u32 = 100;
/// Deliveries one log page holds at most.
pub const DELIVERIES_PAGE_LIMIT_MAX: u32 = 100;

/// A notice as the feed holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNotice {
    pub event: Event,
    /// When the feed first stored it (its place in the feed).
    pub stored_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticesPage {
    pub notices: Vec<StoredNotice>,
    /// Everything stored at or before this is read.
    pub read_through_ms: i64,
    pub next_cursor: Option<String>,
}

pub trait NoticeFeed {
    /// Stores `event` unless a notice with its id exists (a conditional write); answers the
    /// stored notice either way (`true` when it was stored now).
    fn put_notice(
        &self,
        event: &Event,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(StoredNotice, bool), StoreError>> + Send;

    fn get_notice(
        &self,
        event_id: &EventId,
    ) -> impl Future<Output = Result<Option<StoredNotice>, StoreError>> + Send;

    /// Newest first; `cursor` is the one a previous page answered.
    fn notices_page(
        &self,
        account: &AccountId,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<NoticesPage, StoreError>> + Send;

    /// Moves the account's read marker forward to `read_through_ms` (never back); answers it.
    fn mark_read(
        &self,
        account: &AccountId,
        read_through_ms: i64,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

pub trait EndpointStore {
    /// Registers `endpoint` unless its owner has one for the URL or has the most allowed
    /// (refused by conditions: `StoreError::ExtraRefused`).
    fn create_endpoint(
        &self,
        endpoint: &Endpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn list_endpoints(
        &self,
        owner: &Owner,
    ) -> impl Future<Output = Result<Vec<Endpoint>, StoreError>> + Send;

    fn get_endpoint(
        &self,
        owner: &Owner,
        id: &EndpointId,
    ) -> impl Future<Output = Result<Option<Endpoint>, StoreError>> + Send;

    /// `false` when there was none.
    fn delete_endpoint(
        &self,
        owner: &Owner,
        id: &EndpointId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Replaces the secret, keeping the old one as `previous`; `None` when there is no endpoint.
    fn rotate_secret(
        &self,
        owner: &Owner,
        id: &EndpointId,
        secret: &SigningSecret,
        previous: &PreviousSecret,
    ) -> impl Future<Output = Result<Option<Endpoint>, StoreError>> + Send;

    /// Notes a failed attempt: answers since when the endpoint has been failing.
    fn endpoint_failed(
        &self,
        owner: &Owner,
        id: &EndpointId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<OffsetDateTime>, StoreError>> + Send;

    fn endpoint_succeeded(
        &self,
        owner: &Owner,
        id: &EndpointId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Disables an enabled endpoint; `true` when this call disabled it.
    fn disable_endpoint(
        &self,
        owner: &Owner,
        id: &EndpointId,
        reason: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveriesPage {
    pub deliveries: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

pub trait DeliveryStore {
    /// Creates the delivery unless it exists; answers the stored one either way (`true` when new).
    fn open_delivery(
        &self,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<(Delivery, bool), StoreError>> + Send;

    /// Claims attempt `attempt` until `lease_until_ms`: only if the delivery is pending and no
    /// later attempt was claimed, and an earlier claim of this attempt lapsed. `None`: not ours.
    fn claim_attempt(
        &self,
        endpoint: &EndpointId,
        key: &str,
        attempt: u32,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    /// Appends an attempt to the log and sets the status; releases the lease.
    fn record_attempt(
        &self,
        endpoint: &EndpointId,
        key: &str,
        record: &AttemptRecord,
        status: DeliveryStatus,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A delivery that ended (delivered, failed, skipped) goes back to pending for a resend, its
    /// window restarting; answers the attempt number to make next, `None` if there is none.
    fn reopen_delivery(
        &self,
        endpoint: &EndpointId,
        key: &str,
    ) -> impl Future<Output = Result<Option<u32>, StoreError>> + Send;

    fn get_delivery(
        &self,
        endpoint: &EndpointId,
        key: &str,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    fn deliveries_page(
        &self,
        endpoint: &EndpointId,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<DeliveriesPage, StoreError>> + Send;
}

/// One signed POST to an endpoint, through the SSRF guard.
pub trait WebhookPost {
    fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
        timeout: Duration,
    ) -> impl Future<Output = AttemptOutcome> + Send;
}

/// Checks a URL an endpoint is registered with: its rules, and every address its name resolves
/// to. Object-safe, so the API holds any implementation.
pub trait UrlCheck: Send + Sync {
    fn check_url<'a>(
        &'a self,
        url: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<WebhookUrl, AddressRefused>> + Send + 'a>>;
}

/// A queue that can hold a message back for a while (SQS: `DelaySeconds`, at most 15 minutes;
/// a longer wait is made of hops by the consumer).
pub trait QueueSendDelayed {
    fn send_delayed(
        &self,
        body: String,
        delay: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// [`QueueSend`] as a trait object, so the API publishes events without a type parameter.
pub trait EventPublish: Send + Sync {
    fn publish<'a>(
        &'a self,
        bodies: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Result<(), QueueError>> + Send + 'a>>;
}

impl<T: QueueSend + Send + Sync> EventPublish for T {
    fn publish<'a>(
        &'a self,
        bodies: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Result<(), QueueError>> + Send + 'a>> {
        Box::pin(self.send_all(bodies))
    }
}
