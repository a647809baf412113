//! IPv6 Neighbor Discovery (RFC 4861) for the responder: Neighbor Solicitation in, Neighbor
//! Advertisement out, plus the unsolicited advertisement of a gratuitous round.
//!
//! The speaker talks ICMPv6 through a raw ICMPv6 socket, so [`NdpMessage`] is the ICMPv6
//! message alone (the kernel adds the IPv6 header and fills the checksum). [`NdpFrame`] is
//! the whole Ethernet + IPv6 + ICMPv6 frame, with the pseudo-header checksum, for captures,
//! tests and the benches.

use std::net::Ipv6Addr;

use super::MacAddr;
use super::wire::{array, icmpv6_checksum};

pub const TYPE_NEIGHBOR_SOLICITATION: u8 = 135;
pub const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// Hop limit every ND message must be sent with and, when visible, received with.
pub const HOP_LIMIT: u8 = 255;
/// `ff02::1`, where unsolicited advertisements go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

const HEADER_LEN: usize = 24;
const OPT_SOURCE_LLA: u8 = 1;
const OPT_TARGET_LLA: u8 = 2;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;
const IPV6_HEADER_LEN: usize = 40;
const NEXT_HEADER_ICMPV6: u8 = 58;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborSolicitation {
    pub target: Ipv6Addr,
    /// The solicitor's MAC; absent in DAD probes (sent from `::`).
    pub source_lla: Option<MacAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvertisement {
    pub router: bool,
    pub solicited: bool,
    pub override_entry: bool,
    pub target: Ipv6Addr,
    pub target_lla: Option<MacAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpMessage {
    Solicitation(NeighborSolicitation),
    Advertisement(NeighborAdvertisement),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NdpError {
    #[error("message of {0} bytes is too short")]
    Truncated(usize),
    #[error("ICMPv6 type {0} is not a neighbor solicitation or advertisement")]
    UnsupportedType(u8),
    #[error("ICMPv6 code {0} is not 0")]
    BadCode(u8),
    #[error("target {0} is a multicast address")]
    MulticastTarget(Ipv6Addr),
    #[error("option of type {kind} has a bad length of {units} units")]
    BadOption { kind: u8, units: u8 },
    #[error("EtherType {0:#06x} is not IPv6")]
    NotIpv6(u16),
    #[error("IPv6 version field is {0}")]
    BadVersion(u8),
    #[error("IPv6 next header {0} is not ICMPv6")]
    NotIcmpv6(u8),
    #[error("IPv6 payload length {0} exceeds the frame")]
    BadPayloadLength(u16),
    #[error("ICMPv6 checksum does not verify")]
    BadChecksum,
    #[error("hop limit {0} is not 255, the message left its link")]
    BadHopLimit(u8),
}

impl NdpMessage {
    /// Decodes an ICMPv6 message (from its type byte on); the checksum is not checked here
    /// because the kernel verifies it for raw ICMPv6 sockets.
    pub fn parse(icmp: &[u8]) -> Result<NdpMessage, NdpError> {
        let header: [u8; HEADER_LEN] = array(icmp, 0).ok_or(NdpError::Truncated(icmp.len()))?;
        let (kind, code) = (header[0], header[1]);
        if kind != TYPE_NEIGHBOR_SOLICITATION && kind != TYPE_NEIGHBOR_ADVERTISEMENT {
            return Err(NdpError::UnsupportedType(kind));
        }
        if code != 0 {
            return Err(NdpError::BadCode(code));
        }
        let target =
            Ipv6Addr::from(array::<16>(&header, 8).ok_or(NdpError::Truncated(icmp.len()))?);
        if target.is_multicast() {
            return Err(NdpError::MulticastTarget(target));
        }
        let wanted = if kind == TYPE_NEIGHBOR_SOLICITATION {
            OPT_SOURCE_LLA
        } else {
            OPT_TARGET_LLA
        };
        let lla = find_lla(icmp.get(HEADER_LEN..).unwrap_or_default(), wanted)?;
        Ok(if kind == TYPE_NEIGHBOR_SOLICITATION {
            NdpMessage::Solicitation(NeighborSolicitation {
                target,
                source_lla: lla,
            })
        } else {
            let flags = header[4];
            NdpMessage::Advertisement(NeighborAdvertisement {
                router: flags & FLAG_ROUTER != 0,
                solicited: flags & FLAG_SOLICITED != 0,
                override_entry: flags & FLAG_OVERRIDE != 0,
                target,
                target_lla: lla,
            })
        })
    }

    /// Encodes the message with a zero checksum, as a raw ICMPv6 socket wants it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (kind, flags, target, option) = match *self {
            NdpMessage::Solicitation(ns) => (
                TYPE_NEIGHBOR_SOLICITATION,
                0,
                ns.target,
                ns.source_lla.map(|m| (OPT_SOURCE_LLA, m)),
            ),
            NdpMessage::Advertisement(na) => {
                let flags = (u8::from(na.router) * FLAG_ROUTER)
                    | (u8::from(na.solicited) * FLAG_SOLICITED)
                    | (u8::from(na.override_entry) * FLAG_OVERRIDE);
                (
                    TYPE_NEIGHBOR_ADVERTISEMENT,
                    flags,
                    na.target,
                    na.target_lla.map(|m| (OPT_TARGET_LLA, m)),
                )
            }
        };
        let mut b = Vec::with_capacity(HEADER_LEN + 8);
        b.extend_from_slice(&[kind, 0, 0, 0, flags, 0, 0, 0]);
        b.extend_from_slice(&target.octets());
        if let Some((opt, mac)) = option {
            b.extend_from_slice(&[opt, 1]);
            b.extend_from_slice(&mac.0);
        }
        b
    }

    /// Encodes the message with its checksum for the given IPv6 source and destination.
    pub fn to_bytes_checksummed(&self, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut b = self.to_bytes();
        let sum = icmpv6_checksum(src, dst, &b).to_be_bytes();
        b[2..4].copy_from_slice(&sum);
        b
    }
}

/// The Ethernet link-layer address option of kind `wanted`, if present. Other options are
/// skipped; a zero-length or overrunning option makes the whole message invalid (RFC 4861 §4.6).
fn find_lla(mut options: &[u8], wanted: u8) -> Result<Option<MacAddr>, NdpError> {
    let mut found = None;
    while let [kind, units, ..] = *options {
        let len = usize::from(units) * 8;
        if units == 0 || len > options.len() {
            return Err(NdpError::BadOption { kind, units });
        }
        if kind == wanted && found.is_none() {
            // An Ethernet address fills exactly one 8-byte unit.
            if units != 1 {
                return Err(NdpError::BadOption { kind, units });
            }
            found = array::<6>(options, 2).map(MacAddr);
        }
        options = options.get(len..).unwrap_or_default();
    }
    Ok(found)
}

/// A Neighbor Advertisement the responder should send, where to, and for which owned IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdpReply {
    pub target: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub advert: NeighborAdvertisement,
}

