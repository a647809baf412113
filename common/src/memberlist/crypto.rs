//! AES-GCM exactly as memberlist's `security.go` seals packets and streams, and the key
//! MetalLB derives from its secret.
//!
//! A sealed payload is `version ‖ nonce(12) ‖ ciphertext ‖ tag(16)`. Version 0 (protocol 1
//! only) PKCS#7-pads the plaintext to 16 bytes first; version 1 does not. Datagrams are sealed
//! without additional data; streams authenticate their 5-byte frame header (see `stream`).
//! memberlist v0.1.x–v0.2.x have no "label" prefix (that arrived in v0.5), so none is used.
//! Nonces come from the caller, who draws them from a CSPRNG, so tests stay deterministic.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use sha2::{Digest, Sha256};
use std::fmt;
use thiserror::Error;

type Aes192Gcm = AesGcm<Aes192, aes_gcm::aead::consts::U12>;

/// Bytes of a GCM nonce.
pub const NONCE_SIZE: usize = 12;
const VERSION_SIZE: usize = 1;
const TAG_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// memberlist accepts AES-128, -192 and -256 keys only.
    #[error("key must be 16, 24 or 32 bytes, not {0}")]
    KeyLength(usize),
    /// A payload that is empty or shorter than version, nonce and tag.
    #[error("payload of {0} bytes is too small to decrypt")]
    TooShort(usize),
    /// An encryption version byte other than 0 or 1.
    #[error("unsupported encryption version {0}")]
    UnsupportedVersion(u8),
    /// No key of the keyring authenticates the payload.
    #[error("no installed keys could decrypt the message")]
    NoKeyMatched,
    /// Version 0 plaintext whose PKCS#7 padding is inconsistent.
    #[error("invalid PKCS#7 padding")]
    BadPadding,
    /// The AEAD refused to seal (only for absurdly long inputs).
    #[error("AES-GCM sealing failed")]
    Seal,
}

/// One AES key. `Debug` never prints key material.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Vec<u8>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(AES-{})", self.0.len() * 8)
    }
}

impl SecretKey {
    /// A raw key, as memberlist's `Keyring` accepts it.
    pub fn new(bytes: &[u8]) -> Result<Self, CryptoError> {
        match bytes.len() {
            16 | 24 | 32 => Ok(Self(bytes.to_vec())),
            n => Err(CryptoError::KeyLength(n)),
        }
    }

    /// MetalLB's derivation (docs/memberlist.md#encryption-key), quirk included: Go's
    /// `sha256.New().Sum(secret)` *appends* SHA-256 of the empty input to the secret instead of
    /// hashing it, and the first 16 bytes of that become an AES-128 key. An empty secret means
    /// "no encryption".
    pub fn from_metallb_secret(secret: &str) -> Option<Self> {
        if secret.is_empty() {
            return None;
        }
        let mut material = secret.as_bytes().to_vec();
        material.extend_from_slice(&Sha256::digest(b""));
        material.truncate(16);
        Some(Self(material))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn seal(
        &self,
        nonce: &[u8; NONCE_SIZE],
        msg: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let payload = Payload { msg, aad };
        let sealed = match self.0.len() {
            16 => Aes128Gcm::new_from_slice(&self.0)
                .ok()
                .map(|c| c.encrypt(&(*nonce).into(), payload)),
            24 => Aes192Gcm::new_from_slice(&self.0)
                .ok()
                .map(|c| c.encrypt(&(*nonce).into(), payload)),
            _ => Aes256Gcm::new_from_slice(&self.0)
                .ok()
                .map(|c| c.encrypt(&(*nonce).into(), payload)),
        };
        sealed.and_then(Result::ok).ok_or(CryptoError::Seal)
    }

    fn open(&self, nonce: &[u8; NONCE_SIZE], msg: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let payload = Payload { msg, aad };
        let opened = match self.0.len() {
            16 => Aes128Gcm::new_from_slice(&self.0)
                .ok()
                .map(|c| c.decrypt(&(*nonce).into(), payload)),
            24 => Aes192Gcm::new_from_slice(&self.0)
                .ok()
                .map(|c| c.decrypt(&(*nonce).into(), payload)),
            _ => Aes256Gcm::new_from_slice(&self.0)
                .ok()
                .map(|c| c.decrypt(&(*nonce).into(), payload)),
        };
        opened.and_then(Result::ok)
    }
}

/// The keys a node accepts; the first (primary) one seals. Never empty, by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    primary: SecretKey,
    others: Vec<SecretKey>,
}

