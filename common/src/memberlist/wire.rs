//! memberlist's messages: one type byte, then a MessagePack map keyed by Go field names.
//!
//! Field sets follow memberlist v0.2.2 (Debian's package), which is a superset of v0.1.x:
//! v0.2 added `SourceAddr`/`SourcePort`/`SourceNode` to pings and indirect pings (omitted
//! when empty; v0.1.x decoders skip unknown keys, and without them we answer to the datagram's
//! source address as v0.1.x does), the `errMsg` type and the `Left` node state. Values are
//! encoded in go-msgpack's sorted-key order (see `msgpack`), so encodings are byte-identical to
//! Go's; decoding accepts any key order, skips unknown keys and defaults missing ones.

use super::msgpack::{MsgpackError, Reader, Writer};
use super::{CryptoError, LzwError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use thiserror::Error;

/// Why bytes are not a valid memberlist message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// A message with no type byte.
    #[error("empty message")]
    Empty,
    /// A type byte memberlist does not define.
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// A message that is valid but not allowed where it appeared.
    #[error("unexpected {0:?} message")]
    Unexpected(MessageType),
    /// The MessagePack body is malformed.
    #[error(transparent)]
    Msgpack(#[from] MsgpackError),
    /// An address field that is neither 4 nor 16 bytes.
    #[error("address of {0} bytes is neither IPv4 nor IPv6")]
    Address(usize),
    /// A protocol version vector of 1–5 bytes (Go would index past its end).
    #[error("version vector of {0} bytes, need 0 or 6")]
    Versions(usize),
    /// A compressed payload using an algorithm other than LZW.
    #[error("unknown compression algorithm {0}")]
    CompressionAlgorithm(u64),
    /// The LZW payload is corrupt.
    #[error(transparent)]
    Lzw(#[from] LzwError),
    /// Decryption failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A CRC-carrying datagram whose checksum does not match.
    #[error("checksum mismatch: header {expected:#010x}, payload {actual:#010x}")]
    Checksum {
        /// The checksum carried in the header.
        expected: u32,
        /// The checksum of the payload.
        actual: u32,
    },
    /// A compressed or encrypted payload that ends inside its message.
    #[error("payload ends inside its message")]
    Truncated,
    /// A compound message whose header lists more parts than it carries.
    #[error("compound message truncated")]
    CompoundTruncated,
    /// Compound/compress wrappers nested implausibly deep.
    #[error("message wrappers nested too deep")]
    TooDeep,
    /// Encryption is configured but the peer sent plaintext.
    #[error("encryption is configured but the remote state is not encrypted")]
    NotEncrypted,
    /// The peer encrypted but we have no keys.
    #[error("remote state is encrypted and encryption is not configured")]
    EncryptionNotConfigured,
    /// A stream frame beyond memberlist's size limit.
    #[error("remote state of {0} bytes is larger than the limit")]
    TooLarge(usize),
    /// The peer answered a stream with an error message.
    #[error("remote error: {0}")]
    Remote(String),
}

/// The first byte of every message (`net.go`'s `messageType` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    /// Direct probe.
    Ping = 0,
    /// Request to probe a node on our behalf.
    IndirectPing = 1,
    /// Probe answer.
    Ack = 2,
    /// Suspicion broadcast.
    Suspect = 3,
    /// Alive broadcast (also the join announcement).
    Alive = 4,
    /// Death or departure broadcast.
    Dead = 5,
    /// Full-state exchange (streams only).
    PushPull = 6,
    /// Several messages in one datagram.
    Compound = 7,
    /// Application payload; MetalLB defines none.
    User = 8,
    /// LZW-compressed message.
    Compress = 9,
    /// Encrypted stream frame.
    Encrypt = 10,
    /// "Indirect probe got no answer" (protocol ≥ 4 peers).
    Nack = 11,
    /// CRC32-prefixed datagram (protocol ≥ 5 peers).
    HasCrc = 12,
    /// Stream error reply.
    Err = 13,
}

impl TryFrom<u8> for MessageType {
    type Error = WireError;

    fn try_from(b: u8) -> Result<Self, WireError> {
        use MessageType::*;
        Ok(match b {
            0 => Ping,
            1 => IndirectPing,
            2 => Ack,
            3 => Suspect,
            4 => Alive,
            5 => Dead,
            6 => PushPull,
            7 => Compound,
            8 => User,
            9 => Compress,
            10 => Encrypt,
            11 => Nack,
            12 => HasCrc,
            13 => Err,
            other => return Result::Err(WireError::UnknownType(other)),
        })
    }
}

/// Protocol and delegate version ranges a node understands (`Vsn`: pmin, pmax, pcur, dmin,
/// dmax, dcur). Go sends them as a 6-byte raw string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Versions {
    /// Lowest protocol version understood.
    pub protocol_min: u8,
    /// Highest protocol version understood.
    pub protocol_max: u8,
    /// Protocol version spoken.
    pub protocol_cur: u8,
    /// Lowest delegate protocol version understood.
    pub delegate_min: u8,
    /// Highest delegate protocol version understood.
    pub delegate_max: u8,
    /// Delegate protocol version spoken.
    pub delegate_cur: u8,
}

