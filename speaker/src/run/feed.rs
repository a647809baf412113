//! The watches' side of the loop: each watch event becomes an index operation, and the
//! handlers return what the index says changed.
//!
//! kube-runtime's watcher delivers live changes as `Apply`/`Delete`, and after a watch error
//! (`410 Expired` and the like) lists again: `Init`, one `InitApply` per object that exists
//! now, `InitDone`. Nothing is sent for objects deleted meanwhile; the index learns it at
//! `InitDone` (its commit), and the loop withdraws what they announced. Until then the old
//! view keeps serving, as kube-runtime's own reflector store does.

use common::config::ReloadOutcome;
use common::speaker::Changed;
use common::speaker::index::EndpointsObject;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Service};
use kube::runtime::watcher::{self, Event};
use kube_shell::WatchHealth;
use kube_shell::watch::feed;

use super::Speaker;
use crate::k8s;

impl Speaker {
    /// The ConfigMap: reloaded when its text changed (or it appeared or went away), and
    /// again on any update while the config in force is stale, so that touching the
    /// ConfigMap retries a refused one. Every service is re-decided only when the new
    /// config loads.
    pub(super) fn on_config(&mut self, ev: Result<Event<ConfigMap>, watcher::Error>) -> Changed {
        let retry = matches!(ev, Ok(Event::Apply(_))) && self.config.is_stale();
        let listed = matches!(ev, Ok(Event::InitDone));
        let changed = feed(
            &mut self.index.config,
            ev,
            |cm| Some(k8s::config_text(cm)),
            &mut self.watch_health.config,
        );
        if self.source.is_crd() {
            // CRD mode: the ConfigMap only matters beside the objects (docs/crd.md#crd-mode).
            return self.configmap_beside_objects(listed);
        }
        if !changed.config && !retry {
            return Changed::default();
        }
        self.reload_config()
    }

    fn reload_config(&mut self) -> Changed {
        let announced = self.announced_ips();
        let outcome = self.config.apply(self.index.config.text(), |cfg| {
            strands_none(&announced, cfg)
        });
        let changed = match outcome {
            ReloadOutcome::Loaded(_) => self.config_loaded(),
            ReloadOutcome::Invalid(e) => {
                tracing::error!(event = "configStale", error = %e, "config (re)load failed, config marked stale");
                Changed::default()
            }
            ReloadOutcome::Rejected(e) => {
                tracing::error!(event = "configStale", error = %e, "new configuration rejected");
                Changed::default()
            }
            ReloadOutcome::Missing => config_missing(),
        };
        self.config_metrics();
        changed
    }

    /// A new config is in force: every service is decided again.
    pub(super) fn config_loaded(&mut self) -> Changed {
        tracing::info!(event = "configLoaded", "config (re)loaded");
        self.sync_peers();
        self.rebuild_routes();
        Changed::everything()
    }

    pub(super) fn config_metrics(&self) {
        self.metrics
            .k8s
            .config_loaded_bool
            .set(i64::from(self.config.is_loaded()));
        self.metrics
            .k8s
            .config_stale_bool
            .set(i64::from(self.config.is_stale()));
    }

    pub(super) fn on_service(&mut self, ev: Result<Event<Service>, watcher::Error>) -> Changed {
        feed(
            &mut self.index.services,
            ev,
            |s| Some(k8s::service(s)),
            &mut self.watch_health.services,
        )
    }

    /// EndpointSlices, or core Endpoints with `--disable-epslices`. Under the service-name
    /// key the services sharing an IP elect among each other's endpoint nodes, so they are
    /// re-decided with the one whose endpoints changed.
    pub(super) fn on_endpoints<K>(
        &mut self,
        ev: Result<Event<K>, watcher::Error>,
        view: impl Fn(&K) -> Option<EndpointsObject>,
    ) -> Changed {
        let changed = feed(
            &mut self.index.endpoints,
            ev,
            view,
            &mut self.watch_health.endpoints,
        );
        if self.settings.election.key.candidates_need_endpoints() {
            self.index.with_sharers(changed)
        } else {
            changed
        }
    }

    /// Nodes: a change of this node's labels re-chooses the BGP peers (their node
    /// selectors).
    pub(super) fn on_node(&mut self, ev: Result<Event<Node>, watcher::Error>) -> Changed {
        let changed = feed(
            &mut self.index.nodes,
            ev,
            |n| Some(k8s::node(n)),
            &mut self.watch_health.nodes,
        );
        if changed.own_labels {
            self.sync_peers();
        }
        changed
    }
}

/// A config that would strand an announced service is refused.
pub(super) fn strands_none(
    announced: &[(String, Vec<std::net::IpAddr>)],
    cfg: &common::config::Config,
) -> Result<(), String> {
    match announced
        .iter()
        .find(|(_, ips)| cfg.pool_containing_all(ips).is_none())
    {
        Some((key, _)) => Err(format!(
            "service {key} has no configuration under new config"
        )),
        None => Ok(()),
    }
}

pub(super) fn config_missing() -> Changed {
    tracing::error!(
        event = "configMissing",
        "configuration is missing, MetalLB will not function"
    );
    Changed::default()
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;

/// Each watch's health, for one log line per outage (not one per retry).
pub(super) struct Healths {
    config: WatchHealth,
    services: WatchHealth,
    endpoints: WatchHealth,
    nodes: WatchHealth,
}

impl Healths {
    pub(super) fn new(forbidden: &kube_shell::Forbidden) -> Self {
        let f = || forbidden.clone();
        Self {
            config: WatchHealth::new("watchConfigMap").reporting("configmaps", f()),
            services: WatchHealth::new("watchServices").reporting("services", f()),
            // Which endpoints API is watched is decided once; a 403 there is either.
            endpoints: WatchHealth::new("watchEndpoints").reporting("endpoints", f()),
            nodes: WatchHealth::new("watchNodes").reporting("nodes", f()),
        }
    }
}
