//! The whole speaker loop (`Speaker::run`) against the fake API server, which serves lists,
//! watches, `410 Expired` after a compaction, outages and latency as kube-apiserver does.
//! The mocked tests fed the handlers the events a test author expected; here kube-runtime's
//! watchers get them from a server and re-list on their own after an outage, and every
//! request is checked against upstream v0.12.1's speaker RBAC (anything else is a 403).
//! Memberlist is off: the live speakers are the Ready speaker pods the loop lists.

use std::time::Duration;

use common::bgp::Prefix;
use fake_apiserver::Verb;
use serde_json::json;

use super::fake_cluster::{
    BGP_IP, Fixture, RELIST, SPEAKERS, decisions, events, ip, ips_won_by_this_node, no_forbidden,
    relisted_all, row, service, slice, started, started_under, until, writes,
};
use super::harness::status;
use crate::l2::Call;
use fake_apiserver::releases::{self, Component, Release};
#[tokio::test(start_paused = true)]
async fn start_up_announces_what_this_node_owns_within_the_rbac() {
    let f = started().await;

    // Only this node's IPs, each once; the BGP service's host route.
    let calls = f.l2.take_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.contains(&Call::Set("shop/web-a".into(), vec![ip(&f.ip_a)])));
    assert!(calls.contains(&Call::Set("shop/web-b".into(), vec![ip(&f.ip_b)])));
    assert_eq!(
        f.routes().keys().copied().collect::<Vec<_>>(),
        [Prefix::host(ip(BGP_IP))]
    );
    assert_eq!(f.announced.get("shop/web-a", ip(&f.ip_a)), Some("layer2"));
    assert_eq!(f.announced.get("shop/web-b", ip(&f.ip_b)), Some("layer2"));
    assert_eq!(f.announced.get("shop/api", ip(BGP_IP)), Some("bgp"));
    assert_eq!(
        events(&f.api),
        [
            ("nodeAssigned", "api"),
            ("nodeAssigned", "web-a"),
            ("nodeAssigned", "web-b")
        ]
        .map(|(r, n)| (r.to_owned(), n.to_owned()))
    );

    // /status through the real router: a row per service, and the live speakers come from
    // the Ready speaker pods (not the controller's pod).
    let doc = status(&f.board).await;
    for svc in ["shop/web-a", "shop/web-b", "shop/api"] {
        let r = row(&doc, svc).unwrap_or_else(|| panic!("no row for {svc}: {doc}"));
        assert_eq!(r["decision"], "announcing", "{svc}: {r}");
    }
    assert_eq!(doc["services"].as_array().map(Vec::len), Some(3), "{doc}");
    assert_eq!(doc["members"], json!(SPEAKERS), "{doc}");

    // The speaker pods were listed with upstream's selector, in the speaker's namespace.
    let requests = f.api.requests();
    assert!(
        requests.iter().any(|r| r.method == "GET"
            && r.path == "/api/v1/namespaces/metallb-system/pods"
            && r.query
                .contains("labelSelector=app%3Dmetallb%2Ccomponent%3Dspeaker")
            && r.status == 200),
        "{requests:#?}"
    );
    no_forbidden(&requests);
    let writes = writes(&requests);
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(
        writes
            .iter()
            .all(|w| w == "POST /api/v1/namespaces/shop/events"),
        "only Event POSTs: {writes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_relist_after_an_outage_forgets_what_was_deleted_meanwhile() {
    let f = started().await;
    f.l2.take_calls();
    let before = status(&f.board).await;
    let decided = decisions(&f.board).await;
    let routes = f.routes();
    let from = f.api.requests().len();

    // While the API server is away: web-a is deleted, api loses its only ready slice (its
    // empty one stays), and the excluded node cp1 goes (which re-decides everything).
    f.api.set_down(true);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(f.api.delete("services", Some("shop"), "web-a").is_some());
    assert!(
        f.api
            .delete("endpointslices", Some("shop"), "api-x1")
            .is_some()
    );
    assert!(f.api.delete("nodes", None, "cp1").is_some());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!f.task.is_finished(), "the loop exited during the outage");
    // Meanwhile the speaker keeps announcing exactly what it announced.
    assert_eq!(f.l2.take_calls(), [], "nothing moves while the API is away");
    assert_eq!(f.routes(), routes);
    assert_eq!(f.announced.get("shop/web-a", ip(&f.ip_a)), Some("layer2"));
    assert_eq!(decisions(&f.board).await, decided);

    // It comes back with its history compacted: the deletions are only learnt by re-listing.
    f.api.compact();
    f.api.set_down(false);
    let forgot = until(RELIST, || {
        f.balancers() == [("shop/web-b".to_owned(), vec![ip(&f.ip_b)])]
            && !f.has_bgp_route()
            && f.announced.get("shop/web-a", ip(&f.ip_a)).is_none()
    })
    .await;
    assert!(
        forgot,
        "L2 {:?}, routes {:?}, requests {:#?}",
        f.balancers(),
        f.routes(),
        f.requests_since(from)
    );
    // Every watch re-lists (each on its own back-off); the last re-list changes nothing more.
    let relisted = until(RELIST, || relisted_all(&f.requests_since(from))).await;
    assert!(relisted, "{:#?}", f.requests_since(from));
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Layer 2: web-a withdrawn; web-b neither withdrawn nor re-announced.
    assert_eq!(f.l2.take_calls(), [Call::Delete("shop/web-a".into())]);
    assert!(f.routes().is_empty(), "{:?}", f.routes());
    // Metrics: both withdrawn series gone, web-b's kept.
    assert_eq!(f.announced.get("shop/api", ip(BGP_IP)), None);
    assert_eq!(f.announced.get("shop/web-b", ip(&f.ip_b)), Some("layer2"));
    // /status: no row for the deleted service, api says why, web-b's row as it was.
    let doc = status(&f.board).await;
    assert!(row(&doc, "shop/web-a").is_none(), "{doc}");
    let api_row = row(&doc, "shop/api").expect("api row");
    assert_eq!(api_row["decision"], "notAnnouncing", "{api_row}");
    assert_eq!(api_row["reason"], "noEndpoints", "{api_row}");
    assert_eq!(row(&doc, "shop/web-b"), row(&before, "shop/web-b"));
    // Events: api's nodeUnassigned only (a deleted service gets none).
    let posted = until(Duration::from_secs(5), || {
        events(&f.api).iter().any(|(r, _)| r == "nodeUnassigned")
    })
    .await;
    assert!(posted, "{:?}", events(&f.api));
    let unassigned: Vec<_> = events(&f.api)
        .into_iter()
        .filter(|(r, _)| r != "nodeAssigned")
        .collect();
    assert_eq!(
        unassigned,
        [("nodeUnassigned".to_owned(), "api".to_owned())]
    );
    no_forbidden(&f.api.requests());
}

