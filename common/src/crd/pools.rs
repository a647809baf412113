//! `IPAddressPool` objects: upstream v0.13's `addressPoolFromCR` checks, then the overlap
//! check across every pool, in the order the pools are given (name order, as the API lists
//! them).

use std::collections::BTreeMap;
use std::ops::Range;

use ipnet::IpNet;

use crate::config::{Labels, parse_entry};
use crate::crd::error::{CrdError, Reason};
use crate::crd::types::{IpAddressPool, IpAddressPoolSpec, Kind};

/// A pool as the advertisements see it, before its protocol is known.
#[derive(Debug)]
pub(crate) struct PoolDraft {
    pub name: String,
    pub labels: Labels,
    /// In address order; ranges expanded in place.
    pub cidrs: Vec<IpNet>,
    /// Each address entry as written and its CIDRs in `cidrs`.
    pub entries: Vec<(String, Range<usize>)>,
    pub avoid_buggy_ips: bool,
    pub auto_assign: bool,
}

fn err(name: &str, field: &str, reason: Reason) -> CrdError {
    CrdError::new(IpAddressPoolSpec::KIND, name, field, reason)
}

/// Every pool, checked alone and then against the pools before it.
pub(crate) fn drafts(objects: &[IpAddressPool]) -> Result<Vec<PoolDraft>, CrdError> {
    let mut out: Vec<PoolDraft> = Vec::with_capacity(objects.len());
    let mut overlaps = OverlapIndex::default();
    for obj in objects {
        let draft = draft(obj)?;
        if out.iter().any(|p| p.name == draft.name) {
            return Err(err(
                &draft.name,
                "metadata.name",
                Reason::DuplicatePool(draft.name.clone()),
            ));
        }
        for (i, (_, range)) in draft.entries.iter().enumerate() {
            for net in &draft.cidrs[range.clone()] {
                if let Some(other) = overlaps.insert(*net) {
                    return Err(err(
                        &draft.name,
                        &format!("spec.addresses[{i}]"),
                        Reason::Overlap {
                            cidr: net.to_string(),
                            pool: draft.name.clone(),
                            other: other.to_string(),
                        },
                    ));
                }
            }
        }
        out.push(draft);
    }
    Ok(out)
}

/// `addressPoolFromCR` of v0.13, minus `serviceAllocation`, which is refused
/// (docs/crd.md#not-supported-yet).
fn draft(obj: &IpAddressPool) -> Result<PoolDraft, CrdError> {
    let name = obj.name();
    let s = &obj.spec;
    if let Some(field) = s.unknown.keys().next() {
        return Err(err(
            name,
            &format!("spec.{field}"),
            Reason::UnknownField(field.clone()),
        ));
    }
    if name.is_empty() {
        return Err(err(name, "metadata.name", Reason::MissingPoolName));
    }
    if s.addresses.is_empty() {
        return Err(err(name, "spec.addresses", Reason::NoPrefixes));
    }
    let mut cidrs = Vec::with_capacity(s.addresses.len());
    let mut entries = Vec::with_capacity(s.addresses.len());
    for (i, entry) in s.addresses.iter().enumerate() {
        let nets = parse_entry(entry).map_err(|e| {
            err(
                name,
                &format!("spec.addresses[{i}]"),
                Reason::Entry {
                    entry: entry.clone(),
                    pool: name.to_owned(),
                    reason: e.to_string(),
                },
            )
        })?;
        let start = cidrs.len();
        cidrs.extend(nets);
        entries.push((entry.clone(), start..cidrs.len()));
    }
    if let Some(alloc) = &s.service_allocation {
        let mut what = Vec::new();
        if alloc.priority != 0 {
            what.push("priority");
        }
        if !alloc.namespaces.is_empty() {
            what.push("namespaces");
        }
        if !alloc.namespace_selectors.is_empty() {
            what.push("namespaceSelectors");
        }
        if !alloc.service_selectors.is_empty() {
            what.push("serviceSelectors");
        }
        return Err(err(
            name,
            "spec.serviceAllocation",
            Reason::Unsupported(format!(
                "pinning a pool to namespaces or services (serviceAllocation{})",
                if what.is_empty() {
                    String::new()
                } else {
                    format!(": {}", what.join(", "))
                }
            )),
        ));
    }
    Ok(PoolDraft {
        name: name.to_owned(),
        labels: obj.metadata.labels.clone(),
        cidrs,
        entries,
        avoid_buggy_ips: s.avoid_buggy_ips,
        auto_assign: s.auto_assign.unwrap_or(true),
    })
}

fn bounds(net: &IpNet) -> (bool, u128, u128) {
    match net {
        IpNet::V4(n) => (
            true,
            u32::from(n.network()).into(),
            u32::from(n.broadcast()).into(),
        ),
        IpNet::V6(n) => (false, u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// The CIDRs accepted so far, per family, by first address. Accepted CIDRs are disjoint, so
/// a new one overlaps some iff the last one starting at or before its end reaches its start;
/// upstream names the earliest-defined of those it overlaps.
#[derive(Default)]
struct OverlapIndex {
    v4: BTreeMap<u128, (u128, usize, IpNet)>,
    v6: BTreeMap<u128, (u128, usize, IpNet)>,
    count: usize,
}

impl OverlapIndex {
    /// Adds `net`, or returns the earliest-defined CIDR it overlaps.
    fn insert(&mut self, net: IpNet) -> Option<IpNet> {
        let (v4, start, end) = bounds(&net);
        let map = if v4 { &mut self.v4 } else { &mut self.v6 };
        let container = map
            .range(..=start)
            .next_back()
            .filter(|(_, (last, _, _))| *last >= start);
        let found = container
            .into_iter()
            .chain(map.range(start..=end))
            .map(|(_, v)| *v)
            .min_by_key(|(_, order, _)| *order);
        if let Some((_, _, other)) = found {
            return Some(other);
        }
        map.insert(start, (end, self.count, net));
        self.count += 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test CIDR")
    }

    #[test]
    fn overlap_names_the_earliest_defined_cidr() {
        let mut idx = OverlapIndex::default();
        assert_eq!(idx.insert(net("10.0.0.16/28")), None);
        assert_eq!(idx.insert(net("10.0.0.0/28")), None);
        assert_eq!(idx.insert(net("2001:db8::/64")), None);
        // Contains both: the first defined is named.
        assert_eq!(idx.insert(net("10.0.0.0/24")), Some(net("10.0.0.16/28")));
        // Inside one.
        assert_eq!(idx.insert(net("10.0.0.4/30")), Some(net("10.0.0.0/28")));
        assert_eq!(
            idx.insert(net("2001:db8::1/128")),
            Some(net("2001:db8::/64"))
        );
        assert_eq!(idx.insert(net("10.0.1.0/24")), None);
    }
}
