//! Every kind: live apply/delete, and re-lists that drop objects, change nothing, or are
//! only half delivered.

use std::collections::BTreeSet;

use super::*;
use crate::config::Labels;
use crate::speaker::Endpoint;

fn svc(key: &str, ip: &str) -> ServiceObject {
    ServiceObject {
        key: key.into(),
        entry: ServiceEntry {
            uid: Some(format!("uid-{key}")),
            is_load_balancer: true,
            ingress: vec![Some(ip.into())],
            local: false,
        },
    }
}

fn slice(service: &str, id: &str, addrs: &[&str]) -> EndpointsObject {
    EndpointsObject {
        service: service.into(),
        id: id.into(),
        endpoints: addrs
            .iter()
            .map(|a| Endpoint {
                addr: (*a).into(),
                node: Some("n1".into()),
                ready: true,
            })
            .collect(),
    }
}

fn node(name: &str, labels: &[(&str, &str)], excluded: bool) -> NodeObject {
    NodeObject {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        excluded,
    }
}

fn keys(ks: &[&str]) -> BTreeSet<String> {
    ks.iter().map(|k| (*k).to_owned()).collect()
}

fn services(changed: &Changed) -> Vec<&str> {
    changed.services.iter().map(String::as_str).collect()
}

fn addrs(e: &ServiceEndpoints, service: &str) -> Option<Vec<String>> {
    e.get(service)
        .map(|s| s.merged().into_iter().map(|e| e.addr).collect())
}

#[test]
fn services_apply_and_delete_report_the_key_only_when_something_changed() {
    let mut s = Services::default();
    assert_eq!(s.apply(svc("ns/a", "10.0.0.1")), Changed::service("ns/a"));
    assert!(s.apply(svc("ns/a", "10.0.0.1")).is_empty(), "same fields");
    assert_eq!(s.apply(svc("ns/a", "10.0.0.2")), Changed::service("ns/a"));
    assert_eq!(
        s.get("ns/a").map(|e| e.ingress.clone()),
        Some(vec![Some("10.0.0.2".to_owned())])
    );
    assert_eq!(s.delete(svc("ns/a", "10.0.0.2")), Changed::service("ns/a"));
    assert!(s.get("ns/a").is_none());
    assert!(s.delete(svc("ns/a", "10.0.0.2")).is_empty(), "already gone");
}

#[test]
fn a_service_relist_deletes_what_it_does_not_list_and_reports_only_differences() {
    let mut s = Services::default();
    s.apply(svc("ns/a", "10.0.0.1"));
    s.apply(svc("ns/b", "10.0.0.2"));
    s.apply(svc("ns/c", "10.0.0.3"));
    // b dropped (deleted during the outage), c changed, d new, a identical.
    let changed = s.reset([
        svc("ns/a", "10.0.0.1"),
        svc("ns/c", "10.0.0.9"),
        svc("ns/d", "10.0.0.4"),
    ]);
    assert_eq!(services(&changed), ["ns/b", "ns/c", "ns/d"]);
    assert!(!changed.all);
    let mut now: Vec<&str> = s.keys().collect();
    now.sort_unstable();
    assert_eq!(now, ["ns/a", "ns/c", "ns/d"]);
    assert_eq!(s.len(), 3);
}

#[test]
fn an_identical_relist_changes_nothing() {
    let mut idx = Index::new("n1");
    idx.services.apply(svc("ns/a", "10.0.0.1"));
    idx.endpoints.apply(slice("ns/a", "ns/a-1", &["10.1.0.1"]));
    idx.nodes.apply(node("n1", &[("zone", "a")], false));
    idx.nodes.apply(node("cp", &[], true));
    idx.config.apply("address-pools: []".into());

    assert!(idx.services.reset([svc("ns/a", "10.0.0.1")]).is_empty());
    assert!(
        idx.endpoints
            .reset([slice("ns/a", "ns/a-1", &["10.1.0.1"])])
            .is_empty()
    );
    assert!(
        idx.nodes
            .reset([node("cp", &[], true), node("n1", &[("zone", "a")], false)])
            .is_empty()
    );
    assert!(
        idx.config
            .reset(["address-pools: []".to_owned()])
            .is_empty()
    );
    assert_eq!(idx.config.text(), Some("address-pools: []"));
}

