//! `address-pools[]` and their `bgp-advertisements`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::community::{Community, CommunityError};
use super::range::{GoNet, RangeError, parse_entry_go};
use super::raw::{RawAdvertisement, RawPool};
use crate::gotext::{quote, quote_int};

/// How a pool's addresses are announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Bgp,
    Layer2,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Bgp => "bgp",
            Protocol::Layer2 => "layer2",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One translation of a service IP into a BGP route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpAdvertisement {
    /// Go `int`: upstream does not reject negative values, it only fails them in the width
    /// check when the pool has addresses of that family.
    pub aggregation_length: i64,
    pub aggregation_length_v6: i64,
    pub localpref: u32,
    pub communities: BTreeSet<Community>,
}

impl Default for BgpAdvertisement {
    fn default() -> Self {
        Self {
            aggregation_length: 32,
            aggregation_length_v6: 128,
            localpref: 0,
            communities: BTreeSet::new(),
        }
    }
}

/// An address pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub protocol: Protocol,
    /// In configuration order (range entries expanded in place): the allocation order.
    pub cidrs: Vec<IpNet>,
    pub avoid_buggy_ips: bool,
    pub auto_assign: bool,
    /// Empty for layer2 pools; at least one for bgp pools.
    pub bgp_advertisements: Vec<BgpAdvertisement>,
}

impl Pool {
    /// Is `ip` inside one of the pool's CIDRs (ignoring `avoid-buggy-ips`)?
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidrs.iter().any(|n| n.contains(&ip))
    }

    /// May `ip` be handed out from this pool? (`contains` and, with `avoid-buggy-ips`, not an
    /// IPv4 address ending in .0 or .255.)
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.contains(ip) && !(self.avoid_buggy_ips && is_buggy(ip))
    }
}

/// An IPv4 address ending in .0 or .255 (old smurf-protection bugs drop traffic to them).
pub fn is_buggy(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(v4.octets()[3], 0 | 255),
        IpAddr::V6(_) => false,
    }
}

/// Why a pool was rejected; upstream's texts after `parsing address pool #N: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("missing pool name")]
    MissingName,
    #[error("pool has no prefixes defined")]
    NoPrefixes,
    #[error("invalid CIDR {} in pool {}: {}", quote(.entry), quote(.pool), .reason)]
    Entry {
        entry: String,
        pool: String,
        reason: Box<RangeError>,
    },
    #[error("cannot have bgp-advertisements configuration element in a layer2 address pool")]
    Layer2Advertisements,
    #[error("parsing BGP communities: {0}")]
    Advertisement(AdvertisementError),
    #[error("address pool is missing the protocol field")]
    MissingProtocol,
    #[error("unknown protocol {}", quote(.0))]
    UnknownProtocol(String),
}

/// Advertisement errors (all wrapped in `parsing BGP communities: ` upstream).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdvertisementError {
    #[error("duplicate definition of bgpadvertisements. advertisement {0} and {1} are equal")]
    Duplicate(usize, usize),
    #[error("duplicate definition of community {}", quote(.0))]
    DuplicateCommunity(String),
    #[error("invalid aggregation length {} for IPv4", quote_int(*.0))]
    LengthV4(i64),
    #[error("invalid aggregation length {} for IPv6", quote_int(*.0))]
    LengthV6(i64),
    #[error(
        "invalid aggregation length {agg}: prefix {} in this pool is more specific than the aggregation length for addresses {entry}",
        quote_int(*.mask)
    )]
    TooWide { agg: i64, mask: i64, entry: String },
    #[error("invalid community {} in BGP advertisement: {}", quote(.0), .1)]
    Community(String, CommunityError),
}

