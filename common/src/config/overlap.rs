//! Upstream's CIDR overlap check across pools: each CIDR against every earlier one, the
//! first pair found reported. Answered without the quadratic walk for ordinary CIDRs;
//! replayed exactly when an IPv4-mapped CIDR makes upstream's comparison lopsided.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::range::GoNet;
use super::{Config, ConfigError};

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
pub(crate) fn first_overlap(cidrs: &[(GoNet, usize)], cfg: &Config) -> Option<ConfigError> {
    if cidrs.iter().any(|(n, _)| n.mapped) {
        return go_replay(cidrs, cfg);
    }
    let mut sorted: Vec<(u8, u128, u128)> = cidrs.iter().map(|(n, _)| bounds(&n.net)).collect();
    sorted.sort_unstable();
    let any = sorted
        .windows(2)
        .any(|w| w[0].0 == w[1].0 && w[1].1 <= w[0].2);
    if !any {
        return None;
    }
    let mut index = OverlapIndex::default();
    for (net, pool) in cidrs {
        if let Some(other) = index.insert(net.net) {
            return Some(ConfigError::Overlap {
                cidr: net.net.to_string(),
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

/// Upstream's own walk, for configurations with IPv4-mapped CIDRs.
fn go_replay(cidrs: &[(GoNet, usize)], cfg: &Config) -> Option<ConfigError> {
    for (i, (net, pool)) in cidrs.iter().enumerate() {
        if let Some((other, _)) = cidrs[..i].iter().find(|(m, _)| go_overlap(net, m)) {
            return Some(ConfigError::Overlap {
                cidr: net.net.to_string(),
                pool: cfg.pools[*pool].name.clone(),
                other: other.net.to_string(),
            });
        }
    }
    None
}

/// `cidrsOverlap`: one contains the other, where "contains" compares `Mask.Size()` lengths
/// (128-bit for a mapped CIDR) before addresses. A mapped CIDR and an IPv4 one therefore
/// overlap only when the IPv4 one holds the mapped one's first address.
fn go_overlap(a: &GoNet, b: &GoNet) -> bool {
    go_contains(a, b) || go_contains(b, a)
}

fn go_contains(outer: &GoNet, inner: &GoNet) -> bool {
    let (ol, il) = (outer.mask_ones(), inner.mask_ones());
    let inner_ip = inner.net.network();
    (ol == il && outer.net.network() == inner_ip) || (ol < il && outer.net.contains(&inner_ip))
}
