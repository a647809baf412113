//! MetalLB's legacy `config` document (the `config` key of the `config` ConfigMap).
//!
//! [`parse`] accepts and rejects exactly what upstream v0.12.1's `config.Parse` does, with the
//! same error texts (operators grep their logs for them), except for the quirks we fix on
//! purpose (docs/config.md#deliberate-differences): pools keep their configuration order so
//! allocation is deterministic.
//! [`Loaded`] implements the runtime rule that a config that fails never replaces a good one.

mod bfd;
mod community;
mod decode;
mod duration;
mod error;
mod go_kinds;
mod json;
mod loaded;
mod manifest;
mod overlap;
mod parse;
mod peer;
mod pool;
mod range;
mod raw;
mod selector;
mod yaml;

pub use bfd::BfdProfile;
pub use community::{Community, parse_u16_go};
pub use decode::DecodeError;
pub use duration::parse_go_duration;
pub use error::ConfigError;
pub use json::to_json;
pub use loaded::{Loaded, ReloadOutcome};
pub use manifest::{CheckError, check, check_input, config_text};
pub use parse::{Mode, parse};
pub use peer::{Asn, HoldTime, Peer};
pub use pool::{BgpAdvertisement, Pool, Protocol};
pub use range::{AddrRange, parse_entry, parse_ip, summarize};
pub use selector::{Labels, Operator, Requirement, Selector};

/// A parsed and validated configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// BGP peers, in configuration order.
    pub peers: Vec<Peer>,
    /// Address pools in configuration order (upstream keeps a map and iterates it randomly;
    /// config order is our deterministic choice). Names are unique.
    pub pools: Vec<Pool>,
    /// BFD profiles by name (FRR mode only; carried so the controller can echo them).
    pub bfd_profiles: std::collections::BTreeMap<String, BfdProfile>,
}

impl Config {
    /// The pool with this name.
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// The first pool (config order) whose CIDRs contain every address, ignoring
    /// `avoid-buggy-ips` (the speaker's lookup, docs/speaker.md#the-per-service-decision).
    pub fn pool_containing_all(&self, ips: &[std::net::IpAddr]) -> Option<&Pool> {
        self.pools
            .iter()
            .find(|p| !ips.is_empty() && ips.iter().all(|ip| p.contains(*ip)))
    }
}

/// Decoding alone (no validation), for benchmarks that separate the two costs.
#[doc(hidden)]
pub fn decode_only(text: &str) -> bool {
    decode::unmarshal_strict::<raw::RawConfig>(text).is_ok()
}
