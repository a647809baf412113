//! Upstream's per-service procedure (`SetBalancer` in `speaker/main.go`,
//! docs/speaker.md#the-per-service-decision) and both `ShouldAnnounce`s (Layer 2:
//! docs/layer2.md#election; BGP: docs/speaker.md#the-per-service-decision).
//!
//! Deliberate differences from upstream (docs/speaker.md#live-speakers,
//! docs/layer2.md#shared-ips): the live-speaker set is supplied by the caller, which falls back
//! to ready speaker pods when memberlist is disabled (upstream announces nothing then,
//! issue #2005); nodes labelled `node.kubernetes.io/exclude-from-external-load-balancers` never
//! announce and are never elected. The Layer 2 election follows the rule of the release the
//! cluster was installed from ([`ElectionKey`]); under the v0.8 to v0.10 rule the services
//! sharing an IP elect as one (upstream elected them separately, so a shared IP could have two
//! owners).

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use super::endpoints::{Endpoint, Readiness};
use crate::config::{Config, Pool, Protocol};
use crate::l2::election::{ElectionKey, key_text, owner};

/// A service as the speaker sees it.
#[derive(Debug, Clone, Copy)]
pub struct SpeakerService<'a> {
    pub key: &'a str,
    pub is_load_balancer: bool,
    /// `status.loadBalancer.ingress[].ip`, `None` for entries without one.
    pub ingress: &'a [Option<String>],
    /// `externalTrafficPolicy: Local`.
    pub local: bool,
    /// `None` when no Endpoints object / EndpointSlice exists for the service: upstream then
    /// treats the service as deleted.
    pub endpoints: Option<&'a [Endpoint]>,
    /// The other LoadBalancer services whose first status IP is this one's. Read only under
    /// [`ElectionKey::ServiceName`] (the caller may leave it empty otherwise); empty for a
    /// service alone on its IP.
    pub shared_with: &'a [IpSharer],
}

impl<'a> SpeakerService<'a> {
    /// The same service, sharing its first IP with `others`.
    pub fn sharing(self, others: &'a [IpSharer]) -> Self {
        SpeakerService {
            shared_with: others,
            ..self
        }
    }
}

/// Another service holding the same first status IP, as a service-name election needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSharer {
    /// `namespace/name`.
    pub key: String,
    /// Nodes hosting a ready endpoint of it.
    pub ready_nodes: BTreeSet<String>,
}

/// Which nodes run a live speaker, as far as this speaker can know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live<'a> {
    /// memberlist members (alive or suspect), or the nodes of Ready speaker pods when
    /// memberlist is disabled.
    Known(&'a BTreeSet<String>),
    /// Neither: no memberlist, and the RBAC may not list pods (v0.8.x installs). Every node
    /// counts as live and, as MetalLB v0.8 elected, the Layer 2 candidates are the nodes
    /// hosting a ready endpoint, whatever the traffic policy.
    Unknown,
}

impl Live<'_> {
    fn contains(&self, node: &str) -> bool {
        match self {
            Live::Known(set) => set.contains(node),
            Live::Unknown => true,
        }
    }
}

/// What this speaker knows about the cluster.
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    pub node: &'a str,
    pub config: Option<&'a Config>,
    /// Live speakers.
    pub live: Live<'a>,
    /// Nodes labelled `node.kubernetes.io/exclude-from-external-load-balancers`.
    pub excluded: &'a BTreeSet<String>,
    /// The Layer 2 election rule every speaker of the cluster must share.
    pub election: ElectionKey,
}

/// Why this node does not announce a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    ServiceDeleted,
    NotLoadBalancer,
    NoIpAllocated,
    InvalidIp,
    /// The status IPs are in no pool (as a whole): the controller's own refusal text, so
    /// `/status` and the Service's `AllocationFailed` Event read the same.
    IpNotAllowed(String),
    /// Layer 2: another node (or none) won the election.
    NotOwner {
        owner: Option<String>,
    },
    NoLocalEndpoints,
    NoEndpoints,
    NodeExcluded,
    /// BGP: the verdict is to announce, but no configured peer selects this node, so no
    /// route leaves it. `decide` never returns it (upstream counts such a service as
    /// announced, and so do our metrics); `/status` reports it.
    NoPeerSelected,
}

