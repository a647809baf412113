//! Packing desired routes into as few UPDATEs as RFC 4271 allows.
//!
//! Upstream sends one UPDATE per prefix (10 000 services, 10 000 messages) and all
//! withdrawals in one UPDATE that overflows 4096 bytes past ~800 prefixes. Here, prefixes
//! sharing the same attributes share messages, and both announcements and withdrawals are
//! cut so that every message stays within [`MAX_MESSAGE_LEN`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::message::{HEADER_LEN, MAX_MESSAGE_LEN};
use super::types::{Asn, Prefix, RouteAttrs};
use super::update::{
    AsSegment, AsWidth, Ipv6NextHop, Origin, PathAttribute, SegmentKind, Update, prefix_octets,
};

/// Withdrawn-routes length + total-path-attribute length fields.
const UPDATE_FIXED: usize = HEADER_LEN + 2 + 2;
/// AFI, SAFI.
const MP_FAMILY_LEN: usize = 3;

/// Everything about the session that shapes the UPDATEs it sends. A next hop is present
/// only for a family the peer negotiated and that we have a local address for, so "can
/// this prefix be announced here" has a single answer: [`UpdateContext::can_carry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateContext {
    pub local_asn: Asn,
    /// iBGP (same ASN on both ends): empty AS_PATH and a LOCAL_PREF attribute.
    pub ibgp: bool,
    pub as_width: AsWidth,
    pub next_hop_v4: Option<Ipv4Addr>,
    pub next_hop_v6: Option<Ipv6NextHop>,
}

impl UpdateContext {
    pub fn can_carry(&self, prefix: Prefix) -> bool {
        match prefix.net() {
            IpNet::V4(_) => self.next_hop_v4.is_some(),
            IpNet::V6(_) => self.next_hop_v6.is_some(),
        }
    }

    /// ORIGIN, AS_PATH, [NEXT_HOP], [LOCAL_PREF], [COMMUNITIES] in upstream's order.
    fn attributes(&self, attrs: &RouteAttrs, next_hop: Option<Ipv4Addr>) -> Vec<PathAttribute> {
        let as_path = if self.ibgp {
            Vec::new()
        } else {
            vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![self.local_asn],
            }]
        };
        let mut out = vec![
            PathAttribute::Origin(Origin::Incomplete),
            PathAttribute::AsPath(as_path),
        ];
        out.extend(next_hop.map(PathAttribute::NextHop));
        if self.ibgp {
            out.push(PathAttribute::LocalPref(attrs.local_pref()));
        }
        if attrs.communities().len() > 0 {
            out.push(PathAttribute::Communities(attrs.communities().collect()));
        }
        out
    }

    fn attributes_len(&self, attrs: &[PathAttribute]) -> usize {
        let mut scratch = Vec::new();
        for a in attrs {
            // Cannot fail: values are bounded by RouteAttrs::MAX_COMMUNITIES.
            let _ = a.encode(self.as_width, &mut scratch);
        }
        scratch.len()
    }
}

/// UPDATEs announcing `routes`, grouped by attributes. Prefixes the context cannot carry
/// are left out (see [`UpdateContext::can_carry`]).
pub fn pack_announcements<'a>(
    ctx: &UpdateContext,
    routes: impl IntoIterator<Item = (Prefix, &'a RouteAttrs)>,
) -> Vec<Update> {
    let mut groups: BTreeMap<&RouteAttrs, (Vec<Ipv4Net>, Vec<Ipv6Net>)> = BTreeMap::new();
    for (prefix, attrs) in routes {
        let group = groups.entry(attrs).or_default();
        match prefix.net() {
            IpNet::V4(n) if ctx.next_hop_v4.is_some() => group.0.push(n),
            IpNet::V6(n) if ctx.next_hop_v6.is_some() => group.1.push(n),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (attrs, (v4, v6)) in groups {
        if let (Some(nh), false) = (ctx.next_hop_v4, v4.is_empty()) {
            let attributes = ctx.attributes(attrs, Some(nh));
            let fixed = UPDATE_FIXED + ctx.attributes_len(&attributes);
            for nlri in chunk(&v4, v4_len, |nlri| fixed + nlri) {
                out.push(Update {
                    withdrawn: Vec::new(),
                    attributes: attributes.clone(),
                    nlri,
                });
            }
        }
        if let (Some(next_hop), false) = (ctx.next_hop_v6, v6.is_empty()) {
            let attributes = ctx.attributes(attrs, None);
            let fixed = UPDATE_FIXED + ctx.attributes_len(&attributes);
            let mp_fixed = MP_FAMILY_LEN + 1 + next_hop.encoded_len() + 1;
            for nlri in chunk(&v6, v6_len, |nlri| fixed + mp_attr_len(mp_fixed + nlri)) {
                // RFC 7606 §5.1: MP_REACH_NLRI goes first.
                let mut attributes_with_mp = vec![PathAttribute::MpReach { next_hop, nlri }];
                attributes_with_mp.extend(attributes.iter().cloned());
                out.push(Update {
                    withdrawn: Vec::new(),
                    attributes: attributes_with_mp,
                    nlri: Vec::new(),
                });
            }
        }
    }
    out
}

/// UPDATEs withdrawing `prefixes`, IPv4 in the withdrawn-routes field and IPv6 in
/// MP_UNREACH_NLRI, each message within the size limit.
pub fn pack_withdrawals(prefixes: impl IntoIterator<Item = Prefix>) -> Vec<Update> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for p in prefixes {
        match p.net() {
            IpNet::V4(n) => v4.push(n),
            IpNet::V6(n) => v6.push(n),
        }
    }
    let mut out: Vec<Update> = chunk(&v4, v4_len, |w| UPDATE_FIXED + w)
        .into_iter()
        .map(|withdrawn| Update {
            withdrawn,
            ..Update::default()
        })
        .collect();
    out.extend(
        chunk(&v6, v6_len, |w| {
            UPDATE_FIXED + mp_attr_len(MP_FAMILY_LEN + w)
        })
        .into_iter()
        .map(|withdrawn| Update {
            attributes: vec![PathAttribute::MpUnreach { withdrawn }],
            ..Update::default()
        }),
    );
    out
}

fn v4_len(n: &Ipv4Net) -> usize {
    1 + prefix_octets(n.prefix_len())
}

fn v6_len(n: &Ipv6Net) -> usize {
    1 + prefix_octets(n.prefix_len())
}

/// Flags, type, one- or two-octet length, value.
fn mp_attr_len(value: usize) -> usize {
    if value > 255 { 4 + value } else { 3 + value }
}

/// Greedy split of `items` so that `message_len(sum of item lengths)` stays within the
/// limit. A single item always gets a message of its own, even if it alone were too long;
/// the encoder then reports it, which cannot happen with [`RouteAttrs`]' bounds.
fn chunk<T: Clone>(
    items: &[T],
    item_len: impl Fn(&T) -> usize,
    message_len: impl Fn(usize) -> usize,
) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for item in items {
        let len = item_len(item);
        if !current.is_empty() && message_len(bytes + len) > MAX_MESSAGE_LEN {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(item.clone());
        bytes += len;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The IPv4 NEXT_HOP for a session whose local end is `local`: that address if IPv4,
/// else `local_ipv4` (an IPv4 address of the interface, as upstream's router-ID rule uses).
pub fn ipv4_next_hop(local: IpAddr, local_ipv4: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
    match local {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().or(local_ipv4),
    }
}
