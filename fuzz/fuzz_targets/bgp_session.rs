//! Arbitrary peer traffic into a session, from OpenSent or from Established, in arbitrary
//! read sizes: the state machine must never panic and must only ever write whole, valid
//! messages.
#![no_main]

use std::time::{Duration, Instant};

use common::bgp::{
    AsWidth, Asn, Connection, HoldTime, Input, Message, Open, Output, PeerConfig, Session, decode,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    let mut session = Session::new(PeerConfig {
        local_asn: Asn(64500),
        peer_asn: Asn(64501),
        peer: "192.0.2.1:179".parse().unwrap(),
        source_address: None,
        hold_time: HoldTime::DEFAULT,
        router_id: None,
        node_name: "node1".into(),
    });
    let mut feed = |input: Input<'_>, secs: u64| {
        for output in session.handle(input, t0 + Duration::from_secs(secs)) {
            if let Output::Send(bytes) = output {
                check_whole_messages(&bytes);
            }
        }
    };
    feed(Input::Start, 0);
    feed(
        Input::TcpConnected(Connection {
            local: "192.0.2.10:40000".parse().unwrap(),
            remote: "192.0.2.1:179".parse().unwrap(),
            interface_ipv4: None,
            interface_ipv6: None,
            link_local: None,
        }),
        0,
    );
    if control & 1 == 1 {
        let open = Open::ours(Asn(64501), HoldTime::DEFAULT, [192, 0, 2, 1].into());
        feed(
            Input::Received(&Message::Open(open).encode(AsWidth::Four).unwrap()),
            0,
        );
        feed(
            Input::Received(&Message::Keepalive.encode(AsWidth::Four).unwrap()),
            0,
        );
    }
    // Read sizes 1..=64 derived from the control byte, time advancing a second per read.
    let chunk = usize::from(control >> 2) + 1;
    let mut secs = 0;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(chunk.min(rest.len()));
        secs += 1;
        feed(Input::Received(now), secs);
        feed(Input::Tick, secs);
        rest = later;
    }
});

fn check_whole_messages(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match decode(bytes, AsWidth::Four) {
            Ok(Some((_, n))) => bytes = &bytes[n..],
            other => panic!("session wrote an invalid message: {other:?}"),
        }
    }
}
