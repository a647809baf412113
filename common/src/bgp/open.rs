//! OPEN messages (RFC 4271 §4.2) with capabilities (RFC 5492, 4760, 6793).

use std::net::Ipv4Addr;

use thiserror::Error;

use super::notification::{Notification, code};
use super::types::{Asn, HoldTime};
use super::wire::{Reader, with_u8_len};

/// The only optional parameter type defined today (RFC 5492); others are refused.
const PARAM_CAPABILITIES: u8 = 2;
const CAP_MULTIPROTOCOL: u8 = 1;
const CAP_FOUR_OCTET_AS: u8 = 65;
/// The only BGP version there is.
const VERSION: u8 = 4;

/// An address family / subsequent address family pair (RFC 4760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressFamily {
    pub afi: u16,
    pub safi: u8,
}

impl AddressFamily {
    pub const IPV4_UNICAST: Self = Self { afi: 1, safi: 1 };
    pub const IPV6_UNICAST: Self = Self { afi: 2, safi: 1 };
}

/// One capability of an OPEN. Capabilities this speaker has no use for (route refresh,
/// graceful restart, add-path, …) are kept as raw bytes: they must be tolerated, not
/// understood, and keeping them makes decoding lossless.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Code 1: the sender can carry routes of this family.
    Multiprotocol(AddressFamily),
    /// Code 65: the sender's real ASN, and that it reads 4-octet AS_PATHs.
    FourOctetAs(Asn),
    /// Any other code, value verbatim.
    Other { code: u8, value: Vec<u8> },
}

/// An OPEN message. All capabilities are written in one Capabilities parameter (what
/// upstream and most routers do); decoding flattens several parameters into one list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Open {
    /// The 2-octet field: the ASN, or AS_TRANS for a 4-octet ASN.
    pub my_as: u16,
    pub hold_time: HoldTime,
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

/// A refused OPEN, with the NOTIFICATION it calls for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpenError {
    #[error("unsupported BGP version {0}")]
    UnsupportedVersion(u8),
    #[error("unacceptable hold time {0}s")]
    UnacceptableHoldTime(u16),
    #[error("invalid BGP identifier 0.0.0.0")]
    BadBgpIdentifier,
    #[error("unknown BGP option type {0}")]
    UnsupportedOptionalParameter(u8),
    #[error("malformed OPEN: {0}")]
    Malformed(&'static str),
    #[error("unexpected peer ASN {got}, want {want}")]
    UnexpectedPeerAsn { got: Asn, want: Asn },
    #[error("peer does not support 4-byte ASNs")]
    PeerLacksFourOctetAs { local: Asn },
}

impl OpenError {
    /// The NOTIFICATION RFC 4271 §6.2 (and RFC 5492 §3 for a missing capability) asks for.
    pub fn notification(&self) -> Notification {
        let open = code::OPEN_MESSAGE;
        match self {
            // Data: the largest version we support.
            Self::UnsupportedVersion(_) => Notification::new(open, 1, [0, VERSION]),
            Self::UnexpectedPeerAsn { .. } => Notification::new(open, 2, []),
            Self::BadBgpIdentifier => Notification::new(open, 3, []),
            Self::UnsupportedOptionalParameter(_) => Notification::new(open, 4, []),
            Self::UnacceptableHoldTime(_) => Notification::new(open, 6, []),
            // Data: the capability the peer lacks, as we would have sent it.
            Self::PeerLacksFourOctetAs { local } => {
                let mut data = Vec::new();
                encode_capability(&Capability::FourOctetAs(*local), &mut data);
                Notification::new(open, 7, data)
            }
            Self::Malformed(_) => Notification::new(open, 0, []),
        }
    }
}

impl Open {
    /// The OPEN this speaker sends: MP IPv4 unicast, MP IPv6 unicast and 4-octet AS, in one
    /// parameter, exactly as upstream (49 bytes on the wire).
    pub fn ours(asn: Asn, hold_time: HoldTime, router_id: Ipv4Addr) -> Self {
        Self {
            my_as: asn.as_open_field(),
            hold_time,
            bgp_id: router_id,
            capabilities: vec![
                Capability::Multiprotocol(AddressFamily::IPV4_UNICAST),
                Capability::Multiprotocol(AddressFamily::IPV6_UNICAST),
                Capability::FourOctetAs(asn),
            ],
        }
    }

    /// The sender's ASN: the 4-octet capability wins over the 2-octet field (RFC 6793).
    pub fn asn(&self) -> Asn {
        self.four_octet_asn().unwrap_or(Asn(self.my_as.into()))
    }

    /// Whether the sender announced the 4-octet AS capability.
    pub fn four_octet_as(&self) -> bool {
        self.four_octet_asn().is_some()
    }

