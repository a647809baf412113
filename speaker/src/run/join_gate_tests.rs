//! The start-up join gate (docs/layer2.md#start-up) in the whole loop: a speaker with a real
//! memberlist node on loopback, alone, while the pod list names a second speaker that never
//! joins. Before the gate, the first decisions elected among this node alone and announced an
//! address the other speaker owns.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use fake_apiserver::FakeApi;
use serde_json::json;

use super::fake_cluster::{NODE, NS, ip, node, pod, service, slice, speaker_parts, until};
use super::{Membership, START_JOIN_GRACE, Settings, Speaker};
use crate::l2::Layer2;
use crate::status::Board;

const OTHER: &str = "node2";

/// A Layer 2 pool IP that `OTHER` wins among this node and `OTHER` (key: the IP).
fn ip_won_by_other() -> String {
    (1..=254)
        .map(|i| format!("10.20.30.{i}"))
        .find(|ip| common::l2::election::owner([NODE, OTHER], ip) == Some(OTHER))
        .expect("an IP the other node wins")
}

#[tokio::test(start_paused = true)]
async fn first_decisions_wait_for_listed_speakers_to_join() {
    let api = FakeApi::new();
    let vip = ip_won_by_other();
    api.upsert(json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "config", "namespace": NS},
                      "data": {"config": "address-pools:\n- name: l2\n  protocol: layer2\n  addresses:\n  - 10.20.30.0/24\n"}}));
    // This node's speaker pod and OTHER's, whose memberlist address nobody listens on.
    api.upsert(node(NODE, false));
    api.upsert(node(OTHER, false));
    api.upsert(pod("speaker", NODE, "127.0.0.1"));
    api.upsert(pod("speaker", OTHER, "127.0.0.2"));
    api.upsert(service("web", &vip));
    api.upsert(slice("web", "web-x1", Some(("10.244.1.1", true))));

    // memberlist on a free loopback port, the same port joined on OTHER's address.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let (handle, events) =
        crate::memberlist::start(common::memberlist::Config::fast(NODE, bind), bind)
            .await
            .expect("memberlist on loopback");

    let registry = prometheus::Registry::new();
    let (metrics, bgp, settings) = speaker_parts(&registry);
    let settings = Settings {
        memberlist_port: port,
        ..settings
    };
    let (layer2, l2) = Layer2::observed();
    let membership = Some(Membership { handle, events });
    let speaker = Speaker::new(settings, api.client(), metrics, layer2, membership, bgp)
        .with_status(Board::new(NODE));
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(async move {
        if let Err(e) = speaker.run().await {
            panic!("speaker loop ended: {e:#}");
        }
    });

    // Alone in memberlist with OTHER listed: nothing is announced before the grace ends,
    // although this node, alone, would elect itself.
    let early = until(START_JOIN_GRACE - Duration::from_millis(100), || {
        !l2.balancers().is_empty()
    })
    .await;
    assert!(
        !early,
        "announced {:?} at {:?}, before the start-up grace",
        l2.balancers(),
        started.elapsed()
    );
    // OTHER never joins: at the deadline the speaker decides without it, and owns the IP.
    let want: BTreeMap<String, Vec<IpAddr>> = [("shop/web".to_owned(), vec![ip(&vip)])].into();
    let decided = until(Duration::from_secs(2), || l2.balancers() == want).await;
    assert!(decided, "after the grace: {:?}", l2.balancers());
    assert!(started.elapsed() >= START_JOIN_GRACE);
    task.abort();
}
