//! Webhook endpoints: registered by an account (its own events) or by an operator (every
//! account's events, platform-wide), each with the event types it wants and a signing secret.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::address::WebhookUrl;
use super::event::EventType;
use super::signing::SigningSecret;
use crate::ids::AccountId;

/// Endpoints one owner may register (bounds every fan-out and listing).
pub const ENDPOINTS_PER_OWNER_MAX: u32 = 10;

/// Who registered an endpoint, and so whose events it receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Account(AccountId),
    /// The operator's platform-wide endpoints: every account's events.
    Platform,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Account(account) => write!(f, "account:{account}"),
            Owner::Platform => f.write_str("platform"),
        }
    }
}

impl Owner {
    pub fn parse(text: &str) -> Option<Self> {
        match text.split_once(':') {
            None if text == "platform" => Some(Owner::Platform),
            Some(("account", account)) => AccountId::parse(account).ok().map(Owner::Account),
            _ => None,
        }
    }
}

crate::ids::string_id!(
    /// `we_` and 24 hex digits of a hash of the owner and the URL: one endpoint per URL per owner.
    EndpointId,
    "webhook endpoint id",
    27,
    |byte| byte.is_ascii_alphanumeric() || byte == b'_'
);

impl EndpointId {
    pub fn derive(owner: &Owner, url: &WebhookUrl) -> Self {
        let digest = Sha256::digest(format!("{owner}\n{}", url.as_str()).as_bytes());
        Self::parse(&format!("we_{}", hex::encode(&digest[..12]))).expect("hex fits the alphabet")
    }
}

/// A secret that still signs, next to the new one, until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    pub secret: SigningSecret,
    pub until: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: EndpointId,
    pub owner: Owner,
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<EventType>,
    pub secret: SigningSecret,
    pub previous: Option<PreviousSecret>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Since when attempts have failed without a success in between.
    pub failing_since: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl Endpoint {
    pub fn new(
        owner: Owner,
        url: &WebhookUrl,
        mut event_types: Vec<EventType>,
        secret: SigningSecret,
        now: OffsetDateTime,
    ) -> Self {
        event_types.sort();
        event_types.dedup();
        Self {
            id: EndpointId::derive(&owner, url),
            owner,
            url: url.as_str().to_owned(),
            event_types,
            secret,
            previous: None,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
        }
    }

    pub fn wants(&self, event_type: EventType) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&event_type)
    }

    /// The secrets that sign an attempt at `now`: the current one, and the previous one while its
    /// overlap lasts.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> Vec<&SigningSecret> {
        let mut secrets = vec![&self.secret];
        if let Some(previous) = &self.previous
            && previous.until > now
        {
            secrets.push(&previous.secret);
        }
        secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notices::address::AddressPolicy;

    #[test]
    fn ids_differ_by_owner_and_url_and_owners_round_trip() {
        let url = |text| WebhookUrl::parse(text, AddressPolicy::PublicHttpsOnly).unwrap();
        let acme = Owner::Account(AccountId::parse("acme").unwrap());
        let a = EndpointId::derive(&acme, &url("https://a.example.com/"));
        assert_eq!(a, EndpointId::derive(&acme, &url("https://a.example.com/")));
        assert_ne!(
            a,
            EndpointId::derive(&Owner::Platform, &url("https://a.example.com/"))
        );
        assert_ne!(a, EndpointId::derive(&acme, &url("https://b.example.com/")));
        assert_eq!(a.as_str().len(), 27);
        for owner in [acme, Owner::Platform] {
            assert_eq!(Owner::parse(&owner.to_string()), Some(owner));
        }
        assert_eq!(Owner::parse("account:a b"), None);
    }

    #[test]
    fn the_previous_secret_signs_only_during_its_overlap() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let url =
            WebhookUrl::parse("https://a.example.com/", AddressPolicy::PublicHttpsOnly).unwrap();
        let mut endpoint = Endpoint::new(
            Owner::Platform,
            &url,
            vec![EventType::BalanceLow],
            SigningSecret::generate().unwrap(),
            now,
        );
        assert_eq!(endpoint.signing_secrets(now).len(), 1);
        endpoint.previous = Some(PreviousSecret {
            secret: SigningSecret::generate().unwrap(),
            until: now + time::Duration::hours(1),
        });
        assert_eq!(endpoint.signing_secrets(now).len(), 2);
        assert_eq!(
            endpoint
                .signing_secrets(now + time::Duration::hours(1))
                .len(),
            1
        );
        assert!(endpoint.wants(EventType::BalanceLow) && !endpoint.wants(EventType::PurchasePaid));
    }
}
