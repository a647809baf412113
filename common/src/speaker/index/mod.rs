//! The speaker's view of the cluster, as plain values: services, their endpoints, nodes and
//! the ConfigMap text, each kept the way a watch delivers it.
//!
//! A watch delivers objects two ways. Live changes come one at a time (`apply`, `delete`).
//! After a watch error such as `410 Expired` the watch lists again instead: it announces the
//! re-list (`begin`), delivers every object that exists now (`listed`), then says the list
//! is complete (`commit`). Objects missing from that list were deleted while the watch was
//! down, and no delete is ever delivered for them: only `commit` can tell. So every kind
//! keeps the re-listed objects aside until `commit`, then swaps them in whole, and what the
//! re-list did not mention is gone. Until then the old view keeps serving, as a reflector
//! store does (a half-received list would otherwise look like mass deletion).
//!
//! Every operation that can change the view returns a [`Changed`]: the services whose
//! decision may differ, or "everything" when the change is one every decision depends on
//! (excluded nodes, this node's labels). The loop re-decides exactly those. An operation
//! that leaves the view as it was reports nothing, so a re-list identical to the cache
//! causes no work at all.
//!
//! The shell turns Kubernetes objects into the plain values taken here; nothing in this
//! module knows about the API types.

mod config;
mod endpoints;
mod nodes;
mod services;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

use crate::l2::election::ElectionKey;
use crate::speaker::{IpSharer, Readiness};

pub use config::ConfigText;
pub use endpoints::{EndpointsObject, ServiceEndpoints};
pub use nodes::{NodeObject, Nodes};
pub use services::{ServiceEntry, ServiceObject, Services};

/// What an index operation changed, i.e. what the loop must act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// Services whose decision may differ (created, changed or deleted).
    pub services: BTreeSet<String>,
    /// Something every decision depends on changed: every service is re-decided.
    pub all: bool,
    /// This node's labels changed: BGP peers are chosen by them (their node selectors).
    pub own_labels: bool,
    /// The ConfigMap's `config` text changed, or the ConfigMap appeared or went away. The
    /// loop reloads it; only a reload that succeeds makes every decision change.
    pub config: bool,
}

impl Changed {
    /// Every service must be re-decided.
    pub fn everything() -> Self {
        Changed {
            all: true,
            ..Changed::default()
        }
    }

    /// One service must be re-decided.
    pub fn service(key: impl Into<String>) -> Self {
        Changed {
            services: BTreeSet::from([key.into()]),
            ..Changed::default()
        }
    }

    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self == &Changed::default()
    }

    /// Adds what `other` changed.
    pub fn merge(&mut self, other: Changed) {
        self.services.extend(other.services);
        self.all |= other.all;
        self.own_labels |= other.own_labels;
        self.config |= other.config;
    }
}

pub use crate::relist::Relist;

/// The whole view, one field per watched kind.
#[derive(Debug)]
pub struct Index {
    pub services: Services,
    /// From EndpointSlices, or from core Endpoints with `--disable-epslices`.
    pub endpoints: ServiceEndpoints,
    pub nodes: Nodes,
    pub config: ConfigText,
}

impl Index {
    /// An empty view for the speaker running on node `own`.
    pub fn new(own: impl Into<String>) -> Self {
        Index {
            services: Services::default(),
            endpoints: ServiceEndpoints::default(),
            nodes: Nodes::new(own),
            config: ConfigText::default(),
        }
    }

    /// Adds to `changed` the services sharing a first IP with one it names. Under the
    /// service-name key a shared IP is elected among the nodes hosting a ready endpoint of
    /// any of its services, so an endpoints change of one re-decides them all. Costs a
    /// lookup per changed service.
    pub fn with_sharers(&self, mut changed: Changed) -> Changed {
        let sharers: Vec<String> = changed
            .services
            .iter()
            .flat_map(|k| self.services.sharing(k))
            .map(str::to_owned)
            .collect();
        changed.services.extend(sharers);
        changed
    }

    /// What a decision about `key` needs to know of the services sharing its first IP under
    /// `election`: nothing under [`ElectionKey::FirstIp`] (the IP alone is the key), else each
    /// one's name and the nodes hosting its ready endpoints.
    pub fn sharers(&self, key: &str, election: ElectionKey) -> Vec<IpSharer> {
        if election == ElectionKey::FirstIp {
            return Vec::new();
        }
        self.services
            .sharing(key)
            .map(|k| IpSharer {
                key: k.to_owned(),
                ready_nodes: self
                    .endpoints
                    .get(k)
                    .map(|s| Readiness::of(&s.merged()).ready_nodes)
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// Values by key, with the re-list under way kept aside until its commit. The building
/// block of the keyed kinds.
#[derive(Debug)]
struct Keyed<V> {
    current: HashMap<String, V>,
    pending: Option<HashMap<String, V>>,
}

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed {
            current: HashMap::new(),
            pending: None,
        }
    }
}

impl<V: PartialEq> Keyed<V> {
    fn begin(&mut self) {
        self.pending = Some(HashMap::new());
    }

    /// The map the re-list under way fills (one is started if `begin` was missed, so that
    /// listed objects are never applied to the live view).
    fn pending_mut(&mut self) -> &mut HashMap<String, V> {
        self.pending.get_or_insert_with(HashMap::new)
    }

    /// Swaps the re-list in; returns the keys whose value differs (added, changed, removed).
    fn commit(&mut self) -> BTreeSet<String> {
        let Some(listed) = self.pending.take() else {
            return BTreeSet::new();
        };
        let old = std::mem::replace(&mut self.current, listed);
        let mut changed: BTreeSet<String> = old
            .iter()
            .filter(|(k, v)| self.current.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect();
        changed.extend(
            self.current
                .keys()
                .filter(|k| !old.contains_key(*k))
                .cloned(),
        );
        changed
    }
}
