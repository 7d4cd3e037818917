//! The events accounts are told about: one typed, versioned model for the in-app feed and signed
//! webhooks. An event's id is derived from what its producer already derives (a ledger entry's
//! sequence number, a recharge attempt, a purchase), so a retried producer makes the same event
//! again, never a second one.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::billing::thresholds::{CrossingKind, Notice};
use crate::ids::AccountId;
use crate::money::Money;

/// The version of the event body. A consumer refuses a body of another version instead of
/// guessing; fields may be added within a version, never removed or changed.
pub const EVENT_VERSION: u32 = 1;
/// Bytes an event id may take (it travels as the `webhook-id` header).
pub const EVENT_ID_LEN_MAX: usize = 256;
/// Bytes of a free-text reason kept in an event.
pub const REASON_LEN_MAX: usize = 500;

macro_rules! event_types {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// What happened, as named on the wire (`balance.low`, ...).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum EventType {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($name => Some(EventType::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    BalanceLow => "balance.low",
    BalanceDepleted => "balance.depleted",
    BalanceRecovered => "balance.recovered",
    PurchasePaid => "purchase.paid",
    PurchaseFailed => "purchase.failed",
    RechargeSucceeded => "recharge.succeeded",
    RechargeFailed => "recharge.failed",
    AutoRechargeDisabled => "auto_recharge.disabled",
    StatementMonthlyReady => "statement.monthly_ready",
    WebhookEndpointDisabled => "webhook_endpoint.disabled",
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event id {0:?} is not <type>:<account>:<key>")]
    BadId(String),
    #[error("event version {0} is not {EVENT_VERSION}")]
    Version(u32),
    #[error("event id {id} does not match its type {event_type} or account {account}")]
    Mismatch {
        id: String,
        event_type: EventType,
        account: String,
    },
}

/// `<type>:<account>:<key>`, e.g. `balance.low:acme:12`. Printable ASCII without spaces, so it
/// can be a header value and a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EventId(String);

fn key_char(byte: u8) -> bool {
    byte.is_ascii_graphic() && byte != b'#'
}

impl EventId {
    pub fn new(event_type: EventType, account: &AccountId, key: &str) -> Result<Self, EventError> {
        Self::parse(&format!("{event_type}:{account}:{key}"))
    }

