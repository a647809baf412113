//! `set_pools` (docs/allocation.md#config-changes) and the pool statistics behind the
//! allocator gauges.

use super::*;
use crate::allocator::{Allocator, Family, PoolStats, gauge_value};

fn stats(a: &Allocator) -> Vec<(String, u128, u128)> {
    a.pool_stats()
        .into_iter()
        .map(
            |PoolStats {
                 name,
                 capacity,
                 in_use,
             }| (name, capacity, in_use),
        )
        .collect()
}

fn with_one_service() -> Allocator {
    let mut a = Allocator::with_pools(&[pool("a", &["10.0.0.0/24"]), pool("b", &["10.0.1.0/24"])]);
    a.assign("ns/s1", &ips(&["10.0.0.5"]), &tcp(&[80])).unwrap();
    a
}

#[test]
fn shrinking_under_an_allocation_is_refused_and_changes_nothing() {
    let mut a = with_one_service();
    let before = stats(&a);
    let err = a
        .set_pools(&[pool("a", &["10.0.0.0/30"]), pool("b", &["10.0.1.0/24"])])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"new config not compatible with assigned IPs: service "ns/s1" cannot own ["10.0.0.5"] under new config"#
    );
    assert_eq!(stats(&a), before);
    assert_eq!(a.pool_of("ns/s1"), Some("a"));
    // The old index is still in force: .5 is not handed out again.
    for i in 0..5 {
        a.allocate_from_pool(&format!("x{i}"), Family::V4, "a", &tcp(&[]))
            .unwrap();
    }
    let next = a
        .allocate_from_pool("x5", Family::V4, "a", &tcp(&[]))
        .unwrap();
    assert_eq!(next.as_slice(), ips(&["10.0.0.6"]));
}

#[test]
fn deleting_a_used_pool_is_refused_an_unused_one_reported() {
    let mut a = with_one_service();
    assert!(a.set_pools(&[pool("b", &["10.0.1.0/24"])]).is_err());
    let removed = a.set_pools(&[pool("a", &["10.0.0.0/24"])]).unwrap();
    assert_eq!(removed, ["b"]);
    assert_eq!(stats(&a), [("a".to_owned(), 256, 1)]);
}

#[test]
fn enabling_avoid_buggy_ips_under_a_dot_zero_is_refused() {
    let mut a = Allocator::with_pools(&[pool("a", &["10.0.0.0/24"])]);
    a.assign("s", &ips(&["10.0.0.0"]), &tcp(&[])).unwrap();
    assert!(
        a.set_pools(&[avoid_buggy(pool("a", &["10.0.0.0/24"]))])
            .is_err()
    );
    a.unassign("s");
    a.set_pools(&[avoid_buggy(pool("a", &["10.0.0.0/24"]))])
        .unwrap();
    assert_eq!(stats(&a), [("a".to_owned(), 254, 0)]);
}

#[test]
fn of_several_orphans_the_smallest_key_is_named() {
    let mut a = with_one_service();
    a.assign("ns/b", &ips(&["10.0.0.9"]), &tcp(&[])).unwrap();
    a.assign("ns/z", &ips(&["10.0.0.7"]), &tcp(&[])).unwrap();
    let err = a.set_pools(&[pool("b", &["10.0.1.0/24"])]).unwrap_err();
    assert_eq!(err.service, "ns/b");
}

#[test]
fn rename_moves_accounting_to_the_new_name() {
    let mut a = with_one_service();
    let removed = a
        .set_pools(&[
            pool("renamed", &["10.0.0.0/24"]),
            pool("b", &["10.0.1.0/24"]),
        ])
        .unwrap();
    assert_eq!(removed, ["a"]);
    assert_eq!(a.pool_of("ns/s1"), Some("renamed"));
    assert_eq!(
        stats(&a),
        [("renamed".to_owned(), 256, 1), ("b".to_owned(), 256, 0)]
    );
}

#[test]
fn split_and_swap_move_each_allocation_to_its_pool() {
    let mut a = with_one_service();
    a.assign("ns/s2", &ips(&["10.0.0.200"]), &tcp(&[])).unwrap();
    a.assign("ns/s3", &ips(&["10.0.1.1"]), &tcp(&[])).unwrap();
    a.set_pools(&[
        pool("a", &["10.0.0.0/25"]),
        pool("a-high", &["10.0.0.128/25"]),
        pool("b", &["10.0.1.0/24"]),
    ])
    .unwrap();
    assert_eq!(a.pool_of("ns/s1"), Some("a"));
    assert_eq!(a.pool_of("ns/s2"), Some("a-high"));
    assert_eq!(stats(&a)[1], ("a-high".to_owned(), 128, 1));
    // Swap the names of two pools.
    a.set_pools(&[pool("b", &["10.0.0.0/24"]), pool("a", &["10.0.1.0/24"])])
        .unwrap();
    assert_eq!(a.pool_of("ns/s1"), Some("b"));
    assert_eq!(a.pool_of("ns/s3"), Some("a"));
    assert_eq!(
        stats(&a),
        [("b".to_owned(), 256, 2), ("a".to_owned(), 256, 1)]
    );
    // The rebuilt index still knows which addresses are taken.
    let next = a
        .allocate_from_pool("n", Family::V4, "a", &tcp(&[]))
        .unwrap();
    assert_eq!(next.as_slice(), ips(&["10.0.1.0"]));
    let next = a
        .allocate_from_pool("m", Family::V4, "a", &tcp(&[]))
        .unwrap();
    assert_eq!(next.as_slice(), ips(&["10.0.1.2"]));
}

#[test]
fn sharing_survives_a_config_change() {
    let mut a = Allocator::with_pools(&[pool("a", &["10.0.0.0/24"])]);
    a.assign("w", &ips(&["10.0.0.0"]), &tcp(&[80])).unwrap();
    a.assign("x", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 80)]))
        .unwrap();
    a.set_pools(&[pool("renamed", &["10.0.0.0/24"])]).unwrap();
    assert!(a.assign("y", &ips(&["10.0.0.1"]), &tcp(&[81])).is_err());
    let got = a
        .allocate_from_pool("z", Family::V4, "renamed", &shared("k", "", &[("TCP", 81)]))
        .unwrap();
    assert_eq!(
        got.as_slice(),
        ips(&["10.0.0.1"]),
        "shared .1 is lower than free .2"
    );
    assert_eq!(stats(&a), [("renamed".to_owned(), 256, 2)]);
}

#[test]
fn capacity_and_use_are_exact() {
    let mut a = Allocator::with_pools(&[
        avoid_buggy(pool("v4", &["10.0.0.0/16", "10.1.0.0/25"])),
        pool("v6", &["fd00::/64", "10.2.0.0/24"]),
    ]);
    a.assign("d", &ips(&["fd00::1", "10.2.0.0"]), &tcp(&[]))
        .unwrap();
    assert_eq!(
        stats(&a),
        [
            ("v4".to_owned(), 65_536 - 512 + 127, 0),
            ("v6".to_owned(), (1u128 << 64) + 256, 2),
        ]
    );
    assert_eq!(gauge_value(65_536 - 512 + 127), 65_151.0);
    assert_eq!(gauge_value(1 << 64), 18_446_744_073_709_551_616.0);
}
