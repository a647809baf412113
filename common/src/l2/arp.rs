//! ARP over Ethernet for IPv4 (RFC 826): the frames the responder reads and writes, and the
//! decision whether a received frame deserves a reply (docs/layer2.md#answering-arp).

use std::net::Ipv4Addr;

use super::MacAddr;
use super::wire::{array, u16_at};

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethernet header (14) + ARP for Ethernet/IPv4 (28). Received frames may carry padding.
pub const FRAME_LEN: usize = 42;

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;

/// ARP opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Request = 1,
    Reply = 2,
}

/// An Ethernet frame carrying ARP for IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpFrame {
    pub eth_dst: MacAddr,
    pub eth_src: MacAddr,
    pub op: Operation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArpError {
    #[error("frame of {0} bytes is shorter than an Ethernet ARP frame")]
    Truncated(usize),
    #[error("EtherType {0:#06x} is not ARP")]
    NotArp(u16),
    #[error(
        "ARP for hardware type {htype}, protocol {ptype:#06x} (sizes {hlen}/{plen}) is not Ethernet/IPv4"
    )]
    UnsupportedAddresses {
        htype: u16,
        ptype: u16,
        hlen: u8,
        plen: u8,
    },
    #[error("unknown ARP operation {0}")]
    UnknownOperation(u16),
}

impl ArpFrame {
    /// Decodes an Ethernet frame; bytes after the 42 ARP bytes (padding) are ignored.
    pub fn parse(frame: &[u8]) -> Result<ArpFrame, ArpError> {
        let b: [u8; FRAME_LEN] = array(frame, 0).ok_or(ArpError::Truncated(frame.len()))?;
        let field = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
        let mac =
            |at: usize| MacAddr([b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5]]);
        let ip = |at: usize| Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3]);

        let ethertype = field(12);
        if ethertype != ETHERTYPE_ARP {
            return Err(ArpError::NotArp(ethertype));
        }
        let (htype, ptype, hlen, plen) = (field(14), field(16), b[18], b[19]);
        if (htype, ptype, hlen, plen) != (HTYPE_ETHERNET, PTYPE_IPV4, 6, 4) {
            return Err(ArpError::UnsupportedAddresses {
                htype,
                ptype,
                hlen,
                plen,
            });
        }
        let op = match field(20) {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => return Err(ArpError::UnknownOperation(other)),
        };
        Ok(ArpFrame {
            eth_dst: mac(0),
            eth_src: mac(6),
            op,
            sender_mac: mac(22),
            sender_ip: ip(28),
            target_mac: mac(32),
            target_ip: ip(38),
        })
    }

    /// Encodes the frame without padding; the kernel pads short frames on the wire.
    pub fn to_bytes(&self) -> [u8; FRAME_LEN] {
        let mut b = [0u8; FRAME_LEN];
        b[0..6].copy_from_slice(&self.eth_dst.0);
        b[6..12].copy_from_slice(&self.eth_src.0);
        b[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        b[14..16].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[16..18].copy_from_slice(&PTYPE_IPV4.to_be_bytes());
        b[18] = 6;
        b[19] = 4;
        b[20..22].copy_from_slice(&(self.op as u16).to_be_bytes());
        b[22..28].copy_from_slice(&self.sender_mac.0);
        b[28..32].copy_from_slice(&self.sender_ip.octets());
        b[32..38].copy_from_slice(&self.target_mac.0);
        b[38..42].copy_from_slice(&self.target_ip.octets());
        b
    }
}

/// A reply the responder should send, and the owned IP it answers for (for the counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpReply {
    pub ip: Ipv4Addr,
    pub frame: [u8; FRAME_LEN],
}

/// The ARP responder rule (docs/layer2.md#answering-arp, upstream's `internal/layer2/arp.go`):
/// answer requests for owned IPs that were broadcast or sent to this interface, whatever the
/// sender IP (DAD probes from 0.0.0.0 included).
///
/// The reply goes unicast to the requester, from `our_mac`, claiming the requested IP.
pub fn respond(
    frame: &[u8],
    our_mac: MacAddr,
    owned: impl Fn(Ipv4Addr) -> bool,
) -> Option<ArpReply> {
    let req = ArpFrame::parse(frame).ok()?;
    if req.op != Operation::Request {
        return None;
    }
    if req.eth_dst != MacAddr::BROADCAST && req.eth_dst != our_mac {
        return None;
    }
    if !owned(req.target_ip) {
        return None;
    }
    let reply = ArpFrame {
        eth_dst: req.sender_mac,
        eth_src: our_mac,
        op: Operation::Reply,
        sender_mac: our_mac,
        sender_ip: req.target_ip,
        target_mac: req.sender_mac,
        target_ip: req.sender_ip,
    };
    Some(ArpReply {
        ip: req.target_ip,
        frame: reply.to_bytes(),
    })
}

