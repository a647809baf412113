use std::collections::BTreeSet;

use super::*;
use crate::config::{Config, Mode, parse};
use crate::l2::election::ElectionKey;
use crate::l2::election_key::KeyChoice;
use crate::speaker::selfcheck::{Check, Finding};
use crate::speaker::{Endpoint, Live, decide};

const CONFIG: &str = "address-pools:\n- name: l2\n  protocol: layer2\n  addresses: [10.20.30.0/24]\n- name: b\n  protocol: bgp\n  addresses: [192.0.2.0/24]\n";

fn config() -> Config {
    parse(CONFIG, Mode::NativeSpeaker).expect("valid")
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn ep(node: &str, ready: bool) -> Endpoint {
    Endpoint {
        addr: format!("10.1.0.{}", node.len()),
        node: Some(node.into()),
        ready,
    }
}

/// A service's inputs, owned, so tests can vary one field at a time.
struct Svc {
    key: String,
    lb: bool,
    ingress: Vec<Option<String>>,
    local: bool,
    endpoints: Option<Vec<Endpoint>>,
}

impl Svc {
    fn new(key: &str, ip: &str) -> Self {
        Svc {
            key: key.into(),
            lb: true,
            ingress: vec![Some(ip.into())],
            local: false,
            endpoints: Some(vec![ep("n1", true), ep("n22", true)]),
        }
    }

    fn view(&self) -> SpeakerService<'_> {
        SpeakerService {
            key: &self.key,
            is_load_balancer: self.lb,
            ingress: &self.ingress,
            local: self.local,
            endpoints: self.endpoints.as_deref(),
            shared_with: &[],
        }
    }
}

struct World {
    config: Option<Config>,
    live: BTreeSet<String>,
    excluded: BTreeSet<String>,
    election: ElectionKey,
}

impl World {
    fn new() -> Self {
        World {
            config: Some(config()),
            live: set(&["n1", "n22", "n333"]),
            excluded: BTreeSet::new(),
            election: ElectionKey::FirstIp,
        }
    }

    fn cluster<'a>(&'a self, node: &'a str) -> Cluster<'a> {
        Cluster {
            node,
            config: self.config.as_ref(),
            live: Live::Known(&self.live),
            excluded: &self.excluded,
            election: self.election,
        }
    }

    /// The row as the speaker builds it: `decide`, then `service_row`.
    fn row(&self, node: &str, svc: &Svc, sessions: usize) -> Option<ServiceRow> {
        let cluster = self.cluster(node);
        let verdict = decide(&svc.view(), &cluster);
        service_row(&svc.view(), &cluster, &verdict, sessions)
    }
}

/// The node `decide` elects for `svc`, found by asking every node.
fn winner(w: &World, svc: &Svc) -> String {
    let nodes: Vec<&String> = w.live.iter().collect();
    let winners: Vec<&String> = nodes
        .into_iter()
        .filter(|n| matches!(decide(&svc.view(), &w.cluster(n)), Verdict::Announce { .. }))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one owner");
    winners[0].clone()
}

#[test]
fn announcing_row_names_this_node_as_owner() {
    let w = World::new();
    let svc = Svc::new("ns/web", "10.20.30.7");
    let owner = winner(&w, &svc);
    let row = w.row(&owner, &svc, 0).expect("row");
    assert_eq!(row.decision, Decision::Announcing);
    assert_eq!(row.reason, None);
    assert_eq!(row.owner.as_deref(), Some(owner.as_str()));
    assert_eq!(row.message, announcing_message(&owner));
    assert_eq!(
        (row.protocol, row.pool.as_deref()),
        (Some("layer2"), Some("l2"))
    );
}

#[test]
fn not_owner_row_names_the_owner() {
    let w = World::new();
    let svc = Svc::new("ns/web", "10.20.30.7");
    let owner = winner(&w, &svc);
    let other = w.live.iter().find(|n| **n != owner).expect("another node");
    let row = w.row(other, &svc, 0).expect("row");
    assert_eq!(row.decision, Decision::NotAnnouncing);
    assert_eq!(row.reason, Some("notOwner"));
    assert_eq!(row.owner.as_deref(), Some(owner.as_str()));
    assert!(
        row.message.contains(&format!("{owner:?}")),
        "{}",
        row.message
    );
}