/// The NDP responder rule (docs/layer2.md#answering-ndp, upstream's `internal/layer2/ndp.go`):
/// only solicitations carrying a source link-layer address (so DAD probes from `::` are left
/// alone) for an owned target get an advertisement, sent back to the solicitor with Router=0,
/// Solicited=1, Override=0 and our MAC.
pub fn respond(
    src: Ipv6Addr,
    icmp: &[u8],
    our_mac: MacAddr,
    owned: impl Fn(Ipv6Addr) -> bool,
) -> Option<NdpReply> {
    let NdpMessage::Solicitation(ns) = NdpMessage::parse(icmp).ok()? else {
        return None;
    };
    ns.source_lla?;
    if src.is_unspecified() || !owned(ns.target) {
        return None;
    }
    Some(NdpReply {
        target: ns.target,
        dst: src,
        advert: NeighborAdvertisement {
            router: false,
            solicited: true,
            override_entry: false,
            target: ns.target,
            target_lla: Some(our_mac),
        },
    })
}

/// The address a Neighbor Advertisement claims: its target, for its target link-layer
/// address. A new owner's unsolicited NA is such a claim; advertisements without the option
/// say nothing about who has the address, and solicitations claim nothing.
pub fn claim(icmp: &[u8]) -> Option<(Ipv6Addr, MacAddr)> {
    match NdpMessage::parse(icmp).ok()? {
        NdpMessage::Advertisement(na) => na.target_lla.map(|mac| (na.target, mac)),
        NdpMessage::Solicitation(_) => None,
    }
}

