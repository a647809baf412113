//! The BGP routes a node advertises (docs/bgp.md#routes): every status IP of every announced
//! service × every advertisement of its pool, masked to the aggregation length, deduplicated.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::bgp::{DesiredRoutes, Prefix, RouteAttrs};
use crate::config::Pool;

/// An advertisement that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdvertiseError {
    #[error("service {service}: too many communities for one route ({count})")]
    TooManyCommunities { service: String, count: usize },
}

/// The union of the routes for `announced` (service key, status IPs, pool), in service-key
/// order. Where two services produce the same prefix with different attributes, the first
/// (by key, then advertisement order) wins; upstream's choice there depended on map order.
/// The speaker keeps the same union incrementally ([`RouteTable`](super::RouteTable)); this
/// full recomputation is its reference.
pub fn desired_routes<'a>(
    announced: impl IntoIterator<Item = (&'a str, &'a [IpAddr], &'a Pool)>,
) -> (DesiredRoutes, Vec<AdvertiseError>) {
    let mut routes = DesiredRoutes::new();
    let mut errors = Vec::new();
    let mut items: Vec<_> = announced.into_iter().collect();
    items.sort_by_key(|(key, _, _)| *key);
    for (key, ips, pool) in items {
        for (prefix, attrs) in service_routes(key, ips, pool, &mut errors) {
            routes.entry(prefix).or_insert(attrs);
        }
    }
    (routes, errors)
}

/// One service's routes: every status IP × every advertisement of its pool, masked to the
/// aggregation length, in advertisement order; a prefix produced twice keeps its first
/// attributes.
pub(super) fn service_routes(
    key: &str,
    ips: &[IpAddr],
    pool: &Pool,
    errors: &mut Vec<AdvertiseError>,
) -> Vec<(Prefix, RouteAttrs)> {
    let mut out: Vec<(Prefix, RouteAttrs)> = Vec::new();
    for ad in &pool.bgp_advertisements {
        let attrs = match RouteAttrs::new(ad.localpref, ad.communities.iter().copied()) {
            Ok(a) => a,
            Err(_) => {
                errors.push(AdvertiseError::TooManyCommunities {
                    service: key.to_owned(),
                    count: ad.communities.len(),
                });
                continue;
            }
        };
        for ip in ips {
            let len = match ip {
                IpAddr::V4(_) => ad.aggregation_length,
                IpAddr::V6(_) => ad.aggregation_length_v6,
            };
            // Config validation keeps lengths within 0..=32 / 0..=128 for families the pool
            // holds; anything else cannot apply to this IP.
            let Some(net) = u8::try_from(len).ok().and_then(|l| IpNet::new(*ip, l).ok()) else {
                continue;
            };
            let prefix = Prefix::new(net);
            // A handful per service (IPs × advertisements): a scan beats a set.
            if !out.iter().any(|(p, _)| *p == prefix) {
                out.push((prefix, attrs.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Mode, parse};

    #[test]
    fn docs_example_advertises_a_host_route_and_an_aggregate() {
        let cfg = parse(
            "bgp-communities:\n  no-advertise: 65535:65282\naddress-pools:\n- name: default\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n  bgp-advertisements:\n  - aggregation-length: 32\n    localpref: 100\n    communities: [no-advertise]\n  - aggregation-length: 24\n",
            Mode::NativeSpeaker,
        )
        .expect("valid");
        let pool = &cfg.pools[0];
        let a: Vec<IpAddr> = vec!["198.51.100.10".parse().expect("ip")];
        let b: Vec<IpAddr> = vec!["198.51.100.11".parse().expect("ip")];
        let (routes, errors) =
            desired_routes([("ns/a", a.as_slice(), pool), ("ns/b", b.as_slice(), pool)]);
        assert!(errors.is_empty());
        let prefixes: Vec<String> = routes.keys().map(|p| p.net().to_string()).collect();
        assert_eq!(
            prefixes,
            ["198.51.100.0/24", "198.51.100.10/32", "198.51.100.11/32"]
        );
        let host = &routes[&Prefix::new("198.51.100.10/32".parse().expect("net"))];
        assert_eq!(host.local_pref(), 100);
        assert_eq!(
            host.communities()
                .map(|c| c.to_string())
                .collect::<Vec<_>>(),
            ["65535:65282"]
        );
        let agg = &routes[&Prefix::new("198.51.100.0/24".parse().expect("net"))];
        assert_eq!((agg.local_pref(), agg.communities().len()), (0, 0));
    }

    #[test]
    fn ipv6_uses_the_v6_length_and_conflicts_resolve_by_service_key() {
        let cfg = parse(
            "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [2001:db8::/64]\n  bgp-advertisements:\n  - {aggregation-length-v6: 64, localpref: 10}\n- name: b\n  protocol: bgp\n  addresses: [2001:db9::/64]\n  bgp-advertisements:\n  - {localpref: 20}\n",
            Mode::NativeSpeaker,
        )
        .expect("valid");
        let ip: Vec<IpAddr> = vec!["2001:db8::5".parse().expect("ip")];
        let (routes, _) = desired_routes([
            ("ns/z", ip.as_slice(), &cfg.pools[0]),
            ("ns/a", ip.as_slice(), &cfg.pools[0]),
        ]);
        assert_eq!(
            routes
                .keys()
                .map(|p| p.net().to_string())
                .collect::<Vec<_>>(),
            ["2001:db8::/64"]
        );
        assert_eq!(routes.values().next().map(RouteAttrs::local_pref), Some(10));
    }
}
