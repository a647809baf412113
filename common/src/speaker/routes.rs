//! The BGP routes a node advertises, kept per announced service so that a service's change
//! costs the work of its own prefixes, not a recomputation over every service (issue #21:
//! recomputing per event made a 5 000-service start-up quadratic).
//!
//! The result is always the one [`desired_routes`](super::desired_routes) computes from the
//! same announcements: each service contributes its prefixes (`service_routes`), and where
//! several services contribute one prefix, the smallest service key's attributes win.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::advertise::{AdvertiseError, service_routes};
use crate::bgp::{DesiredRoutes, Prefix, RouteAttrs};
use crate::config::Pool;

/// The desired routes, maintained service by service.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// Each service's prefixes with the attributes it wants for them.
    services: HashMap<String, Vec<(Prefix, RouteAttrs)>>,
    /// Per prefix, every contributing service's attributes, by key (the first one wins).
    claims: BTreeMap<Prefix, BTreeMap<String, RouteAttrs>>,
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
        if old == Some(&new) {
            return (false, errors);
        }
        let touched: Vec<Prefix> = old
            .into_iter()
            .flatten()
            .chain(&new)
            .map(|(p, _)| *p)
            .collect();
        let before = self.snapshot(&touched);
        self.unclaim(key);
        for (prefix, attrs) in &new {
            let claims = self.claims.entry(*prefix).or_default();
            claims.insert(key.to_owned(), attrs.clone());
        }
        self.services.insert(key.to_owned(), new);
        (self.settle(before), errors)
    }

    /// `key` is no longer announced; returns whether the routes changed.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(old) = self.services.get(key) else {
            return false;
        };
        let touched: Vec<Prefix> = old.iter().map(|(p, _)| *p).collect();
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

    /// Drops `key`'s claims (its entry in `services` is left to the caller).
    fn unclaim(&mut self, key: &str) {
        for (prefix, _) in self.services.get(key).into_iter().flatten() {
            if let Some(claims) = self.claims.get_mut(prefix) {
                claims.remove(key);
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
                .and_then(|c| c.values().next())
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
