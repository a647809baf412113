//! Push/pull: the full member table exchanged over streams on join and every 30 s.

use super::{MessageType, Versions, WireError, fields, ip_bytes, read_ip};
use crate::memberlist::msgpack::{Reader, Writer};
use std::net::IpAddr;

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
