//! RBAC, latency and outages, in-process and under paused time.

use std::time::Duration;

use fake_apiserver::{FakeApi, Rbac, Rule, Verb};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, PostParams, WatchParams};
use kube::runtime::watcher;
use serde_json::json;
use tokio::time::Instant;

const SPEAKER: &str = "system:serviceaccount:metallb-system:speaker";

fn svc(name: &str) -> Service {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"}, "spec": {"type": "LoadBalancer"}}))
    .expect("test input")
}

fn status_of(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn rbac_denies_with_the_real_403_and_allows_granted_verbs() {
    let fake = FakeApi::new();
    fake.upsert(serde_json::to_value(svc("web")).expect("test input"));
    fake.set_rbac(Some(
        Rbac::new(SPEAKER)
            .allow(Rule::cluster(
                &[Verb::Get, Verb::List, Verb::Watch],
                "",
                &["services"],
            ))
            .allow(Rule::namespaced(
                "metallb-system",
                &[Verb::Create],
                "",
                &["events"],
            )),
    ));
    let slices: Api<EndpointSlice> = Api::all(fake.client());
    let s = status_of(
        slices
            .list(&ListParams::default())
            .await
            .expect_err("test input"),
    );
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        s.message,
        "endpointslices.discovery.k8s.io is forbidden: User \"system:serviceaccount:metallb-system:speaker\" \
         cannot list resource \"endpointslices\" in API group \"discovery.k8s.io\" at the cluster scope"
    );
    let d = s.details.expect("test input");
    assert_eq!(
        (d.group.as_str(), d.kind.as_str()),
        ("discovery.k8s.io", "endpointslices")
    );

    let services: Api<Service> = Api::all(fake.client());
    assert_eq!(
        services
            .list(&ListParams::default())
            .await
            .expect("test input")
            .items
            .len(),
        1
    );
    let ns: Api<Service> = Api::namespaced(fake.client(), "default");
    assert!(ns.get("web").await.is_ok());
    let s = status_of(
        ns.replace_status("web", &PostParams::default(), &svc("web"))
            .await
            .expect_err("test input"),
    );
    assert_eq!(
        s.message,
        format!(
            "services \"web\" is forbidden: User \"{SPEAKER}\" cannot update resource \"services/status\" in API group \"\" in the namespace \"default\""
        )
    );

    let event = serde_json::from_value::<Event>(json!({"metadata": {"name": "e1"},
        "involvedObject": {"kind": "Service", "name": "web"}}))
    .expect("test input");
    let here: Api<Event> = Api::namespaced(fake.client(), "metallb-system");
    assert!(here.create(&PostParams::default(), &event).await.is_ok());
    let there: Api<Event> = Api::namespaced(fake.client(), "default");
    assert_eq!(
        status_of(
            there
                .create(&PostParams::default(), &event)
                .await
                .expect_err("test input")
        )
        .code,
        403
    );

    fake.set_rbac(None);
    assert!(slices.list(&ListParams::default()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn latency_delays_only_the_chosen_verbs_and_applies_after_the_delay() {
    let fake = FakeApi::new();
    fake.set_latency(&[Verb::Create, Verb::Update], Duration::from_secs(2));
    let api: Api<Service> = Api::namespaced(fake.client(), "default");

    let t0 = Instant::now();
    api.list(&ListParams::default()).await.expect("test input");
    assert_eq!(t0.elapsed(), Duration::ZERO);

    let create = tokio::spawn({
        let api = api.clone();
        async move { api.create(&PostParams::default(), &svc("web")).await }
    });
    tokio::time::sleep(Duration::from_millis(1900)).await;
    assert!(
        fake.get("services", Some("default"), "web").is_none(),
        "not applied yet"
    );
    assert!(create.await.expect("test input").is_ok());
    assert!(t0.elapsed() >= Duration::from_secs(2) && t0.elapsed() < Duration::from_millis(2100));
    assert!(fake.get("services", Some("default"), "web").is_some());

    fake.set_latency(&[Verb::Create], Duration::ZERO);
    let t1 = Instant::now();
    api.create(&PostParams::default(), &svc("db"))
        .await
        .expect("test input");
    assert_eq!(t1.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn outage_fails_requests_ends_watches_and_recovers_with_the_same_store() {
    let fake = FakeApi::new();
    fake.upsert(serde_json::to_value(svc("a")).expect("test input"));
    let api: Api<Service> = Api::all(fake.client());
    let rv = fake.resource_version().to_string();
    let mut open = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("test input")
        .boxed();
    let mut w = watcher::watcher(api.clone(), watcher::Config::default())
        .boxed()
        .filter_map(|e| async move { e.ok() })
        .boxed();
    for _ in 0..3 {
        w.next().await; // Init, InitApply a, InitDone
    }

    fake.set_down(true);
    let err = api
        .list(&ListParams::default())
        .await
        .expect_err("test input");
    assert!(
        matches!(err, kube::Error::Service(_)),
        "transport error, got {err:?}"
    );
    let mut ended = false;
    while let Some(item) = open.next().await {
        assert!(item.is_err(), "only an error before the end, got {item:?}");
        ended = true;
    }
    assert!(ended, "the open watch fails abruptly");

    // Changes during the outage (admin writes still work) reach the watcher once back up.
    fake.upsert(serde_json::to_value(svc("b")).expect("test input"));
    tokio::time::sleep(Duration::from_secs(10)).await;
    fake.set_down(false);
    assert_eq!(
        api.list(&ListParams::default())
            .await
            .expect("test input")
            .items
            .len(),
        2
    );
    match tokio::time::timeout(Duration::from_secs(120), w.next()).await {
        Ok(Some(watcher::Event::Apply(s))) => assert_eq!(s.metadata.name.as_deref(), Some("b")),
        other => panic!("expected Apply b, got {other:?}"),
    }
    // Requests refused during the outage never reached the server, so none is logged.
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
}
