//! The reconcile loop with the real allocator and real Service JSON, without an API server.

use std::collections::BTreeSet;

use super::*;

const CONFIG: &str =
    "address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.168.10.0/30]\n";

fn svc(name: &str, status: &[&str]) -> SvcView {
    let ingress: Vec<serde_json::Value> = status
        .iter()
        .map(|ip| serde_json::json!({"ip": ip}))
        .collect();
    SvcView::from_service(
        &serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "resourceVersion": "1"},
            "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.1"], "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": ingress}}
        }))
        .expect("valid Service JSON"),
    )
}

fn writes(actions: &[Action]) -> Vec<(String, Vec<String>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::WriteStatus { svc, ips } => Some((svc.key(), ips.clone())),
            _ => None,
        })
        .collect()
}

fn synced(services: Vec<SvcView>) -> (Reconciler, Vec<Action>) {
    let mut r = Reconciler::new();
    let mut out = Vec::new();
    let keys: BTreeSet<String> = services.iter().map(SvcView::key).collect();
    for s in services {
        out.extend(r.service_changed(s));
    }
    out.extend(r.config_changed(Some(CONFIG)));
    out.extend(r.config_listed());
    out.extend(r.services_listed(&keys));
    (r, out)
}

#[test]
fn nothing_is_decided_before_both_caches_are_listed() {
    let mut r = Reconciler::new();
    assert!(r.service_changed(svc("new", &[])).is_empty());
    assert!(writes(&r.config_changed(Some(CONFIG))).is_empty());
    assert!(writes(&r.config_listed()).is_empty());
    let out = r.services_listed(&BTreeSet::from(["ns/new".to_owned()]));
    assert_eq!(
        writes(&out),
        [("ns/new".to_owned(), vec!["192.168.10.0".to_owned()])]
    );
}

#[test]
fn restart_with_existing_statuses_changes_nothing() {
    // .2 is held; a new service listed first must not take it.
    let (_, out) = synced(vec![svc("a-new", &[]), svc("b-old", &["192.168.10.2"])]);
    let w = writes(&out);
    assert!(
        !w.iter().any(|(k, _)| k == "ns/b-old"),
        "held IP rewritten: {w:?}"
    );
    assert_eq!(
        w,
        [("ns/a-new".to_owned(), vec!["192.168.10.0".to_owned()])]
    );
}

#[test]
fn deleting_a_service_hands_its_ip_to_a_pending_one() {
    let full: Vec<SvcView> = (0..4)
        .map(|i| svc(&format!("s{i}"), &[&format!("192.168.10.{i}")]))
        .collect();
    let mut services = full;
    services.push(svc("pending", &[]));
    let (mut r, out) = synced(services);
    assert!(
        out.iter().any(
            |a| matches!(a, Action::ServiceEvent { reason, .. } if reason == "AllocationFailed")
        )
    );
    let out = r.service_deleted("ns/s2");
    assert_eq!(
        writes(&out),
        [("ns/pending".to_owned(), vec!["192.168.10.2".to_owned()])]
    );
}

#[test]
fn rejected_config_keeps_the_old_one_and_is_reported_on_the_configmap() {
    let (mut r, _) = synced(vec![svc("a", &["192.168.10.1"])]);
    // Shrinking the pool would orphan 192.168.10.1.
    let out = r.config_changed(Some(
        "address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.168.10.2/31]\n",
    ));
    assert!(r.config().is_stale());
    assert!(
        out.iter().any(
            |a| matches!(a, Action::ConfigEvent { message, .. } if message.contains("cannot own"))
        ),
        "{out:?}"
    );
    assert!(writes(&out).is_empty());
    let out = r.config_changed(Some("peers: 1\n"));
    assert!(out.iter().any(|a| matches!(a, Action::ConfigEvent { message, .. } if message.contains("could not parse config"))));
    assert_eq!(
        r.config()
            .current()
            .and_then(|c| c.pool("default"))
            .map(|p| p.cidrs.len()),
        Some(1)
    );
}

#[test]
fn a_failed_status_write_is_retried_and_rewritten() {
    let (mut r, out) = synced(vec![svc("a", &[])]);
    assert_eq!(writes(&out).len(), 1);
    assert_eq!(
        r.status_write_failed("ns/a"),
        [Action::Retry {
            key: "ns/a".to_owned()
        }]
    );
    assert_eq!(
        writes(&r.retry("ns/a")),
        [("ns/a".to_owned(), vec!["192.168.10.0".to_owned()])]
    );
    // Once written (and before the watch echoes it), a retry writes nothing more.
    let echoed = SvcView::from_service(
        &serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "a", "namespace": "ns", "uid": "uid-a", "resourceVersion": "2",
                         "labels": {"added": "meanwhile"}},
            "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.1"], "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.10.0"}]}}
        }))
        .expect("valid Service JSON"),
    );
    r.status_written("ns/a", echoed.stored.clone());
    assert!(writes(&r.retry("ns/a")).is_empty());
    // The next write starts from the object as the server stored it.
    let _ = r.status_write_failed("ns/a");
    let again = r.retry("ns/a");
    let base = again
        .iter()
        .find_map(|a| match a {
            Action::WriteStatus { svc, .. } => Some(svc.stored.clone()),
            _ => None,
        })
        .expect("a write");
    assert_eq!(base, echoed.stored);
}

#[test]
fn a_restart_rebuilds_from_statuses_and_the_first_holder_keeps_a_contested_address() {
    // a and b both claim .0 (an older controller's bug, or a restore): a, first in the
    // initial pass, keeps it; b and the new service get addresses nobody's status holds.
    let (_, out) = synced(vec![
        svc("new", &[]),
        svc("a", &["192.168.10.0"]),
        svc("b", &["192.168.10.0"]),
        svc("c", &["192.168.10.2"]),
    ]);
    let w = writes(&out);
    assert!(!w.iter().any(|(k, _)| k == "ns/a" || k == "ns/c"), "{w:?}");
    let of = |key: &str| {
        w.iter()
            .find(|(k, _)| k == key)
            .map(|(_, ips)| ips.clone())
            .unwrap_or_else(|| panic!("{key} written: {w:?}"))
    };
    let (b, new) = (of("ns/b"), of("ns/new"));
    let taken = ["192.168.10.0".to_owned(), "192.168.10.2".to_owned()];
    assert!(b.len() == 1 && !taken.contains(&b[0]), "{b:?}");
    assert!(
        new.len() == 1 && !taken.contains(&new[0]) && new != b,
        "{new:?}"
    );
    let outcomes: Vec<(String, common::allocator::Action)> = out
        .iter()
        .filter_map(|a| match a {
            Action::Decided { key, outcome, .. } => Some((key.clone(), *outcome)),
            _ => None,
        })
        .collect();
    assert!(outcomes.contains(&("ns/a".to_owned(), common::allocator::Action::Kept)));
    assert!(outcomes.contains(&("ns/b".to_owned(), common::allocator::Action::Changed)));
    assert!(outcomes.contains(&("ns/new".to_owned(), common::allocator::Action::Assigned)));
}
