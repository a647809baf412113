//! Cluster behaviour of the memberlist state machine on a simulated network with a virtual
//! clock: joins, failure detection (with the timing Lifeguard promises), partitions, leaves,
//! refutation and encryption.

mod churn;
mod lifeguard;
mod net;

use common::memberlist::{Config, Event, Keyring, MemberState, SecretKey};
use net::{Net, addr, name};
use std::time::Duration;

fn lan(i: usize) -> Config {
    Config::lan(name(i), addr(i))
}

fn fast(i: usize) -> Config {
    Config::fast(name(i), addr(i))
}

fn all_names(n: usize) -> Vec<String> {
    (0..n).map(name).collect()
}

fn everyone_sees(net: &Net, n: usize, expected: &[String]) -> bool {
    (0..n)
        .filter(|&i| net.node(i).up)
        .all(|i| net.member_names(i) == expected)
}

fn converged(count: usize) -> Net {
    let mut net = Net::cluster(count, lan);
    let all = all_names(count);
    let took = net.run_until(Duration::from_secs(10), |net| {
        everyone_sees(net, count, &all)
    });
    assert!(took.is_some(), "cluster of {count} did not converge");
    net
}

#[test]
fn joins_converge_and_report_join_events() {
    let mut net = Net::cluster(5, lan);
    let all = all_names(5);
    // Joins go through node 0 by push/pull; the rest spreads by gossip (200 ms rounds).
    let took = net.run_until(Duration::from_secs(5), |net| everyone_sees(net, 5, &all));
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(2)),
        "took {took:?}"
    );
    for i in 1..5 {
        assert_eq!(net.node(i).join_results, [(addr(0), true)]);
    }
    for i in 0..5 {
        let mut joined: Vec<String> = net
            .node(i)
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Joined(m) => Some(m.name.clone()),
                _ => None,
            })
            .collect();
        joined.sort();
        assert_eq!(joined, all, "node {i} join events");
    }
}

/// Time from `kill` until every survivor has declared `victim` dead.
fn time_to_declare_dead(
    net: &mut Net,
    victim: usize,
    count: usize,
    limit: Duration,
) -> Option<Duration> {
    net.kill(victim);
    net.run_until(limit, |net| {
        (0..count)
            .filter(|&i| i != victim)
            .all(|i| net.state(i, victim) == Some(MemberState::Dead))
    })
}

#[test]
fn killed_node_is_declared_dead_everywhere_in_lifeguard_time_three_nodes() {
    // 3 nodes: too few for confirmations (k = 0), so suspicion lasts the minimum:
    // 4 × max(1, log10 3) × 1 s = 4 s. Before that, the victim must be probed: each survivor
    // probes it at least every 2 intervals, and the probe takes 1 interval. Bound:
    // 2 + 1 + 4 s, plus gossip and scheduling slack.
    let mut net = converged(3);
    let took =
        time_to_declare_dead(&mut net, 2, 3, Duration::from_secs(20)).expect("declared dead");
    assert!(
        took >= Duration::from_secs(4),
        "dead before the suspicion timeout: {took:?}"
    );
    assert!(took <= Duration::from_millis(7_500), "took {took:?}");
    for i in 0..2 {
        assert_eq!(net.member_names(i), all_names(2));
        let left: Vec<_> = net
            .node(i)
            .events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Left(m) if m.name == name(2)))
            .collect();
        assert_eq!(left.len(), 1, "one Left event on node {i}");
    }
}

#[test]
fn killed_node_is_declared_dead_everywhere_in_lifeguard_time_five_nodes() {
    // 5 nodes: k = 2 confirmations expected, timeout 24 s without them, 4 s (from the first
    // suspicion) once two other nodes confirm — which they do within a probe round (4 s).
    // Bound: first suspicion ≤ 4 + 1 s, confirmed deadline at +4 s, plus slack.
    let mut net = converged(5);
    let took =
        time_to_declare_dead(&mut net, 4, 5, Duration::from_secs(30)).expect("declared dead");
    assert!(took >= Duration::from_secs(4), "took {took:?}");
    assert!(took <= Duration::from_secs(10), "took {took:?}");
}

