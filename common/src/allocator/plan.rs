//! What a freshly started controller would do with a set of services: the `controller plan`
//! command and the restart path (docs/allocation.md#restart-replay).
//!
//! Like upstream after a restart, every service is first converged before the initial sync:
//! services whose status holds addresses re-`assign` them (rebuilding the allocator from
//! statuses alone; of two conflicting statuses the first processed keeps the address), and
//! services needing a new address are deferred. Then, synced, the deferred ones allocate.

use crate::config::Pool;

use super::converge::converge;
use super::outcome::Convergence;
use super::service::ServiceSpec;
use super::state::Allocator;

/// A service as found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanService {
    /// `"<namespace>/<name>"`.
    pub key: String,
    pub spec: ServiceSpec,
    /// The `ip`s of `status.loadBalancer.ingress`.
    pub status_ips: Vec<String>,
}

/// Converges `services` in the given order against `pools`, as a restarted controller would.
/// Returns the resulting allocator (for statistics) and, in the same order as `services`,
/// the pass that decided each one (the synced pass for services deferred before sync).
pub fn plan(pools: &[Pool], services: &[PlanService]) -> (Allocator, Vec<Convergence>) {
    let mut alloc = Allocator::with_pools(pools);
    alloc.reserve(services.len());
    let first: Vec<Convergence> = services
        .iter()
        .map(|s| converge(&mut alloc, &s.key, &s.spec, &s.status_ips, false))
        .collect();
    let decided = services
        .iter()
        .zip(first)
        .map(|(s, c)| match c.retry {
            true => converge(&mut alloc, &s.key, &s.spec, &s.status_ips, true),
            false => c,
        })
        .collect();
    (alloc, decided)
}
