//! The BGP routes a node advertises, kept per announced service so that a service's change
//! costs the work of its own prefixes, not a recomputation over every service (issue #21:
//! recomputing per event made a 5 000-service start-up quadratic).
//!
//! The result is always the one [`desired_routes`](super::desired_routes) computes from the
//! same announcements: each service contributes its prefixes (`service_routes`), and where
//! several services contribute one prefix, the smallest service key's attributes win.

use std::collections::HashMap;
use std::net::IpAddr;

use super::advertise::{AdvertiseError, service_routes};
use crate::bgp::{DesiredRoutes, Prefix, RouteAttrs};
use crate::config::Pool;

/// The desired routes, maintained service by service.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// Each service's prefixes (the attributes it wants are in `claims`).
    services: HashMap<String, Vec<Prefix>>,
    /// Per prefix, every contributing service's attributes, sorted by key (the first one
    /// wins). Almost always one: a vector costs one small allocation per prefix, where a
    /// map's node would cost hundreds of bytes (issue #21's peak RSS).
    claims: HashMap<Prefix, Vec<(String, RouteAttrs)>>,
    /// The union, as the sessions take it.
    routes: DesiredRoutes,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The routes to advertise now.
    pub fn routes(&self) -> &DesiredRoutes {
        &self.routes
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
        let old = self.services.get(key);
        if old.is_some_and(|old| self.claims_equal(key, old, &new)) {
            return (false, errors);
        }
        let touched: Vec<Prefix> = old
            .into_iter()
            .flatten()
            .copied()
            .chain(new.iter().map(|(p, _)| *p))
            .collect();
        let before = self.snapshot(&touched);
        self.unclaim(key);
        for (prefix, attrs) in &new {
            let claims = self.claims.entry(*prefix).or_default();
            let at = claims.partition_point(|(k, _)| k.as_str() < key);
            claims.insert(at, (key.to_owned(), attrs.clone()));
        }
        self.services
            .insert(key.to_owned(), new.into_iter().map(|(p, _)| p).collect());
        (self.settle(before), errors)
    }

    /// `key` is no longer announced; returns whether the routes changed.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(old) = self.services.get(key) else {
            return false;
        };
        let touched: Vec<Prefix> = old.clone();
        let before = self.snapshot(&touched);
        self.unclaim(key);
        self.services.remove(key);
        self.settle(before)
    }

    /// Forgets every service (the config changed: the caller sets them again).
    pub fn clear(&mut self) -> bool {
        let had = !self.routes.is_empty();
        *self = Self::default();
        had
    }

    /// The current routes of `prefixes`, to compare with after a change.
    fn snapshot(&self, prefixes: &[Prefix]) -> Vec<(Prefix, Option<RouteAttrs>)> {
        prefixes
            .iter()
            .map(|p| (*p, self.routes.get(p).cloned()))
            .collect()
    }

    /// Whether `key` already claims exactly `new`, in the same order.
    fn claims_equal(&self, key: &str, old: &[Prefix], new: &[(Prefix, RouteAttrs)]) -> bool {
        old.len() == new.len()
            && old.iter().zip(new).all(|(o, (p, attrs))| {
                o == p
                    && self
                        .claims
                        .get(p)
                        .and_then(|c| c.iter().find(|(k, _)| k == key))
                        .is_some_and(|(_, a)| a == attrs)
            })
    }

    /// Drops `key`'s claims (its entry in `services` is left to the caller).
    fn unclaim(&mut self, key: &str) {
        for prefix in self.services.get(key).into_iter().flatten() {
            if let Some(claims) = self.claims.get_mut(prefix) {
                claims.retain(|(k, _)| k != key);
            }
        }
    }

    /// Makes each touched prefix's route the one its first claim wants; returns whether any
    /// differs from `before`.
    fn settle(&mut self, before: Vec<(Prefix, Option<RouteAttrs>)>) -> bool {
        let mut changed = false;
        for (prefix, was) in before {
            let winner = self
                .claims
                .get(&prefix)
                .and_then(|c| c.first())
                .map(|(_, attrs)| attrs)
                .cloned();
            match &winner {
                Some(attrs) => {
                    self.routes.insert(prefix, attrs.clone());
                }
                None => {
                    self.claims.remove(&prefix);
                    self.routes.remove(&prefix);
                }
            }
            changed |= winner != was;
        }
        changed
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