#[test]
fn the_old_view_serves_until_the_relist_is_committed() {
    let mut s = Services::default();
    s.apply(svc("ns/a", "10.0.0.1"));
    s.apply(svc("ns/b", "10.0.0.2"));
    s.begin();
    s.listed(svc("ns/a", "10.0.0.5"));
    // Half-way through: b is not yet listed, a's new IP is not yet in force.
    assert!(s.get("ns/b").is_some(), "not listed yet is not deleted");
    assert_eq!(
        s.get("ns/a").map(|e| e.ingress.clone()),
        Some(vec![Some("10.0.0.1".to_owned())])
    );
    let changed = s.commit();
    assert_eq!(services(&changed), ["ns/a", "ns/b"]);
    assert!(s.get("ns/b").is_none());
    assert!(s.commit().is_empty(), "nothing under way");

    // The list failed half-way and started over: what the first attempt listed is dropped.
    let mut e = ServiceEndpoints::default();
    e.apply(slice("ns/a", "ns/a-1", &["10.1.0.1"]));
    e.begin();
    e.listed(slice("ns/z", "ns/z-1", &["10.1.0.9"]));
    assert!(e.get("ns/z").is_none(), "listed, not yet committed");
    e.begin();
    e.listed(slice("ns/a", "ns/a-1", &["10.1.0.1"]));
    assert!(e.commit().is_empty());
    assert!(e.get("ns/z").is_none());

    let mut n = Nodes::new("n1");
    n.apply(node("cp", &[], true));
    n.begin();
    assert_eq!(n.excluded(), &keys(&["cp"]), "still excluded until commit");
    assert!(n.commit().all);
    assert!(n.excluded().is_empty());

    let mut c = ConfigText::default();
    c.apply("a".into());
    c.begin();
    assert_eq!(c.text(), Some("a"), "the ConfigMap is not missing yet");
    c.listed("b".into());
    assert_eq!(c.text(), Some("a"));
    assert!(c.commit().config);
    assert_eq!(c.text(), Some("b"));
}

#[test]
fn endpoints_apply_and_delete_per_source_object() {
    let mut e = ServiceEndpoints::default();
    assert_eq!(
        e.apply(slice("ns/a", "ns/a-1", &["10.1.0.1"])),
        Changed::service("ns/a")
    );
    assert!(e.apply(slice("ns/a", "ns/a-1", &["10.1.0.1"])).is_empty());
    // A new slice with no endpoint still changes the service's inputs.
    assert_eq!(
        e.apply(slice("ns/a", "ns/a-2", &[])),
        Changed::service("ns/a")
    );
    assert_eq!(
        e.apply(slice("ns/a", "ns/a-2", &["10.1.0.2"]))
            .services
            .len(),
        1
    );
    assert_eq!(
        addrs(&e, "ns/a"),
        Some(vec!["10.1.0.1".to_owned(), "10.1.0.2".to_owned()])
    );
    assert_eq!(
        e.delete(slice("ns/a", "ns/a-1", &[])),
        Changed::service("ns/a")
    );
    assert_eq!(addrs(&e, "ns/a"), Some(vec!["10.1.0.2".to_owned()]));
    assert!(e.delete(slice("ns/a", "ns/a-1", &[])).is_empty());
    assert!(e.delete(slice("ns/b", "ns/b-1", &[])).is_empty());
    e.delete(slice("ns/a", "ns/a-2", &[]));
    assert_eq!(
        addrs(&e, "ns/a"),
        None,
        "no source left: the service has none"
    );
}

