//! `BGPPeer` and `BFDProfile` objects to the internal [`Peer`] and [`BfdProfile`]:
//! upstream v0.13's `peerFromCR` and `bfdProfileFromCR`, checks in its order.

use std::collections::{BTreeMap, HashSet};

use crate::config::{Asn, BfdProfile, HoldTime, Peer, Selector, parse_go_duration, parse_ip};
use crate::crd::error::{CrdError, Reason};
use crate::crd::selectors::{duplicate_selectors, to_selector};
use crate::crd::types::{BfdProfile as BfdObject, BfdProfileSpec, BgpPeer, BgpPeerSpec, Kind};
use crate::gotext::duration_string;

const NS_PER_S: i64 = 1_000_000_000;
const DEFAULT_HOLD_NS: i64 = 90 * NS_PER_S;

fn peer_err(name: &str, field: &str, reason: Reason) -> CrdError {
    CrdError::new(BgpPeerSpec::KIND, name, field, reason)
}

/// A `metav1.Duration` field: empty is zero.
fn duration(name: &str, field: &str, text: &str) -> Result<i64, CrdError> {
    if text.is_empty() {
        return Ok(0);
    }
    parse_go_duration(text).map_err(|e| peer_err(name, field, Reason::Duration(e)))
}

/// Every peer, in object order; then upstream's reference check and our duplicate check.
pub(crate) fn peers(
    objects: &[BgpPeer],
    profiles: &BTreeMap<String, BfdProfile>,
) -> Result<Vec<Peer>, CrdError> {
    let mut out = Vec::with_capacity(objects.len());
    let mut seen = HashSet::new();
    for obj in objects {
        let name = obj.name();
        let peer = peer(obj)?;
        if !peer.bfd_profile.is_empty() && !profiles.contains_key(&peer.bfd_profile) {
            return Err(peer_err(
                name,
                "spec.bfdProfile",
                Reason::UnknownBfdProfile {
                    peer: name.to_owned(),
                    profile: peer.bfd_profile,
                },
            ));
        }
        // Upstream's equality includes the object's name, so it never fires; two sessions
        // alike in every setting are refused here as the ConfigMap refuses them
        // (docs/crd.md#differences-from-upstream).
        if !seen.insert(peer.clone()) {
            return Err(peer_err(
                name,
                "spec",
                Reason::DuplicatePeer(name.to_owned()),
            ));
        }
        out.push(peer);
    }
    Ok(out)
}

/// `peerFromCR` of v0.13.
fn peer(obj: &BgpPeer) -> Result<Peer, CrdError> {
    let name = obj.name();
    let s = &obj.spec;
    let err = |field: &str, reason| peer_err(name, field, reason);
    if let Some(field) = s.unknown.keys().next() {
        return Err(err(
            &format!("spec.{field}"),
            Reason::UnknownField(field.clone()),
        ));
    }
    let my_asn = Asn::new(s.my_asn).ok_or_else(|| err("spec.myASN", Reason::MissingLocalAsn))?;
    let peer_asn =
        Asn::new(s.peer_asn).ok_or_else(|| err("spec.peerASN", Reason::MissingPeerAsn))?;
    if my_asn == peer_asn && s.ebgp_multihop {
        return Err(err("spec.ebgpMultiHop", Reason::MultihopIbgp));
    }
    let addr = parse_ip(&s.peer_address).ok_or_else(|| {
        err(
            "spec.peerAddress",
            Reason::PeerAddress(s.peer_address.clone()),
        )
    })?;

    let mut hold_ns = duration(name, "spec.holdTime", &s.hold_time)?;
    if hold_ns == 0 {
        hold_ns = DEFAULT_HOLD_NS;
    }
    // `validateHoldTime`: whole seconds, truncated, must be 0 or at least 3. The sub-second
    // part is dropped, as the ConfigMap drops it (docs/crd.md#differences-from-upstream).
    let hold_time = u64::try_from(hold_ns / NS_PER_S)
        .ok()
        .and_then(HoldTime::from_secs)
        .ok_or_else(|| err("spec.holdTime", Reason::HoldTime(duration_string(hold_ns))))?;
    let keepalive_ns = duration(name, "spec.keepaliveTime", &s.keepalive_time)?;
    if keepalive_ns > hold_ns {
        return Err(err(
            "spec.keepaliveTime",
            Reason::Keepalive(duration_string(keepalive_ns)),
        ));
    }
    let whole_hold_ns =
        i64::try_from(hold_time.as_secs()).unwrap_or(i64::MAX / NS_PER_S) * NS_PER_S;
    let keepalive_time_ns = if keepalive_ns == 0 {
        whole_hold_ns / 3
    } else {
        keepalive_ns / NS_PER_S * NS_PER_S
    };

    let router_id = match s.router_id.as_str() {
        "" => None,
        text => Some(
            parse_ip(text)
                .ok_or_else(|| err("spec.routerID", Reason::RouterId(text.to_owned())))?,
        ),
    };
    let src_addr = match s.source_address.as_str() {
        "" => None,
        text => Some(
            parse_ip(text)
                .ok_or_else(|| err("spec.sourceAddress", Reason::SourceIp(text.to_owned())))?,
        ),
    };

    duplicate_selectors(&s.node_selectors, "nodeSelectors")
        .map_err(|r| err("spec.nodeSelectors", r))?;
    let mut node_selectors = Vec::with_capacity(s.node_selectors.len());
    for (i, sel) in s.node_selectors.iter().enumerate() {
        let sel = to_selector(sel).map_err(|reason| {
            err(
                &format!("spec.nodeSelectors[{i}]"),
                Reason::NodeSelector {
                    peer: name.to_owned(),
                    reason,
                },
            )
        })?;
        node_selectors.push(sel);
    }
    if node_selectors.is_empty() {
        node_selectors.push(Selector::everything());
    }

    if !s.password_secret.is_empty() {
        return Err(err(
            "spec.passwordSecret",
            Reason::Unsupported("a password read from a Secret (passwordSecret)".to_owned()),
        ));
    }
    if !s.vrf.is_empty() {
        return Err(err(
            "spec.vrf",
            Reason::Unsupported("peering from a VRF (vrf)".to_owned()),
        ));
    }

    Ok(Peer {
        my_asn,
        peer_asn,
        addr,
        port: match s.peer_port {
            0 => 179,
            p => p,
        },
        src_addr,
        hold_time,
        keepalive_time_ns,
        router_id,
        node_selectors,
        password: s.password.clone(),
        bfd_profile: s.bfd_profile.clone(),
        ebgp_multihop: s.ebgp_multihop,
    })
}