#[tokio::test(start_paused = true)]
async fn a_plain_outage_changes_nothing() {
    let f = started().await;
    f.l2.take_calls();
    let decided = decisions(&f.board).await;
    let routes = f.routes();
    let events_before = events(&f.api);
    let from = f.api.requests().len();

    f.api.set_down(true);
    tokio::time::sleep(Duration::from_secs(60)).await;
    f.api.compact();
    f.api.set_down(false);
    let relisted = until(RELIST, || relisted_all(&f.requests_since(from))).await;
    assert!(relisted, "{:#?}", f.requests_since(from));
    // The pod list of the next poll, and time for the loop to take every re-list in.
    tokio::time::sleep(Duration::from_secs(35)).await;

    assert_eq!(f.l2.take_calls(), [], "no withdraw, no re-announcement");
    assert_eq!(f.routes(), routes);
    assert_eq!(decisions(&f.board).await, decided);
    assert_eq!(events(&f.api), events_before);
    let after = f.requests_since(from);
    assert_eq!(writes(&after), Vec::<String>::new(), "no Event posted");
    assert!(
        after
            .iter()
            .any(|r| r.path.ends_with("/pods") && r.status == 200),
        "the speaker pods were listed again"
    );
    no_forbidden(&after);
}

#[tokio::test(start_paused = true)]
async fn a_slow_api_server_does_not_delay_decisions() {
    let f = started().await;
    let [.., ip_c, ip_d] = <[String; 4]>::try_from(ips_won_by_this_node(4)).expect("4 IPs");
    // web-d exists with an endpoint that is not ready yet: not announced.
    f.api.upsert(service("web-d", &ip_d));
    f.api
        .upsert(slice("web-d", "web-d-x1", Some(("10.244.1.5", false))));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!f.l2.balancers().contains_key("shop/web-d"));
    f.l2.take_calls();

    // Every Event POST now takes 2 s.
    f.api.set_latency(&[Verb::Create], Duration::from_secs(2));
    let from = f.api.requests().len();

    // A new service with a ready endpoint here: announced at once, its Event still in flight.
    f.api.upsert(service("web-c", &ip_c));
    f.api
        .upsert(slice("web-c", "web-c-x1", Some(("10.244.1.4", true))));
    let t0 = tokio::time::Instant::now();
    let announced = until(Duration::from_secs(2), || {
        f.l2.balancers().contains_key("shop/web-c")
    })
    .await;
    assert!(announced, "{:?}", f.balancers());
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "web-c waited {:?}",
        t0.elapsed()
    );

    // web-d's endpoint turns ready while web-c's Event is still being posted.
    f.api
        .upsert(slice("web-d", "web-d-x1", Some(("10.244.1.5", true))));
    let t1 = tokio::time::Instant::now();
    let announced = until(Duration::from_secs(2), || {
        f.l2.balancers().contains_key("shop/web-d")
    })
    .await;
    assert!(announced, "{:?}", f.balancers());
    assert!(
        t1.elapsed() < Duration::from_millis(100),
        "web-d waited {:?}",
        t1.elapsed()
    );
    assert!(
        !events(&f.api).iter().any(|(_, n)| n == "web-c"),
        "the Event POST was still in flight"
    );
    assert_eq!(
        f.l2.take_calls(),
        [
            Call::Set("shop/web-c".into(), vec![ip(&ip_c)]),
            Call::Set("shop/web-d".into(), vec![ip(&ip_d)]),
        ]
    );

    // The Events do arrive, 2 s later.
    let posted = until(Duration::from_secs(5), || {
        let ev = events(&f.api);
        ["web-c", "web-d"]
            .iter()
            .all(|n| ev.contains(&("nodeAssigned".to_owned(), (*n).to_owned())))
    })
    .await;
    assert!(posted, "{:?}", events(&f.api));
    assert!(t0.elapsed() >= Duration::from_secs(2));
    let after = f.requests_since(from);
    assert_eq!(
        writes(&after),
        ["POST /api/v1/namespaces/shop/events"; 2],
        "{after:#?}"
    );
    no_forbidden(&f.api.requests());
}

