//! The allocator's state: pools with their free-space indexes, each service's allocation,
//! and the holders of each address. `assign`, `unassign` and `set_pools` live here; the
//! searches for a free address are in `allocate.rs`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::config::Pool;

use super::error::{AllocError, IncompatibleConfig, not_allowed};
use super::family::Family;
use super::index::CidrIndex;
use super::sharing::{Claim, Sharing, Usage};

/// The one or two addresses of a service; two are always of different families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LbIps {
    ips: [IpAddr; 2],
    len: usize,
}

impl LbIps {
    /// Upstream's dual-stack checks of `Assign`, in its order.
    fn new(ips: &[IpAddr]) -> Result<Self, AllocError> {
        match *ips {
            [a] => Ok(LbIps {
                ips: [a, a],
                len: 1,
            }),
            [a, b] if Family::of(a) == Family::of(b) => Err(AllocError::SameFamily(a, b)),
            [a, b] => Ok(LbIps {
                ips: [a, b],
                len: 2,
            }),
            [] => Err(AllocError::NotAllowed(Vec::new())),
            _ => Err(AllocError::TooMany(ips.to_vec())),
        }
    }

    /// In status order.
    pub fn as_slice(&self) -> &[IpAddr] {
        self.ips.get(..self.len).unwrap_or_default()
    }

    pub fn to_vec(&self) -> Vec<IpAddr> {
        self.as_slice().to_vec()
    }

    pub fn family(&self) -> Family {
        match self.as_slice() {
            [a] => Family::of(*a),
            _ => Family::Dual,
        }
    }
}

/// Capacity and use of one pool, for `metallb_allocator_addresses_total` and
/// `metallb_allocator_addresses_in_use_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    pub name: String,
    /// Addresses that may be handed out (buggy ones excluded under avoid-buggy-ips).
    /// Saturates at `u128::MAX`. Upstream reports `MaxInt64` as soon as one CIDR has 2^62
    /// addresses or more; this is the exact count.
    pub capacity: u128,
    /// Distinct addresses held by at least one service.
    pub in_use: u128,
}

/// A count as a Prometheus gauge value: exact up to 2^53, rounded to the nearest `f64`
/// above (a /64 reports 1.8446744073709552e19).
pub fn gauge_value(count: u128) -> f64 {
    // `as` rounds to nearest; the loss above 2^53 is inherent to a float gauge.
    count as f64
}

#[derive(Debug, Clone)]
pub(crate) struct PoolState {
    pub(crate) pool: Pool,
    pub(crate) cidrs: Vec<CidrIndex>,
}

impl PoolState {
    fn new(pool: &Pool) -> Self {
        PoolState {
            cidrs: pool
                .cidrs
                .iter()
                .map(|net| CidrIndex::new(*net, pool.avoid_buggy_ips))
                .collect(),
            pool: pool.clone(),
        }
    }

    /// The CIDR that allows `ip` (contains it and, under avoid-buggy, it is not buggy).
    fn cidr_of(&self, ip: IpAddr) -> Option<usize> {
        self.cidrs.iter().position(|c| c.allows(ip))
    }

    fn cidr_mut(&mut self, index: usize) -> Option<&mut CidrIndex> {
        self.cidrs.get_mut(index)
    }
}

#[derive(Debug, Clone)]
struct Allocation {
    pool: usize,
    /// Index into the pool's CIDRs, per address.
    cidrs: [usize; 2],
    ips: LbIps,
    claim: Claim,
}

/// Where every allocated address comes from and who holds it.
///
/// Services are keyed `"<namespace>/<name>"`. The only persistent state is the services'
/// status, so after a restart the allocator is rebuilt by `assign`ing every status (see
/// `converge`). Pools must not overlap, which `config::parse` guarantees; an address then
/// belongs to exactly one pool.
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    pub(crate) pools: Vec<PoolState>,
    services: HashMap<Arc<str>, Allocation>,
    pub(crate) sharing: Sharing,
}

impl Allocator {
    /// An allocator with no pools (every `assign` fails until `set_pools`).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty allocator over these pools (config order).
    pub fn with_pools(pools: &[Pool]) -> Self {
        Allocator {
            pools: pools.iter().map(PoolState::new).collect(),
            ..Self::default()
        }
    }

    /// Makes room for `additional` more services (a restart knows how many it rebuilds).
    pub fn reserve(&mut self, additional: usize) {
        self.services.reserve(additional);
        self.sharing.reserve(additional);
    }

    /// Installs a new pool list (config order), unless some current allocation would not be
    /// allowed by any new pool (then nothing changes). Allocations whose pool was renamed,
    /// split or merged move to their new pool. Returns the names of pools that disappeared
    /// (their metric series must be deleted).
    pub fn set_pools(&mut self, pools: &[Pool]) -> Result<Vec<String>, IncompatibleConfig> {
        let mut states: Vec<PoolState> = pools.iter().map(PoolState::new).collect();
        let refused = self
            .services
            .iter()
            .filter(|(_, alloc)| locate(&states, alloc.ips.as_slice()).is_none())
            .min_by(|(a, _), (b, _)| a.cmp(b));
        if let Some((service, alloc)) = refused {
            return Err(IncompatibleConfig {
                service: service.to_string(),
                ips: alloc.ips.to_vec(),
            });
        }
        for alloc in self.services.values_mut() {
            let Some((pool, cidrs)) = locate(&states, alloc.ips.as_slice()) else {
                continue;
            };
            alloc.pool = pool;
            alloc.cidrs = cidrs;
            for (ip, c) in alloc.ips.as_slice().iter().zip(cidrs) {
                if let Some(cidr) = states.get_mut(pool).and_then(|p| p.cidr_mut(c)) {
                    cidr.mark_used(*ip);
                }
            }
        }
        let removed = self
            .pools
            .iter()
            .map(|p| &p.pool.name)
            .filter(|name| !pools.iter().any(|p| &p.name == *name))
            .cloned()
            .collect();
        self.pools = states;
        Ok(removed)
    }