#[test]
fn no_ready_endpoint_row() {
    let w = World::new();
    let mut svc = Svc::new("ns/web", "10.20.30.7");
    svc.endpoints = Some(vec![ep("n1", false)]);
    let row = w.row("n1", &svc, 0).expect("row");
    assert_eq!(row.reason, Some("noEndpoints"));
    assert_eq!(row.owner, None);
    assert_eq!(row.message, "no ready endpoints");
    // Ready endpoints, but only on a node without a live speaker (Local policy).
    svc.local = true;
    svc.endpoints = Some(vec![ep("gone", true)]);
    let row = w.row("n1", &svc, 0).expect("row");
    assert_eq!((row.reason, row.owner.clone()), (Some("notOwner"), None));
    assert!(row.message.starts_with("no node can announce"));
    // BGP says the same.
    let mut bgp = Svc::new("ns/b", "192.0.2.1");
    bgp.endpoints = Some(vec![ep("n1", false)]);
    let row = w.row("n1", &bgp, 1).expect("row");
    assert_eq!(row.reason, Some("noEndpoints"));
    assert_eq!(row.message, "no ready endpoints");
}

#[test]
fn local_policy_without_local_endpoint_row() {
    let w = World::new();
    let mut svc = Svc::new("ns/b", "192.0.2.1");
    svc.local = true;
    svc.endpoints = Some(vec![ep("n22", true)]);
    let row = w.row("n1", &svc, 1).expect("row");
    assert_eq!(row.reason, Some("noLocalEndpoints"));
    assert_eq!(
        row.message,
        "externalTrafficPolicy Local and no ready endpoint on this node"
    );
    assert_eq!(row.owner, None, "BGP has no single owner");
    assert_eq!(
        w.row("n22", &svc, 1).expect("row").decision,
        Decision::Announcing
    );
}

#[test]
fn excluded_node_row_still_names_the_owner() {
    let mut w = World::new();
    let svc = Svc::new("ns/web", "10.20.30.7");
    let owner = winner(&w, &svc);
    w.excluded.insert(owner.clone());
    let new_owner = winner(&w, &svc);
    let row = w.row(&owner, &svc, 0).expect("row");
    assert_eq!(row.reason, Some("nodeExcluded"));
    assert!(row.message.contains("exclude-from-external-load-balancers"));
    assert_eq!(row.owner.as_deref(), Some(new_owner.as_str()));
    assert_ne!(new_owner, owner);
}

#[test]
fn bgp_without_peer_is_not_announcing() {
    let w = World::new();
    let svc = Svc::new("ns/b", "192.0.2.1");
    let row = w.row("n1", &svc, 0).expect("row");
    assert_eq!(row.decision, Decision::NotAnnouncing);
    assert_eq!(row.reason, Some("noPeerSelected"));
    assert!(row.message.contains("no BGP peer selects this node"));
    assert_eq!(row.protocol, Some("bgp"));
    let row = w.row("n1", &svc, 2).expect("row");
    assert_eq!(row.decision, Decision::Announcing);
}

#[test]
fn early_reasons_rows() {
    let mut w = World::new();
    let mut svc = Svc::new("ns/x", "198.51.100.1");
    let row = w.row("n1", &svc, 0).expect("row");
    assert_eq!(row.reason, Some("ipNotAllowed"));
    assert_eq!((row.protocol, row.pool.clone()), (None, None));
    svc.ingress = vec![None];
    assert_eq!(w.row("n1", &svc, 0).expect("row").reason, Some("invalidIP"));
    svc.ingress = vec![];
    let row = w.row("n1", &svc, 0).expect("row");
    assert_eq!(row.reason, Some("noIPAllocated"));
    assert!(row.ips.is_empty());
    svc.endpoints = None;
    let row = w.row("n1", &svc, 0).expect("row");
    assert_eq!(row.reason, Some("serviceDeleted"));
    svc.lb = false;
    assert_eq!(
        w.row("n1", &svc, 0),
        None,
        "non-LoadBalancer services are left out"
    );
    svc.lb = true;
    svc.endpoints = Some(vec![]);
    w.config = None;
    let row = w.row("n1", &svc, 0).expect("row");
    assert_eq!((row.decision, row.reason), (Decision::NoConfig, None));
}