    fn four_octet_asn(&self) -> Option<Asn> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::FourOctetAs(asn) => Some(*asn),
            _ => None,
        })
    }

    /// Whether the sender can receive `family`. Without any multiprotocol capability only
    /// IPv4 unicast is implied (RFC 4760 §1).
    pub fn supports(&self, family: AddressFamily) -> bool {
        let mut announced = self.capabilities.iter().filter_map(|c| match c {
            Capability::Multiprotocol(af) => Some(*af),
            _ => None,
        });
        match announced.next() {
            None => family == AddressFamily::IPV4_UNICAST,
            Some(first) => first == family || announced.any(|af| af == family),
        }
    }

    /// Checks a received OPEN against the peer configuration: the exact peer ASN, and the
    /// 4-octet capability whenever our own ASN does not fit in 16 bits.
    pub fn check_peer(&self, local: Asn, want: Asn) -> Result<(), OpenError> {
        let got = self.asn();
        if got != want {
            return Err(OpenError::UnexpectedPeerAsn { got, want });
        }
        if local.is_four_octet() && !self.four_octet_as() {
            return Err(OpenError::PeerLacksFourOctetAs { local });
        }
        Ok(())
    }

    /// Appends the OPEN body (after the header). Fails only if the capabilities do not fit
    /// in the 255-byte optional parameter area.
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Option<()> {
        out.push(VERSION);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.secs().to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        let mut ok = Some(());
        with_u8_len(out, |out| {
            if self.capabilities.is_empty() {
                return;
            }
            out.push(PARAM_CAPABILITIES);
            ok = with_u8_len(out, |out| {
                for cap in &self.capabilities {
                    encode_capability(cap, out);
                }
            });
        })?;
        ok
    }

    pub(crate) fn decode_body(body: &[u8]) -> Result<Self, OpenError> {
        let short = OpenError::Malformed("truncated fixed fields");
        let mut r = Reader::new(body);
        let version = r.u8().ok_or(short.clone())?;
        if version != VERSION {
            return Err(OpenError::UnsupportedVersion(version));
        }
        let my_as = r.u16().ok_or(short.clone())?;
        let hold = r.u16().ok_or(short.clone())?;
        let hold_time = HoldTime::new(hold).map_err(|_| OpenError::UnacceptableHoldTime(hold))?;
        let bgp_id = Ipv4Addr::from(r.u32().ok_or(short.clone())?);
        if bgp_id.is_unspecified() {
            return Err(OpenError::BadBgpIdentifier);
        }
        let params_len = r.u8().ok_or(short)?;
        if r.remaining() != usize::from(params_len) {
            return Err(OpenError::Malformed(
                "optional parameters length disagrees with message length",
            ));
        }
        let mut capabilities = Vec::new();
        while !r.is_empty() {
            let (Some(kind), Some(len)) = (r.u8(), r.u8()) else {
                return Err(OpenError::Malformed("truncated optional parameter"));
            };
            let value = r
                .take(len.into())
                .ok_or(OpenError::Malformed("optional parameter overruns"))?;
            if kind != PARAM_CAPABILITIES {
                return Err(OpenError::UnsupportedOptionalParameter(kind));
            }
            decode_capabilities(value, &mut capabilities)?;
        }
        Ok(Self {
            my_as,
            hold_time,
            bgp_id,
            capabilities,
        })
    }
}

fn encode_capability(cap: &Capability, out: &mut Vec<u8>) {
    match cap {
        Capability::Multiprotocol(af) => {
            out.extend_from_slice(&[CAP_MULTIPROTOCOL, 4]);
            out.extend_from_slice(&af.afi.to_be_bytes());
            out.extend_from_slice(&[0, af.safi]);
        }
        Capability::FourOctetAs(asn) => {
            out.extend_from_slice(&[CAP_FOUR_OCTET_AS, 4]);
            out.extend_from_slice(&asn.0.to_be_bytes());
        }
        Capability::Other { code, value } => {
            out.push(*code);
            // An oversized value makes the enclosing parameter overflow, which the
            // parameter's own length check reports; truncating here would hide it.
            out.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(value);
        }
    }
}

fn decode_capabilities(bytes: &[u8], out: &mut Vec<Capability>) -> Result<(), OpenError> {
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        let (Some(code), Some(len)) = (r.u8(), r.u8()) else {
            return Err(OpenError::Malformed("truncated capability"));
        };
        let value = r
            .take(len.into())
            .ok_or(OpenError::Malformed("capability overruns its parameter"))?;
        out.push(match code {
            CAP_MULTIPROTOCOL => {
                let [a, b, _reserved, safi] = value
                    .try_into()
                    .map_err(|_| OpenError::Malformed("multiprotocol capability length"))?;
                Capability::Multiprotocol(AddressFamily {
                    afi: u16::from_be_bytes([a, b]),
                    safi,
                })
            }
            CAP_FOUR_OCTET_AS => {
                let asn = value
                    .try_into()
                    .map_err(|_| OpenError::Malformed("4-octet AS capability length"))?;
                Capability::FourOctetAs(Asn(u32::from_be_bytes(asn)))
            }
            code => Capability::Other {
                code,
                value: value.to_vec(),
            },
        });
    }
    Ok(())
}
