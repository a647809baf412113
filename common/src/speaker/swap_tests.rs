//! Swapping upstream v0.9 speakers for ours: every Layer 2 IP keeps its owner, and while the
//! DaemonSet rolls (some nodes upstream, some ours) every IP has exactly one owner.
//!
//! Upstream's rule is written out here on its own (SHA-256 over `node#namespace/name`, the
//! smallest digest among the live nodes hosting a ready endpoint, whatever the traffic
//! policy), not through the election module.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::*;
use crate::config::{Mode, parse};
use crate::l2::election_key::{KeyChoice, RELEASE_ARGS};
use crate::speaker::index::{EndpointsObject, Index, ServiceEntry, ServiceObject};
use crate::speaker::{Endpoint, Relist, Sources};

const CONFIG: &str =
    "address-pools:\n- name: l2\n  protocol: layer2\n  addresses: [10.20.30.0/24]\n";
const NODES: [&str; 3] = ["node1", "node2", "node3"];

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Upstream v0.8–v0.10's `ShouldAnnounce`, independently: the owner of `service`.
fn upstream_owner(
    service: &str,
    endpoint_nodes: &BTreeSet<String>,
    members: &BTreeSet<String>,
) -> Option<String> {
    endpoint_nodes
        .iter()
        .filter(|n| members.contains(*n))
        .min_by_key(|n| Sha256::digest(format!("{n}#{service}").as_bytes()))
        .cloned()
}

struct Svc {
    key: String,
    ip: String,
    local: bool,
    nodes: BTreeSet<String>,
}

/// A v0.9-style cluster: its services in an index, as the speaker holds them.
struct World {
    services: Vec<Svc>,
    index: Index,
}

impl World {
    fn new(services: Vec<Svc>) -> Self {
        let mut index = Index::new("node1");
        for s in &services {
            let _ = index.services.apply(ServiceObject {
                key: s.key.clone(),
                entry: ServiceEntry {
                    uid: None,
                    is_load_balancer: true,
                    ingress: vec![Some(s.ip.clone())],
                    local: s.local,
                },
            });
            let endpoints = s
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| Endpoint {
                    addr: format!("10.1.{}.{i}", s.key.len()),
                    node: Some(n.clone()),
                    ready: true,
                })
                .collect();
            let _ = index.endpoints.apply(EndpointsObject {
                service: s.key.clone(),
                id: format!("{}-abcde", s.key),
                endpoints,
            });
        }
        World { services, index }
    }

    /// Whether our speaker on `node` announces `key`.
    fn ours_announce(
        &self,
        node: &str,
        key: &str,
        election: ElectionKey,
        members: &BTreeSet<String>,
        config: &Config,
    ) -> bool {
        let Some(entry) = self.index.services.get(key) else {
            return false;
        };
        let merged = self.index.endpoints.get(key).map(Sources::merged);
        let sharers = self.index.sharers(key, election);
        let svc = entry.view(key, merged.as_deref()).sharing(&sharers);
        let excluded = BTreeSet::new();
        let cluster = Cluster {
            node,
            config: Some(config),
            live: Live::Known(members),
            excluded: &excluded,
            election,
        };
        matches!(decide(&svc, &cluster), Verdict::Announce { .. })
    }

    /// The nodes answering for each IP when `upstream` nodes run v0.9 and the rest run ours.
    fn answering(
        &self,
        upstream: &BTreeSet<String>,
        members: &BTreeSet<String>,
        election: ElectionKey,
    ) -> Vec<(String, BTreeSet<String>)> {
        let config = parse(CONFIG, Mode::NativeSpeaker).expect("valid");
        let mut by_ip: Vec<(String, BTreeSet<String>)> = Vec::new();
        for s in &self.services {
            let mut nodes = BTreeSet::new();
            for node in members {
                let announces = if upstream.contains(node) {
                    upstream_owner(&s.key, &s.nodes, members).as_ref() == Some(node)
                } else {
                    self.ours_announce(node, &s.key, election, members, &config)
                };
                if announces {
                    nodes.insert(node.clone());
                }
            }
            match by_ip.iter_mut().find(|(ip, _)| *ip == s.ip) {
                Some((_, n)) => n.extend(nodes),
                None => by_ip.push((s.ip.clone(), nodes)),
            }
        }
        by_ip
    }
}

/// ~50 Layer 2 services of a v0.9 cluster, `Cluster` policy, endpoints on every node.
fn fifty_services() -> Vec<Svc> {
    (0..50)
        .map(|i| Svc {
            key: format!("team{}/app-{i}", i % 7),
            ip: format!("10.20.30.{}", i + 10),
            local: false,
            nodes: set(&NODES),
        })
        .collect()
}

/// The key a speaker started from the v0.9.3 manifest detects.
fn v09_key() -> ElectionKey {
    let v09 = RELEASE_ARGS
        .iter()
        .find(|r| r.release == "v0.9.3")
        .expect("in the table");
    let log_level = v09.args.iter().any(|a| a.starts_with("--log-level"));
    KeyChoice::choose(None, log_level).key
}

/// Every way of having some nodes upstream and the rest ours: all upstream (before the
/// swap), none (after), and each half-rolled state.
fn rollouts() -> Vec<BTreeSet<String>> {
    (0..8u8)
        .map(|mask| {
            NODES
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| (*n).to_owned())
                .collect()
        })
        .collect()
}

