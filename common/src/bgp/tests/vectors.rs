//! Wire vectors (docs/bgp.md#wire-vectors) as (bytes, value) pairs, in both directions: the
//! OPEN of upstream's `TestOpenFourByteASN`, third-party OPENs from upstream's testdata, and
//! messages computed from upstream's encoder rules.

use std::net::Ipv4Addr;

use super::hex;
use crate::bgp::{
    AddressFamily, AsSegment, AsWidth, Asn, Capability, Community, HoldTime, Message, Notification,
    Open, Origin, PathAttribute, SegmentKind, Update, decode,
};

fn decodes_to(bytes: &[u8], width: AsWidth) -> Message {
    match decode(bytes, width) {
        Ok(Some((message, consumed))) => {
            assert_eq!(consumed, bytes.len(), "whole vector consumed");
            message
        }
        other => panic!("vector did not decode: {other:?}"),
    }
}

/// Decoding gives `value`, and encoding `value` gives the bytes back.
fn both_ways(bytes_hex: &str, value: Message, width: AsWidth) {
    let bytes = hex(bytes_hex);
    assert_eq!(decodes_to(&bytes, width), value);
    assert_eq!(value.encode(width).as_deref(), Ok(bytes.as_slice()));
}

fn hold(secs: u16) -> HoldTime {
    HoldTime::new(secs).unwrap()
}

fn mp(afi: u16, safi: u8) -> Capability {
    Capability::Multiprotocol(AddressFamily { afi, safi })
}

fn other(code: u8, value: &str) -> Capability {
    Capability::Other {
        code,
        value: hex(value),
    }
}

#[test]
fn open_upstream_four_byte_asn() {
    both_ways(
        "ffffffffffffffffffffffffffffffff 0031 01 04 fdea 005a b9ecf027 14 02 12 \
         01040001 0001 01040002 0001 4104 0000fdea",
        Message::Open(Open::ours(
            Asn(65002),
            hold(90),
            Ipv4Addr::new(185, 236, 240, 39),
        )),
        AsWidth::Four,
    );
}

#[test]
fn open_as_trans() {
    let open = Open::ours(Asn(4_200_000_000), hold(180), Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(open.my_as, 23456);
    assert_eq!(open.asn(), Asn(4_200_000_000));
    both_ways(
        "ffffffffffffffffffffffffffffffff 0031 01 04 5ba0 00b4 0a000002 14 02 12 \
         01040001 0001 01040002 0001 4104 fa56ea00",
        Message::Open(open),
        AsWidth::Four,
    );
}

#[test]
fn keepalive() {
    both_ways(
        "ffffffffffffffffffffffffffffffff 0013 04",
        Message::Keepalive,
        AsWidth::Four,
    );
}

/// The same route as upstream would send it; only the AS width of the peer differs.
fn ebgp_update() -> Message {
    Message::Update(Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Incomplete),
            PathAttribute::AsPath(vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![Asn(64500)],
            }]),
            PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 2)),
        ],
        nlri: vec!["198.51.100.10/32".parse().unwrap()],
    })
}

#[test]
fn update_ebgp_four_byte_peer() {
    both_ways(
        "ffffffffffffffffffffffffffffffff 0030 02 0000 0014 40010102 4002060201 0000fbf4 \
         4003040a000002 20c633640a",
        ebgp_update(),
        AsWidth::Four,
    );
}

#[test]
fn update_ebgp_two_byte_peer() {
    both_ways(
        "ffffffffffffffffffffffffffffffff 002e 02 0000 0012 40010102 40020402 01fbf4 \
         4003040a000002 20c633640a",
        ebgp_update(),
        AsWidth::Two,
    );
}

#[test]
fn update_ibgp_localpref_community() {
    both_ways(
        "ffffffffffffffffffffffffffffffff 0037 02 0000 001c 40010102 400200 4003040a000002 \
         4005040000 0064 c00804ffffff01 18c63364",
        Message::Update(Update {
            withdrawn: vec![],
            attributes: vec![
                PathAttribute::Origin(Origin::Incomplete),
                PathAttribute::AsPath(vec![]),
                PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 2)),
                PathAttribute::LocalPref(100),
                PathAttribute::Communities(vec![Community(0xffff_ff01)]),
            ],
            nlri: vec!["198.51.100.0/24".parse().unwrap()],
        }),
        AsWidth::Four,
    );
}

#[test]
fn withdraw() {
    both_ways(
        "ffffffffffffffffffffffffffffffff 0020 02 0009 20c633640a 18c63364 0000",
        Message::Update(Update {
            withdrawn: vec![
                "198.51.100.10/32".parse().unwrap(),
                "198.51.100.0/24".parse().unwrap(),
            ],
            attributes: vec![],
            nlri: vec![],
        }),
        AsWidth::Four,
    );
}

#[test]
fn notification_cease() {
    both_ways(
        "ffffffffffffffffffffffffffffffff 0015 03 06 02",
        Message::Notification(Notification::admin_shutdown()),
        AsWidth::Four,
    );
}

struct Captured {
    hex: &'static str,
    my_as: u16,
    hold: u16,
    id: [u8; 4],
    caps: Vec<Capability>,
}

