use super::*;
use crate::l2::pace::{DEFAULT_BURST, DEFAULT_RATE};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A fake clock: milliseconds since an arbitrary origin.
struct Clock(Instant);

impl Clock {
    fn new() -> Clock {
        Clock(Instant::now())
    }
    fn at(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
    fn ms(&self, t: Instant) -> u64 {
        u64::try_from(t.duration_since(self.0).as_millis()).unwrap()
    }
}

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 10, 100));
const B: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x64));

/// Drives the announcer the way the shell does — sleep until the next deadline, poll —
/// until `end_ms`, and returns `(time, ip)` of every round.
fn run_until(a: &mut Announcer, clock: &Clock, end_ms: u64) -> Vec<(u64, IpAddr)> {
    let mut sent = Vec::new();
    while let Some(deadline) = a.next_deadline() {
        if clock.ms(deadline) > end_ms {
            break;
        }
        for round in a.poll_gratuitous(deadline) {
            sent.push((clock.ms(deadline), round.ip));
        }
    }
    sent
}

#[test]
fn new_ip_gets_a_five_round_burst() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, None);
    let change = a.set_balancer("ns/web", [A], clock.at(0));
    assert_eq!(
        change,
        OwnershipChange {
            gained: vec![A],
            lost: vec![]
        }
    );
    assert!(a.owned(A));
    assert_eq!(a.next_deadline(), Some(clock.at(0)));
    let times: Vec<u64> = run_until(&mut a, &clock, 60_000)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(times, vec![0, 1100, 2200, 3300, 4400]);
    assert_eq!(a.next_deadline(), None, "no refresh by default");
}

#[test]
fn resync_is_idempotent_and_sends_nothing() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, None);
    a.set_balancer("ns/web", [A], clock.at(0));
    assert_eq!(run_until(&mut a, &clock, 10_000).len(), 5);
    for t in [20_000, 30_000] {
        assert_eq!(
            a.set_balancer("ns/web", [A], clock.at(t)),
            OwnershipChange::default()
        );
    }
    assert_eq!(a.refcount(A), 1);
    assert_eq!(a.poll_gratuitous(clock.at(40_000)), vec![]);
    assert_eq!(a.next_deadline(), None);
}

#[test]
fn shared_ip_is_refcounted_by_service() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, None);
    a.set_balancer("ns/a", [A], clock.at(0));
    assert_eq!(
        a.set_balancer("ns/b", [A, B], clock.at(100)).gained,
        vec![B]
    );
    assert_eq!(a.refcount(A), 2);
    assert_eq!(a.delete_balancer("ns/a"), OwnershipChange::default());
    assert!(a.owned(A), "ns/b still uses it");
    assert_eq!(a.delete_balancer("ns/b").lost, vec![A, B]);
    assert!(!a.owned(A) && !a.owned(B));
    assert_eq!(a.next_deadline(), None, "bursts of lost IPs are dropped");
    assert_eq!(a.delete_balancer("ns/unknown"), OwnershipChange::default());
}

#[test]
fn changing_a_services_ips_moves_ownership() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, None);
    a.set_balancer("ns/web", [A], clock.at(0));
    let change = a.set_balancer("ns/web", [B], clock.at(10));
    assert_eq!(
        change,
        OwnershipChange {
            gained: vec![B],
            lost: vec![A]
        }
    );
    // An empty set is a withdrawal.
    assert_eq!(a.set_balancer("ns/web", [], clock.at(20)).lost, vec![B]);
    assert_eq!(a.owned_ips().count(), 0);
}

#[test]
fn burst_stops_when_ip_is_lost_mid_burst_and_restarts_when_regained() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, None);
    a.set_balancer("ns/web", [A], clock.at(0));
    assert_eq!(a.poll_gratuitous(clock.at(0)).len(), 1);
    a.delete_balancer("ns/web");
    assert_eq!(a.poll_gratuitous(clock.at(1100)), vec![]);
    a.set_balancer("ns/web", [A], clock.at(2000));
    let times: Vec<u64> = run_until(&mut a, &clock, 60_000)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(times, vec![2000, 3100, 4200, 5300, 6400]);
}

