//! `peers[]`: one BGP session per matching node.

use std::fmt;
use std::net::IpAddr;

use super::duration::parse_go_duration;
use super::range::parse_ip;
use super::raw::RawPeer;
use super::selector::{Selector, SelectorError};
use crate::gotext::quote;

/// An autonomous system number; zero is not one (upstream rejects it as "missing").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Asn(u32);

impl Asn {
    /// `None` for 0.
    pub fn new(v: u32) -> Option<Self> {
        (v != 0).then_some(Self(v))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A BGP hold time in whole seconds: 0 (no keepalives) or at least 3 (RFC 4271 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldTime(u64);

impl HoldTime {
    pub const DEFAULT: HoldTime = HoldTime(90);

    /// `None` for 1 and 2 seconds.
    pub fn from_secs(secs: u64) -> Option<Self> {
        (secs == 0 || secs >= 3).then_some(Self(secs))
    }
    pub fn as_secs(self) -> u64 {
        self.0
    }
}

/// A configured BGP peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    pub my_asn: Asn,
    pub peer_asn: Asn,
    pub addr: IpAddr,
    pub port: u16,
    pub src_addr: Option<IpAddr>,
    pub hold_time: HoldTime,
    /// Nanoseconds, as upstream keeps it: `hold/3` unrounded by default, otherwise the
    /// configured value truncated to whole seconds (no lower bound upstream, so it may be ≤ 0).
    pub keepalive_time_ns: i64,
    pub router_id: Option<IpAddr>,
    /// The peer is used on a node if any selector matches; never empty.
    pub node_selectors: Vec<Selector>,
    pub password: String,
    pub bfd_profile: String,
    pub ebgp_multihop: bool,
}

impl Peer {
    /// iBGP when both ends share an ASN.
    pub fn is_ibgp(&self) -> bool {
        self.my_asn == self.peer_asn
    }

    /// Does this peer apply to a node with these labels?
    pub fn selects(&self, labels: &super::Labels) -> bool {
        self.node_selectors.iter().any(|s| s.matches(labels))
    }
}

/// Why a peer was rejected; upstream's texts after `parsing peer #N: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("missing local ASN")]
    MissingLocalAsn,
    #[error("missing peer ASN")]
    MissingPeerAsn,
    #[error("invalid ebgp-multihop parameter set for an ibgp peer")]
    MultihopIbgp,
    #[error("invalid peer IP {}", quote(.0))]
    PeerIp(String),
    #[error("invalid hold time {}: {}", quote(.0), .1)]
    HoldTimeSyntax(String, String),
    #[error("invalid hold time {}: must be 0 or >=3s", quote(.0))]
    HoldTimeRange(String),
    #[error("invalid keepalive time {}: {}", quote(.0), .1)]
    KeepaliveSyntax(String, String),
    #[error("invalid keepaliveTime {}", quote(.0))]
    KeepaliveAboveHold(String),
    #[error("invalid router ID {}", quote(.0))]
    RouterId(String),
    #[error("invalid source IP {}", quote(.0))]
    SourceIp(String),
    #[error("parsing node selector: {0}")]
    NodeSelector(SelectorError),
}

const NS_PER_S: i64 = 1_000_000_000;

/// `parsePeer` of v0.12.1, checks in upstream's order.
pub(crate) fn parse_peer(raw: &RawPeer) -> Result<Peer, PeerError> {
    let my_asn = Asn::new(raw.my_asn).ok_or(PeerError::MissingLocalAsn)?;
    let peer_asn = Asn::new(raw.peer_asn).ok_or(PeerError::MissingPeerAsn)?;
    let ebgp_multihop = raw.ebgp_multihop;
    if my_asn == peer_asn && ebgp_multihop {
        return Err(PeerError::MultihopIbgp);
    }
    let addr_text = raw.peer_address.as_str();
    let addr = parse_ip(addr_text).ok_or_else(|| PeerError::PeerIp(addr_text.to_owned()))?;

    let hold_text = raw.hold_time.as_str();
    let hold_time = if hold_text.is_empty() {
        HoldTime::DEFAULT
    } else {
        let ns = parse_go_duration(hold_text)
            .map_err(|e| PeerError::HoldTimeSyntax(hold_text.to_owned(), e))?;
        // Truncated toward zero to whole seconds; negative values fail the range check.
        let secs = ns / NS_PER_S;
        u64::try_from(secs)
            .ok()
            .and_then(HoldTime::from_secs)
            .ok_or_else(|| PeerError::HoldTimeRange(hold_text.to_owned()))?
    };
    let hold_ns = i64::try_from(hold_time.as_secs()).unwrap_or(i64::MAX / NS_PER_S) * NS_PER_S;

    let keepalive_text = raw.keepalive_time.as_str();
    let keepalive_time_ns = if keepalive_text.is_empty() {
        hold_ns / 3
    } else {
        let ns = parse_go_duration(keepalive_text)
            .map_err(|e| PeerError::KeepaliveSyntax(keepalive_text.to_owned(), e))?;
        ns / NS_PER_S * NS_PER_S
    };
    if keepalive_time_ns > hold_ns {
        return Err(PeerError::KeepaliveAboveHold(keepalive_text.to_owned()));
    }

    let port = match raw.peer_port {
        0 => 179,
        p => p,
    };
    let router_id = match raw.router_id.as_str() {
        "" => None,
        text => Some(parse_ip(text).ok_or_else(|| PeerError::RouterId(text.to_owned()))?),
    };
    let src_addr = match raw.source_address.as_str() {
        "" => None,
        text => Some(parse_ip(text).ok_or_else(|| PeerError::SourceIp(text.to_owned()))?),
    };

    let mut node_selectors = Vec::new();
    for sel in &raw.node_selectors {
        let exprs: Vec<(String, String, Vec<String>)> = sel
            .match_expressions
            .iter()
            .map(|e| (e.key.clone(), e.operator.clone(), e.values.clone()))
            .collect();
        node_selectors.push(
            Selector::from_parts(&sel.match_labels, &exprs).map_err(PeerError::NodeSelector)?,
        );
    }
    if node_selectors.is_empty() {
        node_selectors.push(Selector::everything());
    }

    Ok(Peer {
        my_asn,
        peer_asn,
        addr,
        port,
        src_addr,
        hold_time,
        keepalive_time_ns,
        router_id,
        node_selectors,
        password: raw.password.clone(),
        bfd_profile: raw.bfd_profile.clone(),
        ebgp_multihop,
    })
}
