//! The speaker against scripted BGP peers on loopback listeners: real sockets and timers,
//! the peer side written with the common codec. No root needed.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::bgp::{
    Asn, DesiredRoutes, HoldTime, Message, Notification, Open, PathAttribute, Prefix, RouteAttrs,
    decode, diff,
};
use common::config::{Community, Labels, Mode, Peer, parse};
use ipnet::IpNet;
use kube_shell::metrics::Bgp;
use prometheus::Registry;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use super::BgpSpeaker;
use common::bgp::AsWidth;

const WAIT: Duration = Duration::from_secs(5);

/// What a route looked like on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    as_path: Vec<u32>,
    next_hop: Option<IpAddr>,
    local_pref: Option<u32>,
    communities: Vec<Community>,
}

/// The far end of one connection, playing a router.
struct FakePeer {
    stream: TcpStream,
    rx: Vec<u8>,
    rib: BTreeMap<IpNet, Seen>,
    updates: usize,
}

impl FakePeer {
    async fn accept(listener: &TcpListener) -> Self {
        let (stream, _) = timeout(WAIT, listener.accept())
            .await
            .expect("speaker connects in time")
            .expect("accept");
        Self {
            stream,
            rx: Vec::new(),
            rib: BTreeMap::new(),
            updates: 0,
        }
    }

    /// The next message, or `None` on EOF.
    async fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some((msg, len)) = decode(&self.rx, AsWidth::Four).expect("valid BGP") {
                self.rx.drain(..len);
                if let Message::Update(u) = &msg {
                    self.updates += 1;
                    self.apply(u);
                }
                return Some(msg);
            }
            let mut buf = [0u8; 4096];
            let n = timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("speaker talks in time")
                .ok()?;
            if n == 0 {
                return None;
            }
            self.rx.extend_from_slice(&buf[..n]);
        }
    }

    fn apply(&mut self, u: &common::bgp::Update) {
        let mut seen = Seen {
            as_path: Vec::new(),
            next_hop: None,
            local_pref: None,
            communities: Vec::new(),
        };
        let mut v6 = Vec::new();
        for attr in &u.attributes {
            match attr {
                PathAttribute::AsPath(segs) => {
                    seen.as_path = segs
                        .iter()
                        .flat_map(|s| s.asns.iter().map(|a| a.0))
                        .collect();
                }
                PathAttribute::NextHop(nh) => seen.next_hop = Some((*nh).into()),
                PathAttribute::LocalPref(lp) => seen.local_pref = Some(*lp),
                PathAttribute::Communities(c) => seen.communities.clone_from(c),
                PathAttribute::MpReach { next_hop, nlri } => {
                    v6.extend(nlri.iter().map(|n| (IpNet::V6(*n), next_hop.global)));
                }
                PathAttribute::MpUnreach { withdrawn } => {
                    for n in withdrawn {
                        self.rib.remove(&IpNet::V6(*n));
                    }
                }
                _ => {}
            }
        }
        for n in &u.withdrawn {
            self.rib.remove(&IpNet::V4(*n));
        }
        for n in &u.nlri {
            self.rib.insert(IpNet::V4(*n), seen.clone());
        }
        for (n, nh) in v6 {
            let mut s = seen.clone();
            s.next_hop = Some(nh.into());
            self.rib.insert(n, s);
        }
    }

    async fn send(&mut self, msg: Message) {
        let bytes = msg.encode(AsWidth::Four).expect("encodable");
        self.stream.write_all(&bytes).await.expect("write");
    }

    /// Plays the OPEN exchange as AS `asn` and returns the speaker's OPEN.
    async fn establish(&mut self, asn: u32, hold: u16) -> Open {
        let Some(Message::Open(theirs)) = self.recv().await else {
            panic!("expected OPEN first");
        };
        let ours = Open::ours(
            Asn(asn),
            HoldTime::new(hold).expect("hold"),
            Ipv4Addr::new(192, 0, 2, 1),
        );
        self.send(Message::Open(ours)).await;
        self.send(Message::Keepalive).await;
        assert_eq!(self.recv().await, Some(Message::Keepalive));
        theirs
    }

    /// Reads until the RIB satisfies `done`.
    async fn until(&mut self, done: impl Fn(&BTreeMap<IpNet, Seen>) -> bool) {
        while !done(&self.rib) {
            let msg = self.recv().await.expect("connection open");
            assert!(
                matches!(msg, Message::Update(_) | Message::Keepalive),
                "unexpected {msg:?}"
            );
        }
    }
}

