//! Property tests: encoding round-trips and decoding never panics.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::bgp::{
    AddressFamily, AsSegment, AsWidth, Asn, Capability, Community, HoldTime, Ipv6NextHop,
    MAX_MESSAGE_LEN, Message, Notification, Open, Origin, PathAttribute, SegmentKind, Update,
    decode, split_frame,
};

fn v4_prefix() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0..=32u8).prop_map(|(a, l)| {
        Ipv4Net::new(Ipv4Addr::from(a), l)
            .map(|n| n.trunc())
            .unwrap_or_default()
    })
}

fn v6_prefix() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 0..=128u8).prop_map(|(a, l)| {
        Ipv6Net::new(Ipv6Addr::from(a), l)
            .map(|n| n.trunc())
            .unwrap_or_default()
    })
}

fn hold_time() -> impl Strategy<Value = HoldTime> {
    prop_oneof![Just(0u16), 3..=u16::MAX]
        .prop_map(|s| HoldTime::new(s).unwrap_or(HoldTime::DISABLED))
}

fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        (any::<u16>(), any::<u8>())
            .prop_map(|(afi, safi)| Capability::Multiprotocol(AddressFamily { afi, safi })),
        any::<u32>().prop_map(|a| Capability::FourOctetAs(Asn(a))),
        (
            any::<u8>().prop_filter("not a decoded code", |c| *c != 1 && *c != 65),
            vec(any::<u8>(), 0..8)
        )
            .prop_map(|(code, value)| Capability::Other { code, value }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        hold_time(),
        1..=u32::MAX,
        vec(capability(), 0..12),
    )
        .prop_map(|(my_as, hold_time, id, capabilities)| Open {
            my_as,
            hold_time,
            bgp_id: id.into(),
            capabilities,
        })
}

fn as_path(width: AsWidth) -> impl Strategy<Value = Vec<AsSegment>> {
    let asn = match width {
        AsWidth::Two => (0..=u32::from(u16::MAX)).boxed(),
        AsWidth::Four => any::<u32>().boxed(),
    };
    let kind = prop_oneof![
        Just(SegmentKind::Set),
        Just(SegmentKind::Sequence),
        Just(SegmentKind::ConfedSequence),
        Just(SegmentKind::ConfedSet),
    ];
    vec(
        (kind, vec(asn.prop_map(Asn), 1..6)).prop_map(|(kind, asns)| AsSegment { kind, asns }),
        0..4,
    )
}

/// Unknown attributes with distinct type codes that the decoder does not interpret.
fn others() -> impl Strategy<Value = Vec<PathAttribute>> {
    let known = [1u8, 2, 3, 5, 8, 14, 15];
    proptest::collection::btree_map(
        any::<u8>().prop_filter("uninterpreted", move |k| !known.contains(k)),
        (any::<u8>(), vec(any::<u8>(), 0..300)),
        0..3,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(kind, (flags, value))| PathAttribute::Other {
                flags: flags & !0x10,
                kind,
                value,
            })
            .collect()
    })
}

