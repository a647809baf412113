//! The session state machine, driven with a fake clock: `now` is always `t0 + offset`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::bgp::{
    AddressFamily, AsWidth, Asn, Capability, Connection, DesiredRoutes, DownReason, HoldTime,
    Input, Message, Notification, Open, Output, PathAttribute, PeerConfig, Prefix, RouteAttrs,
    RouteChange, Session, StateKind, Update, decode,
};

const SEC: Duration = Duration::from_secs(1);

struct Harness {
    session: Session,
    t0: Instant,
}

fn config(local: u32, peer: u32) -> PeerConfig {
    PeerConfig {
        local_asn: Asn(local),
        peer_asn: Asn(peer),
        peer: "192.0.2.1:179".parse().unwrap(),
        source_address: None,
        hold_time: HoldTime::DEFAULT,
        router_id: None,
        node_name: "node1".into(),
    }
}

fn conn() -> Connection {
    Connection {
        local: "192.0.2.10:40000".parse().unwrap(),
        remote: "192.0.2.1:179".parse().unwrap(),
        interface_ipv4: None,
        interface_ipv6: None,
        link_local: None,
    }
}

fn peer_open(asn: u32, hold: u16) -> Vec<u8> {
    let open = Open::ours(
        Asn(asn),
        HoldTime::new(hold).unwrap(),
        [192, 0, 2, 1].into(),
    );
    Message::Open(open).encode(AsWidth::Four).unwrap()
}

fn keepalive() -> Vec<u8> {
    Message::Keepalive.encode(AsWidth::Four).unwrap()
}

fn notification(code: u8, subcode: u8) -> Notification {
    Notification::new(code, subcode, [])
}

/// Every message in the `Send` outputs, decoded.
fn sent(outputs: &[Output]) -> Vec<Message> {
    let mut out = Vec::new();
    for o in outputs {
        if let Output::Send(bytes) = o {
            let mut rest = bytes.as_slice();
            while let Ok(Some((m, n))) = decode(rest, AsWidth::Four) {
                out.push(m);
                rest = &rest[n..];
            }
            assert!(rest.is_empty(), "Send holds whole messages only");
        }
    }
    out
}

/// The reason and back-off of the (single) down or failure report; `Duration::MAX` stands
/// for "no retry".
fn down_reason(outputs: &[Output]) -> Option<(DownReason, Duration)> {
    let mut reports = outputs.iter().filter_map(|o| match o {
        Output::SessionDown { reason, retry_in } | Output::AttemptFailed { reason, retry_in } => {
            Some((reason.clone(), retry_in.unwrap_or(Duration::MAX)))
        }
        _ => None,
    });
    let first = reports.next();
    assert!(reports.next().is_none(), "one report per event");
    first
}

impl Harness {
    fn new(config: PeerConfig) -> Self {
        Self {
            session: Session::new(config),
            t0: Instant::now(),
        }
    }

    fn at(&mut self, secs: f64, input: Input<'_>) -> Vec<Output> {
        let now = self.t0 + Duration::from_secs_f64(secs);
        self.session.handle(input, now)
    }

    fn deadline(&self) -> Option<Duration> {
        self.session.next_deadline().map(|d| d - self.t0)
    }

    /// Start (or the due retry), TCP connect and OPEN exchange with a peer proposing `hold`.
    fn establish(&mut self, at: f64, hold: u16) -> Vec<Output> {
        let first = if self.session.state() == StateKind::Idle && self.deadline().is_none() {
            self.at(at, Input::Start)
        } else {
            self.at(at, Input::Tick)
        };
        assert!(
            matches!(first.as_slice(), [Output::Connect { .. }]),
            "{first:?}"
        );
        let open = self.at(at, Input::TcpConnected(conn()));
        assert!(matches!(sent(&open).as_slice(), [Message::Open(_)]));
        let peer_asn = self.session.config().peer_asn.0;
        let ka = self.at(at, Input::Received(&peer_open(peer_asn, hold)));
        assert_eq!(sent(&ka), [Message::Keepalive]);
        assert_eq!(self.session.state(), StateKind::OpenConfirm);
        let up = self.at(at, Input::Received(&keepalive()));
        assert_eq!(self.session.state(), StateKind::Established);
        up
    }

    fn fail_dial(&mut self, at: f64) -> Duration {
        let out = self.at(at, Input::TcpFailed("connection refused".into()));
        down_reason(&out).expect("attempt failed").1
    }
}

