//! `config.Parse` of v0.12.1: decode, mode validation, then profiles, peers, communities and
//! pools in that order, so the first error reported is upstream's first error.

use std::collections::{BTreeMap, HashSet};

use ipnet::IpNet;

use super::bfd::parse_bfd_profile;
use super::community::Community;
use super::decode::unmarshal_strict;
use super::error::ConfigError;
use super::peer::parse_peer;
use super::pool::{PoolError, parse_pool};
use super::range::parse_entry;
use super::raw::RawConfig;
use super::{Config, Protocol};

/// Which process validates, and so which mode-specific rules apply
/// (docs/config.md#mode-specific-validation).
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
    let raw: RawConfig = unmarshal_strict(text).map_err(ConfigError::Decode)?;
    if mode == Mode::NativeSpeaker {
        discard_frr_only(&raw).map_err(ConfigError::Mode)?;
    }

    let mut cfg = Config::default();
    for (i, p) in raw.bfd_profiles.iter().enumerate() {
        let profile = parse_bfd_profile(p).map_err(|e| ConfigError::Bfd(i + 1, e))?;
        if cfg.bfd_profiles.contains_key(&profile.name) {
            return Err(ConfigError::DuplicateBfd(profile.name));
        }
        cfg.bfd_profiles.insert(profile.name.clone(), profile);
    }

    let mut seen_peers = HashSet::new();
    for (i, p) in raw.peers.iter().enumerate() {
        let peer = parse_peer(p).map_err(|e| ConfigError::Peer(i + 1, e))?;
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
    for (alias, value) in &raw.bgp_communities {
        let c = Community::parse(value).map_err(|e| ConfigError::Community(alias.clone(), e))?;
        aliases.insert(alias.clone(), c);
    }

    let mut names = HashSet::new();
    let mut all_cidrs: Vec<(IpNet, usize)> = Vec::new();
    for (i, p) in raw.address_pools.iter().enumerate() {
        let pool = match parse_pool(p, &aliases) {
            Ok(pool) => pool,
            // Upstream checks each pool for overlaps before parsing the next one, so an
            // overlap among the earlier pools is the error it would have reported.
            Err(e) => {
                return Err(first_overlap(&all_cidrs, &cfg).unwrap_or(ConfigError::Pool(i + 1, e)));
            }
        };
        if !names.insert(pool.name.clone()) {
            return Err(
                first_overlap(&all_cidrs, &cfg).unwrap_or(ConfigError::DuplicatePool(pool.name))
            );
        }
        all_cidrs.extend(pool.cidrs.iter().map(|c| (*c, cfg.pools.len())));
        cfg.pools.push(pool);
    }
    if let Some(e) = first_overlap(&all_cidrs, &cfg) {
        return Err(e);
    }
    Ok(cfg)
}

/// `DiscardFRROnly`, minus its IPv6 rule (we advertise IPv6 natively).
fn discard_frr_only(raw: &RawConfig) -> Result<(), String> {
    for p in &raw.peers {
        let addr = &p.peer_address;
        if !p.bfd_profile.is_empty() {
            return Err(format!(
                "peer {addr} has bfd-profile set on native bgp mode"
            ));
        }
        if !p.keepalive_time.is_empty() {
            return Err(format!(
                "peer {addr} has keepalive-time set on native bgp mode"
            ));
        }
    }
    if !raw.bfd_profiles.is_empty() {
        return Err("bfd profiles section set".to_owned());
    }
    for p in &raw.address_pools {
        if p.protocol.0 != Protocol::Bgp.as_str() {
            continue;
        }
        for entry in &p.addresses {
            if let Err(reason) = parse_entry(entry) {
                return Err(PoolError::Entry {
                    entry: entry.clone(),
                    pool: p.name.clone(),
                    reason: Box::new(reason),
                }
                .to_string());
            }
        }
    }
    Ok(())
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

/// The overlap error upstream would report for these CIDRs (in definition order, tagged with
/// their pool's index), if any.
///
/// Upstream compares each CIDR with every earlier one (quadratic). CIDRs either nest or are
/// disjoint, so after one sort by first address any overlap shows up between neighbours: the
/// common, valid case costs one sort and one scan. Only when an overlap exists do we replay
/// the definitions in order to name the same pair upstream names.
fn first_overlap(cidrs: &[(IpNet, usize)], cfg: &Config) -> Option<ConfigError> {
    let mut sorted: Vec<(u8, u128, u128)> = cidrs.iter().map(|(n, _)| bounds(n)).collect();
    sorted.sort_unstable();
    let any = sorted
        .windows(2)
        .any(|w| w[0].0 == w[1].0 && w[1].1 <= w[0].2);
    if !any {
        return None;
    }
    let mut index = OverlapIndex::default();
    for (net, pool) in cidrs {
        if let Some(other) = index.insert(*net) {
            return Some(ConfigError::Overlap {
                cidr: net.to_string(),
                pool: cfg.pools[*pool].name.clone(),
                other: other.to_string(),
            });
        }
    }
    None
}

/// Accepted CIDRs per family, keyed by first address: the replay used to name upstream's pair.
/// Accepted CIDRs are pairwise disjoint, so a new CIDR `[start, end]` overlaps one iff the last
/// accepted CIDR starting at or before `end` reaches `start`.
#[derive(Default)]
struct OverlapIndex {
    v4: BTreeMap<u128, Accepted>,
    v6: BTreeMap<u128, Accepted>,
    count: usize,
}

#[derive(Clone, Copy)]
struct Accepted {
    end: u128,
    order: usize,
    net: IpNet,
}

impl OverlapIndex {
    /// Inserts `net`, or returns the earliest-defined CIDR it overlaps.
    fn insert(&mut self, net: IpNet) -> Option<IpNet> {
        let (fam, start, end) = bounds(&net);
        let map = if fam == 4 { &mut self.v4 } else { &mut self.v6 };
        let overlaps = map
            .range(..=end)
            .next_back()
            .is_some_and(|(_, a)| a.end >= start);
        if overlaps {
            // The predecessor of `start` may contain it; entries starting inside are contained.
            let container = map
                .range(..=start)
                .next_back()
                .filter(|(_, a)| a.end >= start);
            let inside = map.range(start..=end);
            return container
                .into_iter()
                .chain(inside)
                .map(|(_, a)| *a)
                .min_by_key(|a| a.order)
                .map(|a| a.net);
        }
        map.insert(
            start,
            Accepted {
                end,
                order: self.count,
                net,
            },
        );
        self.count += 1;
        None
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
