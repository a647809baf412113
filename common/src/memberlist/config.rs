//! Protocol settings: memberlist's `DefaultLANConfig`, and a faster profile.

use super::crypto::Keyring;
use super::wire::Versions;
use std::net::SocketAddr;
use std::time::Duration;

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
    /// Metadata announced with our alive messages (empty for MetalLB, at most 512 bytes).
    pub meta: Vec<u8>,
    /// Versions announced; [`Versions::METALLB`] matches a Go speaker.
    pub versions: Versions,
    /// Time allowed for a push/pull stream (connect, write, read).
    pub tcp_timeout: Duration,
    /// Peers asked to probe a node that missed its direct probe.
    pub indirect_checks: usize,
    /// Broadcasts are retransmitted `retransmit_mult × ⌈log10(n+1)⌉` times.
    pub retransmit_mult: usize,
    /// Suspicion lasts at least `suspicion_mult × max(1, log10 n) × probe_interval`.
    pub suspicion_mult: u32,
    /// …and at most `suspicion_max_timeout_mult` times that when confirmations are expected.
    pub suspicion_max_timeout_mult: u32,
    /// Full state exchange with one random peer this often (scaled up above 32 nodes).
    pub push_pull_interval: Duration,
    /// One node is probed per interval, round robin.
    pub probe_interval: Duration,
    /// A direct probe fails after this long without an ack; indirect probes follow.
    pub probe_timeout: Duration,
    /// Skip the TCP ping that backs up failed UDP probes.
    pub disable_tcp_pings: bool,
    /// Health awareness can stretch the probe interval up to this factor.
    pub awareness_max_multiplier: u32,
    /// Peers receiving each gossip round.
    pub gossip_nodes: usize,
    /// Gossip round period.
    pub gossip_interval: Duration,
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
    /// hashicorp/memberlist's `DefaultLANConfig`, as MetalLB's speaker uses it: probe every
    /// 1 s with a 500 ms timeout, 3 indirect checks, suspicion multiplier 4 (up to 6× with
    /// Lifeguard), gossip to 3 nodes every 200 ms, push/pull every 30 s, compression on.
    pub fn lan(name: impl Into<String>, advertise: SocketAddr) -> Self {
        Self {
            name: name.into(),
            advertise,
            meta: Vec::new(),
            versions: Versions::METALLB,
            tcp_timeout: Duration::from_secs(10),
            indirect_checks: 3,
            retransmit_mult: 4,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            push_pull_interval: Duration::from_secs(30),
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            disable_tcp_pings: false,
            awareness_max_multiplier: 8,
            gossip_nodes: 3,
            gossip_interval: Duration::from_millis(200),
            gossip_to_the_dead_time: Duration::from_secs(30),
            gossip_verify_incoming: true,
            gossip_verify_outgoing: true,
            enable_compression: true,
            keyring: None,
            udp_buffer_size: 1400,
        }
    }

    /// A profile for sub-second failover on a LAN (the speaker's "fast" option).
    ///
    /// Detection time is roughly: wait until someone probes the dead node (< one probe
    /// interval, since every node probes one peer per interval), the failed probe itself
    /// (one interval: direct timeout, then indirect probes), the suspicion timeout, and the
    /// gossip of the death. With the LAN defaults that is 1 + 1 + 4 + 0.2 ≈ 6 s. Here:
    ///
    /// * probe interval 100 ms, probe timeout 50 ms — LAN round trips are well under a
    ///   millisecond; 50 ms leaves room for a busy node's scheduler before indirect probes
    ///   (3 of them, as upstream) and the TCP fallback get the other 50 ms.
    /// * suspicion multiplier 2: suspicion lasts 2 × max(1, log10 n) × 100 ms = 200 ms up to
    ///   10 nodes. With a multiplier of 2 Lifeguard expects no confirmations (k = mult − 2),
    ///   so the timeout is that minimum — deliberately: waiting for confirmations is what
    ///   makes upstream's worst case 6× longer.
    /// * gossip every 50 ms to 3 nodes: a suspicion reaches the suspect, and its refutation
    ///   comes back, within ~100 ms, well inside the 200 ms window.
    /// * push/pull every 15 s; the rest as upstream. Health awareness stays on (up to 8×): a
    ///   starved node slows its own probing instead of accusing healthy peers.
    ///
    /// Expected detection ≈ 0.1 + 0.1 + 0.2 + 0.05 ≈ 0.45 s. The price is traffic (about 20
    /// probes and 60 gossip datagrams per second per node, each under 1400 bytes) and less
    /// tolerance of stalls: a node frozen for ~300 ms is declared dead, then refutes and
    /// rejoins. Mixed clusters work on the wire, but Go speakers gossip every 200 ms, so a
    /// Go node wrongly suspected by a fast node may be declared dead before its refutation
    /// arrives; switch to this profile once every speaker runs metallb-rs.
    pub fn fast(name: impl Into<String>, advertise: SocketAddr) -> Self {
        Self {
            suspicion_mult: 2,
            push_pull_interval: Duration::from_secs(15),
            probe_interval: Duration::from_millis(100),
            probe_timeout: Duration::from_millis(50),
            gossip_interval: Duration::from_millis(50),
            ..Self::lan(name, advertise)
        }
    }
}