/// Every IP (one service each here) is answered by exactly upstream's owner, whichever nodes
/// run which speaker: one node, or none when no live node hosts an endpoint.
fn assert_upstream_owner_everywhere(world: &World, election: ElectionKey) {
    let all = set(&NODES);
    // Every node live, and each node in turn restarting (out of memberlist meanwhile).
    let mut memberships = vec![all.clone()];
    memberships.extend(NODES.iter().map(|gone| {
        let mut m = all.clone();
        m.remove(*gone);
        m
    }));
    let mut answered = 0;
    for members in &memberships {
        for upstream in rollouts() {
            let by_ip = world.answering(&upstream, members, election);
            for (s, (ip, nodes)) in world.services.iter().zip(by_ip) {
                let expected: BTreeSet<String> = upstream_owner(&s.key, &s.nodes, members)
                    .into_iter()
                    .collect();
                assert_eq!(
                    nodes, expected,
                    "{ip}: upstream nodes {upstream:?}, members {members:?}"
                );
                answered += usize::from(nodes.len() == 1);
            }
        }
    }
    assert!(answered > 0);
}

#[test]
fn v09_swap_keeps_every_owner_and_a_half_rolled_swap_has_one_owner_per_ip() {
    let key = v09_key();
    assert_eq!(key, ElectionKey::ServiceName);
    let world = World::new(fifty_services());
    let members = set(&NODES);
    let config = parse(CONFIG, Mode::NativeSpeaker).expect("valid");
    let mut owners = BTreeSet::new();
    for s in &world.services {
        let before = upstream_owner(&s.key, &s.nodes, &members).expect("an owner");
        let after: Vec<&str> = NODES
            .iter()
            .copied()
            .filter(|n| world.ours_announce(n, &s.key, key, &members, &config))
            .collect();
        assert_eq!(after, [before.as_str()], "{}", s.key);
        owners.insert(before);
    }
    assert_eq!(owners.len(), 3, "the services spread over all nodes");
    assert_upstream_owner_everywhere(&world, key);
}

#[test]
fn the_ip_rule_would_move_owners_of_a_v09_cluster() {
    // Why detection matters: the v0.11 rule on the same cluster moves some owners, so a
    // half-rolled swap would answer some IPs twice.
    let world = World::new(fifty_services());
    let members = set(&NODES);
    let upstream = set(&["node1"]);
    let doubled = world
        .answering(&upstream, &members, ElectionKey::FirstIp)
        .into_iter()
        .filter(|(_, n)| n.len() != 1)
        .count();
    assert!(doubled > 0, "some IP has two owners or none");
}

#[test]
fn endpoints_on_some_nodes_and_local_policy_follow_upstream_v09_too() {
    // Upstream v0.8–v0.10 elect among the nodes hosting a ready endpoint for Cluster as well
    // as Local services; the v0.11 rule would pick any live speaker for Cluster.
    let subsets: [&[&str]; 4] = [
        &["node1"],
        &["node2", "node3"],
        &["node1", "node3"],
        &["node3"],
    ];
    let services: Vec<Svc> = (0..40)
        .map(|i| Svc {
            key: format!("web/svc-{i}"),
            ip: format!("10.20.30.{}", i + 100),
            local: i % 3 == 0,
            nodes: set(subsets[i % subsets.len()]),
        })
        .collect();
    let world = World::new(services);
    assert_upstream_owner_everywhere(&world, ElectionKey::ServiceName);
}

#[test]
fn a_shared_ip_has_one_owner_under_the_service_name_key() {
    // Three services on one IP with different endpoint nodes: upstream v0.10 elected each on
    // its own, here they elect together, keyed by the smallest name among them.
    let ip = "10.20.30.200";
    let world = World::new(vec![
        Svc {
            key: "zeta/dns-udp".into(),
            ip: ip.into(),
            local: false,
            nodes: set(&["node1"]),
        },
        Svc {
            key: "alpha/dns-tcp".into(),
            ip: ip.into(),
            local: false,
            nodes: set(&["node2"]),
        },
        Svc {
            key: "mid/dns-admin".into(),
            ip: ip.into(),
            local: false,
            nodes: set(&["node3"]),
        },
    ]);
    let members = set(&NODES);
    let config = parse(CONFIG, Mode::NativeSpeaker).expect("valid");
    let expected = upstream_owner("alpha/dns-tcp", &members, &members).expect("an owner");
    for s in &world.services {
        let owners: Vec<&str> = NODES
            .iter()
            .copied()
            .filter(|n| world.ours_announce(n, &s.key, ElectionKey::ServiceName, &members, &config))
            .collect();
        assert_eq!(owners, [expected.as_str()], "{}", s.key);
    }
    // With the first node's speaker gone, the IP still has one owner for all three.
    let two = set(&["node2", "node3"]);
    let expected = upstream_owner("alpha/dns-tcp", &two, &two).expect("an owner");
    for s in &world.services {
        let owners: Vec<&str> = ["node2", "node3"]
            .into_iter()
            .filter(|n| world.ours_announce(n, &s.key, ElectionKey::ServiceName, &two, &config))
            .collect();
        assert_eq!(owners, [expected.as_str()], "{}", s.key);
    }
}

#[test]
fn a_service_alone_on_its_ip_elects_exactly_as_upstream_v010() {
    let members = set(&NODES);
    let config = parse(CONFIG, Mode::NativeSpeaker).expect("valid");
    for i in 0..30 {
        let nodes = set(&NODES[..1 + i % 3]);
        let key = format!("ns/solo-{i}");
        let world = World::new(vec![Svc {
            key: key.clone(),
            ip: format!("10.20.30.{i}"),
            local: false,
            nodes: nodes.clone(),
        }]);
        let ours: Vec<&str> = NODES
            .iter()
            .copied()
            .filter(|n| world.ours_announce(n, &key, ElectionKey::ServiceName, &members, &config))
            .collect();
        let theirs = upstream_owner(&key, &nodes, &members).expect("an owner");
        assert_eq!(ours, [theirs.as_str()], "{key}");
    }
}
