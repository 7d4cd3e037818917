//! Webhook attempts over HTTP, behind the SSRF guard: the URL's rules ([`WebhookUrl`]), and every
//! address a name resolves to checked inside the client's resolver, so the addresses checked are
//! the addresses connected to (no second lookup an attacker's DNS could answer differently). No
//! proxy, no redirects followed, answers read to a small cap, one timeout per attempt.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::notices::address::{AddressPolicy, AddressRefused, WebhookUrl, check_address};
use crate::notices::retry::{AttemptOutcome, parse_retry_after};
use crate::ports::notices::{UrlCheck, WebhookPost};

/// Bytes of an endpoint's answer read at most (the rest is dropped with the connection).
pub const RESPONSE_BODY_LEN_MAX: usize = 4 * 1024;
/// Addresses one name may resolve to that are looked at.
const ADDRESSES_MAX: usize = 16;

type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Name resolution, as a port of this adapter: the system's resolver in AWS and on the runner,
/// a fixed table in tests (so no test ever asks a real DNS server).
pub trait Resolver: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> Lookup;
}

/// The system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Lookup {
        let host = format!("{host}:0");
        Box::pin(async move {
            Ok(tokio::net::lookup_host(host)
                .await?
                .map(|address| address.ip())
                .take(ADDRESSES_MAX)
                .collect())
        })
    }
}

/// Names answered from a table; any other name does not resolve.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver(pub HashMap<String, Vec<IpAddr>>);

impl Resolver for StaticResolver {
    fn lookup(&self, host: &str) -> Lookup {
        let found = self.0.get(&host.to_ascii_lowercase()).cloned();
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"))
        })
    }
}

/// Resolves `host` and checks every address; all must pass (a name that mixes a public and a
/// private address is refused, not half-trusted).
async fn resolve_checked(
    resolver: &dyn Resolver,
    host: &str,
    policy: AddressPolicy,
) -> Result<Vec<IpAddr>, AddressRefused> {
    let addresses = resolver
        .lookup(host)
        .await
        .map_err(|_| AddressRefused::Unresolved(host.to_owned()))?;
    if addresses.is_empty() {
        return Err(AddressRefused::Unresolved(host.to_owned()));
    }
    for address in &addresses {
        check_address(*address, policy)?;
    }
    Ok(addresses)
}

/// The resolver reqwest calls when it is about to connect.
struct GuardedResolve {
    resolver: Arc<dyn Resolver>,
    policy: AddressPolicy,
}

impl reqwest::dns::Resolve for GuardedResolve {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = Arc::clone(&self.resolver);
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = resolve_checked(resolver.as_ref(), &host, policy).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("building the webhook HTTP client: {0}")]
pub struct ClientError(String);

/// The webhook client. Cheap to clone.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    resolver: Arc<dyn Resolver>,
    policy: AddressPolicy,
}

impl WebhookClient {
    pub fn new(policy: AddressPolicy, resolver: Arc<dyn Resolver>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .retry(reqwest::retry::never())
            .dns_resolver(Arc::new(GuardedResolve {
                resolver: Arc::clone(&resolver),
                policy,
            }))
            .user_agent("imcredits-webhooks/1")
            .build()
            .map_err(|error| ClientError(error.to_string()))?;
        Ok(Self {
            http,
            resolver,
            policy,
        })
    }

    pub fn policy(&self) -> AddressPolicy {
        self.policy
    }
}

/// The guard's refusal, if it is somewhere in `error`'s chain of sources.
fn refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<AddressRefused>() {
            return Some(refused.to_string());
        }
        current = error.source();
    }
    None
}

/// Reads at most [`RESPONSE_BODY_LEN_MAX`] bytes of the answer; the rest is never read.
async fn drain_capped(mut response: reqwest::Response) -> Result<(), reqwest::Error> {
    let mut read = 0;
    while read < RESPONSE_BODY_LEN_MAX {
        match response.chunk().await? {
            Some(chunk) => read += chunk.len(),
            None => break,
        }
    }
    Ok(())
}

impl WebhookPost for WebhookClient {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
        timeout: Duration,
    ) -> AttemptOutcome {
        let url = match WebhookUrl::parse(url, self.policy) {
            Ok(url) => url,
            Err(refused) => return AttemptOutcome::Refused(refused.to_string()),
        };
        let mut request = self
            .http
            .post(url.as_str())
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let sent = async {
            let response = request.send().await?;
            let code = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| {
                    parse_retry_after(value, time::OffsetDateTime::now_utc().unix_timestamp())
                });
            drain_capped(response).await?;
            Ok::<_, reqwest::Error>(AttemptOutcome::Status { code, retry_after })
        };
        match sent.await {
            Ok(outcome) => outcome,
            Err(error) => match refusal(&error) {
                Some(reason) => AttemptOutcome::Refused(reason),
                None if error.is_timeout() => AttemptOutcome::Timeout,
                // Without the URL: it may carry a token in its path.
                None => AttemptOutcome::Connect(error.without_url().to_string()),
            },
        }
    }
}

impl UrlCheck for WebhookClient {
    fn check_url<'a>(
        &'a self,
        url: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<WebhookUrl, AddressRefused>> + Send + 'a>> {
        Box::pin(async move {
            let parsed = WebhookUrl::parse(url, self.policy)?;
            if let Some(domain) = parsed.domain() {
                resolve_checked(self.resolver.as_ref(), domain, self.policy).await?;
            }
            Ok(parsed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(policy: AddressPolicy) -> WebhookClient {
        let table = [
            ("metadata.test", "169.254.169.254"),
            ("private.test", "10.0.0.1"),
            ("v6.test", "fd00:ec2::254"),
        ]
        .into_iter()
        .map(|(name, ip)| (name.to_owned(), vec![ip.parse().unwrap()]))
        .collect();
        WebhookClient::new(policy, Arc::new(StaticResolver(table))).unwrap()
    }

    #[tokio::test]
    async fn names_and_literals_of_forbidden_ranges_are_refused_before_connecting() {
        let aws = client(AddressPolicy::PublicHttpsOnly);
        for url in [
            "https://metadata.test/latest/meta-data/",
            "https://private.test/",
            "https://v6.test/",
            "https://169.254.169.254/",
            "https://10.0.0.1:8443/",
            "http://127.0.0.1:9/",
            "https://127.0.0.1:9/",
        ] {
            let outcome = aws.post(url, &[], "{}", Duration::from_secs(1)).await;
            assert!(
                matches!(outcome, AttemptOutcome::Refused(_)),
                "{url}: {outcome:?}"
            );
            assert!(aws.check_url(url).await.is_err(), "{url}");
        }
        // On the runner too, except loopback.
        let runner = client(AddressPolicy::AllowLoopbackHttp);
        let outcome = runner
            .post("https://metadata.test/", &[], "{}", Duration::from_secs(1))
            .await;
        assert!(matches!(outcome, AttemptOutcome::Refused(_)), "{outcome:?}");
        assert!(runner.check_url("http://127.0.0.1:9/hook").await.is_ok());
        assert!(matches!(
            runner.check_url("https://nowhere.test/").await,
            Err(AddressRefused::Unresolved(_))
        ));
    }
}
