//! The BGP routes a node advertises, kept per announced service so that a service's change
//! costs the work of its own prefixes, not a recomputation over every service (issue #21:
//! recomputing per event made a 5 000-service start-up quadratic), and handed to the
//! sessions as the changes since the last hand-off (docs/bgp.md#packing), not as a copy of
//! the whole set.
//!
//! The routes are always the ones [`desired_routes`](super::desired_routes) computes from
//! the same announcements: each service contributes its prefixes (`service_routes`), and
//! where several services contribute one prefix, the smallest service key's attributes win.
//! The winners are read off the claims; no separate map of them is kept.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::advertise::{AdvertiseError, service_routes};
use crate::bgp::{DesiredRoutes, Prefix, RouteAttrs, RouteChange};
use crate::config::Pool;

/// The desired routes, maintained service by service.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// Each service's prefixes (the attributes it wants are in `claims`). The key is shared
    /// with its claims.
    services: HashMap<Arc<str>, Box<[Prefix]>>,
    /// Per prefix, every contributing service's attributes, sorted by key: the first one is
    /// the route. Almost always one: a vector costs one small allocation per prefix, where
    /// a map's node would cost hundreds of bytes (issue #21's peak RSS).
    claims: HashMap<Prefix, Vec<(Arc<str>, RouteAttrs)>>,
    /// The prefixes touched since the last [`RouteTable::take_changes`]...
    touched: HashSet<Prefix>,
    /// ...and the route each of them had then, if it had one (at start-up none had: a set
    /// of prefixes costs a third of a map to optional routes).
    was: HashMap<Prefix, RouteAttrs>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The route of `prefix` now.
    pub fn route(&self, prefix: &Prefix) -> Option<&RouteAttrs> {
        self.claims
            .get(prefix)
            .and_then(|c| c.first())
            .map(|(_, attrs)| attrs)
    }

    /// Every route now: what a session that starts is given (after the pending changes were
    /// taken, so that the changes taken later apply to it).
    pub fn snapshot(&self) -> DesiredRoutes {
        self.claims
            .iter()
            .filter_map(|(p, c)| c.first().map(|(_, attrs)| (*p, attrs.clone())))
            .collect()
    }

    /// Services contributing routes.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// `key` is announced with `ips` from `pool` (replacing what it had); returns whether
    /// the routes changed, and the advertisements that cannot be sent.
    pub fn set(&mut self, key: &str, ips: &[IpAddr], pool: &Pool) -> (bool, Vec<AdvertiseError>) {
        let mut errors = Vec::new();
        let new = service_routes(key, ips, pool, &mut errors);
        let old = self.services.get_key_value(key);
        if old.is_some_and(|(_, old)| self.claims_equal(key, old, &new)) {
            return (false, errors);
        }
        let shared: Arc<str> = old.map_or_else(|| Arc::from(key), |(k, _)| Arc::clone(k));
        let touched: Vec<Prefix> = old
            .into_iter()
            .flat_map(|(_, prefixes)| prefixes.iter().copied())
            .chain(new.iter().map(|(p, _)| *p))
            .collect();
        let before = self.snapshot_of(&touched);
        self.unclaim(key);
        for (prefix, attrs) in &new {
            let claims = self.claims.entry(*prefix).or_default();
            let at = claims.partition_point(|(k, _)| &**k < key);
            // Room for exactly one more: `insert` would grow an empty vector to four.
            claims.reserve_exact(1);
            claims.insert(at, (Arc::clone(&shared), attrs.clone()));
        }
        self.services
            .insert(shared, new.into_iter().map(|(p, _)| p).collect());
        (self.settle(before), errors)
    }

    /// `key` is no longer announced; returns whether the routes changed.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(old) = self.services.get(key) else {
            return false;
        };
        let touched: Vec<Prefix> = old.to_vec();
        let before = self.snapshot_of(&touched);
        self.unclaim(key);
        self.services.remove(key);
        self.settle(before)
    }

    /// Forgets every service (the config changed: the caller sets them again); the next
    /// [`RouteTable::take_changes`] reports only what differs once they are set again.
    /// Returns whether there were routes.
    pub fn clear(&mut self) -> bool {
        let had = !self.claims.is_empty();
        for (prefix, claims) in self.claims.drain() {
            if self.touched.insert(prefix)
                && let Some((_, route)) = claims.into_iter().next()
            {
                self.was.insert(prefix, route);
            }
        }
        self.services.clear();
        had
    }

    /// Whether some change waits for [`RouteTable::take_changes`].
    pub fn has_changes(&self) -> bool {
        !self.touched.is_empty()
    }

    /// The routes that differ from the last time this was called (each prefix once, in
    /// prefix order): what the sessions are handed.
    pub fn take_changes(&mut self) -> Vec<RouteChange> {
        let touched = std::mem::take(&mut self.touched);
        let mut was = std::mem::take(&mut self.was);
        let mut changes: Vec<RouteChange> = touched
            .into_iter()
            .filter_map(|prefix| {
                let now = self.route(&prefix);
                (now != was.remove(&prefix).as_ref()).then(|| RouteChange {
                    prefix,
                    route: now.cloned(),
                })
            })
            .collect();
        changes.sort_unstable_by_key(|c| c.prefix);
        changes
    }

    /// The current routes of `prefixes`, to compare with after a change; each is also
    /// remembered as touched, with its route at the last hand-off.
    fn snapshot_of(&mut self, prefixes: &[Prefix]) -> Vec<(Prefix, Option<RouteAttrs>)> {
        let out: Vec<(Prefix, Option<RouteAttrs>)> = prefixes
            .iter()
            .map(|p| (*p, self.route(p).cloned()))
            .collect();
        for (prefix, route) in &out {
            if self.touched.insert(*prefix)
                && let Some(route) = route
            {
                self.was.insert(*prefix, route.clone());
            }
        }
        out
    }

    /// Whether `key` already claims exactly `new`, in the same order.
    fn claims_equal(&self, key: &str, old: &[Prefix], new: &[(Prefix, RouteAttrs)]) -> bool {
        old.len() == new.len()
            && old.iter().zip(new).all(|(o, (p, attrs))| {
                o == p
                    && self
                        .claims
                        .get(p)
                        .and_then(|c| c.iter().find(|(k, _)| &**k == key))
                        .is_some_and(|(_, a)| a == attrs)
            })
    }

    /// Drops `key`'s claims (its entry in `services` is left to the caller).
    fn unclaim(&mut self, key: &str) {
        for prefix in self.services.get(key).into_iter().flatten() {
            if let Some(claims) = self.claims.get_mut(prefix) {
                claims.retain(|(k, _)| &**k != key);
            }
        }
    }

    /// Drops the prefixes no service claims any more; returns whether any touched prefix's
    /// route differs from `before`.
    fn settle(&mut self, before: Vec<(Prefix, Option<RouteAttrs>)>) -> bool {
        let mut changed = false;
        for (prefix, was) in before {
            if self.claims.get(&prefix).is_some_and(Vec::is_empty) {
                self.claims.remove(&prefix);
            }
            changed |= self.route(&prefix) != was.as_ref();
        }
        changed
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
