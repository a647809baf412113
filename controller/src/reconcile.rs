//! The controller's decision loop, without I/O: watch events in, status writes and Events out.
//!
//! It reproduces upstream's single-worker queue semantics (docs/allocation.md#the-loop,
//! docs/config.md#reloading) with the restart rule made explicit: until both caches (Services
//! and the ConfigMap) have been listed, nothing is decided; then services that already hold IPs
//! are processed first (rebuilding the allocator from status alone) and only then services that
//! need a new IP. After that, each change is processed as it arrives. The allocation rules
//! themselves are `common::allocator`'s, through [`Pools`]. `controller plan` drives this same
//! type over a snapshot, so the plan is what the live loop would do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::config::{Config, Loaded, Mode, ReloadOutcome};
use common::crd::{ObjectRef, SourceError};

use crate::alloc::Pools;
use crate::k8s::service::SvcView;
use kube_shell::k8s_event::EventType;

/// One service's outcome from the allocation rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The status IPs to write (`Some(vec![])` clears it); `None` leaves the status exactly
    /// as it is, entries we would not write ourselves included.
    pub status: Option<Vec<String>>,
    /// Events to post on the Service: (type, reason, message).
    pub events: Vec<(EventType, String, String)>,
    /// Retry later (e.g. a transient internal condition); `false` for a settled outcome.
    pub retry: bool,
    /// The allocator's own name for the outcome (`kept`, `assigned`, …) and the text behind
    /// it: what `controller plan` prints.
    pub outcome: common::allocator::Action,
    pub reason: String,
}

/// What the I/O shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// One service was decided (nothing to do for the live loop; `controller plan` reports it).
    Decided {
        key: String,
        outcome: common::allocator::Action,
        reason: String,
    },
    /// PUT `services/status` for this service with these ingress IPs.
    WriteStatus { svc: Box<SvcView>, ips: Vec<String> },
    /// Post a core/v1 Event about a Service.
    ServiceEvent {
        svc: Box<SvcView>,
        kind: EventType,
        reason: String,
        message: String,
    },
    /// Post a Warning Event about the ConfigMap (a rejected config).
    ConfigEvent { reason: String, message: String },
    /// Post a Warning Event about a `metallb.io` object of the namespace (CRD mode: the object
    /// a configuration was refused for).
    ObjectEvent {
        object: ObjectRef,
        uid: Option<String>,
        reason: String,
        message: String,
    },
    /// A log line with upstream's `event` key.
    Log {
        level: tracing::Level,
        event: &'static str,
        key: Option<String>,
        message: String,
    },
    /// Re-examine this key later with back-off.
    Retry { key: String },
}

/// The controller state between watch events.
pub struct Reconciler {
    alloc: Pools,
    config: Loaded,
    services: BTreeMap<String, SvcView>,
    services_listed: bool,
    config_listed: bool,
    synced: bool,
}

impl Default for Reconciler {
    fn default() -> Self {
        Self::new()
    }
}

impl Reconciler {
    pub fn new() -> Self {
        Self {
            alloc: Pools::default(),
            config: Loaded::new(Mode::Controller),
            services: BTreeMap::new(),
            services_listed: false,
            config_listed: false,
            synced: false,
        }
    }

    pub fn allocation(&self) -> &Pools {
        &self.alloc
    }
    pub fn config(&self) -> &Loaded {
        &self.config
    }

    /// The ConfigMap's `config` text changed (`None`: the ConfigMap was deleted).
    pub fn config_changed(&mut self, text: Option<&str>) -> Vec<Action> {
        let alloc = &mut self.alloc;
        let outcome = self
            .config
            .apply(text, |cfg| alloc.set_config(&Arc::new(cfg.clone())));
        match outcome {
            ReloadOutcome::Invalid(e) => rejected(&e).into(),
            ReloadOutcome::Rejected(e) => rejected(&e).into(),
            ReloadOutcome::Loaded(_) => self.loaded(),
            ReloadOutcome::Missing => vec![missing()],
        }
    }

