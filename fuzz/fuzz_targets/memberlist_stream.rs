//! Arbitrary bytes as a memberlist TCP stream (push/pull, TCP ping, error reply), plaintext
//! and as an encrypted frame (key from the secret "abc", as in the seeds): decoding must never
//! panic, anything accepted must re-encode to something that decodes to the same value, and a
//! node answering the stream must not panic.
#![no_main]

use common::memberlist::crypto::{Keyring, SecretKey};
use common::memberlist::stream::{decode_stream, seal_stream};
use common::memberlist::{Config, Memberlist};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    let ring = Keyring::new(SecretKey::from_metallb_secret("abc").unwrap());
    for keyring in [None, Some(&ring)] {
        if let Ok(Some(msg)) = decode_stream(data, keyring, false) {
            let bytes = seal_stream(&msg.encode(), false, None).unwrap();
            assert_eq!(decode_stream(&bytes, None, true), Ok(Some(msg)));
        }
    }

    let me: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let now = Instant::now();
    let mut ml = Memberlist::new(Config::lan("me", me), [0; 32], now).unwrap();
    let _ = ml.handle_stream(data, now);
    assert!(ml.members().iter().any(|m| m.name == "me"));
});
