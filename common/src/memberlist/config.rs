//! Protocol settings: memberlist's `DefaultLANConfig` timers, a faster set, and the rule that
//! picks between them (docs/memberlist.md#timers).

use super::crypto::Keyring;
use super::wire::Versions;
use std::net::SocketAddr;
use std::time::Duration;

/// What our speakers put in memberlist's node metadata. MetalLB's Go speakers register no
/// delegate, so their metadata is always empty (and they never read anyone's); a member
/// whose metadata is exactly this runs metallb-rs and can run [`Timers::FAST`] — it refutes
/// an accusation within one fast gossip round, which is what makes the short suspicion
/// timeouts safe. The `1` versions the fast timers: a later set would get another marker.
pub const FAST_MARKER: &[u8] = b"metallb-rs/fast-timers/1";

/// The settings that decide how fast a failure is detected, and how fast an accused node can
/// answer. Field names follow memberlist's `Config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// One node is probed per interval, round robin.
    pub probe_interval: Duration,
    /// A direct probe fails after this long without an ack; indirect probes follow.
    pub probe_timeout: Duration,
    /// Stretch `probe_timeout` by local health too, as the Lifeguard paper's LHA-Probe does
    /// (Go stretches only the probe interval). A starved node then waits longer for acks
    /// that are late because of itself before it asks others to probe.
    pub scale_probe_timeout: bool,
    /// Suspicion lasts at least `suspicion_mult × max(1, log10 n) × probe_interval`.
    pub suspicion_mult: u32,
    /// …and at most `suspicion_max_timeout_mult` times that while confirmations are expected.
    pub suspicion_max_timeout_mult: u32,
    /// Independent confirmations that bring a suspicion from its maximum to its minimum.
    /// `None` is Go's rule: `suspicion_mult − 2`, and none at all when the cluster has fewer
    /// than that many other witnesses — so a three-node cluster always waits the minimum.
    /// `Some(k)` waits for `min(k, n − 2)`: in small clusters too, a lone accuser waits the
    /// maximum and a second witness brings the timeout down at once.
    pub suspicion_confirmations: Option<u32>,
    /// Gossip round period.
    pub gossip_interval: Duration,
    /// Broadcasts are retransmitted `retransmit_mult × ⌈log10(n+1)⌉` times.
    pub retransmit_mult: usize,
    /// Full state exchange with one random peer this often (scaled up above 32 nodes).
    pub push_pull_interval: Duration,
    /// A probe whose TCP fallback ping is refused (the target's host answers the connection
    /// with a reset: nothing listens on its memberlist port) declares the target dead at
    /// once instead of suspecting it. A crashed or killed speaker is then gone within one
    /// direct probe timeout of being probed, while a live one — however starved of CPU or
    /// short of datagrams — is never refused, because its kernel accepts the connection for
    /// it. Go has no such rule: off in [`Timers::LAN`].
    pub refused_tcp_ping_is_death: bool,
}

impl Timers {
    /// hashicorp/memberlist's `DefaultLANConfig`, as MetalLB's Go speakers run it: probe every
    /// 1 s with a 500 ms timeout, suspicion 4 × probe interval (up to 6× that while
    /// confirmations are expected), gossip every 200 ms, push/pull every 30 s.
    pub const LAN: Self = Self {
        probe_interval: Duration::from_secs(1),
        probe_timeout: Duration::from_millis(500),
        scale_probe_timeout: false,
        suspicion_mult: 4,
        suspicion_max_timeout_mult: 6,
        suspicion_confirmations: None,
        gossip_interval: Duration::from_millis(200),
        retransmit_mult: 4,
        push_pull_interval: Duration::from_secs(30),
        refused_tcp_ping_is_death: false,
    };

    /// Sub-second failure detection on a LAN, for clusters whose members all run these timers:
    /// upstream's Lifeguard rules at ten times the probe rate.
    ///
    /// * probe every 100 ms with a 50 ms direct timeout (stretched by local health, like the
    ///   interval): LAN round trips are well under a millisecond, the rest is room for a busy
    ///   scheduler. A probe that fails goes indirect through up to 3 peers plus a TCP ping.
    /// * a refused TCP ping is death (`refused_tcp_ping_is_death`): a killed or crashed
    ///   speaker is declared dead ≈ 50 ms after a survivor first probes it, and every node
    ///   probes each peer at least every few intervals.
    /// * suspicion — for a host that stopped answering altogether — as upstream's: 4 × the
    ///   probe interval (400 ms) once confirmed, 6 × that (2.4 s) for a lone accuser. Unlike
    ///   Go's rule, confirmations are expected in small clusters too (up to 2, 1 with three
    ///   nodes): when every survivor accuses, the node dies after 400 ms; when one peer lost
    ///   a few datagrams to a live node, or the node was starved of CPU for a moment, the
    ///   lone accusation leaves it 2.4 s to refute.
    /// * gossip every 50 ms to 3 nodes, each message retransmitted 8 × ⌈log10(n+1)⌉ times
    ///   (upstream: 4 at 200 ms): accusations and refutations get through 5 % loss within a
    ///   few rounds.
    /// * push/pull every 15 s.
    ///
    /// Measured in the simulated network (three nodes, `common/tests/memberlist_sim`): a killed
    /// node is dead everywhere after 0.13 s (median; at most 0.34 s), a silent host after
    /// 0.56 s (at most 0.77 s); ten minutes of 5 % loss with nodes starved for up to 250 ms
    /// every second or so raise ~200 suspicions, all refuted. The price is traffic: about 20
    /// probes and acks and up to 60 gossip datagrams per second per node, each under 1400
    /// bytes.
    pub const FAST: Self = Self {
        probe_interval: Duration::from_millis(100),
        probe_timeout: Duration::from_millis(50),
        scale_probe_timeout: true,
        suspicion_mult: 4,
        suspicion_max_timeout_mult: 6,
        suspicion_confirmations: Some(2),
        gossip_interval: Duration::from_millis(50),
        retransmit_mult: 8,
        push_pull_interval: Duration::from_secs(15),
        refused_tcp_ping_is_death: true,
    };
}