#[test]
fn sends_upstreams_open_on_connect() {
    let mut h = Harness::new(config(64500, 64501));
    assert_eq!(
        h.at(0.0, Input::Start),
        [Output::Connect {
            peer: "192.0.2.1:179".parse().unwrap(),
            source: None
        }]
    );
    let out = h.at(0.1, Input::TcpConnected(conn()));
    let ours = Open::ours(Asn(64500), HoldTime::DEFAULT, Ipv4Addr::new(192, 0, 2, 10));
    assert_eq!(sent(&out), [Message::Open(ours)]);
    assert_eq!(h.session.state(), StateKind::OpenSent);
    // The 10 s deadline started at the dial, not at the connect.
    assert_eq!(h.deadline(), Some(10 * SEC));
}

#[test]
fn established_after_peer_keepalive_with_negotiated_hold() {
    let mut h = Harness::new(config(64500, 64501));
    let up = h.establish(0.0, 30);
    assert_eq!(
        up.first(),
        Some(&Output::SessionUp {
            hold_time: HoldTime::new(30).unwrap()
        })
    );
    // keepalive = 30 / 3
    assert_eq!(h.deadline(), Some(10 * SEC));
}

#[test]
fn keepalives_every_third_of_the_hold_time() {
    let mut h = Harness::new(config(64500, 64501));
    h.establish(0.0, 30);
    assert!(h.at(9.9, Input::Tick).is_empty());
    assert_eq!(sent(&h.at(10.0, Input::Tick)), [Message::Keepalive]);
    assert_eq!(h.deadline(), Some(20 * SEC));
    h.at(15.0, Input::Received(&keepalive()));
    assert_eq!(sent(&h.at(20.0, Input::Tick)), [Message::Keepalive]);
    assert_eq!(h.session.state(), StateKind::Established);
}

#[test]
fn hold_timer_expiry_sends_4_0_and_drops() {
    let mut h = Harness::new(config(64500, 64501));
    h.establish(0.0, 30);
    h.at(10.0, Input::Tick);
    h.at(12.0, Input::Received(&keepalive())); // hold now ends at 42
    h.at(20.0, Input::Tick);
    h.at(30.0, Input::Tick);
    assert_eq!(
        h.session.state(),
        StateKind::Established,
        "peer heard at 12 s"
    );
    h.at(40.0, Input::Tick);
    let out = h.at(42.0, Input::Tick);
    assert_eq!(
        sent(&out),
        [Message::Notification(Notification::hold_timer_expired())]
    );
    assert!(out.contains(&Output::CloseTcp));
    assert!(matches!(
        out.iter().find(|o| matches!(o, Output::SessionDown { .. })),
        Some(Output::SessionDown {
            reason: DownReason::HoldTimerExpired,
            ..
        })
    ));
    assert_eq!(h.session.state(), StateKind::Idle);
}

#[test]
fn hold_time_zero_disables_keepalives_and_hold_timer() {
    let mut h = Harness::new(config(64500, 64501));
    let up = h.establish(0.0, 0);
    assert_eq!(
        up.first(),
        Some(&Output::SessionUp {
            hold_time: HoldTime::DISABLED
        })
    );
    assert_eq!(h.deadline(), None);
    assert!(h.at(86_400.0, Input::Tick).is_empty());
    assert_eq!(h.session.state(), StateKind::Established);
}

#[test]
fn backoff_doubles_to_two_minutes() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    let mut t = 0.0;
    let mut waits = Vec::new();
    for _ in 0..10 {
        let wait = h.fail_dial(t);
        waits.push(wait.as_secs());
        if !wait.is_zero() {
            assert!(
                h.at(t + wait.as_secs_f64() - 0.5, Input::Tick).is_empty(),
                "not yet"
            );
        }
        t += wait.as_secs_f64();
        assert!(matches!(
            h.at(t, Input::Tick).as_slice(),
            [Output::Connect { .. }]
        ));
    }
    assert_eq!(waits, [0, 1, 2, 4, 8, 16, 32, 64, 120, 120]);
}

