//! Links the release `speaker` with the functions it runs first (`link-order.txt`).
//!
//! Why: the kernel maps a file's pages into a process 64 KiB (or a whole large folio) at a time
//! around every page touched, so the ~2.4 MB of functions the speaker runs, scattered over
//! 6.5 MB of kube, rustls, tokio and serde code, kept 5.6 MB of it resident. Laid out together
//! they keep ~2.8 MB resident (BENCHMARKS.md, "Speaker at scale").
//!
//! `scripts/link-order.sh` regenerates the list from callgrind runs of the speaker at scale, and
//! `scripts/link-order.sh --check` (part of the test command) fails when the current build no
//! longer has most of the names. Symbol names carry hashes of the toolchain, the crate versions
//! and the feature set, so a toolchain or dependency bump makes part of the list stale: the
//! linker skips names that do not exist, so a stale list only costs memory, never correctness.
//!
//! Applied only where the linker is known to be LLD (rustc's default for
//! x86_64-unknown-linux-gnu since 1.90, unless a linker is configured): GNU ld has no
//! `--symbol-ordering-file`. `METALLB_NO_LINK_ORDER=1` turns it off, to measure without it.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// `-C` options through which RUSTFLAGS can choose another linker than rustc's LLD.
const LINKER_FLAGS: [&str; 4] = [
    "linker=",
    "linker-flavor",
    "linker-features",
    "link-self-contained",
];

fn main() {
    println!("cargo::rerun-if-changed=link-order.txt");
    println!("cargo::rerun-if-env-changed=METALLB_NO_LINK_ORDER");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let lld_target = env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    // A linker set in the config (RUSTC_LINKER) or through RUSTFLAGS may be GNU ld, which rejects
    // the option and would fail the link.
    let rustflags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let custom_linker = env::var_os("RUSTC_LINKER").is_some()
        || LINKER_FLAGS.iter().any(|flag| rustflags.contains(flag));
    let disabled = env::var_os("METALLB_NO_LINK_ORDER").is_some_and(|v| !v.is_empty() && v != "0");
    if !release || !lld_target || custom_linker || disabled || !rustc_links_with_lld() {
        return;
    }
    let Some(dir) = env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let order = PathBuf::from(dir).join("link-order.txt");
    if order.is_file() {
        println!(
            "cargo::rustc-link-arg-bin=speaker=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo::rustc-link-arg-bin=speaker=-Wl,--no-warn-symbol-ordering");
    }
}

/// rustc ≥ 1.90 links x86_64-unknown-linux-gnu with its bundled LLD.
fn rustc_links_with_lld() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let version = String::from_utf8_lossy(&out.stdout);
    let mut parts = version
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    matches!((parts.next(), parts.next()), (Some(Some(1)), Some(Some(minor))) if minor >= 90)
}
