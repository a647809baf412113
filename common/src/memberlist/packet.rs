//! Datagram framing: the compound, compress, CRC and encryption layers around messages.
//!
//! Outbound order is memberlist's `rawSendMsgPacket`: compress (only if it shrinks the
//! payload), prefix a CRC32 (only for peers understanding protocol 5), then encrypt. Inbound
//! peels the layers back in `ingestPacket`/`handleCommand` order: decrypt, check the CRC, then
//! unwrap compound and compress messages recursively.

use super::compress::{compress, decompress};
use super::crypto::{self, EncryptionVersion, Keyring, NONCE_SIZE, SecretKey};
use super::msgpack::{Reader, Writer};
use super::wire::{Message, MessageType, WireError};

/// Bytes a compound message adds once (type byte and part count).
pub const COMPOUND_HEADER_OVERHEAD: usize = 2;
/// Bytes a compound message adds per part (its big-endian length).
pub const COMPOUND_OVERHEAD: usize = 2;
/// Parts one compound message can hold (the count is one byte).
pub const MAX_COMPOUND_PARTS: usize = 255;
/// Largest payload a compressed datagram may expand to: far above any real datagram, far
/// below what would hurt, since Go sets no bound at all.
const MAX_DECOMPRESSED_PACKET: usize = 1 << 20;
/// Compound-in-compress-in-compound… nesting bound. memberlist nests at most twice
/// (a compressed compound); the bound keeps hostile input off the stack.
const MAX_NESTING: usize = 4;
/// LZW is memberlist's only compression algorithm (`lzwAlgo`).
const LZW_ALGO: u64 = 0;

/// How an outbound payload is sealed.
#[derive(Debug, Clone, Copy)]
pub struct Encrypt<'a> {
    /// The keyring's primary key.
    pub key: &'a SecretKey,
    /// Version byte (and padding rule) to use.
    pub version: EncryptionVersion,
    /// Fresh random nonce.
    pub nonce: [u8; NONCE_SIZE],
}

/// Joins messages into one `compoundMsg` (memberlist's `makeCompoundMessage`).
pub fn compound<P: AsRef<[u8]>>(parts: &[P]) -> Result<Vec<u8>, WireError> {
    let count = u8::try_from(parts.len()).map_err(|_| WireError::TooLarge(parts.len()))?;
    let total: usize = parts
        .iter()
        .map(|p| p.as_ref().len() + COMPOUND_OVERHEAD)
        .sum();
    let mut out = Vec::with_capacity(COMPOUND_HEADER_OVERHEAD + total);
    out.push(MessageType::Compound as u8);
    out.push(count);
    for p in parts {
        let len =
            u16::try_from(p.as_ref().len()).map_err(|_| WireError::TooLarge(p.as_ref().len()))?;
        out.extend_from_slice(&len.to_be_bytes());
    }
    for p in parts {
        out.extend_from_slice(p.as_ref());
    }
    Ok(out)
}

/// Splits a compound body (after the type byte) into its parts. Parts that the datagram
/// cuts off are counted, not returned — Go processes the complete ones and logs the rest.
pub fn split_compound(body: &[u8]) -> Result<(Vec<&[u8]>, usize), WireError> {
    let (&count, rest) = body.split_first().ok_or(WireError::CompoundTruncated)?;
    let count = usize::from(count);
    let (lengths, mut payload) = rest
        .split_at_checked(count * 2)
        .ok_or(WireError::CompoundTruncated)?;
    let mut parts = Vec::with_capacity(count);
    for (idx, len) in lengths.chunks_exact(2).enumerate() {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        match payload.split_at_checked(len) {
            Some((part, tail)) => {
                parts.push(part);
                payload = tail;
            }
            None => return Ok((parts, count - idx)),
        }
    }
    Ok((parts, 0))
}

/// Wraps `msg` in a `compressMsg` (`compressPayload`): `{Algo: 0, Buf: lzw(msg)}`.
pub fn compress_message(msg: &[u8]) -> Vec<u8> {
    let lzw = compress(msg);
    let mut out = Vec::with_capacity(lzw.len() + 16);
    out.push(MessageType::Compress as u8);
    let w = &mut Writer::new(&mut out);
    w.map_len(2);
    w.key("Algo");
    w.uint(LZW_ALGO);
    w.key("Buf");
    w.raw(&lzw);
    out
}