#[test]
fn open_then_notification_does_not_reset_backoff() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    assert_eq!(h.fail_dial(0.0), Duration::ZERO);
    h.at(0.0, Input::Tick);
    assert_eq!(h.fail_dial(0.0), SEC);
    // The peer accepts our OPEN, confirms, then refuses us at once (upstream #84/#1114).
    h.establish(1.0, 90);
    let out = h.at(
        1.1,
        Input::Received(
            &Message::Notification(notification(6, 5))
                .encode(AsWidth::Four)
                .unwrap(),
        ),
    );
    let (reason, retry_in) = down_reason(&out).unwrap();
    assert_eq!(
        reason.to_string(),
        "got BGP notification code 0x0605 (Connection Rejected)"
    );
    assert_eq!(retry_in, 2 * SEC, "back-off keeps growing");
    assert!(sent(&out).is_empty(), "no NOTIFICATION in reply to one");
}

#[test]
fn a_stable_session_resets_backoff() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    h.fail_dial(0.0);
    h.at(0.0, Input::Tick);
    h.fail_dial(0.0);
    h.establish(1.0, 90);
    for t in [31.0, 61.0] {
        h.at(t, Input::Tick);
        h.at(t, Input::Received(&keepalive()));
    }
    let out = h.at(62.0, Input::TcpClosed("reset by peer".into()));
    assert_eq!(
        down_reason(&out),
        Some((
            DownReason::TcpClosed("reset by peer".into()),
            Duration::ZERO
        ))
    );
}

fn routes(prefixes: &[&str]) -> DesiredRoutes {
    prefixes
        .iter()
        .map(|p| (p.parse::<Prefix>().unwrap(), RouteAttrs::default()))
        .collect()
}

