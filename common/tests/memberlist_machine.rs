//! One `Memberlist` node driven by hand: each protocol rule as input bytes → output bytes.

use common::memberlist::packet::{decode_messages, open_packet};
use common::memberlist::stream::{StreamMessage, decode_stream, seal_stream};
use common::memberlist::wire::{
    Ack, Alive, Dead, IndirectPing, Message, Nack, Ping, PushNodeState, PushPull, Source, Versions,
};
use common::memberlist::{
    Config, ConfigError, Event, FAST_MARKER, MemberState, Memberlist, Output, Profile, StreamReply,
    Timers,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn me() -> SocketAddr {
    "10.0.0.1:7946".parse().expect("test input")
}

fn peer(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i], 7946))
}

/// A node with compression off, so datagrams can be read back as plain messages.
fn node(now: Instant) -> Memberlist {
    let config = Config {
        enable_compression: false,
        ..Config::lan("me", me())
    };
    Memberlist::new(config, [1; 32], now).expect("test input")
}

fn drain(ml: &mut Memberlist) -> Vec<Output> {
    std::iter::from_fn(|| ml.poll_output()).collect()
}

/// Every message sent, with its destination.
fn sent(outputs: &[Output]) -> Vec<(SocketAddr, Message)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Packet { to, payload } => Some((*to, payload)),
            _ => None,
        })
        .flat_map(|(to, payload)| {
            let plain = open_packet(payload, None, true).expect("test input");
            decode_messages(&plain)
                .into_iter()
                .map(move |m| (to, m.expect("test input")))
        })
        .collect()
}

fn alive(name: &str, addr: SocketAddr, incarnation: u32) -> Message {
    Message::Alive(Alive {
        incarnation,
        node: name.into(),
        addr: addr.ip(),
        port: addr.port(),
        meta: vec![],
        vsn: Some(Versions::METALLB),
    })
}

#[test]
fn start_reports_ourselves_and_rejects_bad_configs() {
    let now = Instant::now();
    let mut ml = node(now);
    let out = drain(&mut ml);
    assert!(
        matches!(&out[..], [Output::Event(Event::Joined(m))] if m.name == "me" && m.addr == me())
    );
    assert_eq!(ml.members().len(), 1);
    assert_eq!(ml.members()[0].incarnation, 1);

    let err = |c: Config| Memberlist::new(c, [0; 32], now).expect_err("test input");
    assert_eq!(err(Config::lan("", me())), ConfigError::EmptyName);
    let bad = Versions {
        protocol_cur: 6,
        ..Versions::METALLB
    };
    assert_eq!(
        err(Config {
            versions: bad,
            ..Config::lan("a", me())
        }),
        ConfigError::ProtocolVersion {
            cur: 6,
            min: 1,
            max: 5
        }
    );
}

#[test]
fn pings_are_acked_to_the_named_source_or_the_sender() {
    let now = Instant::now();
    let mut ml = node(now);
    drain(&mut ml);
    let with_source = Message::Ping(Ping {
        seq_no: 11,
        node: "me".into(),
        source: Some(Source {
            addr: peer(9),
            node: "x".into(),
        }),
    });
    ml.handle_packet(peer(2), &with_source.encode(), now)
        .expect("test input");
    let plain = Message::Ping(Ping {
        seq_no: 12,
        node: String::new(),
        source: None,
    });
    ml.handle_packet(peer(3), &plain.encode(), now)
        .expect("test input");
    let wrong = Message::Ping(Ping {
        seq_no: 13,
        node: "someone-else".into(),
        source: None,
    });
    ml.handle_packet(peer(3), &wrong.encode(), now)
        .expect("test input");
    let acks: Vec<_> = sent(&drain(&mut ml))
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Ack(_)))
        .collect();
    assert_eq!(
        acks,
        [
            (
                peer(9),
                Message::Ack(Ack {
                    seq_no: 11,
                    payload: vec![]
                })
            ),
            (
                peer(3),
                Message::Ack(Ack {
                    seq_no: 12,
                    payload: vec![]
                })
            ),
        ]
    );
}

