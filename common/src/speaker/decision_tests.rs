use std::collections::BTreeSet;

use super::*;
use crate::config::{Mode, parse};

const CONFIG: &str = "address-pools:\n- name: l2\n  protocol: layer2\n  addresses: [10.20.30.0/24, 2001:db8::/120]\n- name: b\n  protocol: bgp\n  addresses: [192.0.2.0/24]\n";

fn config() -> Config {
    parse(CONFIG, Mode::NativeSpeaker).expect("valid")
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn ep(addr: &str, node: &str, ready: bool) -> Endpoint {
    Endpoint {
        addr: addr.into(),
        node: Some(node.into()),
        ready,
    }
}

struct Case {
    ingress: Vec<Option<String>>,
    local: bool,
    endpoints: Option<Vec<Endpoint>>,
    lb: bool,
}

impl Case {
    fn ips(ips: &[&str]) -> Self {
        Case {
            ingress: ips.iter().map(|s| Some((*s).to_owned())).collect(),
            local: false,
            endpoints: Some(vec![ep("10.1.0.1", "iris1", true)]),
            lb: true,
        }
    }

    fn decide<'c>(
        &self,
        node: &'c str,
        cfg: Option<&'c Config>,
        live: &'c BTreeSet<String>,
        excluded: &'c BTreeSet<String>,
    ) -> Verdict<'c> {
        let svc = SpeakerService {
            key: "ns/svc",
            is_load_balancer: self.lb,
            ingress: &self.ingress,
            local: self.local,
            endpoints: self.endpoints.as_deref(),
            shared_with: &[],
        };
        decide(
            &svc,
            &Cluster {
                node,
                config: cfg,
                live: Live::Known(live),
                excluded,
                election: ElectionKey::FirstIp,
            },
        )
    }
}

fn announces(v: &Verdict<'_>) -> bool {
    matches!(v, Verdict::Announce { .. })
}

#[test]
fn upstream_election_vectors() {
    let cfg = config();
    let live = set(&["iris1", "iris2"]);
    let none = BTreeSet::new();
    // sha256("iris2#10.20.30.1") < sha256("iris1#10.20.30.1"); the reverse for .2 (the vectors
    // of upstream's `TestShouldAnnounce`).
    let one = Case::ips(&["10.20.30.1"]);
    assert!(announces(&one.decide("iris2", Some(&cfg), &live, &none)));
    assert_eq!(
        one.decide("iris1", Some(&cfg), &live, &none),
        Verdict::Withdraw(Reason::NotOwner {
            owner: Some("iris2".into())
        })
    );
    let two = Case::ips(&["10.20.30.2"]);
    assert!(announces(&two.decide("iris1", Some(&cfg), &live, &none)));
    assert!(!announces(&two.decide("iris2", Some(&cfg), &live, &none)));
}

#[test]
fn exactly_one_speaker_wins_each_ip_and_both_win_some() {
    let cfg = config();
    let live = set(&["iris1", "iris2"]);
    let none = BTreeSet::new();
    let mut wins = [0, 0];
    for i in 1..=255 {
        let c = Case::ips(&[&format!("10.20.30.{i}")]);
        let a = announces(&c.decide("iris1", Some(&cfg), &live, &none));
        let b = announces(&c.decide("iris2", Some(&cfg), &live, &none));
        assert!(a ^ b, "10.20.30.{i}");
        wins[usize::from(b)] += 1;
    }
    assert!(wins[0] > 0 && wins[1] > 0);
}

#[test]
fn local_policy_elects_among_nodes_with_ready_endpoints() {
    let cfg = config();
    let live = set(&["iris1", "iris2"]);
    let none = BTreeSet::new();
    // 10.20.30.1 would go to iris2 under Cluster; with the only ready endpoint on iris1, iris1 wins.
    let mut c = Case::ips(&["10.20.30.1"]);
    c.local = true;
    c.endpoints = Some(vec![
        ep("10.1.0.1", "iris1", true),
        ep("10.1.0.2", "iris2", false),
    ]);
    assert!(announces(&c.decide("iris1", Some(&cfg), &live, &none)));
    assert!(!announces(&c.decide("iris2", Some(&cfg), &live, &none)));
    // A ready node that is not a live speaker is no candidate.
    let only2 = set(&["iris2"]);
    assert_eq!(
        c.decide("iris2", Some(&cfg), &only2, &none),
        Verdict::Withdraw(Reason::NotOwner { owner: None })
    );
}

