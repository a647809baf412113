//! The whole controller loop — kube-rs watchers, reconciler, status writers, Events, metrics —
//! against a mocked API server at the HTTP layer (tower-test) that answers real list and
//! watch JSON. Time is paused, so "nothing happens for a minute" costs nothing and proves
//! something.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use prometheus::Registry;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle, SendResponse};

use crate::run::{Metrics, reconcile_loop};

const NS: &str = "metallb-system";
const SERVICES: &str = "/api/v1/services";
const CONFIGMAPS: &str = "/api/v1/namespaces/metallb-system/configmaps";
const CONFIG: &str =
    "address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.10-192.0.2.11]\n";

/// A write the controller made: method, path, JSON body.
#[derive(Debug, Clone)]
struct Write {
    method: Method,
    path: String,
    body: Value,
}

impl Write {
    fn status_put_for(&self, name: &str) -> Option<Vec<String>> {
        (self.method == Method::PUT
            && self.path == format!("/api/v1/namespaces/shop/services/{name}/status"))
        .then(|| ingress_ips(&self.body))
    }

    fn event(&self) -> Option<(&str, &str, &str, &str)> {
        (self.method == Method::POST && self.path.ends_with("/events")).then(|| {
            let b = &self.body;
            (
                b["involvedObject"]["kind"].as_str().unwrap_or_default(),
                b["involvedObject"]["name"].as_str().unwrap_or_default(),
                b["reason"].as_str().unwrap_or_default(),
                b["message"].as_str().unwrap_or_default(),
            )
        })
    }
}

/// The `ip`s of a Service JSON's `status.loadBalancer.ingress` (shared with the fake-API tests).
pub(crate) fn ingress_ips(obj: &Value) -> Vec<String> {
    obj["status"]["loadBalancer"]["ingress"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["ip"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The API server's side of the mock: lists served when the test provides them, watches
/// parked until the test pushes events, status PUTs and Event POSTs answered and recorded.
/// Any other request fails the test: upstream's RBAC grants nothing else.
struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
    lists: HashMap<&'static str, Value>,
    parked_lists: HashMap<&'static str, SendResponse<Response<Body>>>,
    parked_watches: HashMap<&'static str, SendResponse<Response<Body>>>,
    /// Status paths to answer with one 409 Conflict.
    conflicts: HashSet<String>,
    writes: Vec<Write>,
    revision: u64,
}

fn respond(send: SendResponse<Response<Body>>, status: StatusCode, body: Vec<u8>) {
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(body))
            .expect("response"),
    );
}

fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("json")
}

impl ApiServer {
    fn new(handle: Handle<Request<Body>, Response<Body>>) -> Self {
        Self {
            handle,
            lists: HashMap::new(),
            parked_lists: HashMap::new(),
            parked_watches: HashMap::new(),
            conflicts: HashSet::new(),
            writes: Vec::new(),
            revision: 1000,
        }
    }

    /// Serves `items` as the list of `resource` now, or as soon as it is asked for.
    fn serve_list(&mut self, resource: &'static str, kind: &str, items: Vec<Value>) {
        let list = json!({"apiVersion": "v1", "kind": kind,
                          "metadata": {"resourceVersion": "100"}, "items": items});
        match self.parked_lists.remove(resource) {
            Some(send) => respond(send, StatusCode::OK, json_bytes(&list)),
            None => {
                self.lists.insert(resource, list);
            }
        }
    }

    /// Answers the parked watch of `resource` with these events; the watcher then re-watches
    /// from the last resourceVersion and that request is parked again.
    async fn push_watch(&mut self, resource: &'static str, events: &[(&str, Value)]) {
        while !self.parked_watches.contains_key(resource) {
            let handled = self.handle_one(Duration::from_secs(60)).await;
            assert!(handled, "no watch on {resource} within a minute");
        }
        let mut body = Vec::new();
        for (kind, object) in events {
            body.extend(json_bytes(&json!({"type": kind, "object": object})));
            body.push(b'\n');
        }
        if let Some(send) = self.parked_watches.remove(resource) {
            respond(send, StatusCode::OK, body);
        }
    }

    /// Handles requests until `done` holds for the writes so far, or `limit` (virtual) passes
    /// without one. Returns whether `done` held.
    async fn pump_until(&mut self, limit: Duration, done: impl Fn(&[Write]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(&self.writes) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || !self.handle_one(left).await {
                return done(&self.writes);
            }
        }
        true
    }

    /// Lets the loop finish what it is doing (its metrics are refreshed after the write that
    /// a `pump_until` saw), answering whatever it sends meanwhile.
    async fn settle(&mut self) {
        self.pump_until(Duration::from_secs(1), |_| false).await;
    }

