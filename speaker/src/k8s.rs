//! Kubernetes objects reduced to the speaker's model (`common::speaker`).

use std::collections::BTreeMap;

use common::speaker::Endpoint;
use common::speaker::index::{EndpointsObject, NodeObject, ServiceEntry, ServiceObject};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label that keeps a node out of external load balancing (honoured: such nodes neither
/// announce nor win elections).
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

pub fn key(namespace: Option<&str>, name: Option<&str>) -> String {
    format!(
        "{}/{}",
        namespace.unwrap_or_default(),
        name.unwrap_or_default()
    )
}

pub fn service(svc: &Service) -> ServiceObject {
    let spec = svc.spec.as_ref();
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|list| {
            list.iter()
                .map(|i| i.ip.clone().filter(|ip| !ip.is_empty()))
                .collect()
        })
        .unwrap_or_default();
    let entry = ServiceEntry {
        uid: svc.metadata.uid.clone(),
        is_load_balancer: spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer"),
        ingress,
        local: spec.and_then(|s| s.external_traffic_policy.as_deref()) == Some("Local"),
    };
    ServiceObject {
        key: key(
            svc.metadata.namespace.as_deref(),
            svc.metadata.name.as_deref(),
        ),
        entry,
    }
}

/// The service an EndpointSlice belongs to, and its endpoints (`None` for a slice without
/// the service-name label). The node is `nodeName`, falling back to the hostname topology
/// label (upstream read only the latter, so nodes whose hostname label differs from their
/// name never matched).
pub fn endpoint_slice(slice: &EndpointSlice) -> Option<EndpointsObject> {
    let service = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    let namespace = slice.metadata.namespace.as_deref();
    let service = key(namespace, Some(service));
    let id = key(namespace, slice.metadata.name.as_deref());
    let mut out = Vec::new();
    for ep in &slice.endpoints {
        let node = ep.node_name.clone().or_else(|| {
            ep.deprecated_topology
                .as_ref()
                .and_then(|t| t.get(HOSTNAME_LABEL).cloned())
        });
        let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
        for addr in &ep.addresses {
            out.push(Endpoint {
                addr: addr.clone(),
                node: node.clone(),
                ready,
            });
        }
    }
    Some(EndpointsObject {
        service,
        id,
        endpoints: out,
    })
}

/// Core Endpoints (`--disable-epslices`): `addresses` are ready, `notReadyAddresses` not.
/// The object is the service's only source, named like it.
pub fn endpoints(eps: &Endpoints) -> EndpointsObject {
    let mut out = Vec::new();
    for subset in eps.subsets.iter().flatten() {
        for (list, ready) in [
            (&subset.addresses, true),
            (&subset.not_ready_addresses, false),
        ] {
            for a in list.iter().flatten() {
                out.push(Endpoint {
                    addr: a.ip.clone(),
                    node: a.node_name.clone(),
                    ready,
                });
            }
        }
    }
    let key = key(
        eps.metadata.namespace.as_deref(),
        eps.metadata.name.as_deref(),
    );
    EndpointsObject {
        service: key.clone(),
        id: key,
        endpoints: out,
    }
}

/// A node's name, labels, and whether it is excluded from external load balancing.
pub fn node(node: &Node) -> NodeObject {
    let labels: BTreeMap<String, String> = node.metadata.labels.clone().unwrap_or_default();
    NodeObject {
        name: node.metadata.name.clone().unwrap_or_default(),
        excluded: labels.contains_key(EXCLUDE_LABEL),
        labels,
    }
}

/// The ConfigMap's `config` text; a ConfigMap without that key reads as empty text (which
/// does not parse as a configuration, as upstream).
pub fn config_text(cm: &ConfigMap) -> String {
    cm.data
        .as_ref()
        .and_then(|d| d.get("config"))
        .cloned()
        .unwrap_or_default()
}

/// The node of a speaker pod that is Ready, if it is.
pub fn ready_pod_node(pod: &Pod) -> Option<String> {
    let ready = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    if !ready || pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    pod.spec.as_ref()?.node_name.clone()
}

/// A speaker pod's IP (memberlist peers are joined at their pod IPs, which are node IPs on
/// the host network). Pending pods have none yet.
pub fn pod_ip(pod: &Pod) -> Option<std::net::IpAddr> {
    pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()
}

