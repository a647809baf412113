//! One pass of the controller over one service (upstream's `convergeBalancer`, described in
//! docs/allocation.md#one-pass-over-a-service): the service's inputs and current status in; the
//! new status, Events, log notes and a plan verdict out. The allocator is updated as upstream's
//! is.
//!
//! Deliberate fix: when `metallb.universe.tf/address-pool` names a pool that no longer
//! exists while the current address is still valid in the config (the pool was renamed),
//! the address is kept. Upstream clears it and then fails with `unknown pool`, leaving the
//! service without an address.

use std::net::IpAddr;

use super::error::AllocError;
use super::family::{
    Family, FamilyError, family_for_ips, go_ip_list, go_str_list, nil_or_text, parse_ip,
};
use super::outcome::{Action, ClearReason, Convergence, Event, EventType, Note, Status};
use super::service::{RequestError, ServiceSpec};
use super::state::{Allocator, LbIps};
use crate::gotext::quote;

/// Why `allocateIPs` failed (the text after `Failed to allocate IP for "<svc>": `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    #[error(transparent)]
    Family(#[from] FamilyError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("requested loadBalancer IP(s) {} does not match the ipFamily of the service (requested {requested}, service {service})", go_ip_list(.ips))]
    FamilyMismatch {
        ips: Vec<IpAddr>,
        requested: Family,
        service: Family,
    },
    #[error(transparent)]
    Alloc(#[from] AllocError),
}

/// `allocateIPs`: requested addresses, else the requested pool, else any auto-assign pool.
pub fn allocate_ips(
    alloc: &mut Allocator,
    key: &str,
    spec: &ServiceSpec,
) -> Result<LbIps, AllocateError> {
    let family = spec.family()?;
    if let Some(desired) = spec.desired_ips()? {
        if desired.family != family {
            return Err(AllocateError::FamilyMismatch {
                requested: desired.family,
                service: family,
                ips: desired.ips,
            });
        }
        return Ok(alloc.assign(key, &desired.ips, &spec.usage)?);
    }
    Ok(match spec.pool() {
        Some(pool) => alloc.allocate_from_pool(key, family, pool, &spec.usage)?,
        None => alloc.allocate(key, family, &spec.usage)?,
    })
}

/// Converges one service. `status_ips` are the `ip`s of `status.loadBalancer.ingress`;
/// `synced` is whether the initial sync of every informer has been processed.
pub fn converge(
    alloc: &mut Allocator,
    key: &str,
    spec: &ServiceSpec,
    status_ips: &[String],
    synced: bool,
) -> Convergence {
    let mut pass = Pass {
        alloc,
        key,
        status: Status::Untouched,
        events: Vec::new(),
        notes: Vec::new(),
        last_clear: None,
    };
    let before: Vec<Option<IpAddr>> = status_ips
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| parse_ip(s))
        .collect();
    let retry = pass.run(spec, before.clone(), synced);
    pass.finish(&before, retry)
}

struct Pass<'a> {
    alloc: &'a mut Allocator,
    key: &'a str,
    status: Status,
    events: Vec<Event>,
    notes: Vec<Note>,
    last_clear: Option<String>,
}