    /// CRD mode: a new candidate from the `metallb.io` objects (docs/crd.md#crd-mode). A
    /// refusal is logged and posted as an Event on the object it is about (on the ConfigMap
    /// when both sources are set); a config the allocator refuses is logged.
    pub fn config_from_objects(
        &mut self,
        candidate: Result<Option<Config>, SourceError>,
        uid: impl Fn(&ObjectRef) -> Option<String>,
    ) -> Vec<Action> {
        let alloc = &mut self.alloc;
        let outcome = self
            .config
            .apply_source(candidate, |cfg| alloc.set_config(&Arc::new(cfg.clone())));
        match outcome {
            ReloadOutcome::Invalid(SourceError::Invalid(e)) => vec![
                stale(&e),
                Action::ObjectEvent {
                    uid: uid(&e.object),
                    object: e.object.clone(),
                    reason: "InvalidConfig".into(),
                    message: format!(
                        "configuration rejected, keeping the previous one: {}",
                        e.event_message()
                    ),
                },
            ],
            ReloadOutcome::Invalid(e @ SourceError::Mixed { .. }) => rejected(&e).into(),
            ReloadOutcome::Rejected(e) => vec![stale(&e)],
            ReloadOutcome::Loaded(_) => self.loaded(),
            ReloadOutcome::Missing => vec![missing()],
        }
    }

    fn loaded(&mut self) -> Vec<Action> {
        let mut out = vec![log(
            tracing::Level::INFO,
            "configLoaded",
            None,
            "config (re)loaded",
        )];
        if self.synced {
            out.extend(self.reprocess_all());
        }
        out
    }

    /// The ConfigMap list completed (it may not exist at all).
    pub fn config_listed(&mut self) -> Vec<Action> {
        self.config_listed = true;
        self.maybe_sync()
    }

    /// The Service list completed: `present` are the keys that exist now.
    pub fn services_listed(&mut self, present: &BTreeSet<String>) -> Vec<Action> {
        let gone: Vec<String> = self
            .services
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for key in gone {
            out.extend(self.service_deleted(&key));
        }
        self.services_listed = true;
        out.extend(self.maybe_sync());
        out
    }

    /// A Service was added or changed.
    pub fn service_changed(&mut self, svc: SvcView) -> Vec<Action> {
        let key = svc.key();
        self.services.insert(key.clone(), svc);
        if !self.synced {
            return Vec::new();
        }
        self.process(&key)
    }

    /// A Service was deleted: release its IPs and give waiting services another chance.
    pub fn service_deleted(&mut self, key: &str) -> Vec<Action> {
        let had = self
            .services
            .remove(key)
            .is_some_and(|s| !s.status_ips().is_empty());
        self.alloc.forget(key);
        let mut out = Vec::new();
        if had {
            out.push(log(
                tracing::Level::INFO,
                "serviceDeleted",
                Some(key),
                "service deleted",
            ));
        }
        if self.synced {
            out.extend(self.reprocess_pending());
        }
        out
    }

    /// A status PUT succeeded: later writes start from the object as now stored (its new
    /// resourceVersion included).
    pub fn status_written(&mut self, key: &str, stored: Option<crate::k8s::service::Stored>) {
        if let Some(s) = self.services.get_mut(key) {
            s.stored = stored;
        }
    }

    /// A status PUT failed (conflict, network): forget what we assumed was written so the
    /// retry writes again.
    pub fn status_write_failed(&mut self, key: &str) -> Vec<Action> {
        if let Some(s) = self.services.get_mut(key) {
            s.ingress = vec![crate::k8s::service::Ingress {
                ip: None,
                hostname: None,
                extra: true,
            }];
        }
        vec![Action::Retry {
            key: key.to_owned(),
        }]
    }