    /// Handles one request; false if none came within `limit`.
    async fn handle_one(&mut self, limit: Duration) -> bool {
        let Ok(next) = tokio::time::timeout(limit, self.handle.next_request()).await else {
            return false;
        };
        let (req, send) = next.expect("the controller keeps its client");
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let bytes = req.into_body().collect_bytes().await.expect("body");
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        let resource = [SERVICES, CONFIGMAPS].into_iter().find(|r| *r == path);
        match (&method, resource) {
            (&Method::GET, Some(r)) if query.contains("watch=true") => {
                self.parked_watches.insert(r, send);
            }
            (&Method::GET, Some(r)) => {
                if r == CONFIGMAPS {
                    assert!(
                        query.contains("fieldSelector=metadata.name%3Dconfig"),
                        "the ConfigMap watch is limited to the one ConfigMap: {query}"
                    );
                }
                match self.lists.get(r) {
                    Some(list) => respond(send, StatusCode::OK, json_bytes(list)),
                    None => {
                        self.parked_lists.insert(r, send);
                    }
                }
            }
            // A GET by name (after a 409): the object as last listed.
            (&Method::GET, None) if path.starts_with("/api/v1/namespaces/shop/services/") => {
                let name = path.rsplit('/').next().unwrap_or_default();
                let found = self.lists.get(SERVICES).and_then(|l| {
                    l["items"]
                        .as_array()?
                        .iter()
                        .find(|o| o["metadata"]["name"] == name)
                        .cloned()
                });
                match found {
                    Some(obj) => respond(send, StatusCode::OK, json_bytes(&obj)),
                    None => respond(
                        send,
                        StatusCode::NOT_FOUND,
                        json_bytes(
                            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
                        ),
                    ),
                }
            }
            (&Method::PUT, _) if path.ends_with("/status") => {
                self.writes.push(Write {
                    method,
                    path: path.clone(),
                    body: body.clone(),
                });
                if self.conflicts.remove(&path) {
                    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "reason": "Conflict", "code": 409,
                        "message": "Operation cannot be fulfilled: the object has been modified"});
                    respond(send, StatusCode::CONFLICT, json_bytes(&status));
                } else {
                    self.revision += 1;
                    let mut echo = body;
                    echo["metadata"]["resourceVersion"] = json!(self.revision.to_string());
                    respond(send, StatusCode::OK, json_bytes(&echo));
                }
            }
            (&Method::POST, _) if path.ends_with("/events") => {
                self.writes.push(Write {
                    method,
                    path,
                    body: body.clone(),
                });
                respond(send, StatusCode::CREATED, json_bytes(&body));
            }
            _ => panic!("request outside upstream's RBAC: {method} {path}?{query}"),
        }
        true
    }
}

fn service(name: &str, rv: &str, ips: &[&str]) -> Value {
    let ingress: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                     "resourceVersion": rv},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                 "selector": {"app": name}, "externalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {"ingress": ingress}}
    })
}

fn configmap(rv: &str, config: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config", "namespace": NS, "uid": "uid-config", "resourceVersion": rv},
        "data": {"config": config}
    })
}

/// Starts the controller loop on a mocked API; returns the server side and the registry.
fn start() -> (ApiServer, Registry) {
    let (svc, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    let registry = Registry::new();
    let metrics = Metrics::new(&registry).expect("metrics");
    tokio::spawn(async move {
        let result = reconcile_loop(client, NS.into(), "config".into(), metrics);
        if let Err(e) = result.await {
            panic!("controller loop ended: {e:#}");
        }
    });
    (ApiServer::new(handle), registry)
}

/// The value of a gauge or counter sample (with `label`, if given).
fn gauge(registry: &Registry, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    let family = registry.gather().into_iter().find(|f| f.name() == name)?;
    let counter = family.get_field_type() == prometheus::proto::MetricType::COUNTER;
    family
        .get_metric()
        .iter()
        .find(|m| {
            label.is_none_or(|(k, v)| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == k && l.value() == v)
            })
        })
        .map(|m| {
            if counter {
                m.get_counter().get_value()
            } else {
                m.get_gauge().get_value()
            }
        })
}

fn puts_for(writes: &[Write], name: &str) -> Vec<Vec<String>> {
    writes
        .iter()
        .filter_map(|w| w.status_put_for(name))
        .collect()
}

fn has_event(writes: &[Write], kind: &str, name: &str, reason: &str) -> bool {
    writes
        .iter()
        .filter_map(Write::event)
        .any(|(k, n, r, _)| k == kind && n == name && r == reason)
}