fn peers(yaml: &str) -> Vec<Peer> {
    parse(yaml, Mode::NativeSpeaker)
        .expect("valid config")
        .peers
}

fn net(s: &str) -> IpNet {
    s.parse().expect("test prefix")
}

fn routes(list: &[(&str, u32, &[u32])]) -> DesiredRoutes {
    list.iter()
        .map(|(p, lp, c)| {
            (
                Prefix::new(net(p)),
                RouteAttrs::new(*lp, c.iter().copied().map(Community)).expect("attrs"),
            )
        })
        .collect()
}

fn metric(r: &Registry, name: &str, peer: &str) -> Option<f64> {
    let family = r.gather().into_iter().find(|f| f.name() == name)?;
    let m = family
        .get_metric()
        .iter()
        .find(|m| m.get_label().iter().any(|l| l.value() == peer))?
        .clone();
    Some(if name == "metallb_bgp_updates_total" {
        m.get_counter().get_value()
    } else {
        m.get_gauge().get_value()
    })
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let give_up = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < give_up, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

#[tokio::test]
async fn session_advertises_routes_with_ebgp_attributes_and_withdraws_them() {
    let registry = Registry::new();
    let mut speaker = BgpSpeaker::new("node1", Bgp::new(&registry).expect("metrics"));
    let (l, port) = listener().await;
    let label = format!("127.0.0.1:{port}");
    let initial = routes(&[
        ("198.51.100.10/32", 100, &[0xffff_ff02, 7]),
        ("198.51.100.0/24", 0, &[]),
        ("2001:db8::5/128", 0, &[]),
    ]);
    speaker.set_peers(
        peers(&format!(
            "peers:\n- {{peer-address: 127.0.0.1, peer-port: {port}, peer-asn: 64513, my-asn: 64512}}\n"
        )),
        &Labels::new(),
        &|| initial.clone(),
    );
    assert_eq!(
        metric(&registry, "metallb_bgp_session_up", &label),
        Some(0.0)
    );

    let mut peer = FakePeer::accept(&l).await;
    let open = peer.establish(64513, 90).await;
    assert_eq!(open.asn(), Asn(64512));
    assert_eq!(open.hold_time, HoldTime::new(90).expect("hold"));
    peer.until(|rib| rib.len() == 3).await;
    let host = &peer.rib[&net("198.51.100.10/32")];
    assert_eq!(host.as_path, [64512]);
    assert_eq!(host.next_hop, Some(Ipv4Addr::LOCALHOST.into()));
    assert_eq!(host.local_pref, None, "no LOCAL_PREF on eBGP");
    assert_eq!(host.communities, [Community(7), Community(0xffff_ff02)]);
    assert_eq!(
        peer.rib[&net("2001:db8::5/128")].next_hop,
        Some("::1".parse().expect("ip")),
        "IPv6 next hop from the loopback interface"
    );
    eventually("session_up = 1", || {
        metric(&registry, "metallb_bgp_session_up", &label) == Some(1.0)
    })
    .await;
    eventually("announced = 3", || {
        metric(&registry, "metallb_bgp_announced_prefixes_total", &label) == Some(3.0)
    })
    .await;
    // /status sees the same session: state and prefixes, read from another task's handle.
    let status = speaker.status();
    let rows = status.sessions();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].peer, label);
    assert_eq!((rows[0].my_asn, rows[0].peer_asn), (64512, 64513));
    assert_eq!(rows[0].state, "Established");
    assert_eq!(rows[0].prefixes_sent, 3);
    assert_eq!(rows[0].last_error, None);

    speaker.apply_changes(diff(&initial, &routes(&[("198.51.100.0/24", 0, &[])])));
    peer.until(|rib| rib.len() == 1).await;
    assert!(peer.rib.contains_key(&net("198.51.100.0/24")));
    let sent = peer.updates as f64;
    eventually("updates counted", || {
        metric(&registry, "metallb_bgp_updates_total", &label) == Some(sent)
    })
    .await;
    assert_eq!(
        metric(&registry, "metallb_bgp_pending_prefixes_total", &label),
        Some(1.0)
    );

    speaker.shutdown().await;
    assert!(status.sessions().is_empty(), "no session after shutdown");
    let Some(Message::Notification(n)) = peer.recv().await else {
        panic!("expected a Cease on shutdown");
    };
    assert_eq!(n.code, Notification::admin_shutdown().code);
    assert_eq!(peer.recv().await, None, "then EOF");
    assert_eq!(metric(&registry, "metallb_bgp_session_up", &label), None);
}

