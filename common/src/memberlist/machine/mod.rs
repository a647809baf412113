//! The membership state machine: memberlist's `Memberlist`, without sockets, threads or clock.
//!
//! Inputs are datagrams ([`Memberlist::handle_packet`]), inbound stream bytes
//! ([`Memberlist::handle_stream`]), answers to streams we opened
//! ([`Memberlist::handle_stream_reply`] / [`Memberlist::stream_failed`]), timer expiry
//! ([`Memberlist::handle_timeout`]) and the operator's [`Memberlist::join`] and
//! [`Memberlist::leave`], each with the current time. Outputs queue up for
//! [`Memberlist::poll_output`]: datagrams to send, streams to open, membership events; and
//! [`Memberlist::poll_timeout`] says when to call `handle_timeout` next. Randomness (probe
//! order, gossip targets, nonces) comes from a seeded CSPRNG, so a simulation replays exactly.

mod gossip;
mod probe;
mod transitions;

use super::broadcast::BroadcastQueue;
use super::config::{Config, Profile, Timers};
use super::crypto::{EncryptionVersion, NONCE_SIZE};
use super::packet::{self, COMPOUND_HEADER_OVERHEAD, COMPOUND_OVERHEAD, Encrypt};
use super::state::{Awareness, Liveness, Member, NodeState, NodeTable};
use super::wire::{self, Alive, Message, Source, WireError};
use gossip::PendingStream;
use probe::{Probe, Relay};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;
use thiserror::Error;

/// Identifies a stream we asked the shell to open.
pub type StreamId = u64;

/// A change in membership, as memberlist's `EventDelegate` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A node became alive: new, or back from dead/left. Reported for ourselves at start.
    Joined(Member),
    /// A node was declared dead or left.
    Left(Member),
    /// A live node announced new metadata.
    Updated(Member),
}

/// Something for the shell to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send one UDP datagram from our memberlist port.
    Packet {
        /// Destination.
        to: SocketAddr,
        /// Datagram contents.
        payload: Vec<u8>,
    },
    /// Connect over TCP, write `payload`, then feed what the peer sends back to
    /// [`Memberlist::handle_stream_reply`] until it returns `Done`; report a failed connect,
    /// I/O error, early EOF or passing `deadline` with [`Memberlist::stream_failed`].
    Connect {
        /// Passed back with the reply.
        id: StreamId,
        /// Peer's memberlist address.
        to: SocketAddr,
        /// Bytes to write first.
        payload: Vec<u8>,
        /// Give up at this instant.
        deadline: Instant,
    },
    /// Membership changed.
    Event(Event),
    /// The outcome of one address passed to [`Memberlist::join`].
    JoinFinished {
        /// The address.
        peer: SocketAddr,
        /// Whether the state exchange succeeded.
        result: Result<(), JoinError>,
    },
}

/// Why a join attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JoinError {
    /// No complete answer: connect failure, I/O error, EOF or timeout.
    #[error("no state received from the peer")]
    Unreachable,
    /// The answer was malformed or an error reply.
    #[error(transparent)]
    Protocol(#[from] WireError),
    /// Some member speaks a protocol version others cannot understand.
    #[error("incompatible protocol versions: {0}")]
    Incompatible(String),
}

/// Why a configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The node name is empty.
    #[error("node name must not be empty")]
    EmptyName,
    /// The spoken protocol version is outside the understood range.
    #[error("protocol version {cur} outside [{min}, {max}]")]
    ProtocolVersion {
        /// Spoken.
        cur: u8,
        /// Lowest understood.
        min: u8,
        /// Highest understood.
        max: u8,
    },
}

/// What to do with an inbound stream after the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamReply {
    /// Incomplete message: read more and call again with all bytes received.
    NeedMore,
    /// Write these bytes, then close.
    Reply(Vec<u8>),
    /// Close without answering.
    Close,
    /// The message was unreadable: write the error reply, then close.
    Refuse {
        /// Encoded `errResp`.
        reply: Vec<u8>,
        /// What was wrong.
        error: WireError,
    },
}