fn update(width: AsWidth) -> impl Strategy<Value = Update> {
    let mandatory = (
        prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ],
        as_path(width),
        any::<u32>(),
    );
    let optional = (
        option::of(any::<u32>()),
        option::of(vec(any::<u32>().prop_map(Community), 0..70)),
        option::of((
            any::<u128>(),
            option::of(any::<u128>()),
            vec(v6_prefix(), 0..20),
        )),
        option::of(vec(v6_prefix(), 0..20)),
        others(),
    );
    (
        vec(v4_prefix(), 0..20),
        vec(v4_prefix(), 0..20),
        option::of(mandatory),
        optional,
    )
        .prop_map(
            |(withdrawn, nlri, mandatory, (lp, comms, reach, unreach, others))| {
                let mut attributes = Vec::new();
                // NLRI requires ORIGIN, AS_PATH and NEXT_HOP (RFC 4271 §5).
                let nlri = if mandatory.is_some() { nlri } else { vec![] };
                if let Some((origin, path, nh)) = mandatory {
                    attributes.push(PathAttribute::Origin(origin));
                    attributes.push(PathAttribute::AsPath(path));
                    attributes.push(PathAttribute::NextHop(nh.into()));
                }
                attributes.extend(lp.map(PathAttribute::LocalPref));
                attributes.extend(comms.map(PathAttribute::Communities));
                attributes.extend(reach.map(|(g, ll, nlri)| PathAttribute::MpReach {
                    next_hop: Ipv6NextHop {
                        global: g.into(),
                        link_local: ll.map(Into::into),
                    },
                    nlri,
                }));
                attributes.extend(unreach.map(|withdrawn| PathAttribute::MpUnreach { withdrawn }));
                attributes.extend(others);
                Update {
                    withdrawn,
                    attributes,
                    nlri,
                }
            },
        )
}

fn width() -> impl Strategy<Value = AsWidth> {
    prop_oneof![Just(AsWidth::Two), Just(AsWidth::Four)]
}

fn message() -> impl Strategy<Value = (AsWidth, Message)> {
    width().prop_flat_map(|w| {
        let m = prop_oneof![
            open().prop_map(Message::Open),
            update(w).prop_map(Message::Update),
            (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..64))
                .prop_map(|(c, s, d)| Message::Notification(Notification::new(c, s, d))),
            Just(Message::Keepalive),
        ];
        (Just(w), m)
    })
}

proptest! {
    #[test]
    fn decode_inverts_encode((width, msg) in message()) {
        let bytes = msg.encode(width).expect("generated messages fit");
        prop_assert!(bytes.len() <= MAX_MESSAGE_LEN);
        prop_assert_eq!(decode(&bytes, width), Ok(Some((msg, bytes.len()))));
    }

    #[test]
    fn framing_is_independent_of_read_boundaries(
        msgs in vec(message().prop_map(|(_, m)| m), 1..5),
        cuts in vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let stream: Vec<u8> = msgs
            .iter()
            .flat_map(|m| m.encode(AsWidth::Four).expect("fits"))
            .collect();
        let mut cut_at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len())).collect();
        cut_at.sort_unstable();
        // Feed the stream in chunks, keeping unconsumed bytes, like a socket reader.
        let mut buf = Vec::new();
        let mut decoded = Vec::new();
        let mut fed = 0;
        for end in cut_at.into_iter().chain([stream.len()]) {
            buf.extend_from_slice(&stream[fed..end.max(fed)]);
            fed = end.max(fed);
            while let Some((m, n)) = decode(&buf, AsWidth::Four).expect("valid stream") {
                decoded.push(m);
                buf.drain(..n);
            }
        }
        prop_assert_eq!(decoded, msgs);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..5000)) {
        let _ = decode(&bytes, AsWidth::Four);
        let _ = decode(&bytes, AsWidth::Two);
    }

    /// Arbitrary bodies behind a valid header reach the body decoders.
    #[test]
    fn decode_never_panics_behind_a_valid_header(kind in 1..=4u8, body in vec(any::<u8>(), 0..600)) {
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&u16::try_from(19 + body.len()).unwrap_or(0).to_be_bytes());
        bytes.push(kind);
        bytes.extend_from_slice(&body);
        let result = decode(&bytes, AsWidth::Four);
        if let Ok(frame) = split_frame(&bytes) {
            prop_assert!(frame.is_some(), "a complete message is never reported as partial");
        }
        if let Err(e) = result {
            let n = e.notification();
            prop_assert!((1..=3).contains(&n.code));
        }
    }

    /// Single-byte corruptions of valid messages stay errors or values, never panics.
    #[test]
    fn decode_never_panics_on_corrupted_messages(
        (width, msg) in message(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = msg.encode(width).expect("fits");
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = decode(&bytes, width);
    }
}
