//! `config.Parse` of v0.12.1: decode, mode validation, then profiles, peers, communities and
//! pools in that order, so the first error reported is upstream's first error.

use std::collections::{BTreeMap, HashSet};

use super::bfd::parse_bfd_profile;
use super::community::Community;
use super::decode::unmarshal_strict;
use super::error::ConfigError;
use super::overlap::first_overlap;
use super::peer::parse_peer;
use super::pool::{PoolError, parse_pool};
use super::range::{GoNet, parse_entry};
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
    let mut all_cidrs: Vec<(GoNet, usize)> = Vec::new();
    for (i, p) in raw.address_pools.iter().enumerate() {
        let (pool, nets) = match parse_pool(p, &aliases) {
            Ok(parsed) => parsed,
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
        all_cidrs.extend(nets.into_iter().map(|c| (c, cfg.pools.len())));
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

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