/// The two broadcast frames of one gratuitous round for `vip`: an ARP request and an ARP
/// reply, both claiming `vip` for `our_mac` (some hosts only update their cache on one kind).
pub fn gratuitous(vip: Ipv4Addr, our_mac: MacAddr) -> [[u8; FRAME_LEN]; 2] {
    [Operation::Request, Operation::Reply].map(|op| {
        ArpFrame {
            eth_dst: MacAddr::BROADCAST,
            eth_src: our_mac,
            op,
            sender_mac: our_mac,
            sender_ip: vip,
            target_mac: MacAddr::BROADCAST,
            target_ip: vip,
        }
        .to_bytes()
    })
}

/// The address an ARP frame claims: its sender IP, for its sender MAC. Every ARP frame
/// updates its receivers' caches this way, so a gratuitous request or reply from a new owner
/// (sender IP = target IP = the VIP) is exactly such a claim. DAD probes (sender 0.0.0.0)
/// claim nothing.
pub fn claim(frame: &[u8]) -> Option<(Ipv4Addr, MacAddr)> {
    let f = ArpFrame::parse(frame).ok()?;
    (!f.sender_ip.is_unspecified()).then_some((f.sender_ip, f.sender_mac))
}

/// Whether a frame is an ARP request: the same test as the kernel socket filter, for callers
/// that read frames from elsewhere.
pub fn is_request(frame: &[u8]) -> bool {
    u16_at(frame, 12) == Some(ETHERTYPE_ARP) && u16_at(frame, 20) == Some(Operation::Request as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CLIENT: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0c]);
    const NODE: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 100);

    /// A broadcast "who-has 192.168.10.100 tell 192.168.10.2" from 02:00:00:00:00:0c, as
    /// captured from `arping`.
    const REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // eth dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x0c, // eth src
        0x08, 0x06, // ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, // Ethernet, IPv4, 6, 4
        0x00, 0x01, // request
        0x02, 0x00, 0x00, 0x00, 0x00, 0x0c, 192, 168, 10, 2, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 168, 10, 100, // target
    ];

    fn request() -> ArpFrame {
        ArpFrame {
            eth_dst: MacAddr::BROADCAST,
            eth_src: CLIENT,
            op: Operation::Request,
            sender_mac: CLIENT,
            sender_ip: Ipv4Addr::new(192, 168, 10, 2),
            target_mac: MacAddr::default(),
            target_ip: VIP,
        }
    }

    #[test]
    fn request_bytes_and_value_round_trip() {
        assert_eq!(ArpFrame::parse(&REQUEST), Ok(request()));
        assert_eq!(request().to_bytes(), REQUEST);
        assert!(is_request(&REQUEST));
    }

    #[test]
    fn padded_frame_parses() {
        let mut padded = REQUEST.to_vec();
        padded.resize(60, 0);
        assert_eq!(ArpFrame::parse(&padded), Ok(request()));
    }

    #[test]
    fn reply_to_owned_ip_is_unicast_to_requester() {
        let reply = respond(&REQUEST, NODE, |ip| ip == VIP).expect("owned IP is answered");
        assert_eq!(reply.ip, VIP);
        let expected: [u8; 42] = [
            0x02, 0x00, 0x00, 0x00, 0x00, 0x0c, // to the requester
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // from us
            0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, //
            0x00, 0x02, // reply
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192, 168, 10, 100, // we have the VIP
            0x02, 0x00, 0x00, 0x00, 0x00, 0x0c, 192, 168, 10, 2, // back to the asker
        ];
        assert_eq!(reply.frame, expected);
    }

    #[test]
    fn unowned_targets_replies_and_foreign_unicast_are_ignored() {
        assert_eq!(respond(&REQUEST, NODE, |_| false), None);
        let reply = ArpFrame {
            op: Operation::Reply,
            ..request()
        }
        .to_bytes();
        assert_eq!(respond(&reply, NODE, |_| true), None);
        let elsewhere = ArpFrame {
            eth_dst: MacAddr([2, 9, 9, 9, 9, 9]),
            ..request()
        }
        .to_bytes();
        assert_eq!(respond(&elsewhere, NODE, |_| true), None);
        let to_us = ArpFrame {
            eth_dst: NODE,
            ..request()
        }
        .to_bytes();
        assert!(respond(&to_us, NODE, |_| true).is_some());
    }

    #[test]
    fn dad_probe_is_answered() {
        let probe = ArpFrame {
            sender_ip: Ipv4Addr::UNSPECIFIED,
            ..request()
        }
        .to_bytes();
        let reply = respond(&probe, NODE, |ip| ip == VIP).expect("DAD probe answered");
        let parsed = ArpFrame::parse(&reply.frame).unwrap();
        assert_eq!(parsed.target_ip, Ipv4Addr::UNSPECIFIED);
        assert_eq!(parsed.eth_dst, CLIENT);
    }

    #[test]
    fn gratuitous_round_is_broadcast_request_and_reply() {
        let [req, rep] = gratuitous(VIP, NODE);
        for (bytes, op) in [(req, Operation::Request), (rep, Operation::Reply)] {
            assert_eq!(
                ArpFrame::parse(&bytes),
                Ok(ArpFrame {
                    eth_dst: MacAddr::BROADCAST,
                    eth_src: NODE,
                    op,
                    sender_mac: NODE,
                    sender_ip: VIP,
                    target_mac: MacAddr::BROADCAST,
                    target_ip: VIP,
                })
            );
        }
        assert_eq!(&req[20..22], &[0, 1]);
        assert_eq!(&rep[20..22], &[0, 2]);
        assert_eq!(&req[32..38], &[0xff; 6]);
    }

    #[test]
    fn gratuitous_frames_and_replies_claim_their_sender_address() {
        let other = MacAddr([2, 0, 0, 0, 0, 0x22]);
        for frame in gratuitous(VIP, other) {
            assert_eq!(claim(&frame), Some((VIP, other)));
        }
        // The client's request claims the client's own address, not the VIP it asks for.
        assert_eq!(
            claim(&REQUEST),
            Some((Ipv4Addr::new(192, 168, 10, 2), CLIENT))
        );
        let reply = respond(&REQUEST, NODE, |ip| ip == VIP).expect("answered");
        assert_eq!(claim(&reply.frame), Some((VIP, NODE)));
        let probe = ArpFrame {
            sender_ip: Ipv4Addr::UNSPECIFIED,
            ..request()
        }
        .to_bytes();
        assert_eq!(claim(&probe), None);
        assert_eq!(claim(&REQUEST[..30]), None);
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert_eq!(
            ArpFrame::parse(&REQUEST[..41]),
            Err(ArpError::Truncated(41))
        );
        let mut ipv4 = REQUEST;
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(ArpFrame::parse(&ipv4), Err(ArpError::NotArp(0x0800)));
        let mut hlen = REQUEST;
        hlen[18] = 8;
        assert!(matches!(
            ArpFrame::parse(&hlen),
            Err(ArpError::UnsupportedAddresses { hlen: 8, .. })
        ));
        let mut rarp = REQUEST;
        rarp[21] = 3;
        assert_eq!(ArpFrame::parse(&rarp), Err(ArpError::UnknownOperation(3)));
        assert_eq!(respond(&rarp, NODE, |_| true), None);
        assert!(!is_request(&REQUEST[..20]));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = ArpFrame::parse(&bytes);
            let _ = respond(&bytes, NODE, |_| true);
            let _ = is_request(&bytes);
            let _ = claim(&bytes);
        }

        #[test]
        fn encode_parse_round_trip(
            dst in any::<[u8; 6]>(), src in any::<[u8; 6]>(), reply in any::<bool>(),
            smac in any::<[u8; 6]>(), sip in any::<[u8; 4]>(), tmac in any::<[u8; 6]>(), tip in any::<[u8; 4]>(),
        ) {
            let frame = ArpFrame {
                eth_dst: MacAddr(dst), eth_src: MacAddr(src),
                op: if reply { Operation::Reply } else { Operation::Request },
                sender_mac: MacAddr(smac), sender_ip: sip.into(),
                target_mac: MacAddr(tmac), target_ip: tip.into(),
            };
            prop_assert_eq!(ArpFrame::parse(&frame.to_bytes()), Ok(frame));
        }
    }
}
