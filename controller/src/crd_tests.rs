//! CRD mode (docs/crd.md#crd-mode) against the fake API server serving the `metallb.io`
//! objects, under the CRD-mode install's RBAC (v0.12.1's plus reading the objects): the
//! objects configure allocation, a refused object gets an Event and the last good config
//! stays, and a ConfigMap with a config beside the objects is refused.

use std::time::Duration;

use fake_apiserver::FakeApi;
use fake_apiserver::releases::{Component, crd_mode_rbac};
use kube_shell::crd::ConfigSource;
use prometheus::Registry;
use serde_json::{Value, json};

use crate::loop_tests::ingress_ips as ips;
use crate::run::{Metrics, reconcile_loop_from};

const NS: &str = "metallb-system";

/// testdata/crd/typical.yaml: pools `lan` (L2, 192.168.1.48/28) and `bgp` (10.42.0.0/16).
fn typical() -> Vec<Value> {
    let text = include_str!("../../testdata/crd/typical.yaml");
    serde_saphyr::from_multiple::<Value>(text)
        .expect("testdata YAML")
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

fn service(name: &str, pool: Option<&str>) -> Value {
    let mut svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.1.1",
                 "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": name}}
    });
    if let Some(p) = pool {
        svc["metadata"]["annotations"] = json!({"metallb.universe.tf/address-pool": p});
    }
    svc
}

fn start(api: &FakeApi) -> tokio::task::JoinHandle<()> {
    api.set_rbac(Some(crd_mode_rbac(Component::Controller)));
    let client = api.client();
    let metrics = Metrics::new(&Registry::new()).expect("metrics");
    tokio::spawn(async move {
        let result = reconcile_loop_from(
            client,
            NS.into(),
            "config".into(),
            ConfigSource::Crd,
            metrics,
        );
        if let Err(e) = result.await {
            panic!("controller loop ended: {e:#}");
        }
    })
}

fn ingress(api: &FakeApi, name: &str) -> Vec<String> {
    api.get("services", Some("shop"), name)
        .map(|s| ips(&s))
        .unwrap_or_default()
}

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

/// Warning Events about `kind`/`name`, their messages.
fn events_about(api: &FakeApi, kind: &str, name: &str) -> Vec<(String, String)> {
    api.objects("events")
        .iter()
        .filter(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
        .map(|e| {
            (
                e["involvedObject"]["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn no_forbidden(api: &FakeApi) {
    let denied = api.forbidden_requests();
    assert!(denied.is_empty(), "outside the CRD-mode RBAC: {denied:?}");
}

fn in_net(ip: &str, net: &str) -> bool {
    let ip: std::net::IpAddr = ip.parse().expect("an IP");
    net.parse::<ipnet::IpNet>().expect("a CIDR").contains(&ip)
}

#[tokio::test(start_paused = true)]
async fn the_objects_configure_allocation() {
    let api = FakeApi::new();
    for o in typical() {
        api.upsert(o);
    }
    api.upsert(service("web", None));
    api.upsert(service("lan-web", Some("lan")));
    let _task = start(&api);
    let done = until(Duration::from_secs(30), || {
        !ingress(&api, "web").is_empty() && !ingress(&api, "lan-web").is_empty()
    })
    .await;
    assert!(done, "{:#?}", api.objects("events"));
    // Pools are tried in name order: `bgp` before `lan`.
    assert!(in_net(&ingress(&api, "web")[0], "10.42.0.0/16"));
    assert!(in_net(&ingress(&api, "lan-web")[0], "192.168.1.48/28"));
    no_forbidden(&api);
}

#[tokio::test(start_paused = true)]
async fn a_refused_object_gets_an_event_and_the_last_good_config_stays() {
    let api = FakeApi::new();
    for o in typical() {
        api.upsert(o);
    }
    api.upsert(service("web", Some("lan")));
    let _task = start(&api);
    assert!(until(Duration::from_secs(30), || !ingress(&api, "web").is_empty()).await);

    // The pool now overlaps the other one: refused, with an Event on it.
    let mut lan = api
        .get("ipaddresspools", Some(NS), "lan")
        .expect("lan is stored");
    lan["spec"]["addresses"] = json!(["10.42.1.0/24"]);
    api.upsert(lan);
    let evented = until(Duration::from_secs(30), || {
        !events_about(&api, "IPAddressPool", "lan").is_empty()
    })
    .await;
    assert!(evented, "{:#?}", api.objects("events"));
    let events = events_about(&api, "IPAddressPool", "lan");
    assert_eq!(events.len(), 1, "one Event per refusal: {events:?}");
    assert_eq!(events[0].0, "metallb.io/v1beta1");
    assert_eq!(
        events[0].1,
        "configuration rejected, keeping the previous one: spec.addresses[0]: CIDR \"10.42.1.0/24\" in pool \"lan\" overlaps with already defined CIDR \"10.42.0.0/16\""
    );

    // The last good config is in force: a new service of `lan` gets an address of the old
    // range, and web keeps its own.
    let before = ingress(&api, "web");
    api.upsert(service("web2", Some("lan")));
    assert!(
        until(Duration::from_secs(30), || !ingress(&api, "web2")
            .is_empty())
        .await
    );
    assert!(in_net(&ingress(&api, "web2")[0], "192.168.1.48/28"));
    assert_eq!(ingress(&api, "web"), before);
    no_forbidden(&api);
}

#[tokio::test(start_paused = true)]
async fn a_configmap_with_a_config_beside_objects_is_refused() {
    let api = FakeApi::new();
    for o in typical() {
        api.upsert(o);
    }
    api.upsert(json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "config", "namespace": NS},
                      "data": {"config": "address-pools:\n- {name: old, protocol: layer2, addresses: [172.16.0.0/24]}\n"}}));
    api.upsert(service("web", None));
    let _task = start(&api);
    let evented = until(Duration::from_secs(30), || {
        !events_about(&api, "ConfigMap", "config").is_empty()
    })
    .await;
    assert!(evented);
    let events = events_about(&api, "ConfigMap", "config");
    assert_eq!(events[0].0, "v1");
    assert!(
        events[0]
            .1
            .contains("in CRD mode only the objects are read"),
        "{events:?}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(ingress(&api, "web").is_empty(), "no config is loaded");

    // The ConfigMap emptied (as after `controller convert`): the objects load.
    api.upsert(json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "config", "namespace": NS},
                      "data": {"config": ""}}));
    assert!(until(Duration::from_secs(30), || !ingress(&api, "web").is_empty()).await);
    assert!(in_net(&ingress(&api, "web")[0], "10.42.0.0/16"));
    no_forbidden(&api);
}
