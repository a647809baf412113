//! Who uses each address, and the IP-sharing rules (docs/allocation.md#sharing-an-address).
//!
//! Two services may hold the same address iff both carry the same non-empty sharing key
//! (`metallb.universe.tf/allow-shared-ip`), the same backend key, and no common
//! (protocol, port). All holders of an address therefore carry one identical key, which
//! groups the shared addresses: one `Group` per key. An address's holders and ports are small
//! sorted vectors (usually one holder).
//!
//! # The "lowest acceptable shared address" query
//!
//! A service with a sharing key goes to the lowest address of a CIDR that is free *or*
//! already held by its group with none of its ports taken (upstream: first address whose
//! `checkSharing` passes). The free part is the CIDR index's job; this module answers the
//! shared part without scanning the group: for every port `p` used in a group, the group
//! keeps `blocked[p]`, the maximal runs of *consecutive group members* (consecutive in
//! address order among the members) on which `p` is taken. Looking for a member where none of
//! the ports `P` is taken, start at the lowest member in range; if some `p ∈ P` is taken
//! there, skip to the member after the end of that run in one step.
//!
//! The common cases are then O(log n): any number of services with one key and the same
//! port spread over as many addresses (one run), or a few services sharing one address.
//! Worst case: a query with several ports on members whose conflicts alternate between those
//! ports (`80` taken, `443` taken, `80` taken …) advances one member per run; the scan is
//! then linear in the number of such alternations below the answer, never in the CIDR size.
//!
//! Maintenance stays O(log n) per port: inserting member `x` between `a` and `b` can only
//! split runs that contained both `a` and `b`, i.e. of ports taken on both neighbours; and
//! removing `x` can only join runs of ports taken on both. So only the neighbours' ports are
//! visited, never every port of the group.

use std::collections::{BTreeMap, BTreeSet, HashMap, hash_map};
use std::fmt;
use std::net::IpAddr;
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::sync::Arc;

use super::error::{AllocError, SharingRule};

/// The protocol of a service port. Kubernetes allows only the first three; anything else is
/// kept as written so it still compares and prints like upstream's string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortProtocol {
    Tcp,
    Udp,
    Sctp,
    Other(Arc<str>),
}

impl PortProtocol {
    /// From the Service's `protocol` string (compared exactly, as Go compares strings).
    pub fn parse(s: &str) -> Self {
        match s {
            "TCP" => PortProtocol::Tcp,
            "UDP" => PortProtocol::Udp,
            "SCTP" => PortProtocol::Sctp,
            other => PortProtocol::Other(other.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            PortProtocol::Tcp => "TCP",
            PortProtocol::Udp => "UDP",
            PortProtocol::Sctp => "SCTP",
            PortProtocol::Other(s) => s,
        }
    }
}

/// One (protocol, port) a service exposes. `TCP/53` and `UDP/53` are different ports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    pub protocol: PortProtocol,
    pub port: i32,
}

impl Port {
    pub fn new(protocol: &str, port: i32) -> Self {
        Port {
            protocol: PortProtocol::parse(protocol),
            port,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol.as_str(), self.port)
    }
}

/// What a service asks of an address besides the address itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usage {
    /// `spec.ports` in order (the first conflicting one is the one reported).
    pub ports: Vec<Port>,
    /// `metallb.universe.tf/allow-shared-ip`; empty never shares.
    pub sharing_key: String,
    /// The selector `k1=v1,k2=v2` (sorted keys) under `externalTrafficPolicy: Local`, else empty.
    pub backend_key: String,
}

impl Usage {
    /// `sharingOK`: may a holder with `key` and this service share an address?
    fn may_share_with(&self, key: &ShareKey) -> bool {
        !key.sharing.is_empty()
            && self.sharing_key == key.sharing
            && self.backend_key == key.backend
    }

    /// The rule that keeps this service from sharing with a holder with `key` (only asked
    /// when [`Usage::may_share_with`] said no).
    fn refusal(&self, key: &ShareKey) -> SharingRule {
        if key.sharing.is_empty() {
            SharingRule::ExistingNotShared
        } else if self.sharing_key.is_empty() {
            SharingRule::NewNotShared
        } else if self.sharing_key != key.sharing {
            SharingRule::KeyMismatch {
                new: self.sharing_key.clone(),
                existing: key.sharing.clone(),
            }
        } else {
            SharingRule::BackendMismatch {
                new: self.backend_key.clone(),
                existing: key.backend.clone(),
            }
        }
    }

