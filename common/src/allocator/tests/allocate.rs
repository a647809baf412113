//! `allocate_from_pool` and `allocate` (docs/allocation.md#picking-an-address and
//! docs/allocation.md#dual-stack).

use super::*;
use crate::allocator::{Allocator, Family};

fn one(a: &mut Allocator, svc: &str, pool: &str, usage: &Usage) -> IpAddr {
    let got = a.allocate_from_pool(svc, Family::V4, pool, usage).unwrap();
    assert_eq!(got.as_slice().len(), 1);
    got.as_slice()[0]
}

#[test]
fn lowest_address_first_network_and_broadcast_included() {
    let mut a = Allocator::with_pools(&[pool("p", &["10.0.0.0/30"])]);
    let got: Vec<IpAddr> = (0..4)
        .map(|i| one(&mut a, &format!("s{i}"), "p", &tcp(&[80])))
        .collect();
    assert_eq!(got, ips(&["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"]));
    assert_eq!(
        a.allocate_from_pool("s4", Family::V4, "p", &tcp(&[80]))
            .unwrap_err()
            .to_string(),
        r#"no available IPs in pool "p" for ipv4 IPFamily: all 4 ipv4 addresses are in use"#
    );
    a.unassign("s1");
    assert_eq!(
        one(&mut a, "s5", "p", &tcp(&[80])),
        ip("10.0.0.1"),
        "freed address reused"
    );
}

#[test]
fn avoid_buggy_ips_skips_dot_zero_and_dot_255() {
    let mut a = Allocator::with_pools(&[avoid_buggy(pool("p", &["10.0.0.254/31", "10.0.1.0/31"]))]);
    assert_eq!(one(&mut a, "a", "p", &tcp(&[])), ip("10.0.0.254"));
    assert_eq!(one(&mut a, "b", "p", &tcp(&[])), ip("10.0.1.1"));
    assert!(
        a.allocate_from_pool("c", Family::V4, "p", &tcp(&[]))
            .is_err()
    );
    assert_eq!(a.pool_stats()[0].capacity, 2);
}

#[test]
fn cidrs_are_tried_in_config_order_ranges_in_summarised_order() {
    let mut a = Allocator::with_pools(&[pool("p", &["10.0.1.0/31", "10.0.0.0/31"])]);
    assert_eq!(one(&mut a, "a", "p", &tcp(&[])), ip("10.0.1.0"));
    assert_eq!(one(&mut a, "b", "p", &tcp(&[])), ip("10.0.1.1"));
    assert_eq!(one(&mut a, "c", "p", &tcp(&[])), ip("10.0.0.0"));
    let pools = parsed_pools(
        "address-pools:\n- name: r\n  protocol: layer2\n  addresses: ['40.0.0.150-40.0.0.200']\n",
    );
    let mut r = Allocator::with_pools(&pools);
    assert_eq!(one(&mut r, "a", "r", &tcp(&[])), ip("40.0.0.150"));
}

#[test]
fn families_and_dual_stack_come_from_one_pool_in_cidr_order() {
    let mut a = Allocator::with_pools(&[
        pool("v4only", &["10.0.0.0/30"]),
        pool("dual", &["fd00::/126", "10.0.1.0/30"]),
    ]);
    let err = |a: &mut Allocator, fam, p| {
        a.allocate_from_pool("x", fam, p, &tcp(&[]))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&mut a, Family::V6, "v4only"),
        r#"no available IPs in pool "v4only" for ipv6 IPFamily: the pool has no ipv6 addresses"#
    );
    assert_eq!(
        err(&mut a, Family::Dual, "v4only"),
        r#"no available IPs in pool "v4only" for dual IPFamily: the pool has no ipv6 addresses"#
    );
    assert!(
        !a.is_in_use(ip("10.0.0.0")),
        "a half-found dual allocation holds nothing"
    );
    let dual = a
        .allocate_from_pool("d", Family::Dual, "dual", &tcp(&[80]))
        .unwrap();
    assert_eq!(
        dual.as_slice(),
        ips(&["fd00::", "10.0.1.0"]),
        "v6 first: its CIDR is listed first"
    );
    let v6 = a
        .allocate_from_pool("e", Family::V6, "dual", &tcp(&[80]))
        .unwrap();
    assert_eq!(v6.as_slice(), ips(&["fd00::1"]));
}

#[test]
fn auto_assign_pools_in_config_order() {
    let mut a = Allocator::with_pools(&[
        manual(pool("manual", &["10.0.0.0/31"])),
        pool("first", &["10.0.1.0/31"]),
        pool("second", &["10.0.2.0/32"]),
    ]);
    let mut got = Vec::new();
    for i in 0..3 {
        got.extend(
            a.allocate(&format!("s{i}"), Family::V4, &tcp(&[]))
                .unwrap()
                .to_vec(),
        );
    }
    assert_eq!(got, ips(&["10.0.1.0", "10.0.1.1", "10.0.2.0"]));
    assert_eq!(
        a.allocate("s3", Family::V4, &tcp(&[]))
            .unwrap_err()
            .to_string(),
        "no available IPs: pool \"first\": all 2 ipv4 addresses are in use; pool \"second\": all 1 ipv4 addresses are in use"
    );
    // An auto-assign: false pool is used when asked for by name.
    assert_eq!(one(&mut a, "s3", "manual", &tcp(&[])), ip("10.0.0.0"));
    assert_eq!(
        Allocator::new()
            .allocate("s", Family::V4, &tcp(&[]))
            .unwrap_err()
            .to_string(),
        "no available IPs: no address pool has auto-assign enabled"
    );
}