fn announced(outputs: &[Output]) -> Vec<String> {
    let mut out: Vec<String> = sent(outputs)
        .into_iter()
        .filter_map(|m| match m {
            Message::Update(Update {
                nlri, attributes, ..
            }) => Some(
                nlri.iter()
                    .map(ToString::to_string)
                    .chain(attributes.iter().flat_map(|a| match a {
                        PathAttribute::MpReach { nlri, .. } => {
                            nlri.iter().map(ToString::to_string).collect()
                        }
                        _ => vec![],
                    }))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    out.sort();
    out
}

#[test]
fn full_rib_is_resent_after_reconnect() {
    let mut h = Harness::new(config(64500, 64501));
    let out = h.at(
        0.0,
        Input::DesiredRoutes(routes(&["198.51.100.1/32", "198.51.100.2/32"])),
    );
    assert_eq!(
        out,
        [Output::Metrics {
            updates_sent: 0,
            announced_prefixes: 0,
            pending_prefixes: 2
        }]
    );
    let up = h.establish(0.0, 90);
    assert_eq!(announced(&up), ["198.51.100.1/32", "198.51.100.2/32"]);
    assert!(up.contains(&Output::Metrics {
        updates_sent: 1,
        announced_prefixes: 2,
        pending_prefixes: 2
    }));

    let out = h.at(
        5.0,
        Input::DesiredRoutes(routes(&["198.51.100.1/32", "198.51.100.3/32"])),
    );
    assert_eq!(announced(&out), ["198.51.100.3/32"], "only the difference");
    let withdrawn: Vec<_> = sent(&out)
        .into_iter()
        .flat_map(|m| match m {
            Message::Update(u) => u.withdrawn,
            _ => vec![],
        })
        .collect();
    assert_eq!(withdrawn, ["198.51.100.2/32".parse().unwrap()]);

    let down = h.at(6.0, Input::TcpClosed("EOF".into()));
    assert!(down.contains(&Output::Metrics {
        updates_sent: 0,
        announced_prefixes: 0,
        pending_prefixes: 2
    }));
    let retry = h.deadline().unwrap().as_secs_f64();
    let up = h.establish(retry, 90);
    assert_eq!(announced(&up), ["198.51.100.1/32", "198.51.100.3/32"]);
}

#[test]
fn route_changes_send_only_their_prefixes_and_count_while_down() {
    let change = |p: &str, on: bool| RouteChange {
        prefix: p.parse().unwrap(),
        route: on.then(RouteAttrs::default),
    };
    let mut h = Harness::new(config(64500, 64501));
    let out = h.at(
        0.0,
        Input::RouteChanges(&[
            change("198.51.100.1/32", true),
            change("198.51.100.2/32", true),
        ]),
    );
    assert!(sent(&out).is_empty(), "not connected: nothing sent");
    let up = h.establish(0.0, 90);
    assert_eq!(announced(&up), ["198.51.100.1/32", "198.51.100.2/32"]);

    let out = h.at(
        1.0,
        Input::RouteChanges(&[
            change("198.51.100.3/32", true),
            change("198.51.100.1/32", false),
        ]),
    );
    assert_eq!(announced(&out), ["198.51.100.3/32"]);
    let withdrawn: Vec<Prefix> = sent(&out)
        .into_iter()
        .flat_map(|m| match m {
            Message::Update(u) => u.withdrawn.into_iter().map(Prefix::from).collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(withdrawn, ["198.51.100.1/32".parse::<Prefix>().unwrap()]);
    assert!(out.contains(&Output::Metrics {
        updates_sent: 2,
        announced_prefixes: 2,
        pending_prefixes: 2
    }));
    // Changes that change nothing send nothing.
    let out = h.at(2.0, Input::RouteChanges(&[change("198.51.100.3/32", true)]));
    assert!(sent(&out).is_empty(), "{out:?}");
}

#[test]
fn unexpected_peer_asn_is_refused_with_bad_peer_as() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    h.at(0.0, Input::TcpConnected(conn()));
    let out = h.at(0.1, Input::Received(&peer_open(65000, 90)));
    assert_eq!(sent(&out), [Message::Notification(notification(2, 2))]);
    assert!(out.contains(&Output::CloseTcp));
    let (reason, _) = down_reason(&out).unwrap();
    assert_eq!(reason.to_string(), "unexpected peer ASN 65000, want 64501");
}

#[test]
fn four_octet_local_asn_requires_the_capability() {
    let mut h = Harness::new(config(4_200_000_000, 65001));
    h.at(0.0, Input::Start);
    h.at(0.0, Input::TcpConnected(conn()));
    let arista = Open {
        my_as: 65001,
        hold_time: HoldTime::new(180).unwrap(),
        bgp_id: [185, 236, 240, 64].into(),
        capabilities: vec![Capability::Multiprotocol(AddressFamily::IPV4_UNICAST)],
    };
    let bytes = Message::Open(arista).encode(AsWidth::Four).unwrap();
    let out = h.at(0.1, Input::Received(&bytes));
    let (reason, _) = down_reason(&out).unwrap();
    assert_eq!(reason.to_string(), "peer does not support 4-byte ASNs");
    assert!(
        matches!(sent(&out).as_slice(), [Message::Notification(n)] if n.code == 2 && n.subcode == 7)
    );
}

#[test]
fn connect_and_open_exchange_share_a_ten_second_deadline() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    let out = h.at(10.0, Input::Tick);
    assert!(out.contains(&Output::CloseTcp));
    assert_eq!(
        down_reason(&out).map(|r| r.0),
        Some(DownReason::ConnectTimeout)
    );

    h.at(10.0, Input::Tick); // immediate first retry
    h.at(19.0, Input::TcpConnected(conn()));
    let out = h.at(20.0, Input::Tick);
    assert_eq!(
        sent(&out),
        [Message::Notification(Notification::hold_timer_expired())]
    );
    assert_eq!(
        down_reason(&out).map(|r| r.0),
        Some(DownReason::ConnectTimeout)
    );
}

#[test]
fn garbage_from_the_peer_gets_a_header_notification() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    h.at(0.0, Input::TcpConnected(conn()));
    let out = h.at(0.1, Input::Received(b"SSH-2.0-OpenSSH"));
    assert_eq!(sent(&out), [Message::Notification(notification(1, 1))]);
    assert_eq!(h.session.state(), StateKind::Idle);
}

#[test]
fn keepalive_before_open_is_an_fsm_error() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    h.at(0.0, Input::TcpConnected(conn()));
    let out = h.at(0.1, Input::Received(&keepalive()));
    assert_eq!(sent(&out), [Message::Notification(notification(5, 1))]);
}

#[test]
fn byte_at_a_time_delivery_establishes() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    h.at(0.0, Input::TcpConnected(conn()));
    let mut stream = peer_open(64501, 90);
    stream.extend(keepalive());
    let mut outputs = Vec::new();
    for b in stream {
        outputs.extend(h.at(0.1, Input::Received(&[b])));
    }
    assert_eq!(h.session.state(), StateKind::Established);
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::SessionUp { .. }))
    );
}

