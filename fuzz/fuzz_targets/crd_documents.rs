//! Arbitrary text as `metallb.io` objects (multi-document YAML, `kind: List`) and through the
//! translation in both modes: never a panic, the translation does not depend on the order of
//! the objects, and a refusal names an object kind.
#![no_main]

use common::config::Mode;
use common::crd::{documents, translate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(res) = documents::read(text) else { return };
    for mode in [Mode::Controller, Mode::NativeSpeaker] {
        let first = translate(&res, mode);
        let mut reversed = res.clone();
        reversed.pools.reverse();
        reversed.peers.reverse();
        reversed.bgp_advertisements.reverse();
        reversed.l2_advertisements.reverse();
        assert_eq!(translate(&reversed, mode), first);
        if let Err(e) = first {
            assert!(documents::KINDS.contains(&e.object.kind));
        }
    }
});