#[tokio::test]
async fn ibgp_carries_local_pref_and_an_empty_as_path() {
    let registry = Registry::new();
    let mut speaker = BgpSpeaker::new("node1", Bgp::new(&registry).expect("metrics"));
    let (l, port) = listener().await;
    let initial = routes(&[("203.0.113.7/32", 250, &[])]);
    speaker.set_peers(
        peers(&format!(
            "peers:\n- {{peer-address: 127.0.0.1, peer-port: {port}, peer-asn: 4200000001, my-asn: 4200000001}}\n"
        )),
        &Labels::new(),
        &|| initial.clone(),
    );
    let mut peer = FakePeer::accept(&l).await;
    let open = peer.establish(4_200_000_001, 90).await;
    assert_eq!(open.my_as, Asn::TRANS);
    peer.until(|rib| !rib.is_empty()).await;
    let seen = &peer.rib[&net("203.0.113.7/32")];
    assert_eq!(seen.as_path, Vec::<u32>::new());
    assert_eq!(seen.local_pref, Some(250));
    speaker.shutdown().await;
}

/// A peer that goes silent is dropped when the hold time runs out; the speaker reconnects
/// and the new session gets the full set again.
#[tokio::test]
async fn silent_peer_is_dropped_after_the_hold_time_and_the_rib_resent() {
    let registry = Registry::new();
    let mut speaker = BgpSpeaker::new("node1", Bgp::new(&registry).expect("metrics"));
    let (l, port) = listener().await;
    let label = format!("127.0.0.1:{port}");
    let initial = routes(&[("198.51.100.1/32", 0, &[]), ("198.51.100.2/32", 0, &[])]);
    speaker.set_peers(
        peers(&format!(
            "peers:\n- {{peer-address: 127.0.0.1, peer-port: {port}, peer-asn: 64513, my-asn: 64512, hold-time: 3s}}\n"
        )),
        &Labels::new(),
        &|| initial.clone(),
    );
    let mut peer = FakePeer::accept(&l).await;
    peer.establish(64513, 3).await;
    let up_at = tokio::time::Instant::now();
    peer.until(|rib| rib.len() == 2).await;
    // Keep reading (the speaker's keepalives) but never answer.
    let notification = loop {
        match peer.recv().await {
            Some(Message::Keepalive) => {}
            Some(Message::Notification(n)) => break n,
            other => panic!("unexpected {other:?}"),
        }
    };
    let waited = up_at.elapsed();
    assert_eq!(notification, Notification::hold_timer_expired());
    assert!(
        waited >= Duration::from_millis(2900) && waited < Duration::from_secs(4),
        "dropped after {waited:?}"
    );
    assert_eq!(
        metric(&registry, "metallb_bgp_session_up", &label),
        Some(0.0)
    );
    assert_eq!(
        metric(&registry, "metallb_bgp_announced_prefixes_total", &label),
        Some(0.0)
    );

    let mut again = FakePeer::accept(&l).await;
    again.establish(64513, 3).await;
    again.until(|rib| rib.len() == 2).await;
    speaker.shutdown().await;
}

