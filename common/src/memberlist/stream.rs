//! Stream (TCP) framing: push/pull state transfers, TCP fallback pings and error replies.
//!
//! A stream carries one message each way. Outbound (`rawSendMsgStream`): the message is always
//! compressed when compression is on, then, with encryption, framed as
//! `encryptMsg ‖ u32 length ‖ sealed` where the 5 header bytes are the additional data.
//! Streams are not length-prefixed otherwise, so the reader parses incrementally: `Ok(None)`
//! from [`decode_stream`] means "the bytes so far are a valid prefix, read more".

use super::crypto::{self, Keyring};
use super::msgpack::{MsgpackError, Reader, Writer};
use super::packet::{Encrypt, compress_message, decompress_body};
use super::wire::{Ack, ErrorResponse, Message, MessageType, Ping, PushPull, WireError};

/// Largest stream payload accepted (memberlist's `maxPushStateBytes`, 20 MiB).
pub const MAX_STREAM_BYTES: usize = 20 * 1024 * 1024;
const HEADER_LEN: usize = 5;

/// The messages memberlist sends over streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamMessage {
    /// Full state exchange (join or anti-entropy).
    PushPull(PushPull),
    /// TCP fallback probe.
    Ping(Ping),
    /// Answer to a TCP probe.
    Ack(Ack),
    /// The peer could not read our stream.
    Err(ErrorResponse),
    /// Reliable user message; MetalLB sends none, the payload is ignored.
    User(Vec<u8>),
}

impl StreamMessage {
    /// The type byte this message goes out with.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::PushPull(_) => MessageType::PushPull,
            Self::Ping(_) => MessageType::Ping,
            Self::Ack(_) => MessageType::Ack,
            Self::Err(_) => MessageType::Err,
            Self::User(_) => MessageType::User,
        }
    }

    /// The message before compression and encryption.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::PushPull(p) => p.encode(),
            Self::Ping(p) => Message::Ping(p.clone()).encode(),
            Self::Ack(a) => Message::Ack(a.clone()).encode(),
            Self::Err(e) => Message::Err(e.clone()).encode(),
            Self::User(bytes) => {
                let mut out = vec![MessageType::User as u8];
                let w = &mut Writer::new(&mut out);
                w.map_len(1);
                w.key("UserMsgLen");
                w.uint(bytes.len() as u64);
                out.extend_from_slice(bytes);
                out
            }
        }
    }
}

/// Applies compression and encryption to an encoded stream message (`rawSendMsgStream`).
pub fn seal_stream(
    msg: &[u8],
    compress: bool,
    encrypt: Option<Encrypt<'_>>,
) -> Result<Vec<u8>, WireError> {
    let payload = if compress {
        compress_message(msg)
    } else {
        msg.to_vec()
    };
    let Some(e) = encrypt else {
        return Ok(payload);
    };
    let sealed_len = e.version.sealed_len(payload.len());
    let len = u32::try_from(sealed_len).map_err(|_| WireError::TooLarge(sealed_len))?;
    let mut out = Vec::with_capacity(HEADER_LEN + sealed_len);
    out.push(MessageType::Encrypt as u8);
    out.extend_from_slice(&len.to_be_bytes());
    let sealed = crypto::seal(e.version, e.key, &e.nonce, &payload, &out)?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decodes the one message at the start of `buf` (`readStream` plus the per-type readers).
/// `Ok(None)`: incomplete so far, read more bytes. Encryption is required when a keyring is
/// set and `verify_incoming` is on, and refused when no keyring is set.
pub fn decode_stream(
    buf: &[u8],
    keyring: Option<&Keyring>,
    verify_incoming: bool,
) -> Result<Option<StreamMessage>, WireError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first == MessageType::Encrypt as u8 {
        let ring = keyring.ok_or(WireError::EncryptionNotConfigured)?;
        let Some(header) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > MAX_STREAM_BYTES {
            return Err(WireError::TooLarge(len));
        }
        let Some(sealed) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        let plain = crypto::open(ring, sealed, header)?;
        return whole(decode_message(&plain)).map(Some);
    }
    if keyring.is_some() && verify_incoming {
        return Err(WireError::NotEncrypted);
    }
    match decode_message(buf) {
        Err(WireError::Msgpack(MsgpackError::Truncated)) if buf.len() <= MAX_STREAM_BYTES => {
            Ok(None)
        }
        Err(WireError::Msgpack(MsgpackError::Truncated)) => Err(WireError::TooLarge(buf.len())),
        other => other.map(Some),
    }
}

/// One stream message, possibly compressed. Running out of bytes in the outer layer surfaces
/// as `Msgpack(Truncated)` (read more); inside a decompressed payload it cannot be cured by
/// more bytes and becomes `WireError::Truncated`.
fn decode_message(buf: &[u8]) -> Result<StreamMessage, WireError> {
    let (&t, body) = buf.split_first().ok_or(MsgpackError::Truncated)?;
    if t == MessageType::Compress as u8 {
        let (plain, _) = decompress_body(body, MAX_STREAM_BYTES)?;
        let (&t, body) = plain.split_first().ok_or(WireError::Truncated)?;
        return whole(decode_plain(t, body));
    }
    decode_plain(t, body)
}

