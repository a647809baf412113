//! Arbitrary text through `controller convert`: never a panic, and never objects that mean
//! something else than the ConfigMap (the converter checks itself; a `Mismatch` is a bug).
//! What converts reads back from its own YAML to the same objects.
#![no_main]

use common::crd::{ConvertError, convert, documents};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match convert(text) {
        Ok(c) => {
            let back = documents::read(&c.to_yaml()).expect("converted YAML reads back");
            assert_eq!(back, c.resources);
        }
        Err(ConvertError::Mismatch(m)) => panic!("mismatch: {m}"),
        Err(_) => {}
    }
});