    fn is_key(&self, key: &ShareKey) -> bool {
        self.sharing_key == key.sharing && self.backend_key == key.backend
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
struct ShareKey {
    sharing: String,
    backend: String,
}

/// A service's claim on its addresses as the indexes keep it: built once per `assign`
/// and shared by every address it holds, so recording costs no copies.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    service: Arc<str>,
    key: Arc<ShareKey>,
    /// Sorted, without duplicates.
    ports: Arc<[Port]>,
}

impl Claim {
    /// The claim of `service` with `usage`, reusing the parts of `previous` that are equal
    /// (re-assigning an unchanged service then allocates nothing) and the key already
    /// interned by `sharing`.
    pub(crate) fn new(
        service: &str,
        usage: &Usage,
        previous: Option<&Claim>,
        sharing: &Sharing,
    ) -> Claim {
        let service = match previous {
            Some(p) if &*p.service == service => Arc::clone(&p.service),
            _ => Arc::from(service),
        };
        let key = match previous {
            Some(p) if usage.is_key(&p.key) => Arc::clone(&p.key),
            _ => sharing.intern(usage),
        };
        let sorted = usage.ports.windows(2).all(|w| matches!(w, [a, b] if a < b));
        let ports = match previous {
            Some(p) if sorted && *p.ports == *usage.ports => Arc::clone(&p.ports),
            _ if sorted => Arc::from(usage.ports.as_slice()),
            _ => {
                let mut ports = usage.ports.clone();
                ports.sort();
                ports.dedup();
                match previous {
                    Some(p) if *p.ports == *ports => Arc::clone(&p.ports),
                    _ => Arc::from(ports),
                }
            }
        };
        Claim {
            service,
            key,
            ports,
        }
    }

    pub(crate) fn service(&self) -> &Arc<str> {
        &self.service
    }
}

/// The holders of one in-use address.
#[derive(Debug, Clone)]
struct IpUse {
    /// Every holder's key (they are equal, or there is a single holder).
    key: Arc<ShareKey>,
    /// Sorted. Usually one; small vectors beat tree nodes here.
    holders: Vec<Arc<str>>,
    /// Sorted by port: which holder uses each port.
    ports: Vec<(Port, Arc<str>)>,
}

impl IpUse {
    fn port_holder(&self, port: &Port) -> Option<&Arc<str>> {
        self.ports
            .binary_search_by(|(p, _)| p.cmp(port))
            .ok()
            .and_then(|i| self.ports.get(i))
            .map(|(_, h)| h)
    }

    fn has_port(&self, port: &Port) -> bool {
        self.port_holder(port).is_some()
    }
}

/// The addresses held under one shareable key, and per port the runs of consecutive members
/// on which that port is taken (module docs).
#[derive(Debug, Clone, Default)]
struct Group {
    members: BTreeSet<IpAddr>,
    blocked: HashMap<Port, BTreeMap<IpAddr, IpAddr>>,
}

/// Holders of every in-use address plus the sharing groups.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sharing {
    ips: HashMap<IpAddr, IpUse>,
    groups: HashMap<Arc<ShareKey>, Group>,
    /// The key of services that do not share (empty sharing and backend keys).
    unshared: Arc<ShareKey>,
}

impl Sharing {
    /// One `Arc` per distinct key in use: the unshared key, a group's key, or a new one.
    fn intern(&self, usage: &Usage) -> Arc<ShareKey> {
        if usage.is_key(&self.unshared) {
            return Arc::clone(&self.unshared);
        }
        let key = ShareKey {
            sharing: usage.sharing_key.clone(),
            backend: usage.backend_key.clone(),
        };
        match self.groups.get_key_value(&key) {
            Some((interned, _)) => Arc::clone(interned),
            None => Arc::new(key),
        }
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        self.ips.reserve(additional);
    }

    pub(crate) fn is_used(&self, ip: IpAddr) -> bool {
        self.ips.contains_key(&ip)
    }

    /// Services holding `ip`, sorted.
    pub(crate) fn holders(&self, ip: IpAddr) -> Vec<&str> {
        self.ips
            .get(&ip)
            .map(|u| u.holders.iter().map(|h| &**h).collect())
            .unwrap_or_default()
    }