/// For payloads known to be complete (decrypted or decompressed).
fn whole(res: Result<StreamMessage, WireError>) -> Result<StreamMessage, WireError> {
    res.map_err(|e| match e {
        WireError::Msgpack(MsgpackError::Truncated) => WireError::Truncated,
        other => other,
    })
}

fn decode_plain(t: u8, body: &[u8]) -> Result<StreamMessage, WireError> {
    let r = &mut Reader::new(body);
    match MessageType::try_from(t)? {
        MessageType::PushPull => Ok(StreamMessage::PushPull(PushPull::decode_body(r)?)),
        MessageType::User => {
            let mut len = 0usize;
            r.fields(|k, r| {
                match k {
                    b"UserMsgLen" => len = r.uint_as("UserMsgLen")?,
                    _ => return Ok::<_, WireError>(false),
                }
                Ok(true)
            })?;
            Ok(StreamMessage::User(r.take(len)?.to_vec()))
        }
        // Single messages are self-delimiting: decode them from the body as a datagram would,
        // after checking the map is complete (a truncated body must mean "read more").
        MessageType::Ping | MessageType::Ack | MessageType::Err => {
            r.skip()?;
            let mut whole = vec![t];
            whole.extend_from_slice(body.get(..r.position()).unwrap_or_default());
            match Message::decode(&whole)? {
                Message::Ping(p) => Ok(StreamMessage::Ping(p)),
                Message::Ack(a) => Ok(StreamMessage::Ack(a)),
                Message::Err(e) => Ok(StreamMessage::Err(e)),
                other => Err(WireError::Unexpected(other.message_type())),
            }
        }
        other => Err(WireError::Unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memberlist::crypto::{EncryptionVersion, SecretKey};
    use crate::memberlist::wire::{MemberState, PushNodeState, Versions};

    fn state(nodes: usize) -> StreamMessage {
        StreamMessage::PushPull(PushPull {
            join: true,
            nodes: (0..nodes)
                .map(|i| PushNodeState {
                    name: format!("node-{i}"),
                    addr: [10, 0, 0, i as u8].into(),
                    port: 7946,
                    meta: Vec::new(),
                    incarnation: i as u32,
                    state: MemberState::Alive,
                    vsn: Some(Versions::METALLB),
                })
                .collect(),
            user_state: b"u".to_vec(),
        })
    }

    #[test]
    fn every_prefix_asks_for_more_and_the_whole_decodes() {
        let key = SecretKey::new(&[5; 16]).unwrap();
        let ring = Keyring::new(key.clone());
        let msg = state(3);
        let enc = Encrypt {
            key: &key,
            version: EncryptionVersion::V1,
            nonce: [6; 12],
        };
        for (compress, encrypt) in [
            (false, None),
            (true, None),
            (true, Some(enc)),
            (false, Some(enc)),
        ] {
            let bytes = seal_stream(&msg.encode(), compress, encrypt).unwrap();
            let ring = encrypt.map(|_| &ring);
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode_stream(&bytes[..cut], ring, true),
                    Ok(None),
                    "cut {cut}"
                );
            }
            assert_eq!(decode_stream(&bytes, ring, true), Ok(Some(msg.clone())));
        }
    }

    #[test]
    fn single_messages_and_user_messages_round_trip() {
        let ping = StreamMessage::Ping(Ping {
            seq_no: 4,
            node: "a".into(),
            source: None,
        });
        let user = StreamMessage::User(b"hello".to_vec());
        for msg in [ping, user] {
            let bytes = seal_stream(&msg.encode(), false, None).unwrap();
            assert_eq!(
                decode_stream(&bytes[..bytes.len() - 1], None, true),
                Ok(None)
            );
            assert_eq!(decode_stream(&bytes, None, true), Ok(Some(msg)));
        }
    }

    #[test]
    fn encryption_policy_is_enforced() {
        let key = SecretKey::new(&[5; 16]).unwrap();
        let ring = Keyring::new(key.clone());
        let plain = state(1).encode();
        assert_eq!(
            decode_stream(&plain, Some(&ring), true),
            Err(WireError::NotEncrypted)
        );
        assert_eq!(
            decode_stream(&plain, Some(&ring), false),
            Ok(Some(state(1)))
        );
        let enc = Encrypt {
            key: &key,
            version: EncryptionVersion::V1,
            nonce: [6; 12],
        };
        let sealed = seal_stream(&plain, true, Some(enc)).unwrap();
        assert_eq!(
            decode_stream(&sealed, None, true),
            Err(WireError::EncryptionNotConfigured)
        );
        let mut huge = sealed.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decode_stream(&huge, Some(&ring), true),
            Err(WireError::TooLarge(_))
        ));
    }

    #[test]
    fn truncated_content_inside_a_compressed_frame_is_malformed() {
        let mut plain = state(2).encode();
        plain.truncate(plain.len() - 3);
        let bytes = seal_stream(&plain, true, None).unwrap();
        assert_eq!(decode_stream(&bytes, None, true), Err(WireError::Truncated));
    }

    #[test]
    fn unexpected_types_are_refused() {
        let alive_type = [MessageType::Alive as u8, 0x80];
        assert_eq!(
            decode_stream(&alive_type, None, true),
            Err(WireError::Unexpected(MessageType::Alive))
        );
    }
}
