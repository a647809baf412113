//! `Community`, `L2Advertisement` and `BGPAdvertisement` objects: which pools each one
//! announces, and how (upstream v0.13's `communitiesFromCrs`, `l2AdvertisementFromCR`,
//! `bgpAdvertisementFromCR` and `validateBGPAdvPerPool`, checks in its order).

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use crate::config::{BgpAdvertisement as Advertisement, Community, parse_u16_go};
use crate::crd::error::{CrdError, Reason};
use crate::crd::pools::PoolDraft;
use crate::crd::selectors::{any_matches, duplicate, duplicate_selectors};
use crate::crd::types::{
    BgpAdvertisement, BgpAdvertisementSpec, Community as CommunityObject, CommunitySpec, Kind,
    L2Advertisement, L2AdvertisementSpec, LabelSelector,
};
use crate::gotext::quote;

/// A community value as upstream v0.13 reads it.
enum Value {
    Standard(Community),
    /// `large:A:B:C`, RFC 8092: not supported yet (docs/crd.md#not-supported-yet).
    Large,
}

/// `community.New` of v0.13, with its error texts.
fn community(text: &str) -> Result<Value, String> {
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [hi, lo] => {
            let mut v = [0u16; 2];
            for (slot, part) in v.iter_mut().zip([hi, lo]) {
                *slot = parse_u16_go(part).map_err(|e| {
                    format!(
                        "invalid community value: invalid section {} of community {}, err: {}",
                        quote(part),
                        quote(text),
                        quote(&e.to_string())
                    )
                })?;
            }
            Ok(Value::Standard(Community(
                u32::from(v[0]) << 16 | u32::from(v[1]),
            )))
        }
        ["large", _, _, _] => Ok(Value::Large),
        [_, _, _, _] => Err(format!(
            "invalid community value: invalid marker for large community, expected community to be of format large:<uint32>:<uint32>:<uint32> but got {} instead",
            quote(text)
        )),
        _ => Err(format!("invalid community format: {text}")),
    }
}

const LARGE: &str = "large BGP communities (large:A:B:C)";

/// Every alias of every `Community` object.
pub(crate) fn aliases(
    objects: &[CommunityObject],
) -> Result<BTreeMap<String, Community>, CrdError> {
    let mut out = BTreeMap::new();
    for obj in objects {
        let err =
            |field: String, reason| CrdError::new(CommunitySpec::KIND, obj.name(), field, reason);
        if let Some(field) = obj.spec.unknown.keys().next() {
            return Err(err(
                format!("spec.{field}"),
                Reason::UnknownField(field.clone()),
            ));
        }
        for (i, alias) in obj.spec.communities.iter().enumerate() {
            let field = format!("spec.communities[{i}]");
            let value = match community(&alias.value) {
                Ok(Value::Standard(c)) => c,
                Ok(Value::Large) => return Err(err(field, Reason::Unsupported(LARGE.to_owned()))),
                Err(e) => return Err(err(field, Reason::Community(alias.name.clone(), e))),
            };
            if out.insert(alias.name.clone(), value).is_some() {
                return Err(err(field, Reason::DuplicateAlias(alias.name.clone())));
            }
        }
    }
    Ok(out)
}

/// The pools an advertisement names or selects, as indices into `pools`; all of them when it
/// does neither. Names of pools that do not exist are skipped, as upstream skips them (the
/// pool may be created later).
fn selected(
    pools: &[PoolDraft],
    names: &[String],
    selectors: &[LabelSelector],
) -> Result<Vec<usize>, Reason> {
    if names.is_empty() && selectors.is_empty() {
        return Ok((0..pools.len()).collect());
    }
    let mut out = BTreeSet::new();
    for name in names {
        if let Some(i) = pools.iter().position(|p| &p.name == name) {
            out.insert(i);
        }
    }
    for (i, p) in pools.iter().enumerate() {
        if any_matches(selectors, &p.labels)? {
            out.insert(i);
        }
    }
    Ok(out.into_iter().collect())
}

