//! What a freshly started controller would do with a set of services: the `controller plan`
//! command and the restart path (spec §3.8).
//!
//! Like upstream after a restart, every service is first converged before the initial sync:
//! services whose status holds addresses re-`assign` them (rebuilding the allocator from
//! statuses alone; of two conflicting statuses the first processed keeps the address), and
//! services needing a new address are deferred. Then, synced, the deferred ones allocate.

use std::net::IpAddr;

use crate::config::Pool;

use super::converge::converge;
use super::outcome::{Action, Convergence, Status};
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

/// The verdict for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEntry {
    pub key: String,
    pub before: Vec<String>,
    /// The status the controller would write (`None`: left untouched).
    pub after: Option<Vec<IpAddr>>,
    pub action: Action,
    pub reason: String,
    /// The pass that decided (the synced one for services deferred before sync).
    pub convergence: Convergence,
}

/// Converges `services` in the given order against `pools`, as a restarted controller would.
/// Returns the resulting allocator (for statistics) and one entry per service, in order.
pub fn plan(pools: &[Pool], services: &[PlanService]) -> (Allocator, Vec<PlanEntry>) {
    let mut alloc = Allocator::with_pools(pools);
    let first: Vec<Convergence> = services
        .iter()
        .map(|s| converge(&mut alloc, &s.key, &s.spec, &s.status_ips, false))
        .collect();
    let entries = services
        .iter()
        .zip(first)
        .map(|(s, c)| {
            let c = if c.retry {
                converge(&mut alloc, &s.key, &s.spec, &s.status_ips, true)
            } else {
                c
            };
            PlanEntry {
                key: s.key.clone(),
                before: s.status_ips.clone(),
                after: match &c.status {
                    Status::Untouched => None,
                    Status::Set(ips) => Some(ips.clone()),
                },
                action: c.action,
                reason: c.reason.clone(),
                convergence: c,
            }
        })
        .collect();
    (alloc, entries)
}
