//! Randomized churn: SIGKILLs, restarts under the same name and address, partitions and
//! datagram loss, in seeded random sequences. After every step, every running node must
//! reach the same view as every other — and the right one: the running nodes alive or
//! suspect, the killed ones dead or left — within a bound computed from the configuration.
//!
//! Nodes run the speaker shell's policy around the machine: a restarted speaker joins every
//! other speaker at start, and every running one re-joins the speakers it does not hold as
//! members every 2 s. Without that re-join a partition longer than the suspicion timeout
//! plus `gossip_to_the_dead_time` splits a memberlist cluster for good (as in Go: dead nodes
//! are neither probed nor pushed/pulled, and gossiped to only for that long).
//!
//! Four families: every node on upstream's timers, every node on the fast ones, every node
//! choosing (`Profile::Auto`, the speaker's default), and `Auto` nodes with one node that
//! announces no marker, as a Go speaker: the `Auto` nodes must run upstream's timers exactly
//! while it runs, and the fast ones once it is dead.
//!
//! `MEMBERLIST_CHURN_RUNS` sets the number of sequences per family (default 75, so 300 in
//! all; try 2000 for a long run), `MEMBERLIST_CHURN_BASE` picks another family of seeds,
//! `MEMBERLIST_CHURN_SEED` replays one sequence (each failure prints its seed).

use crate::net::{Net, addr, name};
use common::memberlist::{Config, MemberState, Profile, Timers};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::fmt::Write as _;
use std::time::Duration;

/// The speaker shell's re-join interval (`REJOIN_INTERVAL` in the speaker): peers that are
/// not members are joined again this often.
const SHELL_REJOIN: Duration = Duration::from_secs(2);

/// Random extra delivery delay: datagrams and streams overtake each other.
const JITTER: Duration = Duration::from_millis(5);

/// What one step did, for the failure report.
#[derive(Debug, Clone)]
enum Step {
    Kill(usize),
    Restart(usize),
    /// Killed, then restarted after the delay (before or after the others noticed).
    KillRestart(usize, Duration),
    /// The groups cannot talk for the duration, then the network heals.
    Partition(Vec<usize>, Vec<usize>, Duration),
    Loss(f64),
    Wait(Duration),
}

/// How long after a step every running node must agree, from the configuration (under
/// `Profile::Auto` a node may run either timer set, so the slower one bounds it):
///
/// * detection: a probe round visits every other node, and the shuffle between rounds can put
///   a node last then first, so a live node probes a given peer within `2(n−1)` probe
///   periods; each period stretches up to `awareness_max_multiplier` times under Lifeguard's
///   health scoring, and the probe itself takes one (scaled) period;
/// * suspicion: Lifeguard's maximum, `suspicion_max_timeout_mult × suspicion_timeout`, for
///   when no confirmations arrive;
/// * dissemination: a broadcast lives `retransmit_limit` gossip rounds, and what gossip
///   misses the shell's re-join (or the periodic push/pull) repairs; the faster of the two;
/// * a TCP timeout for a re-join across a link that was cut at the time it started.
fn bound(c: &Config, n: usize) -> Duration {
    let of = |t: &Timers| {
        let scaled_probe = t.probe_interval * c.awareness_max_multiplier;
        let detection = scaled_probe * (2 * (n as u32 - 1) + 1);
        let node_scale = (n as f64).log10().max(1.0);
        let suspicion = t
            .probe_interval
            .mul_f64(f64::from(t.suspicion_mult) * node_scale)
            * t.suspicion_max_timeout_mult;
        let retransmits = t.retransmit_mult as u32 * ((n + 1) as f64).log10().ceil() as u32;
        let dissemination =
            t.gossip_interval * retransmits + SHELL_REJOIN.min(t.push_pull_interval);
        detection + suspicion + dissemination + c.tcp_timeout
    };
    match c.profile {
        Profile::Upstream => of(&c.timers),
        Profile::Fast => of(&c.fast_timers),
        Profile::Auto => of(&c.timers).max(of(&c.fast_timers)),
    }
}