#[test]
fn indirect_probes_relay_the_ack_or_send_a_nack() {
    let now = Instant::now();
    let mut ml = node(now);
    drain(&mut ml);
    let req = |seq_no, nack| {
        Message::IndirectPing(IndirectPing {
            seq_no,
            target: peer(3).ip(),
            port: 7946,
            node: "c".into(),
            nack,
            source: None,
        })
        .encode()
    };
    // First request: the target answers.
    ml.handle_packet(peer(2), &req(500, true), now)
        .expect("test input");
    let out = sent(&drain(&mut ml));
    let Some((to, Message::Ping(ping))) = out.iter().find(|(_, m)| matches!(m, Message::Ping(_)))
    else {
        panic!("no ping in {out:?}");
    };
    assert_eq!((*to, ping.node.as_str()), (peer(3), "c"));
    let ack = Message::Ack(Ack {
        seq_no: ping.seq_no,
        payload: vec![],
    });
    ml.handle_packet(peer(3), &ack.encode(), now)
        .expect("test input");
    let relayed = sent(&drain(&mut ml));
    assert!(
        relayed.contains(&(
            peer(2),
            Message::Ack(Ack {
                seq_no: 500,
                payload: vec![]
            })
        )),
        "{relayed:?}"
    );

    // Second request: silence, so a nack after the probe timeout; a third without nack.
    ml.handle_packet(peer(2), &req(501, true), now)
        .expect("test input");
    ml.handle_packet(peer(4), &req(502, false), now)
        .expect("test input");
    drain(&mut ml);
    ml.handle_timeout(now + Duration::from_millis(499));
    assert!(
        !sent(&drain(&mut ml))
            .iter()
            .any(|(_, m)| matches!(m, Message::Nack(_)))
    );
    ml.handle_timeout(now + Duration::from_millis(500));
    let nacks: Vec<_> = sent(&drain(&mut ml))
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Nack(_)))
        .collect();
    assert_eq!(nacks, [(peer(2), Message::Nack(Nack { seq_no: 501 }))]);
}

#[test]
fn a_failed_probe_goes_indirect_then_suspects() {
    let now = Instant::now();
    let mut ml = node(now);
    for (i, name) in [(2, "b"), (3, "c")] {
        ml.handle_packet(peer(i), &alive(name, peer(i), 1).encode(), now)
            .expect("test input");
    }
    drain(&mut ml);
    // Run until a probe goes out; remember whom it targets.
    let (target, seq, t) = loop {
        let t = ml.poll_timeout().expect("test input");
        ml.handle_timeout(t);
        if let Some((to, Message::Ping(p))) = sent(&drain(&mut ml))
            .into_iter()
            .find(|(_, m)| matches!(m, Message::Ping(_)))
        {
            break (to, p.seq_no, t);
        }
    };
    let (other, other_name) = if target == peer(2) {
        (peer(3), "c")
    } else {
        (peer(2), "b")
    };
    let target_name = if target == peer(2) { "b" } else { "c" };
    // No ack: after 500 ms the other peer is asked, with a nack request, and TCP is tried.
    ml.handle_timeout(t + Duration::from_millis(500));
    let out = drain(&mut ml);
    let indirect: Vec<_> = sent(&out)
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::IndirectPing(_)))
        .collect();
    assert_eq!(indirect.len(), 1);
    assert!(
        matches!(&indirect[0], (to, Message::IndirectPing(r)) if *to == other && r.seq_no == seq && r.nack && r.node == target_name)
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Connect { to, .. } if *to == target))
    );
    // The other peer's nack arrives; at the end of the interval the target is suspect.
    ml.handle_packet(other, &Message::Nack(Nack { seq_no: seq }).encode(), t)
        .expect("test input");
    ml.handle_timeout(t + Duration::from_secs(1));
    assert_eq!(
        ml.member(target_name).expect("test input").state,
        MemberState::Suspect
    );
    assert_eq!(
        ml.member(other_name).expect("test input").state,
        MemberState::Alive
    );
    assert_eq!(ml.health_score(), 0, "the nack came: not our fault");
}

