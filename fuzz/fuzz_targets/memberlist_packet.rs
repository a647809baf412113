//! Arbitrary bytes as a memberlist datagram: the unwrapping (CRC, compound, compress) and the
//! message decoders must never panic, every accepted message must survive an encode/decode
//! round trip, and a live node fed the datagram must stay consistent.
#![no_main]

use common::memberlist::packet::{decode_messages, open_packet};
use common::memberlist::wire::Message;
use common::memberlist::{Config, Memberlist};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    if let Ok(plain) = open_packet(data, None, true) {
        for msg in decode_messages(&plain).into_iter().flatten() {
            let bytes = msg.encode();
            assert_eq!(
                Message::decode(&bytes).as_ref(),
                Ok(&msg),
                "round trip of {msg:?}"
            );
        }
    }

    let me: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let from: SocketAddr = "10.0.0.2:7946".parse().unwrap();
    let now = Instant::now();
    let mut ml = Memberlist::new(Config::lan("me", me), [0; 32], now).unwrap();
    let _ = ml.handle_packet(from, data, now);
    ml.handle_timeout(now + Duration::from_secs(60));
    // Whatever arrived, we never stop counting ourselves as a member.
    assert!(ml.members().iter().any(|m| m.name == "me"));
    while ml.poll_output().is_some() {}
});
