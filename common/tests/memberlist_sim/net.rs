//! A deterministic in-memory network for `Memberlist` nodes: fixed latency, links that can be
//! cut and healed, seeded datagram loss, nodes that can be killed and restarted, and a
//! virtual clock that jumps from one event to the next. Everything a socket shell would do is
//! done here, synchronously, including (when enabled) the speaker shell's periodic re-join.

use common::memberlist::{Config, Event, Member, MemberState, Memberlist, Output, StreamReply};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const LATENCY: Duration = Duration::from_millis(1);

enum Delivery {
    Packet {
        from: SocketAddr,
        to: SocketAddr,
        payload: Vec<u8>,
    },
    Request {
        from: SocketAddr,
        to: SocketAddr,
        id: u64,
        payload: Vec<u8>,
    },
    Reply {
        to: SocketAddr,
        id: u64,
        payload: Vec<u8>,
    },
    Failed {
        to: SocketAddr,
        id: u64,
    },
    /// The peer's host answered the connection with a reset: nothing listens there.
    Refused {
        to: SocketAddr,
        id: u64,
    },
}

pub struct Node {
    pub ml: Memberlist,
    pub up: bool,
    /// Starved of CPU: runs no timer and reads nothing until resumed; what arrives meanwhile
    /// waits (as in a socket buffer) and is read, in order, before any timer on resume.
    pub paused: bool,
    held: Vec<Delivery>,
    pub events: Vec<(Instant, Event)>,
    pub join_results: Vec<(SocketAddr, bool)>,
}

pub struct Net {
    pub now: Instant,
    pub nodes: BTreeMap<SocketAddr, Node>,
    queue: BTreeMap<(Instant, u64), Delivery>,
    seq: u64,
    cut: BTreeSet<(SocketAddr, SocketAddr)>,
    pub packets_sent: u64,
    /// Probability that a datagram is lost (streams are reliable unless a link is cut).
    pub loss: f64,
    /// Extra random delay per delivery, up to this much (reorders datagrams and streams).
    pub jitter: Duration,
    loss_rng: StdRng,
    /// The speaker shell's re-join: every interval, each running node joins the addresses
    /// of every node ever started that it does not hold as a member.
    pub rejoin: Option<Duration>,
    next_rejoin: Option<Instant>,
}

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i as u8 + 1], 7946))
}

pub fn name(i: usize) -> String {
    format!("node-{i}")
}

impl Net {
    pub fn new() -> Self {
        Self {
            now: Instant::now(),
            nodes: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            cut: BTreeSet::new(),
            packets_sent: 0,
            loss: 0.0,
            jitter: Duration::ZERO,
            loss_rng: StdRng::seed_from_u64(0),
            rejoin: None,
            next_rejoin: None,
        }
    }

    /// Seeds the datagram-loss draws.
    pub fn seed_loss(&mut self, seed: u64) {
        self.loss_rng = StdRng::seed_from_u64(seed);
    }

    /// Starts `count` nodes made by `config(i)`; node i joins node 0.
    pub fn cluster(count: usize, config: impl Fn(usize) -> Config) -> Self {
        let mut net = Self::new();
        for i in 0..count {
            net.add(config(i), i as u8);
            if i > 0 {
                net.join(i, &[0]);
            }
        }
        net
    }

    pub fn add(&mut self, config: Config, seed: u8) {
        let at = config.advertise;
        let ml = Memberlist::new(config, [seed; 32], self.now).expect("valid config");
        self.nodes.insert(
            at,
            Node {
                ml,
                up: true,
                paused: false,
                held: Vec::new(),
                events: Vec::new(),
                join_results: Vec::new(),
            },
        );
        self.drain(at);
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[&addr(i)]
    }

    pub fn ml(&mut self, i: usize) -> &mut Memberlist {
        &mut self.nodes.get_mut(&addr(i)).expect("node exists").ml
    }

    pub fn join(&mut self, i: usize, peers: &[usize]) {
        let peers: Vec<SocketAddr> = peers.iter().map(|&p| addr(p)).collect();
        let now = self.now;
        self.ml(i).join(&peers, now);
        self.drain(addr(i));
    }

    pub fn leave(&mut self, i: usize) {
        let now = self.now;
        self.ml(i).leave(now);
        self.drain(addr(i));
    }

    /// The node stops: no timers, no answers, everything sent to it is lost.
    pub fn kill(&mut self, i: usize) {
        if let Some(n) = self.nodes.get_mut(&addr(i)) {
            n.up = false;
        }
    }