/// The advertisement of a gratuitous round for `vip`, to be sent to [`ALL_NODES`]: not
/// solicited, and overriding whatever MAC neighbours cached for it.
pub fn unsolicited(vip: Ipv6Addr, our_mac: MacAddr) -> NeighborAdvertisement {
    NeighborAdvertisement {
        router: false,
        solicited: false,
        override_entry: true,
        target: vip,
        target_lla: Some(our_mac),
    }
}

/// `ff02::1:ffXX:XXXX`, the solicited-node multicast group that solicitations for `ip` go to.
pub fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// `33:33:` + the low 32 bits of an IPv6 multicast group (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// A whole Ethernet frame carrying an ND message (no IPv6 extension headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdpFrame {
    pub eth_dst: MacAddr,
    pub eth_src: MacAddr,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub message: NdpMessage,
}

impl NdpFrame {
    /// Decodes and validates a frame: IPv6, ICMPv6 directly after the fixed header, hop
    /// limit 255 and a correct checksum. Bytes beyond the IPv6 payload (padding) are ignored.
    pub fn parse(frame: &[u8]) -> Result<NdpFrame, NdpError> {
        let eth: [u8; 14] = array(frame, 0).ok_or(NdpError::Truncated(frame.len()))?;
        let ethertype = u16::from_be_bytes([eth[12], eth[13]]);
        if ethertype != ETHERTYPE_IPV6 {
            return Err(NdpError::NotIpv6(ethertype));
        }
        let ip: [u8; IPV6_HEADER_LEN] = array(frame, 14).ok_or(NdpError::Truncated(frame.len()))?;
        if ip[0] >> 4 != 6 {
            return Err(NdpError::BadVersion(ip[0] >> 4));
        }
        if ip[6] != NEXT_HEADER_ICMPV6 {
            return Err(NdpError::NotIcmpv6(ip[6]));
        }
        if ip[7] != HOP_LIMIT {
            return Err(NdpError::BadHopLimit(ip[7]));
        }
        let payload_len = u16::from_be_bytes([ip[4], ip[5]]);
        let start = 14 + IPV6_HEADER_LEN;
        let icmp = frame
            .get(start..start + usize::from(payload_len))
            .ok_or(NdpError::BadPayloadLength(payload_len))?;
        let src = Ipv6Addr::from(array::<16>(&ip, 8).ok_or(NdpError::Truncated(frame.len()))?);
        let dst = Ipv6Addr::from(array::<16>(&ip, 24).ok_or(NdpError::Truncated(frame.len()))?);
        if icmpv6_checksum(src, dst, icmp) != 0 {
            return Err(NdpError::BadChecksum);
        }
        let mac = |at: usize| {
            MacAddr([
                eth[at],
                eth[at + 1],
                eth[at + 2],
                eth[at + 3],
                eth[at + 4],
                eth[at + 5],
            ])
        };
        Ok(NdpFrame {
            eth_dst: mac(0),
            eth_src: mac(6),
            src,
            dst,
            message: NdpMessage::parse(icmp)?,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let icmp = self.message.to_bytes_checksummed(self.src, self.dst);
        let payload_len = u16::try_from(icmp.len()).unwrap_or(u16::MAX).to_be_bytes();
        let mut b = Vec::with_capacity(14 + IPV6_HEADER_LEN + icmp.len());
        b.extend_from_slice(&self.eth_dst.0);
        b.extend_from_slice(&self.eth_src.0);
        b.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        b.extend_from_slice(&[0x60, 0, 0, 0]);
        b.extend_from_slice(&payload_len);
        b.extend_from_slice(&[NEXT_HEADER_ICMPV6, HOP_LIMIT]);
        b.extend_from_slice(&self.src.octets());
        b.extend_from_slice(&self.dst.octets());
        b.extend_from_slice(&icmp);
        b
    }
}

#[cfg(test)]
#[path = "ndp_tests.rs"]
mod tests;