#[test]
fn an_endpoints_relist_drops_one_of_two_slices_and_a_whole_service() {
    let mut e = ServiceEndpoints::default();
    e.apply(slice("ns/a", "ns/a-1", &["10.1.0.1"]));
    e.apply(slice("ns/a", "ns/a-2", &["10.1.0.2"]));
    e.apply(slice("ns/b", "ns/b-1", &["10.1.0.3"]));
    e.apply(slice("ns/c", "ns/c-1", &["10.1.0.4"]));
    let changed = e.reset([
        slice("ns/a", "ns/a-2", &["10.1.0.2"]),
        slice("ns/c", "ns/c-1", &["10.1.0.4"]),
    ]);
    assert_eq!(services(&changed), ["ns/a", "ns/b"]);
    assert_eq!(addrs(&e, "ns/a"), Some(vec!["10.1.0.2".to_owned()]));
    assert_eq!(addrs(&e, "ns/b"), None);
    assert_eq!(addrs(&e, "ns/c"), Some(vec!["10.1.0.4".to_owned()]));
}

#[test]
fn nodes_report_everything_when_exclusion_or_own_labels_change() {
    let mut n = Nodes::new("n1");
    let own = n.apply(node("n1", &[("zone", "a")], false));
    assert!(own.all && own.own_labels);
    assert_eq!(n.own_labels(), &Labels::from([("zone".into(), "a".into())]));
    assert!(n.apply(node("n1", &[("zone", "a")], false)).is_empty());
    assert!(
        n.apply(node("n2", &[("zone", "b")], false)).is_empty(),
        "other labels"
    );

    let cp = n.apply(node("cp", &[], true));
    assert!(cp.all && !cp.own_labels);
    assert!(n.apply(node("cp", &[], true)).is_empty());
    assert_eq!(n.excluded(), &keys(&["cp"]));
    assert!(n.delete(node("cp", &[], true)).all);
    assert!(n.excluded().is_empty());
    assert!(n.delete(node("n2", &[], false)).is_empty());

    // This node becoming excluded: everything, its labels changed too.
    let me = n.apply(node("n1", &[("zone", "a"), ("x", "")], true));
    assert!(me.all && me.own_labels);
    assert_eq!(n.excluded(), &keys(&["n1"]));
    // Deleted: no longer excluded, labels kept.
    let gone = n.delete(node("n1", &[], true));
    assert!(gone.all && !gone.own_labels);
    assert_eq!(n.own_labels().len(), 2);
}

#[test]
fn a_node_relist_drops_an_excluded_node_and_the_own_node() {
    let mut n = Nodes::new("n1");
    n.apply(node("n1", &[("zone", "a")], true));
    n.apply(node("cp", &[], true));
    n.apply(node("n2", &[], false));

    // cp gone: it no longer counts as excluded.
    let changed = n.reset([node("n1", &[("zone", "a")], true), node("n2", &[], false)]);
    assert!(changed.all && !changed.own_labels);
    assert_eq!(n.excluded(), &keys(&["n1"]));

    // The own node gone: not excluded any more, its labels kept (as for a delete).
    let changed = n.reset([node("n2", &[], false)]);
    assert!(changed.all && !changed.own_labels);
    assert!(n.excluded().is_empty());
    assert_eq!(n.own_labels(), &Labels::from([("zone".into(), "a".into())]));

    // Back with other labels.
    let changed = n.reset([node("n1", &[("zone", "b")], false)]);
    assert!(changed.all && changed.own_labels);
    assert_eq!(n.own_labels(), &Labels::from([("zone".into(), "b".into())]));

    // A non-excluded node leaving changes no decision.
    assert!(n.reset([node("n1", &[("zone", "b")], false)]).is_empty());
}

#[test]
fn the_configmap_text_apply_delete_and_relist() {
    let mut c = ConfigText::default();
    assert_eq!(c.text(), None);
    assert!(c.apply("a".into()).config);
    assert!(c.apply("a".into()).is_empty(), "same text: no reload");
    assert!(c.apply("b".into()).config);
    assert!(c.delete("b".into()).config);
    assert_eq!(c.text(), None);
    assert!(c.delete(String::new()).is_empty());

    // An empty first list: still no ConfigMap, nothing to reload.
    assert!(c.reset([]).is_empty());
    assert!(c.reset(["a".to_owned()]).config);
    // A re-list without the ConfigMap: it was deleted during the outage.
    let changed = c.reset([]);
    assert!(changed.config && !changed.all);
    assert_eq!(c.text(), None);
}