    /// The node's process gets no CPU until [`resume`](Self::resume).
    pub fn pause(&mut self, i: usize) {
        if let Some(n) = self.nodes.get_mut(&addr(i)) {
            n.paused = true;
        }
    }

    /// The node runs again: it reads everything that arrived while it was paused, then its
    /// overdue timers fire (at the next step of [`run`](Self::run)).
    pub fn resume(&mut self, i: usize) {
        let held = match self.nodes.get_mut(&addr(i)) {
            Some(n) => {
                n.paused = false;
                std::mem::take(&mut n.held)
            }
            None => return,
        };
        for d in held {
            self.deliver(d);
        }
    }

    /// A killed node's process starts again: a fresh machine (state lost, incarnation back to
    /// its start value) under the same name and address, which joins every other node as the
    /// speaker does at start. Answers to streams the old process opened die with it.
    pub fn restart(&mut self, config: Config, seed: [u8; 32]) {
        let at = config.advertise;
        self.queue.retain(|_, d| match d {
            Delivery::Reply { to, .. }
            | Delivery::Failed { to, .. }
            | Delivery::Refused { to, .. } => *to != at,
            Delivery::Packet { .. } | Delivery::Request { .. } => true,
        });
        let ml = Memberlist::new(config, seed, self.now).expect("valid config");
        if let Some(n) = self.nodes.get_mut(&at) {
            n.ml = ml;
            n.up = true;
            n.paused = false;
            n.held.clear();
        }
        self.drain(at);
        let peers: Vec<SocketAddr> = self.nodes.keys().copied().filter(|&a| a != at).collect();
        let now = self.now;
        if let Some(n) = self.nodes.get_mut(&at) {
            n.ml.join(&peers, now);
        }
        self.drain(at);
    }

