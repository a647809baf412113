use std::collections::BTreeMap;
use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::config::{Config, Mode, parse};
use crate::speaker::desired_routes;

/// Pools whose advertisements overlap: host routes and aggregates with different
/// attributes, so services compete for prefixes and the first key must win.
fn config() -> Config {
    parse(
        "bgp-communities:\n  no-advertise: 65535:65282\naddress-pools:\n\
         - name: hosts\n  protocol: bgp\n  addresses: [198.51.100.0/26]\n  bgp-advertisements:\n  - {aggregation-length: 32, localpref: 100, communities: [no-advertise]}\n  - {aggregation-length: 28, localpref: 50}\n\
         - name: agg\n  protocol: bgp\n  addresses: [198.51.100.64/26]\n  bgp-advertisements:\n  - {aggregation-length: 30, localpref: 10}\n  - {aggregation-length: 32}\n\
         - name: v6\n  protocol: bgp\n  addresses: [2001:db8::/120]\n  bgp-advertisements:\n  - {aggregation-length-v6: 124, localpref: 7}\n",
        Mode::NativeSpeaker,
    )
    .expect("valid")
}

fn ip(i: u8) -> IpAddr {
    match i % 3 {
        0 => IpAddr::from([198, 51, 100, i % 64]),
        1 => IpAddr::from([198, 51, 100, 64 + i % 64]),
        _ => format!("2001:db8::{:x}", i).parse().expect("ip"),
    }
}

/// The reference: the full recomputation over what is announced now.
fn full(cfg: &Config, model: &BTreeMap<String, Vec<IpAddr>>) -> DesiredRoutes {
    let items: Vec<(&str, &[IpAddr], &Pool)> = model
        .iter()
        .filter_map(|(k, ips)| {
            cfg.pool_containing_all(ips)
                .map(|p| (k.as_str(), ips.as_slice(), p))
        })
        .collect();
    desired_routes(items).0
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, Vec<u8>),
    Remove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..12, prop::collection::vec(0u8..40, 1..3)).prop_map(|(k, ips)| Op::Set(k, ips)),
        1 => (0u8..12).prop_map(Op::Remove),
    ]
}

proptest! {
    #[test]
    fn incremental_equals_full_recomputation(ops in prop::collection::vec(op(), 1..60)) {
        let cfg = config();
        let mut table = RouteTable::new();
        let mut model: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
        for op in ops {
            let before = table.routes().clone();
            let changed = match op {
                Op::Set(k, ips) => {
                    let key = format!("ns/svc-{k:02}");
                    let ips: Vec<IpAddr> = ips.into_iter().map(ip).collect();
                    // A service's IPs come from one pool (else it is not announced).
                    let Some(pool) = cfg.pool_containing_all(&ips) else { continue };
                    let (changed, errors) = table.set(&key, &ips, pool);
                    prop_assert!(errors.is_empty());
                    model.insert(key, ips);
                    changed
                }
                Op::Remove(k) => {
                    let key = format!("ns/svc-{k:02}");
                    model.remove(&key);
                    table.remove(&key)
                }
            };
            prop_assert_eq!(table.routes(), &full(&cfg, &model));
            prop_assert_eq!(changed, &before != table.routes());
        }
        prop_assert_eq!(table.len(), model.len());
        for key in model.keys() {
            table.remove(key);
        }
        prop_assert!(table.routes().is_empty());
        prop_assert!(table.claims.is_empty());
    }
}

#[test]
fn the_smallest_key_keeps_a_shared_prefix_until_it_leaves() {
    let cfg = config();
    let pool = &cfg.pools[1];
    let a = [ip(1)];
    let b = [ip(64)];
    let agg: Prefix = Prefix::new("198.51.100.64/30".parse().expect("net"));
    let mut t = RouteTable::new();
    assert!(t.set("ns/b", &b, pool).0);
    assert!(t.set("ns/a", &a, pool).0);
    assert_eq!(t.routes()[&agg].local_pref(), 10);
    // Same routes again: nothing changes.
    assert!(!t.set("ns/a", &a, pool).0);
    assert!(t.remove("ns/a"));
    assert!(
        t.routes().contains_key(&agg),
        "ns/b still wants the aggregate"
    );
    assert!(t.clear());
    assert!(t.routes().is_empty() && t.is_empty());
}
