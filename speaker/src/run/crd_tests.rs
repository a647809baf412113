//! The speaker loop in CRD mode (docs/crd.md#crd-mode) against the fake API server serving
//! the `metallb.io` objects, under the CRD-mode install's RBAC: the objects configure Layer 2
//! and BGP (LOCAL_PREF and communities through a Community alias), and a setting only the
//! native speaker refuses gets an Event on its object while the last good config stays.

use std::sync::Arc;
use std::time::Duration;

use common::bgp::{Community, DesiredRoutes, Prefix};
use fake_apiserver::FakeApi;
use fake_apiserver::releases::{Component, crd_mode_rbac};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::super::Speaker;
use super::super::fake_cluster::{
    SPEAKERS, ip, ips_won_by_this_node, no_forbidden, service, slice, speaker_parts, until,
};
use crate::l2::{Layer2, Observed};
use crate::status::Board;

const NS: &str = "metallb-system";
const NODE: &str = "node1";
const BGP_IP: &str = "10.40.50.1";

fn object(kind: &str, version: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": format!("metallb.io/{version}"), "kind": kind,
           "metadata": {"name": name, "namespace": NS}, "spec": spec})
}

/// What the ConfigMap of the ConfigMap-mode tests says, as objects.
fn objects(peer_port: u16) -> Vec<Value> {
    vec![
        object(
            "IPAddressPool",
            "v1beta1",
            "l2",
            json!({"addresses": ["10.20.30.0/24"]}),
        ),
        object(
            "L2Advertisement",
            "v1beta1",
            "l2",
            json!({"ipAddressPools": ["l2"]}),
        ),
        object(
            "IPAddressPool",
            "v1beta1",
            "bgp",
            json!({"addresses": ["10.40.50.0/24"]}),
        ),
        object(
            "BGPAdvertisement",
            "v1beta1",
            "bgp",
            json!({"ipAddressPools": ["bgp"], "localPref": 150, "communities": ["no-export", "64500:7"]}),
        ),
        object(
            "Community",
            "v1beta1",
            "communities",
            json!({"communities": [{"name": "no-export", "value": "65535:65281"}]}),
        ),
        object(
            "BGPPeer",
            "v1beta2",
            "router",
            json!({"myASN": 64500, "peerASN": 64500, "peerAddress": "127.0.0.1", "peerPort": peer_port}),
        ),
    ]
}

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
           "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
}

fn speaker_pod(node: &str, i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("speaker-{node}"), "namespace": NS,
                     "labels": {"app": "metallb", "component": "speaker"}},
        "spec": {"nodeName": node, "hostNetwork": true,
                 "containers": [{"name": "speaker", "image": "metallb-rs/speaker"}]},
        "status": {"phase": "Running", "podIP": format!("192.168.0.{i}"),
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

struct Running {
    api: FakeApi,
    task: tokio::task::JoinHandle<()>,
    l2: Observed,
    routes: watch::Receiver<Arc<DesiredRoutes>>,
    l2_ip: String,
    _peer: tokio::net::TcpListener,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    fn announced(&self) -> bool {
        let l2 = self.l2.balancers().into_iter().collect::<Vec<_>>();
        l2 == [("shop/web".to_owned(), vec![ip(&self.l2_ip)])]
            && self.routes.borrow().contains_key(&Prefix::host(ip(BGP_IP)))
    }
}

async fn start() -> Running {
    let api = FakeApi::new();
    api.set_rbac(Some(crd_mode_rbac(Component::Speaker)));
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = peer.local_addr().expect("bound").port();
    for o in objects(port) {
        api.upsert(o);
    }
    // An empty ConfigMap beside the objects (as a Helm install leaves) is no conflict.
    api.upsert(json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "config", "namespace": NS}, "data": {"config": ""}}));
    for (i, n) in SPEAKERS.into_iter().enumerate() {
        api.upsert(node(n));
        api.upsert(speaker_pod(n, i + 1));
    }
    let l2_ip = ips_won_by_this_node(1).remove(0);
    api.upsert(service("web", &l2_ip));
    api.upsert(service("api", BGP_IP));
    api.upsert(slice("web", "web-x1", Some(("10.244.1.1", true))));
    api.upsert(slice("api", "api-x1", Some(("10.244.1.3", true))));

    let registry = prometheus::Registry::new();
    let (metrics, bgp, settings) = speaker_parts(&registry);
    let routes = bgp.routes_reader();
    let (layer2, l2) = Layer2::observed();
    let speaker = Speaker::new(settings, api.client(), metrics, layer2, None, bgp)
        .with_status(Board::new(NODE))
        .with_config_source(kube_shell::crd::ConfigSource::Crd);
    let task = tokio::spawn(async move {
        if let Err(e) = speaker.run().await {
            panic!("speaker loop ended: {e:#}");
        }
    });
    Running {
        api,
        task,
        l2,
        routes,
        l2_ip,
        _peer: peer,
    }
}

#[tokio::test(start_paused = true)]
async fn the_objects_configure_layer2_and_bgp() {
    let r = start().await;
    let up = until(Duration::from_secs(30), || r.announced()).await;
    assert!(
        up,
        "L2 {:?}, routes {:?}",
        r.l2.balancers(),
        r.routes.borrow()
    );
    let routes = r.routes.borrow().clone();
    let attrs = &routes[&Prefix::host(ip(BGP_IP))];
    assert_eq!(attrs.local_pref(), 150);
    assert_eq!(
        attrs.communities().collect::<Vec<_>>(),
        [Community(64500 << 16 | 7), Community(65535 << 16 | 65281)]
    );
    // The metallb.io objects were watched, in this namespace only.
    let requests = r.api.requests();
    for plural in [
        "ipaddresspools",
        "l2advertisements",
        "bgpadvertisements",
        "communities",
        "bfdprofiles",
    ] {
        let path = format!("/apis/metallb.io/v1beta1/namespaces/{NS}/{plural}");
        assert!(
            requests.iter().any(|q| q.path == path && q.status == 200),
            "{path}"
        );
    }
    assert!(
        requests
            .iter()
            .any(|q| q.path == format!("/apis/metallb.io/v1beta2/namespaces/{NS}/bgppeers"))
    );
    no_forbidden(&requests);
}

#[tokio::test(start_paused = true)]
async fn a_setting_only_the_speaker_refuses_gets_an_event_and_changes_nothing() {
    let r = start().await;
    assert!(until(Duration::from_secs(30), || r.announced()).await);
    let mut peer = r.api.get("bgppeers", Some(NS), "router").expect("router");
    peer["spec"]["keepaliveTime"] = json!("10s");
    peer["spec"]["peerAddress"] = json!("127.0.0.2");
    r.api.upsert(peer);
    let events = || {
        r.api
            .objects("events")
            .into_iter()
            .filter(|e| e["involvedObject"]["kind"] == "BGPPeer")
            .collect::<Vec<Value>>()
    };
    assert!(until(Duration::from_secs(30), || !events().is_empty()).await);
    let e = &events()[0];
    assert_eq!(e["involvedObject"]["name"], "router");
    assert_eq!(e["involvedObject"]["apiVersion"], "metallb.io/v1beta2");
    assert_eq!(
        e["message"],
        "configuration rejected by the speaker on node1, keeping the previous one: spec.keepaliveTime: peer 127.0.0.2 has keepalive-time set on native bgp mode"
    );
    // The last good config stays: still announced, to the same peer.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(r.announced());
    assert_eq!(events().len(), 1, "one Event per refusal");
    no_forbidden(&r.api.requests());
}