#[test]
fn no_ready_endpoint_means_nobody_announces_layer2() {
    let cfg = config();
    let live = set(&["iris1", "iris2"]);
    let mut c = Case::ips(&["10.20.30.1"]);
    c.endpoints = Some(vec![ep("10.1.0.1", "iris1", false)]);
    for node in ["iris1", "iris2"] {
        assert_eq!(
            c.decide(node, Some(&cfg), &live, &BTreeSet::new()),
            Verdict::Withdraw(Reason::NoEndpoints)
        );
    }
}

#[test]
fn dual_stack_elects_on_the_first_ip_and_announces_both() {
    let cfg = config();
    let live = set(&["iris1", "iris2"]);
    let c = Case::ips(&["10.20.30.1", "2001:db8::1"]);
    match c.decide("iris2", Some(&cfg), &live, &BTreeSet::new()) {
        Verdict::Announce { ips, protocol, .. } => {
            assert_eq!(protocol, Protocol::Layer2);
            assert_eq!(ips.len(), 2);
        }
        other => panic!("expected iris2 to announce, got {other:?}"),
    }
}

#[test]
fn excluded_nodes_neither_announce_nor_win() {
    let cfg = config();
    let live = set(&["iris1", "iris2"]);
    let excluded = set(&["iris2"]);
    let c = Case::ips(&["10.20.30.1"]);
    assert_eq!(
        c.decide("iris2", Some(&cfg), &live, &excluded),
        Verdict::Withdraw(Reason::NodeExcluded)
    );
    // iris2 would have won; with it excluded the election falls to iris1.
    assert!(announces(&c.decide("iris1", Some(&cfg), &live, &excluded)));
}

#[test]
fn procedure_order_and_reasons() {
    let cfg = config();
    let live = set(&["n1"]);
    let none = BTreeSet::new();
    let mut c = Case::ips(&["10.20.30.1"]);
    c.endpoints = None;
    assert_eq!(
        c.decide("n1", Some(&cfg), &live, &none),
        Verdict::Withdraw(Reason::ServiceDeleted)
    );
    let mut c = Case::ips(&["10.20.30.1"]);
    c.lb = false;
    assert_eq!(
        c.decide("n1", Some(&cfg), &live, &none),
        Verdict::Withdraw(Reason::NotLoadBalancer)
    );
    assert_eq!(
        Case::ips(&["10.20.30.1"]).decide("n1", None, &live, &none),
        Verdict::NoConfig
    );
    assert_eq!(
        Case::ips(&[]).decide("n1", Some(&cfg), &live, &none),
        Verdict::Withdraw(Reason::NoIpAllocated)
    );
    let mut c = Case::ips(&["10.20.30.1"]);
    c.ingress.push(None);
    assert_eq!(
        c.decide("n1", Some(&cfg), &live, &none),
        Verdict::Withdraw(Reason::InvalidIp)
    );
    let Verdict::Withdraw(outside) =
        Case::ips(&["198.51.100.1"]).decide("n1", Some(&cfg), &live, &none)
    else {
        panic!("an IP outside every pool is withdrawn");
    };
    assert_eq!(outside.as_str(), "ipNotAllowed");
    assert_eq!(
        outside.to_string(),
        r#"["198.51.100.1"] is not allowed in config: no address pool contains it"#
    );
}