    /// The pools, in config order.
    pub fn pools(&self) -> impl Iterator<Item = &Pool> {
        self.pools.iter().map(|p| &p.pool)
    }

    pub fn has_pool(&self, name: &str) -> bool {
        self.pool_index(name).is_some()
    }

    /// Gives `service` exactly `ips` (upstream's `Assign`,
    /// docs/allocation.md#sharing-an-address) if a pool allows them all, they are one address
    /// or two of different families, and the sharing rules allow it. Replaces the service's
    /// previous allocation.
    pub fn assign(
        &mut self,
        service: &str,
        ips: &[IpAddr],
        usage: &Usage,
    ) -> Result<LbIps, AllocError> {
        let ips = canonical(ips);
        let Some((pool, cidrs)) = locate(&self.pools, &ips) else {
            return Err(not_allowed(self.pools.iter().map(|p| &p.pool), &ips, true));
        };
        let lb = LbIps::new(&ips)?;
        for ip in lb.as_slice() {
            self.sharing.check(service, *ip, usage)?;
        }
        let previous = self.services.remove(service);
        if let Some(old) = &previous {
            self.release(old);
        }
        let claim = Claim::new(
            service,
            usage,
            previous.as_ref().map(|a| &a.claim),
            &self.sharing,
        );
        for (ip, c) in lb.as_slice().iter().zip(cidrs) {
            if self.sharing.add(&claim, *ip)
                && let Some(cidr) = self.pools.get_mut(pool).and_then(|p| p.cidr_mut(c))
            {
                cidr.mark_used(*ip);
            }
        }
        let alloc = Allocation {
            pool,
            cidrs,
            ips: lb,
            claim,
        };
        self.services
            .insert(Arc::clone(alloc.claim.service()), alloc);
        Ok(lb)
    }

    /// Releases the service's addresses; false if it had none.
    pub fn unassign(&mut self, service: &str) -> bool {
        match self.services.remove(service) {
            Some(alloc) => {
                self.release(&alloc);
                true
            }
            None => false,
        }
    }

    /// The pool the service's addresses belong to.
    pub fn pool_of(&self, service: &str) -> Option<&str> {
        let alloc = self.services.get(service)?;
        self.pools.get(alloc.pool).map(|p| p.pool.name.as_str())
    }

    /// The service's addresses, in status order.
    pub fn ips_of(&self, service: &str) -> Option<&[IpAddr]> {
        self.services.get(service).map(|a| a.ips.as_slice())
    }

    /// Services holding `ip`, sorted (empty: the address is free).
    pub fn holders(&self, ip: IpAddr) -> Vec<&str> {
        self.sharing.holders(ip.to_canonical())
    }

    pub fn is_in_use(&self, ip: IpAddr) -> bool {
        self.sharing.is_used(ip.to_canonical())
    }

    /// Number of services holding addresses.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// Number of distinct addresses in use, all pools together.
    pub fn ips_in_use(&self) -> usize {
        self.sharing.len()
    }

    /// Capacity and use per pool, in config order.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        self.pools
            .iter()
            .map(|p| PoolStats {
                name: p.pool.name.clone(),
                capacity: p
                    .cidrs
                    .iter()
                    .fold(0u128, |n, c| n.saturating_add(c.capacity())),
                in_use: p.cidrs.iter().map(CidrIndex::used).sum(),
            })
            .collect()
    }

    pub(crate) fn pool_index(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.pool.name == name)
    }

    pub(crate) fn allocation(&self, service: &str) -> Option<LbIps> {
        self.services.get(service).map(|a| a.ips)
    }

    fn release(&mut self, alloc: &Allocation) {
        for (ip, c) in alloc.ips.as_slice().iter().zip(alloc.cidrs) {
            if self.sharing.remove(&alloc.claim, *ip)
                && let Some(cidr) = self.pools.get_mut(alloc.pool).and_then(|p| p.cidr_mut(c))
            {
                cidr.mark_free(*ip);
            }
        }
    }
}

/// The addresses with IPv4-mapped IPv6 as IPv4 (copied only when some are mapped).
fn canonical(ips: &[IpAddr]) -> Cow<'_, [IpAddr]> {
    if ips.iter().all(|ip| ip.to_canonical() == *ip) {
        Cow::Borrowed(ips)
    } else {
        Cow::Owned(ips.iter().map(IpAddr::to_canonical).collect())
    }
}

/// `poolFor`: the first pool (config order) allowing every address, with the CIDR of each.
/// An empty list belongs to no pool (upstream would pick an arbitrary pool).
fn locate(pools: &[PoolState], ips: &[IpAddr]) -> Option<(usize, [usize; 2])> {
    if ips.is_empty() {
        return None;
    }
    pools.iter().enumerate().find_map(|(i, p)| {
        let mut cidrs = [0; 2];
        for (slot, ip) in ips.iter().enumerate() {
            let c = p.cidr_of(*ip)?;
            if let Some(s) = cidrs.get_mut(slot) {
                *s = c;
            }
        }
        Some((i, cidrs))
    })
}
