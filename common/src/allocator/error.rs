//! Allocation failures, worded exactly as upstream v0.12.1's allocator words them (they reach
//! users verbatim in `AllocationFailed` events and in logs).

use std::net::IpAddr;

use super::family::{Family, go_ip_list, go_str_list};
use super::sharing::Port;
use crate::gotext::{ip_string, quote};

/// Why `assign`, `allocate_from_pool` or `allocate` refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// No pool allows every address. Holds Go's texts of the addresses (a status entry that
    /// does not parse prints as `<nil>`).
    #[error("{} is not allowed in config", go_str_list(.0))]
    NotAllowed(Vec<String>),
    #[error("More than two addresses {}", go_ip_list(.0))]
    TooMany(Vec<IpAddr>),
    #[error("{} {} has the same family", quote(&ip_string(*.0)), quote(&ip_string(*.1)))]
    SameFamily(IpAddr, IpAddr),
    /// The address is held by other services whose sharing key or backend key differs (or
    /// one side does not allow sharing). `others` is sorted (upstream: map order).
    #[error("can't change sharing key for {}, address also in use by {}", quote(.service), .others.join(","))]
    SharingKey {
        service: String,
        others: Vec<String>,
    },
    #[error("port {port} is already in use on {}", quote(&ip_string(*.ip)))]
    PortInUse { port: Port, ip: IpAddr },
    #[error("IP for wrong family assigned alloc {allocated} service family {requested}")]
    WrongFamily {
        allocated: Family,
        requested: Family,
    },
    #[error("unknown pool {}", quote(.0))]
    UnknownPool(String),
    #[error("no available IPs in pool {} for {} IPFamily", quote(.pool), .family)]
    PoolExhausted { pool: String, family: Family },
    #[error("no available IPs")]
    NoAvailable,
}

/// `SetPools` refused a configuration: a current allocation would have no pool. Of several
/// such services the one with the smallest key is named (upstream: random map order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "new config not compatible with assigned IPs: service {} cannot own {} under new config",
    quote(.service),
    go_ip_list(.ips)
)]
pub struct IncompatibleConfig {
    pub service: String,
    pub ips: Vec<IpAddr>,
}