/// `/status` and the controller's `AllocationFailed` Event give one text for one cause.
#[test]
fn ip_not_allowed_reads_as_the_controllers_refusal() {
    let cfg = config();
    let live = set(&["n1"]);
    let none = BTreeSet::new();
    for ips in [
        &["198.51.100.1"][..],
        &["10.20.30.1", "198.51.100.1"],
        &["10.20.30.1", "192.0.2.1"],
    ] {
        let Verdict::Withdraw(reason) = Case::ips(ips).decide("n1", Some(&cfg), &live, &none)
        else {
            panic!("{ips:?} is withdrawn");
        };
        let addrs: Vec<IpAddr> = ips.iter().filter_map(|s| s.parse().ok()).collect();
        let refusal = crate::allocator::Allocator::with_pools(&cfg.pools)
            .assign("ns/x", &addrs, &crate::allocator::Usage::default())
            .expect_err("the controller refuses them too");
        assert_eq!(reason, Reason::IpNotAllowed(refusal.to_string()), "{ips:?}");
    }
}

/// The speaker checks only CIDRs (upstream's `poolFor`): an avoid-buggy-ips address a
/// controller would never hand out is still announced if a status holds it.
#[test]
fn the_speaker_ignores_avoid_buggy_ips() {
    let cfg = parse(
        "address-pools:\n- name: l2\n  protocol: layer2\n  avoid-buggy-ips: true\n  addresses: [10.20.30.0/24]\n",
        Mode::NativeSpeaker,
    )
    .expect("valid");
    let live = set(&["n1"]);
    let none = BTreeSet::new();
    assert!(matches!(
        Case::ips(&["10.20.30.255"]).decide("n1", Some(&cfg), &live, &none),
        Verdict::Announce { .. }
    ));
}

#[test]
fn bgp_readiness_is_per_address() {
    let cfg = config();
    let live = BTreeSet::new();
    let none = BTreeSet::new();
    let mut c = Case::ips(&["192.0.2.10"]);
    c.local = true;
    c.endpoints = Some(vec![
        ep("10.1.0.1", "n1", true),
        ep("10.1.0.1", "n1", false),
        ep("10.1.0.2", "n2", true),
    ]);
    // n1's only address is also listed not ready: not a local endpoint for BGP.
    assert_eq!(
        c.decide("n1", Some(&cfg), &live, &none),
        Verdict::Withdraw(Reason::NoLocalEndpoints)
    );
    assert!(announces(&c.decide("n2", Some(&cfg), &live, &none)));
    c.local = false;
    // Cluster policy: every node announces while some address is ready (BGP ignores memberlist).
    assert!(announces(&c.decide("n1", Some(&cfg), &live, &none)));
    c.endpoints = Some(vec![ep("10.1.0.1", "n1", false)]);
    assert_eq!(
        c.decide("n1", Some(&cfg), &live, &none),
        Verdict::Withdraw(Reason::NoEndpoints)
    );
}

#[test]
fn without_a_live_list_the_nodes_with_a_ready_endpoint_are_the_candidates() {
    // v0.8's RBAC may not list pods and there is no memberlist: a Cluster-policy service is
    // elected among the nodes hosting a ready endpoint (as v0.8 did), never a node without
    // one (which may run no speaker at all).
    let cfg = config();
    let excluded = set(&[]);
    let mut case = Case::ips(&["10.20.30.1"]);
    case.endpoints = Some(vec![
        ep("10.1.0.1", "iris2", true),
        ep("10.1.0.2", "iris1", false),
    ]);
    let svc = SpeakerService {
        key: "ns/svc",
        is_load_balancer: true,
        ingress: &case.ingress,
        local: false,
        endpoints: case.endpoints.as_deref(),
        shared_with: &[],
    };
    let verdict = |node: &'static str| {
        decide(
            &svc,
            &Cluster {
                node,
                config: Some(&cfg),
                live: Live::Unknown,
                excluded: &excluded,
                election: ElectionKey::FirstIp,
            },
        )
    };
    assert!(announces(&verdict("iris2")), "{:?}", verdict("iris2"));
    assert!(!announces(&verdict("iris1")), "no ready endpoint there");
    assert!(!announces(&verdict("iris3")), "not a candidate at all");
}
