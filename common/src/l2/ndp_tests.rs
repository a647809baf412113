//! Frames below were generated with scapy (an independent encoder), not with this module.

use super::*;
use proptest::prelude::*;

const CLIENT: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0c]);
const NODE: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const CLIENT_IP: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 2);
const NODE_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const VIP: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x64);

/// NS for fd00:10::64 from fd00:10::2 to ff02::1:ff00:64, with source LLA.
const NS_FRAME: [u8; 86] = [
    0x33, 0x33, 0xff, 0x00, 0x00, 0x64, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfd, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0xff, 0x00, 0x00, 0x64, 0x87, 0x00, 0x7c, 0xa7, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00,
    0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x01, 0x01,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x0c,
];

/// The solicited answer: NA R=0 S=1 O=0 from fe80::1 to fd00:10::2, target LLA = node MAC.
const NA_FRAME: [u8; 86] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x88, 0x00, 0x3a, 0x99, 0x40, 0x00, 0x00, 0x00, 0xfd, 0x00,
    0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x02, 0x01,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
];

/// Unsolicited NA S=0 O=1 from fe80::1 to ff02::1.
const UNSOLICITED_FRAME: [u8; 86] = [
    0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x58, 0xa8, 0x20, 0x00, 0x00, 0x00, 0xfd, 0x00,
    0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x02, 0x01,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
];

/// The ICMPv6 part of a frame, as a raw ICMPv6 socket delivers it.
fn icmp(frame: &[u8]) -> &[u8] {
    &frame[54..]
}

fn ns_frame() -> NdpFrame {
    NdpFrame {
        eth_dst: MacAddr([0x33, 0x33, 0xff, 0, 0, 0x64]),
        eth_src: CLIENT,
        src: CLIENT_IP,
        dst: solicited_node(VIP),
        message: NdpMessage::Solicitation(NeighborSolicitation {
            target: VIP,
            source_lla: Some(CLIENT),
        }),
    }
}

fn solicited_na() -> NeighborAdvertisement {
    NeighborAdvertisement {
        router: false,
        solicited: true,
        override_entry: false,
        target: VIP,
        target_lla: Some(NODE),
    }
}

#[test]
fn solicitation_frame_round_trips() {
    assert_eq!(NdpFrame::parse(&NS_FRAME), Ok(ns_frame()));
    assert_eq!(ns_frame().to_bytes(), NS_FRAME);
}

#[test]
fn advertisement_frames_round_trip_with_checksums() {
    let na = NdpFrame {
        eth_dst: CLIENT,
        eth_src: NODE,
        src: NODE_LL,
        dst: CLIENT_IP,
        message: NdpMessage::Advertisement(solicited_na()),
    };
    assert_eq!(NdpFrame::parse(&NA_FRAME), Ok(na));
    assert_eq!(na.to_bytes(), NA_FRAME);

    let una = NdpFrame {
        eth_dst: multicast_mac(ALL_NODES),
        eth_src: NODE,
        src: NODE_LL,
        dst: ALL_NODES,
        message: NdpMessage::Advertisement(unsolicited(VIP, NODE)),
    };
    assert_eq!(NdpFrame::parse(&UNSOLICITED_FRAME), Ok(una));
    assert_eq!(una.to_bytes(), UNSOLICITED_FRAME);
}

#[test]
fn socket_level_message_has_zero_checksum() {
    let bytes = NdpMessage::Advertisement(solicited_na()).to_bytes();
    let mut expected = icmp(&NA_FRAME).to_vec();
    expected[2..4].copy_from_slice(&[0, 0]);
    assert_eq!(bytes, expected);
    assert_eq!(
        NdpMessage::parse(&bytes),
        Ok(NdpMessage::Advertisement(solicited_na()))
    );
}

#[test]
fn solicitation_for_owned_ip_gets_solicited_advertisement() {
    let reply = respond(CLIENT_IP, icmp(&NS_FRAME), NODE, |ip| ip == VIP).expect("answered");
    assert_eq!(
        reply,
        NdpReply {
            target: VIP,
            dst: CLIENT_IP,
            advert: solicited_na()
        }
    );
    assert_eq!(
        NdpMessage::Advertisement(reply.advert).to_bytes_checksummed(NODE_LL, reply.dst),
        icmp(&NA_FRAME)
    );
}

#[test]
fn responder_ignores_what_it_must() {
    // Not owned.
    assert_eq!(respond(CLIENT_IP, icmp(&NS_FRAME), NODE, |_| false), None);
    // An advertisement, not a solicitation.
    assert_eq!(respond(CLIENT_IP, icmp(&NA_FRAME), NODE, |_| true), None);
    // DAD probe: from :: and without source LLA.
    let dad = NdpMessage::Solicitation(NeighborSolicitation {
        target: VIP,
        source_lla: None,
    })
    .to_bytes();
    assert_eq!(respond(Ipv6Addr::UNSPECIFIED, &dad, NODE, |_| true), None);
    // No source LLA even from a real address.
    assert_eq!(respond(CLIENT_IP, &dad, NODE, |_| true), None);
    // Target LLA option instead of source LLA does not count.
    let mut wrong_opt = icmp(&NS_FRAME).to_vec();
    wrong_opt[24] = 2;
    assert_eq!(respond(CLIENT_IP, &wrong_opt, NODE, |_| true), None);
}

