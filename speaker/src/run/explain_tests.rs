//! The speaker loop driven with real Kubernetes JSON and a mocked API server (tower-test):
//! an EndpointSlice goes not-ready, `/status` says why, and the Service gets the Event; three
//! speakers fed the same objects agree on every owner. The watch streams are not involved:
//! the test feeds the loop's handlers the objects the watches would deliver and runs the
//! same `reconcile`; `/status` is read through the real router.

use std::collections::BTreeSet;

use common::speaker::Changed;
use http::Method;
use kube::runtime::watcher::Event;
use serde_json::{Value, json};

use super::super::Speaker;
use super::super::harness::{NODES, speaker, status};
use crate::k8s;

/// An IP of the pool that `node` wins among all three nodes.
fn ip_won_by(node: &str) -> String {
    (1..=254)
        .map(|i| format!("10.20.30.{i}"))
        .find(|ip| common::l2::election::owner(NODES, ip) == Some(node))
        .expect("some IP is won by each node")
}

fn slice(ready: bool) -> k8s_openapi::api::discovery::v1::EndpointSlice {
    serde_json::from_value(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc12", "namespace": "shop",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "nodeName": "node2",
                       "conditions": {"ready": ready}}],
        "ports": [{"port": 8080, "protocol": "TCP"}]
    }))
    .expect("EndpointSlice")
}

fn on_slice(s: &mut Speaker, ev: Event<k8s_openapi::api::discovery::v1::EndpointSlice>) -> Changed {
    s.on_endpoints(Ok(ev), k8s::endpoint_slice)
}

fn config_map() -> k8s_openapi::api::core::v1::ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config", "namespace": "metallb-system"},
        "data": {"config": "address-pools:\n- name: l2\n  protocol: layer2\n  addresses: [10.20.30.0/24]\n"}
    }))
    .expect("ConfigMap")
}

fn web(name: &str, ip: &str) -> k8s_openapi::api::core::v1::Service {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}")},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}
    }))
    .expect("Service")
}

/// Three speakers fed the same objects: their `/status` documents name the same owner for
/// every IP, and exactly that node says `announcing`.
#[tokio::test]
async fn three_speakers_agree_on_the_owner_of_every_ip() {
    let mut docs = Vec::new();
    for node in NODES {
        let (mut s, board, _events) = speaker(node);
        let d = s.on_config(Ok(Event::Apply(config_map())));
        s.reconcile(d).await;
        for i in 1..=30 {
            let name = format!("web{i}");
            let d = s.on_service(Ok(Event::Apply(web(&name, &format!("10.20.30.{i}")))));
            s.reconcile(d).await;
            let mut sl = slice(true);
            sl.metadata.name = Some(format!("{name}-abc"));
            sl.metadata
                .labels
                .get_or_insert_default()
                .insert("kubernetes.io/service-name".into(), name);
            let d = on_slice(&mut s, Event::Apply(sl));
            s.reconcile(d).await;
        }
        docs.push(status(&board).await);
    }
    let mut owners = BTreeSet::new();
    for i in 0..30 {
        let rows: Vec<&Value> = docs.iter().map(|d| &d["services"][i]).collect();
        let owner = rows[0]["owner"].as_str().expect("an owner").to_owned();
        for r in &rows {
            assert_eq!(r["owner"], rows[0]["owner"], "{}", r["service"]);
            assert_eq!(r["service"], rows[0]["service"]);
        }
        let announcing: Vec<&str> = docs
            .iter()
            .zip(&rows)
            .filter(|(_, r)| r["decision"] == "announcing")
            .map(|(d, _)| d["node"].as_str().expect("node"))
            .collect();
        assert_eq!(announcing, [owner.as_str()], "{}", rows[0]["service"]);
        owners.insert(owner);
    }
    assert_eq!(owners.len(), 3, "the election spreads over the three nodes");
}

#[tokio::test]
async fn endpoints_going_not_ready_change_the_reason_and_post_an_event() {
    let (mut s, board, mut events) = speaker("node1");
    let ip = ip_won_by("node1");
    let cm = config_map();
    let svc = web("web", &ip);

    let d = s.on_config(Ok(Event::Apply(cm)));
    s.reconcile(d).await;
    let d = s.on_service(Ok(Event::Apply(svc)));
    s.reconcile(d).await;
    // No EndpointSlice yet: upstream treats the service as deleted.
    let doc = status(&board).await;
    assert_eq!(doc["services"][0]["reason"], "serviceDeleted");
    assert_eq!(doc["configLoaded"], true);
    assert_eq!(doc["members"], json!(NODES));

    let d = on_slice(&mut s, Event::Apply(slice(true)));
    s.reconcile(d).await;
    let doc = status(&board).await;
    let row = &doc["services"][0];
    assert_eq!(row["service"], "shop/web");
    assert_eq!(row["decision"], "announcing");
    assert_eq!(row["owner"], "node1");
    assert_eq!(row["ips"], json!([ip]));
    let (method, uri, ev) = events.recv().await.expect("nodeAssigned POSTed");
    assert_eq!(
        (method, uri.as_str()),
        (Method::POST, "/api/v1/namespaces/shop/events?")
    );
    assert_eq!(ev["reason"], "nodeAssigned");
    assert_eq!(ev["message"], r#"announcing from node "node1""#);
    assert_eq!(ev["involvedObject"]["uid"], "uid-web");

    let d = on_slice(&mut s, Event::Apply(slice(false)));
    s.reconcile(d).await;
    let doc = status(&board).await;
    let row = &doc["services"][0];
    assert_eq!(row["decision"], "notAnnouncing");
    assert_eq!(row["reason"], "noEndpoints");
    assert_eq!(row["message"], "no ready endpoints");
    let (_, _, ev) = events.recv().await.expect("nodeUnassigned POSTed");
    assert_eq!(ev["type"], "Normal");
    assert_eq!(ev["reason"], "nodeUnassigned");
    assert_eq!(
        ev["message"],
        r#"no longer announcing from node "node1": no ready endpoints"#
    );

    // Ready again, then node1 is no longer a live speaker as far as this state knows
    // (memberlist dropped it): the event names the new owner, as /status does.
    let d = on_slice(&mut s, Event::Apply(slice(true)));
    s.reconcile(d).await;
    // The same nodeAssigned within the de-dup window is not posted again.
    assert!(events.try_recv().is_err(), "nodeAssigned de-duplicated");
    assert_eq!(
        status(&board).await["services"][0]["decision"],
        "announcing"
    );
    s.live = ["node2", "node3"].map(String::from).into();
    s.reconcile(Changed::everything()).await;
    let new_owner = common::l2::election::owner(["node2", "node3"], &ip).expect("owner");
    let doc = status(&board).await;
    assert_eq!(doc["services"][0]["reason"], "notOwner");
    assert_eq!(doc["services"][0]["owner"], new_owner);
    let (_, _, ev) = events.recv().await.expect("nodeUnassigned POSTed");
    assert_eq!(
        ev["message"],
        format!(r#"no longer announcing from node "node1": the owner is now node "{new_owner}""#)
    );
    assert!(events.try_recv().is_err(), "one event per transition");
}
