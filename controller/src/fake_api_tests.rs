//! The whole controller loop against the fake API server (`fake-apiserver`), which applies
//! writes as kube-apiserver does: a status PUT takes metadata from the body and spec from
//! storage, a stale resourceVersion is a 409, a compacted history is a 410 and a re-list.
//! Every test runs under upstream v0.12.1's RBAC (anything else is a 403) and asserts on what
//! the server stores, not on what the controller sent.

use std::time::Duration;

use fake_apiserver::releases::{self, Component, Release};
use fake_apiserver::{FakeApi, Rbac, Verb};
use prometheus::Registry;
use serde_json::{Value, json};

use crate::loop_tests::ingress_ips as ips;
use crate::run::{Metrics, reconcile_loop};

const NS: &str = "metallb-system";
const CONFIG: &str = "address-pools:
- name: a
  protocol: layer2
  addresses: [192.0.2.10-192.0.2.14]
- name: b
  protocol: layer2
  addresses: [198.51.100.10-198.51.100.14]
";

/// v0.12.1's grants to the controller's ServiceAccount.
fn v0_12_1_rbac() -> Rbac {
    releases::rbac(Release::V0_12_1, Component::Controller)
}

/// A Service as a real cluster has it: labels, kubectl's last-applied-configuration, another
/// tool's annotation, a sharing key, a finalizer and an owner.
fn dressed(name: &str, port: i32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": name, "namespace": "shop",
            "labels": {"app": "web", "team": "shop"},
            "annotations": {
                "metallb.universe.tf/allow-shared-ip": "web",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Service\"}\n",
                "other.tool/owner": "platform"
            },
            "finalizers": ["example.com/keep"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "uid": "dep-uid", "controller": true}]
        },
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "ports": [{"name": "p", "port": port, "protocol": "TCP", "targetPort": 8080}],
                 "selector": {"app": "web"}, "externalTrafficPolicy": "Cluster"}
    })
}

fn plain(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.1.1",
                 "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": name}}
    })
}

fn start(api: &FakeApi) -> (tokio::task::JoinHandle<()>, Registry) {
    start_under(api, v0_12_1_rbac())
}

fn start_under(api: &FakeApi, rbac: Rbac) -> (tokio::task::JoinHandle<()>, Registry) {
    api.set_rbac(Some(rbac));
    api.upsert(json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "config", "namespace": NS},
                      "data": {"config": CONFIG}}));
    let client = api.client();
    let registry = Registry::new();
    let metrics = Metrics::new(&registry).expect("metrics");
    let task = tokio::spawn(async move {
        let result = reconcile_loop(client, NS.into(), "config".into(), metrics);
        if let Err(e) = result.await {
            panic!("controller loop ended: {e:#}");
        }
    });
    (task, registry)
}

fn stored(api: &FakeApi, name: &str) -> Value {
    api.get("services", Some("shop"), name)
        .unwrap_or_else(|| panic!("service {name} is stored"))
}

/// Waits (virtual time) until `done` holds for the stored objects.
async fn until(api: &FakeApi, limit: Duration, done: impl Fn(&FakeApi) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done(api) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done(api)
}

/// What someone other than the controller set, as stored now.
fn others(obj: &Value) -> Value {
    let m = &obj["metadata"];
    json!([
        m["labels"],
        m["annotations"],
        m["finalizers"],
        m["ownerReferences"]
    ])
}

/// Updates a Service as its owner would (kubectl edit): read, change, write back.
fn edit(api: &FakeApi, name: &str, change: impl FnOnce(&mut Value)) {
    let mut obj = stored(api, name);
    change(&mut obj);
    api.upsert(obj);
}

fn no_forbidden(api: &FakeApi) {
    let denied = api.forbidden_requests();
    assert!(denied.is_empty(), "outside v0.12.1's RBAC: {denied:?}");
}

