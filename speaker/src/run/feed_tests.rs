//! Re-lists through the loop, with real Kubernetes JSON: what a watch outage deleted is
//! withdrawn at `InitDone` (Layer 2, BGP routes, metrics, `/status`), what survived is left
//! alone, and a re-list identical to the cache does nothing at all. The handlers get the
//! events the watches would deliver and `reconcile` runs after each, as in the loop.

use std::net::IpAddr;
use std::time::Duration;

use common::bgp::Prefix;
use common::speaker::Changed;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::Event;
use serde_json::{Value, json};

use super::super::Speaker;
use super::super::harness::{NODES, Requests, observed_speaker, status};
use crate::k8s;
use crate::l2::{Call, Observed};
use crate::status::Board;

const NODE: &str = "node1";
const BGP_IP: &str = "10.40.50.1";

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("valid object JSON")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("IP")
}

/// Two Layer 2 pool IPs this node wins among the live speakers.
fn ips_won_by_this_node() -> (String, String) {
    let mut won = (1..=254)
        .map(|i| format!("10.20.30.{i}"))
        .filter(|ip| common::l2::election::owner(NODES, ip) == Some(NODE));
    let a = won.next().expect("a first IP");
    let b = won.next().expect("a second IP");
    (a, b)
}

fn config_map() -> ConfigMap {
    from(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config", "namespace": "metallb-system"},
        "data": {"config": "address-pools:\n- name: l2\n  protocol: layer2\n  addresses: [10.20.30.0/24]\n- name: bgp\n  protocol: bgp\n  addresses: [10.40.50.0/24]\n"}
    }))
}

fn node(name: &str, excluded: bool) -> Node {
    let mut labels = json!({"kubernetes.io/hostname": name});
    if excluded {
        labels[k8s::EXCLUDE_LABEL] = json!("");
    }
    from(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}))
}

fn service(name: &str, ip: &str) -> Service {
    from(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}")},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}
    }))
}

/// A slice of `service`; `addr` ready on this node, or no endpoint at all.
fn slice(service: &str, name: &str, addr: Option<&str>) -> EndpointSlice {
    let endpoints: Vec<Value> = addr
        .map(|a| json!({"addresses": [a], "nodeName": NODE, "conditions": {"ready": true}}))
        .into_iter()
        .collect();
    from(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "shop",
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"port": 8080, "protocol": "TCP"}]
    }))
}

/// A whole (re-)list as the watcher delivers it.
fn listing<K>(objs: Vec<K>) -> Vec<Event<K>> {
    let mut out = vec![Event::Init];
    out.extend(objs.into_iter().map(Event::InitApply));
    out.push(Event::InitDone);
    out
}

/// Delivers `events` one by one, reconciling after each; returns what each changed.
async fn deliver<K>(
    s: &mut Speaker,
    on: impl Fn(&mut Speaker, Event<K>) -> Changed,
    events: Vec<Event<K>>,
) -> Vec<Changed> {
    let mut out = Vec::new();
    for ev in events {
        let changed = on(s, ev);
        out.push(changed.clone());
        s.reconcile(changed).await;
        // The loop hands route changes off a few milliseconds later; here, at once.
        s.flush_routes();
    }
    out
}

fn on_config(s: &mut Speaker, ev: Event<ConfigMap>) -> Changed {
    s.on_config(Ok(ev))
}
fn on_node(s: &mut Speaker, ev: Event<Node>) -> Changed {
    s.on_node(Ok(ev))
}
fn on_service(s: &mut Speaker, ev: Event<Service>) -> Changed {
    s.on_service(Ok(ev))
}
fn on_slice(s: &mut Speaker, ev: Event<EndpointSlice>) -> Changed {
    s.on_endpoints(Ok(ev), k8s::endpoint_slice)
}

/// The cluster before the outage: two Layer 2 services (`web-a`, `web-b`) and one BGP
/// service (`api`, with a second, empty slice), all with a ready endpoint on this node,
/// which wins both Layer 2 IPs; `cp1` is an excluded node without a speaker.
struct Cluster {
    config: Vec<ConfigMap>,
    nodes: Vec<Node>,
    services: Vec<Service>,
    slices: Vec<EndpointSlice>,
}

