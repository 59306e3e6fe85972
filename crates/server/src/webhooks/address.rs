//! Which URLs the server calls: no loopback, private, link-local or otherwise internal
//! address (server-side request forgery), and https only, unless the configuration
//! allows them (`webhook_allow_private_addresses`, `webhook_allow_http`; the tests do).
//!
//! A URL is checked when an endpoint is created or changed (its host resolved once),
//! and again at every delivery, since DNS can change: there the HTTP client's resolver
//! itself drops refused addresses ([`GuardedResolver`]), so the address checked is the
//! address connected to, and a URL naming an address literally is checked before the
//! request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use url::Url;

/// Longest accepted endpoint URL.
pub const URL_LEN_MAX: usize = 2048;

/// What the configuration allows.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressPolicy {
    /// Loopback, private and link-local addresses are allowed.
    pub allow_private: bool,
    /// `http` URLs are allowed besides `https`.
    pub allow_http: bool,
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Whether the server refuses to connect to `ip`.
pub fn is_refused_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_refused_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_refused_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7 and link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn is_refused_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        // "This network" 0/8 and shared address space (carrier-grade NAT) 100.64/10.
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

/// Parses and checks an endpoint URL without resolving it.
pub fn check_url(raw: &str, policy: AddressPolicy) -> Result<Url, Refused> {
    if raw.len() > URL_LEN_MAX {
        return Err(Refused(format!("a url has at most {URL_LEN_MAX} bytes")));
    }
    let url = Url::parse(raw).map_err(|e| Refused(format!("not a url: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err(Refused("the url must use https".into())),
        other => return Err(Refused(format!("unsupported scheme {other}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused("the url must not carry credentials".into()));
    }
    match url.host() {
        None => return Err(Refused("the url has no host".into())),
        Some(url::Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), policy)?,
        Some(url::Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), policy)?,
        Some(url::Host::Domain(_)) => {}
    }
    Ok(url)
}

fn check_ip(ip: IpAddr, policy: AddressPolicy) -> Result<(), Refused> {
    if !policy.allow_private && is_refused_ip(ip) {
        return Err(Refused(format!(
            "{ip} is a loopback, private or link-local address"
        )));
    }
    Ok(())
}

/// Checks `raw`, then resolves its host and checks every address it resolves to.
pub async fn check_url_resolved(raw: &str, policy: AddressPolicy) -> Result<Url, Refused> {
    let url = check_url(raw, policy)?;
    if policy.allow_private {
        return Ok(url);
    }
    if let Some(url::Host::Domain(host)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| Refused(format!("{host} does not resolve: {e}")))?
            .collect();
        for addr in addrs {
            check_ip(addr.ip(), policy)?;
        }
    }
    Ok(url)
}

/// The delivery client's resolver: the system's, without the refused addresses; a name
/// with nothing else left fails to resolve with [`Refused`].
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_refused_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(Refused(format!(
                    "{host} resolves only to refused addresses"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `error` (or one of its causes) is a refusal of [`GuardedResolver`].
pub fn is_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<Refused>().is_some() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// `Ipv6Addr` of a literal, for the tests.
#[cfg(test)]
fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<std::net::Ipv6Addr>().unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
        ] {
            assert!(is_refused_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::"] {
            assert!(is_refused_ip(v6(ip)), "{ip}");
        }
        for ip in ["93.184.215.14", "8.8.8.8", "172.32.0.1"] {
            assert!(!is_refused_ip(ip.parse().unwrap()), "{ip}");
        }
        assert!(!is_refused_ip(v6("2606:4700::1111")));
    }

    #[test]
    fn urls() {
        let strict = AddressPolicy::default();
        assert!(check_url("https://example.com/hook", strict).is_ok());
        for bad in [
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://[::1]:8443/hook",
            "https://10.0.0.1/",
            "https://user:pw@example.com/",
            "ftp://example.com/",
            "not a url",
        ] {
            assert!(check_url(bad, strict).is_err(), "{bad}");
        }
        let open = AddressPolicy {
            allow_private: true,
            allow_http: true,
        };
        assert!(check_url("http://127.0.0.1:9/hook", open).is_ok());
    }
}