#[test]
fn unknown_options_are_skipped() {
    let mut msg = icmp(&NS_FRAME)[..24].to_vec();
    msg.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]); // nonce option
    msg.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 0x0c]);
    assert_eq!(
        NdpMessage::parse(&msg),
        Ok(NdpMessage::Solicitation(NeighborSolicitation {
            target: VIP,
            source_lla: Some(CLIENT)
        }))
    );
}

#[test]
fn malformed_messages_are_errors() {
    let ns = icmp(&NS_FRAME);
    assert_eq!(NdpMessage::parse(&ns[..23]), Err(NdpError::Truncated(23)));
    let mut echo = ns.to_vec();
    echo[0] = 128;
    assert_eq!(
        NdpMessage::parse(&echo),
        Err(NdpError::UnsupportedType(128))
    );
    let mut code = ns.to_vec();
    code[1] = 1;
    assert_eq!(NdpMessage::parse(&code), Err(NdpError::BadCode(1)));
    let mut zero = ns.to_vec();
    zero[25] = 0;
    assert_eq!(
        NdpMessage::parse(&zero),
        Err(NdpError::BadOption { kind: 1, units: 0 })
    );
    let mut overrun = ns.to_vec();
    overrun[25] = 2;
    assert_eq!(
        NdpMessage::parse(&overrun),
        Err(NdpError::BadOption { kind: 1, units: 2 })
    );
    let mut mcast = ns.to_vec();
    mcast[8..24].copy_from_slice(&ALL_NODES.octets());
    assert_eq!(
        NdpMessage::parse(&mcast),
        Err(NdpError::MulticastTarget(ALL_NODES))
    );
}

#[test]
fn malformed_frames_are_errors() {
    let mut sum = NS_FRAME;
    sum[56] ^= 1;
    assert_eq!(NdpFrame::parse(&sum), Err(NdpError::BadChecksum));
    let mut hops = NS_FRAME;
    hops[21] = 64;
    assert_eq!(NdpFrame::parse(&hops), Err(NdpError::BadHopLimit(64)));
    let mut udp = NS_FRAME;
    udp[20] = 17;
    assert_eq!(NdpFrame::parse(&udp), Err(NdpError::NotIcmpv6(17)));
    let mut long = NS_FRAME;
    long[19] = 0x40;
    assert_eq!(
        NdpFrame::parse(&long),
        Err(NdpError::BadPayloadLength(0x40))
    );
    assert_eq!(
        NdpFrame::parse(&NS_FRAME[..30]),
        Err(NdpError::Truncated(30))
    );
    let mut v4 = NS_FRAME;
    v4[12..14].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(NdpFrame::parse(&v4), Err(NdpError::NotIpv6(0x0800)));
    let mut ver = NS_FRAME;
    ver[14] = 0x40;
    assert_eq!(NdpFrame::parse(&ver), Err(NdpError::BadVersion(4)));
}

#[test]
fn solicited_node_group_and_its_mac() {
    let ip: Ipv6Addr = "2001:db8::abcd:12:3456".parse().unwrap();
    let group = solicited_node(ip);
    assert_eq!(group, "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap());
    assert_eq!(
        multicast_mac(group),
        MacAddr([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
    );
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = NdpMessage::parse(&bytes);
        let _ = NdpFrame::parse(&bytes);
        let _ = respond(CLIENT_IP, &bytes, NODE, |_| true);
    }

    #[test]
    fn mutated_solicitations_never_panic(at in 0usize..86, value in any::<u8>(), cut in 0usize..87) {
        let mut frame = NS_FRAME.to_vec();
        frame[at] = value;
        frame.truncate(cut);
        let _ = NdpFrame::parse(&frame);
        let _ = respond(CLIENT_IP, frame.get(54..).unwrap_or_default(), NODE, |_| true);
    }

    #[test]
    fn advertisements_round_trip(
        flags in any::<(bool, bool, bool)>(), target in any::<[u8; 16]>(), lla in any::<Option<[u8; 6]>>(),
        src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(),
    ) {
        let target = Ipv6Addr::from(target);
        prop_assume!(!target.is_multicast());
        let msg = NdpMessage::Advertisement(NeighborAdvertisement {
            router: flags.0, solicited: flags.1, override_entry: flags.2, target, target_lla: lla.map(MacAddr),
        });
        let frame = NdpFrame { eth_dst: NODE, eth_src: CLIENT, src: src.into(), dst: dst.into(), message: msg };
        prop_assert_eq!(NdpFrame::parse(&frame.to_bytes()), Ok(frame));
        prop_assert_eq!(NdpMessage::parse(&msg.to_bytes()), Ok(msg));
    }
}

#[test]
fn advertisements_claim_their_target_for_their_lla() {
    // The scapy-built unsolicited NA of a node taking fd00:10::64 over.
    assert_eq!(claim(icmp(&UNSOLICITED_FRAME)), Some((VIP, NODE)));
    assert_eq!(claim(icmp(&NA_FRAME)), Some((VIP, NODE)));
    assert_eq!(
        claim(icmp(&NS_FRAME)),
        None,
        "a solicitation claims nothing"
    );
    let no_lla = NdpMessage::Advertisement(NeighborAdvertisement {
        target_lla: None,
        ..unsolicited(VIP, NODE)
    })
    .to_bytes();
    assert_eq!(claim(&no_lla), None);
    assert_eq!(claim(&[136, 0, 0]), None);
}