    pub fn parse(text: &str) -> Result<Self, EventError> {
        let bad = || EventError::BadId(text.chars().take(64).collect());
        if text.len() > EVENT_ID_LEN_MAX || !text.bytes().all(key_char) {
            return Err(bad());
        }
        let mut parts = text.splitn(3, ':');
        let (Some(kind), Some(account), Some(key)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if EventType::parse(kind).is_none() || AccountId::parse(account).is_err() || key.is_empty()
        {
            return Err(bad());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn event_type(&self) -> EventType {
        let kind = self.0.split(':').next().unwrap_or("");
        EventType::parse(kind).expect("checked when parsed")
    }

    pub fn account(&self) -> AccountId {
        let account = self.0.split(':').nth(1).unwrap_or("");
        AccountId::parse(account).expect("checked when parsed")
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How a purchase was paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseChannel {
    /// Stripe Checkout, by the account.
    Card,
    /// Bought offline (a store or a partner) and granted by an operator.
    Offline,
}

/// The figures a person needs, per type. Amounts are exact `{amount, currency}` objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventData {
    /// Crossings are judged on `available` (balance less held): `available` says what it was
    /// after (absent in events stored before holds).
    #[serde(rename = "balance.low")]
    BalanceLow {
        balance: Money,
        threshold: Money,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        available: Option<Money>,
    },
    #[serde(rename = "balance.depleted")]
    BalanceDepleted {
        balance: Money,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        available: Option<Money>,
    },
    #[serde(rename = "balance.recovered")]
    BalanceRecovered {
        balance: Money,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        available: Option<Money>,
    },
    #[serde(rename = "purchase.paid")]
    PurchasePaid {
        purchase_id: String,
        channel: PurchaseChannel,
        credits: u64,
        /// What the wallet was credited (the fee is not credited).
        credited: Money,
        balance: Money,
    },
    #[serde(rename = "purchase.failed")]
    PurchaseFailed {
        purchase_id: String,
        credits: u64,
        amount: Money,
        reason: String,
    },
    #[serde(rename = "recharge.succeeded")]
    RechargeSucceeded {
        attempt_id: String,
        credits: u32,
        amount: Money,
    },
    #[serde(rename = "recharge.failed")]
    RechargeFailed {
        attempt_id: String,
        credits: u32,
        amount: Money,
        reason: String,
    },
    #[serde(rename = "auto_recharge.disabled")]
    AutoRechargeDisabled { attempt_id: String, reason: String },
    #[serde(rename = "statement.monthly_ready")]
    StatementMonthlyReady { month: String },
    #[serde(rename = "webhook_endpoint.disabled")]
    WebhookEndpointDisabled {
        endpoint_id: String,
        url: String,
        #[serde(with = "time::serde::rfc3339")]
        failing_since: OffsetDateTime,
    },
}

impl EventData {
    pub fn event_type(&self) -> EventType {
        match self {
            EventData::BalanceLow { .. } => EventType::BalanceLow,
            EventData::BalanceDepleted { .. } => EventType::BalanceDepleted,
            EventData::BalanceRecovered { .. } => EventType::BalanceRecovered,
            EventData::PurchasePaid { .. } => EventType::PurchasePaid,
            EventData::PurchaseFailed { .. } => EventType::PurchaseFailed,
            EventData::RechargeSucceeded { .. } => EventType::RechargeSucceeded,
            EventData::RechargeFailed { .. } => EventType::RechargeFailed,
            EventData::AutoRechargeDisabled { .. } => EventType::AutoRechargeDisabled,
            EventData::StatementMonthlyReady { .. } => EventType::StatementMonthlyReady,
            EventData::WebhookEndpointDisabled { .. } => EventType::WebhookEndpointDisabled,
        }
    }
}

/// One event: the body of a webhook and of a feed notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub version: u32,
    pub account_id: AccountId,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    #[serde(flatten)]
    pub data: EventData,
}

fn reason_text(reason: &str) -> String {
    let mut text: String = reason.chars().take(REASON_LEN_MAX).collect();
    while text.len() > REASON_LEN_MAX {
        text.pop();
    }
    text
}

impl Event {
    /// An event of `data`'s type for `account`, its id keyed by `key` (what the producer derives).
    pub fn new(
        account: &AccountId,
        key: &str,
        at: OffsetDateTime,
        mut data: EventData,
    ) -> Result<Self, EventError> {
        match &mut data {
            EventData::PurchaseFailed { reason, .. }
            | EventData::RechargeFailed { reason, .. }
            | EventData::AutoRechargeDisabled { reason, .. } => *reason = reason_text(reason),
            _ => {}
        }
        Ok(Self {
            id: EventId::new(data.event_type(), account, key)?,
            version: EVENT_VERSION,
            account_id: account.clone(),
            timestamp: at,
            data,
        })
    }

    pub fn event_type(&self) -> EventType {
        self.data.event_type()
    }

    /// Parses and checks a body: its version, and that its id names its own type and account.
    pub fn parse(body: &str) -> Result<Self, String> {
        let event: Event = serde_json::from_str(body).map_err(|error| error.to_string())?;
        event.checked().map_err(|error| error.to_string())
    }

    fn checked(self) -> Result<Self, EventError> {
        if self.version != EVENT_VERSION {
            return Err(EventError::Version(self.version));
        }
        if self.id.event_type() != self.event_type() || self.id.account() != self.account_id {
            return Err(EventError::Mismatch {
                id: self.id.to_string(),
                event_type: self.event_type(),
                account: self.account_id.to_string(),
            });
        }
        Ok(self)
    }

    /// The JSON sent to webhooks and stored in the feed (the same bytes on every attempt).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
    }
}

/// Billing's threshold crossings as events; the key is the entry that crossed.
impl From<&Notice> for Event {
    fn from(notice: &Notice) -> Self {
        let data = match notice.kind {
            CrossingKind::LowBalance => EventData::BalanceLow {
                balance: notice.balance,
                threshold: notice.threshold,
                available: Some(notice.available),
            },
            CrossingKind::Depleted => EventData::BalanceDepleted {
                balance: notice.balance,
                available: Some(notice.available),
            },
            CrossingKind::Recovered => EventData::BalanceRecovered {
                balance: notice.balance,
                available: Some(notice.available),
            },
        };
        Event::new(&notice.account_id, &notice.seq.to_string(), notice.at, data)
            .expect("an account id and a number make a valid event id")
    }
}