#[tokio::test(start_paused = true)]
async fn every_status_write_keeps_what_others_set() {
    let api = FakeApi::new();
    api.upsert(dressed("web", 80));
    api.upsert(dressed("web-udp", 53));
    let original = others(&stored(&api, "web"));
    let (_task, _) = start(&api);

    // Assign: both get an IP, the same one, because the sharing key survived the first write.
    let assigned = until(&api, Duration::from_secs(30), |api| {
        !ips(&stored(api, "web")).is_empty() && !ips(&stored(api, "web-udp")).is_empty()
    })
    .await;
    assert!(assigned, "{:#?}", api.requests());
    let (web, udp) = (stored(&api, "web"), stored(&api, "web-udp"));
    assert_eq!(ips(&web), ["192.0.2.10"]);
    assert_eq!(ips(&udp), ips(&web), "allow-shared-ip was lost on a write");
    assert_eq!(others(&web), original);
    assert_eq!(others(&udp), original);

    // Change: the owner moves web to pool b; the controller's new IP keeps the new annotation.
    edit(&api, "web", |o| {
        o["metadata"]["annotations"]["metallb.universe.tf/address-pool"] = json!("b");
    });
    let expected = others(&stored(&api, "web"));
    let moved = until(&api, Duration::from_secs(30), |api| {
        ips(&stored(api, "web")) == ["198.51.100.10"]
    })
    .await;
    assert!(moved, "{:#?}", stored(&api, "web"));
    assert_eq!(others(&stored(&api, "web")), expected);

    // Clear: web stops being a LoadBalancer; its status is cleared, its metadata kept.
    edit(&api, "web", |o| o["spec"]["type"] = json!("ClusterIP"));
    let cleared = until(&api, Duration::from_secs(30), |api| {
        ips(&stored(api, "web")).is_empty()
    })
    .await;
    assert!(cleared);
    assert_eq!(others(&stored(&api, "web")), expected);

    // 409: the owner edits web while the controller's PUT is in flight (every update takes
    // 2 s). The PUT meets a newer resourceVersion; the controller reads web again and writes
    // on top of the owner's change, which survives.
    api.set_latency(&[Verb::Update], Duration::from_secs(2));
    edit(&api, "web", |o| o["spec"]["type"] = json!("LoadBalancer"));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    edit(&api, "web", |o| {
        o["metadata"]["labels"]["edited"] = json!("while-writing")
    });
    let expected = others(&stored(&api, "web"));
    let rewritten = until(&api, Duration::from_secs(30), |api| {
        !ips(&stored(api, "web")).is_empty()
    })
    .await;
    assert!(rewritten);
    let web = stored(&api, "web");
    assert_eq!(ips(&web), ["198.51.100.10"]);
    assert_eq!(others(&web), expected);
    let status_path = "/api/v1/namespaces/shop/services/web/status";
    let conflicts = api
        .requests()
        .iter()
        .filter(|r| r.path == status_path && r.status == 409)
        .count();
    assert_eq!(conflicts, 1, "the in-flight PUT must have met the edit");
    no_forbidden(&api);
}

#[tokio::test(start_paused = true)]
async fn an_outage_and_a_relist_change_no_ip_and_forget_the_deleted() {
    let api = FakeApi::new();
    // Ten services fill both pools.
    for i in 0..10 {
        api.upsert(plain(&format!("s{i}")));
    }
    let (task, _) = start(&api);
    let all = |api: &FakeApi| (0..10).all(|i| !ips(&stored(api, &format!("s{i}"))).is_empty());
    assert!(until(&api, Duration::from_secs(30), all).await);
    let freed = ips(&stored(&api, "s9"));
    let requests_before = api.requests().len();

    // A minute without an API server, during which s9 is deleted; the server returns with its
    // history compacted, so the deletion is only learnt from a re-list.
    api.set_down(true);
    tokio::time::sleep(Duration::from_secs(30)).await;
    api.delete("services", Some("shop"), "s9");
    let before: Vec<Value> = api.objects("services");
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        !task.is_finished(),
        "the controller exited during the outage"
    );
    api.compact();
    api.set_down(false);
    // kube-runtime's back-off (as client-go's): up to 30 s, plus as much again of jitter.
    let relisted = until(&api, Duration::from_secs(121), |api| {
        api.requests()[requests_before..]
            .iter()
            .any(|r| r.path == "/api/v1/services" && !r.query.contains("watch"))
    })
    .await;
    assert!(
        relisted,
        "no re-list after the outage: {:#?}",
        &api.requests()[requests_before..]
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    let writes: Vec<String> = api.requests()[requests_before..]
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.path.clone())
        .collect();
    assert!(writes.is_empty(), "writes after the outage: {writes:?}");
    let after: Vec<Value> = api.objects("services");
    assert_eq!(
        before.iter().map(ips).collect::<Vec<_>>(),
        after.iter().map(ips).collect::<Vec<_>>()
    );

    // The re-list released s9's address: the next service gets it.
    api.upsert(plain("late"));
    let assigned = until(&api, Duration::from_secs(30), |api| {
        !ips(&stored(api, "late")).is_empty()
    })
    .await;
    assert!(assigned, "the deleted service still holds its address");
    assert_eq!(ips(&stored(&api, "late")), freed);
    no_forbidden(&api);
}