/// The loop lists the speaker pods every 30 s. It used to await that list inline, so a slow
/// (or hung) answer held every decision up for as long as the API server took.
#[tokio::test(start_paused = true)]
async fn a_slow_pod_list_does_not_delay_decisions() {
    let f = started().await;
    f.l2.take_calls();
    let [.., ip_c] = <[String; 3]>::try_from(ips_won_by_this_node(3)).expect("3 IPs");
    // Lists take 20 s from now on: the next poll (30 s after the first) is in flight from
    // then on until 20 s later. The fake logs a request when it answers it.
    f.api.set_latency(&[Verb::List], Duration::from_secs(20));
    let t_slow = tokio::time::Instant::now();
    let from = f.api.requests().len();
    let polls = |f: &Fixture| {
        f.requests_since(from)
            .iter()
            .filter(|r| r.path == "/api/v1/namespaces/metallb-system/pods")
            .count()
    };
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert_eq!(polls(&f), 0, "the poll is still in flight");

    f.api.upsert(service("web-c", &ip_c));
    f.api
        .upsert(slice("web-c", "web-c-x1", Some(("10.244.1.4", true))));
    let t0 = tokio::time::Instant::now();
    let announced = until(Duration::from_secs(30), || {
        f.l2.balancers().contains_key("shop/web-c")
    })
    .await;
    assert!(announced, "{:?}", f.balancers());
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "web-c waited {:?} for the pod list",
        t0.elapsed()
    );

    // The poll was in flight meanwhile: it is answered 20 s after it was sent, and the same
    // speakers stay live (nothing else moves).
    assert!(until(Duration::from_secs(25), || polls(&f) == 1).await);
    assert!(
        t_slow.elapsed() >= Duration::from_secs(50),
        "{:?}",
        t_slow.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        f.l2.take_calls(),
        [Call::Set("shop/web-c".into(), vec![ip(&ip_c)])]
    );
    assert_eq!(decisions(&f.board).await[1], json!(SPEAKERS));
    no_forbidden(&f.api.requests());
}

