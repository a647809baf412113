//! Value types shared by the codec, the packer and the session.
//!
//! Each one enforces at construction what the wire format or RFC 4271 requires, so that the
//! encoders never have to second-guess their input: a [`HoldTime`] of 1 or 2 seconds, a
//! [`Prefix`] with host bits set or a route with more communities than fit in a message
//! simply cannot be built.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use thiserror::Error;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TypeError {
    /// RFC 4271 §4.2: the hold time must be zero or at least three seconds.
    #[error("hold time {0}s is neither 0 nor at least 3s")]
    HoldTime(u16),
    /// More communities than [`RouteAttrs::MAX_COMMUNITIES`].
    #[error("{0} communities exceed the maximum of {max}", max = RouteAttrs::MAX_COMMUNITIES)]
    TooManyCommunities(usize),
    /// Text that is not `a.b.c.d/n` or an IPv6 CIDR.
    #[error("invalid prefix {0:?}")]
    Prefix(String),
}

/// An autonomous system number; always the full 32-bit value (RFC 6793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Asn(pub u32);

impl Asn {
    /// RFC 6793 AS_TRANS, written in 2-octet fields in place of a 4-octet ASN.
    pub const TRANS: u16 = 23456;

    /// Whether this ASN needs the 4-octet capability to be carried at all.
    pub fn is_four_octet(self) -> bool {
        self.0 > u32::from(u16::MAX)
    }

    /// The value for the 2-octet "My Autonomous System" field of an OPEN.
    pub fn as_open_field(self) -> u16 {
        u16::try_from(self.0).unwrap_or(Self::TRANS)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A BGP hold time in seconds: 0 (keepalives disabled) or 3..=65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldTime(u16);

impl HoldTime {
    /// Hold time 0: neither side sends keepalives nor enforces a hold timer.
    pub const DISABLED: HoldTime = HoldTime(0);
    /// MetalLB's default (`hold-time: 90s`).
    pub const DEFAULT: HoldTime = HoldTime(90);

    pub fn new(secs: u16) -> Result<Self, TypeError> {
        match secs {
            1 | 2 => Err(TypeError::HoldTime(secs)),
            _ => Ok(Self(secs)),
        }
    }

    pub fn secs(self) -> u16 {
        self.0
    }

    /// RFC 4271 §4.2: both sides use the smaller of the two proposals.
    pub fn negotiate(self, peer: HoldTime) -> HoldTime {
        self.min(peer)
    }

    /// How long the peer may stay silent; `None` when disabled.
    pub fn duration(self) -> Option<Duration> {
        (self.0 != 0).then(|| Duration::from_secs(self.0.into()))
    }

    /// One third of the hold time (RFC 4271 §10 suggestion, and what MetalLB uses).
    pub fn keepalive_interval(self) -> Option<Duration> {
        self.duration().map(|d| d / 3)
    }
}

/// A unicast route prefix with its host bits cleared, IPv4 or IPv6.
///
/// Keeping the prefix canonical makes equal routes compare equal in the Adj-RIB-out, so a
/// service IP and its aggregate are deduplicated the way upstream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix(IpNet);

impl Prefix {
    /// Clears the host bits (`192.0.2.7/24` becomes `192.0.2.0/24`).
    pub fn new(net: IpNet) -> Self {
        Self(net.trunc())
    }

    /// The single-address prefix (/32 or /128) of `ip`.
    pub fn host(ip: IpAddr) -> Self {
        Self(IpNet::from(ip))
    }

    pub fn net(self) -> IpNet {
        self.0
    }

    pub fn is_v4(self) -> bool {
        matches!(self.0, IpNet::V4(_))
    }
}

impl From<Ipv4Net> for Prefix {
    fn from(net: Ipv4Net) -> Self {
        Self::new(net.into())
    }
}

impl From<Ipv6Net> for Prefix {
    fn from(net: Ipv6Net) -> Self {
        Self::new(net.into())
    }
}

impl FromStr for Prefix {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<IpNet>()
            .map(Self::new)
            .map_err(|_| TypeError::Prefix(s.to_owned()))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An RFC 1997 community: the configuration's type, so parsed values flow into UPDATEs
/// without conversion.
pub use crate::config::Community;

/// The attributes MetalLB attaches to an advertised prefix. Next hop, ORIGIN and AS_PATH are
/// properties of the session, not of the route, so they are not here.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteAttrs {
    local_pref: u32,
    communities: BTreeSet<Community>,
}

impl RouteAttrs {
    /// Cap that keeps one route with all its attributes well inside a 4096-byte UPDATE
    /// (255 × 4 bytes of communities), so packing can never fail. Upstream capped at 63
    /// because it could not write an extended-length attribute; this codec can.
    pub const MAX_COMMUNITIES: usize = 255;

    /// Communities are a set: sorted ascending (as upstream sends them) and deduplicated.
    pub fn new(
        local_pref: u32,
        communities: impl IntoIterator<Item = Community>,
    ) -> Result<Self, TypeError> {
        let communities: BTreeSet<Community> = communities.into_iter().collect();
        if communities.len() > Self::MAX_COMMUNITIES {
            return Err(TypeError::TooManyCommunities(communities.len()));
        }
        Ok(Self {
            local_pref,
            communities,
        })
    }

    pub fn local_pref(&self) -> u32 {
        self.local_pref
    }

    /// Ascending by numeric value.
    pub fn communities(&self) -> impl ExactSizeIterator<Item = Community> + '_ {
        self.communities.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_time_rejects_one_and_two_seconds() {
        assert_eq!(HoldTime::new(1), Err(TypeError::HoldTime(1)));
        assert_eq!(HoldTime::new(2), Err(TypeError::HoldTime(2)));
        assert_eq!(HoldTime::new(0).map(HoldTime::duration), Ok(None));
        assert_eq!(
            HoldTime::new(3).map(HoldTime::keepalive_interval),
            Ok(Some(Duration::from_secs(1)))
        );
    }

    #[test]
    fn negotiated_hold_is_the_minimum_and_keepalive_a_third() {
        let ours = HoldTime::new(90).unwrap();
        let theirs = HoldTime::new(30).unwrap();
        assert_eq!(ours.negotiate(theirs), theirs);
        assert_eq!(
            theirs.negotiate(ours).keepalive_interval(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(ours.negotiate(HoldTime::DISABLED), HoldTime::DISABLED);
    }

    #[test]
    fn open_field_uses_as_trans_above_65535() {
        assert_eq!(Asn(65535).as_open_field(), 65535);
        assert_eq!(Asn(65536).as_open_field(), 23456);
        assert!(Asn(4_200_000_000).is_four_octet());
        assert!(!Asn(64512).is_four_octet());
    }

    #[test]
    fn prefix_is_canonical() {
        let p: Prefix = "198.51.100.10/24".parse().unwrap();
        assert_eq!(p.to_string(), "198.51.100.0/24");
        assert_eq!(p, "198.51.100.0/24".parse().unwrap());
        assert!("198.51.100.0/33".parse::<Prefix>().is_err());
    }

    #[test]
    fn communities_are_sorted_deduplicated_and_capped() {
        let attrs = RouteAttrs::new(100, [Community(7), Community(3), Community(7)]).unwrap();
        assert_eq!(
            attrs.communities().collect::<Vec<_>>(),
            [Community(3), Community(7)]
        );
        assert_eq!(Community(0xffff_ff01).to_string(), "65535:65281");
        let too_many = (0..256).map(Community);
        assert_eq!(
            RouteAttrs::new(0, too_many),
            Err(TypeError::TooManyCommunities(256))
        );
    }
}
