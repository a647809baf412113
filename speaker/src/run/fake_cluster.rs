//! The cluster the speaker-loop tests run against on the fake API server
//! (`fake-apiserver`), and a running `Speaker::run` on it: upstream v0.12.1's speaker RBAC,
//! the objects as real JSON, and where the loop's decisions land (the observed Layer 2
//! dataplane, the routes the BGP sessions are told to advertise, the announced metric,
//! `/status`, and the Events the server stored).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::bgp::{DesiredRoutes, Prefix};
use fake_apiserver::releases::{self, Component, Release};
use fake_apiserver::{FakeApi, Rbac, RequestRecord};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::harness::status;
use super::{Metrics, Settings, Speaker};
use crate::k8s;
use crate::l2::{Layer2, Observed};
use crate::status::Board;

pub(super) const NS: &str = "metallb-system";
pub(super) const NODE: &str = "node1";
/// The nodes with a Ready speaker pod.
pub(super) const SPEAKERS: [&str; 3] = ["node1", "node2", "node3"];
pub(super) const BGP_IP: &str = "10.40.50.1";

/// A Layer 2 pool, a BGP pool, and a BGP peer on `127.0.0.1:peer_port` that selects every
/// node (without one, `/status` reports the BGP service as `noPeerSelected`).
fn config(peer_port: u16) -> String {
    format!(
        "peers:
- peer-address: 127.0.0.1
  peer-port: {peer_port}
  peer-asn: 64501
  my-asn: 64500
address-pools:
- name: l2
  protocol: layer2
  addresses: [10.20.30.0/24]
- name: bgp
  protocol: bgp
  addresses: [10.40.50.0/24]
"
    )
}
/// kube-runtime's watch back-off (as client-go's): up to 30 s, plus as much again of jitter.
pub(super) const RELIST: Duration = Duration::from_secs(121);

/// v0.12.1's grants to the speaker's ServiceAccount (ClusterRole `metallb-system:speaker`,
/// Role `pod-lister` and the config-watcher Role in its namespace).
fn v0_12_1_rbac() -> Rbac {
    releases::rbac(Release::V0_12_1, Component::Speaker)
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().expect("IP")
}

/// `n` Layer 2 pool IPs this node wins among [`SPEAKERS`].
pub(super) fn ips_won_by_this_node(n: usize) -> Vec<String> {
    let won: Vec<String> = (1..=254)
        .map(|i| format!("10.20.30.{i}"))
        .filter(|ip| common::l2::election::owner(SPEAKERS, ip) == Some(NODE))
        .take(n)
        .collect();
    assert_eq!(won.len(), n, "this node wins enough IPs");
    won
}

pub(super) fn node(name: &str, excluded: bool) -> Value {
    let mut labels = json!({"kubernetes.io/hostname": name});
    if excluded {
        labels[k8s::EXCLUDE_LABEL] = json!("");
    }
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
           "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
}

/// A Ready MetalLB pod of `component` (`speaker` or `controller`) on `node`.
pub(super) fn pod(component: &str, node: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{component}-{node}"), "namespace": NS,
                     "labels": {"app": "metallb", "component": component}},
        "spec": {"nodeName": node, "hostNetwork": component == "speaker",
                 "containers": [{"name": component, "image": format!("metallb/{component}:v0.12.1")}]},
        "status": {"phase": "Running", "podIP": ip,
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

/// A LoadBalancer Service the controller already gave `ip`.
pub(super) fn service(name: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10",
                 "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
                 "selector": {"app": name}, "externalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}
    })
}

/// A slice of `service` named `name`: `addr` on this node (ready or not), or no endpoint.
pub(super) fn slice(service: &str, name: &str, addr: Option<(&str, bool)>) -> Value {
    let endpoints: Vec<Value> = addr
        .map(|(a, ready)| {
            json!({"addresses": [a], "nodeName": NODE, "conditions": {"ready": ready}})
        })
        .into_iter()
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "shop",
                     "labels": {"kubernetes.io/service-name": service,
                                "endpointslice.kubernetes.io/managed-by":
                                    "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"port": 8080, "protocol": "TCP"}]
    })
}

