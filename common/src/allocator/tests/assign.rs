//! `assign`: exact addresses, dual-stack checks and the sharing rules
//! (docs/allocation.md#sharing-an-address, docs/allocation.md#dual-stack).

use super::*;
use crate::allocator::Allocator;

fn alloc() -> Allocator {
    Allocator::with_pools(&[
        pool("v4", &["10.0.0.0/24"]),
        avoid_buggy(pool("buggy", &["10.0.1.0/24"])),
        pool("dual", &["10.0.2.0/24", "fd00::/120"]),
        pool("v6", &["fd01::/120"]),
    ])
}

fn err(a: &mut Allocator, svc: &str, addrs: &[&str], usage: &Usage) -> String {
    a.assign(svc, &ips(addrs), usage).unwrap_err().to_string()
}

#[test]
fn exact_address_is_recorded_with_its_pool() {
    let mut a = alloc();
    let got = a.assign("ns/s1", &ips(&["10.0.0.5"]), &tcp(&[80])).unwrap();
    assert_eq!(got.as_slice(), ips(&["10.0.0.5"]));
    assert_eq!(a.pool_of("ns/s1"), Some("v4"));
    assert_eq!(a.ips_of("ns/s1"), Some(ips(&["10.0.0.5"]).as_slice()));
    assert_eq!(a.holders(ip("10.0.0.5")), ["ns/s1"]);
    // Idempotent, and moving replaces the old address.
    a.assign("ns/s1", &ips(&["10.0.0.5"]), &tcp(&[80])).unwrap();
    a.assign("ns/s1", &ips(&["10.0.0.6"]), &tcp(&[80])).unwrap();
    assert!(!a.is_in_use(ip("10.0.0.5")));
    assert_eq!(a.ips_in_use(), 1);
    assert!(a.unassign("ns/s1"));
    assert!(!a.unassign("ns/s1"));
    assert_eq!(a.pool_of("ns/s1"), None);
}

#[test]
fn addresses_outside_every_pool_are_refused() {
    let mut a = alloc();
    assert_eq!(
        err(&mut a, "s", &["192.0.2.1"], &tcp(&[80])),
        r#"["192.0.2.1"] is not allowed in config: no address pool contains it"#
    );
    // Pool membership is checked before the count, as upstream.
    assert_eq!(
        err(
            &mut a,
            "s",
            &["10.0.0.1", "10.0.0.2", "192.0.2.1"],
            &tcp(&[])
        ),
        r#"["10.0.0.1" "10.0.0.2" "192.0.2.1"] is not allowed in config: no address pool contains "192.0.2.1""#
    );
    // A v4 and a v6 address from different pools belong to no single pool.
    assert_eq!(
        err(&mut a, "s", &["10.0.0.1", "fd01::1"], &tcp(&[])),
        r#"["10.0.0.1" "fd01::1"] is not allowed in config: no single address pool contains them all"#
    );
    assert_eq!(a.service_count(), 0);
}

#[test]
fn dual_stack_needs_two_families_from_one_pool() {
    let mut a = alloc();
    let got = a
        .assign("s", &ips(&["fd00::7", "10.0.2.7"]), &tcp(&[80]))
        .unwrap();
    assert_eq!(
        got.as_slice(),
        ips(&["fd00::7", "10.0.2.7"]),
        "request order is kept"
    );
    assert_eq!(a.pool_of("s"), Some("dual"));
    assert_eq!(
        err(&mut a, "t", &["10.0.2.1", "10.0.2.2"], &tcp(&[])),
        r#""10.0.2.1" "10.0.2.2" has the same family"#
    );
    assert_eq!(
        err(&mut a, "t", &["10.0.2.1", "fd00::1", "10.0.2.2"], &tcp(&[])),
        r#"More than two addresses ["10.0.2.1" "fd00::1" "10.0.2.2"]"#
    );
}

#[test]
fn avoid_buggy_pools_refuse_dot_zero_and_dot_255_others_allow_them() {
    let mut a = alloc();
    assert_eq!(
        err(&mut a, "s", &["10.0.1.0"], &tcp(&[])),
        r#"["10.0.1.0"] is not allowed in config: pool "buggy" has avoid-buggy-ips, which excludes "10.0.1.0""#
    );
    assert_eq!(
        err(&mut a, "s", &["10.0.1.255"], &tcp(&[])),
        r#"["10.0.1.255"] is not allowed in config: pool "buggy" has avoid-buggy-ips, which excludes "10.0.1.255""#
    );
    a.assign("s", &ips(&["10.0.1.1"]), &tcp(&[])).unwrap();
    a.assign("t", &ips(&["10.0.0.0"]), &tcp(&[])).unwrap();
    a.assign("u", &ips(&["10.0.0.255"]), &tcp(&[])).unwrap();
}

#[test]
fn ipv4_mapped_ipv6_is_the_ipv4_address() {
    let mut a = alloc();
    let got = a
        .assign("s", &ips(&["::ffff:10.0.0.9"]), &tcp(&[]))
        .unwrap();
    assert_eq!(got.as_slice(), ips(&["10.0.0.9"]));
    assert!(a.is_in_use(ip("10.0.0.9")));
}

#[test]
fn services_without_a_sharing_key_never_share() {
    let mut a = alloc();
    a.assign("ns/s1", &ips(&["10.0.0.1"]), &tcp(&[80])).unwrap();
    assert_eq!(
        err(&mut a, "ns/s2", &["10.0.0.1"], &tcp(&[443])),
        r#"can't change sharing key for "ns/s2", address also in use by ns/s1: existing service does not allow sharing"#
    );
    // Even when the newcomer has a key.
    assert_eq!(
        err(
            &mut a,
            "ns/s2",
            &["10.0.0.1"],
            &shared("k", "", &[("TCP", 443)])
        ),
        r#"can't change sharing key for "ns/s2", address also in use by ns/s1: existing service does not allow sharing"#
    );
}