    /// Number of addresses in use.
    pub(crate) fn len(&self) -> usize {
        self.ips.len()
    }

    /// `checkSharing`: may `service` use `ip` alongside its current holders?
    pub(crate) fn check(&self, service: &str, ip: IpAddr, usage: &Usage) -> Result<(), AllocError> {
        let Some(used) = self.ips.get(&ip) else {
            return Ok(());
        };
        if !usage.may_share_with(&used.key) {
            // Incompatible keys are fine when the only holder is this service itself: its
            // key changes in place.
            let others: Vec<String> = used
                .holders
                .iter()
                .filter(|h| &***h != service)
                .map(|h| h.to_string())
                .collect();
            if !others.is_empty() {
                return Err(AllocError::SharingKey {
                    service: service.to_owned(),
                    others,
                    rule: usage.refusal(&used.key),
                });
            }
        }
        for port in &usage.ports {
            if let Some(holder) = used.port_holder(port).filter(|h| &***h != service) {
                return Err(AllocError::PortInUse {
                    port: port.clone(),
                    ip,
                    holder: holder.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Records `claim` on `ip` (after `check` passed and the service's previous holdings
    /// were removed). Returns whether the address was free before.
    pub(crate) fn add(&mut self, claim: &Claim, ip: IpAddr) -> bool {
        let was_free = !self.ips.contains_key(&ip);
        let used = self.ips.entry(ip).or_insert_with(|| IpUse {
            key: Arc::clone(&claim.key),
            holders: Vec::with_capacity(1),
            ports: Vec::with_capacity(claim.ports.len()),
        });
        if let Err(at) = used.holders.binary_search(&claim.service) {
            used.holders.insert(at, Arc::clone(&claim.service));
        }
        let grouped = !claim.key.sharing.is_empty();
        let mut new_ports = Vec::new();
        for port in claim.ports.iter() {
            if let Err(at) = used.ports.binary_search_by(|(p, _)| p.cmp(port)) {
                used.ports
                    .insert(at, (port.clone(), Arc::clone(&claim.service)));
                if grouped {
                    new_ports.push(port);
                }
            }
        }
        if !grouped {
            return was_free;
        }
        let group = self.groups.entry(Arc::clone(&claim.key)).or_default();
        if was_free {
            group.insert_member(ip, &self.ips);
        }
        for port in new_ports {
            group.block(port.clone(), ip);
        }
        was_free
    }

    /// Removes `claim` from `ip`. Returns whether the address is free now.
    pub(crate) fn remove(&mut self, claim: &Claim, ip: IpAddr) -> bool {
        let Some(used) = self.ips.get_mut(&ip) else {
            return false;
        };
        let Ok(at) = used.holders.binary_search(&claim.service) else {
            return false;
        };
        used.holders.remove(at);
        let grouped = !used.key.sharing.is_empty();
        let mut freed_ports = Vec::new();
        used.ports.retain(|(port, holder)| {
            let mine = *holder == claim.service;
            if mine && grouped {
                freed_ports.push(port.clone());
            }
            !mine
        });
        let now_free = used.holders.is_empty();
        let key = Arc::clone(&used.key);
        if now_free {
            self.ips.remove(&ip);
        }
        if key.sharing.is_empty() {
            return now_free;
        }
        if let hash_map::Entry::Occupied(mut slot) = self.groups.entry(key) {
            let group = slot.get_mut();
            for port in freed_ports {
                group.unblock(&port, ip);
            }
            if now_free {
                group.remove_member(ip, &self.ips);
                if group.members.is_empty() {
                    slot.remove();
                }
            }
        }
        now_free
    }

    /// The lowest address in `[lo, hi]` held by the group of `usage` on which none of its
    /// ports is taken (module docs). `None` for services that do not share.
    pub(crate) fn lowest_shareable(&self, usage: &Usage, lo: IpAddr, hi: IpAddr) -> Option<IpAddr> {
        if usage.sharing_key.is_empty() || lo > hi {
            return None;
        }
        let key = ShareKey {
            sharing: usage.sharing_key.clone(),
            backend: usage.backend_key.clone(),
        };
        let group = self.groups.get(&key)?;
        let mut candidate = *group.members.range(lo..=hi).next()?;
        'scan: loop {
            for port in &usage.ports {
                if let Some(end) = group.run_end(port, candidate) {
                    if end >= hi {
                        return None;
                    }
                    candidate = *group.members.range((Excluded(end), Included(hi))).next()?;
                    continue 'scan;
                }
            }
            return Some(candidate);
        }
    }
}

impl Group {
    fn pred(&self, x: IpAddr) -> Option<IpAddr> {
        self.members.range(..x).next_back().copied()
    }

    fn succ(&self, x: IpAddr) -> Option<IpAddr> {
        self.members.range((Excluded(x), Unbounded)).next().copied()
    }

    /// End of the run of `port` that contains member `x`, if `port` is taken on `x`.
    fn run_end(&self, port: &Port, x: IpAddr) -> Option<IpAddr> {
        let runs = self.blocked.get(port)?;
        let (_, end) = runs.range(..=x).next_back()?;
        (*end >= x).then_some(*end)
    }

    /// Adds member `x` (no ports yet): runs that went from its predecessor to its successor
    /// now have a member without their port in the middle, so they split around `x`.
    fn insert_member(&mut self, x: IpAddr, ips: &HashMap<IpAddr, IpUse>) {
        let (pred, succ) = (self.pred(x), self.succ(x));
        self.members.insert(x);
        let (Some(a), Some(b)) = (pred, succ) else {
            return;
        };
        for port in common_ports(ips, a, b) {
            let Some(runs) = self.blocked.get_mut(&port) else {
                continue;
            };
            let Some((&start, &end)) = runs.range(..=a).next_back() else {
                continue;
            };
            if end >= b {
                runs.insert(start, a);
                runs.insert(b, end);
            }
        }
    }

    /// Removes member `x` (no ports left): its neighbours become adjacent, so runs of ports
    /// taken on both join.
    fn remove_member(&mut self, x: IpAddr, ips: &HashMap<IpAddr, IpUse>) {
        self.members.remove(&x);
        let (Some(a), Some(b)) = (self.pred(x), self.succ(x)) else {
            return;
        };
        for port in common_ports(ips, a, b) {
            let Some(runs) = self.blocked.get_mut(&port) else {
                continue;
            };
            let left = runs.range(..=a).next_back().map(|(s, e)| (*s, *e));
            if let (Some((start, a_end)), Some(end)) = (left, runs.get(&b).copied())
                && a_end == a
            {
                runs.remove(&b);
                runs.insert(start, end);
            }
        }
    }

    /// `port` is now taken on member `x`.
    fn block(&mut self, port: Port, x: IpAddr) {
        let (pred, succ) = (self.pred(x), self.succ(x));
        let runs = self.blocked.entry(port).or_default();
        let (mut start, mut end) = (x, x);
        if let Some(a) = pred
            && let Some((&s, &e)) = runs.range(..x).next_back()
            && e == a
        {
            runs.remove(&s);
            start = s;
        }
        if let Some(b) = succ
            && let Some(e) = runs.remove(&b)
        {
            end = e;
        }
        runs.insert(start, end);
    }

    /// `port` is no longer taken on member `x`.
    fn unblock(&mut self, port: &Port, x: IpAddr) {
        let (pred, succ) = (self.pred(x), self.succ(x));
        let Some(runs) = self.blocked.get_mut(port) else {
            return;
        };
        let Some((&start, &end)) = runs.range(..=x).next_back() else {
            return;
        };
        if end < x {
            return;
        }
        runs.remove(&start);
        if start < x
            && let Some(a) = pred
        {
            runs.insert(start, a);
        }
        if x < end
            && let Some(b) = succ
        {
            runs.insert(b, end);
        }
        if runs.is_empty() {
            self.blocked.remove(port);
        }
    }
}

/// Ports taken on both `a` and `b`.
fn common_ports(ips: &HashMap<IpAddr, IpUse>, a: IpAddr, b: IpAddr) -> Vec<Port> {
    let (Some(ua), Some(ub)) = (ips.get(&a), ips.get(&b)) else {
        return Vec::new();
    };
    let (small, large) = if ua.ports.len() <= ub.ports.len() {
        (ua, ub)
    } else {
        (ub, ua)
    };
    small
        .ports
        .iter()
        .map(|(p, _)| p)
        .filter(|p| large.has_port(p))
        .cloned()
        .collect()
}