fn cluster(ip_a: &str, ip_b: &str) -> Cluster {
    Cluster {
        config: vec![config_map()],
        nodes: vec![
            node("node1", false),
            node("node2", false),
            node("node3", false),
            node("cp1", true),
        ],
        services: vec![
            service("web-a", ip_a),
            service("web-b", ip_b),
            service("api", BGP_IP),
        ],
        slices: vec![
            slice("web-a", "web-a-1", Some("10.244.1.1")),
            slice("web-b", "web-b-1", Some("10.244.1.2")),
            slice("api", "api-1", Some("10.244.1.3")),
            slice("api", "api-2", None),
        ],
    }
}

struct Fixture {
    s: Speaker,
    board: Board,
    requests: Requests,
    l2: Observed,
    ip_a: String,
    ip_b: String,
}

/// A speaker that listed [`cluster`] and announces all three services.
async fn started() -> Fixture {
    let (mut s, board, mut requests, l2) = observed_speaker(NODE);
    let (ip_a, ip_b) = ips_won_by_this_node();
    let c = cluster(&ip_a, &ip_b);
    deliver(&mut s, on_config, listing(c.config)).await;
    deliver(&mut s, on_node, listing(c.nodes)).await;
    deliver(&mut s, on_service, listing(c.services)).await;
    deliver(&mut s, on_slice, listing(c.slices)).await;

    assert_eq!(
        l2.balancers().into_iter().collect::<Vec<_>>(),
        [
            ("shop/web-a".to_owned(), vec![ip(&ip_a)]),
            ("shop/web-b".to_owned(), vec![ip(&ip_b)]),
        ]
    );
    assert!(s.bgp.routes().contains_key(&Prefix::host(ip(BGP_IP))));
    let mut announced = Vec::new();
    for _ in 0..3 {
        let (_, uri, ev) = requests.recv().await.expect("nodeAssigned POSTed");
        assert_eq!(uri, "/api/v1/namespaces/shop/events?");
        assert_eq!(ev["reason"], "nodeAssigned");
        announced.push(ev["involvedObject"]["name"].as_str().map(str::to_owned));
    }
    announced.sort();
    assert_eq!(
        announced,
        [Some("api"), Some("web-a"), Some("web-b")].map(|n| n.map(str::to_owned))
    );
    l2.take_calls();
    Fixture {
        s,
        board,
        requests,
        l2,
        ip_a,
        ip_b,
    }
}

/// The `/status` row of `service`, if there is one.
fn row<'a>(doc: &'a Value, service: &str) -> Option<&'a Value> {
    doc["services"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["service"] == service)
}

/// Whether the API server gets another request soon.
async fn quiet(requests: &mut Requests) -> bool {
    tokio::time::timeout(Duration::from_millis(200), requests.recv())
        .await
        .is_err()
}