#[test]
fn unknown_pool() {
    let mut a = Allocator::with_pools(&[pool("p", &["10.0.0.0/30"])]);
    assert_eq!(
        a.allocate_from_pool("s", Family::V4, "nope", &tcp(&[]))
            .unwrap_err()
            .to_string(),
        r#"unknown pool "nope""#
    );
}

#[test]
fn a_service_that_holds_addresses_keeps_them() {
    let mut a = Allocator::with_pools(&[pool("p", &["10.0.0.0/30"]), pool("q", &["10.0.1.0/30"])]);
    a.assign("s", &ips(&["10.0.0.2"]), &tcp(&[])).unwrap();
    assert_eq!(
        one(&mut a, "s", "q", &tcp(&[])),
        ip("10.0.0.2"),
        "even from another pool"
    );
    assert_eq!(
        a.allocate("s", Family::V4, &tcp(&[])).unwrap().as_slice(),
        ips(&["10.0.0.2"])
    );
    assert_eq!(
        a.allocate_from_pool("s", Family::V6, "p", &tcp(&[]))
            .unwrap_err()
            .to_string(),
        "IP for wrong family assigned alloc ipv4 service family ipv6"
    );
}

#[test]
fn a_sharing_service_lands_on_the_lowest_compatible_address() {
    let mut a = Allocator::with_pools(&[pool("p", &["10.0.0.0/29"])]);
    let web = |port| shared("web", "", &[("TCP", port)]);
    assert_eq!(one(&mut a, "http", "p", &web(80)), ip("10.0.0.0"));
    assert_eq!(one(&mut a, "plain", "p", &tcp(&[80])), ip("10.0.0.1"));
    // Free addresses exist above, but the shared one is lower.
    assert_eq!(one(&mut a, "https", "p", &web(443)), ip("10.0.0.0"));
    // Port 80 is taken on .0 and .1 is not shareable: next free.
    assert_eq!(one(&mut a, "http2", "p", &web(80)), ip("10.0.0.2"));
    // Port 80 taken on .0 and .2, 8080 free on both: .0 wins.
    assert_eq!(one(&mut a, "alt", "p", &web(8080)), ip("10.0.0.0"));
    assert_eq!(one(&mut a, "http3", "p", &web(80)), ip("10.0.0.3"));
    // A freed address below the shared ones is taken first.
    a.unassign("plain");
    assert_eq!(one(&mut a, "http4", "p", &web(80)), ip("10.0.0.1"));
    // Another backend key is another group.
    assert_eq!(
        one(&mut a, "local", "p", &shared("web", "app=x", &[("TCP", 9)])),
        ip("10.0.0.4")
    );
}

#[test]
fn same_key_same_port_services_spread_and_exhaust() {
    let mut a = Allocator::with_pools(&[pool("p", &["fd00::/124"])]);
    let usage = shared("k", "", &[("TCP", 443)]);
    for i in 0..16u32 {
        let got = a
            .allocate_from_pool(&format!("s{i}"), Family::V6, "p", &usage)
            .unwrap();
        assert_eq!(
            got.as_slice(),
            [IpAddr::V6(std::net::Ipv6Addr::from(
                0xfd00u128 << 112 | u128::from(i)
            ))]
        );
    }
    assert_eq!(
        a.allocate_from_pool("s16", Family::V6, "p", &usage)
            .unwrap_err()
            .to_string(),
        r#"no available IPs in pool "p" for ipv6 IPFamily: all 16 ipv6 addresses are in use, none shareable with this service (key, backend or port)"#
    );
    // Another port fits on the lowest of them.
    let other = a
        .allocate_from_pool("x", Family::V6, "p", &shared("k", "", &[("TCP", 80)]))
        .unwrap();
    assert_eq!(other.as_slice(), ips(&["fd00::"]));
}

#[test]
fn a_full_pool_fails_and_allocate_moves_on_to_the_next() {
    let mut a = Allocator::with_pools(&[pool("p", &["fd00::/120"]), pool("big", &["fd01::/64"])]);
    let usage = shared("k", "", &[("TCP", 443)]);
    for i in 0..256 {
        a.allocate_from_pool(&format!("s{i}"), Family::V6, "p", &usage)
            .unwrap();
    }
    assert!(a.allocate_from_pool("t", Family::V6, "p", &usage).is_err());
    let got = a.allocate("t", Family::V6, &usage).unwrap();
    assert_eq!(got.as_slice(), ips(&["fd01::"]));
}
