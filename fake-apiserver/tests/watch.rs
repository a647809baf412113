//! Watches: history replay, live events, `410 Expired` after a compaction and kube-runtime's
//! watcher re-listing because of it. Paused time: timeouts and backoffs cost nothing.

use std::time::Duration;

use fake_apiserver::FakeApi;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};

fn svc(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
           "spec": {"type": "LoadBalancer"}})
}

fn name(s: &Service) -> String {
    s.metadata.name.clone().unwrap_or_default()
}

/// Watcher events as short strings (`InitApply a`, `Delete b`), errors as `Error <code>`.
async fn next(w: &mut (impl Stream<Item = watcher::Result<Event<Service>>> + Unpin)) -> String {
    let item = tokio::time::timeout(Duration::from_secs(3600), w.next())
        .await
        .expect("watcher event within an hour of virtual time")
        .expect("watcher stream does not end");
    match item {
        Ok(Event::Init) => "Init".into(),
        Ok(Event::InitApply(s)) => format!("InitApply {}", name(&s)),
        Ok(Event::InitDone) => "InitDone".into(),
        Ok(Event::Apply(s)) => format!("Apply {}", name(&s)),
        Ok(Event::Delete(s)) => format!("Delete {}", name(&s)),
        Err(watcher::Error::WatchError(s)) => format!("Error {}", s.code),
        Err(e) => format!("Error {e}"),
    }
}

#[tokio::test(start_paused = true)]
async fn watcher_lists_follows_and_relists_after_compaction() {
    let fake = FakeApi::new();
    fake.upsert(svc("a"));
    fake.upsert(svc("b"));
    let api: Api<Service> = Api::all(fake.client());
    let mut w = watcher::watcher(api, watcher::Config::default()).boxed();
    for want in ["Init", "InitApply a", "InitApply b", "InitDone"] {
        assert_eq!(next(&mut w).await, want);
    }

    let ns: Api<Service> = Api::namespaced(fake.client(), "default");
    let c = serde_json::from_value(svc("c")).unwrap();
    ns.create(&PostParams::default(), &c).await.unwrap();
    assert_eq!(next(&mut w).await, "Apply c");
    fake.delete("services", Some("default"), "b");
    assert_eq!(next(&mut w).await, "Delete b");

    // The history is gone and `a` goes while the watcher reconnects: resuming from its
    // resourceVersion is 410, and only a re-list can tell it `a` is gone.
    fake.compact();
    fake.delete("services", Some("default"), "a");
    for want in ["Error 410", "Init", "InitApply c", "InitDone"] {
        assert_eq!(next(&mut w).await, want);
    }
    // And it follows live events again from the re-list's version.
    fake.upsert(svc("d"));
    assert_eq!(next(&mut w).await, "Apply d");
}

#[tokio::test(start_paused = true)]
async fn raw_watch_replays_history_reports_expired_and_times_out() {
    let fake = FakeApi::new();
    let first = fake.upsert(svc("a"));
    let rv_a = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    fake.upsert(svc("b"));
    let mut b2 = svc("b");
    b2["metadata"]["labels"]["app"] = "x".into();
    fake.upsert(b2);
    let api: Api<Service> = Api::all(fake.client());

    // From a's version: b's ADDED and MODIFIED, then a live event, then the timeout ends it.
    let wp = WatchParams::default().timeout(30);
    let mut s = api.watch(&wp, &rv_a).await.unwrap().boxed();
    let mut seen = Vec::new();
    for _ in 0..2 {
        match s.next().await {
            Some(Ok(WatchEvent::Added(o))) => seen.push(format!("ADDED {}", name(&o))),
            Some(Ok(WatchEvent::Modified(o))) => seen.push(format!("MODIFIED {}", name(&o))),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["ADDED b", "MODIFIED b"]);
    fake.delete("services", Some("default"), "a");
    assert!(matches!(s.next().await, Some(Ok(WatchEvent::Deleted(o))) if name(&o) == "a"));
    let t0 = tokio::time::Instant::now();
    assert!(s.next().await.is_none(), "ends after timeoutSeconds");
    assert!(t0.elapsed() <= Duration::from_secs(30));

    // A label selector turns b's relabelling into a DELETED for `app=b` watchers.
    let sel = WatchParams::default().labels("app=b").timeout(1);
    let mut s = api.watch(&sel, &rv_a).await.unwrap().boxed();
    assert!(matches!(s.next().await, Some(Ok(WatchEvent::Added(_)))));
    assert!(matches!(s.next().await, Some(Ok(WatchEvent::Deleted(_)))));

    // resourceVersion 0: the current state as synthetic ADDED events.
    let mut s = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(s.next().await, Some(Ok(WatchEvent::Added(o))) if name(&o) == "b"));
    assert!(s.next().await.is_none());

    fake.compact();
    let mut s = api.watch(&wp, &rv_a).await.unwrap().boxed();
    match s.next().await {
        Some(Ok(WatchEvent::Error(e))) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            let floor = fake.resource_version();
            assert_eq!(
                e.message,
                format!("too old resource version: {rv_a} ({floor})")
            );
        }
        other => panic!("expected 410, got {other:?}"),
    }
    assert!(s.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn compaction_closes_open_watches_and_bookmarks_carry_the_version() {
    let fake = FakeApi::new();
    fake.upsert(svc("a"));
    let api: Api<Service> = Api::all(fake.client());
    let rv = fake.resource_version().to_string();
    let wp = WatchParams {
        bookmarks: true,
        ..Default::default()
    };
    let mut s = api.watch(&wp, &rv).await.unwrap().boxed();
    fake.upsert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}));
    match s.next().await {
        Some(Ok(WatchEvent::Bookmark(b))) => {
            assert_eq!(
                b.metadata.resource_version,
                fake.resource_version().to_string()
            );
        }
        other => panic!("expected a bookmark, got {other:?}"),
    }
    fake.compact();
    assert!(s.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn streaming_list_watcher_gets_the_state_then_the_initial_events_end_bookmark() {
    let fake = FakeApi::new();
    fake.upsert(svc("a"));
    fake.upsert(svc("b"));
    let api: Api<Service> = Api::all(fake.client());
    let config = watcher::Config::default().streaming_lists();
    let mut w = watcher::watcher(api, config).boxed();
    for want in ["Init", "InitApply a", "InitApply b", "InitDone"] {
        assert_eq!(next(&mut w).await, want);
    }
    fake.delete("services", Some("default"), "a");
    assert_eq!(next(&mut w).await, "Delete a");
    let watch = fake
        .requests()
        .into_iter()
        .find(|r| r.query.contains("watch=true"))
        .unwrap();
    assert!(
        watch.query.contains("sendInitialEvents=true"),
        "{}",
        watch.query
    );
}

#[tokio::test(start_paused = true)]
async fn a_watch_from_before_the_bounded_history_is_expired() {
    let fake = FakeApi::with_history_limit(2);
    let first = fake.upsert(svc("a"));
    let rv = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    fake.upsert(svc("b"));
    let api: Api<Service> = Api::all(fake.client());
    let wp = WatchParams::default().timeout(1);
    let mut s = api.watch(&wp, &rv).await.unwrap().boxed();
    assert!(matches!(s.next().await, Some(Ok(WatchEvent::Added(o))) if name(&o) == "b"));
    fake.upsert(svc("c")); // history: b, c — still everything after a's version
    fake.upsert(svc("d")); // history: c, d — b's event is gone
    let mut s = api.watch(&wp, &rv).await.unwrap().boxed();
    assert!(matches!(s.next().await, Some(Ok(WatchEvent::Error(e))) if e.code == 410));
}