#[tokio::test(start_paused = true)]
async fn the_loop_allocates_retries_hands_over_and_keeps_the_last_good_config() {
    let (mut api, registry) = start();

    // 1. Services are listed, the ConfigMap list is held back: a whole minute passes and
    //    nothing is written, because no address is handed out before both caches sync.
    api.serve_list(
        SERVICES,
        "ServiceList",
        vec![
            service("a", "1", &["192.0.2.11"]),
            service("b", "2", &[]),
            service("c", "3", &[]),
        ],
    );
    let wrote = api
        .pump_until(Duration::from_secs(60), |w| !w.is_empty())
        .await;
    assert!(
        !wrote,
        "wrote before the config was listed: {:?}",
        api.writes
    );
    assert!(api.parked_lists.contains_key(CONFIGMAPS));

    // 2. The config arrives. b gets the free address; its first PUT meets a 409 and is
    //    retried; a keeps .11 untouched; c finds the pool full.
    api.conflicts
        .insert("/api/v1/namespaces/shop/services/b/status".into());
    api.serve_list(CONFIGMAPS, "ConfigMapList", vec![configmap("5", CONFIG)]);
    let settled = api
        .pump_until(Duration::from_secs(60), |w| {
            puts_for(w, "b").len() == 2
                && has_event(w, "Service", "b", "IPAllocated")
                && has_event(w, "Service", "c", "AllocationFailed")
        })
        .await;
    assert!(settled, "{:#?}", api.writes);
    let first_put = api
        .writes
        .iter()
        .find(|w| w.status_put_for("b").is_some())
        .expect("a PUT for b");
    assert_eq!(first_put.body["metadata"]["resourceVersion"], "2");
    assert_eq!(
        puts_for(&api.writes, "b"),
        [vec!["192.0.2.10".to_owned()], vec!["192.0.2.10".to_owned()]]
    );
    assert!(
        puts_for(&api.writes, "a").is_empty(),
        "a valid IP rewritten"
    );
    assert!(puts_for(&api.writes, "c").is_empty());
    api.settle().await;
    let gauge_of = |name: &str| gauge(&registry, name, Some(("pool", "default")));
    assert_eq!(
        gauge_of("metallb_allocator_addresses_in_use_total"),
        Some(2.0)
    );
    assert_eq!(gauge_of("metallb_allocator_addresses_total"), Some(2.0));
    assert_eq!(
        gauge(&registry, "metallb_k8s_client_update_errors_total", None),
        Some(1.0)
    );
    assert_eq!(
        gauge(&registry, "metallb_k8s_client_config_loaded_bool", None),
        Some(1.0)
    );

    // 3. Deleting a hands .11 to the pending c.
    api.push_watch(SERVICES, &[("DELETED", service("a", "7", &["192.0.2.11"]))])
        .await;
    let handed = api
        .pump_until(Duration::from_secs(60), |w| !puts_for(w, "c").is_empty())
        .await;
    assert!(handed, "{:#?}", api.writes);
    assert_eq!(puts_for(&api.writes, "c"), [vec!["192.0.2.11".to_owned()]]);

    // 4. A broken config is refused with a Warning Event on the ConfigMap; the old one stays.
    let before = api.writes.len();
    api.push_watch(
        CONFIGMAPS,
        &[("MODIFIED", configmap("8", "address-pools: 1\n"))],
    )
    .await;
    let warned = api
        .pump_until(Duration::from_secs(60), |w| {
            w.iter()
                .filter_map(Write::event)
                .any(|(kind, name, _, _)| kind == "ConfigMap" && name == "config")
        })
        .await;
    assert!(warned, "{:#?}", &api.writes[before..]);
    let (_, _, _, message) = api.writes[before..]
        .iter()
        .find_map(Write::event)
        .expect("the ConfigMap event");
    assert!(message.contains("could not parse config"), "{message}");
    let warning = api.writes[before..]
        .iter()
        .find(|w| w.event().is_some())
        .expect("event");
    assert_eq!(warning.body["type"], "Warning");
    api.settle().await;
    assert_eq!(
        gauge(&registry, "metallb_k8s_client_config_stale_bool", None),
        Some(1.0)
    );

    // 5. Allocation goes on under the last good config: b leaves, d takes its address.
    let before = api.writes.len();
    api.push_watch(
        SERVICES,
        &[
            ("DELETED", service("b", "9", &["192.0.2.10"])),
            ("ADDED", service("d", "10", &[])),
        ],
    )
    .await;
    let assigned = api
        .pump_until(Duration::from_secs(60), |w| !puts_for(w, "d").is_empty())
        .await;
    assert!(assigned, "{:#?}", &api.writes[before..]);
    assert_eq!(puts_for(&api.writes, "d"), [vec!["192.0.2.10".to_owned()]]);
    assert!(puts_for(&api.writes[before..], "c").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_restart_with_existing_statuses_writes_no_status() {
    let (mut api, registry) = start();
    api.serve_list(
        SERVICES,
        "ServiceList",
        vec![
            service("a", "1", &["192.0.2.11"]),
            service("b", "2", &["192.0.2.10"]),
        ],
    );
    api.serve_list(CONFIGMAPS, "ConfigMapList", vec![configmap("5", CONFIG)]);
    let wrote = api
        .pump_until(Duration::from_secs(120), |w| {
            w.iter().any(|w| w.method == Method::PUT)
        })
        .await;
    assert!(!wrote, "{:#?}", api.writes);
    // The loop did run: both addresses are counted as in use.
    assert_eq!(
        gauge(
            &registry,
            "metallb_allocator_addresses_in_use_total",
            Some(("pool", "default"))
        ),
        Some(2.0)
    );
}