/// Decodes a `compress` body (after the type byte) and inflates it, up to `limit` bytes.
/// Returns the inflated message and how many body bytes the wrapper used.
pub(crate) fn decompress_body(body: &[u8], limit: usize) -> Result<(Vec<u8>, usize), WireError> {
    let r = &mut Reader::new(body);
    let (mut algo, mut buf) = (LZW_ALGO, &[][..]);
    r.fields(|k, r| {
        match k {
            b"Algo" => algo = r.uint("Algo")?,
            b"Buf" => buf = r.raw()?,
            _ => return Ok::<_, WireError>(false),
        }
        Ok(true)
    })?;
    if algo != LZW_ALGO {
        return Err(WireError::CompressionAlgorithm(algo));
    }
    Ok((decompress(buf, limit)?, r.position()))
}

/// Prefixes `hasCrcMsg` and the big-endian IEEE CRC32 of `msg`.
pub fn with_crc(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 5);
    out.push(MessageType::HasCrc as u8);
    out.extend_from_slice(&crc32fast::hash(msg).to_be_bytes());
    out.extend_from_slice(msg);
    out
}

/// Seals one outbound datagram payload (`rawSendMsgPacket`).
pub fn seal_packet(
    msg: &[u8],
    compress: bool,
    crc: bool,
    encrypt: Option<Encrypt<'_>>,
) -> Result<Vec<u8>, WireError> {
    let mut out = msg.to_vec();
    if compress {
        let c = compress_message(&out);
        if c.len() < out.len() {
            out = c;
        }
    }
    if crc {
        out = with_crc(&out);
    }
    if let Some(e) = encrypt {
        out = crypto::seal(e.version, e.key, &e.nonce, &out, &[])?;
    }
    Ok(out)
}

/// Decrypts (when a keyring is set) and checks the CRC of one inbound datagram
/// (`ingestPacket`). With `verify_incoming` off, undecryptable datagrams are taken as
/// plaintext, which lets a cluster turn encryption on gradually.
pub fn open_packet(
    buf: &[u8],
    keyring: Option<&Keyring>,
    verify_incoming: bool,
) -> Result<Vec<u8>, WireError> {
    let plain = match keyring {
        Some(ring) => match crypto::open(ring, buf, &[]) {
            Ok(plain) => plain,
            Err(_) if !verify_incoming => buf.to_vec(),
            Err(e) => return Err(e.into()),
        },
        None => buf.to_vec(),
    };
    match plain.split_first() {
        Some((&t, rest)) if t == MessageType::HasCrc as u8 && rest.len() >= 4 => {
            let (crc, payload) = rest.split_at(4);
            let expected = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
            let actual = crc32fast::hash(payload);
            if expected != actual {
                return Err(WireError::Checksum { expected, actual });
            }
            Ok(payload.to_vec())
        }
        _ => Ok(plain),
    }
}

/// Every message inside an opened datagram, unwrapping compound and compress layers. Each
/// part succeeds or fails on its own, as Go handles compound parts independently.
pub fn decode_messages(buf: &[u8]) -> Vec<Result<Message, WireError>> {
    let mut out = Vec::new();
    unwrap_into(buf, 0, &mut out);
    out
}

