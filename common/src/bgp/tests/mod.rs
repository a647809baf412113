//! Behaviour tests of the BGP core: wire vectors, malformed input, properties, packing and
//! the session state machine with a fake clock.

mod malformed;
mod oracle;
mod pack;
mod properties;
mod session;
mod vectors;

/// Hex with optional whitespace, as `vectors.rs` writes its vectors.
pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).expect("ascii hex");
            u8::from_str_radix(text, 16).expect("hex digit")
        })
        .collect()
}
