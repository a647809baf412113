//! The whole speaker loop (`Speaker::run`) against the fake API server (`fake-apiserver`),
//! which serves lists, watches, `410 Expired` after a compaction, outages and latency as
//! kube-apiserver does. The mocked tests fed the handlers the events a test author expected;
//! here kube-runtime's watchers get them from a server, re-list on their own after an outage,
//! and every request is checked against upstream v0.12.1's speaker RBAC (anything else is a
//! 403). Memberlist is off: the live speakers are the Ready speaker pods the loop lists.
//! What the loop decides is read where it lands: the Layer 2 dataplane (observed), the routes
//! the BGP sessions are told to advertise, the announced metric, `/status`, and the Events
//! the server stored.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::bgp::{DesiredRoutes, Prefix};
use fake_apiserver::{FakeApi, Rbac, RequestRecord, Rule, Verb};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::harness::status;
use super::{Metrics, Settings, Speaker};
use crate::k8s;
use crate::l2::{Call, Layer2, Observed};
use crate::status::Board;

const NS: &str = "metallb-system";
const NODE: &str = "node1";
/// The nodes with a Ready speaker pod.
const SPEAKERS: [&str; 3] = ["node1", "node2", "node3"];
const BGP_IP: &str = "10.40.50.1";

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
const RELIST: Duration = Duration::from_secs(121);

/// v0.12.1's grants to the speaker's ServiceAccount (ClusterRole `metallb-system:speaker`,
/// Role `pod-lister` and the config-watcher Role in its namespace).
fn v0_12_1_rbac() -> Rbac {
    Rbac::new("system:serviceaccount:metallb-system:speaker")
        .allow(Rule::cluster(
            &[Verb::Get, Verb::List, Verb::Watch],
            "",
            &["services", "endpoints", "nodes"],
        ))
        .allow(Rule::cluster(
            &[Verb::Get, Verb::List, Verb::Watch],
            "discovery.k8s.io",
            &["endpointslices"],
        ))
        .allow(Rule::cluster(&[Verb::Create, Verb::Patch], "", &["events"]))
        .allow(Rule::namespaced(
            NS,
            &[Verb::Get, Verb::List, Verb::Watch],
            "",
            &["configmaps"],
        ))
        .allow(Rule::namespaced(NS, &[Verb::List], "", &["pods"]))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("IP")
}

/// `n` Layer 2 pool IPs this node wins among [`SPEAKERS`].
fn ips_won_by_this_node(n: usize) -> Vec<String> {
    let won: Vec<String> = (1..=254)
        .map(|i| format!("10.20.30.{i}"))
        .filter(|ip| common::l2::election::owner(SPEAKERS, ip) == Some(NODE))
        .take(n)
        .collect();
    assert_eq!(won.len(), n, "this node wins enough IPs");
    won
}

fn node(name: &str, excluded: bool) -> Value {
    let mut labels = json!({"kubernetes.io/hostname": name});
    if excluded {
        labels[k8s::EXCLUDE_LABEL] = json!("");
    }
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
           "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
}

