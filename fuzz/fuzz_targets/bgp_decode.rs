//! Arbitrary bytes as a BGP byte stream: the framer and decoders must never panic, and
//! anything they accept must survive an encode/decode round trip unchanged.
#![no_main]

use common::bgp::{AsWidth, Message, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for width in [AsWidth::Four, AsWidth::Two] {
        let mut rest = data;
        while let Ok(Some((message, consumed))) = decode(rest, width) {
            assert!(consumed >= 19 && consumed <= rest.len());
            roundtrip(&message, width);
            rest = &rest[consumed..];
        }
    }
});

fn roundtrip(message: &Message, width: AsWidth) {
    // A decoded message can always be written back (it fitted in 4096 bytes before, and
    // the encoder never needs more room than the sender used).
    let bytes = message.encode(width).expect("decoded message re-encodes");
    match decode(&bytes, width) {
        Ok(Some((again, n))) => {
            assert_eq!(&again, message);
            assert_eq!(n, bytes.len());
        }
        other => panic!("re-encoded message does not decode: {other:?}"),
    }
}
