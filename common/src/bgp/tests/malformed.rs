//! Malformed input: each case must yield the NOTIFICATION RFC 4271 §6 prescribes.

use super::hex;
use crate::bgp::{AsWidth, Asn, DecodeError, Message, Notification, Open, OpenError, decode};

const MARKER: &str = "ffffffffffffffffffffffffffffffff";

fn notification_for(bytes: &[u8]) -> Notification {
    match decode(bytes, AsWidth::Four) {
        Err(e) => e.notification(),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn n(code: u8, subcode: u8, data: &str) -> Notification {
    Notification::new(code, subcode, hex(data))
}

#[test]
fn incomplete_input_asks_for_more() {
    let keepalive = hex(&format!("{MARKER}001304"));
    for cut in 0..keepalive.len() {
        assert_eq!(
            decode(&keepalive[..cut], AsWidth::Four),
            Ok(None),
            "cut at {cut}"
        );
    }
    let mut two = keepalive.clone();
    two.extend_from_slice(&keepalive);
    assert_eq!(
        decode(&two, AsWidth::Four),
        Ok(Some((Message::Keepalive, 19))),
        "one message at a time"
    );
}

#[test]
fn bad_marker_is_reported_before_the_header_completes() {
    assert_eq!(
        decode(&hex("ffff00"), AsWidth::Four),
        Err(DecodeError::Marker)
    );
    assert_eq!(notification_for(&hex("ffff00")), n(1, 1, ""));
}

#[test]
fn bad_lengths_carry_the_length() {
    // Below the header size, above 4096, and wrong for the type.
    assert_eq!(
        notification_for(&hex(&format!("{MARKER}001204"))),
        n(1, 2, "0012")
    );
    assert_eq!(
        notification_for(&hex(&format!("{MARKER}100102"))),
        n(1, 2, "1001")
    );
    assert_eq!(
        notification_for(&hex(&format!("{MARKER}001404"))),
        n(1, 2, "0014")
    );
    assert_eq!(
        notification_for(&hex(&format!("{MARKER}001c01"))),
        n(1, 2, "001c")
    );
    assert_eq!(
        notification_for(&hex(&format!("{MARKER}001403"))),
        n(1, 2, "0014")
    );
    assert_eq!(
        notification_for(&hex(&format!("{MARKER}001602"))),
        n(1, 2, "0016")
    );
}

#[test]
fn bad_type_carries_the_type() {
    assert_eq!(
        notification_for(&hex(&format!("{MARKER}001305"))),
        n(1, 3, "05")
    );
    assert_eq!(
        notification_for(&hex(&format!("{MARKER}001300"))),
        n(1, 3, "00")
    );
}

fn open_with(body: &str) -> Vec<u8> {
    let body = hex(body);
    let mut out = hex(MARKER);
    out.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    out.push(1);
    out.extend_from_slice(&body);
    out
}

#[test]
fn open_errors() {
    // Version 3: data is the version we support.
    assert_eq!(
        notification_for(&open_with("03 fde9 00b4 c0000201 00")),
        n(2, 1, "0004")
    );
    // Hold time 2 s.
    assert_eq!(
        notification_for(&open_with("04 fde9 0002 c0000201 00")),
        n(2, 6, "")
    );
    // BGP identifier 0.0.0.0.
    assert_eq!(
        notification_for(&open_with("04 fde9 00b4 00000000 00")),
        n(2, 3, "")
    );
    // Optional parameter type 1 (the withdrawn authentication parameter).
    assert_eq!(
        notification_for(&open_with("04 fde9 00b4 c0000201 04 01 02 0000")),
        n(2, 4, "")
    );
    // Parameter length overruns, capability length overruns, bad MP capability length,
    // parameters length disagreeing with the message length.
    for body in [
        "04 fde9 00b4 c0000201 04 02 05 0000",
        "04 fde9 00b4 c0000201 04 02 02 4104",
        "04 fde9 00b4 c0000201 05 02 03 010100",
        "04 fde9 00b4 c0000201 05 02 02 0200",
    ] {
        assert_eq!(notification_for(&open_with(body)), n(2, 0, ""), "{body}");
    }
}

#[test]
fn peer_checks() {
    let arista = Open {
        my_as: 65001,
        hold_time: crate::bgp::HoldTime::DEFAULT,
        bgp_id: [192, 0, 2, 1].into(),
        capabilities: vec![],
    };
    let wrong = arista.check_peer(Asn(64512), Asn(65002));
    assert_eq!(
        wrong,
        Err(OpenError::UnexpectedPeerAsn {
            got: Asn(65001),
            want: Asn(65002)
        })
    );
    let err = wrong.unwrap_err();
    assert_eq!(err.to_string(), "unexpected peer ASN 65001, want 65002");
    assert_eq!(err.notification(), n(2, 2, ""));
    // Our ASN needs 4 octets, the peer cannot read them: Unsupported Capability with the
    // capability we need as data (RFC 5492 §3).
    let lacks = arista
        .check_peer(Asn(4_200_000_000), Asn(65001))
        .unwrap_err();
    assert_eq!(lacks.to_string(), "peer does not support 4-byte ASNs");
    assert_eq!(lacks.notification(), n(2, 7, "4104 fa56ea00"));
}

fn update_with(body: &str) -> Vec<u8> {
    let body = hex(body);
    let mut out = hex(MARKER);
    out.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    out.push(2);
    out.extend_from_slice(&body);
    out
}

#[test]
fn update_errors() {
    let cases = [
        // Withdrawn length overruns the message: Malformed Attribute List.
        ("0005 200a", n(3, 1, "")),
        // Attributes length overruns.
        ("0000 0010 400101", n(3, 1, "")),
        // Duplicate ORIGIN.
        ("0000 0008 40010102 40010102", n(3, 1, "")),
        // ORIGIN flagged optional: Attribute Flags Error with the attribute as data.
        ("0000 0004 c0010102", n(3, 4, "c0010102")),
        // ORIGIN of length 2: Attribute Length Error.
        ("0000 0005 4001020200", n(3, 5, "4001020200")),
        // ORIGIN 3: Invalid ORIGIN.
        ("0000 0004 40010103", n(3, 6, "40010103")),
        // AS_PATH segment type 9: Malformed AS_PATH.
        ("0000 0007 4002040901fbf4", n(3, 11, "")),
        // NLRI without NEXT_HOP: Missing Well-known Attribute, data = its type code.
        ("0000 0007 40010102 400200 18c63364", n(3, 3, "03")),
        // Prefix length 33: Invalid Network Field.
        ("0000 0000 21c63364ff00", n(3, 10, "")),
        // Communities of 3 bytes.
        ("0000 0006 c00803010203", n(3, 5, "c00803010203")),
        // MP_REACH for IPv6 with a 5-byte next hop: Optional Attribute Error.
        (
            "0000 000e 800e0b 000201 05 0102030405 00 00",
            n(3, 9, "800e0b00020105010203040500 00"),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(notification_for(&update_with(body)), want, "{body}");
    }
}

#[test]
fn notification_body_is_kept_verbatim() {
    let bytes = hex(&format!("{MARKER}0017 03 0202 fde9"));
    assert_eq!(
        decode(&bytes, AsWidth::Four),
        Ok(Some((Message::Notification(n(2, 2, "fde9")), 23)))
    );
}
