//! memberlist wire format against bytes produced by the Go implementation itself.
//!
//! `testdata/memberlist/vectors.hex` is written by `scripts/memberlist-golden.sh`, which runs
//! hashicorp/memberlist's own (unexported) encoders from the Debian package. Every vector is
//! checked both ways: our encoding of the value equals Go's bytes, and decoding Go's bytes
//! gives the value. The values below mirror `scripts/memberlist-golden/export/golden_vectors.go`.

use common::memberlist::compress::{compress, decompress};
use common::memberlist::crypto::{self, EncryptionVersion, Keyring, SecretKey};
use common::memberlist::packet::{self, Encrypt};
use common::memberlist::stream::{self, StreamMessage};
use common::memberlist::wire::{
    Ack, Alive, Dead, ErrorResponse, IndirectPing, MemberState, Message, Nack, Ping, PushNodeState,
    PushPull, Source, Suspect, Versions,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

fn vectors() -> HashMap<String, Vec<u8>> {
    let text = include_str!("../../testdata/memberlist/vectors.hex");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, hex) = l.split_once(' ').expect("vector line is `name hex`");
            (name.to_string(), decode_hex(hex))
        })
        .collect()
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn v(name: &str) -> Vec<u8> {
    vectors()
        .remove(name)
        .unwrap_or_else(|| panic!("vector {name} missing"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test input")
}

fn src(addr: &str, node: &str) -> Option<Source> {
    Some(Source {
        addr: addr.parse::<SocketAddr>().expect("test input"),
        node: node.into(),
    })
}

fn ping() -> Message {
    Message::Ping(Ping {
        seq_no: 7,
        node: "node-b".into(),
        source: None,
    })
}

fn suspect() -> Message {
    Message::Suspect(Suspect {
        incarnation: 3,
        node: "node-c".into(),
        from: "node-a".into(),
    })
}

fn alive() -> Message {
    Message::Alive(Alive {
        incarnation: 1,
        node: "node-a".into(),
        addr: ip("10.0.0.1"),
        port: 7946,
        meta: vec![],
        vsn: Some(Versions::METALLB),
    })
}

fn messages() -> Vec<(&'static str, Message)> {
    vec![
        ("ping", ping()),
        (
            "ping-source",
            Message::Ping(Ping {
                seq_no: 300,
                node: "node-b".into(),
                source: src("10.0.0.1:7946", "node-a"),
            }),
        ),
        (
            "indirect-ping",
            Message::IndirectPing(IndirectPing {
                seq_no: 70000,
                target: ip("10.0.0.3"),
                port: 7946,
                node: "node-c".into(),
                nack: true,
                source: src("10.0.0.1:7946", "node-a"),
            }),
        ),
        (
            "indirect-ping-plain",
            Message::IndirectPing(IndirectPing {
                seq_no: 1,
                target: ip("10.0.0.3"),
                port: 7946,
                node: "node-c".into(),
                nack: false,
                source: None,
            }),
        ),
        (
            "ack",
            Message::Ack(Ack {
                seq_no: 7,
                payload: vec![],
            }),
        ),
        (
            "ack-payload",
            Message::Ack(Ack {
                seq_no: u32::MAX,
                payload: vec![1, 2, 3],
            }),
        ),
        ("nack", Message::Nack(Nack { seq_no: 9 })),
        ("suspect", suspect()),
        ("alive", alive()),
        (
            "alive-v6-meta",
            Message::Alive(Alive {
                incarnation: 65536,
                node: "speaker-node-with-a-rather-long-hostname.example".into(),
                addr: ip("fd00::1:2"),
                port: 7947,
                meta: vec![0xab; 40],
                vsn: Some(Versions::METALLB),
            }),
        ),
        (
            "dead",
            Message::Dead(Dead {
                incarnation: 5,
                node: "node-c".into(),
                from: "node-a".into(),
            }),
        ),
        (
            "dead-leave",
            Message::Dead(Dead {
                incarnation: 2,
                node: "node-a".into(),
                from: "node-a".into(),
            }),
        ),
        (
            "err",
            Message::Err(ErrorResponse {
                error: "boom".into(),
            }),
        ),
    ]
}

#[test]
fn single_messages_match_go_both_ways() {
    for (name, msg) in messages() {
        let bytes = v(name);
        assert_eq!(msg.encode(), bytes, "encoding of {name}");
        assert_eq!(Message::decode(&bytes), Ok(msg), "decoding of {name}");
    }
}

#[test]
fn compound_matches_go() {
    let bytes = v("compound");
    assert_eq!(
        packet::compound(&[ping().encode(), suspect().encode()]),
        Ok(bytes.clone())
    );
    assert_eq!(
        packet::decode_messages(&bytes),
        vec![Ok(ping()), Ok(suspect())]
    );
}

#[test]
fn compressed_message_matches_go() {
    let bytes = v("compress-alive");
    assert_eq!(packet::compress_message(&alive().encode()), bytes);
    assert_eq!(packet::decode_messages(&bytes), vec![Ok(alive())]);
}

#[test]
fn crc_frame_matches_go() {
    let bytes = v("crc-ping");
    assert_eq!(packet::with_crc(&ping().encode()), bytes);
    let opened = packet::open_packet(&bytes, None, true).expect("test input");
    assert_eq!(packet::decode_messages(&opened), vec![Ok(ping())]);
}

fn push_pull() -> PushPull {
    let vsn = Some(Versions::METALLB);
    let node = |name: &str, addr: &str, port, meta: &[u8], incarnation, state| PushNodeState {
        name: name.into(),
        addr: ip(addr),
        port,
        meta: meta.to_vec(),
        incarnation,
        state,
        vsn,
    };
    PushPull {
        join: true,
        nodes: vec![
            node("node-a", "10.0.0.1", 7946, b"", 1, MemberState::Alive),
            node("node-c", "10.0.0.3", 7946, b"", 4, MemberState::Suspect),
            node("node-d", "fd00::1:2", 7946, b"m", 9, MemberState::Dead),
            node("node-e", "10.0.0.3", 7950, b"", 2, MemberState::Left),
        ],
        user_state: vec![],
    }
}

#[test]
fn push_pull_matches_go_plain_and_compressed() {
    let pp = push_pull();
    let plain = v("push-pull");
    assert_eq!(pp.encode(), plain);
    assert_eq!(
        stream::decode_stream(&plain, None, true),
        Ok(Some(StreamMessage::PushPull(pp.clone())))
    );

    let compressed = v("push-pull-compressed");
    assert_eq!(
        stream::seal_stream(&plain, true, None),
        Ok(compressed.clone())
    );
    assert_eq!(
        stream::decode_stream(&compressed, None, true),
        Ok(Some(StreamMessage::PushPull(pp)))
    );

    let with_user = PushPull {
        join: false,
        nodes: push_pull().nodes[..1].to_vec(),
        user_state: b"user-state".to_vec(),
    };
    let bytes = v("push-pull-user");
    assert_eq!(with_user.encode(), bytes);
    assert_eq!(
        stream::decode_stream(&bytes, None, true),
        Ok(Some(StreamMessage::PushPull(with_user)))
    );
}

#[test]
fn metallb_key_derivation_matches_go() {
    assert_eq!(
        SecretKey::from_metallb_secret("abc")
            .expect("test input")
            .as_bytes(),
        v("key-abc")
    );
    assert_eq!(
        SecretKey::from_metallb_secret("0123456789abcdefXYZ")
            .expect("test input")
            .as_bytes(),
        v("key-long")
    );
}

fn nonce_of(sealed: &[u8]) -> [u8; 12] {
    sealed[1..13].try_into().expect("test input")
}

#[test]
fn encrypted_datagrams_match_go_both_ways() {
    let key = SecretKey::from_metallb_secret("abc").expect("test input");
    let ring = Keyring::new(key.clone());
    for (name, version) in [
        ("udp-encrypted-v1", EncryptionVersion::V1),
        ("udp-encrypted-v0", EncryptionVersion::V0Padded),
    ] {
        let sealed = v(name);
        assert_eq!(
            crypto::open(&ring, &sealed, &[]),
            Ok(ping().encode()),
            "{name}"
        );
        let ours = crypto::seal(version, &key, &nonce_of(&sealed), &ping().encode(), &[])
            .expect("test input");
        assert_eq!(ours, sealed, "{name}");
        let opened = packet::open_packet(&sealed, Some(&ring), true).expect("test input");
        assert_eq!(packet::decode_messages(&opened), vec![Ok(ping())]);
    }
}

#[test]
fn encrypted_push_pull_stream_matches_go_both_ways() {
    let key = SecretKey::from_metallb_secret("abc").expect("test input");
    let ring = Keyring::new(key.clone());
    let sealed = v("push-pull-encrypted");
    assert_eq!(
        stream::decode_stream(&sealed, Some(&ring), true),
        Ok(Some(StreamMessage::PushPull(push_pull())))
    );
    let nonce: [u8; 12] = sealed[6..18].try_into().expect("test input");
    let enc = Encrypt {
        key: &key,
        version: EncryptionVersion::V1,
        nonce,
    };
    assert_eq!(
        stream::seal_stream(&push_pull().encode(), true, Some(enc)),
        Ok(sealed)
    );
}

/// The generator the Go side uses for its large LZW inputs (`XorShiftBytes`).
fn xorshift_bytes(n: usize, alphabet: u32) -> Vec<u8> {
    let mut x: u32 = 2463534242;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if alphabet == 256 {
                x as u8
            } else {
                b'a' + (x % alphabet) as u8
            }
        })
        .collect()
}

