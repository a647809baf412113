//! Allocation failures. They reach users verbatim in `AllocationFailed` events, in logs and
//! in `controller plan`, so each names its cause precisely: upstream v0.12.1's text first
//! (what people search for), then what it leaves out — which rule refused a share and who
//! holds the address or port (v0.11's wording for the rule), how big an exhausted pool is,
//! which families mismatch.

use std::net::IpAddr;

use super::family::{Family, go_ip_list, go_str_list};
use super::sharing::Port;
use crate::gotext::{ip_string, quote};

/// Why `assign`, `allocate_from_pool` or `allocate` refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// No pool allows every address. Holds Go's texts of the addresses (a status entry that
    /// does not parse prints as `<nil>`).
    #[error("{} is not allowed in config{}", go_str_list(.0), if .0.is_empty() { "" } else { ": no address pool contains it" })]
    NotAllowed(Vec<String>),
    /// One of several addresses is in no pool.
    #[error("{} is not allowed in config: no address pool contains {}", go_str_list(.ips), quote(.outside))]
    Outside { ips: Vec<String>, outside: String },
    /// Each address is in some pool, but no one pool holds them all.
    #[error("{} is not allowed in config: no single address pool contains them all", go_str_list(.0))]
    SplitPools(Vec<String>),
    /// An IPv4 `.0` or `.255` address of a pool with `avoid-buggy-ips`.
    #[error("{} is not allowed in config: pool {} has avoid-buggy-ips, which excludes {}", go_str_list(.ips), quote(.pool), quote(.buggy))]
    BuggyIp {
        ips: Vec<String>,
        pool: String,
        buggy: String,
    },
    #[error("More than two addresses {}", go_ip_list(.0))]
    TooMany(Vec<IpAddr>),
    #[error("{} {} has the same family", quote(&ip_string(*.0)), quote(&ip_string(*.1)))]
    SameFamily(IpAddr, IpAddr),
    /// The address is held by other services whose sharing key or backend key differs (or
    /// one side does not allow sharing). `others` is sorted (upstream: map order).
    #[error("can't change sharing key for {}, address also in use by {}: {rule}", quote(.service), .others.join(","))]
    SharingKey {
        service: String,
        others: Vec<String>,
        rule: SharingRule,
    },
    #[error("port {port} is already in use on {} by {}", quote(&ip_string(*.ip)), quote(.holder))]
    PortInUse {
        port: Port,
        ip: IpAddr,
        holder: String,
    },
    #[error("IP for wrong family assigned alloc {allocated} service family {requested}")]
    WrongFamily {
        allocated: Family,
        requested: Family,
    },
    #[error("unknown pool {}", quote(.0))]
    UnknownPool(String),
    #[error("no available IPs in pool {} for {} IPFamily: {}", quote(.pool), .family, .detail)]
    PoolExhausted {
        pool: String,
        family: Family,
        detail: Exhausted,
    },
    /// No auto-assign pool could serve the service; `tried` holds, per auto-assign pool in
    /// config order, `pool "<name>": <why>`.
    #[error("no available IPs: {}", if .tried.is_empty() { "no address pool has auto-assign enabled".to_owned() } else { .tried.join("; ") })]
    NoAvailable { tried: Vec<String> },
}

impl AllocError {
    /// The cause without the pool's name, for `NoAvailable`'s list.
    pub fn pool_detail(&self) -> String {
        match self {
            AllocError::PoolExhausted { detail, .. } => detail.to_string(),
            other => other.to_string(),
        }
    }
}

/// Which sharing rule (docs/allocation.md#sharing-an-address) refused an address, worded as
/// v0.11 words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharingRule {
    #[error("existing service does not allow sharing")]
    ExistingNotShared,
    #[error("new service does not allow sharing")]
    NewNotShared,
    #[error("sharing key {} does not match existing sharing key {}", quote(.new), quote(.existing))]
    KeyMismatch { new: String, existing: String },
    #[error("backend key {} does not match existing backend key {} (services sharing an IP must all use externalTrafficPolicy Cluster, or all Local with the same selector)", quote(.new), quote(.existing))]
    BackendMismatch { new: String, existing: String },
}

/// How a pool ran out for one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    /// The family with no address left (the IPv4 one first for dual-stack).
    pub missing: Family,
    /// Usable addresses of that family in the pool.
    pub capacity: u128,
    /// The service has a sharing key: addresses held by its group did not fit either.
    pub sharing: bool,
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.capacity, self.sharing) {
            (0, _) => write!(f, "the pool has no {} addresses", self.missing),
            (n, false) => write!(f, "all {n} {} addresses are in use", self.missing),
            (n, true) => write!(
                f,
                "all {n} {} addresses are in use, none shareable with this service (key, backend or port)",
                self.missing
            ),
        }
    }
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

/// Why no pool holds every address of `ips`, as precisely as the pools tell. One function
/// for the controller's refusals and the speaker's `ipNotAllowed` reason, so `kubectl
/// describe`, `controller plan` and `/status` say the same thing. `avoid_buggy`: whether
/// `avoid-buggy-ips` counts (allocation) or only the CIDRs (the speaker, as upstream's).
pub fn not_allowed<'p, I>(pools: I, ips: &[IpAddr], avoid_buggy: bool) -> AllocError
where
    I: Iterator<Item = &'p crate::config::Pool> + Clone,
{
    let texts = || ips.iter().map(|ip| ip_string(*ip)).collect::<Vec<_>>();
    let allowed = |ip: IpAddr| {
        pools.clone().any(|p| {
            if avoid_buggy {
                p.allows(ip)
            } else {
                p.contains(ip)
            }
        })
    };
    for ip in ips.iter().copied().filter(|ip| !allowed(*ip)) {
        if let Some(p) = pools.clone().find(|p| p.contains(ip)) {
            return AllocError::BuggyIp {
                ips: texts(),
                pool: p.name.clone(),
                buggy: ip_string(ip),
            };
        }
    }
    match ips.iter().find(|ip| !allowed(**ip)) {
        Some(ip) if ips.len() > 1 => AllocError::Outside {
            ips: texts(),
            outside: ip_string(*ip),
        },
        Some(_) => AllocError::NotAllowed(texts()),
        None => AllocError::SplitPools(texts()),
    }
}