impl Versions {
    /// What a Go speaker with `DefaultLANConfig` and no delegate announces: it understands
    /// protocols 1–5 and speaks 2 ("protocol version 2 compatible").
    pub const METALLB: Self = Self {
        protocol_min: 1,
        protocol_max: 5,
        protocol_cur: 2,
        delegate_min: 0,
        delegate_max: 0,
        delegate_cur: 0,
    };

    fn to_bytes(self) -> [u8; 6] {
        [
            self.protocol_min,
            self.protocol_max,
            self.protocol_cur,
            self.delegate_min,
            self.delegate_max,
            self.delegate_cur,
        ]
    }

    fn read(r: &mut Reader<'_>) -> Result<Option<Self>, WireError> {
        match r.byte_list("Vsn")?.as_slice() {
            [] => Ok(None),
            [pmin, pmax, pcur, dmin, dmax, dcur, ..] => Ok(Some(Self {
                protocol_min: *pmin,
                protocol_max: *pmax,
                protocol_cur: *pcur,
                delegate_min: *dmin,
                delegate_max: *dmax,
                delegate_cur: *dcur,
            })),
            short => Err(WireError::Versions(short.len())),
        }
    }

    fn write(v: Option<Self>, w: &mut Writer<'_>) {
        match v {
            Some(v) => w.raw(&v.to_bytes()),
            None => w.raw_or_nil(&[]),
        }
    }
}

/// Where a probe's answer should go (v0.2+), instead of the datagram's source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Advertised address and port of the sender.
    pub addr: SocketAddr,
    /// Sender's node name (may be empty).
    pub node: String,
}

/// `ping`: are you alive? `node` lets the target reject probes meant for a previous owner of
/// its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// Sequence number echoed by the ack.
    pub seq_no: u32,
    /// Intended recipient's name.
    pub node: String,
    /// Reply address, if the sender included one.
    pub source: Option<Source>,
}

/// `indirectPingReq`: please probe `target` for me and relay the ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndirectPing {
    /// Sequence number of the original probe (the relayed ack carries it).
    pub seq_no: u32,
    /// Address to probe.
    pub target: IpAddr,
    /// Port to probe (0 from protocol-1 peers: use our own port).
    pub port: u16,
    /// Name of the node to probe.
    pub node: String,
    /// Whether to answer with a nack if the target stays silent.
    pub nack: bool,
    /// Reply address, if the sender included one.
    pub source: Option<Source>,
}

/// `ackResp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The probe's sequence number.
    pub seq_no: u32,
    /// Ping-delegate payload (always empty for MetalLB).
    pub payload: Vec<u8>,
}

/// `nackResp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack {
    /// The indirect probe's sequence number.
    pub seq_no: u32,
}

/// `suspect`: `from` suspects `node` at `incarnation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    /// Incarnation being suspected.
    pub incarnation: u32,
    /// Suspected node.
    pub node: String,
    /// Accuser.
    pub from: String,
}

