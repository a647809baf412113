//! The allocator behind the reconcile loop: `common::allocator` plus the translation from
//! the Service view and to log lines.

use std::sync::Arc;

use common::allocator::{
    Allocator, Convergence, EventType as AllocEventType, Level, Port, ServiceSpec, Status, Usage,
    converge, gauge_value,
};
use common::config::Config;
use common::gotext::ip_string;
use kube_shell::k8s_event::EventType;

use crate::k8s::service::SvcView;
use crate::reconcile::Decision;

/// The allocation inputs of a Service view.
pub fn spec_of(svc: &SvcView) -> ServiceSpec {
    ServiceSpec {
        is_load_balancer: svc.is_load_balancer,
        cluster_ips: svc.cluster_ips.clone(),
        load_balancer_ip: svc.load_balancer_ip.clone().unwrap_or_default(),
        load_balancer_ips: svc.ips_annotation.clone().unwrap_or_default(),
        address_pool: svc.pool_annotation.clone().unwrap_or_default(),
        usage: Usage {
            ports: svc.ports.iter().map(|(p, n)| Port::new(p, *n)).collect(),
            sharing_key: svc.sharing_key.clone(),
            backend_key: svc.backend_key(),
        },
    }
}

/// The allocation rules: `common::allocator` behind the reconciler.
#[derive(Default)]
pub struct Pools {
    alloc: Allocator,
}

impl Pools {
    /// Installs a new configuration, or refuses it (it would orphan allocated IPs) with
    /// upstream's message.
    pub fn set_config(&mut self, cfg: &Arc<Config>) -> Result<(), String> {
        self.alloc
            .set_pools(&cfg.pools)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Converges one service. `synced` is false during the initial pass over services that
    /// already hold IPs: no new address may be handed out then.
    pub fn converge(&mut self, svc: &SvcView, synced: bool) -> Decision {
        let key = svc.key();
        let c = converge(
            &mut self.alloc,
            &key,
            &spec_of(svc),
            &svc.status_ips(),
            synced,
        );
        log_notes(&key, &c);
        Decision {
            status: match c.status {
                Status::Untouched => None,
                Status::Set(ips) => Some(ips.into_iter().map(ip_string).collect()),
            },
            events: c
                .events
                .into_iter()
                .map(|e| {
                    let kind = match e.kind {
                        AllocEventType::Normal => EventType::Normal,
                        AllocEventType::Warning => EventType::Warning,
                    };
                    (kind, e.reason.to_owned(), e.message)
                })
                .collect(),
            retry: c.retry,
            outcome: c.action,
            reason: c.reason,
        }
    }

    /// The service is gone: release what it held.
    pub fn forget(&mut self, key: &str) {
        self.alloc.unassign(key);
    }

    /// The pool `key`'s addresses are in, if it holds any.
    pub fn pool_of(&self, key: &str) -> Option<&str> {
        self.alloc.pool_of(key)
    }

    /// (pool, capacity, in use) for the allocator gauges.
    pub fn pool_usage(&self) -> Vec<(String, f64, f64)> {
        self.alloc
            .pool_stats()
            .into_iter()
            .map(|s| (s.name, gauge_value(s.capacity), gauge_value(s.in_use)))
            .collect()
    }
}

/// One JSON log line per note, with upstream's keys (`event`, `reason`, `error`, `ip`…).
fn log_notes(key: &str, c: &Convergence) {
    for note in &c.notes {
        let level = match note.level() {
            Level::Error => tracing::Level::ERROR,
            Level::Info => tracing::Level::INFO,
            Level::Debug => tracing::Level::DEBUG,
        };
        let mut fields = note.fields();
        fields.push(("service", serde_json::Value::from(key)));
        kube_shell::logfmt::emit(level, concat!("alloc.rs:", line!()), fields);
    }
}