#[test]
fn a_late_round_is_sent_once_and_pushes_the_next_back() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, None);
    a.set_balancer("ns/web", [A], clock.at(0));
    assert_eq!(a.poll_gratuitous(clock.at(0)).len(), 1);
    // Woken 2.1 s late: one round, not two, and the next a full interval later.
    assert_eq!(
        a.poll_gratuitous(clock.at(3200)),
        vec![GratuitousRound {
            ip: A,
            kind: RoundKind::Burst
        }]
    );
    assert_eq!(a.next_deadline(), Some(clock.at(4300)));
    assert_eq!(
        a.poll_gratuitous(clock.at(4250)),
        vec![],
        "nothing before the deadline"
    );
    let times: Vec<u64> = run_until(&mut a, &clock, 60_000)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(times, vec![4300, 5400, 6500], "five rounds in all");
}

#[test]
fn refresh_sends_one_round_per_owned_ip_per_interval() {
    let clock = Clock::new();
    let mut a = Announcer::new(Some(Duration::from_secs(30)), None);
    a.set_balancer("ns/a", [A], clock.at(0));
    a.set_balancer("ns/b", [B], clock.at(10_000));
    let rounds = run_until(&mut a, &clock, 100_000);
    let of = |ip| {
        rounds
            .iter()
            .filter(|(_, i)| *i == ip)
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of(A),
        vec![0, 1100, 2200, 3300, 4400, 30_000, 60_000, 90_000]
    );
    assert_eq!(
        of(B),
        vec![
            10_000, 11_100, 12_200, 13_300, 14_400, 40_000, 70_000, 100_000
        ]
    );
    let kinds: Vec<RoundKind> = a
        .poll_gratuitous(clock.at(120_000))
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds, vec![RoundKind::Refresh]);
}

#[test]
fn zero_refresh_interval_means_off() {
    let clock = Clock::new();
    let mut a = Announcer::new(Some(Duration::ZERO), None);
    a.set_balancer("ns/a", [A], clock.at(0));
    assert_eq!(run_until(&mut a, &clock, 1_000_000).len(), 5);
}

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 200, 0, 0)) + n))
}

/// `count` services of one IP each, all owned at `t`.
fn own_many(a: &mut Announcer, count: u32, t: Instant) {
    for n in 0..count {
        a.set_balancer(&format!("ns/svc-{n}"), [v4(n)], t);
    }
}

#[test]
fn thousands_of_ips_are_owned_at_once_and_announced_at_the_pace() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, Some(Pace::default()));
    own_many(&mut a, 5000, clock.at(0));
    assert!(
        (0..5000).all(|n| a.owned(v4(n))),
        "answered before any round"
    );
    let rounds = run_until(&mut a, &clock, 120_000);
    assert_eq!(rounds.len(), 5000 * usize::from(BURST_ROUNDS));
    // Every first round before any second one: a takeover reaches every address first.
    let firsts: BTreeSet<IpAddr> = rounds.iter().take(5000).map(|(_, ip)| *ip).collect();
    assert_eq!(firsts.len(), 5000);
    // No second holds more than the burst plus a second's worth.
    let limit = (DEFAULT_BURST + DEFAULT_RATE) as usize;
    for (i, (start, _)) in rounds.iter().enumerate() {
        let in_window = rounds[i..]
            .iter()
            .take_while(|(t, _)| *t < start + 1000)
            .count();
        assert!(in_window <= limit, "{in_window} rounds from {start} ms");
    }
    // At the pace: 25 000 rounds at 500/s after a burst of 100 take ~49.8 s.
    let last = rounds.last().map(|(t, _)| *t).unwrap();
    assert!((49_700..=50_000).contains(&last), "last round at {last} ms");
    // Rounds of one address stay at least the burst interval apart.
    let mut by_ip: HashMap<IpAddr, Vec<u64>> = HashMap::new();
    for (t, ip) in &rounds {
        by_ip.entry(*ip).or_default().push(*t);
    }
    for times in by_ip.values() {
        assert!(times.windows(2).all(|w| w[1] - w[0] >= 1100), "{times:?}");
    }
}