/// For each pool, the first `L2Advertisement` (in object order) that announces it.
pub(crate) fn layer2(
    objects: &[L2Advertisement],
    pools: &[PoolDraft],
) -> Result<Vec<Option<String>>, CrdError> {
    let mut by_pool = vec![None; pools.len()];
    for obj in objects {
        let s = &obj.spec;
        let err = |field: &str, reason| {
            CrdError::new(L2AdvertisementSpec::KIND, obj.name(), field, reason)
        };
        if let Some(field) = s.unknown.keys().next() {
            return Err(err(
                &format!("spec.{field}"),
                Reason::UnknownField(field.clone()),
            ));
        }
        duplicate(&s.ip_address_pools, "ipAddressPools")
            .map_err(|r| err("spec.ipAddressPools", r))?;
        duplicate_selectors(&s.ip_address_pool_selectors, "ipAddressPoolSelectors")
            .map_err(|r| err("spec.ipAddressPoolSelectors", r))?;
        duplicate_selectors(&s.node_selectors, "nodeSelectors")
            .map_err(|r| err("spec.nodeSelectors", r))?;
        if !s.node_selectors.is_empty() {
            return Err(err(
                "spec.nodeSelectors",
                Reason::Unsupported(
                    "announcing from a subset of the nodes (nodeSelectors)".to_owned(),
                ),
            ));
        }
        if !s.interfaces.is_empty() {
            return Err(err(
                "spec.interfaces",
                Reason::Unsupported(
                    "announcing from a subset of the interfaces (interfaces)".to_owned(),
                ),
            ));
        }
        let chosen = selected(pools, &s.ip_address_pools, &s.ip_address_pool_selectors)
            .map_err(|r| err("spec.ipAddressPoolSelectors", r))?;
        for i in chosen {
            by_pool[i].get_or_insert_with(|| obj.name().to_owned());
        }
    }
    Ok(by_pool)
}

/// A pool's BGP advertisements, and the first object they came from.
#[derive(Debug, Default)]
pub(crate) struct BgpOfPool {
    pub first: Option<String>,
    pub ads: Vec<Advertisement>,
}

/// For each pool, its BGP advertisements.
pub(crate) fn bgp(
    objects: &[BgpAdvertisement],
    pools: &[PoolDraft],
    aliases: &BTreeMap<String, Community>,
) -> Result<Vec<BgpOfPool>, CrdError> {
    let mut by_pool: Vec<BgpOfPool> = (0..pools.len()).map(|_| BgpOfPool::default()).collect();
    for obj in objects {
        let err = |field: &str, reason| {
            CrdError::new(BgpAdvertisementSpec::KIND, obj.name(), field, reason)
        };
        let ad = advertisement(obj, aliases)?;
        let s = &obj.spec;
        let chosen = selected(pools, &s.ip_address_pools, &s.ip_address_pool_selectors)
            .map_err(|r| err("spec.ipAddressPoolSelectors", r))?;
        for i in chosen {
            let of_pool = &mut by_pool[i];
            fits(&ad, &pools[i], &of_pool.ads).map_err(|r| err("spec", r))?;
            of_pool.first.get_or_insert_with(|| obj.name().to_owned());
            of_pool.ads.push(ad.clone());
        }
    }
    Ok(by_pool)
}