impl Keyring {
    /// A keyring holding one key, as MetalLB configures it.
    pub fn new(primary: SecretKey) -> Self {
        Self {
            primary,
            others: Vec::new(),
        }
    }

    /// A keyring that seals with `primary` and also opens with `others` (key rotation).
    pub fn with_secondary(primary: SecretKey, others: Vec<SecretKey>) -> Self {
        Self { primary, others }
    }

    /// The sealing key.
    pub fn primary(&self) -> &SecretKey {
        &self.primary
    }

    fn keys(&self) -> impl Iterator<Item = &SecretKey> {
        std::iter::once(&self.primary).chain(&self.others)
    }
}

/// memberlist's `encryptionVersion`: 0 for protocol version 1, 1 for every later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionVersion {
    /// PKCS#7-padded plaintext (protocol version 1).
    V0Padded,
    /// Unpadded plaintext (protocol version 2 and later).
    V1,
}

impl EncryptionVersion {
    /// The version a node speaking `protocol_version` seals with.
    pub fn for_protocol(protocol_version: u8) -> Self {
        if protocol_version <= 1 {
            Self::V0Padded
        } else {
            Self::V1
        }
    }

    /// Worst-case growth of a payload (memberlist's `encryptOverhead`), for packet budgets.
    pub fn overhead(self) -> usize {
        match self {
            Self::V0Padded => VERSION_SIZE + NONCE_SIZE + BLOCK_SIZE + TAG_SIZE,
            Self::V1 => VERSION_SIZE + NONCE_SIZE + TAG_SIZE,
        }
    }

    /// Exact sealed size of a `plain_len`-byte payload (memberlist's `encryptedLength`).
    pub fn sealed_len(self, plain_len: usize) -> usize {
        let padding = match self {
            Self::V0Padded => BLOCK_SIZE - plain_len % BLOCK_SIZE,
            Self::V1 => 0,
        };
        VERSION_SIZE + NONCE_SIZE + plain_len + padding + TAG_SIZE
    }

    fn byte(self) -> u8 {
        match self {
            Self::V0Padded => 0,
            Self::V1 => 1,
        }
    }
}

