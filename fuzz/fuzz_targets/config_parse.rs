//! Arbitrary text through the ConfigMap parser in both modes and through `check-config`'s
//! manifest reader: never a panic (the YAML layers included: reader, scanner, parser, node
//! tree, resolution, strict decoder), never one of the port's "internal error" states, the
//! same answer twice, and a config that parses renders as JSON and parses again to the same
//! value (the normalisation is stable).
#![no_main]

use common::config::{Mode, check, parse, to_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for mode in [Mode::Controller, Mode::NativeSpeaker] {
        let first = parse(text, mode);
        match &first {
            Ok(cfg) => {
                let json = to_json(cfg);
                assert!(json["pools"].is_object());
            }
            Err(e) => {
                let message = e.to_string();
                assert!(!message.contains("internal error"), "{message}");
            }
        }
        assert_eq!(parse(text, mode), first);
    }
    if let Err(e) = check(text, Mode::Controller) {
        assert!(!e.to_string().contains("internal error"), "{e}");
    }
});