#[test]
fn every_reason_has_a_code_and_a_sentence() {
    let all = [
        Reason::ServiceDeleted,
        Reason::NotLoadBalancer,
        Reason::NoIpAllocated,
        Reason::InvalidIp,
        Reason::IpNotAllowed("x is not allowed in config".into()),
        Reason::NotOwner {
            owner: Some("n2".into()),
        },
        Reason::NotOwner { owner: None },
        Reason::NoLocalEndpoints,
        Reason::NoEndpoints,
        Reason::NodeExcluded,
        Reason::NoPeerSelected,
    ];
    let codes: BTreeSet<&str> = all.iter().map(Reason::as_str).collect();
    assert_eq!(
        codes.len(),
        all.len() - 1,
        "codes are distinct (NotOwner twice)"
    );
    let texts: BTreeSet<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), all.len(), "sentences are distinct");
    assert!(texts.iter().all(|t| !t.is_empty() && !t.ends_with('.')));
}

#[test]
fn losing_events_name_the_new_owner_or_the_reason() {
    let moved = withdraw_event(
        "n1",
        &WithdrawReason::Verdict(Reason::NotOwner {
            owner: Some("n2".into()),
        }),
    );
    assert_eq!(
        moved,
        Some((
            UNASSIGNED_REASON,
            r#"no longer announcing from node "n1": the owner is now node "n2""#.to_owned()
        ))
    );
    let (_, msg) =
        withdraw_event("n1", &WithdrawReason::Verdict(Reason::NoEndpoints)).expect("event");
    assert_eq!(
        msg,
        r#"no longer announcing from node "n1": no ready endpoints"#
    );
    assert_eq!(
        withdraw_event("n1", &WithdrawReason::Verdict(Reason::ServiceDeleted)),
        None
    );
    assert_eq!(withdraw_event("n1", &WithdrawReason::IpsChanged), None);
    assert_eq!(withdraw_event("n1", &WithdrawReason::ProtocolChanged), None);
}

/// Three speakers with the same inputs: every document names the same owner for every IP,
/// and exactly that node says it announces.
#[test]
fn three_speakers_agree_on_every_owner() {
    let w = World::new();
    let services: Vec<Svc> = (1..=200)
        .map(|i| Svc::new(&format!("ns/s{i}"), &format!("10.20.30.{}", i % 250 + 1)))
        .collect();
    let docs: Vec<serde_json::Value> = w
        .live
        .iter()
        .map(|node| {
            let mut snap = Snapshot {
                node: node.clone(),
                config_loaded: true,
                members: w.live.iter().cloned().collect(),
                ..Snapshot::default()
            };
            for s in &services {
                snap.set_row(&s.key, w.row(node, s, 0));
            }
            let view = StatusView {
                snapshot: &snap,
                memberlist: None,
                bgp: &[],
                checks: &[],
            };
            serde_json::from_str(&view.to_json()).expect("valid JSON")
        })
        .collect();
    let mut owners_seen = BTreeSet::new();
    for i in 0..services.len() {
        let rows: Vec<&serde_json::Value> = docs.iter().map(|d| &d["services"][i]).collect();
        let owner = rows[0]["owner"].as_str().expect("owner").to_owned();
        assert!(rows.iter().all(|r| r["owner"] == rows[0]["owner"]));
        assert!(rows.iter().all(|r| r["ips"] == rows[0]["ips"]));
        let announcing: Vec<&str> = docs
            .iter()
            .zip(&rows)
            .filter(|(_, r)| r["decision"] == "announcing")
            .map(|(d, _)| d["node"].as_str().expect("node"))
            .collect();
        assert_eq!(announcing, vec![owner.as_str()]);
        owners_seen.insert(owner);
    }
    assert_eq!(owners_seen.len(), 3, "the election spreads over all nodes");
}