    /// Re-examine one key (a retry).
    pub fn retry(&mut self, key: &str) -> Vec<Action> {
        if self.synced && self.services.contains_key(key) {
            self.process(key)
        } else {
            Vec::new()
        }
    }

    fn maybe_sync(&mut self) -> Vec<Action> {
        if self.synced || !self.services_listed || !self.config_listed {
            return Vec::new();
        }
        let mut out = vec![log(
            tracing::Level::INFO,
            "stateSynced",
            None,
            "controller synced, can allocate IPs now",
        )];
        // Pass 1: services that already hold IPs rebuild the allocator, before any new
        // address is handed out (docs/allocation.md#restart-replay).
        let holders: Vec<String> = self
            .services
            .iter()
            .filter(|(_, s)| !s.status_ips().is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for key in &holders {
            out.extend(self.process_with(key, false));
        }
        self.synced = true;
        out.extend(self.reprocess_all());
        out
    }

    fn reprocess_all(&mut self) -> Vec<Action> {
        let keys: Vec<String> = self.services.keys().cloned().collect();
        keys.iter().flat_map(|k| self.process(k)).collect()
    }

    /// After a release, only services without an address can gain anything.
    fn reprocess_pending(&mut self) -> Vec<Action> {
        let keys: Vec<String> = self
            .services
            .iter()
            .filter(|(_, s)| s.is_load_balancer && s.status_ips().is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter().flat_map(|k| self.process(k)).collect()
    }

    fn process(&mut self, key: &str) -> Vec<Action> {
        self.process_with(key, true)
    }

    fn process_with(&mut self, key: &str, synced: bool) -> Vec<Action> {
        let Some(svc) = self.services.get(key) else {
            return Vec::new();
        };
        if self.config.current().is_none() {
            return vec![log(
                tracing::Level::DEBUG,
                "noConfig",
                Some(key),
                "not processing, still waiting for config",
            )];
        }
        let d = self.alloc.converge(svc, synced);
        let mut out = vec![Action::Decided {
            key: key.to_owned(),
            outcome: d.outcome,
            reason: d.reason.clone(),
        }];
        for (kind, reason, message) in d.events {
            out.push(Action::ServiceEvent {
                svc: Box::new(svc.clone()),
                kind,
                reason,
                message,
            });
        }
        if let Some(ips) = d.status.filter(|ips| svc.status_differs(ips)) {
            out.push(Action::WriteStatus {
                svc: Box::new(svc.clone()),
                ips: ips.clone(),
            });
            // Remember what we wrote so a re-examination before the watch echoes it back does
            // not write again.
            if let Some(s) = self.services.get_mut(key) {
                s.ingress = ips
                    .iter()
                    .map(|ip| crate::k8s::service::Ingress {
                        ip: Some(ip.clone()),
                        hostname: None,
                        extra: false,
                    })
                    .collect();
            }
        }
        if d.retry {
            out.push(Action::Retry {
                key: key.to_owned(),
            });
        }
        out
    }
}

/// A refused config, logged as upstream does.
fn stale(e: &dyn std::fmt::Display) -> Action {
    log(
        tracing::Level::ERROR,
        "configStale",
        None,
        &format!("config (re)load failed, config marked stale: {e}"),
    )
}

fn missing() -> Action {
    log(
        tracing::Level::ERROR,
        "configMissing",
        None,
        "configuration is missing, MetalLB will not function",
    )
}

/// A refused config: logged as upstream does, and a Warning Event on the ConfigMap so
/// `kubectl describe cm config` says why the last good config is still in force.
fn rejected(e: &dyn std::fmt::Display) -> [Action; 2] {
    [
        stale(e),
        Action::ConfigEvent {
            reason: "InvalidConfig".into(),
            message: format!("configuration rejected, keeping the previous one: {e}"),
        },
    ]
}

fn log(level: tracing::Level, event: &'static str, key: Option<&str>, message: &str) -> Action {
    Action::Log {
        level,
        event,
        key: key.map(str::to_owned),
        message: message.to_owned(),
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
