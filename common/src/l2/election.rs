//! Which node answers for a service IP in Layer 2 mode (docs/layer2.md#election).
//!
//! Every speaker computes the same ordering from the same inputs, so exactly one of them
//! believes it is the owner without any coordination beyond the shared candidate list. The
//! key hashed with each node name is the first status IP (v0.11+), or the service's
//! `namespace/name` (v0.8 to v0.10): see [`ElectionKey`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::gotext;
pub use crate::l2::election_key::ElectionKey;

/// The `externalTrafficPolicy` of a service, as far as the election cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficPolicy {
    /// `Cluster` or unset: any live speaker may answer.
    Cluster,
    /// `Local`: only nodes hosting a ready endpoint may answer.
    Local,
}

/// What the election needs to know about a service and the cluster.
#[derive(Debug, Clone, Copy)]
pub struct ElectionInput<'a> {
    pub policy: TrafficPolicy,
    /// The service's status IPs; the first one is the election key.
    pub ips: &'a [IpAddr],
    /// Whether any endpoint of the service is ready, on any node or on none.
    pub has_ready_endpoint: bool,
    /// Nodes hosting at least one ready endpoint (node-level readiness,
    /// docs/speaker.md#endpoint-readiness).
    pub ready_nodes: &'a BTreeSet<String>,
    /// memberlist members (alive or suspect), or `None` when memberlist is disabled.
    pub members: Option<&'a BTreeSet<String>>,
}

/// Why this node does not announce; the text is the `reason` upstream logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAnnouncing {
    #[error("notOwner")]
    NotOwner,
}

/// The election key of a service: the Go text form of its first status IP.
pub fn election_key(first_ip: IpAddr) -> String {
    gotext::ip_string(first_ip)
}

/// The string hashed after `node#` under `key`: the Go text of `first_ip`
/// ([`ElectionKey::FirstIp`]), or `service`, a `namespace/name` ([`ElectionKey::ServiceName`];
/// for an IP several services hold, the smallest of their names, so they agree).
pub fn key_text(key: ElectionKey, first_ip: IpAddr, service: &str) -> String {
    match key {
        ElectionKey::FirstIp => election_key(first_ip),
        ElectionKey::ServiceName => service.to_owned(),
    }
}

/// The candidates, best first: ascending by `SHA-256(node + "#" + key)`. Duplicate names
/// count once.
pub fn ranked<'a>(candidates: impl IntoIterator<Item = &'a str>, key: &str) -> Vec<&'a str> {
    let mut scored: Vec<([u8; 32], &str)> = candidates
        .into_iter()
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .map(|node| (score(node, key), node))
        .collect();
    scored.sort_unstable();
    scored.into_iter().map(|(_, node)| node).collect()
}

/// The owner among `candidates` for `key`, or `None` when there are no candidates.
pub fn owner<'a>(candidates: impl IntoIterator<Item = &'a str>, key: &str) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|node| (score(node, key), node))
        .min()
        .map(|(_, node)| node)
}

/// Upstream's `layer2Controller.ShouldAnnounce`, quirks included, kept as the reference the
/// election tests compare against. The speaker does not call it: it decides with
/// `common::speaker::decide`, which passes ready speaker pods as the candidates when memberlist
/// is off (upstream's quirk below, issue #2005, is one we fix on purpose:
/// docs/layer2.md#candidates) and skips excluded nodes.
pub fn should_announce(my_node: &str, input: &ElectionInput<'_>) -> Result<(), NotAnnouncing> {
    let Some(&first_ip) = input.ips.first() else {
        return Err(NotAnnouncing::NotOwner);
    };
    if !input.has_ready_endpoint {
        return Err(NotAnnouncing::NotOwner);
    }
    let key = election_key(first_ip);
    // Quirk kept from upstream (issue #2005): with memberlist disabled, Cluster has no
    // candidates at all, so nobody announces.
    let winner = match (input.policy, input.members) {
        (TrafficPolicy::Local, None) => owner(input.ready_nodes.iter().map(String::as_str), &key),
        (TrafficPolicy::Local, Some(members)) => owner(
            input
                .ready_nodes
                .iter()
                .filter(|n| members.contains(*n))
                .map(String::as_str),
            &key,
        ),
        (TrafficPolicy::Cluster, None) => None,
        (TrafficPolicy::Cluster, Some(members)) => owner(members.iter().map(String::as_str), &key),
    };
    if winner == Some(my_node) {
        Ok(())
    } else {
        Err(NotAnnouncing::NotOwner)
    }
}

