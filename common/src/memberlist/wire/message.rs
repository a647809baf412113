//! The messages that travel in datagrams, with go-msgpack's sorted field order.

use super::{MessageType, Versions, WireError, fields, ip_bytes, ip_from_raw, read_ip};
use crate::memberlist::msgpack::{Reader, Writer};
use std::net::{IpAddr, SocketAddr};

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