/// Once the views agree, each running node runs the timers its profile and the running
/// nodes' profiles call for: `Auto` runs the fast ones iff no running node is `Upstream`.
fn timers_right(net: &Net, n: usize) -> Result<(), String> {
    let upstream_up =
        (0..n).any(|i| net.node(i).up && net.node(i).ml.config().profile == Profile::Upstream);
    for o in (0..n).filter(|&o| net.node(o).up) {
        let ml = &net.node(o).ml;
        let want = match ml.config().profile {
            Profile::Upstream => false,
            Profile::Fast => true,
            Profile::Auto => !upstream_up,
        };
        if ml.fast_timers_active() != want {
            return Err(format!(
                "{} ({:?}) runs fast timers: {}, want {want}",
                name(o),
                ml.config().profile,
                ml.fast_timers_active()
            ));
        }
    }
    Ok(())
}

/// Whether node `i`, as `observer` sees it, counts as a member (alive or suspect).
fn is_member(net: &Net, observer: usize, i: usize) -> bool {
    matches!(
        net.state(observer, i),
        Some(MemberState::Alive | MemberState::Suspect)
    )
}

/// Every running node sees exactly the running nodes as members.
fn agreed(net: &Net, n: usize) -> bool {
    (0..n)
        .filter(|&o| net.node(o).up)
        .all(|o| (0..n).all(|i| is_member(net, o, i) == net.node(i).up))
}

fn views(net: &Net, n: usize) -> String {
    let mut out = String::new();
    for o in 0..n {
        let up = if net.node(o).up { "up" } else { "down" };
        let _ = write!(out, "\n  {} ({up}):", name(o));
        for i in 0..n {
            match net.view(o, i) {
                Some(m) => {
                    let _ = write!(out, " {}={:?}@{}", i, m.state, m.incarnation);
                }
                None => {
                    let _ = write!(out, " {i}=-");
                }
            }
        }
    }
    out
}

/// Runs until `agreed`, checking every 100 ms, for at most `limit`.
fn settle(net: &mut Net, n: usize, limit: Duration) -> Option<Duration> {
    let from = net.now;
    loop {
        if agreed(net, n) {
            return Some(net.now - from);
        }
        if net.now - from > limit {
            return None;
        }
        net.run(Duration::from_millis(100));
    }
}

fn random_up(net: &Net, n: usize, rng: &mut StdRng, up: bool) -> Option<usize> {
    let candidates: Vec<usize> = (0..n).filter(|&i| net.node(i).up == up).collect();
    if candidates.is_empty() {
        return None;
    }
    candidates
        .get(rng.random_range(0..candidates.len()))
        .copied()
}