/// `dead`: `node` is dead at `incarnation`; `from == node` means it left gracefully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dead {
    /// Incarnation declared dead.
    pub incarnation: u32,
    /// Dead node.
    pub node: String,
    /// Declarer (the node itself for a graceful leave).
    pub from: String,
}

/// `alive`: `node` is alive at `incarnation`, reachable at `addr:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alive {
    /// Incarnation; higher numbers win.
    pub incarnation: u32,
    /// Node name.
    pub node: String,
    /// Advertised address.
    pub addr: IpAddr,
    /// Advertised port (0 from protocol-1 peers).
    pub port: u16,
    /// Delegate metadata (empty for MetalLB).
    pub meta: Vec<u8>,
    /// Versions understood, absent from protocol-1 peers.
    pub vsn: Option<Versions>,
}

/// `errResp`, the answer to a stream the peer could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// Go's error text.
    pub error: String,
}

/// A member's state as push/pull carries it (`NodeStateType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Answering probes.
    Alive,
    /// Failed a probe; dead unless it refutes in time.
    Suspect,
    /// Declared dead.
    Dead,
    /// Left gracefully (v0.2+; v0.1.x peers ignore entries in this state).
    Left,
}

impl MemberState {
    fn code(self) -> u64 {
        match self {
            Self::Alive => 0,
            Self::Suspect => 1,
            Self::Dead => 2,
            Self::Left => 3,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::Alive),
            1 => Some(Self::Suspect),
            2 => Some(Self::Dead),
            3 => Some(Self::Left),
            _ => None,
        }
    }
}

/// One entry of a push/pull state transfer (`pushNodeState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushNodeState {
    /// Node name.
    pub name: String,
    /// Advertised address.
    pub addr: IpAddr,
    /// Advertised port.
    pub port: u16,
    /// Delegate metadata.
    pub meta: Vec<u8>,
    /// Incarnation.
    pub incarnation: u32,
    /// State in the sender's view.
    pub state: MemberState,
    /// Versions understood.
    pub vsn: Option<Versions>,
}

/// A full state transfer: `pushPullHeader`, the node states, then raw delegate state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushPull {
    /// Whether this is a join (versus periodic anti-entropy).
    pub join: bool,
    /// The sender's member table. Entries in a state this version does not know are dropped
    /// while decoding, as Go's `mergeState` ignores them.
    pub nodes: Vec<PushNodeState>,
    /// Delegate state (always empty for MetalLB).
    pub user_state: Vec<u8>,
}

/// Any message that travels alone inside a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `pingMsg`.
    Ping(Ping),
    /// `indirectPingMsg`.
    IndirectPing(IndirectPing),
    /// `ackRespMsg`.
    Ack(Ack),
    /// `nackRespMsg`.
    Nack(Nack),
    /// `suspectMsg`.
    Suspect(Suspect),
    /// `aliveMsg`.
    Alive(Alive),
    /// `deadMsg`.
    Dead(Dead),
    /// `userMsg`: opaque bytes after the type byte.
    User(Vec<u8>),
    /// `errMsg`.
    Err(ErrorResponse),
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// Go's `net.IP` as raw bytes: 4 for IPv4 (memberlist converts with `To4`), 16 for IPv6.
fn read_ip(r: &mut Reader<'_>) -> Result<IpAddr, WireError> {
    ip_from_raw(r.raw()?)
}

