use std::collections::BTreeMap;
use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::bgp::AdjRibOut;
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
    /// Hand the changes off (what the 5 ms batch does).
    Take,
    /// A new config: every service is set again.
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..12, prop::collection::vec(0u8..40, 1..3)).prop_map(|(k, ips)| Op::Set(k, ips)),
        2 => (0u8..12).prop_map(Op::Remove),
        2 => Just(Op::Take),
        1 => Just(Op::Reload),
    ]
}

/// What a session holds after being handed `changes`.
fn handed_off(session: &mut AdjRibOut, changes: &[RouteChange]) {
    session.apply(changes);
}

proptest! {
    #[test]
    fn incremental_equals_full_recomputation(ops in prop::collection::vec(op(), 1..60)) {
        let cfg = config();
        let mut table = RouteTable::new();
        let mut model: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
        let mut session = AdjRibOut::default();
        for op in ops {
            let before = table.snapshot();
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
                Op::Take => {
                    let changes = table.take_changes();
                    prop_assert!(changes.windows(2).all(|w| w[0].prefix < w[1].prefix));
                    handed_off(&mut session, &changes);
                    prop_assert_eq!(session.routes(), &table.snapshot());
                    prop_assert!(!table.has_changes());
                    false
                }
                Op::Reload => {
                    table.clear();
                    for (key, ips) in &model {
                        let pool = cfg.pool_containing_all(ips).expect("set before");
                        table.set(key, ips, pool);
                    }
                    before != table.snapshot()
                }
            };
            prop_assert_eq!(&table.snapshot(), &full(&cfg, &model));
            prop_assert_eq!(changed, before != table.snapshot());
        }
        // Whatever was taken when, the changes bring a session to the same routes.
        handed_off(&mut session, &table.take_changes());
        prop_assert_eq!(session.routes(), &full(&cfg, &model));
        prop_assert_eq!(table.len(), model.len());
        for key in model.keys() {
            table.remove(key);
        }
        prop_assert!(table.snapshot().is_empty());
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
    assert_eq!(t.route(&agg).map(RouteAttrs::local_pref), Some(10));
    // Same routes again: nothing changes.
    assert!(!t.set("ns/a", &a, pool).0);
    assert!(t.remove("ns/a"));
    assert!(t.route(&agg).is_some(), "ns/b still wants the aggregate");
    assert!(t.clear());
    assert!(t.snapshot().is_empty() && t.is_empty());
}

#[test]
fn changes_are_net_and_a_reload_that_changes_nothing_hands_nothing_off() {
    let cfg = config();
    let pool = &cfg.pools[0];
    let mut t = RouteTable::new();
    t.set("ns/a", &[ip(0)], pool);
    let first = t.take_changes();
    // The host route and its /28 aggregate.
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|c| c.route.is_some()));
    // Gone and back before the hand-off: nothing to hand off.
    t.remove("ns/a");
    t.set("ns/a", &[ip(0)], pool);
    assert!(t.take_changes().is_empty());
    t.clear();
    t.set("ns/a", &[ip(0)], pool);
    assert!(t.take_changes().is_empty(), "same routes after the reload");
    t.clear();
    let gone = t.take_changes();
    assert_eq!(gone.len(), 2);
    assert!(gone.iter().all(|c| c.route.is_none()));
}