/// Progress of a stream we opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamProgress {
    /// Incomplete answer: read more and call again with all bytes received.
    NeedMore,
    /// Finished: close the stream.
    Done,
}

/// One memberlist node.
#[derive(Debug)]
pub struct Memberlist {
    config: Config,
    /// Whether `config.fast_timers` are in force rather than `config.timers`, as
    /// `config.profile` and the members' metadata decide (`refresh_timers`).
    fast: bool,
    rng: StdRng,
    table: NodeTable,
    broadcasts: BroadcastQueue,
    awareness: Awareness,
    seq_no: u32,
    incarnation: u32,
    left: bool,
    probe: Option<Probe>,
    probe_index: usize,
    relays: BTreeMap<u32, Relay>,
    streams: BTreeMap<StreamId, PendingStream>,
    next_stream: StreamId,
    next_probe: Instant,
    next_gossip: Instant,
    next_push_pull: Instant,
    outputs: VecDeque<Output>,
}

impl Memberlist {
    /// Creates the node and announces ourselves alive (queued as gossip, and reported as a
    /// `Joined` event for ourselves, as Go's `Create` does). `seed` feeds the CSPRNG that
    /// draws probe orders, gossip targets and encryption nonces: take it from the OS in
    /// production, fix it in tests. Timers start at random offsets within their periods, so
    /// nodes started together do not probe in lockstep.
    pub fn new(config: Config, seed: [u8; 32], now: Instant) -> Result<Self, ConfigError> {
        if config.name.is_empty() {
            return Err(ConfigError::EmptyName);
        }
        let v = config.versions;
        if !(v.protocol_min..=v.protocol_max).contains(&v.protocol_cur) || v.protocol_min == 0 {
            return Err(ConfigError::ProtocolVersion {
                cur: v.protocol_cur,
                min: v.protocol_min,
                max: v.protocol_max,
            });
        }
        let mut rng = StdRng::from_seed(seed);
        // Alone, every member (ourselves) carries the marker iff we announce it.
        let fast = config.profile != Profile::Upstream;
        let timers = if fast {
            config.fast_timers
        } else {
            config.timers
        };
        let mut stagger = |d: std::time::Duration| now + d.mul_f64(rng.random::<f64>());
        let (next_probe, next_gossip, next_push_pull) = (
            stagger(timers.probe_interval),
            stagger(timers.gossip_interval),
            stagger(timers.push_pull_interval),
        );
        let mut ml = Self {
            fast,
            awareness: Awareness::new(config.awareness_max_multiplier),
            config,
            rng,
            table: NodeTable::default(),
            broadcasts: BroadcastQueue::default(),
            seq_no: 0,
            incarnation: 0,
            left: false,
            probe: None,
            probe_index: 0,
            relays: BTreeMap::new(),
            streams: BTreeMap::new(),
            next_stream: 0,
            next_probe,
            next_gossip,
            next_push_pull,
            outputs: VecDeque::new(),
        };
        ml.incarnation = 1;
        let me = ml.self_alive(1);
        ml.alive_node(me, true, now);
        Ok(ml)
    }

    /// Our node name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The timers in force (docs/memberlist.md#timers).
    pub fn timers(&self) -> &Timers {
        if self.fast {
            &self.config.fast_timers
        } else {
            &self.config.timers
        }
    }

    /// Whether the fast timers are in force.
    pub fn fast_timers_active(&self) -> bool {
        self.fast
    }

    /// Alive and suspect members, ourselves included (Go's `Members`), in probe order.
    pub fn members(&self) -> Vec<Member> {
        self.table
            .iter()
            .filter(|n| !n.liveness.dead_or_left())
            .map(NodeState::member)
            .collect()
    }

    /// Every node still in the table, dead and left ones included.
    pub fn known_nodes(&self) -> Vec<Member> {
        self.table.iter().map(NodeState::member).collect()
    }