/// Whether a Node watch event is a change of the node named `own`: upstream's `SetNode`
/// then re-joins memberlist (docs/memberlist.md#discovery-and-re-join). The initial listing
/// does not count, the start-up join covers it.
pub fn own_node_changed(ev: &kube::runtime::watcher::Event<Node>, own: &str) -> bool {
    matches!(ev, kube::runtime::watcher::Event::Apply(n) if n.metadata.name.as_deref() == Some(own))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).expect("valid object JSON")
    }

    #[test]
    fn slices_take_node_name_then_hostname_topology() {
        let slice: EndpointSlice = from(serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "web-abc", "namespace": "prod", "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [
                {"addresses": ["10.1.0.5"], "nodeName": "node-a", "conditions": {"ready": true}},
                {"addresses": ["10.1.0.6"], "deprecatedTopology": {"kubernetes.io/hostname": "node-b"}, "conditions": {"ready": false}},
                {"addresses": ["10.1.0.7"]}
            ]
        }));
        let obj = endpoint_slice(&slice).expect("labelled slice");
        assert_eq!(
            (obj.service.as_str(), obj.id.as_str()),
            ("prod/web", "prod/web-abc")
        );
        let eps = obj.endpoints;
        assert_eq!(
            eps[0],
            Endpoint {
                addr: "10.1.0.5".into(),
                node: Some("node-a".into()),
                ready: true
            }
        );
        assert_eq!(
            eps[1],
            Endpoint {
                addr: "10.1.0.6".into(),
                node: Some("node-b".into()),
                ready: false
            }
        );
        assert_eq!(
            eps[2],
            Endpoint {
                addr: "10.1.0.7".into(),
                node: None,
                ready: true
            }
        );
        let unlabelled: EndpointSlice = from(
            serde_json::json!({"addressType": "IPv4", "metadata": {"name": "x"}, "endpoints": []}),
        );
        assert!(endpoint_slice(&unlabelled).is_none());
    }

    #[test]
    fn endpoints_subsets_and_services() {
        let eps: Endpoints = from(serde_json::json!({
            "metadata": {"name": "web", "namespace": "prod"},
            "subsets": [{"addresses": [{"ip": "10.1.0.5", "nodeName": "n1"}], "notReadyAddresses": [{"ip": "10.1.0.6", "nodeName": "n2"}]}]
        }));
        let obj = endpoints(&eps);
        assert_eq!(
            (obj.service.as_str(), obj.id.as_str()),
            ("prod/web", "prod/web")
        );
        assert_eq!(
            obj.endpoints
                .iter()
                .map(|e| (e.addr.as_str(), e.ready))
                .collect::<Vec<_>>(),
            [("10.1.0.5", true), ("10.1.0.6", false)]
        );

        let svc: Service = from(serde_json::json!({
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "x"}]}}
        }));
        let obj = service(&svc);
        assert_eq!(obj.key, "prod/web");
        assert!(obj.entry.is_load_balancer && obj.entry.local);
        assert_eq!(obj.entry.ingress, [Some("192.0.2.1".to_owned()), None]);
    }

    #[test]
    fn nodes_and_pods() {
        let n: Node =
            from(serde_json::json!({"metadata": {"name": "cp1", "labels": {EXCLUDE_LABEL: ""}}}));
        assert!(node(&n).excluded);
        let cm: ConfigMap = from(serde_json::json!({"metadata": {"name": "config"}}));
        assert_eq!(config_text(&cm), "");
        let ready: Pod = from(serde_json::json!({
            "metadata": {"name": "speaker-x"}, "spec": {"nodeName": "n1", "containers": []},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        }));
        assert_eq!(ready_pod_node(&ready).as_deref(), Some("n1"));
        let not_ready: Pod = from(serde_json::json!({
            "metadata": {"name": "speaker-y"}, "spec": {"nodeName": "n2", "containers": []},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]}
        }));
        assert_eq!(ready_pod_node(&not_ready), None);
    }

    #[test]
    fn only_updates_of_the_own_node_trigger_a_rejoin() {
        use kube::runtime::watcher::Event;
        let mine: Node = from(serde_json::json!({"metadata": {"name": "n1"}}));
        let other: Node = from(serde_json::json!({"metadata": {"name": "n2"}}));
        assert!(own_node_changed(&Event::Apply(mine.clone()), "n1"));
        assert!(!own_node_changed(&Event::Apply(other), "n1"));
        assert!(!own_node_changed(&Event::InitApply(mine.clone()), "n1"));
        assert!(!own_node_changed(&Event::Delete(mine), "n1"));
        assert!(!own_node_changed(&Event::InitDone, "n1"));
    }
}
