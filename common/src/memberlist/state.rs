//! The member table and the timing rules of SWIM + Lifeguard, as memberlist implements them.
//!
//! Every known node — ourselves included, as in Go — has an incarnation number and a state.
//! Alive/suspect/dead/left transitions are driven by the state machine (`machine`); this
//! module keeps the table in probe order and holds the arithmetic: Lifeguard's suspicion
//! timeouts, retransmission limits, push/pull scaling and health awareness.

use super::config::Timers;
use super::wire::{MemberState, Versions};
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// A member as the rest of the program sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Node name.
    pub name: String,
    /// Advertised address and port.
    pub addr: SocketAddr,
    /// Delegate metadata.
    pub meta: Vec<u8>,
    /// Current state in our view.
    pub state: MemberState,
    /// Incarnation number in our view.
    pub incarnation: u32,
    /// Versions the node announced (zeros for protocol-1 nodes).
    pub versions: Versions,
}

/// A node's liveness; the suspicion timer lives inside `Suspect`, so it cannot outlive the
/// state it belongs to (Go keeps timers in a side map and re-checks the state on expiry).
#[derive(Debug, Clone)]
pub(crate) enum Liveness {
    Alive,
    Suspect(Suspicion),
    Dead,
    Left,
}

impl Liveness {
    pub(crate) fn state(&self) -> MemberState {
        match self {
            Self::Alive => MemberState::Alive,
            Self::Suspect(_) => MemberState::Suspect,
            Self::Dead => MemberState::Dead,
            Self::Left => MemberState::Left,
        }
    }

    pub(crate) fn dead_or_left(&self) -> bool {
        matches!(self, Self::Dead | Self::Left)
    }
}

/// Our view of one node (Go's `nodeState`).
#[derive(Debug, Clone)]
pub(crate) struct NodeState {
    pub(crate) name: String,
    pub(crate) addr: IpAddr,
    pub(crate) port: u16,
    pub(crate) meta: Vec<u8>,
    pub(crate) vsn: Versions,
    pub(crate) incarnation: u32,
    pub(crate) liveness: Liveness,
    pub(crate) state_change: Instant,
}

impl NodeState {
    pub(crate) fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }

    pub(crate) fn member(&self) -> Member {
        Member {
            name: self.name.clone(),
            addr: self.socket_addr(),
            meta: self.meta.clone(),
            state: self.liveness.state(),
            incarnation: self.incarnation,
            versions: self.vsn,
        }
    }
}

/// Known nodes in probe order, with a name index. New nodes are inserted at a random
/// position and the order is reshuffled after every full probe round, which keeps the
/// expected time until a failed node is probed low (as Go's `aliveNode`/`resetNodes`).
#[derive(Debug, Default)]
pub(crate) struct NodeTable {
    nodes: Vec<NodeState>,
    index: HashMap<String, usize>,
}

