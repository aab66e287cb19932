//! Where a user's request came from, for the audit trail: the peer's
//! address, or — when the peer is one of the operator's trusted proxies (a
//! load balancer, an ingress) — the first address in `X-Forwarded-For`,
//! read from the right, that is not a trusted proxy. Proxies append the
//! address they saw, so everything left of the first untrusted hop may have
//! been written by the client and is never believed.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The operator's trusted proxies (`--trusted-proxies 10.0.0.0/8,…`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses or CIDR blocks.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted proxy {s:?} is not an address or CIDR block"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer` unless it is trusted, then the first
    /// untrusted hop of `forwarded_for` (the values of every
    /// `X-Forwarded-For` header, in order), read from the right. Empty when
    /// there is no peer (a call within the process).
    pub fn client_address<'a>(
        &self,
        peer: Option<SocketAddr>,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> String {
        let Some(peer) = peer else {
            return String::new();
        };
        let peer = canonical(peer.ip());
        if !self.trusts(peer) {
            return peer.to_string();
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An unreadable hop ends what can be believed.
            let Ok(ip) = hop.trim().parse::<IpAddr>().map(canonical) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client.to_string()
    }
}

/// IPv4 addresses reached over an IPv6 socket (`::ffff:10.0.0.1`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 4711))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        let from = |proxies: &TrustedProxies, xff| proxies.client_address(peer("203.0.113.7"), xff);
        assert_eq!(from(&none, ["10.1.1.1"].into_iter()), "203.0.113.7");
        let lb = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(from(&lb, ["1.2.3.4"].into_iter()), "203.0.113.7");
        assert_eq!(lb.client_address(None, std::iter::empty()), "");
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.5").unwrap();
        for (from, xff, client) in [
            // client → 10.0.0.2 → 10.0.0.1 (peer); the spoofed left part is ignored.
            (
                "10.0.0.1",
                &["6.6.6.6, 198.51.100.9", "10.0.0.2"][..],
                "198.51.100.9",
            ),
            // Only proxies: the leftmost one is the best we know.
            ("192.168.1.5", &["10.9.9.9"], "10.9.9.9"),
            // A hop that is no address stops the walk at the last one believed.
            ("10.0.0.1", &["7.7.7.7, garbage, 10.0.0.3"], "10.0.0.3"),
            // No header at all: the proxy itself.
            ("10.0.0.1", &[], "10.0.0.1"),
            // An IPv4 peer seen on an IPv6 socket.
            ("::ffff:10.0.0.1", &["2001:db8::1"], "2001:db8::1"),
        ] {
            let found = proxies.client_address(peer(from), xff.iter().copied());
            assert_eq!(found, client, "{from} {xff:?}");
        }
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
    }
}