/// A Ready MetalLB pod of `component` (`speaker` or `controller`) on `node`.
fn pod(component: &str, node: &str, ip: &str) -> Value {
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
fn service(name: &str, ip: &str) -> Value {
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
fn slice(service: &str, name: &str, addr: Option<(&str, bool)>) -> Value {
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
}

/// A running speaker loop and the places its decisions land.
struct Fixture {
    api: FakeApi,
    task: JoinHandle<()>,
    l2: Observed,
    routes: watch::Receiver<Arc<DesiredRoutes>>,
    announced: common::metrics::Announced,
    board: Board,
    ip_a: String,
    ip_b: String,
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
    fn routes(&self) -> Arc<DesiredRoutes> {
        Arc::clone(&self.routes.borrow())
    }

    fn has_bgp_route(&self) -> bool {
        self.routes().contains_key(&Prefix::host(ip(BGP_IP)))
    }

    fn balancers(&self) -> Vec<(String, Vec<IpAddr>)> {
        self.l2.balancers().into_iter().collect()
    }

    /// The requests served after the first `from`.
    fn requests_since(&self, from: usize) -> Vec<RequestRecord> {
        self.api.requests().split_off(from)
    }
}

/// Starts `Speaker::run` for [`NODE`] on the fake, under v0.12.1's RBAC, and waits until it
/// announces all three services (Layer 2 and BGP) and has posted their three Events.
async fn started() -> Fixture {
    let api = FakeApi::new();
    api.set_rbac(Some(v0_12_1_rbac()));
    let [ip_a, ip_b] = <[String; 2]>::try_from(ips_won_by_this_node(2)).expect("two IPs");
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port for the BGP peer");
    let peer_port = peer.local_addr().expect("bound").port();
    populate(&api, peer_port, &ip_a, &ip_b);

    let registry = prometheus::Registry::new();
    let announced = common::metrics::Announced::new(&common::metrics::Exposition::default(), NODE);
    let metrics = Metrics {
        k8s: common::metrics::K8sClient::new(&registry).expect("register"),
        announced: announced.clone(),
    };
    let bgp = crate::bgp::BgpSpeaker::new(
        NODE,
        common::metrics::Bgp::new(&registry).expect("register"),
    );
    let routes = bgp.routes_reader();
    let settings = Settings {
        node: NODE.into(),
        namespace: NS.into(),
        config_name: "config".into(),
        disable_epslices: false,
        speaker_labels: "app=metallb,component=speaker".into(),
        memberlist_port: 7946,
    };
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
async fn until(limit: Duration, done: impl Fn() -> bool) -> bool {
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
fn events(api: &FakeApi) -> Vec<(String, String)> {
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

fn no_forbidden(requests: &[RequestRecord]) {
    let denied: Vec<String> = requests
        .iter()
        .filter(|r| r.status == 403)
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert!(denied.is_empty(), "outside v0.12.1's RBAC: {denied:?}");
}

/// The writes among `requests` (anything but GET).
fn writes(requests: &[RequestRecord]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The `/status` row of `service`, if there is one.
fn row<'a>(doc: &'a Value, service: &str) -> Option<&'a Value> {
    doc["services"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["service"] == service)
}

/// `/status` without the BGP session rows (the session to the silent peer cycles through
/// its states on its own): the decisions, the live speakers, the config state.
async fn decisions(board: &Board) -> Value {
    let doc = status(board).await;
    json!([doc["services"], doc["members"], doc["configLoaded"]])
}

/// Whether every watched kind was listed again (not watched) among `requests`.
fn relisted_all(requests: &[RequestRecord]) -> bool {
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

#[tokio::test(start_paused = true)]
async fn start_up_announces_what_this_node_owns_within_the_rbac() {
    let f = started().await;

    // Only this node's IPs, each once; the BGP service's host route.
    let calls = f.l2.take_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.contains(&Call::Set("shop/web-a".into(), vec![ip(&f.ip_a)])));
    assert!(calls.contains(&Call::Set("shop/web-b".into(), vec![ip(&f.ip_b)])));
    assert_eq!(
        f.routes().keys().copied().collect::<Vec<_>>(),
        [Prefix::host(ip(BGP_IP))]
    );
    assert_eq!(f.announced.get("shop/web-a", ip(&f.ip_a)), Some("layer2"));
    assert_eq!(f.announced.get("shop/web-b", ip(&f.ip_b)), Some("layer2"));
    assert_eq!(f.announced.get("shop/api", ip(BGP_IP)), Some("bgp"));
    assert_eq!(
        events(&f.api),
        [
            ("nodeAssigned", "api"),
            ("nodeAssigned", "web-a"),
            ("nodeAssigned", "web-b")
        ]
        .map(|(r, n)| (r.to_owned(), n.to_owned()))
    );

    // /status through the real router: a row per service, and the live speakers come from
    // the Ready speaker pods (not the controller's pod).
    let doc = status(&f.board).await;
    for svc in ["shop/web-a", "shop/web-b", "shop/api"] {
        let r = row(&doc, svc).unwrap_or_else(|| panic!("no row for {svc}: {doc}"));
        assert_eq!(r["decision"], "announcing", "{svc}: {r}");
    }
    assert_eq!(doc["services"].as_array().map(Vec::len), Some(3), "{doc}");
    assert_eq!(doc["members"], json!(SPEAKERS), "{doc}");

    // The speaker pods were listed with upstream's selector, in the speaker's namespace.
    let requests = f.api.requests();
    assert!(
        requests.iter().any(|r| r.method == "GET"
            && r.path == "/api/v1/namespaces/metallb-system/pods"
            && r.query
                .contains("labelSelector=app%3Dmetallb%2Ccomponent%3Dspeaker")
            && r.status == 200),
        "{requests:#?}"
    );
    no_forbidden(&requests);
    let writes = writes(&requests);
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(
        writes
            .iter()
            .all(|w| w == "POST /api/v1/namespaces/shop/events"),
        "only Event POSTs: {writes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_relist_after_an_outage_forgets_what_was_deleted_meanwhile() {
    let f = started().await;
    f.l2.take_calls();
    let before = status(&f.board).await;
    let decided = decisions(&f.board).await;
    let routes = f.routes();
    let from = f.api.requests().len();

    // While the API server is away: web-a is deleted, api loses its only ready slice (its
    // empty one stays), and the excluded node cp1 goes (which re-decides everything).
    f.api.set_down(true);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(f.api.delete("services", Some("shop"), "web-a").is_some());
    assert!(
        f.api
            .delete("endpointslices", Some("shop"), "api-x1")
            .is_some()
    );
    assert!(f.api.delete("nodes", None, "cp1").is_some());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!f.task.is_finished(), "the loop exited during the outage");
    // Meanwhile the speaker keeps announcing exactly what it announced.
    assert_eq!(f.l2.take_calls(), [], "nothing moves while the API is away");
    assert_eq!(f.routes(), routes);
    assert_eq!(f.announced.get("shop/web-a", ip(&f.ip_a)), Some("layer2"));
    assert_eq!(decisions(&f.board).await, decided);

    // It comes back with its history compacted: the deletions are only learnt by re-listing.
    f.api.compact();
    f.api.set_down(false);
    let forgot = until(RELIST, || {
        f.balancers() == [("shop/web-b".to_owned(), vec![ip(&f.ip_b)])]
            && !f.has_bgp_route()
            && f.announced.get("shop/web-a", ip(&f.ip_a)).is_none()
    })
    .await;
    assert!(
        forgot,
        "L2 {:?}, routes {:?}, requests {:#?}",
        f.balancers(),
        f.routes(),
        f.requests_since(from)
    );
    // Every watch re-lists (each on its own back-off); the last re-list changes nothing more.
    let relisted = until(RELIST, || relisted_all(&f.requests_since(from))).await;
    assert!(relisted, "{:#?}", f.requests_since(from));
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Layer 2: web-a withdrawn; web-b neither withdrawn nor re-announced.
    assert_eq!(f.l2.take_calls(), [Call::Delete("shop/web-a".into())]);
    assert!(f.routes().is_empty(), "{:?}", f.routes());
    // Metrics: both withdrawn series gone, web-b's kept.
    assert_eq!(f.announced.get("shop/api", ip(BGP_IP)), None);
    assert_eq!(f.announced.get("shop/web-b", ip(&f.ip_b)), Some("layer2"));
    // /status: no row for the deleted service, api says why, web-b's row as it was.
    let doc = status(&f.board).await;
    assert!(row(&doc, "shop/web-a").is_none(), "{doc}");
    let api_row = row(&doc, "shop/api").expect("api row");
    assert_eq!(api_row["decision"], "notAnnouncing", "{api_row}");
    assert_eq!(api_row["reason"], "noEndpoints", "{api_row}");
    assert_eq!(row(&doc, "shop/web-b"), row(&before, "shop/web-b"));
    // Events: api's nodeUnassigned only (a deleted service gets none).
    let posted = until(Duration::from_secs(5), || {
        events(&f.api).iter().any(|(r, _)| r == "nodeUnassigned")
    })
    .await;
    assert!(posted, "{:?}", events(&f.api));
    let unassigned: Vec<_> = events(&f.api)
        .into_iter()
        .filter(|(r, _)| r != "nodeAssigned")
        .collect();
    assert_eq!(
        unassigned,
        [("nodeUnassigned".to_owned(), "api".to_owned())]
    );
    no_forbidden(&f.api.requests());
}

#[tokio::test(start_paused = true)]
async fn a_plain_outage_changes_nothing() {
    let f = started().await;
    f.l2.take_calls();
    let decided = decisions(&f.board).await;
    let routes = f.routes();
    let events_before = events(&f.api);
    let from = f.api.requests().len();

    f.api.set_down(true);
    tokio::time::sleep(Duration::from_secs(60)).await;
    f.api.compact();
    f.api.set_down(false);
    let relisted = until(RELIST, || relisted_all(&f.requests_since(from))).await;
    assert!(relisted, "{:#?}", f.requests_since(from));
    // The pod list of the next poll, and time for the loop to take every re-list in.
    tokio::time::sleep(Duration::from_secs(35)).await;

    assert_eq!(f.l2.take_calls(), [], "no withdraw, no re-announcement");
    assert_eq!(f.routes(), routes);
    assert_eq!(decisions(&f.board).await, decided);
    assert_eq!(events(&f.api), events_before);
    let after = f.requests_since(from);
    assert_eq!(writes(&after), Vec::<String>::new(), "no Event posted");
    assert!(
        after
            .iter()
            .any(|r| r.path.ends_with("/pods") && r.status == 200),
        "the speaker pods were listed again"
    );
    no_forbidden(&after);
}

#[tokio::test(start_paused = true)]
async fn a_slow_api_server_does_not_delay_decisions() {
    let f = started().await;
    let [.., ip_c, ip_d] = <[String; 4]>::try_from(ips_won_by_this_node(4)).expect("4 IPs");
    // web-d exists with an endpoint that is not ready yet: not announced.
    f.api.upsert(service("web-d", &ip_d));
    f.api
        .upsert(slice("web-d", "web-d-x1", Some(("10.244.1.5", false))));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!f.l2.balancers().contains_key("shop/web-d"));
    f.l2.take_calls();

    // Every Event POST now takes 2 s.
    f.api.set_latency(&[Verb::Create], Duration::from_secs(2));
    let from = f.api.requests().len();

    // A new service with a ready endpoint here: announced at once, its Event still in flight.
    f.api.upsert(service("web-c", &ip_c));
    f.api
        .upsert(slice("web-c", "web-c-x1", Some(("10.244.1.4", true))));
    let t0 = tokio::time::Instant::now();
    let announced = until(Duration::from_secs(2), || {
        f.l2.balancers().contains_key("shop/web-c")
    })
    .await;
    assert!(announced, "{:?}", f.balancers());
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "web-c waited {:?}",
        t0.elapsed()
    );

    // web-d's endpoint turns ready while web-c's Event is still being posted.
    f.api
        .upsert(slice("web-d", "web-d-x1", Some(("10.244.1.5", true))));
    let t1 = tokio::time::Instant::now();
    let announced = until(Duration::from_secs(2), || {
        f.l2.balancers().contains_key("shop/web-d")
    })
    .await;
    assert!(announced, "{:?}", f.balancers());
    assert!(
        t1.elapsed() < Duration::from_millis(100),
        "web-d waited {:?}",
        t1.elapsed()
    );
    assert!(
        !events(&f.api).iter().any(|(_, n)| n == "web-c"),
        "the Event POST was still in flight"
    );
    assert_eq!(
        f.l2.take_calls(),
        [
            Call::Set("shop/web-c".into(), vec![ip(&ip_c)]),
            Call::Set("shop/web-d".into(), vec![ip(&ip_d)]),
        ]
    );

    // The Events do arrive, 2 s later.
    let posted = until(Duration::from_secs(5), || {
        let ev = events(&f.api);
        ["web-c", "web-d"]
            .iter()
            .all(|n| ev.contains(&("nodeAssigned".to_owned(), (*n).to_owned())))
    })
    .await;
    assert!(posted, "{:?}", events(&f.api));
    assert!(t0.elapsed() >= Duration::from_secs(2));
    let after = f.requests_since(from);
    assert_eq!(
        writes(&after),
        ["POST /api/v1/namespaces/shop/events"; 2],
        "{after:#?}"
    );
    no_forbidden(&f.api.requests());
}
