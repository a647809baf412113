//! Who uses each address, and the IP-sharing rules of spec §3.5.
//!
//! Two services may hold the same address iff both carry the same non-empty sharing key
//! (`metallb.universe.tf/allow-shared-ip`), the same backend key, and no common
//! (protocol, port). All holders of an address therefore carry one identical key, which
//! groups the shared addresses: a [`Group`] per key.
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

use std::collections::{BTreeMap, BTreeSet, HashMap, btree_map, hash_map};
use std::fmt;
use std::net::IpAddr;
use std::ops::Bound::{Excluded, Included, Unbounded};

use super::error::AllocError;

/// One (protocol, port) a service exposes. `TCP/53` and `UDP/53` are different ports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    /// `TCP`, `UDP` or `SCTP`, as in the Service.
    pub protocol: String,
    pub port: i32,
}

impl Port {
    pub fn new(protocol: impl Into<String>, port: i32) -> Self {
        Port {
            protocol: protocol.into(),
            port,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol, self.port)
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
    fn key(&self) -> ShareKey {
        ShareKey {
            sharing: self.sharing_key.clone(),
            backend: self.backend_key.clone(),
        }
    }

    /// `sharingOK`: may a holder with `key` and this service share an address?
    fn may_share_with(&self, key: &ShareKey) -> bool {
        !key.sharing.is_empty()
            && self.sharing_key == key.sharing
            && self.backend_key == key.backend
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ShareKey {
    sharing: String,
    backend: String,
}

/// The holders of one in-use address.
#[derive(Debug, Clone)]
struct IpUse {
    /// Every holder's key (they are equal, or there is a single holder).
    key: ShareKey,
    holders: BTreeSet<String>,
    ports: BTreeMap<Port, String>,
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
    groups: HashMap<ShareKey, Group>,
}

impl Sharing {
    pub(crate) fn is_used(&self, ip: IpAddr) -> bool {
        self.ips.contains_key(&ip)
    }

    /// Services holding `ip`, sorted.
    pub(crate) fn holders(&self, ip: IpAddr) -> Vec<&str> {
        self.ips
            .get(&ip)
            .map(|u| u.holders.iter().map(String::as_str).collect())
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
                .filter(|h| h.as_str() != service)
                .cloned()
                .collect();
            if !others.is_empty() {
                return Err(AllocError::SharingKey {
                    service: service.to_owned(),
                    others,
                });
            }
        }
        for port in &usage.ports {
            if used.ports.get(port).is_some_and(|holder| holder != service) {
                return Err(AllocError::PortInUse {
                    port: port.clone(),
                    ip,
                });
            }
        }
        Ok(())
    }

    /// Records `service` on `ip` (after `check` passed and the service's previous holdings
    /// were removed). Returns whether the address was free before.
    pub(crate) fn add(&mut self, service: &str, ip: IpAddr, usage: &Usage) -> bool {
        let key = usage.key();
        let was_free = !self.ips.contains_key(&ip);
        let used = self.ips.entry(ip).or_insert_with(|| IpUse {
            key: key.clone(),
            holders: BTreeSet::new(),
            ports: BTreeMap::new(),
        });
        used.holders.insert(service.to_owned());
        let mut new_ports = Vec::new();
        for port in &usage.ports {
            if let btree_map::Entry::Vacant(slot) = used.ports.entry(port.clone()) {
                slot.insert(service.to_owned());
                new_ports.push(port.clone());
            }
        }
        if key.sharing.is_empty() {
            return was_free;
        }
        let group = self.groups.entry(key).or_default();
        if was_free {
            group.insert_member(ip, &self.ips);
        }
        for port in new_ports {
            group.block(port, ip);
        }
        was_free
    }

    /// Removes `service` (which used `usage`) from `ip`. Returns whether the address is free now.
    pub(crate) fn remove(&mut self, service: &str, ip: IpAddr, usage: &Usage) -> bool {
        let Some(used) = self.ips.get_mut(&ip) else {
            return false;
        };
        if !used.holders.remove(service) {
            return false;
        }
        let mut freed_ports = Vec::new();
        for port in &usage.ports {
            if used.ports.get(port).is_some_and(|h| h == service) {
                used.ports.remove(port);
                freed_ports.push(port.clone());
            }
        }
        let now_free = used.holders.is_empty();
        let key = used.key.clone();
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
        let group = self.groups.get(&usage.key())?;
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
        .keys()
        .filter(|p| large.ports.contains_key(*p))
        .cloned()
        .collect()
}