impl Reason {
    /// The `reason` value upstream logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::ServiceDeleted => "serviceDeleted",
            Reason::NotLoadBalancer => "notLoadBalancer",
            Reason::NoIpAllocated => "noIPAllocated",
            Reason::InvalidIp => "invalidIP",
            Reason::IpNotAllowed(_) => "ipNotAllowed",
            Reason::NotOwner { .. } => "notOwner",
            Reason::NoLocalEndpoints => "noLocalEndpoints",
            Reason::NoEndpoints => "noEndpoints",
            Reason::NodeExcluded => "nodeExcluded",
            Reason::NoPeerSelected => "noPeerSelected",
        }
    }
}

impl fmt::Display for Reason {
    /// A sentence for operators (`/status`, Events).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ServiceDeleted => {
                f.write_str("service deleted, or it has no Endpoints/EndpointSlice")
            }
            Reason::NotLoadBalancer => f.write_str("not a LoadBalancer service"),
            Reason::NoIpAllocated => f.write_str("no IP allocated yet"),
            Reason::InvalidIp => f.write_str("status holds an entry that is not an IP address"),
            Reason::IpNotAllowed(why) => f.write_str(why),
            Reason::NotOwner { owner: Some(o) } => {
                write!(f, "not the owner: the owner is node {o:?}")
            }
            Reason::NotOwner { owner: None } => f.write_str(
                "no node can announce: no live speaker is a candidate (Local: none hosts a ready endpoint)",
            ),
            Reason::NoLocalEndpoints => {
                f.write_str("externalTrafficPolicy Local and no ready endpoint on this node")
            }
            Reason::NoEndpoints => f.write_str("no ready endpoints"),
            Reason::NodeExcluded => f.write_str(
                "node is labelled node.kubernetes.io/exclude-from-external-load-balancers",
            ),
            Reason::NoPeerSelected => f.write_str(
                "no BGP peer selects this node (peers' node-selectors), nothing is advertised",
            ),
        }
    }
}

/// The outcome for one service on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'c> {
    /// No configuration loaded yet: leave the service as it is.
    NoConfig,
    Withdraw(Reason),
    Announce {
        protocol: Protocol,
        ips: Vec<IpAddr>,
        pool: &'c Pool,
    },
}

/// Decides whether this node announces `svc`, following the steps of
/// docs/speaker.md#the-per-service-decision.
pub fn decide<'c>(svc: &SpeakerService<'_>, cluster: &Cluster<'c>) -> Verdict<'c> {
    let Some(endpoints) = svc.endpoints else {
        return Verdict::Withdraw(Reason::ServiceDeleted);
    };
    if !svc.is_load_balancer {
        return Verdict::Withdraw(Reason::NotLoadBalancer);
    }
    let Some(config) = cluster.config else {
        return Verdict::NoConfig;
    };
    if svc.ingress.is_empty() {
        return Verdict::Withdraw(Reason::NoIpAllocated);
    }
    let mut ips = Vec::with_capacity(svc.ingress.len());
    for entry in svc.ingress {
        match entry.as_deref().and_then(crate::config::parse_ip) {
            Some(ip) => ips.push(ip),
            None => return Verdict::Withdraw(Reason::InvalidIp),
        }
    }
    let Some(pool) = config.pool_containing_all(&ips) else {
        let why = crate::allocator::not_allowed(config.pools.iter(), &ips, false);
        return Verdict::Withdraw(Reason::IpNotAllowed(why.to_string()));
    };
    if cluster.excluded.contains(cluster.node) {
        return Verdict::Withdraw(Reason::NodeExcluded);
    }
    let ready = Readiness::of(endpoints);
    let refusal = match pool.protocol {
        Protocol::Layer2 => layer2_refusal(svc, &ips, &ready, cluster),
        Protocol::Bgp => bgp_refusal(svc, &ready, cluster),
    };
    match refusal {
        Some(reason) => Verdict::Withdraw(reason),
        None => Verdict::Announce {
            protocol: pool.protocol,
            ips,
            pool,
        },
    }
}