impl NodeTable {
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&NodeState> {
        self.position(name).and_then(|i| self.nodes.get(i))
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut NodeState> {
        let i = self.position(name)?;
        self.nodes.get_mut(i)
    }

    pub(crate) fn at(&self, i: usize) -> Option<&NodeState> {
        self.nodes.get(i)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &NodeState> {
        self.nodes.iter()
    }

    /// Adds a node at a random position (swapping the previous occupant to the end).
    pub(crate) fn insert(&mut self, node: NodeState, rng: &mut StdRng) {
        let n = self.nodes.len();
        self.index.insert(node.name.clone(), n);
        self.nodes.push(node);
        let offset = if n == 0 { 0 } else { rng.random_range(0..n) };
        self.swap(offset, n);
    }

    fn swap(&mut self, a: usize, b: usize) {
        if a == b || a >= self.nodes.len() || b >= self.nodes.len() {
            return;
        }
        self.nodes.swap(a, b);
        for i in [a, b] {
            if let Some(n) = self.nodes.get(i) {
                self.index.insert(n.name.clone(), i);
            }
        }
    }

    /// Forgets dead and left nodes whose state is older than `keep_dead`, then shuffles
    /// (Go's `resetNodes` at the end of each probe round).
    pub(crate) fn reap_and_shuffle(&mut self, now: Instant, keep_dead: Duration, rng: &mut StdRng) {
        self.nodes.retain(|n| {
            !n.liveness.dead_or_left() || now.saturating_duration_since(n.state_change) <= keep_dead
        });
        self.nodes.shuffle(rng);
        self.index = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
    }

    /// Up to `k` distinct random nodes passing `keep` (Go's `kRandomNodes`: at most 3n draws,
    /// so small tables are searched exhaustively in practice).
    pub(crate) fn random_nodes(
        &self,
        k: usize,
        rng: &mut StdRng,
        keep: impl Fn(&NodeState) -> bool,
    ) -> Vec<&NodeState> {
        let n = self.nodes.len();
        let mut picked: Vec<usize> = Vec::with_capacity(k);
        for _ in 0..3 * n {
            if picked.len() >= k {
                break;
            }
            let i = rng.random_range(0..n);
            if picked.contains(&i) || !self.nodes.get(i).is_some_and(&keep) {
                continue;
            }
            picked.push(i);
        }
        picked
            .into_iter()
            .filter_map(|i| self.nodes.get(i))
            .collect()
    }
}

/// A running suspicion (Go's `suspicion`): the node is declared dead at `deadline` unless
/// it refutes. Independent confirmations from other accusers shorten the timeout from `max`
/// towards `min` (Lifeguard's "dogpile"), because several witnesses make a real failure
/// likely.
#[derive(Debug, Clone)]
pub(crate) struct Suspicion {
    /// Confirmations that would bring the timeout down to `min`.
    k: u32,
    /// Confirmations received so far.
    n: u32,
    min: Duration,
    max: Duration,
    start: Instant,
    deadline: Instant,
    accusers: HashSet<String>,
}

impl Suspicion {
    pub(crate) fn new(from: String, k: u32, min: Duration, max: Duration, now: Instant) -> Self {
        let timeout = if k < 1 { min } else { max };
        Self {
            k,
            n: 0,
            min,
            max,
            start: now,
            deadline: now + timeout,
            accusers: HashSet::from([from]),
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Records an accusation; `true` if it is a new, useful confirmation (which the caller
    /// re-gossips so confirmations keep flowing).
    pub(crate) fn confirm(&mut self, from: &str) -> bool {
        if self.n >= self.k || self.accusers.contains(from) {
            return false;
        }
        self.accusers.insert(from.to_owned());
        self.n += 1;
        self.deadline = self.start + confirmed_timeout(self.n, self.k, self.min, self.max);
        true
    }
}

/// Lifeguard's timeout after `n` of `k` expected confirmations (Go's `remainingSuspicionTime`
/// plus the elapsed time): `max − log(n+1)/log(k+1) × (max − min)`, whole milliseconds,
/// never below `min`.
pub(crate) fn confirmed_timeout(n: u32, k: u32, min: Duration, max: Duration) -> Duration {
    let frac = f64::from(n + 1).ln() / f64::from(k + 1).ln();
    let raw = max.as_secs_f64() - frac * (max.as_secs_f64() - min.as_secs_f64());
    let timeout = Duration::from_millis((1000.0 * raw).floor().max(0.0) as u64);
    timeout.max(min)
}

/// Minimum suspicion timeout (Go's `suspicionTimeout`): `mult × max(1, log10 n) × interval`,
/// with Go's millisecond-precision scale factor.
pub(crate) fn suspicion_timeout(mult: u32, n: usize, interval: Duration) -> Duration {
    let node_scale = (n.max(1) as f64).log10().max(1.0);
    let scale_milli = (node_scale * 1000.0) as u32;
    interval * mult * scale_milli / 1000
}

/// Confirmations a new suspicion waits for among `n` known nodes (n − 2 excludes ourselves
/// and the suspect): Go's `SuspicionMult − 2`, or none when the cluster is too small to
/// provide them; with `suspicion_confirmations` set, as many as the cluster can provide.
pub(crate) fn expected_confirmations(timers: &Timers, n: usize) -> u32 {
    let witnesses = u32::try_from(n.saturating_sub(2)).unwrap_or(u32::MAX);
    match timers.suspicion_confirmations {
        Some(k) => k.min(witnesses),
        None => {
            let k = timers.suspicion_mult.saturating_sub(2);
            if witnesses < k { 0 } else { k }
        }
    }
}

/// How many times a broadcast is retransmitted: `mult × ⌈log10(n + 1)⌉`.
pub(crate) fn retransmit_limit(mult: usize, n: usize) -> usize {
    mult * ((n + 1) as f64).log10().ceil() as usize
}

/// Push/pull interval scaled for large clusters: unchanged up to 32 nodes, then one more
/// interval per doubling (Go's `pushPullScale`).
pub(crate) fn push_pull_scale(interval: Duration, n: usize) -> Duration {
    const THRESHOLD: f64 = 32.0;
    if n <= THRESHOLD as usize {
        return interval;
    }
    let multiplier = ((n as f64).log2() - THRESHOLD.log2()).ceil() + 1.0;
    interval * multiplier as u32
}

/// Lifeguard's local health: failed probes without nacks, and refutations, raise the score;
/// successful probes lower it. The probe interval (and so its timeouts) stretch by
/// `score + 1`, so a node that is itself slow stops accusing healthy peers.
#[derive(Debug, Clone)]
pub(crate) struct Awareness {
    max: u32,
    score: u32,
}

impl Awareness {
    pub(crate) fn new(max: u32) -> Self {
        Self {
            max: max.max(1),
            score: 0,
        }
    }

    pub(crate) fn apply(&mut self, delta: i64) {
        let score = (i64::from(self.score) + delta).clamp(0, i64::from(self.max - 1));
        self.score = u32::try_from(score).unwrap_or(0);
    }

    pub(crate) fn score(&self) -> u32 {
        self.score
    }

    pub(crate) fn scale(&self, d: Duration) -> Duration {
        d * (self.score + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn node(name: &str, liveness: Liveness, at: Instant) -> NodeState {
        NodeState {
            name: name.into(),
            addr: [10, 0, 0, 1].into(),
            port: 7946,
            meta: vec![],
            vsn: Versions::METALLB,
            incarnation: 1,
            liveness,
            state_change: at,
        }
    }

    #[test]
    fn suspicion_timeout_scales_with_log10_of_the_cluster() {
        let s = Duration::from_secs(1);
        assert_eq!(suspicion_timeout(4, 1, s), Duration::from_secs(4));
        assert_eq!(suspicion_timeout(4, 10, s), Duration::from_secs(4));
        assert_eq!(suspicion_timeout(4, 100, s), Duration::from_secs(8));
        assert_eq!(suspicion_timeout(4, 1000, s), Duration::from_secs(12));
        assert_eq!(suspicion_timeout(4, 5, s), Duration::from_secs(4));
        assert_eq!(
            suspicion_timeout(2, 5, Duration::from_millis(100)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn confirmations_shrink_the_timeout_towards_min() {
        let (min, max) = (Duration::from_secs(4), Duration::from_secs(24));
        assert_eq!(confirmed_timeout(0, 2, min, max), max);
        // max − log(2)/log(3) × 20 s = 24 − 12.618… → 11.381 s
        assert_eq!(
            confirmed_timeout(1, 2, min, max),
            Duration::from_millis(11_381)
        );
        assert_eq!(confirmed_timeout(2, 2, min, max), min);
        assert_eq!(confirmed_timeout(3, 2, min, max), min);
    }

    #[test]
    fn suspicion_confirms_each_accuser_once_up_to_k() {
        let t0 = Instant::now();
        let (min, max) = (Duration::from_secs(4), Duration::from_secs(24));
        let mut s = Suspicion::new("a".into(), 2, min, max, t0);
        assert_eq!(s.deadline(), t0 + max);
        assert!(!s.confirm("a"), "the first accuser is not a confirmation");
        assert!(s.confirm("b"));
        assert_eq!(s.deadline(), t0 + Duration::from_millis(11_381));
        assert!(!s.confirm("b"));
        assert!(s.confirm("c"));
        assert_eq!(s.deadline(), t0 + min);
        assert!(!s.confirm("d"), "k reached");
        let quick = Suspicion::new("a".into(), 0, min, max, t0);
        assert_eq!(quick.deadline(), t0 + min);
    }

    #[test]
    fn expected_confirmations_need_enough_witnesses() {
        let go = |mult| Timers {
            suspicion_mult: mult,
            ..Timers::LAN
        };
        assert_eq!(expected_confirmations(&go(4), 3), 0);
        assert_eq!(expected_confirmations(&go(4), 4), 2);
        assert_eq!(expected_confirmations(&go(2), 100), 0);
        assert_eq!(expected_confirmations(&go(6), 5), 0);
        assert_eq!(expected_confirmations(&go(6), 6), 4);
        // The fast timers take the witnesses there are: one in a three-node cluster.
        let fast = Timers::FAST;
        assert_eq!(expected_confirmations(&fast, 2), 0);
        assert_eq!(expected_confirmations(&fast, 3), 1);
        assert_eq!(expected_confirmations(&fast, 4), 2);
        assert_eq!(expected_confirmations(&fast, 50), 2);
    }

    #[test]
    fn retransmit_and_push_pull_scaling() {
        assert_eq!(retransmit_limit(4, 1), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        let i = Duration::from_secs(30);
        assert_eq!(push_pull_scale(i, 32), i);
        assert_eq!(push_pull_scale(i, 33), 2 * i);
        assert_eq!(push_pull_scale(i, 64), 2 * i);
        assert_eq!(push_pull_scale(i, 65), 3 * i);
    }

    #[test]
    fn awareness_is_clamped_and_scales() {
        let mut a = Awareness::new(8);
        a.apply(-1);
        assert_eq!(a.score(), 0);
        a.apply(3);
        assert_eq!(a.scale(Duration::from_secs(1)), Duration::from_secs(4));
        a.apply(100);
        assert_eq!(a.score(), 7);
    }

    #[test]
    fn table_keeps_its_index_through_inserts_reaps_and_shuffles() {
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut t = NodeTable::default();
        for name in ["a", "b", "c", "d", "e"] {
            t.insert(node(name, Liveness::Alive, t0), &mut rng);
        }
        t.get_mut("b").unwrap().liveness = Liveness::Dead;
        t.get_mut("c").unwrap().liveness = Liveness::Left;
        let later = t0 + Duration::from_secs(31);
        t.get_mut("c").unwrap().state_change = later;
        t.reap_and_shuffle(later, Duration::from_secs(30), &mut rng);
        assert_eq!(t.len(), 4, "b reaped, recently-left c kept");
        assert!(t.get("b").is_none());
        for (i, n) in t.iter().enumerate() {
            assert_eq!(t.position(&n.name), Some(i));
        }
        let picked = t.random_nodes(10, &mut rng, |n| matches!(n.liveness, Liveness::Alive));
        let mut names: Vec<&str> = picked.iter().map(|n| n.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["a", "d", "e"]);
    }
}