/// Every profile by name (`bfdProfilesFor`).
pub(crate) fn bfd_profiles(
    objects: &[BfdObject],
) -> Result<BTreeMap<String, BfdProfile>, CrdError> {
    let mut out = BTreeMap::new();
    for obj in objects {
        let profile = bfd_profile(obj)?;
        if out.contains_key(&profile.name) {
            return Err(CrdError::new(
                BfdProfileSpec::KIND,
                obj.name(),
                "metadata.name",
                Reason::DuplicateBfd(profile.name),
            ));
        }
        out.insert(profile.name.clone(), profile);
    }
    Ok(out)
}

/// `bfdProfileFromCR` of v0.13: the ranges of its schema, checked in its order.
fn bfd_profile(obj: &BfdObject) -> Result<BfdProfile, CrdError> {
    let name = obj.name();
    let s = &obj.spec;
    let err = |field: &str, reason| CrdError::new(BfdProfileSpec::KIND, name, field, reason);
    if let Some(field) = s.unknown.keys().next() {
        return Err(err(
            &format!("spec.{field}"),
            Reason::UnknownField(field.clone()),
        ));
    }
    if name.is_empty() {
        return Err(err("metadata.name", Reason::MissingBfdName));
    }
    let bounded = |v: Option<u32>, field: &str, what: &'static str, lo: u32, hi: u32| match v {
        Some(value) if !(lo..=hi).contains(&value) => Err(err(
            field,
            Reason::BfdRange {
                field: what,
                value,
                lo,
                hi,
            },
        )),
        v => Ok(v),
    };
    Ok(BfdProfile {
        detect_multiplier: bounded(
            s.detect_multiplier,
            "spec.detectMultiplier",
            "detect multiplier",
            2,
            255,
        )?,
        receive_interval: bounded(
            s.receive_interval,
            "spec.receiveInterval",
            "receive interval",
            10,
            60000,
        )?,
        transmit_interval: bounded(
            s.transmit_interval,
            "spec.transmitInterval",
            "transmit interval",
            10,
            60000,
        )?,
        minimum_ttl: bounded(s.minimum_ttl, "spec.minimumTtl", "minimum ttl", 1, 254)?,
        echo_interval: bounded(
            s.echo_interval,
            "spec.echoInterval",
            "echo interval",
            10,
            60000,
        )?,
        echo_mode: s.echo_mode.unwrap_or(false),
        passive_mode: s.passive_mode.unwrap_or(false),
        name: name.to_owned(),
    })
}