fn ip_from_raw(raw: &[u8]) -> Result<IpAddr, WireError> {
    if let Ok(v4) = <[u8; 4]>::try_from(raw) {
        Ok(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(raw) {
        Ok(IpAddr::V6(Ipv6Addr::from(v6)))
    } else {
        Err(WireError::Address(raw.len()))
    }
}

/// Accumulates the optional `Source*` fields, which Go omits one by one when empty.
#[derive(Default)]
struct SourceFields {
    addr: Option<IpAddr>,
    port: u16,
    node: String,
}

impl SourceFields {
    fn read(&mut self, key: &[u8], r: &mut Reader<'_>) -> Result<bool, WireError> {
        match key {
            b"SourceAddr" => {
                // An empty address is how Go spells "absent".
                let raw = r.raw()?;
                self.addr = if raw.is_empty() {
                    None
                } else {
                    Some(ip_from_raw(raw)?)
                };
            }
            b"SourcePort" => self.port = r.uint_as("SourcePort")?,
            b"SourceNode" => self.node = r.string("SourceNode")?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// memberlist only uses a source that has both an address and a non-zero port.
    fn finish(self) -> Option<Source> {
        match (self.addr, self.port) {
            (Some(ip), port) if port > 0 => Some(Source {
                addr: SocketAddr::new(ip, port),
                node: self.node,
            }),
            _ => None,
        }
    }

    fn count(source: &Option<Source>) -> usize {
        source
            .as_ref()
            .map_or(0, |s| if s.node.is_empty() { 2 } else { 3 })
    }

    /// Writes the fields in sorted position: SourceAddr, SourceNode, SourcePort.
    fn write(source: &Option<Source>, w: &mut Writer<'_>) {
        if let Some(s) = source {
            w.key("SourceAddr");
            w.raw(&ip_bytes(&s.addr.ip()));
            if !s.node.is_empty() {
                w.key("SourceNode");
                w.raw(s.node.as_bytes());
            }
            w.key("SourcePort");
            w.uint(u64::from(s.addr.port()));
        }
    }
}

impl Message {
    /// The type byte this message goes out with.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Ping(_) => MessageType::Ping,
            Self::IndirectPing(_) => MessageType::IndirectPing,
            Self::Ack(_) => MessageType::Ack,
            Self::Nack(_) => MessageType::Nack,
            Self::Suspect(_) => MessageType::Suspect,
            Self::Alive(_) => MessageType::Alive,
            Self::Dead(_) => MessageType::Dead,
            Self::User(_) => MessageType::User,
            Self::Err(_) => MessageType::Err,
        }
    }

    /// Type byte plus body, exactly as memberlist's `encode` produces it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.message_type() as u8];
        let w = &mut Writer::new(&mut out);
        match self {
            Self::Ping(p) => {
                w.map_len(2 + SourceFields::count(&p.source));
                w.key("Node");
                w.raw(p.node.as_bytes());
                w.key("SeqNo");
                w.uint(u64::from(p.seq_no));
                SourceFields::write(&p.source, w);
            }
            Self::IndirectPing(p) => {
                w.map_len(5 + SourceFields::count(&p.source));
                w.key("Nack");
                w.bool(p.nack);
                w.key("Node");
                w.raw(p.node.as_bytes());
                w.key("Port");
                w.uint(u64::from(p.port));
                w.key("SeqNo");
                w.uint(u64::from(p.seq_no));
                SourceFields::write(&p.source, w);
                w.key("Target");
                w.raw(&ip_bytes(&p.target));
            }
            Self::Ack(a) => {
                w.map_len(2);
                w.key("Payload");
                w.raw_or_nil(&a.payload);
                w.key("SeqNo");
                w.uint(u64::from(a.seq_no));
            }
            Self::Nack(n) => {
                w.map_len(1);
                w.key("SeqNo");
                w.uint(u64::from(n.seq_no));
            }
            Self::Suspect(Suspect {
                incarnation,
                node,
                from,
            })
            | Self::Dead(Dead {
                incarnation,
                node,
                from,
            }) => {
                w.map_len(3);
                w.key("From");
                w.raw(from.as_bytes());
                w.key("Incarnation");
                w.uint(u64::from(*incarnation));
                w.key("Node");
                w.raw(node.as_bytes());
            }
            Self::Alive(a) => {
                w.map_len(6);
                w.key("Addr");
                w.raw(&ip_bytes(&a.addr));
                w.key("Incarnation");
                w.uint(u64::from(a.incarnation));
                w.key("Meta");
                w.raw_or_nil(&a.meta);
                w.key("Node");
                w.raw(a.node.as_bytes());
                w.key("Port");
                w.uint(u64::from(a.port));
                w.key("Vsn");
                Versions::write(a.vsn, w);
            }
            Self::User(bytes) => out.extend_from_slice(bytes),
            Self::Err(e) => {
                w.map_len(1);
                w.key("Error");
                w.raw(e.error.as_bytes());
            }
        }
        out
    }

    /// Decodes one message (type byte first). Wrappers — compound, compress, CRC — are not
    /// messages; `packet` peels them off before calling this.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let (&t, body) = bytes.split_first().ok_or(WireError::Empty)?;
        let r = &mut Reader::new(body);
        Ok(match MessageType::try_from(t)? {
            MessageType::Ping => Self::Ping(decode_ping(r)?),
            MessageType::IndirectPing => Self::IndirectPing(decode_indirect(r)?),
            MessageType::Ack => Self::Ack(decode_ack(r)?),
            MessageType::Nack => Self::Nack(decode_nack(r)?),
            MessageType::Suspect => {
                let (incarnation, node, from) = decode_accusation(r)?;
                Self::Suspect(Suspect {
                    incarnation,
                    node,
                    from,
                })
            }
            MessageType::Dead => {
                let (incarnation, node, from) = decode_accusation(r)?;
                Self::Dead(Dead {
                    incarnation,
                    node,
                    from,
                })
            }
            MessageType::Alive => Self::Alive(decode_alive(r)?),
            MessageType::User => Self::User(body.to_vec()),
            MessageType::Err => Self::Err(decode_error(r)?),
            other => return Err(WireError::Unexpected(other)),
        })
    }
}