/// `parseAddressPool` of v0.12.1, checks in upstream's order. Also returns the pool's
/// CIDRs as Go holds them, for the overlap check.
pub(crate) fn parse_pool(
    raw: &RawPool,
    aliases: &BTreeMap<String, Community>,
) -> Result<(Pool, Vec<GoNet>), PoolError> {
    let name = raw.name.clone();
    if name.is_empty() {
        return Err(PoolError::MissingName);
    }
    let entries: Vec<&str> = raw.addresses.iter().map(String::as_str).collect();
    if entries.is_empty() {
        return Err(PoolError::NoPrefixes);
    }
    let mut cidrs: Vec<GoNet> = Vec::with_capacity(entries.len());
    // Each entry's CIDRs, as a range into `cidrs`, for the aggregation width check.
    let mut per_entry = Vec::with_capacity(entries.len());
    for entry in entries {
        let nets = parse_entry_go(entry).map_err(|reason| PoolError::Entry {
            entry: entry.to_owned(),
            pool: name.clone(),
            reason: Box::new(reason),
        })?;
        let start = cidrs.len();
        cidrs.extend_from_slice(&nets);
        per_entry.push((entry, start..cidrs.len()));
    }
    let raw_ads = raw.bgp_advertisements.as_slice();
    let protocol_text = raw.protocol.0.as_str();
    let (protocol, bgp_advertisements) = match protocol_text {
        "layer2" if !raw_ads.is_empty() => return Err(PoolError::Layer2Advertisements),
        "layer2" => (Protocol::Layer2, Vec::new()),
        "bgp" => {
            let ads = parse_advertisements(raw_ads, &cidrs, &per_entry, aliases)
                .map_err(PoolError::Advertisement)?;
            (Protocol::Bgp, ads)
        }
        "" => return Err(PoolError::MissingProtocol),
        other => return Err(PoolError::UnknownProtocol(other.to_owned())),
    };
    let pool = Pool {
        name,
        protocol,
        cidrs: cidrs.iter().map(|g| g.net).collect(),
        avoid_buggy_ips: raw.avoid_buggy_ips,
        auto_assign: raw.auto_assign.unwrap_or(true),
        bgp_advertisements,
    };
    Ok((pool, cidrs))
}

fn parse_advertisements(
    raw: &[RawAdvertisement],
    cidrs: &[GoNet],
    per_entry: &[(&str, std::ops::Range<usize>)],
    aliases: &BTreeMap<String, Community>,
) -> Result<Vec<BgpAdvertisement>, AdvertisementError> {
    if raw.is_empty() {
        return Ok(vec![BgpAdvertisement::default()]);
    }
    for i in 0..raw.len() {
        for j in i + 1..raw.len() {
            if raw[i] == raw[j] {
                return Err(AdvertisementError::Duplicate(i + 1, j + 1));
            }
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    for ad in raw {
        let written: &[String] = ad.communities.0.as_deref().unwrap_or_default();
        for (i, c) in written.iter().enumerate() {
            if written[i + 1..].contains(c) {
                return Err(AdvertisementError::DuplicateCommunity(c.clone()));
            }
        }
        let v4 = ad.aggregation_length.unwrap_or(32);
        if v4 > 32 {
            return Err(AdvertisementError::LengthV4(v4));
        }
        let v6 = ad.aggregation_length_v6.unwrap_or(128);
        if v6 > 128 {
            return Err(AdvertisementError::LengthV6(v6));
        }
        // Upstream walks a map of entries (random order); we walk them in config order.
        for (entry, range) in per_entry {
            let nets = &cidrs[range.clone()];
            let Some(first) = nets.first() else { continue };
            // An IPv4-mapped CIDR is IPv4 here, with a 128-bit mask length (upstream's
            // `IP.To4()` and `Mask.Size()`).
            let applicable = if first.is_v4() { v4 } else { v6 };
            let widest = nets
                .iter()
                .map(|n| i64::from(n.mask_ones()))
                .min()
                .unwrap_or(0);
            if applicable < widest {
                return Err(AdvertisementError::TooWide {
                    agg: v4,
                    mask: widest,
                    entry: (*entry).to_owned(),
                });
            }
        }
        let mut communities = BTreeSet::new();
        for c in written {
            let value = match aliases.get(c) {
                Some(v) => *v,
                None => {
                    Community::parse(c).map_err(|e| AdvertisementError::Community(c.clone(), e))?
                }
            };
            communities.insert(value);
        }
        out.push(BgpAdvertisement {
            aggregation_length: v4,
            aggregation_length_v6: v6,
            localpref: ad.localpref.unwrap_or(0),
            communities,
        });
    }
    Ok(out)
}
