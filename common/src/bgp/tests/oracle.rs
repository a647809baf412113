//! netgauze-bgp-pkt, an independent BGP implementation, as a test oracle: everything this
//! codec writes must parse there completely, to the same values, and netgauze must write
//! the same bytes back.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use netgauze_bgp_pkt::BgpMessage;
use netgauze_bgp_pkt::wire::deserializer::BgpParsingContext;
use netgauze_parse_utils::WritablePdu;
use netgauze_parse_utils::reader::SliceReader;
use netgauze_parse_utils::traits::ParseFromWithOneInput;
use proptest::prelude::*;

use super::hex;
use crate::bgp::{
    AsWidth, Asn, Community, HoldTime, Ipv6NextHop, Message, Open, Prefix, RouteAttrs,
    UpdateContext, pack_announcements, pack_withdrawals,
};

fn parse(bytes: &[u8], width: AsWidth) -> BgpMessage {
    let mut ctx = BgpParsingContext::new(
        width == AsWidth::Four,
        HashMap::new(),
        HashMap::new(),
        true,
        true,
        true,
        true,
    );
    let mut reader = SliceReader::new(bytes);
    let message = BgpMessage::parse(&mut reader, &mut ctx)
        .unwrap_or_else(|e| panic!("netgauze refuses {bytes:02x?}: {e:?}"));
    assert!(reader.is_empty(), "netgauze left bytes unread");
    message
}

/// netgauze parses `bytes` and writes exactly `bytes` back.
fn agrees(bytes: &[u8], width: AsWidth) -> BgpMessage {
    let message = parse(bytes, width);
    let mut written = Vec::new();
    message.write(&mut written).expect("netgauze writes");
    assert_eq!(written, bytes, "netgauze re-encodes differently");
    message
}

#[test]
fn spec_vectors_agree() {
    // The wire vectors of `vectors.rs` (docs/bgp.md#wire-vectors), in that order.
    for (v, width) in [
        (
            "ffffffffffffffffffffffffffffffff 0031 01 04 fdea 005a b9ecf027 14 02 12 01040001 0001 01040002 0001 4104 0000fdea",
            AsWidth::Four,
        ),
        (
            "ffffffffffffffffffffffffffffffff 0031 01 04 5ba0 00b4 0a000002 14 02 12 01040001 0001 01040002 0001 4104 fa56ea00",
            AsWidth::Four,
        ),
        ("ffffffffffffffffffffffffffffffff 0013 04", AsWidth::Four),
        (
            "ffffffffffffffffffffffffffffffff 0030 02 0000 0014 40010102 4002060201 0000fbf4 4003040a000002 20c633640a",
            AsWidth::Four,
        ),
        (
            "ffffffffffffffffffffffffffffffff 002e 02 0000 0012 40010102 40020402 01fbf4 4003040a000002 20c633640a",
            AsWidth::Two,
        ),
        (
            "ffffffffffffffffffffffffffffffff 0037 02 0000 001c 40010102 400200 4003040a000002 4005040000 0064 c00804ffffff01 18c63364",
            AsWidth::Four,
        ),
        (
            "ffffffffffffffffffffffffffffffff 0020 02 0009 20c633640a 18c63364 0000",
            AsWidth::Four,
        ),
    ] {
        agrees(&hex(v), width);
    }
}

#[test]
fn our_open_has_the_same_meaning_there() {
    let ours = Open::ours(
        Asn(4_200_000_000),
        HoldTime::new(180).unwrap(),
        Ipv4Addr::new(10, 0, 0, 2),
    );
    let bytes = Message::Open(ours).encode(AsWidth::Four).unwrap();
    let BgpMessage::Open(open) = agrees(&bytes, AsWidth::Four) else {
        panic!("not an OPEN");
    };
    assert_eq!(open.my_as(), 23456);
    assert_eq!(open.my_asn4(), 4_200_000_000);
    assert_eq!(open.hold_time(), 180);
    assert_eq!(open.bgp_id(), Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(open.capabilities().len(), 3);
}

fn context(ibgp: bool, as_width: AsWidth) -> UpdateContext {
    UpdateContext {
        local_asn: Asn(64500),
        ibgp,
        as_width,
        next_hop_v4: Some(Ipv4Addr::new(10, 0, 0, 2)),
        next_hop_v6: Some(Ipv6NextHop {
            global: "2001:db8::2".parse().unwrap(),
            link_local: Some("fe80::2".parse().unwrap()),
        }),
    }
}

fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        // Below 224.0.0.0 and ff00::: netgauze (rightly) refuses multicast as unicast NLRI.
        (0..0xe000_0000u32, 0..=32u8).prop_map(|(a, l)| format!("{}/{l}", Ipv4Addr::from(a))),
        (0..0xff00_u128 << 112, 0..=128u8)
            .prop_map(|(a, l)| format!("{}/{l}", std::net::Ipv6Addr::from(a))),
    ]
    .prop_map(|s| s.parse().expect("valid prefix"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Packed announcements and withdrawals of any routes parse in netgauze, with the same
    /// NLRI count, and come back byte for byte.
    #[test]
    fn packed_updates_agree(
        routes in proptest::collection::btree_map(
            prefix(),
            (0..3u32, proptest::collection::btree_set(any::<u32>(), 0..40)),
            0..400,
        ),
        ibgp in any::<bool>(),
        four in any::<bool>(),
    ) {
        let width = if four { AsWidth::Four } else { AsWidth::Two };
        let ctx = context(ibgp, width);
        let attrs: Vec<(Prefix, RouteAttrs)> = routes
            .into_iter()
            .map(|(p, (lp, c))| (p, RouteAttrs::new(lp, c.into_iter().map(Community)).unwrap()))
            .collect();
        let mut updates = pack_announcements(&ctx, attrs.iter().map(|(p, a)| (*p, a)));
        updates.extend(pack_withdrawals(attrs.iter().map(|(p, _)| *p)));
        let mut v4_announced = 0;
        for update in updates {
            let ours_v4 = update.nlri.len();
            let bytes = Message::Update(update).encode(width).unwrap();
            let BgpMessage::Update(theirs) = agrees(&bytes, width) else {
                panic!("not an UPDATE");
            };
            prop_assert_eq!(theirs.nlri().len(), ours_v4);
            v4_announced += ours_v4;
        }
        prop_assert_eq!(v4_announced, attrs.iter().filter(|(p, _)| p.net().addr().is_ipv4()).count());
    }
}
