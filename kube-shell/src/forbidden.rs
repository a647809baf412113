//! Calls the ServiceAccount's RBAC does not grant (403 Forbidden).
//!
//! Our images run under the RBAC of whichever MetalLB release a cluster was installed from,
//! and v0.8.3's grants the least. A forbidden call is never an emergency and never a reason to
//! exit: the caller falls back (or goes without), and this says so once per (verb, resource),
//! naming the rule that is missing, and counts every occurrence in
//! `metallb_k8s_client_forbidden_total{verb, resource}` so an alert can still see it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use prometheus::{IntCounterVec, Opts, Registry};

/// One denied call, as the API server's 403 describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Denied {
    pub verb: String,
    /// `services/status`, `endpointslices.discovery.k8s.io`, …
    pub resource: String,
}

impl Denied {
    /// The 403 in `err`, if it is one. `verb` and `resource` are the caller's: the server's
    /// message says them too, but in prose.
    pub fn of(err: &kube::Error, verb: &str, resource: &str) -> Option<Self> {
        match err {
            kube::Error::Api(s) if s.code == 403 => Some(Self {
                verb: verb.to_owned(),
                resource: resource.to_owned(),
            }),
            _ => None,
        }
    }
}

/// Reports denied calls: a warning the first time per (verb, resource), a counter always.
#[derive(Clone)]
pub struct Forbidden {
    seen: Arc<Mutex<HashSet<Denied>>>,
    counter: Option<IntCounterVec>,
}

impl Forbidden {
    /// With the counter registered in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let counter = IntCounterVec::new(
            Opts::new(
                "metallb_k8s_client_forbidden_total",
                "Kubernetes API calls refused by RBAC (403), by verb and resource.",
            ),
            &["verb", "resource"],
        )?;
        registry.register(Box::new(counter.clone()))?;
        Ok(Self {
            seen: Arc::default(),
            counter: Some(counter),
        })
    }

    /// Without a metric (tests, offline tools).
    pub fn unregistered() -> Self {
        Self {
            seen: Arc::default(),
            counter: None,
        }
    }

    /// Records one denied call; returns whether it was the first of its kind (and logged).
    /// `fallback` says what happens instead, for the log line.
    pub fn report(&self, denied: &Denied, fallback: &str) -> bool {
        if let Some(c) = &self.counter {
            c.with_label_values(&[&denied.verb, &denied.resource]).inc();
        }
        let first = self
            .seen
            .lock()
            .map(|mut seen| seen.insert(denied.clone()))
            .unwrap_or(false);
        if first {
            tracing::warn!(
                op = "rbac",
                verb = %denied.verb,
                resource = %denied.resource,
                "the ServiceAccount may not {} {}: that rule is missing from the installed RBAC; {} (logged once, counted in metallb_k8s_client_forbidden_total)",
                denied.verb,
                denied.resource,
                fallback
            );
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden_error() -> kube::Error {
        kube::Error::Api(
            serde_json::from_value(serde_json::json!({
                "status": "Failure", "reason": "Forbidden", "code": 403,
                "message": "services \"web\" is forbidden: User \"system:serviceaccount:metallb-system:controller\" cannot update resource \"services/status\" in API group \"\" in the namespace \"shop\""
            }))
            .expect("status"),
        )
    }

    #[test]
    fn only_403_is_a_denial() {
        let d = Denied::of(&forbidden_error(), "update", "services/status").expect("403");
        assert_eq!(d.resource, "services/status");
        let conflict = kube::Error::Api(
            serde_json::from_value(serde_json::json!({"status": "Failure", "reason": "Conflict", "code": 409, "message": "m"}))
                .expect("status"),
        );
        assert_eq!(Denied::of(&conflict, "update", "services/status"), None);
    }

    #[test]
    fn logged_once_per_verb_and_resource_counted_always() {
        let registry = Registry::new();
        let f = Forbidden::new(&registry).expect("register");
        let d = Denied::of(&forbidden_error(), "update", "services/status").expect("403");
        assert!(f.report(&d, "retrying with back-off"));
        assert!(!f.report(&d, "retrying with back-off"));
        let other = Denied {
            verb: "list".into(),
            resource: "endpointslices.discovery.k8s.io".into(),
        };
        assert!(f.report(&other, "reading Endpoints instead"));
        let family = registry
            .gather()
            .into_iter()
            .find(|m| m.name() == "metallb_k8s_client_forbidden_total")
            .expect("counter");
        let total: f64 = family
            .get_metric()
            .iter()
            .map(|m| m.get_counter().get_value())
            .sum();
        assert_eq!(total, 3.0);
    }
}
