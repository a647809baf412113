use serde_json::json;

use super::*;
use crate::paths::find;

fn svc_def() -> &'static ResourceDef {
    find("services").unwrap()
}

fn svc(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name}, "annotations": {"a": "1"},
                     "finalizers": ["x/y"]},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}]}},
    })
}

fn rv_of(o: &Value) -> u64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn create_stamps_system_fields_and_resets_status() {
    let mut s = Store::default();
    let o = s.create(svc_def(), Some("ns"), svc("web")).unwrap();
    assert_eq!(o["metadata"]["namespace"], "ns");
    assert_eq!(rv_of(&o), 1);
    assert_eq!(s.rv(), 1);
    assert!(o["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert!(
        o["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(o["status"], json!({}));
    let e = s.create(svc_def(), Some("ns"), svc("web")).unwrap_err();
    assert_eq!((e.code, e.reason), (409, "AlreadyExists"));
    assert_eq!(
        s.rv(),
        1,
        "a failed write does not bump the resourceVersion"
    );
    let other = s.create(svc_def(), Some("ns"), svc("db")).unwrap();
    assert_ne!(other["metadata"]["uid"], o["metadata"]["uid"]);

    let mut bad = svc("x");
    bad["metadata"]["namespace"] = "other".into();
    assert_eq!(s.create(svc_def(), Some("ns"), bad).unwrap_err().code, 400);
    let mut with_rv = svc("x");
    with_rv["metadata"]["resourceVersion"] = "5".into();
    assert_eq!(
        s.create(svc_def(), Some("ns"), with_rv).unwrap_err().code,
        500
    );
    let mut unnamed = svc("");
    unnamed["metadata"]["name"] = "".into();
    let e = s
        .create(svc_def(), Some("ns"), unnamed.clone())
        .unwrap_err();
    assert_eq!((e.code, e.reason), (422, "Invalid"));
    unnamed["metadata"]["generateName"] = "web-".into();
    let a = s.create(svc_def(), Some("ns"), unnamed.clone()).unwrap();
    let b = s.create(svc_def(), Some("ns"), unnamed).unwrap();
    let (an, bn) = (meta_str(&a, "name"), meta_str(&b, "name"));
    assert!(
        an.starts_with("web-") && an.len() == 9 && an != bn,
        "{an} {bn}"
    );
}

#[test]
fn status_update_takes_metadata_and_status_from_the_body_and_the_rest_from_storage() {
    let mut s = Store::default();
    let created = s.create(svc_def(), Some("ns"), svc("web")).unwrap();
    let rv = meta_str(&created, "resourceVersion").to_string();
    let stripped = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "ns", "resourceVersion": rv},
        "spec": {"type": "ClusterIP"},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
    });
    let o = s
        .update(svc_def(), Some("ns"), "web", stripped.clone(), true)
        .unwrap();
    assert_eq!(o["status"]["loadBalancer"]["ingress"][0]["ip"], "1.2.3.4");
    assert_eq!(o["spec"]["type"], "LoadBalancer", "spec from storage");
    for f in ["labels", "annotations", "finalizers"] {
        assert!(
            o["metadata"].get(f).is_none(),
            "{f} wiped like the real server does"
        );
    }
    assert_eq!(o["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(rv_of(&o), rv_of(&created) + 1);
    let e = s
        .update(svc_def(), Some("ns"), "web", stripped, true)
        .unwrap_err();
    assert_eq!((e.code, e.reason), (409, "Conflict"));
}

#[test]
fn main_update_keeps_stored_status_and_skips_no_op_writes() {
    let mut s = Store::default();
    let def = svc_def();
    let created = s.create(def, Some("ns"), svc("web")).unwrap();
    let mut body = (*created).clone();
    body["status"] = json!({"loadBalancer": {"ingress": [{"ip": "6.6.6.6"}]}});
    let same = s
        .update(def, Some("ns"), "web", body.clone(), false)
        .unwrap();
    assert_eq!(
        same, created,
        "status ignored, so nothing changed: no write"
    );
    assert_eq!(s.rv(), 1);
    body["spec"]["type"] = "NodePort".into();
    body["metadata"]["resourceVersion"] = "".into();
    let o = s
        .update(def, Some("ns"), "web", body.clone(), false)
        .unwrap();
    assert_eq!(o["spec"]["type"], "NodePort");
    assert_eq!(o["status"], json!({}));
    body["metadata"]["name"] = "other".into();
    assert_eq!(
        s.update(def, Some("ns"), "web", body, false)
            .unwrap_err()
            .code,
        400
    );
    let e = s
        .update(def, Some("ns"), "nope", svc("nope"), false)
        .unwrap_err();
    assert_eq!(e.code, 404);
    // Endpoints may be created by PUT.
    let ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"}});
    let eps = find("endpoints").unwrap();
    assert!(s.update(eps, Some("ns"), "e", ep, false).is_ok());
}

#[test]
fn delete_honours_finalizers_and_preconditions() {
    let mut s = Store::default();
    let def = svc_def();
    s.create(def, Some("ns"), svc("web")).unwrap();
    let e = s
        .delete(def, Some("ns"), "web", Some(&json!({"uid": "x"})))
        .unwrap_err();
    assert_eq!(e.code, 409);
    let marked = s.delete(def, Some("ns"), "web", None).unwrap();
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert!(
        s.get(def, Some("ns"), "web").is_ok(),
        "kept until finalizers are gone"
    );
    let mut body = (*marked).clone();
    body["metadata"]["finalizers"] = json!([]);
    s.update(def, Some("ns"), "web", body, false).unwrap();
    assert_eq!(s.get(def, Some("ns"), "web").unwrap_err().code, 404);
    assert_eq!(
        s.delete(def, Some("ns"), "web", None).unwrap_err().code,
        404
    );
    let kinds: Vec<_> = s
        .changes_since(def, None, &Selector::default(), 0)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    use EventType::*;
    assert_eq!(kinds, [Added, Modified, Deleted]);
}

#[test]
fn list_pages_consistently_and_continue_expires_on_compaction() {
    let mut s = Store::default();
    let def = svc_def();
    for i in 0..25 {
        s.create(
            def,
            Some(if i % 2 == 0 { "a" } else { "b" }),
            svc(&format!("s{i:02}")),
        )
        .unwrap();
    }
    let all = Selector::default();
    let p1 = s.list(def, None, &all, Some(10), None).unwrap();
    assert_eq!(
        (p1.items.len(), p1.remaining, p1.resource_version),
        (10, Some(15), 25)
    );
    assert_eq!(meta_str(&p1.items[0], "namespace"), "a");
    s.create(def, Some("c"), svc("late")).unwrap();
    let p2 = s
        .list(def, None, &all, Some(10), p1.continue_token.as_deref())
        .unwrap();
    assert_eq!(
        p2.resource_version, 25,
        "continuation keeps the first page's version"
    );
    let p3 = s
        .list(def, None, &all, Some(10), p2.continue_token.as_deref())
        .unwrap();
    assert_eq!((p3.items.len(), p3.continue_token.is_none()), (6, true));
    let ns_b = s.list(def, Some("b"), &all, None, None).unwrap();
    assert_eq!(ns_b.items.len(), 12);
    let tok = s
        .list(def, None, &all, Some(1), None)
        .unwrap()
        .continue_token;
    s.compact();
    let e = s
        .list(def, None, &all, Some(1), tok.as_deref())
        .unwrap_err();
    assert_eq!((e.code, e.reason), (410, "Expired"));
    assert_eq!(
        s.list(def, None, &all, None, Some("zz")).unwrap_err().code,
        400
    );
}

#[test]
fn history_is_bounded_and_selectors_turn_modifications_into_adds_and_deletes() {
    let mut s = Store::new(3);
    let def = svc_def();
    let o = s.create(def, Some("a"), svc("web")).unwrap();
    let sel = Selector::parse(Some("app=web"), None).unwrap();
    let mut body = (*o).clone();
    body["metadata"]["labels"]["app"] = "other".into();
    let o = s.update(def, Some("a"), "web", body, false).unwrap();
    let mut body = (*o).clone();
    body["metadata"]["labels"]["app"] = "web".into();
    s.update(def, Some("a"), "web", body, false).unwrap();
    let kinds: Vec<_> = s
        .changes_since(def, None, &sel, 0)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        kinds,
        [EventType::Added, EventType::Deleted, EventType::Added]
    );
    assert!(s.changes_since(def, Some("b"), &sel, 0).unwrap().is_empty());
    s.create(def, Some("a"), svc("db")).unwrap();
    assert_eq!(
        s.changes_since(def, None, &sel, 0),
        Err(1),
        "event 1 trimmed"
    );
    assert_eq!(
        s.changes_since(def, None, &Selector::default(), 1)
            .unwrap()
            .len(),
        3
    );
    s.compact();
    assert_eq!(s.changes_since(def, None, &sel, 4), Err(5));
    assert!(s.changes_since(def, None, &sel, 5).unwrap().is_empty());
}

#[test]
fn admin_upsert_and_merge_patch() {
    let mut s = Store::default();
    let def = svc_def();
    let mut obj = svc("web");
    let o = s.upsert(def, obj.clone()).unwrap();
    assert_eq!(o["metadata"]["namespace"], "default");
    assert_eq!(o["status"]["loadBalancer"]["ingress"][0]["ip"], "9.9.9.9");
    assert_eq!(
        s.upsert(def, obj.clone()).unwrap(),
        o,
        "unchanged: no write"
    );
    obj["spec"]["type"] = "ClusterIP".into();
    let o2 = s.upsert(def, obj).unwrap();
    assert_eq!(
        (rv_of(&o2), &o2["metadata"]["uid"]),
        (2, &o["metadata"]["uid"])
    );
    let p = s
        .patch(
            def,
            Some("default"),
            "web",
            &json!({"metadata": {"labels": {"app": null, "x": "y"}}}),
            false,
        )
        .unwrap();
    assert_eq!(p["metadata"]["labels"], json!({"x": "y"}));
    let stale = json!({"metadata": {"resourceVersion": "1"}});
    assert_eq!(
        s.patch(def, Some("default"), "web", &stale, false)
            .unwrap_err()
            .code,
        409
    );
    assert!(s.remove(def, Some("default"), "web").is_some());
    assert!(s.remove(def, Some("default"), "web").is_none());
}