fn captured() -> Vec<(&'static str, Captured)> {
    vec![
        (
            "open-1",
            Captured {
                hex: "ffffffffffffffffffffffffffffffff00410104000100b40a01010124022201040001000101040001000402004002012c41040000000145080001010100010401",
                my_as: 1,
                hold: 180,
                id: [10, 1, 1, 1],
                caps: vec![
                    mp(1, 1),
                    mp(1, 4),
                    other(2, ""),
                    other(64, "012c"),
                    Capability::FourOctetAs(Asn(1)),
                    other(69, "0001010100010401"),
                ],
            },
        ),
        (
            "open-2",
            Captured {
                hex: "ffffffffffffffffffffffffffffffff00250104fc1f0028c0a8124108020641040000fc1f",
                my_as: 64543,
                hold: 40,
                id: [192, 168, 18, 65],
                caps: vec![Capability::FourOctetAs(Asn(64543))],
            },
        ),
        (
            "open-3",
            Captured {
                hex: "ffffffffffffffffffffffffffffffff00330104fc1f0028c0a8104516021401040001000102004002000041040000fc1f4600",
                my_as: 64543,
                hold: 40,
                id: [192, 168, 16, 69],
                caps: vec![
                    mp(1, 1),
                    other(2, ""),
                    other(64, "0000"),
                    Capability::FourOctetAs(Asn(64543)),
                    other(70, ""),
                ],
            },
        ),
        (
            "open-4",
            Captured {
                hex: "ffffffffffffffffffffffffffffffff00350104fc1f00b4c0a810011802060104000100010202800002020200020641040000fc1f",
                my_as: 64543,
                hold: 180,
                id: [192, 168, 16, 1],
                caps: vec![
                    mp(1, 1),
                    other(128, ""),
                    other(2, ""),
                    Capability::FourOctetAs(Asn(64543)),
                ],
            },
        ),
        (
            "arista",
            Captured {
                hex: "ffffffffffffffffffffffffffffffff002b0104fde900b4b9ecf0400e020c0104000100010200400200b4",
                my_as: 65001,
                hold: 180,
                id: [185, 236, 240, 64],
                caps: vec![mp(1, 1), other(2, ""), other(64, "00b4")],
            },
        ),
    ]
}

#[test]
fn captured_third_party_opens_decode() {
    for (name, c) in captured() {
        let expected = Message::Open(Open {
            my_as: c.my_as,
            hold_time: hold(c.hold),
            bgp_id: c.id.into(),
            capabilities: c.caps,
        });
        assert_eq!(decodes_to(&hex(c.hex), AsWidth::Four), expected, "{name}");
    }
}

#[test]
fn captured_single_parameter_opens_reencode_identically() {
    for (name, c) in captured() {
        let bytes = hex(c.hex);
        let reencoded = decodes_to(&bytes, AsWidth::Four).encode(AsWidth::Four);
        if name == "open-4" {
            // Its four Capabilities parameters are merged into one: the message
            // shrinks by three parameter headers (6 bytes), capability order is kept.
            let merged = hex(
                "ffffffffffffffffffffffffffffffff 002f 01 04 fc1f 00b4 c0a81001 12 02 10 \
                 01040001 0001 8000 0200 41040000fc1f",
            );
            assert_eq!(reencoded, Ok(merged), "{name}");
        } else {
            assert_eq!(reencoded, Ok(bytes), "{name}");
        }
    }
}

#[test]
fn captured_opens_peer_properties() {
    let opens: Vec<Open> = captured()
        .into_iter()
        .map(|(_, c)| match decodes_to(&hex(c.hex), AsWidth::Four) {
            Message::Open(o) => o,
            other => panic!("not an OPEN: {other:?}"),
        })
        .collect();
    let [o1, o2, _, _, arista] = opens.as_slice() else {
        panic!("five OPENs");
    };
    assert_eq!(o1.asn(), Asn(1));
    assert!(o1.four_octet_as());
    assert!(!o1.supports(AddressFamily::IPV6_UNICAST));
    // open-2 has no multiprotocol capability: IPv4 unicast only, implicitly.
    assert!(o2.supports(AddressFamily::IPV4_UNICAST));
    assert!(!o2.supports(AddressFamily::IPV6_UNICAST));
    assert_eq!(arista.asn(), Asn(65001));
    assert!(!arista.four_octet_as());
    assert_eq!(arista.check_peer(Asn(64512), Asn(65001)), Ok(()));
}

#[test]
fn minimal_open_without_parameters_is_accepted() {
    // 29 bytes: upstream refused anything under 37.
    let bytes = hex("ffffffffffffffffffffffffffffffff 001d 01 04 fde9 00b4 c0000201 00");
    let open = Open {
        my_as: 65001,
        hold_time: hold(180),
        bgp_id: Ipv4Addr::new(192, 0, 2, 1),
        capabilities: vec![],
    };
    assert_eq!(
        decodes_to(&bytes, AsWidth::Four),
        Message::Open(open.clone())
    );
    assert_eq!(Message::Open(open).encode(AsWidth::Four), Ok(bytes));
}
