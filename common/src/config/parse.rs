//! `config.Parse` of v0.12.1: decode, mode validation, then profiles, peers, communities and
//! pools in that order, so the first error reported is upstream's first error.

use std::collections::{BTreeMap, HashSet};

use ipnet::IpNet;

use super::bfd::parse_bfd_profile;
use super::community::Community;
use super::decode::{RawConfig, decode};
use super::error::ConfigError;
use super::peer::parse_peer;
use super::pool::{PoolError, parse_pool};
use super::range::parse_entry;
use super::{Config, Protocol};

/// Which process validates, and so which mode-specific rules apply (spec §1.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accepts FRR-only keys: upstream's controller defers mode checks to the speakers.
    Controller,
    /// The native BGP speaker: rejects FRR-only keys with upstream's messages. Unlike
    /// upstream it accepts IPv6 addresses in BGP pools, because it speaks MP-BGP.
    NativeSpeaker,
}

/// Parses and validates a configuration document.
pub fn parse(text: &str, mode: Mode) -> Result<Config, ConfigError> {
    let raw = decode(text).map_err(ConfigError::Decode)?;
    if mode == Mode::NativeSpeaker {
        discard_frr_only(&raw).map_err(ConfigError::Mode)?;
    }

    let mut cfg = Config::default();
    let no_profile = Default::default();
    for (i, p) in raw.bfd_profiles.iter().flatten().enumerate() {
        let profile = parse_bfd_profile(p.as_ref().unwrap_or(&no_profile))
            .map_err(|e| ConfigError::Bfd(i + 1, e))?;
        if cfg.bfd_profiles.contains_key(&profile.name) {
            return Err(ConfigError::DuplicateBfd(profile.name));
        }
        cfg.bfd_profiles.insert(profile.name.clone(), profile);
    }

    let no_peer = Default::default();
    let mut seen_peers = HashSet::new();
    for (i, p) in raw.peers.iter().flatten().enumerate() {
        let peer =
            parse_peer(p.as_ref().unwrap_or(&no_peer)).map_err(|e| ConfigError::Peer(i + 1, e))?;
        if !peer.bfd_profile.is_empty() && !cfg.bfd_profiles.contains_key(&peer.bfd_profile) {
            return Err(ConfigError::UnknownBfdProfile(i + 1, peer.bfd_profile));
        }
        // Upstream compares with every earlier peer (reflect.DeepEqual); a set of the
        // normalised peers answers the same question without the quadratic walk.
        if !seen_peers.insert(peer.clone()) {
            return Err(ConfigError::DuplicatePeer(i + 1));
        }
        cfg.peers.push(peer);
    }

    // Upstream walks a Go map here; key order makes the reported error deterministic.
    let mut aliases = BTreeMap::new();
    for (alias, value) in raw.bgp_communities.iter().flatten() {
        let value = value.as_deref().unwrap_or("");
        let c = Community::parse(value).map_err(|e| ConfigError::Community(alias.clone(), e))?;
        aliases.insert(alias.clone(), c);
    }

    let mut seen = OverlapIndex::default();
    let mut names = HashSet::new();
    let no_pool = Default::default();
    for (i, p) in raw.address_pools.iter().flatten().enumerate() {
        let pool = parse_pool(p.as_ref().unwrap_or(&no_pool), &aliases)
            .map_err(|e| ConfigError::Pool(i + 1, e))?;
        if !names.insert(pool.name.clone()) {
            return Err(ConfigError::DuplicatePool(pool.name));
        }
        for cidr in &pool.cidrs {
            if let Some(other) = seen.insert(*cidr) {
                return Err(ConfigError::Overlap {
                    cidr: cidr.to_string(),
                    pool: pool.name.clone(),
                    other: other.to_string(),
                });
            }
        }
        cfg.pools.push(pool);
    }
    Ok(cfg)
}

/// `DiscardFRROnly`, minus its IPv6 rule (we advertise IPv6 natively).
fn discard_frr_only(raw: &RawConfig) -> Result<(), String> {
    for p in raw.peers.iter().flatten().flatten() {
        let addr = p.peer_address.as_deref().unwrap_or("");
        if p.bfd_profile.as_deref().is_some_and(|s| !s.is_empty()) {
            return Err(format!(
                "peer {addr} has bfd-profile set on native bgp mode"
            ));
        }
        if p.keepalive_time.as_deref().is_some_and(|s| !s.is_empty()) {
            return Err(format!(
                "peer {addr} has keepalive-time set on native bgp mode"
            ));
        }
    }
    if raw.bfd_profiles.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err("bfd profiles section set".to_owned());
    }
    for p in raw.address_pools.iter().flatten().flatten() {
        if p.protocol.as_deref() != Some(Protocol::Bgp.as_str()) {
            continue;
        }
        let name = p.name.as_deref().unwrap_or("");
        for entry in p.addresses.iter().flatten() {
            let entry = entry.as_deref().unwrap_or("");
            if let Err(reason) = parse_entry(entry) {
                return Err(PoolError::Entry {
                    entry: entry.to_owned(),
                    pool: name.to_owned(),
                    reason: Box::new(reason),
                }
                .to_string());
            }
        }
    }
    Ok(())
}

/// Accepted CIDRs sorted by (family, first address), so that each new CIDR is checked
/// against all earlier ones in O(log n). Accepted CIDRs are pairwise disjoint, so only the
/// predecessor can contain the new network address, and any CIDR starting inside the new one
/// is contained by it.
#[derive(Default)]
struct OverlapIndex {
    by_start: BTreeMap<(u8, u128), (u128, usize, IpNet)>,
    count: usize,
}

fn bounds(net: &IpNet) -> (u8, u128, u128) {
    match net {
        IpNet::V4(n) => (
            4,
            u32::from(n.network()).into(),
            u32::from(n.broadcast()).into(),
        ),
        IpNet::V6(n) => (6, u128::from(n.network()), u128::from(n.broadcast())),
    }
}

impl OverlapIndex {
    /// Inserts `net`, or returns the earliest-inserted CIDR it overlaps (upstream reports the
    /// first one in definition order).
    fn insert(&mut self, net: IpNet) -> Option<IpNet> {
        let (fam, start, end) = bounds(&net);
        let mut hits: Vec<(usize, IpNet)> = Vec::new();
        if let Some((_, (pend, idx, pnet))) =
            self.by_start.range((fam, 0)..=(fam, start)).next_back()
            && *pend >= start
        {
            hits.push((*idx, *pnet));
        }
        if start < end {
            for (_, (_, idx, n)) in self.by_start.range((fam, start + 1)..=(fam, end)) {
                hits.push((*idx, *n));
            }
        }
        if let Some((_, first)) = hits.into_iter().min_by_key(|(i, _)| *i) {
            return Some(first);
        }
        self.by_start.insert((fam, start), (end, self.count, net));
        self.count += 1;
        None
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
