//! Why a set of `metallb.io` objects was refused, naming the object and the field.
//!
//! The reason texts are upstream v0.13's (`internal/config`), so what operators know from
//! MetalLB's logs still reads the same; what upstream leaves out — which object, which field —
//! is added around it. Fields this implementation does not support yet are reasons too: a
//! field that is present and would be ignored is refused instead (docs/crd.md#not-supported-yet).

use std::fmt;

use crate::gotext::quote;

/// The object a reason is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `IPAddressPool`, `BGPPeer`, …
    pub kind: &'static str,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, quote(&self.name))
    }
}

/// A refused configuration: `kind "name" field: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object} {field}: {reason}")]
pub struct CrdError {
    pub object: ObjectRef,
    /// JSON path of the field in the object, e.g. `spec.addresses[1]`; `spec` for the whole.
    pub field: String,
    /// Boxed: refusals are rare, and results stay small on the common path.
    pub reason: Box<Reason>,
}

impl CrdError {
    pub fn new(kind: &'static str, name: &str, field: impl Into<String>, reason: Reason) -> Self {
        Self {
            object: ObjectRef {
                kind,
                name: name.to_owned(),
            },
            field: field.into(),
            reason: Box::new(reason),
        }
    }

    /// The message for an Event on the object itself (which already names it).
    pub fn event_message(&self) -> String {
        format!("{}: {}", self.field, self.reason)
    }

    /// Refused because this implementation does not support the field yet, not because the
    /// configuration is wrong.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            *self.reason,
            Reason::Unsupported(_) | Reason::UnknownField(_)
        )
    }
}

/// Upstream v0.13's reasons (their texts), and ours for what is not supported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    // IPAddressPool
    #[error("missing pool name")]
    MissingPoolName,
    #[error("pool has no prefixes defined")]
    NoPrefixes,
    #[error("invalid CIDR {} in pool {}: {}", quote(.entry), quote(.pool), .reason)]
    Entry {
        entry: String,
        pool: String,
        reason: String,
    },
    #[error("duplicate definition of pool {}", quote(.0))]
    DuplicatePool(String),
    #[error("CIDR {} in pool {} overlaps with already defined CIDR {}", quote(.cidr), quote(.pool), quote(.other))]
    Overlap {
        cidr: String,
        pool: String,
        other: String,
    },
    #[error(
        "not announced: no L2Advertisement or BGPAdvertisement selects this pool (metallb-rs announces every pool it allocates from; docs/crd.md#pools-and-advertisements)"
    )]
    NotAnnounced,
    #[error(
        "selected by L2Advertisement {} and by BGPAdvertisement {}: metallb-rs announces a pool by one protocol (docs/crd.md#pools-and-advertisements)",
        quote(.l2),
        quote(.bgp)
    )]
    BothProtocols { l2: String, bgp: String },

    // Advertisements
    /// `value` as upstream prints it: `%q` of a string, or of a selector struct.
    #[error("duplicate definition of {what} {value}")]
    Duplicate { what: &'static str, value: String },
    #[error("invalid aggregation length {} for IPv4", crate::gotext::quote_int(i64::from(*.0)))]
    LengthV4(i32),
    #[error("invalid aggregation length {} for IPv6", crate::gotext::quote_int(i64::from(*.0)))]
    LengthV6(i32),
    #[error(
        "invalid aggregation length {agg}: prefix {mask} in this pool is more specific than the aggregation length for addresses {entry}"
    )]
    TooWide { agg: i32, mask: u8, entry: String },
    #[error(
        "invalid local preference {new}: local preferernce {old} was already set for the same type of BGP update. Check existing BGP advertisements with common pools and aggregation lengths"
    )]
    LocalPref { new: u32, old: u32 },
    #[error("invalid community {} in BGP advertisement: {}", quote(.0), .1)]
    AdvertisementCommunity(String, String),
    #[error("Invalid label selector {selector}: {reason}")]
    Selector { selector: String, reason: String },

    // Community
    #[error("parsing community {}: {}", quote(.0), .1)]
    Community(String, String),
    #[error("duplicate definition of community {}", quote(.0))]
    DuplicateAlias(String),

    // BGPPeer
    #[error("missing local ASN")]
    MissingLocalAsn,
    #[error("missing peer ASN")]
    MissingPeerAsn,
    #[error("invalid ebgp-multihop parameter set for an ibgp peer")]
    MultihopIbgp,
    #[error("invalid BGPPeer address {}", quote(.0))]
    PeerAddress(String),
    /// Not a Go duration (the API server's decoder refuses these; a file may hold them).
    #[error("{0}")]
    Duration(String),
    #[error("invalid hold time {}: must be 0 or >=3s", quote(.0))]
    HoldTime(String),
    #[error("invalid keepaliveTime {}", quote(.0))]
    Keepalive(String),
    #[error("invalid router ID {}", quote(.0))]
    RouterId(String),
    #[error("invalid source IP {}", quote(.0))]
    SourceIp(String),
    #[error("Failed to convert peer {peer} node selector: {reason}")]
    NodeSelector { peer: String, reason: String },
    #[error("peer {peer} referencing non existing bfd profile {profile}")]
    UnknownBfdProfile { peer: String, profile: String },
    #[error("peer {0} already exists")]
    DuplicatePeer(String),

    #[error(
        "pool {pool} has bgpadvertisement {ad} which references peer {peer} which has bfd echo enabled, which is not possible"
    )]
    BfdEcho {
        pool: String,
        ad: String,
        peer: String,
    },

    // BFDProfile
    #[error("missing bfd profile name")]
    MissingBfdName,
    #[error("invalid {field} value: invalid value {value}, must be in {lo}-{hi} range")]
    BfdRange {
        field: &'static str,
        value: u32,
        lo: u32,
        hi: u32,
    },
    #[error("found duplicate bfd profile name {0}")]
    DuplicateBfd(String),

    /// The native speaker's refusals of FRR-only settings (upstream's `DiscardFRROnly`).
    #[error("{0}")]
    NativeMode(String),

    /// Present, meaningful, and not implemented here yet.
    #[error(
        "{0} is not supported by metallb-rs yet; remove it, or see docs/crd.md#not-supported-yet"
    )]
    Unsupported(String),
    /// Not a field of this object's API version.
    #[error(
        "unknown field {}: not part of MetalLB v0.13's API for this kind (docs/crd.md#the-objects)",
        quote(.0)
    )]
    UnknownField(String),
}