#[tokio::test]
async fn a_relist_withdraws_what_the_outage_deleted_and_leaves_the_rest_alone() {
    let Fixture {
        mut s,
        board,
        mut requests,
        l2,
        ip_a,
        ip_b,
    } = started().await;
    let before = status(&board).await;
    assert_eq!(
        row(&before, "shop/web-a").expect("web-a row")["decision"],
        "announcing"
    );

    // Services: web-a was deleted during the outage. Until InitDone nothing moves.
    let c = cluster(&ip_a, &ip_b);
    let mut events = listing(c.services.into_iter().skip(1).collect());
    let done = events.pop().expect("InitDone");
    let changes = deliver(&mut s, on_service, events).await;
    assert!(changes.iter().all(Changed::is_empty), "{changes:?}");
    assert!(
        l2.take_calls().is_empty(),
        "nothing withdrawn before InitDone"
    );
    assert_eq!(
        s.metrics.announced.get("shop/web-a", ip(&ip_a)),
        Some("layer2")
    );
    let changes = deliver(&mut s, on_service, vec![done]).await;
    assert_eq!(changes, [Changed::service("shop/web-a")]);

    // Endpoints: api lost its ready slice (api-1), its empty one remains. web-a's slice is
    // still there (garbage collection lags), which must not keep web-a announced.
    let slices = c
        .slices
        .into_iter()
        .filter(|sl| sl.metadata.name.as_deref() != Some("api-1"))
        .collect();
    let changes = deliver(&mut s, on_slice, listing(slices)).await;
    assert_eq!(changes.last(), Some(&Changed::service("shop/api")));

    // Nodes: the excluded cp1 is gone, which re-decides everything.
    let nodes = c
        .nodes
        .into_iter()
        .filter(|n| n.metadata.name.as_deref() != Some("cp1"))
        .collect();
    let changes = deliver(&mut s, on_node, listing(nodes)).await;
    assert_eq!(changes.last(), Some(&Changed::everything()));

    // Layer 2: web-a withdrawn, web-b neither withdrawn nor re-announced.
    assert_eq!(l2.take_calls(), [Call::Delete("shop/web-a".to_owned())]);
    assert_eq!(
        l2.balancers().into_iter().collect::<Vec<_>>(),
        [("shop/web-b".to_owned(), vec![ip(&ip_b)])]
    );
    // BGP: api's route is no longer advertised.
    assert!(s.bgp.routes().is_empty(), "{:?}", s.bgp.routes());
    // Metrics: the series of both withdrawn services are gone, web-b's stays.
    assert_eq!(s.metrics.announced.get("shop/web-a", ip(&ip_a)), None);
    assert_eq!(s.metrics.announced.get("shop/api", ip(BGP_IP)), None);
    assert_eq!(
        s.metrics.announced.get("shop/web-b", ip(&ip_b)),
        Some("layer2")
    );
    // /status: no row for the deleted service; api says why; web-b unchanged.
    let doc = status(&board).await;
    assert!(row(&doc, "shop/web-a").is_none(), "{doc}");
    let api = row(&doc, "shop/api").expect("api row");
    assert_eq!(api["decision"], "notAnnouncing");
    assert_eq!(api["reason"], "noEndpoints");
    assert_eq!(row(&doc, "shop/web-b"), row(&before, "shop/web-b"));
    // Events: api's nodeUnassigned only (a deleted service gets none).
    let (_, _, ev) = requests.recv().await.expect("nodeUnassigned POSTed");
    assert_eq!(ev["reason"], "nodeUnassigned");
    assert_eq!(ev["involvedObject"]["name"], "api");
    assert_eq!(
        ev["message"],
        r#"no longer announcing from node "node1": no ready endpoints"#
    );
    assert!(quiet(&mut requests).await, "no other Event");
}

#[tokio::test]
async fn a_relist_identical_to_the_cache_changes_nothing() {
    let Fixture {
        mut s,
        board,
        mut requests,
        l2,
        ip_a,
        ip_b,
    } = started().await;
    let before = status(&board).await;
    let routes = s.bgp.routes();

    let c = cluster(&ip_a, &ip_b);
    let mut changes = deliver(&mut s, on_config, listing(c.config)).await;
    changes.extend(deliver(&mut s, on_node, listing(c.nodes)).await);
    changes.extend(deliver(&mut s, on_service, listing(c.services)).await);
    changes.extend(deliver(&mut s, on_slice, listing(c.slices)).await);

    assert!(changes.iter().all(Changed::is_empty), "{changes:?}");
    assert!(
        l2.take_calls().is_empty(),
        "no withdraw, no re-announcement"
    );
    assert_eq!(s.bgp.routes(), routes);
    assert_eq!(status(&board).await, before);
    assert!(quiet(&mut requests).await, "no Event");
}

#[tokio::test]
async fn a_relist_without_the_configmap_marks_the_config_stale_and_keeps_announcing() {
    let Fixture {
        mut s,
        mut requests,
        l2,
        ..
    } = started().await;
    let changes = deliver(&mut s, on_config, listing(Vec::new())).await;
    assert!(changes.iter().all(Changed::is_empty), "{changes:?}");
    assert!(s.config.is_stale(), "the ConfigMap is missing");
    assert!(s.config.is_loaded(), "the last good config stays in force");
    assert_eq!(s.metrics.k8s.config_stale_bool.get(), 1);
    assert!(l2.take_calls().is_empty());
    assert_eq!(l2.balancers().len(), 2);
    assert!(quiet(&mut requests).await, "no Event");

    // It comes back with the same text: reloaded, nothing else moves.
    let changes = deliver(&mut s, on_config, listing(vec![config_map()])).await;
    assert_eq!(changes.last(), Some(&Changed::everything()));
    assert!(!s.config.is_stale());
    assert!(l2.take_calls().is_empty());
}