/// Every install from v0.8.3 on, under its own RBAC: the speaker reads the endpoints API the
/// release grants (v0.8/v0.9: Endpoints; v0.10+: EndpointSlices), announces everything, and a
/// refused EndpointSlices list is asked once, never retried. v0.8.3 may not list pods either:
/// the owners are then elected among the nodes with a ready endpoint, as v0.8 did.
#[tokio::test(start_paused = true)]
async fn each_release_rbac_is_enough_to_announce() {
    for release in [
        Release::V0_8_3,
        Release::V0_9_3,
        Release::V0_9_6,
        Release::V0_10_3,
        Release::V0_11_0,
        Release::V0_12_1,
    ] {
        let f = started_under(releases::rbac(release, Component::Speaker), true).await;
        tokio::time::sleep(Duration::from_secs(600)).await;
        let requests = f.api.requests();
        let denied: Vec<String> = requests
            .iter()
            .filter(|r| r.status == 403)
            .map(|r| r.path.clone())
            .collect();
        let slices = release >= Release::V0_10_3;
        if release == Release::V0_8_3 {
            // No EndpointSlices and no pod list: the probe once, the pod poll every 30 s
            // (picks the rule up if an operator adds it), logged once.
            let probes = denied
                .iter()
                .filter(|p| p.contains("endpointslices"))
                .count();
            let polls = denied.iter().filter(|p| p.ends_with("/pods")).count();
            assert_eq!(probes, 1);
            assert!((18..=22).contains(&polls), "{polls} pod lists in 600 s");
            let doc = status(&f.board).await;
            assert_eq!(doc["liveSpeakers"], "readyEndpointNodes");
        } else if slices {
            assert!(denied.is_empty(), "v{}: {denied:?}", release.version());
        } else {
            assert_eq!(
                denied,
                ["/apis/discovery.k8s.io/v1/endpointslices"],
                "v{}: one refused probe, no storm",
                release.version()
            );
        }
        let watched = |path: &str| {
            requests
                .iter()
                .any(|r| r.path == path && r.query.contains("watch"))
        };
        assert_eq!(watched("/apis/discovery.k8s.io/v1/endpointslices"), slices);
        assert_eq!(watched("/api/v1/endpoints"), !slices, "never both at once");
        assert!(f.has_bgp_route() && f.balancers().len() == 2);
    }
}

/// An API server older than 1.21 (no discovery.k8s.io/v1): Endpoints, without a retry.
#[tokio::test(start_paused = true)]
async fn an_api_server_without_endpointslices_gets_endpoints_read() {
    let f = started_under(releases::rbac(Release::V0_12_1, Component::Speaker), false).await;
    let requests = f.api.requests();
    let probes = requests
        .iter()
        .filter(|r| r.path == "/apis/discovery.k8s.io/v1/endpointslices")
        .count();
    assert_eq!(probes, 1);
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/api/v1/endpoints" && r.query.contains("watch"))
    );
}