fn score(node: &str, key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(node.as_bytes());
    h.update(b"#");
    h.update(key.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn hex_prefix(node: &str, key: &str) -> String {
        score(node, key)[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hashes_match_upstream_test_vectors() {
        // The vectors of upstream's `TestShouldAnnounce` (speaker/layer2_controller_test.go).
        assert_eq!(hex_prefix("iris1", "10.20.30.1"), "e42ad61a4159fa2d");
        assert_eq!(hex_prefix("iris2", "10.20.30.1"), "af6cb4e7605814d2");
        assert_eq!(hex_prefix("iris1", "10.20.30.2"), "610c5b6d22f60ca5");
        assert_eq!(hex_prefix("iris2", "10.20.30.2"), "6429fb4c07eeae89");
    }

    #[test]
    fn owner_follows_the_table() {
        assert_eq!(owner(["iris1", "iris2"], "10.20.30.1"), Some("iris2"));
        assert_eq!(owner(["iris2", "iris1"], "10.20.30.2"), Some("iris1"));
        assert_eq!(
            ranked(["iris1", "iris2", "iris1"], "10.20.30.1"),
            vec!["iris2", "iris1"]
        );
        assert_eq!(owner([], "10.20.30.1"), None);
    }

    /// SHA-256 prefixes computed independently (Python `hashlib.sha256(b"node1#default/web")`),
    /// and the node each service goes to among node1..node3 (the smallest digest).
    #[test]
    fn service_name_ranking_matches_independent_digests() {
        let vectors = [
            (
                "default/web",
                ["211ce4074b5be49c", "945b3de57104af0e", "18d64acf5e2b152f"],
                "node3",
            ),
            (
                "kube-system/dns",
                ["9d4f38171ae8f5ed", "e03ec8b5c0c0944f", "a7fbb9a8b14d2fa8"],
                "node1",
            ),
            (
                "shop/frontend",
                ["ac1c80077b87cfbf", "05ac50d351cae339", "f1c0a180a7e28343"],
                "node2",
            ),
            (
                "a/x",
                ["f35a7fb233cf6c29", "e101aaaaafc1151d", "5e3e7fb4dcd07931"],
                "node3",
            ),
        ];
        let ip = IpAddr::V4(Ipv4Addr::new(10, 20, 30, 1));
        for (svc, digests, winner) in vectors {
            let key = key_text(ElectionKey::ServiceName, ip, svc);
            assert_eq!(key, svc);
            for (node, digest) in ["node1", "node2", "node3"].iter().zip(digests) {
                assert_eq!(hex_prefix(node, &key), digest, "{node}#{svc}");
            }
            assert_eq!(owner(["node1", "node2", "node3"], &key), Some(winner));
            assert_eq!(
                ranked(["node3", "node2", "node1"], &key)[0],
                winner,
                "{svc}"
            );
        }
        // The IP key is untouched by the new rule.
        assert_eq!(key_text(ElectionKey::FirstIp, ip, "a/x"), "10.20.30.1");
        assert_eq!(
            hex_prefix("iris1", &key_text(ElectionKey::FirstIp, ip, "a/x")),
            "e42ad61a4159fa2d"
        );
    }

    #[test]
    fn key_is_go_text_of_first_ip() {
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 20, 30, 1).to_ipv6_mapped());
        assert_eq!(election_key(mapped), "10.20.30.1");
        let v6: IpAddr = "2001:db8:0:0:1:0:0:1".parse().unwrap();
        assert_eq!(election_key(v6), "2001:db8::1:0:0:1");
    }

    #[test]
    fn cluster_policy_elects_exactly_one_of_two_speakers_per_ip() {
        // TestClusterPolicy: 10.20.30.1–255, two services per IP, two speakers.
        let members = set(&["iris1", "iris2"]);
        let ready = set(&["iris1"]);
        let mut wins = [0usize; 2];
        for last in 1..=255u8 {
            let ips = [IpAddr::V4(Ipv4Addr::new(10, 20, 30, last))];
            let input = ElectionInput {
                policy: TrafficPolicy::Cluster,
                ips: &ips,
                has_ready_endpoint: true,
                ready_nodes: &ready,
                members: Some(&members),
            };
            let verdicts: Vec<bool> = ["iris1", "iris2"]
                .iter()
                .map(|n| should_announce(n, &input).is_ok())
                .collect();
            assert_eq!(verdicts.iter().filter(|v| **v).count(), 1, "ip .{last}");
            // A second service on the same IP elects the same node.
            let second = ElectionInput {
                ready_nodes: &members,
                ..input
            };
            for (i, n) in ["iris1", "iris2"].iter().enumerate() {
                assert_eq!(should_announce(n, &second).is_ok(), verdicts[i]);
                if verdicts[i] {
                    wins[i] += 1;
                }
            }
        }
        assert!(wins[0] > 0 && wins[1] > 0, "{wins:?}");
    }

    #[test]
    fn local_policy_only_considers_nodes_with_ready_endpoints() {
        let ips = [IpAddr::V4(Ipv4Addr::new(10, 20, 30, 1))];
        // iris2 would win 10.20.30.1 but has no endpoint.
        let ready = set(&["iris1"]);
        let members = set(&["iris1", "iris2"]);
        let input = ElectionInput {
            policy: TrafficPolicy::Local,
            ips: &ips,
            has_ready_endpoint: true,
            ready_nodes: &ready,
            members: Some(&members),
        };
        assert_eq!(should_announce("iris1", &input), Ok(()));
        assert_eq!(
            should_announce("iris2", &input),
            Err(NotAnnouncing::NotOwner)
        );
        // A ready node that is not a memberlist member is dropped.
        let only2 = set(&["iris2"]);
        let input = ElectionInput {
            members: Some(&only2),
            ..input
        };
        assert_eq!(
            should_announce("iris1", &input),
            Err(NotAnnouncing::NotOwner)
        );
        // memberlist disabled: endpoint nodes alone decide.
        let input = ElectionInput {
            members: None,
            ..input
        };
        assert_eq!(should_announce("iris1", &input), Ok(()));
    }

    #[test]
    fn cluster_without_memberlist_announces_nowhere() {
        let ips = [IpAddr::V6(Ipv6Addr::LOCALHOST)];
        let ready = set(&["iris1"]);
        let input = ElectionInput {
            policy: TrafficPolicy::Cluster,
            ips: &ips,
            has_ready_endpoint: true,
            ready_nodes: &ready,
            members: None,
        };
        assert_eq!(
            should_announce("iris1", &input),
            Err(NotAnnouncing::NotOwner)
        );
    }

    #[test]
    fn no_ready_endpoint_or_no_ip_means_not_owner() {
        let members = set(&["iris1"]);
        let ips = [IpAddr::V4(Ipv4Addr::new(10, 20, 30, 1))];
        let input = ElectionInput {
            policy: TrafficPolicy::Cluster,
            ips: &ips,
            has_ready_endpoint: false,
            ready_nodes: &members,
            members: Some(&members),
        };
        assert_eq!(
            should_announce("iris1", &input),
            Err(NotAnnouncing::NotOwner)
        );
        let input = ElectionInput {
            has_ready_endpoint: true,
            ips: &[],
            ..input
        };
        assert_eq!(
            should_announce("iris1", &input),
            Err(NotAnnouncing::NotOwner)
        );
    }
}
