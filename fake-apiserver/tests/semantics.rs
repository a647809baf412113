//! Requests through a real kube client against the in-process server: the registry
//! semantics clients depend on.

use fake_apiserver::FakeApi;
use k8s_openapi::api::core::v1::{Event, ObjectReference, Service, ServiceSpec, ServiceStatus};
use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason, s.message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn service(name: &str) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name},
                     "annotations": {"metallb.universe.tf/address-pool": "p"},
                     "finalizers": ["example.com/keep"]},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }))
    .expect("test input")
}

fn with_ingress(mut s: Service, ip: &str) -> Service {
    s.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(vec![LoadBalancerIngress {
                ip: Some(ip.into()),
                ..Default::default()
            }]),
        }),
        conditions: None,
    });
    s
}

#[tokio::test]
async fn status_put_with_stripped_metadata_wipes_labels_annotations_finalizers_but_not_spec() {
    let fake = FakeApi::new();
    let api: Api<Service> = Api::namespaced(fake.client(), "default");
    let created = api
        .create(&PostParams::default(), &service("web"))
        .await
        .expect("test input");

    // What a careless controller sends: name/namespace/resourceVersion only, and a spec that
    // the status strategy must ignore.
    let stripped = with_ingress(
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                resource_version: created.metadata.resource_version.clone(),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".into()),
                ..Default::default()
            }),
            status: None,
        },
        "192.0.2.1",
    );
    let out = api
        .replace_status("web", &PostParams::default(), &stripped)
        .await
        .expect("test input");
    assert_eq!(out.metadata.labels, None);
    assert_eq!(out.metadata.annotations, None);
    assert_eq!(out.metadata.finalizers, None);
    assert_eq!(out.metadata.uid, created.metadata.uid);
    assert_eq!(
        out.spec.as_ref().expect("test input").type_.as_deref(),
        Some("LoadBalancer")
    );
    let stored = fake
        .get("services", Some("default"), "web")
        .expect("test input");
    assert_eq!(stored["metadata"].get("labels"), None);
    assert_eq!(stored["spec"]["type"], "LoadBalancer");
    assert_eq!(
        stored["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.1"
    );

    // The same PUT again carries a stale resourceVersion.
    let (code, reason, message) = api_error(
        api.replace_status("web", &PostParams::default(), &stripped)
            .await
            .expect_err("test input"),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(
        message,
        "Operation cannot be fulfilled on services \"web\": the object has been modified; please \
         apply your changes to the latest version and try again"
    );
}

#[tokio::test]
async fn status_put_with_full_metadata_keeps_it() {
    let fake = FakeApi::new();
    let api: Api<Service> = Api::namespaced(fake.client(), "default");
    let created = api
        .create(&PostParams::default(), &service("web"))
        .await
        .expect("test input");
    let body = with_ingress(created.clone(), "192.0.2.2");
    let out = api
        .replace_status("web", &PostParams::default(), &body)
        .await
        .expect("test input");
    assert_eq!(out.metadata.labels, created.metadata.labels);
    assert_eq!(out.metadata.annotations, created.metadata.annotations);
    assert_eq!(out.metadata.finalizers, created.metadata.finalizers);
    let rv = |s: &Service| {
        s.metadata
            .resource_version
            .clone()
            .expect("test input")
            .parse::<u64>()
            .expect("test input")
    };
    assert_eq!(rv(&out), rv(&created) + 1);
    assert_eq!(fake.resource_version(), rv(&out));

    // A main-resource PUT cannot touch status.
    let mut edit = with_ingress(out.clone(), "203.0.113.9");
    edit.metadata.labels = None;
    let replaced = api
        .replace("web", &PostParams::default(), &edit)
        .await
        .expect("test input");
    assert_eq!(replaced.metadata.labels, None);
    let ip = &replaced
        .status
        .expect("test input")
        .load_balancer
        .expect("test input")
        .ingress
        .expect("test input")[0]
        .ip;
    assert_eq!(ip.as_deref(), Some("192.0.2.2"));
}

#[tokio::test]
async fn create_get_delete_and_their_errors() {
    let fake = FakeApi::new();
    let api: Api<Service> = Api::namespaced(fake.client(), "default");
    let (code, reason, message) = api_error(api.get("web").await.expect_err("test input"));
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (404, "NotFound", "services \"web\" not found")
    );

    let a = api
        .create(&PostParams::default(), &service("web"))
        .await
        .expect("test input");
    let b = api
        .create(&PostParams::default(), &service("db"))
        .await
        .expect("test input");
    assert!(a.metadata.uid.is_some() && a.metadata.uid != b.metadata.uid);
    assert!(a.metadata.creation_timestamp.is_some());
    let (code, reason, _) = api_error(
        api.create(&PostParams::default(), &service("web"))
            .await
            .expect_err("test input"),
    );
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(
        api.get("web").await.expect("test input").metadata.uid,
        a.metadata.uid
    );

    // With a finalizer, delete only marks the object.
    let marked = api
        .delete("web", &DeleteParams::default())
        .await
        .expect("test input")
        .left()
        .expect("test input");
    assert!(marked.metadata.deletion_timestamp.is_some());
    let mut last = api.get("web").await.expect("test input");
    last.metadata.finalizers = None;
    api.replace("web", &PostParams::default(), &last)
        .await
        .expect("test input");
    assert_eq!(
        api_error(api.get("web").await.expect_err("test input")).0,
        404
    );
    assert_eq!(
        api_error(
            api.delete("web", &DeleteParams::default())
                .await
                .expect_err("test input")
        )
        .0,
        404
    );

    // Events get their name from generateName.
    let events: Api<Event> = Api::namespaced(fake.client(), "default");
    let ev = Event {
        metadata: ObjectMeta {
            generate_name: Some("db.".into()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: Some("Service".into()),
            name: Some("db".into()),
            ..Default::default()
        },
        reason: Some("IPAllocated".into()),
        ..Default::default()
    };
    let e1 = events
        .create(&PostParams::default(), &ev)
        .await
        .expect("test input");
    let e2 = events
        .create(&PostParams::default(), &ev)
        .await
        .expect("test input");
    let (n1, n2) = (
        e1.metadata.name.expect("test input"),
        e2.metadata.name.expect("test input"),
    );
    assert!(
        n1.starts_with("db.") && n1.len() > 3 && n1 != n2,
        "{n1} {n2}"
    );
    assert_eq!(e1.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(fake.objects("events").len(), 2);
}

#[tokio::test]
async fn list_pages_with_limit_and_continue_and_selects() {
    let fake = FakeApi::new();
    for i in 0..250 {
        let ns = if i % 5 == 0 { "other" } else { "default" };
        fake.upsert(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc-{i:03}"), "namespace": ns,
                         "labels": {"tier": if i % 2 == 0 { "even" } else { "odd" }}},
            "spec": {"type": "LoadBalancer"},
        }));
    }
    let all: Api<Service> = Api::all(fake.client());
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(100);
    let mut pages = 0;
    let mut first_rv = None;
    loop {
        let page = all.list(&lp).await.expect("test input");
        pages += 1;
        first_rv.get_or_insert(page.metadata.resource_version.clone());
        assert_eq!(Some(page.metadata.resource_version.clone()), first_rv);
        names.extend(
            page.items
                .into_iter()
                .map(|s| s.metadata.name.expect("test input")),
        );
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
        // A write between pages does not change the list's resourceVersion.
        fake.upsert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{pages}")}}));
    }
    assert_eq!((pages, names.len()), (3, 250));
    assert_eq!(
        names[0], "svc-001",
        "namespace 'default' sorts before 'other'"
    );
    assert_eq!(
        names.iter().collect::<std::collections::HashSet<_>>().len(),
        250
    );

    let ns: Api<Service> = Api::namespaced(fake.client(), "other");
    assert_eq!(
        ns.list(&ListParams::default())
            .await
            .expect("test input")
            .items
            .len(),
        50
    );
    let even = ns
        .list(&ListParams::default().labels("tier=even"))
        .await
        .expect("test input");
    assert_eq!(even.items.len(), 25, "every tenth is even and in \"other\"");
    let odd_default = all
        .list(
            &ListParams::default()
                .labels("tier!=even")
                .fields("metadata.namespace=default"),
        )
        .await
        .expect("test input");
    assert_eq!(odd_default.items.len(), 100);
    let one = all
        .list(&ListParams::default().fields("metadata.name=svc-007"))
        .await
        .expect("test input");
    assert_eq!(one.items.len(), 1);
    let bad = api_error(
        all.list(&ListParams::default().fields("spec.type=x"))
            .await
            .expect_err("test input"),
    );
    assert_eq!(
        (bad.0, bad.2.as_str()),
        (400, "field label not supported: spec.type")
    );

    // A continue token from before a compaction has expired.
    let page = all
        .list(&ListParams::default().limit(10))
        .await
        .expect("test input");
    fake.compact();
    let token = page.metadata.continue_.expect("test input");
    let (code, reason, _) = api_error(
        all.list(&ListParams::default().limit(10).continue_token(&token))
            .await
            .expect_err("test input"),
    );
    assert_eq!((code, reason.as_str()), (410, "Expired"));
}

#[tokio::test]
async fn unknown_paths_and_unserved_resources_are_404_status() {
    let fake = FakeApi::new();
    let client = fake.client();
    let req = http::Request::get("/apis/metallb.io/v1beta1/addresspools")
        .body(Vec::new())
        .expect("test input");
    let (code, reason, _) = api_error(
        client
            .request::<serde_json::Value>(req)
            .await
            .expect_err("test input"),
    );
    assert_eq!((code, reason.as_str()), (404, "NotFound"));

    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let slices: Api<EndpointSlice> = Api::all(fake.client());
    assert!(slices.list(&ListParams::default()).await.is_ok());
    fake.unserve("endpointslices");
    assert_eq!(
        api_error(
            slices
                .list(&ListParams::default())
                .await
                .expect_err("test input")
        )
        .0,
        404
    );
    let records = fake.requests();
    let last = records.last().expect("test input");
    assert_eq!(
        (last.method.as_str(), last.path.as_str(), last.status),
        ("GET", "/apis/discovery.k8s.io/v1/endpointslices", 404)
    );
}