/// The core v1 Endpoints of `service`: `addr` ready on this node (what v0.8/v0.9 speakers,
/// whose RBAC has no EndpointSlices, read).
fn endpoints(service: &str, addr: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": service, "namespace": "shop"},
        "subsets": [{"addresses": [{"ip": addr, "nodeName": NODE}],
                     "ports": [{"port": 8080, "protocol": "TCP"}]}]
    })
}

/// The cluster: three nodes with a speaker each and an excluded control-plane node `cp1`;
/// Layer 2 services `web-a` and `web-b` (IPs this node wins) and the BGP service `api` (a
/// ready slice and an empty one), every endpoint ready on this node.
fn populate(api: &FakeApi, peer_port: u16, ip_a: &str, ip_b: &str) {
    api.upsert(json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "config", "namespace": NS},
                      "data": {"config": config(peer_port)}}));
    for (i, n) in SPEAKERS.into_iter().enumerate() {
        api.upsert(node(n, false));
        api.upsert(pod("speaker", n, &format!("192.168.0.{}", i + 1)));
    }
    api.upsert(node("cp1", true));
    // Same `app`, not a speaker: the selector must leave it out of the live speakers.
    api.upsert(pod("controller", "cp1", "10.244.9.9"));
    api.upsert(service("web-a", ip_a));
    api.upsert(service("web-b", ip_b));
    api.upsert(service("api", BGP_IP));
    api.upsert(slice("web-a", "web-a-x1", Some(("10.244.1.1", true))));
    api.upsert(slice("web-b", "web-b-x1", Some(("10.244.1.2", true))));
    api.upsert(slice("api", "api-x1", Some(("10.244.1.3", true))));
    api.upsert(slice("api", "api-x2", None));
    api.upsert(endpoints("web-a", "10.244.1.1"));
    api.upsert(endpoints("web-b", "10.244.1.2"));
    api.upsert(endpoints("api", "10.244.1.3"));
}

/// A running speaker loop and the places its decisions land.
pub(super) struct Fixture {
    pub(super) api: FakeApi,
    pub(super) task: JoinHandle<()>,
    pub(super) l2: Observed,
    routes: watch::Receiver<Arc<DesiredRoutes>>,
    pub(super) announced: kube_shell::metrics::Announced,
    pub(super) board: Board,
    pub(super) ip_a: String,
    pub(super) ip_b: String,
    /// The BGP peer: accepts the TCP connection (the kernel does) and never answers the
    /// OPEN, so the session exists but never establishes.
    _peer: tokio::net::TcpListener,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fixture {
    pub(super) fn routes(&self) -> Arc<DesiredRoutes> {
        Arc::clone(&self.routes.borrow())
    }

    pub(super) fn has_bgp_route(&self) -> bool {
        self.routes().contains_key(&Prefix::host(ip(BGP_IP)))
    }

    pub(super) fn balancers(&self) -> Vec<(String, Vec<IpAddr>)> {
        self.l2.balancers().into_iter().collect()
    }

    /// The requests served after the first `from`.
    pub(super) fn requests_since(&self, from: usize) -> Vec<RequestRecord> {
        self.api.requests().split_off(from)
    }
}

/// Starts `Speaker::run` for [`NODE`] on the fake, under v0.12.1's RBAC, and waits until it
/// announces all three services (Layer 2 and BGP) and has posted their three Events.
pub(super) async fn started() -> Fixture {
    started_under(v0_12_1_rbac(), true).await
}

/// [`started`] under `rbac`, on an API server that serves EndpointSlices or not.
pub(super) async fn started_under(rbac: Rbac, serves_slices: bool) -> Fixture {
    let api = FakeApi::new();
    api.set_rbac(Some(rbac));
    if !serves_slices {
        api.unserve("endpointslices");
    }
    let [ip_a, ip_b] = <[String; 2]>::try_from(ips_won_by_this_node(2)).expect("two IPs");
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port for the BGP peer");
    let peer_port = peer.local_addr().expect("bound").port();
    populate(&api, peer_port, &ip_a, &ip_b);

    let registry = prometheus::Registry::new();
    let (metrics, bgp, settings) = speaker_parts(&registry);
    let announced = metrics.announced.clone();
    let routes = bgp.routes_reader();
    let board = Board::new(NODE);
    let (layer2, l2) = Layer2::observed();
    let speaker =
        Speaker::new(settings, api.client(), metrics, layer2, None, bgp).with_status(board.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = speaker.run().await {
            panic!("speaker loop ended: {e:#}");
        }
    });
    let f = Fixture {
        api,
        task,
        l2,
        routes,
        announced,
        board,
        ip_a,
        ip_b,
        _peer: peer,
    };
    let expected = [
        ("shop/web-a".to_owned(), vec![ip(&f.ip_a)]),
        ("shop/web-b".to_owned(), vec![ip(&f.ip_b)]),
    ];
    let up = until(Duration::from_secs(30), || {
        f.balancers() == expected && f.has_bgp_route() && events(&f.api).len() == 3
    })
    .await;
    assert!(
        up,
        "not announced: L2 {:?}, routes {:?}, events {:?}, requests {:#?}",
        f.balancers(),
        f.routes(),
        events(&f.api),
        f.api.requests()
    );
    f
}