#[test]
fn changed_merges() {
    let mut c = Changed::service("ns/a");
    c.merge(Changed::service("ns/b"));
    c.merge(Changed {
        config: true,
        ..Changed::default()
    });
    assert_eq!(c.services, keys(&["ns/a", "ns/b"]));
    assert!(c.config && !c.all && !c.is_empty());
    c.merge(Changed::everything());
    assert!(c.all);
}

fn sharing<'a>(s: &'a Services, key: &'a str) -> Vec<&'a str> {
    s.sharing(key).collect()
}

#[test]
fn services_sharing_a_first_ip_are_found_and_re_decided_together() {
    let mut s = Services::default();
    s.apply(svc("ns/b", "10.0.0.1"));
    // Joining an IP re-decides its holders: the smallest name may have changed.
    assert_eq!(
        services(&s.apply(svc("ns/a", "::ffff:10.0.0.1"))),
        ["ns/a", "ns/b"],
        "an IPv4-mapped address is the same IP"
    );
    assert_eq!(sharing(&s, "ns/a"), ["ns/b"]);
    assert_eq!(sharing(&s, "ns/b"), ["ns/a"]);
    // Same first IP, other fields changed: the others' election is unaffected.
    let mut local = svc("ns/a", "10.0.0.1");
    local.entry.local = true;
    assert_eq!(services(&s.apply(local)), ["ns/a"]);
    // Leaving the IP re-decides who stays on it.
    assert_eq!(
        services(&s.apply(svc("ns/a", "10.0.0.9"))),
        ["ns/a", "ns/b"]
    );
    assert!(sharing(&s, "ns/b").is_empty());
    s.apply(svc("ns/c", "10.0.0.9"));
    assert_eq!(
        services(&s.delete(svc("ns/a", "10.0.0.9"))),
        ["ns/a", "ns/c"]
    );
    assert!(sharing(&s, "ns/c").is_empty());
    // Not a LoadBalancer: not in any group.
    let mut plain = svc("ns/d", "10.0.0.9");
    plain.entry.is_load_balancer = false;
    assert_eq!(services(&s.apply(plain)), ["ns/d"]);
    assert!(sharing(&s, "ns/c").is_empty());
}

#[test]
fn a_service_relist_keeps_the_sharing_map_in_step() {
    let mut s = Services::default();
    s.apply(svc("ns/a", "10.0.0.1"));
    s.apply(svc("ns/b", "10.0.0.1"));
    s.apply(svc("ns/c", "10.0.0.2"));
    // ns/a vanished while the watch was down; ns/c moved onto ns/b's IP.
    let changed = s.reset([svc("ns/b", "10.0.0.1"), svc("ns/c", "10.0.0.1")]);
    assert_eq!(services(&changed), ["ns/a", "ns/b", "ns/c"]);
    assert_eq!(sharing(&s, "ns/b"), ["ns/c"]);
    assert!(sharing(&s, "ns/a").is_empty());
    assert!(
        s.reset([svc("ns/b", "10.0.0.1"), svc("ns/c", "10.0.0.1")])
            .is_empty()
    );
}

#[test]
fn an_endpoints_change_re_decides_the_services_sharing_the_ip() {
    use crate::l2::election::ElectionKey;
    let mut index = Index::new("n1");
    index.services.apply(svc("ns/a", "10.0.0.1"));
    index.services.apply(svc("ns/b", "10.0.0.1"));
    index.services.apply(svc("ns/c", "10.0.0.2"));
    let changed = index
        .endpoints
        .apply(slice("ns/a", "ns/a-1", &["10.1.0.1"]));
    assert_eq!(services(&index.with_sharers(changed)), ["ns/a", "ns/b"]);
    let changed = index
        .endpoints
        .apply(slice("ns/c", "ns/c-1", &["10.1.0.2"]));
    assert_eq!(services(&index.with_sharers(changed)), ["ns/c"]);
    // What a decision about ns/b learns of ns/a: only under the service-name key.
    assert!(index.sharers("ns/b", ElectionKey::FirstIp).is_empty());
    let sharers = index.sharers("ns/b", ElectionKey::ServiceName);
    assert_eq!(sharers.len(), 1);
    assert_eq!(sharers[0].key, "ns/a");
    assert_eq!(sharers[0].ready_nodes, keys(&["n1"]));
}