#[test]
fn alive_news_needs_a_newer_incarnation_and_dead_ones_an_equal_one() {
    let now = Instant::now();
    let mut ml = node(now);
    ml.handle_packet(peer(2), &alive("b", peer(2), 5).encode(), now)
        .expect("test input");
    let dead = |inc| {
        Message::Dead(Dead {
            incarnation: inc,
            node: "b".into(),
            from: "c".into(),
        })
        .encode()
    };
    ml.handle_packet(peer(3), &dead(4), now)
        .expect("test input");
    assert_eq!(
        ml.member("b").expect("test input").state,
        MemberState::Alive,
        "older death ignored"
    );
    ml.handle_packet(peer(3), &dead(5), now)
        .expect("test input");
    assert_eq!(ml.member("b").expect("test input").state, MemberState::Dead);
    ml.handle_packet(peer(2), &alive("b", peer(2), 5).encode(), now)
        .expect("test input");
    assert_eq!(
        ml.member("b").expect("test input").state,
        MemberState::Dead,
        "same incarnation is no news"
    );
    ml.handle_packet(peer(2), &alive("b", peer(2), 6).encode(), now)
        .expect("test input");
    assert_eq!(
        ml.member("b").expect("test input").state,
        MemberState::Alive
    );
    // A different address under the same name is a conflict unless the node had left.
    ml.handle_packet(peer(7), &alive("b", peer(7), 9).encode(), now)
        .expect("test input");
    assert_eq!(ml.member("b").expect("test input").addr, peer(2));
    let events: Vec<_> = drain(&mut ml)
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(Event::Joined(m)) => Some(("joined", m.name)),
            Output::Event(Event::Left(m)) => Some(("left", m.name)),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [
            ("joined", "me".into()),
            ("joined", "b".into()),
            ("left", "b".into()),
            ("joined", "b".into())
        ]
    );
}

#[test]
fn accusations_about_ourselves_are_refuted() {
    let now = Instant::now();
    let mut ml = node(now);
    drain(&mut ml);
    let dead_me = Message::Dead(Dead {
        incarnation: 7,
        node: "me".into(),
        from: "b".into(),
    });
    ml.handle_packet(peer(2), &dead_me.encode(), now)
        .expect("test input");
    let me_now = ml.member("me").expect("test input");
    assert_eq!((me_now.state, me_now.incarnation), (MemberState::Alive, 8));
    assert_eq!(
        ml.pending_broadcasts(),
        1,
        "the refutation waits for gossip"
    );
    assert_eq!(ml.health_score(), 1);
}

#[test]
fn inbound_streams_answer_pings_push_pulls_and_refuse_garbage() {
    let now = Instant::now();
    let mut ml = node(now);
    let ping = StreamMessage::Ping(Ping {
        seq_no: 3,
        node: "me".into(),
        source: None,
    });
    let bytes = seal_stream(&ping.encode(), false, None).expect("test input");
    assert_eq!(ml.handle_stream(&bytes[..2], now), StreamReply::NeedMore);
    let StreamReply::Reply(reply) = ml.handle_stream(&bytes, now) else {
        panic!("no reply")
    };
    assert_eq!(
        decode_stream(&reply, None, true),
        Ok(Some(StreamMessage::Ack(Ack {
            seq_no: 3,
            payload: vec![]
        })))
    );

    let remote = PushPull {
        join: true,
        nodes: vec![PushNodeState {
            name: "b".into(),
            addr: peer(2).ip(),
            port: 7946,
            meta: vec![],
            incarnation: 1,
            state: MemberState::Alive,
            vsn: Some(Versions::METALLB),
        }],
        user_state: vec![],
    };
    let bytes =
        seal_stream(&StreamMessage::PushPull(remote).encode(), true, None).expect("test input");
    let StreamReply::Reply(reply) = ml.handle_stream(&bytes, now) else {
        panic!("no reply")
    };
    let Ok(Some(StreamMessage::PushPull(ours))) = decode_stream(&reply, None, true) else {
        panic!("not a push/pull")
    };
    assert!(ours.join);
    assert_eq!(
        ours.nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>(),
        ["me"]
    );
    assert_eq!(
        ml.member("b").expect("test input").state,
        MemberState::Alive,
        "merged after answering"
    );

    let StreamReply::Refuse { reply, .. } = ml.handle_stream(&[42, 1, 2], now) else {
        panic!("garbage accepted")
    };
    assert!(matches!(
        decode_stream(&reply, None, true),
        Ok(Some(StreamMessage::Err(_)))
    ));
}

