//! The configuration error, worded exactly as upstream v0.12.1 words it.

use super::bfd::BfdError;
use super::community::CommunityError;
use super::decode::DecodeError;
use super::peer::PeerError;
use super::pool::PoolError;
use crate::gotext::quote;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not YAML, or not the document's shape (unknown or duplicate key, wrong type).
    #[error("could not parse config: {0}")]
    Decode(DecodeError),
    /// Rejected by the speaker's mode validation (docs/config.md#mode-specific-validation);
    /// unprefixed, as upstream.
    #[error("{0}")]
    Mode(String),
    #[error("parsing bfd profile #{0}: {1}")]
    Bfd(usize, BfdError),
    #[error("found duplicate bfd profile name {0}")]
    DuplicateBfd(String),
    #[error("parsing peer #{0}: {1}")]
    Peer(usize, PeerError),
    #[error("peer #{0} referencing non existing bfd profile {1}")]
    UnknownBfdProfile(usize, String),
    #[error("peer #{0} already exists")]
    DuplicatePeer(usize),
    #[error("parsing community {}: {}", quote(.0), .1)]
    Community(String, CommunityError),
    #[error("parsing address pool #{0}: {1}")]
    Pool(usize, PoolError),
    #[error("duplicate definition of pool {}", quote(.0))]
    DuplicatePool(String),
    #[error("CIDR {} in pool {} overlaps with already defined CIDR {}", quote(.cidr), quote(.pool), quote(.other))]
    Overlap {
        cidr: String,
        pool: String,
        other: String,
    },
}