fn unwrap_into(buf: &[u8], depth: usize, out: &mut Vec<Result<Message, WireError>>) {
    if depth > MAX_NESTING {
        out.push(Err(WireError::TooDeep));
        return;
    }
    match buf.split_first() {
        Some((&t, body)) if t == MessageType::Compound as u8 => match split_compound(body) {
            Ok((parts, truncated)) => {
                for part in parts {
                    unwrap_into(part, depth + 1, out);
                }
                if truncated > 0 {
                    out.push(Err(WireError::CompoundTruncated));
                }
            }
            Err(e) => out.push(Err(e)),
        },
        Some((&t, body)) if t == MessageType::Compress as u8 => {
            match decompress_body(body, MAX_DECOMPRESSED_PACKET) {
                Ok((plain, _)) => unwrap_into(&plain, depth + 1, out),
                Err(e) => out.push(Err(e)),
            }
        }
        _ => out.push(Message::decode(buf)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memberlist::wire::{Nack, Suspect};

    fn nack(seq_no: u32) -> Vec<u8> {
        Message::Nack(Nack { seq_no }).encode()
    }

    #[test]
    fn compound_round_trip_and_truncation() {
        let parts = [nack(1), nack(2), nack(3)];
        let c = compound(&parts).unwrap();
        assert_eq!(c[..8], [7, 3, 0, 9, 0, 9, 0, 9]);
        let (got, truncated) = split_compound(&c[1..]).unwrap();
        assert_eq!((got.len(), truncated), (3, 0));
        assert_eq!(got[2], parts[2].as_slice());

        let (got, truncated) = split_compound(&c[1..c.len() - 1]).unwrap();
        assert_eq!((got.len(), truncated), (2, 1));
        assert_eq!(split_compound(&[3, 0]), Err(WireError::CompoundTruncated));
        assert_eq!(split_compound(&[]), Err(WireError::CompoundTruncated));
        let too_many: Vec<Vec<u8>> = (0..256).map(nack).collect();
        assert_eq!(compound(&too_many), Err(WireError::TooLarge(256)));
    }

    #[test]
    fn crc_is_checked() {
        let framed = with_crc(&nack(5));
        assert_eq!(open_packet(&framed, None, true), Ok(nack(5)));
        let mut bad = framed.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 0xff;
        }
        assert!(matches!(
            open_packet(&bad, None, true),
            Err(WireError::Checksum { .. })
        ));
    }

    #[test]
    fn compression_is_used_only_when_it_helps() {
        let small = nack(1);
        assert_eq!(seal_packet(&small, true, false, None), Ok(small.clone()));
        let suspect = Message::Suspect(Suspect {
            incarnation: 1,
            node: "n".repeat(200),
            from: "n".repeat(200),
        })
        .encode();
        let sealed = seal_packet(&suspect, true, false, None).unwrap();
        assert_eq!(sealed[0], MessageType::Compress as u8);
        assert!(sealed.len() < suspect.len());
        let decoded = decode_messages(&open_packet(&sealed, None, true).unwrap());
        assert_eq!(decoded, vec![Message::decode(&suspect)]);
    }

    #[test]
    fn encrypted_packets_open_and_verify_incoming_rules() {
        let key = SecretKey::new(&[1; 16]).unwrap();
        let ring = Keyring::new(key.clone());
        let enc = Encrypt {
            key: &key,
            version: EncryptionVersion::V1,
            nonce: [2; 12],
        };
        let sealed = seal_packet(&nack(9), false, true, Some(enc)).unwrap();
        assert_eq!(open_packet(&sealed, Some(&ring), true), Ok(nack(9)));
        // Plaintext is refused when verifying, accepted when not.
        assert!(matches!(
            open_packet(&nack(9), Some(&ring), true),
            Err(WireError::Crypto(_))
        ));
        assert_eq!(open_packet(&nack(9), Some(&ring), false), Ok(nack(9)));
    }

    #[test]
    fn nesting_and_garbage_are_errors_not_panics() {
        let mut nested = nack(1);
        for _ in 0..10 {
            nested = compound(&[nested]).unwrap();
        }
        assert_eq!(decode_messages(&nested), vec![Err(WireError::TooDeep)]);
        assert_eq!(decode_messages(&[]), vec![Err(WireError::Empty)]);
        assert_eq!(decode_messages(&[7, 1, 0, 0]), vec![Err(WireError::Empty)]);
        assert_eq!(
            decode_messages(&[200]),
            vec![Err(WireError::UnknownType(200))]
        );
        let bad_algo = [
            9, 0x82, 0xa4, b'A', b'l', b'g', b'o', 1, 0xa3, b'B', b'u', b'f', 0xa0,
        ];
        assert_eq!(
            decode_messages(&bad_algo),
            vec![Err(WireError::CompressionAlgorithm(1))]
        );
    }
}