#[test]
fn leaving_alone_finishes_at_once_and_ignores_news_about_us() {
    let now = Instant::now();
    let mut ml = node(now);
    ml.leave(now);
    assert!(ml.leave_finished());
    assert_eq!(
        ml.member("me").expect("test input").state,
        MemberState::Left
    );
    ml.handle_packet(peer(2), &alive("me", me(), 50).encode(), now)
        .expect("test input");
    assert_eq!(
        ml.member("me").expect("test input").state,
        MemberState::Left
    );
    assert!(ml.members().is_empty());
}

/// Runs a node with `profile` that knows two marked peers until its first probe's direct
/// timeout has passed; returns the node, the probe's target and the TCP ping's stream id.
fn probe_until_tcp_ping(profile: Profile) -> (Memberlist, &'static str, u64, Instant) {
    let now = Instant::now();
    let config = Config {
        enable_compression: false,
        profile,
        ..Config::lan("me", me())
    };
    let mut ml = Memberlist::new(config, [1; 32], now).expect("test input");
    for (i, name) in [(2, "b"), (3, "c")] {
        let a = Message::Alive(Alive {
            incarnation: 1,
            node: name.into(),
            addr: peer(i).ip(),
            port: peer(i).port(),
            meta: FAST_MARKER.to_vec(),
            vsn: Some(Versions::METALLB),
        });
        ml.handle_packet(peer(i), &a.encode(), now)
            .expect("test input");
    }
    drain(&mut ml);
    let (target, t) = loop {
        let t = ml.poll_timeout().expect("test input");
        ml.handle_timeout(t);
        if let Some((to, _)) = sent(&drain(&mut ml))
            .into_iter()
            .find(|(_, m)| matches!(m, Message::Ping(_)))
        {
            break (to, t);
        }
    };
    let t = t + ml.timers().probe_timeout;
    ml.handle_timeout(t);
    let id = drain(&mut ml)
        .into_iter()
        .find_map(|o| match o {
            Output::Connect { id, to, .. } if to == target => Some(id),
            _ => None,
        })
        .expect("a TCP ping to the target");
    (ml, if target == peer(2) { "b" } else { "c" }, id, t)
}

#[test]
fn a_refused_tcp_ping_is_death_under_the_fast_timers_only() {
    // Fast (all members marked): the refusal declares the target dead at once.
    let (mut ml, target, id, t) = probe_until_tcp_ping(Profile::Auto);
    assert!(ml.fast_timers_active());
    ml.stream_refused(id, t);
    assert_eq!(ml.member(target).expect("known").state, MemberState::Dead);
    assert!(
        drain(&mut ml)
            .iter()
            .any(|o| matches!(o, Output::Event(Event::Left(m)) if m.name == target))
    );
    // Upstream's timers: a refusal is just a failed TCP ping; the probe goes on.
    let (mut ml, target, id, t) = probe_until_tcp_ping(Profile::Upstream);
    assert!(!ml.fast_timers_active());
    ml.stream_refused(id, t);
    assert_eq!(ml.member(target).expect("known").state, MemberState::Alive);
    ml.handle_timeout(t + Duration::from_secs(1));
    assert_eq!(
        ml.member(target).expect("known").state,
        MemberState::Suspect
    );
}

#[test]
fn auto_announces_the_marker_and_drops_to_upstream_timers_for_an_unmarked_member() {
    let now = Instant::now();
    let config = Config {
        enable_compression: false,
        ..Config::auto("me", me())
    };
    let mut ml = Memberlist::new(config, [1; 32], now).expect("test input");
    assert_eq!(ml.member("me").expect("self").meta, FAST_MARKER);
    assert!(ml.fast_timers_active());
    assert_eq!(*ml.timers(), Timers::FAST);
    // An unmarked member (a Go speaker): upstream's timers at once.
    ml.handle_packet(peer(2), &alive("go", peer(2), 1).encode(), now)
        .expect("test input");
    assert!(!ml.fast_timers_active());
    assert_eq!(*ml.timers(), Timers::LAN);
    // It is declared dead: fast again.
    let dead = Message::Dead(Dead {
        incarnation: 1,
        node: "go".into(),
        from: "b".into(),
    });
    ml.handle_packet(peer(3), &dead.encode(), now)
        .expect("test input");
    assert!(ml.fast_timers_active());
    // `Upstream` announces nothing and never runs the fast timers.
    let ml = Memberlist::new(Config::lan("me", me()), [1; 32], now).expect("test input");
    assert!(ml.member("me").expect("self").meta.is_empty());
    assert!(!ml.fast_timers_active());
}