/// Waits (virtual time, 10 ms steps) until `done` holds.
pub(super) async fn until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

/// The Events the server stored: (reason, service name), sorted.
pub(super) fn events(api: &FakeApi) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = api
        .objects("events")
        .iter()
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (s(&e["reason"]), s(&e["involvedObject"]["name"]))
        })
        .collect();
    out.sort();
    out
}

pub(super) fn no_forbidden(requests: &[RequestRecord]) {
    let denied: Vec<String> = requests
        .iter()
        .filter(|r| r.status == 403)
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert!(denied.is_empty(), "outside v0.12.1's RBAC: {denied:?}");
}

/// The writes among `requests` (anything but GET).
pub(super) fn writes(requests: &[RequestRecord]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The `/status` row of `service`, if there is one.
pub(super) fn row<'a>(doc: &'a Value, service: &str) -> Option<&'a Value> {
    doc["services"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["service"] == service)
}

/// `/status` without the BGP session rows (the session to the silent peer cycles through
/// its states on its own): the decisions, the live speakers, the config state.
pub(super) async fn decisions(board: &Board) -> Value {
    let doc = status(board).await;
    json!([doc["services"], doc["members"], doc["configLoaded"]])
}

/// Whether every watched kind was listed again (not watched) among `requests`.
pub(super) fn relisted_all(requests: &[RequestRecord]) -> bool {
    [
        "/api/v1/namespaces/metallb-system/configmaps",
        "/api/v1/services",
        "/api/v1/nodes",
        "/apis/discovery.k8s.io/v1/endpointslices",
    ]
    .iter()
    .all(|path| {
        requests
            .iter()
            .any(|r| r.path == *path && r.status == 200 && !r.query.contains("watch=true"))
    })
}

/// What a test speaker on [`NODE`] runs with: metrics on `registry`, a BGP speaker, and the
/// settings of upstream's DaemonSet (memberlist port 7946, election key by IP).
pub(super) fn speaker_parts(
    registry: &prometheus::Registry,
) -> (Metrics, crate::bgp::BgpSpeaker, Settings) {
    let metrics = Metrics {
        k8s: kube_shell::metrics::K8sClient::new(registry).expect("register"),
        announced: kube_shell::metrics::Announced::new(
            &kube_shell::metrics::Exposition::default(),
            NODE,
        ),
        forbidden: kube_shell::Forbidden::new(registry).expect("register"),
    };
    let bgp = crate::bgp::BgpSpeaker::new(
        NODE,
        kube_shell::metrics::Bgp::new(registry).expect("register"),
    );
    let settings = Settings {
        node: NODE.into(),
        namespace: NS.into(),
        config_name: "config".into(),
        disable_epslices: false,
        speaker_labels: "app=metallb,component=speaker".into(),
        memberlist_port: 7946,
        election: common::l2::election_key::KeyChoice::choose(None, true),
    };
    (metrics, bgp, settings)
}