/// Seals `msg` as memberlist's `encryptPayload` does, with the caller's random `nonce`.
pub fn seal(
    version: EncryptionVersion,
    key: &SecretKey,
    nonce: &[u8; NONCE_SIZE],
    msg: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(version.sealed_len(msg.len()));
    out.push(version.byte());
    out.extend_from_slice(nonce);
    let sealed = match version {
        EncryptionVersion::V1 => key.seal(nonce, msg, aad)?,
        EncryptionVersion::V0Padded => {
            let pad = BLOCK_SIZE - msg.len() % BLOCK_SIZE;
            let mut padded = Vec::with_capacity(msg.len() + pad);
            padded.extend_from_slice(msg);
            padded.resize(msg.len() + pad, pad as u8);
            key.seal(nonce, &padded, aad)?
        }
    };
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a sealed payload with whichever key of `keyring` authenticates it
/// (memberlist's `decryptPayload`), removing version-0 padding.
pub fn open(keyring: &Keyring, msg: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (&vsn, rest) = msg.split_first().ok_or(CryptoError::TooShort(0))?;
    let version = match vsn {
        0 => EncryptionVersion::V0Padded,
        1 => EncryptionVersion::V1,
        v => return Err(CryptoError::UnsupportedVersion(v)),
    };
    if msg.len() < version.sealed_len(0) {
        return Err(CryptoError::TooShort(msg.len()));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_SIZE);
    let mut n = [0u8; NONCE_SIZE];
    n.copy_from_slice(nonce);
    let plain = keyring
        .keys()
        .find_map(|key| key.open(&n, ciphertext, aad))
        .ok_or(CryptoError::NoKeyMatched)?;
    match version {
        EncryptionVersion::V1 => Ok(plain),
        EncryptionVersion::V0Padded => unpad(plain),
    }
}

/// Strips PKCS#7 padding. Go trusts the last byte blindly (and panics on an empty buffer);
/// since the bytes were authenticated this only matters for buggy peers, which get an error.
fn unpad(mut plain: Vec<u8>) -> Result<Vec<u8>, CryptoError> {
    let pad = usize::from(*plain.last().ok_or(CryptoError::BadPadding)?);
    if pad == 0 || pad > BLOCK_SIZE || pad > plain.len() {
        return Err(CryptoError::BadPadding);
    }
    plain.truncate(plain.len() - pad);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::new(&[7; 16]).unwrap()
    }

    #[test]
    fn metallb_secret_appends_the_empty_digest() {
        let k = SecretKey::from_metallb_secret("abc").unwrap();
        let mut expected = b"abc".to_vec();
        expected.extend_from_slice(&[
            0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99,
        ]);
        assert_eq!(k.as_bytes(), expected);
        let long = SecretKey::from_metallb_secret("0123456789abcdefXYZ").unwrap();
        assert_eq!(long.as_bytes(), b"0123456789abcdef");
        assert_eq!(SecretKey::from_metallb_secret(""), None);
    }

    #[test]
    fn key_lengths_are_checked() {
        assert_eq!(SecretKey::new(&[0; 15]), Err(CryptoError::KeyLength(15)));
        for len in [16, 24, 32] {
            let k = SecretKey::new(&vec![1; len]).unwrap();
            let sealed = seal(EncryptionVersion::V1, &k, &[3; 12], b"hi", b"").unwrap();
            assert_eq!(open(&Keyring::new(k), &sealed, b""), Ok(b"hi".to_vec()));
        }
    }

    #[test]
    fn both_versions_round_trip_and_have_the_documented_length() {
        for version in [EncryptionVersion::V0Padded, EncryptionVersion::V1] {
            for len in [0, 1, 15, 16, 17, 100] {
                let msg = vec![0x5a; len];
                let sealed = seal(version, &key(), &[9; 12], &msg, b"hdr").unwrap();
                assert_eq!(sealed.len(), version.sealed_len(len));
                assert!(sealed.len() <= len + version.overhead());
                assert_eq!(open(&Keyring::new(key()), &sealed, b"hdr"), Ok(msg));
            }
        }
    }

    #[test]
    fn wrong_key_wrong_aad_or_tampering_fail() {
        let sealed = seal(EncryptionVersion::V1, &key(), &[1; 12], b"payload", b"a").unwrap();
        let other = Keyring::new(SecretKey::new(&[8; 16]).unwrap());
        assert_eq!(open(&other, &sealed, b"a"), Err(CryptoError::NoKeyMatched));
        assert_eq!(
            open(&Keyring::new(key()), &sealed, b"b"),
            Err(CryptoError::NoKeyMatched)
        );
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            open(&Keyring::new(key()), &flipped, b"a"),
            Err(CryptoError::NoKeyMatched)
        );
        let rotated = Keyring::with_secondary(SecretKey::new(&[8; 16]).unwrap(), vec![key()]);
        assert_eq!(open(&rotated, &sealed, b"a"), Ok(b"payload".to_vec()));
    }

    #[test]
    fn malformed_envelopes_are_errors() {
        let ring = Keyring::new(key());
        assert_eq!(open(&ring, &[], b""), Err(CryptoError::TooShort(0)));
        assert_eq!(
            open(&ring, &[2; 40], b""),
            Err(CryptoError::UnsupportedVersion(2))
        );
        assert_eq!(open(&ring, &[1; 28], b""), Err(CryptoError::TooShort(28)));
        assert_eq!(open(&ring, &[0; 44], b""), Err(CryptoError::TooShort(44)));
    }

    #[test]
    fn bad_v0_padding_is_an_error() {
        // A V1-sealed 16-byte message ending in 0x20 opened as if it were V0.
        let mut msg = vec![0u8; 16];
        msg[15] = 0x20;
        let mut sealed = seal(EncryptionVersion::V1, &key(), &[4; 12], &msg, b"").unwrap();
        sealed[0] = 0;
        assert_eq!(
            open(&Keyring::new(key()), &sealed, b""),
            Err(CryptoError::BadPadding)
        );
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", key()), "SecretKey(AES-128)");
    }
}
