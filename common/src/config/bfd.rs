//! `bfd-profiles[]` (v0.12, FRR mode only): parsed and validated so the controller accepts
//! what upstream's accepts; the native speaker rejects the section outright.

use super::raw::RawBfdProfile;

/// A BFD profile; `None` means "FRR's default".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BfdProfile {
    pub name: String,
    pub receive_interval: Option<u32>,
    pub transmit_interval: Option<u32>,
    pub detect_multiplier: Option<u32>,
    pub echo_interval: Option<u32>,
    pub echo_mode: bool,
    pub passive_mode: bool,
    pub minimum_ttl: Option<u32>,
}

/// Why a profile was rejected; upstream's texts after `parsing bfd profile #N: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BfdError {
    #[error("missing bfd profile name")]
    MissingName,
    #[error("invalid {field} value: invalid value {value}, must be in {lo}-{hi} range")]
    Range {
        field: &'static str,
        value: u32,
        lo: u32,
        hi: u32,
    },
}

fn bounded(v: Option<u32>, field: &'static str, lo: u32, hi: u32) -> Result<Option<u32>, BfdError> {
    match v {
        Some(value) if !(lo..=hi).contains(&value) => Err(BfdError::Range {
            field,
            value,
            lo,
            hi,
        }),
        v => Ok(v),
    }
}

pub(crate) fn parse_bfd_profile(raw: &RawBfdProfile) -> Result<BfdProfile, BfdError> {
    let name = raw.name.clone();
    if name.is_empty() {
        return Err(BfdError::MissingName);
    }
    Ok(BfdProfile {
        detect_multiplier: bounded(raw.detect_multiplier, "detect multiplier", 2, 255)?,
        receive_interval: bounded(raw.receive_interval, "receive interval", 10, 60000)?,
        transmit_interval: bounded(raw.transmit_interval, "transmit interval", 10, 60000)?,
        minimum_ttl: bounded(raw.minimum_ttl, "minimum ttl", 1, 254)?,
        // Upstream's message for a bad echo interval names the minimum TTL (quirk kept: it is
        // an error text users may grep for).
        echo_interval: bounded(raw.echo_interval, "minimum ttl", 10, 60000)?,
        echo_mode: raw.echo_mode,
        passive_mode: raw.passive_mode,
        name,
    })
}