/// Layer 2: elect among the candidates (see [`elect`]).
fn layer2_refusal(
    svc: &SpeakerService<'_>,
    ips: &[IpAddr],
    ready: &Readiness,
    cluster: &Cluster<'_>,
) -> Option<Reason> {
    if !ready.any_ready {
        return Some(Reason::NoEndpoints);
    }
    match elect(svc, ips, ready, cluster) {
        Some(o) if o == cluster.node => None,
        o => Some(Reason::NotOwner {
            owner: o.map(str::to_owned),
        }),
    }
}

/// The winner among live, non-excluded speakers, whichever node asks: the smallest
/// `SHA-256(node + "#" + key)`. Candidates: for `Local`, the nodes hosting a ready endpoint;
/// for `Cluster`, every live speaker under [`ElectionKey::FirstIp`], and under
/// [`ElectionKey::ServiceName`] the nodes hosting a ready endpoint of the service or of one
/// sharing its IP (upstream v0.8 to v0.10 elected among endpoint nodes whatever the policy;
/// the union keeps one owner per shared IP).
fn elect<'a>(
    svc: &SpeakerService<'a>,
    ips: &[IpAddr],
    ready: &'a Readiness,
    cluster: &Cluster<'a>,
) -> Option<&'a str> {
    if !ready.any_ready {
        return None;
    }
    let first_ip = *ips.first()?;
    let eligible = |n: &&str| cluster.live.contains(n) && !cluster.excluded.contains(*n);
    let own_ready = ready.ready_nodes.iter().map(String::as_str);
    let candidates: BTreeSet<&str> = match (svc.local, cluster.election, cluster.live) {
        (true, _, _) => own_ready.filter(eligible).collect(),
        (false, ElectionKey::FirstIp, Live::Known(live)) => {
            live.iter().map(String::as_str).filter(eligible).collect()
        }
        // v0.8–v0.10's candidates, and the only ones a speaker without a live list has.
        (false, ElectionKey::ServiceName, _) | (false, _, Live::Unknown) => own_ready
            .chain(
                svc.shared_with
                    .iter()
                    .flat_map(|s| s.ready_nodes.iter().map(String::as_str)),
            )
            .filter(eligible)
            .collect(),
    };
    let name = svc
        .shared_with
        .iter()
        .map(|s| s.key.as_str())
        .fold(svc.key, |a, b| a.min(b));
    let key = key_text(cluster.election, first_ip, name);
    owner(candidates, &key)
}

/// The node that owns `svc` in Layer 2 mode as this speaker computes it, whether or not
/// this node takes part (it may be excluded): what `/status` shows as the owner. `None` when
/// the service is not a Layer 2 service with valid IPs, or no node is a candidate.
pub fn layer2_owner(svc: &SpeakerService<'_>, cluster: &Cluster<'_>) -> Option<String> {
    let endpoints = svc.endpoints?;
    let config = cluster.config?;
    if !svc.is_load_balancer || svc.ingress.is_empty() {
        return None;
    }
    let ips: Vec<IpAddr> = svc
        .ingress
        .iter()
        .map(|e| e.as_deref().and_then(crate::config::parse_ip))
        .collect::<Option<_>>()?;
    let pool = config.pool_containing_all(&ips)?;
    if pool.protocol != Protocol::Layer2 {
        return None;
    }
    let ready = Readiness::of(endpoints);
    elect(svc, &ips, &ready, cluster).map(str::to_owned)
}

/// BGP (upstream's `bgpController.ShouldAnnounce`): `Local` needs a ready endpoint here; any
/// policy needs one somewhere.
fn bgp_refusal(
    svc: &SpeakerService<'_>,
    ready: &Readiness,
    cluster: &Cluster<'_>,
) -> Option<Reason> {
    if svc.local && !ready.ready_address_nodes.contains(cluster.node) {
        return Some(Reason::NoLocalEndpoints);
    }
    if !ready.any_address_ready {
        return Some(Reason::NoEndpoints);
    }
    None
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "swap_tests.rs"]
mod swap_tests;