/// One random sequence; `Err` describes the first step after which the views did not agree.
fn run_sequence(seed: u64, config: fn(usize) -> Config) -> Result<Duration, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = rng.random_range(3..=5usize);
    let limit = (0..n)
        .map(|i| bound(&config(i), n))
        .max()
        .unwrap_or_default();
    let mut net = Net::cluster(n, config);
    net.seed_loss(seed);
    net.jitter = JITTER;
    net.rejoin = Some(SHELL_REJOIN);
    let mut log: Vec<Step> = Vec::new();
    let mut worst = Duration::ZERO;
    if settle(&mut net, n, limit).is_none() {
        return Err(format!("n={n}: the cluster never formed{}", views(&net, n)));
    }
    let steps = rng.random_range(8..16);
    for _ in 0..steps {
        let up = (0..n).filter(|&i| net.node(i).up).count();
        let step = match rng.random_range(0..100u32) {
            0..25 if up > 1 => random_up(&net, n, &mut rng, true).map(Step::Kill),
            25..45 => random_up(&net, n, &mut rng, false).map(Step::Restart),
            45..70 if up > 1 => random_up(&net, n, &mut rng, true).map(|i| {
                let ms = rng.random_range(0..=limit.as_millis() as u64);
                Step::KillRestart(i, Duration::from_millis(ms))
            }),
            70..85 => {
                let mut a = Vec::new();
                let mut b = Vec::new();
                for i in 0..n {
                    if rng.random_bool(0.5) { &mut a } else { &mut b }.push(i);
                }
                // From a blip to long enough for both sides to declare the other dead.
                let ms = rng.random_range(200..=limit.as_millis() as u64 * 3 / 2);
                Some(Step::Partition(a, b, Duration::from_millis(ms)))
            }
            85..92 => Some(Step::Loss([0.0, 0.02, 0.05, 0.1][rng.random_range(0..4)])),
            _ => Some(Step::Wait(Duration::from_millis(
                rng.random_range(0..=limit.as_millis() as u64),
            ))),
        };
        let Some(step) = step else { continue };
        let restart_seed = |rng: &mut StdRng| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            s
        };
        match &step {
            Step::Kill(i) => net.kill(*i),
            Step::Restart(i) => {
                let s = restart_seed(&mut rng);
                net.restart(config(*i), s);
            }
            Step::KillRestart(i, after) => {
                net.kill(*i);
                net.run(*after);
                let s = restart_seed(&mut rng);
                net.restart(config(*i), s);
            }
            Step::Partition(a, b, d) => {
                net.partition(a, b);
                net.run(*d);
                net.heal();
            }
            Step::Loss(p) => net.loss = *p,
            Step::Wait(d) => net.run(*d),
        }
        log.push(step);
        match settle(&mut net, n, limit) {
            Some(took) => {
                worst = worst.max(took);
                timers_right(&net, n).map_err(|e| format!("n={n}, after steps {log:?}: {e}"))?;
            }
            None => {
                return Err(format!(
                    "n={n}, loss={}, bound {limit:?}: no agreement after steps {log:?}; views:{}",
                    net.loss,
                    views(&net, n)
                ));
            }
        }
    }
    Ok(worst)
}

fn env_u64(key: &str) -> Option<u64> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

fn check_many(config: fn(usize) -> Config, default_runs: u64) {
    if let Some(seed) = env_u64("MEMBERLIST_CHURN_SEED") {
        match run_sequence(seed, config) {
            Ok(worst) => eprintln!("seed {seed}: agreed every time, slowest {worst:?}"),
            Err(e) => panic!("seed {seed}: {e}"),
        }
        return;
    }
    let runs = env_u64("MEMBERLIST_CHURN_RUNS").unwrap_or(default_runs);
    let base = env_u64("MEMBERLIST_CHURN_BASE").unwrap_or(0x19);
    let mut worst = Duration::ZERO;
    for k in 0..runs {
        let seed = base.wrapping_mul(1_000_003).wrapping_add(k);
        match run_sequence(seed, config) {
            Ok(w) => worst = worst.max(w),
            Err(e) => panic!("seed {seed} (replay with MEMBERLIST_CHURN_SEED={seed}): {e}"),
        }
    }
    eprintln!("{runs} sequences agreed after every step; slowest agreement {worst:?}");
}

const RUNS: u64 = 75;

#[test]
fn churn_lan_every_running_node_agrees_within_the_bound() {
    check_many(|i| Config::lan(name(i), addr(i)), RUNS);
}

#[test]
fn churn_fast_every_running_node_agrees_within_the_bound() {
    check_many(|i| Config::fast(name(i), addr(i)), RUNS);
}

#[test]
fn churn_auto_every_running_node_agrees_within_the_bound() {
    check_many(|i| Config::auto(name(i), addr(i)), RUNS);
}

/// Node 0 announces no marker (a Go speaker, or ours with `--ml-fast=false`); the rest choose.
#[test]
fn churn_mixed_every_running_node_agrees_and_runs_the_right_timers() {
    check_many(
        |i| match i {
            0 => Config::lan(name(i), addr(i)),
            _ => Config::auto(name(i), addr(i)),
        },
        RUNS,
    );
}