#[test]
fn peer_updates_are_ignored_but_keep_the_session_alive() {
    let mut h = Harness::new(config(64500, 64501));
    h.establish(0.0, 30);
    // A syntactically broken UPDATE body: RFC 7606 says do not reset for it, and we ignore
    // the peer's routes anyway.
    let mut update = vec![0xff; 16];
    update.extend_from_slice(&[0, 25, 2, 0xde, 0xad, 0xbe, 0xef, 0, 0]);
    h.at(10.0, Input::Tick);
    h.at(20.0, Input::Tick);
    let out = h.at(25.0, Input::Received(&update));
    assert!(sent(&out).is_empty());
    // Without the UPDATE the hold timer would fire at 30 s; it now ends at 55 s.
    assert_eq!(sent(&h.at(30.0, Input::Tick)), [Message::Keepalive]);
    h.at(40.0, Input::Tick);
    h.at(50.0, Input::Tick);
    assert_eq!(h.session.state(), StateKind::Established);
    assert_eq!(
        sent(&h.at(55.0, Input::Tick)),
        [Message::Notification(Notification::hold_timer_expired())]
    );
}

#[test]
fn stop_sends_cease_and_stays_idle_until_started() {
    let mut h = Harness::new(config(64500, 64501));
    h.establish(0.0, 90);
    let out = h.at(1.0, Input::Stop);
    assert_eq!(
        sent(&out),
        [Message::Notification(Notification::admin_shutdown())]
    );
    assert!(out.contains(&Output::CloseTcp));
    assert_eq!(
        down_reason(&out),
        Some((DownReason::Stopped, Duration::MAX))
    );
    assert!(out.contains(&Output::Metrics {
        updates_sent: 0,
        announced_prefixes: 0,
        pending_prefixes: 0
    }));
    assert_eq!(h.deadline(), None);
    assert!(h.at(500.0, Input::Tick).is_empty());
    assert!(matches!(
        h.at(501.0, Input::Start).as_slice(),
        [Output::Connect { .. }]
    ));
}

#[test]
fn ipv6_session_announces_ipv6_natively_and_derives_router_id_from_node_name() {
    let mut h = Harness::new(PeerConfig {
        peer: "[2001:db8::1]:179".parse().unwrap(),
        ..config(64500, 64500)
    });
    h.at(
        0.0,
        Input::DesiredRoutes(routes(&["2001:db8:5::/64", "198.51.100.1/32"])),
    );
    h.at(0.0, Input::Start);
    let v6 = Connection {
        local: "[2001:db8::10]:40000".parse::<SocketAddr>().unwrap(),
        remote: "[2001:db8::1]:179".parse().unwrap(),
        interface_ipv4: None,
        interface_ipv6: None,
        link_local: Some("fe80::10".parse().unwrap()),
    };
    let out = h.at(0.0, Input::TcpConnected(v6));
    let Some(Message::Open(open)) = sent(&out).pop() else {
        panic!("no OPEN");
    };
    assert_eq!(open.bgp_id, Ipv4Addr::new(64, 37, 239, 133));
    h.at(0.1, Input::Received(&peer_open(64500, 90)));
    let up = h.at(0.1, Input::Received(&keepalive()));
    // No IPv4 address to use as NEXT_HOP: only the IPv6 route is announced.
    assert_eq!(announced(&up), ["2001:db8:5::/64"]);
    assert!(up.contains(&Output::Metrics {
        updates_sent: 1,
        announced_prefixes: 1,
        pending_prefixes: 2
    }));
    let next_hop = sent(&up).into_iter().find_map(|m| match m {
        Message::Update(u) => u.attributes.into_iter().find_map(|a| match a {
            PathAttribute::MpReach { next_hop, .. } => Some(next_hop),
            _ => None,
        }),
        _ => None,
    });
    assert_eq!(
        next_hop.map(|n| (n.global.to_string(), n.link_local.map(|l| l.to_string()))),
        Some(("2001:db8::10".into(), Some("fe80::10".into())))
    );
}

#[test]
fn stop_while_dialling_or_waiting_cancels_the_retry() {
    let mut h = Harness::new(config(64500, 64501));
    h.at(0.0, Input::Start);
    let out = h.at(0.5, Input::Stop);
    assert_eq!(out.first(), Some(&Output::CloseTcp), "abort the dial");
    assert_eq!(
        down_reason(&out),
        Some((DownReason::Stopped, Duration::MAX))
    );
    h.at(1.0, Input::Start);
    h.fail_dial(1.0);
    assert!(h.deadline().is_some(), "retry scheduled");
    assert!(h.at(1.5, Input::Stop).is_empty(), "nothing open");
    assert_eq!(h.deadline(), None);
}