#[test]
fn fast_profile_fails_over_in_under_a_second() {
    let mut net = Net::cluster(5, fast);
    let all = all_names(5);
    assert!(
        net.run_until(Duration::from_secs(5), |net| everyone_sees(net, 5, &all))
            .is_some()
    );
    net.run(Duration::from_secs(2));
    let took = time_to_declare_dead(&mut net, 3, 5, Duration::from_secs(5)).expect("declared dead");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn short_partition_heals_by_itself() {
    let mut net = converged(5);
    net.partition(&[0, 1], &[2, 3, 4]);
    net.run(Duration::from_secs(3));
    net.heal();
    let all = all_names(5);
    let took = net.run_until(Duration::from_secs(40), |net| {
        everyone_sees(net, 5, &all)
            && (0..5).all(|i| (0..5).all(|j| net.state(i, j) == Some(MemberState::Alive)))
    });
    assert!(
        took.is_some(),
        "views: {:?}",
        (0..5).map(|i| net.member_names(i)).collect::<Vec<_>>()
    );
}

#[test]
fn long_partition_splits_and_rejoining_merges() {
    let mut net = converged(5);
    net.partition(&[0, 1], &[2, 3, 4]);
    net.run(Duration::from_secs(60));
    assert_eq!(net.member_names(0), [name(0), name(1)]);
    assert_eq!(net.member_names(4), [name(2), name(3), name(4)]);
    net.heal();
    // As MetalLB's speaker does every minute: join every known speaker address.
    for i in 0..5 {
        net.join(i, &[0, 1, 2, 3, 4]);
    }
    let all = all_names(5);
    let took = net.run_until(Duration::from_secs(10), |net| everyone_sees(net, 5, &all));
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(2)),
        "took {took:?}"
    );
}

#[test]
fn graceful_leave_is_seen_at_once_as_left() {
    let mut net = converged(5);
    net.run(Duration::from_secs(2));
    net.leave(4);
    let took = net.run_until(Duration::from_secs(2), |net| {
        (0..4).all(|i| net.state(i, 4) == Some(MemberState::Left))
    });
    assert!(
        took.is_some_and(|t| t <= Duration::from_millis(250)),
        "took {took:?}"
    );
    assert!(
        net.run_until(Duration::from_secs(1), |net| net
            .node(4)
            .ml
            .leave_finished())
            .is_some(),
        "leave broadcast not finished within 1 s"
    );
}

#[test]
fn suspected_live_node_refutes_with_a_higher_incarnation() {
    let mut net = converged(3);
    net.run(Duration::from_secs(2));
    let before = net.view(2, 2).expect("self").incarnation;
    // Node 0 hears (wrongly) that node 2 is suspect.
    let rumour = common::memberlist::wire::Message::Suspect(common::memberlist::wire::Suspect {
        incarnation: before,
        node: name(2),
        from: name(1),
    });
    let now = net.now;
    net.ml(0)
        .handle_packet(addr(1), &rumour.encode(), now)
        .expect("valid");
    assert_eq!(net.state(0, 2), Some(MemberState::Suspect));
    let took = net.run_until(Duration::from_secs(3), |net| {
        (0..3).all(|i| {
            net.view(i, 2)
                .is_some_and(|m| m.state == MemberState::Alive && m.incarnation > before)
        })
    });
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(1)),
        "took {took:?}"
    );
    for i in 0..3 {
        assert!(
            !net.node(i)
                .events
                .iter()
                .any(|(_, e)| matches!(e, Event::Left(m) if m.name == name(2))),
            "node {i} saw node 2 leave"
        );
    }
    assert!(
        net.node(2).ml.health_score() > 0,
        "refuting counts against our health"
    );
}

#[test]
fn encrypted_cluster_converges_and_a_wrong_key_cannot_join() {
    let ring =
        |secret: &str| Keyring::new(SecretKey::from_metallb_secret(secret).expect("non-empty"));
    let mut net = Net::cluster(3, |i| Config {
        keyring: Some(ring("s3cret")),
        ..lan(i)
    });
    let three = all_names(3);
    assert!(
        net.run_until(Duration::from_secs(5), |net| everyone_sees(net, 3, &three))
            .is_some()
    );

    net.add(
        Config {
            keyring: Some(ring("other")),
            ..lan(3)
        },
        3,
    );
    net.join(3, &[0]);
    net.run(Duration::from_secs(5));
    assert_eq!(net.node(3).join_results, [(addr(0), false)]);
    assert_eq!(net.member_names(3), [name(3)]);
    assert_eq!(net.member_names(0), three);
}

#[test]
fn gossip_traffic_stays_modest_when_idle() {
    let mut net = converged(5);
    net.run(Duration::from_secs(5));
    let before = net.packets_sent;
    net.run(Duration::from_secs(10));
    // Idle: one probe + one ack per node per second, nothing to gossip.
    let per_node_per_sec = (net.packets_sent - before) as f64 / 5.0 / 10.0;
    assert!(
        per_node_per_sec <= 2.5,
        "{per_node_per_sec} datagrams/node/s"
    );
}
