//! The few fields of a Service the allocator needs, copied out of the watched object, plus the
//! object itself as the API server stores it, compactly, for status writes.
//!
//! Why the whole object: a `services/status` PUT takes `metadata` (labels, annotations,
//! finalizers, ownerReferences) from the request body and only `spec` from storage, so a body
//! with a stripped metadata wipes them (docs/kubernetes.md#status-writes).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;

pub const ANNOTATION_POOL: &str = "metallb.universe.tf/address-pool";
pub const ANNOTATION_SHARED: &str = "metallb.universe.tf/allow-shared-ip";
pub const ANNOTATION_IPS: &str = "metallb.universe.tf/loadBalancerIPs";

/// One `status.loadBalancer.ingress` entry, as written by anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingress {
    pub ip: Option<String>,
    pub hostname: Option<String>,
    /// Ports or other fields we never write; their presence makes our status differ.
    pub extra: bool,
}

/// A Service reduced to what allocation and status writing use.
#[derive(Debug, Clone, PartialEq)]
pub struct SvcView {
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
    pub is_load_balancer: bool,
    pub cluster_ips: Vec<String>,
    pub load_balancer_ip: Option<String>,
    pub pool_annotation: Option<String>,
    pub sharing_key: String,
    pub ips_annotation: Option<String>,
    /// `externalTrafficPolicy: Local`.
    pub local: bool,
    pub selector: BTreeMap<String, String>,
    /// (protocol, port), protocol defaulting to TCP as the API server does.
    pub ports: Vec<(String, i32)>,
    pub ingress: Vec<Ingress>,
    /// The object as the server has it, the base of a status PUT. Kept only for services we
    /// may write a status for (LoadBalancer, or holding an ingress to clear): most Services
    /// of a cluster are ClusterIP and cost nothing here.
    pub stored: Option<Stored>,
}

/// A Service as the API server stores it, kept as compact JSON (about half the size of the
/// typed object) and shared between the cache and the writes in flight. `managedFields` are
/// left out: the server keeps its own on a subresource update, whatever the body says.
#[derive(Clone, PartialEq, Eq)]
pub struct Stored(Arc<[u8]>);

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stored({} bytes)", self.0.len())
    }
}

impl Stored {
    pub fn of(svc: &Service) -> Self {
        let mut copy = svc.clone();
        copy.metadata.managed_fields = None;
        // A typed Service always serialises; an empty object would only make the PUT fail.
        Self(serde_json::to_vec(&copy).unwrap_or_default().into())
    }

    /// The stored object back.
    pub fn object(&self) -> Result<Service, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }
}

impl SvcView {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The IPs of the current status (hostname-only entries are ignored, as upstream).
    pub fn status_ips(&self) -> Vec<String> {
        self.ingress
            .iter()
            .filter_map(|i| i.ip.clone())
            .filter(|ip| !ip.is_empty())
            .collect()
    }

    /// Would writing `ips` as the status change anything?
    pub fn status_differs(&self, ips: &[String]) -> bool {
        let ours: Vec<Ingress> = ips
            .iter()
            .map(|ip| Ingress {
                ip: Some(ip.clone()),
                hostname: None,
                extra: false,
            })
            .collect();
        ours != self.ingress
    }