#[test]
fn same_key_and_backend_with_disjoint_ports_share() {
    let mut a = alloc();
    let dns_tcp = shared("dns", "", &[("TCP", 53)]);
    let dns_udp = shared("dns", "", &[("UDP", 53)]);
    a.assign("ns/tcp", &ips(&["10.0.0.1"]), &dns_tcp).unwrap();
    a.assign("ns/udp", &ips(&["10.0.0.1"]), &dns_udp).unwrap();
    assert_eq!(a.holders(ip("10.0.0.1")), ["ns/tcp", "ns/udp"]);
    let v4 = a.pool_stats().into_iter().find(|s| s.name == "v4").unwrap();
    assert_eq!(v4.in_use, 1, "a shared address counts once");
    assert_eq!(
        err(
            &mut a,
            "ns/again",
            &["10.0.0.1"],
            &shared("dns", "", &[("UDP", 53)])
        ),
        r#"port UDP/53 is already in use on "10.0.0.1" by "ns/udp""#
    );
}

#[test]
fn the_first_conflicting_port_in_spec_order_is_reported() {
    let mut a = alloc();
    a.assign(
        "a",
        &ips(&["10.0.0.1"]),
        &shared("k", "", &[("TCP", 80), ("TCP", 443)]),
    )
    .unwrap();
    assert_eq!(
        err(
            &mut a,
            "b",
            &["10.0.0.1"],
            &shared("k", "", &[("TCP", 8080), ("TCP", 443), ("TCP", 80)])
        ),
        r#"port TCP/443 is already in use on "10.0.0.1" by "a""#
    );
}

#[test]
fn different_keys_or_backends_do_not_share() {
    let mut a = alloc();
    a.assign(
        "a",
        &ips(&["10.0.0.1"]),
        &shared("k", "app=web", &[("TCP", 80)]),
    )
    .unwrap();
    let refused = r#"can't change sharing key for "b", address also in use by a: "#;
    for (other, rule) in [
        (
            shared("k", "app=db", &[("TCP", 81)]),
            r#"backend key "app=db" does not match existing backend key "app=web" (services sharing an IP must all use externalTrafficPolicy Cluster, or all Local with the same selector)"#,
        ),
        (
            shared("j", "app=web", &[("TCP", 81)]),
            r#"sharing key "j" does not match existing sharing key "k""#,
        ),
        (tcp(&[81]), "new service does not allow sharing"),
    ] {
        assert_eq!(
            err(&mut a, "b", &["10.0.0.1"], &other),
            format!("{refused}{rule}")
        );
    }
    a.assign(
        "c",
        &ips(&["10.0.0.1"]),
        &shared("k", "app=web", &[("TCP", 81)]),
    )
    .unwrap();
    assert_eq!(
        err(&mut a, "b", &["10.0.0.1"], &tcp(&[82])),
        r#"can't change sharing key for "b", address also in use by a,c: new service does not allow sharing"#
    );
}

#[test]
fn a_sole_holder_changes_its_key_in_place() {
    let mut a = alloc();
    a.assign("a", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 80)]))
        .unwrap();
    a.assign("a", &ips(&["10.0.0.1"]), &tcp(&[80])).unwrap();
    // Now it no longer shares.
    assert!(
        a.assign("b", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 81)]))
            .is_err()
    );
    // But with two holders the key is locked.
    a.assign("a", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 80)]))
        .unwrap();
    a.assign("b", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 81)]))
        .unwrap();
    assert_eq!(
        err(
            &mut a,
            "a",
            &["10.0.0.1"],
            &shared("other", "", &[("TCP", 80)])
        ),
        r#"can't change sharing key for "a", address also in use by b: sharing key "other" does not match existing sharing key "k""#
    );
}

#[test]
fn unassign_releases_ports_and_finally_the_key() {
    let mut a = alloc();
    a.assign("a", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 80)]))
        .unwrap();
    a.assign("b", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 443)]))
        .unwrap();
    a.unassign("b");
    a.assign("c", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 443)]))
        .unwrap();
    a.unassign("a");
    a.unassign("c");
    assert!(!a.is_in_use(ip("10.0.0.1")));
    a.assign("d", &ips(&["10.0.0.1"]), &tcp(&[80])).unwrap();
}

#[test]
fn a_service_may_reuse_its_own_ports_on_its_own_address() {
    let mut a = alloc();
    a.assign("a", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 80)]))
        .unwrap();
    a.assign("b", &ips(&["10.0.0.1"]), &shared("k", "", &[("TCP", 81)]))
        .unwrap();
    a.assign(
        "a",
        &ips(&["10.0.0.1"]),
        &shared("k", "", &[("TCP", 80), ("TCP", 82)]),
    )
    .unwrap();
    assert_eq!(
        err(&mut a, "b", &["10.0.0.1"], &shared("k", "", &[("TCP", 82)])),
        r#"port TCP/82 is already in use on "10.0.0.1" by "a""#
    );
}

#[test]
fn dual_stack_sharing_is_checked_per_address() {
    let mut a = alloc();
    a.assign("a", &ips(&["fd00::1"]), &tcp(&[80])).unwrap();
    assert_eq!(
        err(&mut a, "b", &["10.0.2.1", "fd00::1"], &tcp(&[80])),
        r#"can't change sharing key for "b", address also in use by a: existing service does not allow sharing"#
    );
    assert!(
        !a.is_in_use(ip("10.0.2.1")),
        "a failed assign changes nothing"
    );
}
