//! `converge` (docs/allocation.md#one-pass-over-a-service) and `plan`
//! (docs/allocation.md#restart-replay): statuses, Events, notes and plan verdicts.

use super::*;
use crate::allocator::{
    Action, Allocator, ClearReason, Convergence, EventType, Note, ServiceSpec, Status, converge,
};

fn v4_service() -> ServiceSpec {
    ServiceSpec {
        is_load_balancer: true,
        cluster_ips: vec!["10.96.0.10".to_owned()],
        usage: tcp(&[80]),
        ..ServiceSpec::default()
    }
}

fn alloc() -> Allocator {
    Allocator::with_pools(&[
        pool("default", &["192.168.1.240/28"]),
        manual(pool("other", &["192.168.2.0/28"])),
        pool("dual", &["192.168.3.0/28", "fd00::/124"]),
    ])
}

fn status(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn run(a: &mut Allocator, spec: &ServiceSpec, st: &[&str]) -> Convergence {
    converge(a, "ns/svc", spec, &status(st), true)
}

fn events(c: &Convergence) -> Vec<(EventType, &str, &str)> {
    c.events
        .iter()
        .map(|e| (e.kind, e.reason, e.message.as_str()))
        .collect()
}

#[test]
fn a_new_service_gets_the_lowest_address() {
    let mut a = alloc();
    let c = run(&mut a, &v4_service(), &[]);
    assert_eq!(c.status, Status::Set(ips(&["192.168.1.240"])));
    assert_eq!(
        events(&c),
        [(
            EventType::Normal,
            "IPAllocated",
            r#"Assigned IP ["192.168.1.240"]"#
        )]
    );
    assert_eq!(c.notes, [Note::IpAllocated(ips(&["192.168.1.240"]))]);
    assert_eq!(
        (c.action, c.reason.as_str()),
        (Action::Assigned, r#"Assigned IP ["192.168.1.240"]"#)
    );
    assert!(!c.retry);
    // The next pass sees its own status and changes nothing.
    let again = run(&mut a, &v4_service(), &["192.168.1.240"]);
    assert_eq!(again.status, Status::Set(ips(&["192.168.1.240"])));
    assert!(again.events.is_empty() && again.notes.is_empty());
    assert_eq!(again.action, Action::Kept);
}

#[test]
fn before_sync_existing_statuses_are_assigned_new_ones_deferred() {
    let mut a = alloc();
    let kept = converge(
        &mut a,
        "ns/old",
        &v4_service(),
        &status(&["192.168.1.245"]),
        false,
    );
    assert_eq!((kept.action, kept.retry), (Action::Kept, false));
    assert_eq!(a.pool_of("ns/old"), Some("default"));
    let new = converge(&mut a, "ns/new", &v4_service(), &[], false);
    assert!(new.retry);
    assert_eq!(
        (new.status, new.action),
        (Status::Untouched, Action::Deferred)
    );
    assert_eq!(new.notes, [Note::NotSynced]);
    assert!(new.events.is_empty());
}

#[test]
fn non_load_balancers_and_services_without_cluster_ips_are_cleared() {
    let mut a = alloc();
    run(&mut a, &v4_service(), &[]);
    let spec = ServiceSpec {
        is_load_balancer: false,
        ..v4_service()
    };
    let c = run(&mut a, &spec, &["192.168.1.240"]);
    assert_eq!(c.status, Status::Set(Vec::new()));
    assert_eq!(c.notes, [Note::Cleared(ClearReason::NotLoadBalancer)]);
    assert_eq!(
        (c.action, c.reason.as_str()),
        (Action::Cleared, "not a LoadBalancer")
    );
    assert_eq!(a.service_count(), 0);
    assert_eq!(run(&mut a, &spec, &[]).action, Action::Kept);
    let c = run(
        &mut a,
        &ServiceSpec {
            cluster_ips: Vec::new(),
            ..v4_service()
        },
        &["192.168.1.240"],
    );
    assert_eq!(c.notes, [Note::Cleared(ClearReason::NoClusterIps)]);
    assert_eq!(c.status, Status::Set(Vec::new()));
}

#[test]
fn a_status_address_outside_the_config_is_replaced() {
    let mut a = alloc();
    let c = run(&mut a, &v4_service(), &["10.1.1.1"]);
    assert_eq!(c.status, Status::Set(ips(&["192.168.1.240"])));
    assert_eq!(c.action, Action::Changed);
    let Note::Cleared(ClearReason::NotAllowed(e)) = &c.notes[0] else {
        panic!("first note should be the clear: {:?}", c.notes);
    };
    assert_eq!(
        e.to_string(),
        r#"["10.1.1.1"] is not allowed in config: no address pool contains it"#
    );
    let fields = c.notes[0].fields();
    assert_eq!(
        fields[1].1,
        r#"["10.1.1.1"] is not allowed in config: no address pool contains it"#
    );
}

#[test]
fn an_unparsable_status_is_replaced_too() {
    let mut a = alloc();
    // One text that is not IPv4 counts as IPv6 upstream: family differs, cleared.
    let c = run(&mut a, &v4_service(), &["garbage"]);
    assert_eq!(c.status, Status::Set(ips(&["192.168.1.240"])));
    // On an IPv6 service it reaches Assign, which prints it as Go's nil IP.
    let v6 = ServiceSpec {
        cluster_ips: vec!["fd96::1".to_owned()],
        ..v4_service()
    };
    let c = converge(&mut a, "ns/v6", &v6, &status(&["garbage"]), true);
    let Note::Cleared(ClearReason::NotAllowed(e)) = &c.notes[0] else {
        panic!("{:?}", c.notes);
    };
    assert_eq!(
        e.to_string(),
        r#"["<nil>"] is not allowed in config: no address pool contains it"#
    );
    assert_eq!(c.status, Status::Set(ips(&["fd00::"])));
}

#[test]
fn family_errors_warn_and_leave_the_status_alone() {
    let mut a = alloc();
    let c = run(&mut a, &v4_service(), &["192.168.1.240", "192.168.1.241"]);
    assert_eq!(c.status, Status::Untouched);
    assert_eq!(
        events(&c),
        [(
            EventType::Warning,
            "nolbIPsIPFamily",
            r#"Failed to retrieve LBIPs IPFamily for ["192.168.1.240" "192.168.1.241"]: IPFamilyForAddresses: same address family ["192.168.1.240" "192.168.1.241"]"#
        )]
    );
    assert_eq!(c.action, Action::Failed);
    let bad = ServiceSpec {
        cluster_ips: status(&["10.96.0.1", "10.96.0.2"]),
        ..v4_service()
    };
    let c = run(&mut a, &bad, &["192.168.1.240"]);
    assert_eq!(c.status, Status::Untouched);
    assert_eq!(c.events[0].reason, "noclusterIPsIPFamily");
    assert_eq!(
        c.events[0].message,
        r#"Failed to retrieve ClusterIPs IPFamily for ["10.96.0.1" "10.96.0.2"]: IPFamilyForAddresses: same address family ["10.96.0.1" "10.96.0.2"]"#
    );
}

#[test]
fn a_family_change_reallocates() {
    let mut a = alloc();
    let dual = ServiceSpec {
        cluster_ips: status(&["10.96.0.10", "fd96::10"]),
        address_pool: "dual".to_owned(),
        ..v4_service()
    };
    let c = run(&mut a, &dual, &["192.168.3.5"]);
    assert_eq!(c.notes[0], Note::Cleared(ClearReason::FamilyChanged));
    assert_eq!(c.status, Status::Set(ips(&["192.168.3.0", "fd00::"])));
    assert_eq!(
        c.events[0].message,
        r#"Assigned IP ["192.168.3.0" "fd00::"]"#
    );
}

#[test]
fn a_different_pool_request_moves_the_service() {
    let mut a = alloc();
    run(&mut a, &v4_service(), &[]);
    let spec = ServiceSpec {
        address_pool: "other".to_owned(),
        ..v4_service()
    };
    let c = run(&mut a, &spec, &["192.168.1.240"]);
    assert_eq!(c.notes[0], Note::Cleared(ClearReason::DifferentPool));
    assert_eq!(c.status, Status::Set(ips(&["192.168.2.0"])));
    // The plan row says why the old address went before what replaced it.
    assert_eq!(
        (c.action, c.reason.as_str()),
        (
            Action::Changed,
            r#"user requested a different pool than the one currently assigned; Assigned IP ["192.168.2.0"]"#
        )
    );
}

#[test]
fn renaming_a_pool_keeps_annotated_services_on_their_address() {
    let mut a = alloc();
    let spec = ServiceSpec {
        address_pool: "other".to_owned(),
        ..v4_service()
    };
    run(&mut a, &spec, &[]);
    a.set_pools(&[
        pool("default", &["192.168.1.240/28"]),
        manual(pool("renamed", &["192.168.2.0/28"])),
    ])
    .unwrap();
    let c = run(&mut a, &spec, &["192.168.2.0"]);
    assert_eq!(c.status, Status::Set(ips(&["192.168.2.0"])));
    assert_eq!(c.action, Action::Kept);
    assert_eq!(
        c.notes,
        [Note::KeptUnknownPool {
            requested: "other".to_owned(),
            current: "renamed".to_owned()
        }]
    );
    assert!(c.events.is_empty());
    // A new service asking for the vanished pool still fails as upstream.
    let c = converge(&mut a, "ns/new", &spec, &[], true);
    assert_eq!(
        events(&c),
        [(
            EventType::Warning,
            "AllocationFailed",
            r#"Failed to allocate IP for "ns/new": unknown pool "other""#
        )]
    );
    assert_eq!(
        (c.action, c.status),
        (Action::Failed, Status::Set(Vec::new()))
    );
}

#[test]
fn a_different_requested_address_moves_the_service() {
    let mut a = alloc();
    run(&mut a, &v4_service(), &[]);
    let spec = ServiceSpec {
        load_balancer_ip: "192.168.2.7".to_owned(),
        ..v4_service()
    };
    let c = run(&mut a, &spec, &["192.168.1.240"]);
    assert_eq!(c.notes[0], Note::Cleared(ClearReason::DifferentIp));
    assert_eq!(
        c.status,
        Status::Set(ips(&["192.168.2.7"])),
        "any pool, even auto-assign: false"
    );
    // Requested and current equal as sets: kept, in the status order.
    let dual = ServiceSpec {
        cluster_ips: status(&["10.96.0.10", "fd96::10"]),
        load_balancer_ips: "fd00::3, 192.168.3.3".to_owned(),
        ..v4_service()
    };
    let c = converge(&mut a, "ns/d", &dual, &[], true);
    assert_eq!(c.status, Status::Set(ips(&["fd00::3", "192.168.3.3"])));
    let c = converge(
        &mut a,
        "ns/d",
        &dual,
        &status(&["192.168.3.3", "fd00::3"]),
        true,
    );
    assert_eq!(
        (c.action, c.status),
        (Action::Kept, Status::Set(ips(&["192.168.3.3", "fd00::3"])))
    );
}

#[test]
fn requested_address_errors() {
    let mut a = alloc();
    let v6_request = ServiceSpec {
        load_balancer_ip: "fd00::1".to_owned(),
        ..v4_service()
    };
    let c = run(&mut a, &v6_request, &[]);
    assert_eq!(
        c.events[0].message,
        r#"Failed to allocate IP for "ns/svc": requested loadBalancer IP(s) ["fd00::1"] does not match the ipFamily of the service (requested ipv6, service ipv4)"#
    );
    let outside = ServiceSpec {
        load_balancer_ip: "10.9.9.9".to_owned(),
        ..v4_service()
    };
    let c = run(&mut a, &outside, &[]);
    assert_eq!(
        c.events[0].message,
        r#"Failed to allocate IP for "ns/svc": ["10.9.9.9"] is not allowed in config: no address pool contains it"#
    );
    // An invalid request on a service that has an address: warning, address kept.
    run(&mut a, &v4_service(), &[]);
    let invalid = ServiceSpec {
        load_balancer_ip: "nope".to_owned(),
        ..v4_service()
    };
    let c = run(&mut a, &invalid, &["192.168.1.240"]);
    assert_eq!(
        events(&c),
        [(
            EventType::Warning,
            "LoadBalancerFailed",
            r#"invalid requested loadbalancer IPs: invalid spec.loadBalancerIP "nope""#
        )]
    );
    assert_eq!((c.status, c.action), (Status::Untouched, Action::Failed));
    assert_eq!(a.ips_of("ns/svc"), Some(ips(&["192.168.1.240"]).as_slice()));
}

#[test]
fn upstream_churn_when_requested_ip_and_pool_disagree_is_kept() {
    // Upstream's quirk, kept: with `spec.loadBalancerIP` and the pool annotation both set and
    // disagreeing, every pass clears and re-assigns the same IP.
    let mut a = alloc();
    let spec = ServiceSpec {
        load_balancer_ip: "192.168.1.250".to_owned(),
        address_pool: "other".to_owned(),
        ..v4_service()
    };
    for _ in 0..2 {
        let c = run(&mut a, &spec, &["192.168.1.250"]);
        assert_eq!(c.status, Status::Set(ips(&["192.168.1.250"])));
        assert_eq!(c.events[0].reason, "IPAllocated");
        assert_eq!(c.action, Action::Kept);
    }
}

#[test]
fn sharing_services_converge_onto_one_address() {
    let mut a = alloc();
    let with = |port, proto: &str| ServiceSpec {
        usage: shared("dns", "", &[(proto, port)]),
        ..v4_service()
    };
    let c1 = converge(&mut a, "ns/dns-tcp", &with(53, "TCP"), &[], true);
    let c2 = converge(&mut a, "ns/dns-udp", &with(53, "UDP"), &[], true);
    assert_eq!(c1.status, c2.status);
    let c3 = converge(&mut a, "ns/dns-udp2", &with(53, "UDP"), &[], true);
    assert_eq!(c3.status, Status::Set(ips(&["192.168.1.241"])));
}

#[test]
fn notes_carry_upstream_log_fields() {
    use crate::allocator::Level;
    use serde_json::json;
    let allocated = Note::IpAllocated(ips(&["192.168.1.240", "fd00::1"]));
    assert_eq!(allocated.level(), Level::Info);
    assert_eq!(
        allocated.fields(),
        [
            ("event", json!("ipAllocated")),
            ("ip", json!(["192.168.1.240", "fd00::1"])),
            ("msg", json!("IP address assigned by controller")),
        ]
    );
    let cleared = Note::Cleared(ClearReason::DifferentPool);
    assert_eq!(
        cleared.fields(),
        [
            ("event", json!("clearAssignment")),
            ("reason", json!("differentPoolRequested")),
            (
                "msg",
                json!("user requested a different pool than the one currently assigned")
            ),
        ]
    );
    assert_eq!(
        Note::Cleared(ClearReason::NotLoadBalancer).level(),
        Level::Debug
    );
    assert_eq!(Note::AllocationFailed("x".into()).level(), Level::Error);
}