    /// One node as we see it.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.table.get(name).map(NodeState::member)
    }

    /// Lifeguard health score: 0 is healthy; each point stretches our probe interval.
    pub fn health_score(&self) -> u32 {
        self.awareness.score()
    }

    /// Broadcasts waiting to be gossiped.
    pub fn pending_broadcasts(&self) -> usize {
        self.broadcasts.len()
    }

    /// Whether [`leave`](Self::leave) was called.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// After [`leave`](Self::leave): whether our departure has been gossiped its full
    /// retransmission count (or nobody is left to tell). Go's `Leave` waits for this, up to a
    /// timeout (MetalLB: 1 s), before shutting down.
    pub fn leave_finished(&self) -> bool {
        self.left && (self.broadcasts.leave_done() || !self.any_alive_peer())
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probe = match &self.probe {
            Some(p) => p.next_deadline(),
            None => self.next_probe,
        };
        let suspicions = self.table.iter().filter_map(|n| match &n.liveness {
            Liveness::Suspect(s) => Some(s.deadline()),
            _ => None,
        });
        [probe, self.next_gossip, self.next_push_pull]
            .into_iter()
            .chain(self.relays.values().map(|r| r.deadline))
            .chain(self.streams.values().map(|s| s.deadline))
            .chain(suspicions)
            .min()
    }

    /// Runs every timer due at `now`: probe phases, suspicion expiry, gossip, push/pull.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_relays(now);
        self.expire_streams(now);
        self.advance_probe(now);
        self.expire_suspicions(now);
        if self.probe.is_none() && now >= self.next_probe {
            self.next_probe = now + self.timers().probe_interval;
            self.start_probe(now);
        }
        if now >= self.next_gossip {
            self.next_gossip = now + self.timers().gossip_interval;
            self.gossip(now);
        }
        if now >= self.next_push_pull {
            self.next_push_pull = now
                + super::state::push_pull_scale(self.timers().push_pull_interval, self.table.len());
            self.push_pull_random(now);
        }
    }

    /// Handles one datagram from `from`. Every message in it is processed; the first
    /// malformed part (or the undecryptable datagram) is returned as the error.
    pub fn handle_packet(
        &mut self,
        from: SocketAddr,
        data: &[u8],
        now: Instant,
    ) -> Result<(), WireError> {
        let plain = packet::open_packet(
            data,
            self.config.keyring.as_ref(),
            self.config.gossip_verify_incoming,
        )?;
        let mut first_error = None;
        for msg in packet::decode_messages(&plain) {
            match msg {
                Ok(msg) => self.handle_message(from, msg, now),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn handle_message(&mut self, from: SocketAddr, msg: Message, now: Instant) {
        match msg {
            Message::Ping(p) => self.handle_ping(from, p),
            Message::IndirectPing(p) => self.handle_indirect_ping(from, p, now),
            Message::Ack(a) => self.handle_ack(a.seq_no),
            Message::Nack(n) => self.handle_nack(n.seq_no),
            Message::Suspect(s) => self.suspect_node(s, now),
            Message::Alive(mut a) => {
                // Protocol-1 peers send no port: they use the same one we do.
                if a.port == 0 {
                    a.port = self.config.advertise.port();
                }
                self.alive_node(a, false, now);
            }
            Message::Dead(d) => self.dead_node(d, now),
            // MetalLB registers no delegate: user messages and stray errors are dropped.
            Message::User(_) | Message::Err(_) => {}
        }
    }

    fn self_alive(&self, incarnation: u32) -> Alive {
        Alive {
            incarnation,
            node: self.config.name.clone(),
            addr: self.config.advertise.ip(),
            port: self.config.advertise.port(),
            meta: self.config.profile.meta().to_vec(),
            vsn: Some(self.config.versions),
        }
    }

    fn self_source(&self) -> Option<Source> {
        Some(Source {
            addr: self.config.advertise,
            node: self.config.name.clone(),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq_no = self.seq_no.wrapping_add(1);
        self.seq_no
    }

    /// Reports a membership change. Every change that can affect the choice of timers (a
    /// member joined, left or changed its metadata) passes here, so the choice is made again.
    fn emit(&mut self, event: Event, now: Instant) {
        self.outputs.push_back(Output::Event(event));
        self.refresh_timers(now);
    }

    /// Applies [`Profile`]: under `Auto`, the fast timers while every alive or suspect member
    /// announces the marker. Switching to shorter periods pulls the next probe, gossip and
    /// push/pull in, so a cluster that became fast is fast at once; a probe in flight and
    /// running suspicions keep the deadlines they started with.
    fn refresh_timers(&mut self, now: Instant) {
        let fast = match self.config.profile {
            Profile::Upstream => false,
            Profile::Fast => true,
            Profile::Auto => self
                .table
                .iter()
                .filter(|n| !n.liveness.dead_or_left())
                .all(|n| n.meta == super::config::FAST_MARKER),
        };
        if fast == self.fast {
            return;
        }
        self.fast = fast;
        let want = *self.timers();
        self.next_probe = self.next_probe.min(now + want.probe_interval);
        self.next_gossip = self.next_gossip.min(now + want.gossip_interval);
        self.next_push_pull = self.next_push_pull.min(now + want.push_pull_interval);
    }

    fn any_alive_peer(&self) -> bool {
        self.table
            .iter()
            .any(|n| !n.liveness.dead_or_left() && n.name != self.config.name)
    }

    fn encryption_version(&self) -> EncryptionVersion {
        EncryptionVersion::for_protocol(self.config.versions.protocol_cur)
    }

    /// Sealing parameters with a fresh nonce, when we encrypt outgoing traffic.
    fn encrypt<'c>(config: &'c Config, rng: &mut StdRng) -> Option<Encrypt<'c>> {
        let ring = config
            .keyring
            .as_ref()
            .filter(|_| config.gossip_verify_outgoing)?;
        let mut nonce = [0u8; NONCE_SIZE];
        rng.fill_bytes(&mut nonce);
        Some(Encrypt {
            key: ring.primary(),
            version: EncryptionVersion::for_protocol(config.versions.protocol_cur),
            nonce,
        })
    }

    /// Sends `msg` as is, apart from compression, CRC and encryption (`rawSendMsgPacket`).
    fn raw_send(&mut self, to: SocketAddr, crc: bool, msg: &[u8]) {
        let encrypt = Self::encrypt(&self.config, &mut self.rng);
        let compress = self.config.enable_compression;
        // Sealing only fails for inputs of gigabytes, which datagrams never are.
        if let Ok(payload) = packet::seal_packet(msg, compress, crc, encrypt) {
            self.outputs.push_back(Output::Packet { to, payload });
        }
    }

    /// Sends `msg`, piggybacking as much pending gossip as fits (`sendMsg`).
    fn send_msg(&mut self, to: SocketAddr, crc: bool, msg: Vec<u8>) {
        let mut avail = self
            .config
            .udp_buffer_size
            .saturating_sub(msg.len() + COMPOUND_HEADER_OVERHEAD);
        if self.config.keyring.is_some() && self.config.gossip_verify_outgoing {
            avail = avail.saturating_sub(self.encryption_version().overhead());
        }
        let extra = self.take_broadcasts(avail);
        if extra.is_empty() {
            self.raw_send(to, crc, &msg);
            return;
        }
        let mut parts = Vec::with_capacity(extra.len() + 1);
        parts.push(msg);
        parts.extend(extra);
        if let Ok(compound) = packet::compound(&parts) {
            self.raw_send(to, crc, &compound);
        }
    }

    fn take_broadcasts(&mut self, limit: usize) -> Vec<Vec<u8>> {
        // One byte of count, so never more than 255 parts per compound (the main message
        // takes one); each part costs at least 3 bytes, so this bound is only theoretical.
        let mut msgs = self.broadcasts.take(
            COMPOUND_OVERHEAD,
            limit,
            self.table.len(),
            self.timers().retransmit_mult,
        );
        msgs.truncate(packet::MAX_COMPOUND_PARTS - 1);
        msgs
    }

    /// CRC32 is added for peers that understand protocol 5 (Go's `rawSendMsgPacket`).
    fn wants_crc(node: &NodeState) -> bool {
        node.vsn.protocol_max >= wire::PROTOCOL_CRC
    }
}