#[test]
fn lzw_matches_go_byte_for_byte() {
    let cases = [
        ("lzw-empty", Vec::new()),
        ("lzw-tobeornot", b"TOBEORNOTTOBEORTOBEORNOT".to_vec()),
        ("lzw-abcd-60000", xorshift_bytes(60000, 4)),
        ("lzw-bytes-8192", xorshift_bytes(8192, 256)),
    ];
    for (name, input) in cases {
        let golden = v(name);
        assert_eq!(compress(&input), golden, "compress {name}");
        assert_eq!(
            decompress(&golden, input.len()),
            Ok(input),
            "decompress {name}"
        );
    }
}

#[test]
fn decoding_is_lenient_about_forms_go_accepts() {
    // The "nack" vector re-spelled with str8 keys, a u32 sequence number and an unknown field.
    let mut bytes = vec![11, 0x82, 0xd9, 5];
    bytes.extend_from_slice(b"SeqNo");
    bytes.extend_from_slice(&[0xce, 0, 0, 0, 9, 0xc4, 5]);
    bytes.extend_from_slice(b"Extra");
    bytes.extend_from_slice(&[0x92, 0x01, 0xc0]);
    assert_eq!(
        Message::decode(&bytes),
        Ok(Message::Nack(Nack { seq_no: 9 }))
    );
}