#[test]
fn a_small_takeover_leaves_at_once() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, Some(Pace::default()));
    own_many(&mut a, DEFAULT_BURST, clock.at(0));
    assert_eq!(a.poll_gratuitous(clock.at(0)).len(), DEFAULT_BURST as usize);
}

#[test]
fn while_throttled_the_shell_is_woken_per_batch() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, Some(Pace::default()));
    own_many(&mut a, 2000, clock.at(0));
    let mut wakes = 0;
    let mut sent = 0;
    while let Some(deadline) = a.next_deadline() {
        if clock.ms(deadline) > 4000 {
            break;
        }
        wakes += 1;
        sent += a.poll_gratuitous(deadline).len();
    }
    // 2 000 first rounds: 100 at once, then 5 per 10 ms wake.
    assert!(sent >= 1900, "{sent}");
    assert!(
        wakes <= 1 + (sent - 100) / 5 + 1,
        "{wakes} wakes for {sent} rounds"
    );
}

#[test]
fn a_lost_ip_gives_its_place_in_the_queue_up() {
    let clock = Clock::new();
    let mut a = Announcer::new(None, Some(Pace { rate: 10, burst: 1 }));
    own_many(&mut a, 3, clock.at(0));
    assert_eq!(a.queued(), 3);
    a.delete_balancer("ns/svc-1");
    assert_eq!(a.queued(), 2);
    let ips: Vec<IpAddr> = run_until(&mut a, &clock, 250)
        .into_iter()
        .map(|(_, ip)| ip)
        .collect();
    assert_eq!(ips, vec![v4(0), v4(2)], "only owned IPs, oldest first");
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, Vec<u8>),
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..5, proptest::collection::vec(0u8..6, 0..4)).prop_map(|(s, ips)| Op::Set(s, ips)),
        (0u8..5).prop_map(Op::Delete),
    ]
}

proptest! {
    #[test]
    fn refcount_is_number_of_services_listing_the_ip(ops in proptest::collection::vec(op(), 0..40)) {
        let clock = Clock::new();
        let mut a = Announcer::new(Some(Duration::from_secs(10)), Some(Pace { rate: 4, burst: 2 }));
        let mut model: BTreeMap<u8, BTreeSet<u8>> = BTreeMap::new();
        let ip = |n: u8| IpAddr::V4(Ipv4Addr::new(10, 0, 0, n));
        for (step, op) in ops.into_iter().enumerate() {
            let before: BTreeSet<u8> = model.values().flatten().copied().collect();
            let change = match op {
                Op::Set(s, ips) => {
                    let set: BTreeSet<u8> = ips.iter().copied().collect();
                    if set.is_empty() { model.remove(&s); } else { model.insert(s, set); }
                    a.set_balancer(&format!("ns/{s}"), ips.into_iter().map(ip), clock.at(step as u64 * 500))
                }
                Op::Delete(s) => { model.remove(&s); a.delete_balancer(&format!("ns/{s}")) }
            };
            let after: BTreeSet<u8> = model.values().flatten().copied().collect();
            let gained: BTreeSet<IpAddr> = after.difference(&before).copied().map(ip).collect();
            let lost: BTreeSet<IpAddr> = before.difference(&after).copied().map(ip).collect();
            prop_assert_eq!(change.gained.iter().copied().collect::<BTreeSet<_>>(), gained);
            prop_assert_eq!(change.lost.iter().copied().collect::<BTreeSet<_>>(), lost);
            for n in 0..6 {
                let users = model.values().filter(|s| s.contains(&n)).count();
                prop_assert_eq!(a.refcount(ip(n)), users);
                prop_assert_eq!(a.owned(ip(n)), users > 0);
            }
            // Rounds only ever go out for owned IPs.
            for round in a.poll_gratuitous(clock.at(step as u64 * 500 + 250)) {
                prop_assert!(a.owned(round.ip));
            }
        }
    }
}
