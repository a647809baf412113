//! Message framing (RFC 4271 §4.1): splitting a byte stream into messages and encoding them.

use thiserror::Error;

use super::notification::{Notification, code};
use super::open::{Open, OpenError};
use super::update::{AsWidth, Update, UpdateError};

/// Sixteen 0xff octets start every message.
pub const MARKER: [u8; 16] = [0xff; 16];
pub const HEADER_LEN: usize = 19;
/// RFC 4271 maximum; RFC 8654 extended messages are not negotiated.
pub const MAX_MESSAGE_LEN: usize = 4096;

const TYPE_OPEN: u8 = 1;
pub(crate) const TYPE_UPDATE: u8 = 2;
const TYPE_NOTIFICATION: u8 = 3;
const TYPE_KEEPALIVE: u8 = 4;

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
}

/// A received message that cannot be accepted, carrying the NOTIFICATION we must send.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// 1/1: the stream is not synchronised on message boundaries any more.
    #[error("bad BGP marker")]
    Marker,
    /// 1/2: a length outside what the message type allows.
    #[error("bad BGP message length {0}")]
    Length(u16),
    /// 1/3
    #[error("unknown BGP message type {0}")]
    Type(u8),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Update(#[from] UpdateError),
}

impl DecodeError {
    pub fn notification(&self) -> Notification {
        let header = code::MESSAGE_HEADER;
        match self {
            Self::Marker => Notification::new(header, 1, []),
            Self::Length(len) => Notification::new(header, 2, len.to_be_bytes()),
            Self::Type(t) => Notification::new(header, 3, [*t]),
            Self::Open(e) => e.notification(),
            Self::Update(e) => e.notification(),
        }
    }
}

/// A message that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("{0} message does not fit in {MAX_MESSAGE_LEN} bytes")]
    TooLong(&'static str),
    #[error("{0} has a field longer than its length octets can express")]
    FieldOverflow(&'static str),
}

/// Message type and body of a message whose header has been validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: u8,
    pub body: &'a [u8],
}

/// Finds the first message in `buf`.
///
/// Returns `Ok(None)` while the message is incomplete, `Ok(Some((frame, consumed)))` once
/// it is whole. A bad marker, length or type is reported as soon as the bytes carrying it
/// have arrived, so a peer out of sync is dropped without waiting for 4 KiB of garbage.
pub fn split_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, DecodeError> {
    let marker_seen = buf.len().min(MARKER.len());
    if buf.iter().take(marker_seen).any(|&b| b != 0xff) {
        return Err(DecodeError::Marker);
    }
    let Some(&[hi, lo, kind]) = buf.get(16..HEADER_LEN) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([hi, lo]);
    let (min, max) = match kind {
        TYPE_OPEN => (29, MAX_MESSAGE_LEN),
        TYPE_UPDATE => (23, MAX_MESSAGE_LEN),
        TYPE_NOTIFICATION => (21, MAX_MESSAGE_LEN),
        TYPE_KEEPALIVE => (HEADER_LEN, HEADER_LEN),
        other => {
            // A length outside the header's own limits is the more basic error.
            if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&usize::from(len)) {
                return Err(DecodeError::Length(len));
            }
            return Err(DecodeError::Type(other));
        }
    };
    if !(min..=max).contains(&usize::from(len)) {
        return Err(DecodeError::Length(len));
    }
    let Some(body) = buf.get(HEADER_LEN..usize::from(len)) else {
        return Ok(None);
    };
    Ok(Some((Frame { kind, body }, usize::from(len))))
}

/// Splits and decodes the first message in `buf` (see [`split_frame`]). `width` says how
/// to read AS_PATHs in UPDATEs (it only matters for those).
pub fn decode(buf: &[u8], width: AsWidth) -> Result<Option<(Message, usize)>, DecodeError> {
    let Some((frame, consumed)) = split_frame(buf)? else {
        return Ok(None);
    };
    Ok(Some((decode_frame(frame, width)?, consumed)))
}

/// Decodes the body of a framed message.
pub fn decode_frame(frame: Frame<'_>, width: AsWidth) -> Result<Message, DecodeError> {
    Ok(match frame.kind {
        TYPE_OPEN => Message::Open(Open::decode_body(frame.body)?),
        TYPE_UPDATE => Message::Update(Update::decode_body(frame.body, width)?),
        TYPE_NOTIFICATION => Message::Notification(
            Notification::decode_body(frame.body).ok_or(DecodeError::Length(frame_len(frame)))?,
        ),
        TYPE_KEEPALIVE => Message::Keepalive,
        other => return Err(DecodeError::Type(other)),
    })
}

fn frame_len(frame: Frame<'_>) -> u16 {
    u16::try_from(frame.body.len() + HEADER_LEN).unwrap_or(u16::MAX)
}

impl Message {
    /// The complete message, header included.
    pub fn encode(&self, width: AsWidth) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(width, &mut out)?;
        Ok(out)
    }

    /// Appends the complete message to `out`, so several can share one buffer (one write).
    /// On error `out` is left as it was.
    pub fn encode_into(&self, width: AsWidth, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.extend_from_slice(&MARKER);
        out.extend_from_slice(&[0, 0, self.type_code()]);
        let body = match self {
            Self::Open(open) => open.encode_body(out),
            Self::Update(update) => update.encode_body(width, out),
            Self::Notification(n) => {
                n.encode_body(out);
                Some(())
            }
            Self::Keepalive => Some(()),
        };
        let len = out.len() - start;
        let result = match (body, u16::try_from(len)) {
            (None, _) => Err(EncodeError::FieldOverflow(self.name())),
            (Some(()), Ok(len)) if usize::from(len) <= MAX_MESSAGE_LEN => {
                if let Some(field) = out.get_mut(start + 16..start + 18) {
                    field.copy_from_slice(&len.to_be_bytes());
                }
                Ok(())
            }
            (Some(()), _) => Err(EncodeError::TooLong(self.name())),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn type_code(&self) -> u8 {
        match self {
            Self::Open(_) => TYPE_OPEN,
            Self::Update(_) => TYPE_UPDATE,
            Self::Notification(_) => TYPE_NOTIFICATION,
            Self::Keepalive => TYPE_KEEPALIVE,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Open(_) => "OPEN",
            Self::Update(_) => "UPDATE",
            Self::Notification(_) => "NOTIFICATION",
            Self::Keepalive => "KEEPALIVE",
        }
    }
}