    /// `labels.Set(selector).String()`: `k1=v1,k2=v2` in key order; the backend key of a
    /// `Local` service (services sharing an IP under `Local` must select the same pods).
    pub fn backend_key(&self) -> String {
        if !self.local {
            return String::new();
        }
        self.selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn from_service(svc: &Service) -> Self {
        let meta = &svc.metadata;
        let annotations = meta.annotations.as_ref();
        let annotation = |k: &str| annotations.and_then(|a| a.get(k)).cloned();
        let spec = svc.spec.as_ref();
        let mut cluster_ips: Vec<String> =
            spec.and_then(|s| s.cluster_ips.clone()).unwrap_or_default();
        if cluster_ips.is_empty()
            && let Some(ip) = spec.and_then(|s| s.cluster_ip.clone())
            && !ip.is_empty()
            && ip != "None"
        {
            cluster_ips.push(ip);
        }
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .map(|list| {
                list.iter()
                    .map(|i| Ingress {
                        ip: i.ip.clone(),
                        hostname: i.hostname.clone(),
                        extra: i.ports.as_ref().is_some_and(|p| !p.is_empty())
                            || i.ip_mode.is_some(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        SvcView {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
            is_load_balancer: spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer"),
            cluster_ips,
            load_balancer_ip: spec
                .and_then(|s| s.load_balancer_ip.clone())
                .filter(|s| !s.is_empty()),
            pool_annotation: annotation(ANNOTATION_POOL),
            sharing_key: annotation(ANNOTATION_SHARED).unwrap_or_default(),
            ips_annotation: annotation(ANNOTATION_IPS),
            local: spec.and_then(|s| s.external_traffic_policy.as_deref()) == Some("Local"),
            selector: spec.and_then(|s| s.selector.clone()).unwrap_or_default(),
            ports: spec
                .and_then(|s| s.ports.as_ref())
                .map(|ports| {
                    ports
                        .iter()
                        .map(|p| {
                            (
                                p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                                p.port,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            ingress,
            stored: may_write(svc).then(|| Stored::of(svc)),
        }
    }

    /// The object a status PUT starts from, if kept (see `stored`).
    pub fn stored_object(&self) -> Option<Result<Service, serde_json::Error>> {
        self.stored.as_ref().map(Stored::object)
    }
}

/// Could the controller ever write this Service's status? A LoadBalancer gets IPs; any other
/// type only has a leftover ingress cleared.
fn may_write(svc: &Service) -> bool {
    let lb = svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .is_some_and(|i| !i.is_empty());
    lb || ingress
}

/// The body of a status PUT: `base` (the object exactly as the server stored it, at the
/// resourceVersion it was read at) with only `status.loadBalancer.ingress` replaced. Every
/// other status field (conditions, fields of newer API versions) is kept.
pub fn status_body(mut base: Service, ips: &[String]) -> Service {
    use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus};
    let ingress: Vec<LoadBalancerIngress> = ips
        .iter()
        .map(|ip| LoadBalancerIngress {
            ip: Some(ip.clone()),
            ..Default::default()
        })
        .collect();
    let status = base.status.get_or_insert_with(Default::default);
    status.load_balancer = Some(LoadBalancerStatus {
        ingress: (!ingress.is_empty()).then_some(ingress),
    });
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(json: serde_json::Value) -> SvcView {
        SvcView::from_service(&serde_json::from_value(json).expect("valid Service JSON"))
    }

    #[test]
    fn reads_what_allocation_needs() {
        let v = svc(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "prod", "uid": "u1", "resourceVersion": "42",
                "annotations": {"metallb.universe.tf/address-pool": "public", "metallb.universe.tf/allow-shared-ip": "k"}},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10", "fd00::10"],
                "externalTrafficPolicy": "Local", "selector": {"b": "2", "a": "1"},
                "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example"}]}}
        }));
        assert_eq!(v.key(), "prod/web");
        assert!(v.is_load_balancer && v.local);
        assert_eq!(v.cluster_ips, ["10.96.0.10", "fd00::10"]);
        assert_eq!(v.pool_annotation.as_deref(), Some("public"));
        assert_eq!(v.sharing_key, "k");
        assert_eq!(v.backend_key(), "a=1,b=2");
        assert_eq!(v.ports, [("TCP".to_owned(), 80), ("UDP".to_owned(), 53)]);
        assert_eq!(v.status_ips(), ["192.0.2.1"]);
        assert!(
            v.status_differs(&["192.0.2.1".to_owned()]),
            "the hostname entry must be dropped"
        );
    }

    #[test]
    fn cluster_policy_has_no_backend_key_and_equal_status_is_no_write() {
        let v = svc(serde_json::json!({
            "metadata": {"name": "a", "namespace": "b"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "selector": {"x": "y"}},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
        }));
        assert_eq!(v.backend_key(), "");
        assert_eq!(v.cluster_ips, ["10.0.0.1"]);
        assert!(!v.status_differs(&["192.0.2.1".to_owned()]));
        assert!(v.status_differs(&[]));
    }

    #[test]
    fn a_status_body_is_the_stored_object_with_only_the_ingress_replaced() {
        let stored = serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "42",
                "labels": {"app": "web"},
                "annotations": {"metallb.universe.tf/allow-shared-ip": "k", "other.tool/x": "y",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "finalizers": ["example.com/keep"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "o1"}],
                "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1"}]},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "selector": {"app": "web"}},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9", "ipMode": "VIP"}]},
                "conditions": [{"type": "Custom", "status": "True", "reason": "R", "message": "",
                    "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
        });
        let base = svc(stored.clone())
            .stored_object()
            .expect("kept for a LoadBalancer")
            .expect("readable");
        let body = status_body(base.clone(), &["192.0.2.1".to_owned()]);
        let body = serde_json::to_value(body).expect("json");
        let mut expected = stored;
        expected["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("managedFields");
        expected["status"]["loadBalancer"] = serde_json::json!({"ingress": [{"ip": "192.0.2.1"}]});
        assert_eq!(body, expected);

        let cleared = status_body(base, &[]);
        assert_eq!(
            serde_json::to_value(cleared).expect("json")["status"]["loadBalancer"],
            serde_json::json!({})
        );
    }

    #[test]
    fn only_services_whose_status_we_may_write_are_kept() {
        let cluster_ip = svc(serde_json::json!({
            "metadata": {"name": "a", "namespace": "b", "annotations": {"big": "x"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1"}
        }));
        assert!(cluster_ip.stored.is_none());
        let leftover = svc(serde_json::json!({
            "metadata": {"name": "a", "namespace": "b"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1"},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
        }));
        assert!(leftover.stored.is_some(), "its ingress is ours to clear");
    }
}