impl Pass<'_> {
    /// Returns whether to retry.
    fn run(&mut self, spec: &ServiceSpec, mut lb: Vec<Option<IpAddr>>, synced: bool) -> bool {
        if !spec.is_load_balancer {
            self.clear(Some(ClearReason::NotLoadBalancer));
            return false;
        }
        if spec.cluster_ips.is_empty() {
            self.clear(Some(ClearReason::NoClusterIps));
            return false;
        }
        if lb.is_empty() {
            self.clear(None);
        } else {
            let lb_family = match family_for_ips(&lb) {
                Ok(f) => f,
                Err(e) => {
                    let texts: Vec<String> = lb.iter().map(|ip| nil_or_text(*ip)).collect();
                    let message = format!(
                        "Failed to retrieve LBIPs IPFamily for {}: {e}",
                        go_str_list(&texts)
                    );
                    self.notes.push(Note::LbIpsFamily(e));
                    self.warn("nolbIPsIPFamily", message);
                    return false;
                }
            };
            let family = match spec.family() {
                Ok(f) => f,
                Err(e) => {
                    let message = format!(
                        "Failed to retrieve ClusterIPs IPFamily for {}: {e}",
                        go_str_list(&spec.cluster_ips)
                    );
                    self.notes.push(Note::ClusterIpsFamily(e));
                    self.warn("noclusterIPsIPFamily", message);
                    return false;
                }
            };
            if lb_family != family {
                self.clear(Some(ClearReason::FamilyChanged));
                lb.clear();
            }
        }
        if !lb.is_empty() {
            let assigned = match lb.iter().copied().collect::<Option<Vec<IpAddr>>>() {
                Some(ips) => self.alloc.assign(self.key, &ips, &spec.usage).map(drop),
                None => Err(AllocError::NotAllowed(
                    lb.iter().map(|ip| nil_or_text(*ip)).collect(),
                )),
            };
            if let Err(e) = assigned {
                self.clear(Some(ClearReason::NotAllowed(e)));
                lb.clear();
            }
            if let Some(pool) = spec.pool()
                && !lb.is_empty()
                && self.alloc.pool_of(self.key) != Some(pool)
            {
                if self.alloc.has_pool(pool) {
                    self.clear(Some(ClearReason::DifferentPool));
                    lb.clear();
                } else {
                    self.notes.push(Note::KeptUnknownPool {
                        requested: pool.to_owned(),
                        current: self.alloc.pool_of(self.key).unwrap_or_default().to_owned(),
                    });
                }
            }
            let desired = match spec.desired_ips() {
                Ok(d) => d,
                Err(e) => {
                    let message = format!("invalid requested loadbalancer IPs: {e}");
                    self.notes.push(Note::InvalidRequest(e));
                    self.warn("LoadBalancerFailed", message);
                    return false;
                }
            };
            if let Some(desired) = desired
                && !same_addresses(&lb, &desired.ips)
            {
                self.clear(Some(ClearReason::DifferentIp));
                lb.clear();
            }
        }
        if lb.is_empty() {
            if !synced {
                self.notes.push(Note::NotSynced);
                return true;
            }
            match allocate_ips(self.alloc, self.key, spec) {
                Ok(ips) => {
                    self.notes.push(Note::IpAllocated(ips.to_vec()));
                    self.events.push(Event {
                        kind: EventType::Normal,
                        reason: "IPAllocated",
                        message: format!("Assigned IP {}", go_ip_list(ips.as_slice())),
                    });
                    lb = ips.as_slice().iter().copied().map(Some).collect();
                }
                Err(e) => {
                    let message = format!("Failed to allocate IP for {}: {e}", quote(self.key));
                    self.notes.push(Note::AllocationFailed(e.to_string()));
                    self.warn("AllocationFailed", message);
                    return false;
                }
            }
        }
        let ips: Vec<IpAddr> = lb.into_iter().flatten().collect();
        if ips.is_empty() {
            self.notes.push(Note::Bug(
                "internal error: failed to allocate an IP, but did not exit convergeService early!",
            ));
            self.warn(
                "InternalError",
                "didn't allocate an IP but also did not fail".to_owned(),
            );
            self.clear(None);
            return false;
        }
        if self.alloc.pool_of(self.key).is_none() {
            self.notes.push(Note::Bug(
                "internal error: allocated IP has no matching address pool",
            ));
            self.warn(
                "InternalError",
                "allocated an IP that has no pool".to_owned(),
            );
            self.clear(None);
            return false;
        }
        self.status = Status::Set(ips);
        false
    }

    /// `clearServiceState`: release the addresses and empty the status.
    fn clear(&mut self, reason: Option<ClearReason>) {
        self.alloc.unassign(self.key);
        self.status = Status::Set(Vec::new());
        if let Some(reason) = reason {
            self.last_clear = Some(reason.explain());
            self.notes.push(Note::Cleared(reason));
        }
    }

    fn warn(&mut self, reason: &'static str, message: String) {
        self.events.push(Event {
            kind: EventType::Warning,
            reason,
            message,
        });
    }

    fn finish(self, before: &[Option<IpAddr>], retry: bool) -> Convergence {
        let (unchanged, after_empty) = match &self.status {
            Status::Untouched => (true, before.is_empty()),
            Status::Set(ips) => (
                ips.len() == before.len() && ips.iter().zip(before).all(|(a, b)| Some(*a) == *b),
                ips.is_empty(),
            ),
        };
        let warning = self
            .events
            .iter()
            .rev()
            .find(|e| e.kind == EventType::Warning);
        let last_event = self.events.last().map(|e| e.message.clone());
        let (action, reason) = if retry {
            (
                Action::Deferred,
                "controller not synced yet, cannot allocate IP; will retry after sync".to_owned(),
            )
        } else if let Some(w) = warning {
            (Action::Failed, w.message.clone())
        } else if unchanged {
            (Action::Kept, last_event.unwrap_or_default())
        } else if after_empty {
            (Action::Cleared, self.last_clear.unwrap_or_default())
        } else if before.is_empty() {
            (Action::Assigned, last_event.unwrap_or_default())
        } else {
            // Say why the old addresses were refused before what replaced them.
            let assigned = last_event.unwrap_or_default();
            let reason = match self.last_clear {
                Some(why) => format!("{why}; {assigned}"),
                None => assigned,
            };
            (Action::Changed, reason)
        };
        Convergence {
            status: if retry {
                Status::Untouched
            } else {
                self.status
            },
            retry,
            events: self.events,
            notes: self.notes,
            action,
            reason,
        }
    }
}

/// `isEqualIPs`: the same addresses, order ignored. Upstream sorts the status list in place
/// while comparing, so a service with requested addresses gets its status rewritten in text
/// order on the pass after allocation; we keep the requested order and save that write.
fn same_addresses(current: &[Option<IpAddr>], desired: &[IpAddr]) -> bool {
    let mut a: Vec<Option<IpAddr>> = current.to_vec();
    let mut b: Vec<Option<IpAddr>> = desired.iter().copied().map(Some).collect();
    a.sort();
    b.sort();
    a == b
}