/// `bgpAdvertisementFromCR` of v0.13.
fn advertisement(
    obj: &BgpAdvertisement,
    aliases: &BTreeMap<String, Community>,
) -> Result<Advertisement, CrdError> {
    let s = &obj.spec;
    let err =
        |field: &str, reason| CrdError::new(BgpAdvertisementSpec::KIND, obj.name(), field, reason);
    if let Some(field) = s.unknown.keys().next() {
        return Err(err(
            &format!("spec.{field}"),
            Reason::UnknownField(field.clone()),
        ));
    }
    duplicate(&s.ip_address_pools, "ipAddressPools").map_err(|r| err("spec.ipAddressPools", r))?;
    duplicate(&s.communities, "community").map_err(|r| err("spec.communities", r))?;
    duplicate(&s.peers, "peers").map_err(|r| err("spec.peers", r))?;
    duplicate_selectors(&s.ip_address_pool_selectors, "ipAddressPoolSelectors")
        .map_err(|r| err("spec.ipAddressPoolSelectors", r))?;
    duplicate_selectors(&s.node_selectors, "nodeSelectors")
        .map_err(|r| err("spec.nodeSelectors", r))?;
    let v4 = s.aggregation_length.unwrap_or(32);
    if v4 > 32 {
        return Err(err("spec.aggregationLength", Reason::LengthV4(v4)));
    }
    let v6 = s.aggregation_length_v6.unwrap_or(128);
    if v6 > 128 {
        return Err(err("spec.aggregationLengthV6", Reason::LengthV6(v6)));
    }
    let mut communities = BTreeSet::new();
    for (i, c) in s.communities.iter().enumerate() {
        let field = format!("spec.communities[{i}]");
        let value = match aliases.get(c) {
            Some(v) => *v,
            None => match community(c) {
                Ok(Value::Standard(v)) => v,
                Ok(Value::Large) => return Err(err(&field, Reason::Unsupported(LARGE.to_owned()))),
                Err(e) => return Err(err(&field, Reason::AdvertisementCommunity(c.clone(), e))),
            },
        };
        communities.insert(value);
    }
    if !s.peers.is_empty() {
        return Err(err(
            "spec.peers",
            Reason::Unsupported("announcing to a subset of the BGP peers (peers)".to_owned()),
        ));
    }
    if !s.node_selectors.is_empty() {
        return Err(err(
            "spec.nodeSelectors",
            Reason::Unsupported("announcing from a subset of the nodes (nodeSelectors)".to_owned()),
        ));
    }
    Ok(Advertisement {
        aggregation_length: i64::from(v4),
        aggregation_length_v6: i64::from(v6),
        localpref: s.local_pref,
        communities,
    })
}

/// `validateBGPAdvPerPool` of v0.13: the aggregation length is no wider than any address
/// entry of the pool, and LOCAL_PREF agrees with the pool's other advertisements that would
/// send the same kind of update. Every advertisement applies to every node here (node
/// selectors are refused), so two of them send the same updates unless both aggregation
/// lengths differ.
fn fits(ad: &Advertisement, pool: &PoolDraft, existing: &[Advertisement]) -> Result<(), Reason> {
    for (entry, range) in &pool.entries {
        let nets = &pool.cidrs[range.clone()];
        let Some(first) = nets.first() else { continue };
        let max = if matches!(first, IpNet::V4(_)) {
            ad.aggregation_length
        } else {
            ad.aggregation_length_v6
        };
        let lowest = nets.iter().map(IpNet::prefix_len).min().unwrap_or(0);
        if max < i64::from(lowest) {
            return Err(Reason::TooWide {
                // Upstream prints the IPv4 length whichever family failed.
                agg: i32::try_from(ad.aggregation_length).unwrap_or(i32::MAX),
                mask: lowest,
                entry: entry.clone(),
            });
        }
    }
    for other in existing {
        let same_kind = other.aggregation_length == ad.aggregation_length
            || other.aggregation_length_v6 == ad.aggregation_length_v6;
        if other.localpref != ad.localpref && same_kind {
            return Err(Reason::LocalPref {
                new: ad.localpref,
                old: other.localpref,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn community_texts_are_v013s() {
        assert!(matches!(
            community("65535:65281"),
            Ok(Value::Standard(Community(0xffff_ff01)))
        ));
        assert!(matches!(community("large:1:2:3"), Ok(Value::Large)));
        assert_eq!(
            community("1:x").err().as_deref(),
            Some(
                "invalid community value: invalid section \"x\" of community \"1:x\", err: \"strconv.ParseUint: parsing \\\"x\\\": invalid syntax\""
            )
        );
        assert_eq!(
            community("no-export").err().as_deref(),
            Some("invalid community format: no-export")
        );
        assert!(
            community("big:1:2:3")
                .err()
                .is_some_and(|e| e.contains("invalid marker for large community"))
        );
    }
}