#[tokio::test]
async fn unchanged_peers_keep_their_session_changed_and_deselected_ones_are_replaced() {
    let registry = Registry::new();
    let mut speaker = BgpSpeaker::new("node1", Bgp::new(&registry).expect("metrics"));
    let (la, pa) = listener().await;
    let (lb, pb) = listener().await;
    let a = format!(
        "- {{peer-address: 127.0.0.1, peer-port: {pa}, peer-asn: 64513, my-asn: 64512, node-selectors: [{{match-labels: {{rack: r1}}}}]}}\n"
    );
    let b = |hold: &str| {
        format!(
            "- {{peer-address: 127.0.0.1, peer-port: {pb}, peer-asn: 64513, my-asn: 64512, hold-time: {hold}}}\n"
        )
    };
    let labels: Labels = [("rack".to_owned(), "r1".to_owned())].into();
    speaker.set_peers(
        peers(&format!("peers:\n{a}{}", b("90s"))),
        &labels,
        &DesiredRoutes::new,
    );
    assert_eq!(speaker.active_peers().len(), 2);
    let mut peer_a = FakePeer::accept(&la).await;
    peer_a.establish(64513, 90).await;
    let mut peer_b = FakePeer::accept(&lb).await;
    peer_b.establish(64513, 90).await;

    // B's hold time changes: B is closed and reconnects; A's session is untouched.
    speaker.set_peers(
        peers(&format!("peers:\n{a}{}", b("30s"))),
        &labels,
        &DesiredRoutes::new,
    );
    assert!(matches!(
        peer_b.recv().await,
        Some(Message::Notification(_))
    ));
    assert_eq!(peer_b.recv().await, None);
    let mut peer_b2 = FakePeer::accept(&lb).await;
    let open = peer_b2.establish(64513, 90).await;
    assert_eq!(open.hold_time, HoldTime::new(30).expect("hold"));
    let idle = timeout(
        Duration::from_millis(300),
        peer_a.stream.read(&mut [0u8; 64]),
    )
    .await;
    assert!(idle.is_err(), "A's connection saw no traffic: {idle:?}");

    // The node loses its label: A no longer applies and its series go away.
    speaker.set_peers(
        peers(&format!("peers:\n{a}{}", b("30s"))),
        &Labels::new(),
        &DesiredRoutes::new,
    );
    assert_eq!(speaker.active_peers().len(), 1);
    assert!(matches!(
        peer_a.recv().await,
        Some(Message::Notification(_))
    ));
    assert_eq!(peer_a.recv().await, None);
    let label_a = format!("127.0.0.1:{pa}");
    assert_eq!(metric(&registry, "metallb_bgp_session_up", &label_a), None);
    let label_b = format!("127.0.0.1:{pb}");
    assert!(metric(&registry, "metallb_bgp_session_up", &label_b).is_some());
    speaker.shutdown().await;
}

/// The peer answers with the wrong AS: the attempt fails, is logged, and retried.
#[tokio::test]
async fn a_peer_with_the_wrong_asn_is_refused_and_retried() {
    let registry = Registry::new();
    let mut speaker = BgpSpeaker::new("node1", Bgp::new(&registry).expect("metrics"));
    let (l, port) = listener().await;
    speaker.set_peers(
        peers(&format!(
            "peers:\n- {{peer-address: 127.0.0.1, peer-port: {port}, peer-asn: 64513, my-asn: 64512}}\n"
        )),
        &Labels::new(),
        &DesiredRoutes::new,
    );
    let mut peer = FakePeer::accept(&l).await;
    let Some(Message::Open(_)) = peer.recv().await else {
        panic!("expected OPEN");
    };
    let wrong = Open::ours(Asn(64999), HoldTime::DEFAULT, Ipv4Addr::new(192, 0, 2, 1));
    peer.send(Message::Open(wrong)).await;
    let Some(Message::Notification(n)) = peer.recv().await else {
        panic!("expected a NOTIFICATION");
    };
    assert_eq!((n.code, n.subcode), (2, 2), "OPEN error, bad peer AS");
    // First retry comes without delay (back-off starts at 0).
    let _retry = FakePeer::accept(&l).await;
    let label = format!("127.0.0.1:{port}");
    assert_eq!(
        metric(&registry, "metallb_bgp_session_up", &label),
        Some(0.0)
    );
    let row = speaker.status().sessions().pop().expect("one session");
    assert_ne!(row.state, "Established");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("64999")),
        "the refusal is shown: {:?}",
        row.last_error
    );
    speaker.shutdown().await;
}

