//! Where a webhook may go: the URL rules checked at registration, and the address rules the HTTP
//! adapter applies to every resolved address before it connects (the SSRF guard). Pure rules, no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bytes a webhook URL may take.
pub const URL_LEN_MAX: usize = 2048;

/// What a deployment lets endpoints point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPolicy {
    /// AWS: `https` only, and only public addresses.
    PublicHttpsOnly,
    /// The local runner (and tests): also plain `http` to a loopback address, and nothing else
    /// that is not public.
    AllowLoopbackHttp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressRefused {
    #[error("not a URL: {0}")]
    NotAUrl(String),
    #[error("only https URLs are accepted{0}")]
    Scheme(&'static str),
    #[error("URLs with a user name or password are not accepted")]
    Credentials,
    #[error("the URL is longer than {URL_LEN_MAX} bytes")]
    TooLong,
    #[error("{address} is a {range} address")]
    Forbidden {
        address: IpAddr,
        range: &'static str,
    },
    #[error("{0} does not resolve to any address")]
    Unresolved(String),
}

/// The range `address` falls in that webhooks must never reach, if any. IPv4 addresses inside
/// IPv6 (mapped, compatible, NAT64) are judged as the IPv4 address they carry.
pub fn forbidden_range(address: IpAddr, policy: AddressPolicy) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => forbidden_v4(v4, policy),
        IpAddr::V6(v6) => forbidden_v6(v6, policy),
    }
}

fn forbidden_v4(ip: Ipv4Addr, policy: AddressPolicy) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return (policy != AddressPolicy::AllowLoopbackHttp).then_some("loopback");
    }
    // 169.254.169.254 (AWS, GCP, Azure metadata) is link-local; named first for the message.
    let range = match (a, b, c) {
        (169, 254, 169) => "metadata",
        (169, 254, _) => "link-local",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        // Carrier-grade NAT; 100.100.100.200 is Alibaba Cloud's metadata service.
        (100, 64..=127, _) => "shared (CGNAT)",
        (0, _, _) => "unspecified",
        // IETF protocol assignments; 192.0.0.192 is Oracle Cloud's metadata service.
        (192, 0, 0) => "IETF protocol",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    };
    Some(range)
}

fn forbidden_v6(ip: Ipv6Addr, policy: AddressPolicy) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4, policy);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return forbidden_v4(
            Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)),
            policy,
        );
    }
    if ip.is_loopback() {
        return (policy != AddressPolicy::AllowLoopbackHttp).then_some("loopback");
    }
    let range = match segments[0] {
        0 if ip.is_unspecified() => "unspecified",
        // Deprecated IPv4-compatible addresses (::a.b.c.d).
        0 if segments[..6] == [0; 6] => "IPv4-compatible",
        // fd00:ec2::254 (AWS's IPv6 metadata service) is unique-local.
        0xfc00..=0xfdff => "private (unique local)",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xff00..=0xffff => "multicast",
        0x2001 if segments[1] == 0xdb8 => "documentation",
        _ => return None,
    };
    Some(range)
}

/// Checks `address` against the policy.
pub fn check_address(address: IpAddr, policy: AddressPolicy) -> Result<(), AddressRefused> {
    match forbidden_range(address, policy) {
        Some(range) => Err(AddressRefused::Forbidden { address, range }),
        None => Ok(()),
    }
}

/// A webhook URL that passed the rules a URL alone can be judged by (its name, if it has one, is
/// resolved and checked when it is registered and again at every connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: url::Url,
}

impl WebhookUrl {
    pub fn parse(text: &str, policy: AddressPolicy) -> Result<Self, AddressRefused> {
        if text.len() > URL_LEN_MAX {
            return Err(AddressRefused::TooLong);
        }
        let url =
            url::Url::parse(text).map_err(|error| AddressRefused::NotAUrl(error.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(AddressRefused::Credentials);
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(AddressRefused::NotAUrl("no host".into())),
        };
        match (url.scheme(), policy) {
            ("https", _) => {}
            ("http", AddressPolicy::AllowLoopbackHttp)
                if literal.is_some_and(|ip| ip.is_loopback())
                    || url.host_str() == Some("localhost") => {}
            ("http", AddressPolicy::AllowLoopbackHttp) => {
                return Err(AddressRefused::Scheme(
                    " (plain http only to a loopback address)",
                ));
            }
            _ => return Err(AddressRefused::Scheme("")),
        }
        if let Some(ip) = literal {
            check_address(ip, policy)?;
        }
        Ok(Self { url })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The name to resolve, when the host is not an address literal.
    pub fn domain(&self) -> Option<&str> {
        self.url.domain()
    }

    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(443)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressPolicy::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn private_link_local_metadata_and_loopback_are_refused() {
        for refused in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "192.0.0.192",
            "224.0.0.1",
            "255.255.255.255",
            "127.0.0.1",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::",
            "::10.0.0.1",
        ] {
            assert!(
                forbidden_range(ip(refused), PublicHttpsOnly).is_some(),
                "{refused}"
            );
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert_eq!(
                forbidden_range(ip(public), PublicHttpsOnly),
                None,
                "{public}"
            );
        }
        assert_eq!(forbidden_range(ip("127.0.0.1"), AllowLoopbackHttp), None);
        assert_eq!(forbidden_range(ip("::1"), AllowLoopbackHttp), None);
        assert_eq!(
            forbidden_range(ip("169.254.169.254"), AllowLoopbackHttp),
            Some("metadata")
        );
        assert_eq!(
            forbidden_range(ip("10.0.0.1"), AllowLoopbackHttp),
            Some("private")
        );
    }

    #[test]
    fn urls_are_https_except_loopback_on_the_runner() {
        assert!(WebhookUrl::parse("https://hooks.example.com/x", PublicHttpsOnly).is_ok());
        assert_eq!(
            WebhookUrl::parse("http://hooks.example.com/x", PublicHttpsOnly),
            Err(AddressRefused::Scheme(""))
        );
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/x", AllowLoopbackHttp).is_ok());
        assert!(WebhookUrl::parse("http://localhost:9000/x", AllowLoopbackHttp).is_ok());
        assert!(WebhookUrl::parse("http://hooks.example.com/x", AllowLoopbackHttp).is_err());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/x", PublicHttpsOnly).is_err());
        for refused in [
            "https://127.0.0.1/x",
            "https://10.0.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:a9fe:a9fe]/",
            "https://0x7f.1/",
            "https://2130706433/",
        ] {
            assert!(
                matches!(
                    WebhookUrl::parse(refused, PublicHttpsOnly),
                    Err(AddressRefused::Forbidden { .. })
                ),
                "{refused}"
            );
        }
        assert_eq!(
            WebhookUrl::parse("https://user:pw@example.com/", PublicHttpsOnly),
            Err(AddressRefused::Credentials)
        );
        assert!(WebhookUrl::parse("ftp://example.com/", PublicHttpsOnly).is_err());
        assert!(
            WebhookUrl::parse(
                &format!("https://e.com/{}", "a".repeat(URL_LEN_MAX)),
                PublicHttpsOnly
            )
            .is_err()
        );
    }
}