    /// The shell's re-join round: each running node joins the known addresses that are not
    /// alive or suspect members in its view.
    fn rejoin_round(&mut self) {
        let all: Vec<SocketAddr> = self.nodes.keys().copied().collect();
        let now = self.now;
        for at in all.clone() {
            let Some(n) = self.nodes.get_mut(&at).filter(|n| n.up && !n.paused) else {
                continue;
            };
            let members: BTreeSet<SocketAddr> =
                n.ml.members().into_iter().map(|m| m.addr).collect();
            let missing: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !members.contains(a))
                .collect();
            if !missing.is_empty() {
                n.ml.join(&missing, now);
                self.drain(at);
            }
        }
    }

    /// Cuts (both directions of) every link between the two groups.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.cut.insert((addr(x), addr(y)));
                self.cut.insert((addr(y), addr(x)));
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    fn reachable(&self, from: SocketAddr, to: SocketAddr) -> bool {
        !self.cut.contains(&(from, to)) && self.nodes.get(&to).is_some_and(|n| n.up)
    }

    fn schedule(&mut self, at: Instant, d: Delivery) {
        let at = if self.jitter.is_zero() {
            at
        } else {
            at + self.jitter.mul_f64(self.loss_rng.random::<f64>())
        };
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    /// Moves a node's outputs onto the wire and into its event log.
    fn drain(&mut self, at: SocketAddr) {
        loop {
            let Some(node) = self.nodes.get_mut(&at) else {
                return;
            };
            let Some(out) = node.ml.poll_output() else {
                return;
            };
            let now = self.now;
            match out {
                Output::Event(e) => node.events.push((now, e)),
                Output::JoinFinished { peer, result } => {
                    node.join_results.push((peer, result.is_ok()))
                }
                Output::Packet { to, payload } => {
                    self.packets_sent += 1;
                    let lost = self.loss > 0.0 && self.loss_rng.random::<f64>() < self.loss;
                    if self.reachable(at, to) && !lost {
                        self.schedule(
                            now + LATENCY,
                            Delivery::Packet {
                                from: at,
                                to,
                                payload,
                            },
                        );
                    }
                }
                Output::Connect {
                    id,
                    to,
                    payload,
                    deadline,
                } => {
                    if self.reachable(at, to) {
                        self.schedule(
                            now + LATENCY,
                            Delivery::Request {
                                from: at,
                                to,
                                id,
                                payload,
                            },
                        );
                    } else if self.cut.contains(&(at, to)) {
                        self.schedule(deadline, Delivery::Failed { to: at, id });
                    } else {
                        // A killed process's host refuses the connection at once.
                        self.schedule(now + LATENCY, Delivery::Refused { to: at, id });
                    }
                }
            }
        }
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        let to = match &d {
            Delivery::Packet { to, .. }
            | Delivery::Request { to, .. }
            | Delivery::Reply { to, .. }
            | Delivery::Failed { to, .. }
            | Delivery::Refused { to, .. } => *to,
        };
        if let Some(n) = self.nodes.get_mut(&to).filter(|n| n.up && n.paused) {
            n.held.push(d);
            return;
        }
        match d {
            Delivery::Packet { from, to, payload } => {
                if let Some(n) = self.nodes.get_mut(&to).filter(|n| n.up) {
                    n.ml.handle_packet(from, &payload, now)
                        .expect("well-formed datagram");
                    self.drain(to);
                }
            }
            Delivery::Request {
                from,
                to,
                id,
                payload,
            } => {
                let reply = match self.nodes.get_mut(&to).filter(|n| n.up) {
                    Some(n) => n.ml.handle_stream(&payload, now),
                    None => StreamReply::Close,
                };
                self.drain(to);
                match reply {
                    StreamReply::Reply(payload) if self.reachable(to, from) => self.schedule(
                        now + LATENCY,
                        Delivery::Reply {
                            to: from,
                            id,
                            payload,
                        },
                    ),
                    _ => self.schedule(now + LATENCY, Delivery::Failed { to: from, id }),
                }
            }
            Delivery::Reply { to, id, payload } => {
                if let Some(n) = self.nodes.get_mut(&to).filter(|n| n.up) {
                    n.ml.handle_stream_reply(id, &payload, now)
                        .expect("well-formed reply");
                    self.drain(to);
                }
            }
            Delivery::Failed { to, id } => {
                if let Some(n) = self.nodes.get_mut(&to).filter(|n| n.up) {
                    n.ml.stream_failed(id);
                    self.drain(to);
                }
            }
            Delivery::Refused { to, id } => {
                if let Some(n) = self.nodes.get_mut(&to).filter(|n| n.up) {
                    n.ml.stream_refused(id, now);
                    self.drain(to);
                }
            }
        }
    }

    /// Runs the network until `self.now + d`.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next_delivery = self.queue.keys().next().map(|(t, _)| *t);
            let next_timer = self
                .nodes
                .values()
                .filter(|n| n.up && !n.paused)
                .filter_map(|n| n.ml.poll_timeout())
                .min();
            if self.rejoin.is_some() && self.next_rejoin.is_none() {
                self.next_rejoin = self.rejoin.map(|d| self.now + d);
            }
            let Some(next) = [next_delivery, next_timer, self.next_rejoin]
                .into_iter()
                .flatten()
                .min()
            else {
                self.now = end;
                return;
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(next);
            if let (Some(at), Some(every)) = (self.next_rejoin, self.rejoin)
                && at <= next
            {
                self.next_rejoin = Some(at + every);
                self.rejoin_round();
                continue;
            }
            if next_delivery == Some(next) {
                if let Some((_, d)) = self.queue.pop_first() {
                    self.deliver(d);
                }
                continue;
            }
            let due: Vec<SocketAddr> = self
                .nodes
                .iter()
                .filter(|(_, n)| {
                    n.up && !n.paused && n.ml.poll_timeout().is_some_and(|t| t <= next)
                })
                .map(|(a, _)| *a)
                .collect();
            for at in due {
                let now = self.now;
                if let Some(n) = self.nodes.get_mut(&at) {
                    n.ml.handle_timeout(now);
                }
                self.drain(at);
            }
        }
    }

    /// Runs until `done` holds (checked after every step of 10 ms), at most `limit`; returns
    /// the time it took.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Option<Duration> {
        let from = self.now;
        while self.now - from <= limit {
            if done(self) {
                return Some(self.now - from);
            }
            self.run(Duration::from_millis(10));
        }
        None
    }

    pub fn member_names(&self, i: usize) -> Vec<String> {
        let mut names: Vec<String> = self
            .node(i)
            .ml
            .members()
            .into_iter()
            .map(|m| m.name)
            .collect();
        names.sort();
        names
    }

    pub fn view(&self, i: usize, of: usize) -> Option<Member> {
        self.node(i).ml.member(&name(of))
    }

    pub fn state(&self, i: usize, of: usize) -> Option<MemberState> {
        self.view(i, of).map(|m| m.state)
    }
}
