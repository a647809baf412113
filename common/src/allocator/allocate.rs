//! Picking addresses: `allocate_from_pool` (lowest acceptable address per family, CIDRs in
//! config order) and `allocate` (auto-assign pools in config order); the rules are in
//! docs/allocation.md#picking-an-address.

use std::net::IpAddr;

use super::error::{AllocError, Exhausted};
use super::family::Family;
use super::index::CidrIndex;
use super::sharing::{Sharing, Usage};
use super::state::{Allocator, LbIps};
use crate::gotext::quote;

impl Allocator {
    /// Addresses of `family` for `service` from the named pool: per family the lowest
    /// address of the first CIDR (config order) that has one the service may use — free, or
    /// shared with its sharing group without port conflicts. A service that already holds
    /// addresses keeps them (re-checked by `assign`), as upstream.
    pub fn allocate_from_pool(
        &mut self,
        service: &str,
        family: Family,
        pool: &str,
        usage: &Usage,
    ) -> Result<LbIps, AllocError> {
        if let Some(current) = self.allocation(service) {
            return self.reassign(service, current, family, usage);
        }
        let index = self
            .pool_index(pool)
            .ok_or_else(|| AllocError::UnknownPool(pool.to_owned()))?;
        self.allocate_in(service, family, index, usage)
    }

    /// Addresses of `family` from the first auto-assign pool (config order) that has them.
    /// Upstream tries pools in random order; config order is deterministic and equally
    /// compatible.
    pub fn allocate(
        &mut self,
        service: &str,
        family: Family,
        usage: &Usage,
    ) -> Result<LbIps, AllocError> {
        if let Some(current) = self.allocation(service) {
            return self.assign(service, current.as_slice(), usage);
        }
        let mut tried = Vec::new();
        for index in 0..self.pools.len() {
            let Some(name) = self
                .pools
                .get(index)
                .filter(|p| p.pool.auto_assign)
                .map(|p| p.pool.name.clone())
            else {
                continue;
            };
            match self.allocate_in(service, family, index, usage) {
                Ok(ips) => return Ok(ips),
                Err(e) => tried.push(format!("pool {}: {}", quote(&name), e.pool_detail())),
            }
        }
        Err(AllocError::NoAvailable { tried })
    }

    fn reassign(
        &mut self,
        service: &str,
        current: LbIps,
        family: Family,
        usage: &Usage,
    ) -> Result<LbIps, AllocError> {
        if current.family() != family {
            return Err(AllocError::WrongFamily {
                allocated: current.family(),
                requested: family,
            });
        }
        self.assign(service, current.as_slice(), usage)
    }

    fn allocate_in(
        &mut self,
        service: &str,
        family: Family,
        index: usize,
        usage: &Usage,
    ) -> Result<LbIps, AllocError> {
        let Some(state) = self.pools.get(index) else {
            return Err(AllocError::UnknownPool(index.to_string()));
        };
        let mut want_v4 = family.wants(Family::V4);
        let mut want_v6 = family.wants(Family::V6);
        let mut found: Vec<IpAddr> = Vec::with_capacity(2);
        for cidr in &state.cidrs {
            let wanted = match cidr.family() {
                Family::V4 => &mut want_v4,
                _ => &mut want_v6,
            };
            if !*wanted {
                continue;
            }
            if let Some(ip) = lowest_acceptable(cidr, &self.sharing, usage) {
                found.push(ip);
                *wanted = false;
            }
        }
        if want_v4 || want_v6 {
            let missing = if want_v4 { Family::V4 } else { Family::V6 };
            return Err(AllocError::PoolExhausted {
                pool: state.pool.name.clone(),
                family,
                detail: Exhausted {
                    missing,
                    capacity: state
                        .cidrs
                        .iter()
                        .filter(|c| c.family() == missing)
                        .fold(0u128, |n, c| n.saturating_add(c.capacity())),
                    sharing: !usage.sharing_key.is_empty(),
                },
            });
        }
        self.assign(service, &found, usage)
    }
}

/// The lowest address of `cidr` that passes `checkSharing` for a service holding nothing:
/// the lowest free one, or a lower one already shared by the service's group on which none
/// of its ports is taken.
fn lowest_acceptable(cidr: &CidrIndex, sharing: &Sharing, usage: &Usage) -> Option<IpAddr> {
    let free = cidr.lowest_free();
    if usage.sharing_key.is_empty() {
        return free;
    }
    let (lo, hi) = cidr.bounds();
    // Only shared addresses below the lowest free one can win.
    let below = match free {
        Some(f) if f == lo => return free,
        Some(f) => cidr.before(f),
        None => Some(hi),
    };
    let shared = below.and_then(|b| sharing.lowest_shareable(usage, lo, b));
    shared.or(free)
}