#[test]
fn json_and_text_views_carry_the_same_facts() {
    let w = World::new();
    let mut snap = Snapshot {
        node: "n1".into(),
        config_loaded: true,
        members: vec!["n1".into(), "n22".into()],
        ..Snapshot::default()
    };
    let b = Svc::new("ns/b", "192.0.2.1");
    snap.set_row(&b.key, w.row("n1", &b, 1));
    let mut none = Svc::new("ns/pending", "x");
    none.ingress.clear();
    snap.set_row(&none.key, w.row("n1", &none, 1));
    let bgp = [BgpSessionRow {
        peer: "192.0.2.254:179".into(),
        my_asn: 64500,
        peer_asn: 64501,
        state: "Established",
        prefixes_sent: 1,
        prefixes_pending: 0,
        last_error: None,
    }];
    let checks = [Finding {
        check: Check::StrictArp,
        ok: false,
        matters: true,
        message: "kube-proxy IPVS mode without strictARP".into(),
    }];
    let ml = [
        MemberRow {
            name: "n1".into(),
            addr: "10.0.0.1:7946".into(),
            state: "alive",
        },
        MemberRow {
            name: "n22".into(),
            addr: "10.0.0.2:7946".into(),
            state: "suspect",
        },
    ];
    let view = StatusView {
        snapshot: &snap,
        memberlist: Some(&ml),
        bgp: &bgp,
        checks: &checks,
    };
    let doc: serde_json::Value = serde_json::from_str(&view.to_json()).expect("json");
    assert_eq!(doc["node"], "n1");
    assert_eq!(doc["configLoaded"], true);
    assert_eq!(doc["services"][0]["service"], "ns/b");
    assert_eq!(doc["services"][0]["decision"], "announcing");
    assert_eq!(doc["services"][1]["reason"], "noIPAllocated");
    assert_eq!(doc["bgpSessions"][0]["prefixesSent"], 1);
    assert_eq!(doc["bgpSessions"][0]["state"], "Established");
    assert_eq!(doc["nodeChecks"][0]["check"], "strictARP");
    assert_eq!(doc["nodeChecks"][0]["ok"], false);
    assert_eq!(doc["memberlist"][1]["state"], "suspect");

    let text = view.to_text();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no line {needle:?} in\n{text}"))
            .to_owned()
    };
    let svc = line("ns/b ");
    assert!(svc.contains("192.0.2.1") && svc.contains("announcing") && svc.contains("bgp"));
    assert!(line("ns/pending").contains("noIPAllocated"));
    assert!(line("192.0.2.254:179").contains("64500/64501"));
    assert!(line("strictARP").contains("FAILED"));
    assert!(text.contains("members (2): n1, n22"));
    assert!(text.contains("memberlist: n1 (10.0.0.1:7946, alive), n22 (10.0.0.2:7946, suspect)"));
    // Columns line up: the IP column starts at the same offset on every service line.
    let header = line("SERVICE");
    let at = header.find("IP").expect("IP column");
    assert_eq!(svc.get(at..at + 9), Some("192.0.2.1"));
}

#[test]
fn unchanged_rows_are_not_replaced() {
    let w = World::new();
    let svc = Svc::new("ns/b", "192.0.2.1");
    let mut snap = Snapshot::default();
    snap.set_row(&svc.key, w.row("n1", &svc, 1));
    let before = Arc::clone(&snap.services["ns/b"]);
    snap.set_row(&svc.key, w.row("n1", &svc, 1));
    assert!(Arc::ptr_eq(&before, &snap.services["ns/b"]));
    snap.set_row(&svc.key, w.row("n1", &svc, 0));
    assert_eq!(snap.services["ns/b"].reason, Some("noPeerSelected"));
    snap.set_row(&svc.key, None);
    assert!(snap.services.is_empty());
}

#[test]
fn the_election_key_in_use_is_shown_with_its_reason() {
    let mut w = World::new();
    w.election = ElectionKey::ServiceName;
    let svc = Svc::new("ns/web", "10.20.30.7");
    let owner = winner(&w, &svc);
    let loser = w.live.iter().find(|n| **n != owner).expect("another node");
    let row = w.row(loser, &svc, 0).expect("row");
    assert_eq!(row.reason, Some("notOwner"));
    assert_eq!(row.owner.as_deref(), Some(owner.as_str()));
    let snap = Snapshot {
        node: loser.clone(),
        election: KeyChoice::choose(None, false),
        ..Snapshot::default()
    };
    let view = StatusView {
        snapshot: &snap,
        memberlist: None,
        bgp: &[],
        checks: &[],
    };
    let doc: serde_json::Value = serde_json::from_str(&view.to_json()).expect("json");
    assert_eq!(doc["electionKey"], "serviceName");
    let reason = doc["electionKeyReason"].as_str().expect("a reason");
    assert!(reason.contains("no --log-level"), "{reason}");
    let text = view.to_text();
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("election key: serviceName (not set; no --log-level")),
        "{text}"
    );
    let snap = Snapshot {
        election: KeyChoice::choose(Some(ElectionKey::FirstIp), false),
        ..Snapshot::default()
    };
    let view = StatusView {
        snapshot: &snap,
        ..view
    };
    let doc: serde_json::Value = serde_json::from_str(&view.to_json()).expect("json");
    assert_eq!(doc["electionKey"], "ip");
    assert!(
        view.to_text()
            .contains("election key: ip (set by --l2-election-key")
    );
}