#[tokio::test(start_paused = true)]
async fn a_slow_api_server_does_not_hold_up_decisions() {
    let api = FakeApi::new();
    let (_task, _) = start(&api);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Event POSTs take 10 s each: status writes must not queue behind them.
    api.set_latency(&[Verb::Create], Duration::from_secs(10));
    let t0 = tokio::time::Instant::now();
    for i in 0..5 {
        api.upsert(plain(&format!("s{i}")));
    }
    let all = |api: &FakeApi| (0..5).all(|i| !ips(&stored(api, &format!("s{i}"))).is_empty());
    assert!(until(&api, Duration::from_secs(30), all).await);
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "statuses waited for Events: {:?}",
        t0.elapsed()
    );
    no_forbidden(&api);
}

#[tokio::test(start_paused = true)]
async fn the_memberlist_secret_is_created_whole_and_owned() {
    let api = FakeApi::new();
    api.set_rbac(Some(v0_12_1_rbac()));
    api.upsert(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "controller", "namespace": NS}, "spec": {}}));
    let client = api.client();
    let created = crate::k8s::secret::ensure(&client, NS, "memberlist", "controller")
        .await
        .expect("created");
    assert!(created);
    let secret = api.get("secrets", Some(NS), "memberlist").expect("stored");
    let owner = api
        .get("deployments", Some(NS), "controller")
        .expect("stored");
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["uid"],
        owner["metadata"]["uid"]
    );
    assert!(secret["data"]["secretkey"].is_string());
    // A second start leaves it alone.
    let again = crate::k8s::secret::ensure(&client, NS, "memberlist", "controller")
        .await
        .expect("listed");
    assert!(!again);
    no_forbidden(&api);
}

#[tokio::test(start_paused = true)]
async fn every_release_rbac_is_enough_to_assign() {
    for release in Release::ALL {
        let api = FakeApi::new();
        api.upsert(dressed("web", 80));
        let (task, _) = start_under(&api, releases::rbac(release, Component::Controller));
        let assigned = until(&api, Duration::from_secs(30), |api| {
            !ips(&stored(api, "web")).is_empty()
        })
        .await;
        assert!(assigned, "v{}: {:#?}", release.version(), api.requests());
        no_forbidden(&api);
        task.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn without_secret_rights_the_memberlist_secret_is_left_to_the_operator() {
    // v0.9's controller may not touch Secrets; the operator created the Secret by hand.
    let api = FakeApi::new();
    api.set_rbac(Some(releases::rbac(Release::V0_9_3, Component::Controller)));
    let registry = Registry::new();
    let forbidden = kube_shell::Forbidden::new(&registry).expect("register");
    let done = tokio::time::timeout(
        Duration::from_secs(60),
        crate::k8s::secret::keep_ensuring(
            api.client(),
            NS.into(),
            "memberlist".into(),
            "controller".into(),
            forbidden,
        ),
    )
    .await;
    assert!(done.is_ok(), "kept retrying a forbidden call");
    let denied: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert_eq!(denied.len(), 1, "one try, no storm: {denied:#?}");
    let counted = registry
        .gather()
        .into_iter()
        .find(|m| m.name() == "metallb_k8s_client_forbidden_total")
        .map(|m| {
            m.get_metric()
                .iter()
                .map(|c| c.get_counter().get_value())
                .sum::<f64>()
        });
    assert_eq!(counted, Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn a_forbidden_status_write_backs_off_instead_of_storming() {
    // An install whose ClusterRole lost `update services/status`.
    let mut rbac = v0_12_1_rbac();
    rbac.rules
        .retain(|r| !r.resources.iter().any(|x| x == "services/status"));
    let api = FakeApi::new();
    for i in 0..5 {
        api.upsert(plain(&format!("s{i}")));
    }
    let (task, registry) = start_under(&api, rbac);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(!task.is_finished(), "the controller exited over a 403");
    let denied = api.requests().iter().filter(|r| r.status == 403).count();
    // Per service, back-off from 5 ms doubling: about 17 tries in ten minutes, not thousands.
    assert!((5..=5 * 20).contains(&denied), "{denied} denied writes");
    let counted: f64 = registry
        .gather()
        .into_iter()
        .find(|m| m.name() == "metallb_k8s_client_forbidden_total")
        .map(|m| {
            m.get_metric()
                .iter()
                .map(|c| c.get_counter().get_value())
                .sum()
        })
        .unwrap_or_default();
    assert_eq!(counted as usize, denied);
}