/// Walks a struct map with a field handler that may fail with any `WireError`.
fn fields(
    r: &mut Reader<'_>,
    f: impl FnMut(&[u8], &mut Reader<'_>) -> Result<bool, WireError>,
) -> Result<(), WireError> {
    r.fields(f)
}

fn decode_ping(r: &mut Reader<'_>) -> Result<Ping, WireError> {
    let (mut seq_no, mut node, mut source) = (0, String::new(), SourceFields::default());
    fields(r, |k, r| {
        match k {
            b"SeqNo" => seq_no = r.uint_as("SeqNo")?,
            b"Node" => node = r.string("Node")?,
            _ => return source.read(k, r),
        }
        Ok(true)
    })?;
    Ok(Ping {
        seq_no,
        node,
        source: source.finish(),
    })
}

fn decode_indirect(r: &mut Reader<'_>) -> Result<IndirectPing, WireError> {
    let (mut seq_no, mut target, mut port, mut node, mut nack) = (0, None, 0, String::new(), false);
    let mut source = SourceFields::default();
    fields(r, |k, r| {
        match k {
            b"SeqNo" => seq_no = r.uint_as("SeqNo")?,
            b"Target" => target = Some(read_ip(r)?),
            b"Port" => port = r.uint_as("Port")?,
            b"Node" => node = r.string("Node")?,
            b"Nack" => nack = r.bool()?,
            _ => return source.read(k, r),
        }
        Ok(true)
    })?;
    let target = target.ok_or(WireError::Address(0))?;
    Ok(IndirectPing {
        seq_no,
        target,
        port,
        node,
        nack,
        source: source.finish(),
    })
}

fn decode_ack(r: &mut Reader<'_>) -> Result<Ack, WireError> {
    let (mut seq_no, mut payload) = (0, Vec::new());
    fields(r, |k, r| {
        match k {
            b"SeqNo" => seq_no = r.uint_as("SeqNo")?,
            b"Payload" => payload = r.raw()?.to_vec(),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Ack { seq_no, payload })
}

fn decode_nack(r: &mut Reader<'_>) -> Result<Nack, WireError> {
    let mut seq_no = 0;
    fields(r, |k, r| {
        match k {
            b"SeqNo" => seq_no = r.uint_as("SeqNo")?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Nack { seq_no })
}

fn decode_accusation(r: &mut Reader<'_>) -> Result<(u32, String, String), WireError> {
    let (mut incarnation, mut node, mut from) = (0, String::new(), String::new());
    fields(r, |k, r| {
        match k {
            b"Incarnation" => incarnation = r.uint_as("Incarnation")?,
            b"Node" => node = r.string("Node")?,
            b"From" => from = r.string("From")?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((incarnation, node, from))
}

fn decode_alive(r: &mut Reader<'_>) -> Result<Alive, WireError> {
    let (mut incarnation, mut node, mut addr, mut port) = (0, String::new(), None, 0);
    let (mut meta, mut vsn) = (Vec::new(), None);
    fields(r, |k, r| {
        match k {
            b"Incarnation" => incarnation = r.uint_as("Incarnation")?,
            b"Node" => node = r.string("Node")?,
            b"Addr" => addr = Some(read_ip(r)?),
            b"Port" => port = r.uint_as("Port")?,
            b"Meta" => meta = r.raw()?.to_vec(),
            b"Vsn" => vsn = Versions::read(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let addr = addr.ok_or(WireError::Address(0))?;
    Ok(Alive {
        incarnation,
        node,
        addr,
        port,
        meta,
        vsn,
    })
}

fn decode_error(r: &mut Reader<'_>) -> Result<ErrorResponse, WireError> {
    let mut error = String::new();
    fields(r, |k, r| {
        match k {
            b"Error" => error = r.string("Error")?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(ErrorResponse { error })
}

impl PushPull {
    /// Type byte, header, node states and user state, as memberlist's `sendLocalState`
    /// assembles them before compression and encryption.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![MessageType::PushPull as u8];
        let w = &mut Writer::new(&mut out);
        w.map_len(3);
        w.key("Join");
        w.bool(self.join);
        w.key("Nodes");
        w.uint(self.nodes.len() as u64);
        w.key("UserStateLen");
        w.uint(self.user_state.len() as u64);
        for n in &self.nodes {
            w.map_len(7);
            w.key("Addr");
            w.raw(&ip_bytes(&n.addr));
            w.key("Incarnation");
            w.uint(u64::from(n.incarnation));
            w.key("Meta");
            w.raw_or_nil(&n.meta);
            w.key("Name");
            w.raw(n.name.as_bytes());
            w.key("Port");
            w.uint(u64::from(n.port));
            w.key("State");
            w.uint(n.state.code());
            w.key("Vsn");
            Versions::write(n.vsn, w);
        }
        out.extend_from_slice(&self.user_state);
        out
    }

    /// Decodes the body after the type byte. `Truncated` means the bytes end early, which a
    /// stream reader takes as "wait for more".
    pub(crate) fn decode_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let (mut join, mut count, mut user_len) = (false, 0usize, 0usize);
        fields(r, |k, r| {
            match k {
                b"Join" => join = r.bool()?,
                b"Nodes" => count = r.uint_as("Nodes")?,
                b"UserStateLen" => user_len = r.uint_as("UserStateLen")?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        // Never trust the count for allocation: each entry takes at least one byte.
        let mut nodes = Vec::with_capacity(count.min(r.rest().len()));
        for _ in 0..count {
            if let Some(n) = decode_push_node(r)? {
                nodes.push(n);
            }
        }
        let user_state = r.take(user_len)?.to_vec();
        Ok(Self {
            join,
            nodes,
            user_state,
        })
    }
}

fn decode_push_node(r: &mut Reader<'_>) -> Result<Option<PushNodeState>, WireError> {
    let (mut name, mut addr, mut port, mut meta) = (String::new(), None, 0, Vec::new());
    let (mut incarnation, mut state, mut vsn) = (0, 0u64, None);
    fields(r, |k, r| {
        match k {
            b"Name" => name = r.string("Name")?,
            b"Addr" => addr = Some(read_ip(r)?),
            b"Port" => port = r.uint_as("Port")?,
            b"Meta" => meta = r.raw()?.to_vec(),
            b"Incarnation" => incarnation = r.uint_as("Incarnation")?,
            b"State" => state = r.uint("State")?,
            b"Vsn" => vsn = Versions::read(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let addr = addr.ok_or(WireError::Address(0))?;
    Ok(MemberState::from_code(state).map(|state| PushNodeState {
        name,
        addr,
        port,
        meta,
        incarnation,
        state,
        vsn,
    }))
}