/// Which timers a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// [`Timers::LAN`]-like `Config::timers` always, and no marker: the other members treat
    /// this node as they treat a Go speaker (the speaker's explicit `--ml-fast=false`).
    Upstream,
    /// `Config::fast_timers` always, marker announced (explicit `--ml-fast`): for clusters
    /// known to hold no Go speaker.
    Fast,
    /// `Config::fast_timers` while every alive or suspect member (ourselves included) announces
    /// [`FAST_MARKER`], `Config::timers` as soon as one does not (a Go speaker, or one of ours
    /// forced to upstream timers); the marker is announced. The speaker's default.
    Auto,
}

impl Profile {
    /// The node metadata this profile announces.
    pub fn meta(self) -> &'static [u8] {
        match self {
            Self::Upstream => &[],
            Self::Fast | Self::Auto => FAST_MARKER,
        }
    }
}

/// Everything the state machine needs to know about this node and its timers. Field names
/// follow memberlist's `Config` so settings can be compared one to one.
#[derive(Debug, Clone)]
pub struct Config {
    /// Node name, unique in the cluster. MetalLB uses the Kubernetes node name, which must
    /// also match the endpoints' node names for the layer 2 election (docs/layer2.md#election).
    pub name: String,
    /// Address and port peers reach us on (MetalLB: pod IP = node IP, port 7946). Also the
    /// port assumed when a protocol-1 peer sends none.
    pub advertise: SocketAddr,
    /// Which of the two timer sets runs; also decides the metadata we announce
    /// ([`Profile::meta`]).
    pub profile: Profile,
    /// The timers that match the Go speakers' (upstream's `DefaultLANConfig`).
    pub timers: Timers,
    /// The timers run while [`Profile`] allows it.
    pub fast_timers: Timers,
    /// Versions announced; [`Versions::METALLB`] matches a Go speaker.
    pub versions: Versions,
    /// Time allowed for a push/pull stream (connect, write, read).
    pub tcp_timeout: Duration,
    /// Peers asked to probe a node that missed its direct probe.
    pub indirect_checks: usize,
    /// Skip the TCP ping that backs up failed UDP probes.
    pub disable_tcp_pings: bool,
    /// Health awareness can stretch the probe interval up to this factor.
    pub awareness_max_multiplier: u32,
    /// Peers receiving each gossip round.
    pub gossip_nodes: usize,
    /// Dead nodes keep receiving gossip (and stay in the table) this long, which lets a
    /// node wrongly declared dead learn it and refute.
    pub gossip_to_the_dead_time: Duration,
    /// Refuse unencrypted input when a keyring is set.
    pub gossip_verify_incoming: bool,
    /// Encrypt output when a keyring is set.
    pub gossip_verify_outgoing: bool,
    /// LZW-compress streams, and datagrams when that makes them smaller.
    pub enable_compression: bool,
    /// Encryption keys; `None` disables encryption.
    pub keyring: Option<Keyring>,
    /// Datagram size budget for piggybacked gossip.
    pub udp_buffer_size: usize,
}

impl Config {
    /// hashicorp/memberlist's `DefaultLANConfig`, as MetalLB's Go speaker uses it: the
    /// [`Timers::LAN`] timers always, 3 indirect checks, compression on, no metadata.
    pub fn lan(name: impl Into<String>, advertise: SocketAddr) -> Self {
        Self {
            name: name.into(),
            advertise,
            profile: Profile::Upstream,
            timers: Timers::LAN,
            fast_timers: Timers::FAST,
            versions: Versions::METALLB,
            tcp_timeout: Duration::from_secs(10),
            indirect_checks: 3,
            disable_tcp_pings: false,
            awareness_max_multiplier: 8,
            gossip_nodes: 3,
            gossip_to_the_dead_time: Duration::from_secs(30),
            gossip_verify_incoming: true,
            gossip_verify_outgoing: true,
            enable_compression: true,
            keyring: None,
            udp_buffer_size: 1400,
        }
    }

    /// [`Timers::FAST`] always ([`Profile::Fast`]).
    pub fn fast(name: impl Into<String>, advertise: SocketAddr) -> Self {
        Self {
            profile: Profile::Fast,
            ..Self::lan(name, advertise)
        }
    }

    /// [`Timers::FAST`] while every member runs metallb-rs, [`Timers::LAN`] otherwise
    /// ([`Profile::Auto`]): the speaker's default.
    pub fn auto(name: impl Into<String>, advertise: SocketAddr) -> Self {
        Self {
            profile: Profile::Auto,
            ..Self::lan(name, advertise)
        }
    }
}
