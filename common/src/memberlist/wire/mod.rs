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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use thiserror::Error;

mod message;
mod push_pull;

pub use message::{
    Ack, Alive, Dead, ErrorResponse, IndirectPing, Message, Nack, Ping, Source, Suspect,
};
pub use push_pull::{MemberState, PushNodeState, PushPull};

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

/// Protocol version that added TCP fallback pings: peers understanding it get one when UDP
/// probes fail.
pub const PROTOCOL_TCP_PING: u8 = 3;
/// Protocol version that added nacks to indirect probes.
pub const PROTOCOL_NACK: u8 = 4;
/// Protocol version that added CRC-prefixed datagrams.
pub const PROTOCOL_CRC: u8 = 5;

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

    pub(super) fn to_bytes(self) -> [u8; 6] {
        [
            self.protocol_min,
            self.protocol_max,
            self.protocol_cur,
            self.delegate_min,
            self.delegate_max,
            self.delegate_cur,
        ]
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Option<Self>, WireError> {
        match r.byte_list("Vsn")?.as_ref() {
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

    pub(super) fn write(v: Option<Self>, w: &mut Writer<'_>) {
        match v {
            Some(v) => w.raw(&v.to_bytes()),
            None => w.raw_or_nil(&[]),
        }
    }
}

pub(super) fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// Go's `net.IP` as raw bytes: 4 for IPv4 (memberlist converts with `To4`), 16 for IPv6.
pub(super) fn read_ip(r: &mut Reader<'_>) -> Result<IpAddr, WireError> {
    ip_from_raw(r.raw()?)
}

pub(super) fn ip_from_raw(raw: &[u8]) -> Result<IpAddr, WireError> {
    if let Ok(v4) = <[u8; 4]>::try_from(raw) {
        Ok(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(raw) {
        Ok(IpAddr::V6(Ipv6Addr::from(v6)))
    } else {
        Err(WireError::Address(raw.len()))
    }
}

/// Walks a struct map with a field handler that may fail with any `WireError`.
pub(super) fn fields(
    r: &mut Reader<'_>,
    f: impl FnMut(&[u8], &mut Reader<'_>) -> Result<bool, WireError>,
) -> Result<(), WireError> {
    r.fields(f)
}