#[test]
fn peer_label_brackets_ipv6() {
    let v6: SocketAddr = "[fd00::1]:179".parse().expect("addr");
    assert_eq!(super::driver::peer_label(v6), "[fd00::1]:179");
}

/// Log lines as upstream's: `event`, `peer` and `reason` keys, in MetalLB's JSON format.
#[tokio::test]
async fn lifecycle_is_logged_with_upstreams_keys() {
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .event_format(kube_shell::logfmt::MetalLbJson)
        .with_writer(move || sink.clone())
        .finish();
    // The test runtime is single-threaded, so every task logs through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let registry = Registry::new();
    let mut speaker = BgpSpeaker::new("node1", Bgp::new(&registry).expect("metrics"));
    let (l, port) = listener().await;
    speaker.set_peers(
        peers(&format!(
            "peers:\n- {{peer-address: 127.0.0.1, peer-port: {port}, peer-asn: 64513, my-asn: 64512}}\n"
        )),
        &Labels::new(),
        &DesiredRoutes::new,
    );
    let mut peer = FakePeer::accept(&l).await;
    peer.establish(64513, 90).await;
    let label = format!("127.0.0.1:{port}");
    eventually("session_up = 1", || {
        metric(&registry, "metallb_bgp_session_up", &label) == Some(1.0)
    })
    .await;
    speaker.set_peers(Vec::new(), &Labels::new(), &DesiredRoutes::new);
    assert!(matches!(peer.recv().await, Some(Message::Notification(_))));
    speaker.shutdown().await;

    let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let find = |event: &str| {
        lines
            .iter()
            .find(|l| l["event"] == event)
            .unwrap_or_else(|| panic!("no {event} in {text}"))
    };
    assert_eq!(find("peerAdded")["peer"], "127.0.0.1");
    let up = find("sessionUp");
    assert_eq!(up["peer"], label.as_str());
    assert_eq!(
        (up["localASN"].clone(), up["peerASN"].clone()),
        (64512.into(), 64513.into())
    );
    assert_eq!(up["msg"], "BGP session established");
    let removed = find("peerRemoved");
    assert_eq!(removed["reason"], "removedFromConfig");
    assert_eq!(find("sessionDown")["reason"], "stopped");
}

/// A peer configured after routes were handed off starts from the set it is given and then
/// follows the changes handed to every session, as the one that was there from the start.
#[tokio::test]
async fn a_peer_added_later_starts_from_the_current_routes_and_follows_the_changes() {
    let registry = Registry::new();
    let mut speaker = BgpSpeaker::new("node1", Bgp::new(&registry).expect("metrics"));
    let (la, pa) = listener().await;
    let (lb, pb) = listener().await;
    let a =
        format!("- {{peer-address: 127.0.0.1, peer-port: {pa}, peer-asn: 64513, my-asn: 64512}}\n");
    let b =
        format!("- {{peer-address: 127.0.0.1, peer-port: {pb}, peer-asn: 64513, my-asn: 64512}}\n");
    speaker.set_peers(
        peers(&format!("peers:\n{a}")),
        &Labels::new(),
        &DesiredRoutes::new,
    );
    let mut peer_a = FakePeer::accept(&la).await;
    peer_a.establish(64513, 90).await;
    let first = routes(&[("198.51.100.1/32", 0, &[]), ("198.51.100.2/32", 0, &[])]);
    speaker.apply_changes(diff(&DesiredRoutes::new(), &first));
    peer_a.until(|rib| rib.len() == 2).await;

    speaker.set_peers(peers(&format!("peers:\n{a}{b}")), &Labels::new(), &|| {
        first.clone()
    });
    let mut peer_b = FakePeer::accept(&lb).await;
    peer_b.establish(64513, 90).await;
    peer_b.until(|rib| rib.len() == 2).await;

    let second = routes(&[("198.51.100.2/32", 0, &[]), ("198.51.100.3/32", 0, &[])]);
    speaker.apply_changes(diff(&first, &second));
    let want: Vec<IpNet> = second.keys().map(|p| p.net()).collect();
    for peer in [&mut peer_a, &mut peer_b] {
        peer.until(|rib| rib.keys().copied().eq(want.iter().copied()))
            .await;
    }
    speaker.shutdown().await;
}
