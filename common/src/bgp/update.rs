//! UPDATE messages (RFC 4271 §4.3) with the attributes MetalLB sends, communities
//! (RFC 1997) and IPv6 unicast through MP_REACH/MP_UNREACH (RFC 4760, RFC 2545 next hops).
//!
//! Attributes nobody here interprets are kept raw, so decoding is lossless and a router's
//! exotic attributes never become an error.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use thiserror::Error;

use super::notification::{Notification, code};
use super::open::AddressFamily;
use super::types::{Asn, Community};
use super::wire::{Reader, with_u16_len};

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes.
pub mod attr_type {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const LOCAL_PREF: u8 = 5;
    pub const COMMUNITIES: u8 = 8;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
}

/// Width of AS numbers inside AS_PATH: 4 octets once both sides announced the capability
/// (RFC 6793), 2 otherwise. The same bytes mean different paths under the two, so every
/// UPDATE encode and decode needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsWidth {
    Two,
    Four,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    /// What MetalLB always sends: the route was redistributed, not learned.
    Incomplete = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

/// One AS_PATH segment; 1 to 255 ASNs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: SegmentKind,
    pub asns: Vec<Asn>,
}

/// An IPv6 next hop (RFC 2545): global, optionally followed by the link-local address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6NextHop {
    pub global: Ipv6Addr,
    pub link_local: Option<Ipv6Addr>,
}

impl Ipv6NextHop {
    pub(crate) fn encoded_len(&self) -> usize {
        if self.link_local.is_some() { 32 } else { 16 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathAttribute {
    Origin(Origin),
    AsPath(Vec<AsSegment>),
    NextHop(Ipv4Addr),
    LocalPref(u32),
    /// In wire order; [`super::RouteAttrs`] sorts them before they get here.
    Communities(Vec<Community>),
    /// IPv6 unicast reachability.
    MpReach {
        next_hop: Ipv6NextHop,
        nlri: Vec<Ipv6Net>,
    },
    /// IPv6 unicast withdrawals.
    MpUnreach {
        withdrawn: Vec<Ipv6Net>,
    },
    /// Anything else, including MP attributes of other families; flags without the
    /// extended-length bit, which the encoder sets from the value's length.
    Other {
        flags: u8,
        kind: u8,
        value: Vec<u8>,
    },
}

/// An UPDATE message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Update {
    pub withdrawn: Vec<Ipv4Net>,
    pub attributes: Vec<PathAttribute>,
    pub nlri: Vec<Ipv4Net>,
}

/// A refused UPDATE with the RFC 4271 §6.3 NOTIFICATION; `data` is what the RFC wants in
/// the diagnostic field (usually the offending attribute).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed UPDATE: {what}")]
pub struct UpdateError {
    pub subcode: u8,
    pub what: &'static str,
    pub data: Vec<u8>,
}

impl UpdateError {
    fn new(subcode: u8, what: &'static str) -> Self {
        Self {
            subcode,
            what,
            data: Vec::new(),
        }
    }

    fn with_data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }

    pub fn notification(&self) -> Notification {
        Notification::new(code::UPDATE_MESSAGE, self.subcode, self.data.clone())
    }
}

const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
const MISSING_WELL_KNOWN: u8 = 3;
const FLAGS_ERROR: u8 = 4;
const LENGTH_ERROR: u8 = 5;
const INVALID_ORIGIN: u8 = 6;
const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
const INVALID_NETWORK_FIELD: u8 = 10;
const MALFORMED_AS_PATH: u8 = 11;

impl PathAttribute {
    pub fn kind(&self) -> u8 {
        match self {
            Self::Origin(_) => attr_type::ORIGIN,
            Self::AsPath(_) => attr_type::AS_PATH,
            Self::NextHop(_) => attr_type::NEXT_HOP,
            Self::LocalPref(_) => attr_type::LOCAL_PREF,
            Self::Communities(_) => attr_type::COMMUNITIES,
            Self::MpReach { .. } => attr_type::MP_REACH_NLRI,
            Self::MpUnreach { .. } => attr_type::MP_UNREACH_NLRI,
            Self::Other { kind, .. } => *kind,
        }
    }

    /// Flags without the extended-length bit.
    fn flags(&self) -> u8 {
        match self {
            Self::Origin(_) | Self::AsPath(_) | Self::NextHop(_) | Self::LocalPref(_) => {
                flags::TRANSITIVE
            }
            Self::Communities(_) => flags::OPTIONAL | flags::TRANSITIVE,
            Self::MpReach { .. } | Self::MpUnreach { .. } => flags::OPTIONAL,
            Self::Other { flags: f, .. } => f & !flags::EXTENDED_LENGTH,
        }
    }

    fn encode_value(&self, width: AsWidth, out: &mut Vec<u8>) {
        match self {
            Self::Origin(origin) => out.push(*origin as u8),
            Self::AsPath(segments) => {
                for seg in segments {
                    out.push(seg.kind as u8);
                    out.push(u8::try_from(seg.asns.len()).unwrap_or(u8::MAX));
                    for asn in &seg.asns {
                        match width {
                            AsWidth::Four => out.extend_from_slice(&asn.0.to_be_bytes()),
                            // Without the 4-octet capability a large ASN can only be
                            // AS_TRANS (RFC 6793 §4.2.2); the session refuses such peers
                            // for our own ASN, so this never reaches a router.
                            AsWidth::Two => {
                                out.extend_from_slice(&asn.as_open_field().to_be_bytes())
                            }
                        }
                    }
                }
            }
            Self::NextHop(ip) => out.extend_from_slice(&ip.octets()),
            Self::LocalPref(v) => out.extend_from_slice(&v.to_be_bytes()),
            Self::Communities(cs) => cs
                .iter()
                .for_each(|c| out.extend_from_slice(&c.0.to_be_bytes())),
            Self::MpReach { next_hop, nlri } => {
                encode_family(AddressFamily::IPV6_UNICAST, out);
                out.push(u8::try_from(next_hop.encoded_len()).unwrap_or(u8::MAX));
                out.extend_from_slice(&next_hop.global.octets());
                if let Some(ll) = next_hop.link_local {
                    out.extend_from_slice(&ll.octets());
                }
                out.push(0); // reserved (former SNPA count)
                nlri.iter()
                    .for_each(|n| encode_prefix(n.prefix_len(), &n.addr().octets(), out));
            }
            Self::MpUnreach { withdrawn } => {
                encode_family(AddressFamily::IPV6_UNICAST, out);
                withdrawn
                    .iter()
                    .for_each(|n| encode_prefix(n.prefix_len(), &n.addr().octets(), out));
            }
            Self::Other { value, .. } => out.extend_from_slice(value),
        }
    }

    /// Appends flags, type, length and value; the extended-length form only when needed.
    /// `None` if the value exceeds 65535 bytes or an AS_PATH segment holds 0 or more than
    /// 255 ASNs.
    pub(crate) fn encode(&self, width: AsWidth, out: &mut Vec<u8>) -> Option<()> {
        if let Self::AsPath(segments) = self
            && segments
                .iter()
                .any(|s| s.asns.is_empty() || s.asns.len() > 255)
        {
            return None;
        }
        let mut value = Vec::new();
        self.encode_value(width, &mut value);
        if let Ok(len) = u8::try_from(value.len()) {
            out.extend_from_slice(&[self.flags(), self.kind(), len]);
        } else {
            let len = u16::try_from(value.len()).ok()?;
            out.extend_from_slice(&[self.flags() | flags::EXTENDED_LENGTH, self.kind()]);
            out.extend_from_slice(&len.to_be_bytes());
        }
        out.extend_from_slice(&value);
        Some(())
    }
}

impl Update {
    pub(crate) fn encode_body(&self, width: AsWidth, out: &mut Vec<u8>) -> Option<()> {
        with_u16_len(out, |out| {
            for n in &self.withdrawn {
                encode_prefix(n.prefix_len(), &n.addr().octets(), out);
            }
        })?;
        let mut ok = Some(());
        with_u16_len(out, |out| {
            for attr in &self.attributes {
                ok = ok.and(attr.encode(width, out));
            }
        })?;
        ok?;
        for n in &self.nlri {
            encode_prefix(n.prefix_len(), &n.addr().octets(), out);
        }
        Some(())
    }

    pub(crate) fn decode_body(body: &[u8], width: AsWidth) -> Result<Self, UpdateError> {
        let list = || UpdateError::new(MALFORMED_ATTRIBUTE_LIST, "field lengths overrun");
        let mut r = Reader::new(body);
        let withdrawn_len = r.u16().ok_or_else(list)?;
        let withdrawn = decode_v4_prefixes(r.take(withdrawn_len.into()).ok_or_else(list)?)?;
        let attrs_len = r.u16().ok_or_else(list)?;
        let attributes = decode_attributes(r.take(attrs_len.into()).ok_or_else(list)?, width)?;
        let nlri = decode_v4_prefixes(r.rest())?;
        if !nlri.is_empty() {
            for kind in [attr_type::ORIGIN, attr_type::AS_PATH, attr_type::NEXT_HOP] {
                if !attributes.iter().any(|a| a.kind() == kind) {
                    return Err(UpdateError::new(
                        MISSING_WELL_KNOWN,
                        "missing well-known attribute",
                    )
                    .with_data(&[kind]));
                }
            }
        }
        Ok(Self {
            withdrawn,
            attributes,
            nlri,
        })
    }
}

fn encode_family(af: AddressFamily, out: &mut Vec<u8>) {
    out.extend_from_slice(&af.afi.to_be_bytes());
    out.push(af.safi);
}

/// NLRI encoding (RFC 4271 §4.3): length in bits, then only the significant octets.
pub(crate) fn encode_prefix(len: u8, octets: &[u8], out: &mut Vec<u8>) {
    out.push(len);
    out.extend(octets.iter().take(prefix_octets(len)));
}

pub(crate) fn prefix_octets(len: u8) -> usize {
    usize::from(len).div_ceil(8)
}

fn decode_prefix<const N: usize>(r: &mut Reader<'_>) -> Result<(u8, [u8; N]), UpdateError> {
    let invalid = || UpdateError::new(INVALID_NETWORK_FIELD, "invalid prefix");
    let len = r.u8().ok_or_else(invalid)?;
    if usize::from(len) > N * 8 {
        return Err(invalid());
    }
    let mut octets = [0; N];
    let significant = r.take(prefix_octets(len)).ok_or_else(invalid)?;
    octets
        .get_mut(..significant.len())
        .ok_or_else(invalid)?
        .copy_from_slice(significant);
    Ok((len, octets))
}

fn decode_v4_prefixes(bytes: &[u8]) -> Result<Vec<Ipv4Net>, UpdateError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let (len, octets) = decode_prefix::<4>(&mut r)?;
        let net = Ipv4Net::new(octets.into(), len)
            .map_err(|_| UpdateError::new(INVALID_NETWORK_FIELD, "invalid prefix"))?;
        out.push(net.trunc());
    }
    Ok(out)
}

fn decode_v6_prefixes(bytes: &[u8]) -> Result<Vec<Ipv6Net>, UpdateError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let (len, octets) = decode_prefix::<16>(&mut r)?;
        let net = Ipv6Net::new(octets.into(), len)
            .map_err(|_| UpdateError::new(OPTIONAL_ATTRIBUTE_ERROR, "invalid IPv6 prefix"))?;
        out.push(net.trunc());
    }
    Ok(out)
}

fn decode_attributes(bytes: &[u8], width: AsWidth) -> Result<Vec<PathAttribute>, UpdateError> {
    let list = || UpdateError::new(MALFORMED_ATTRIBUTE_LIST, "attribute overruns the list");
    let mut r = Reader::new(bytes);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while !r.is_empty() {
        let start = r.clone();
        let flags_byte = r.u8().ok_or_else(list)?;
        let kind = r.u8().ok_or_else(list)?;
        let len = if flags_byte & flags::EXTENDED_LENGTH != 0 {
            r.u16().ok_or_else(list)?
        } else {
            r.u8().ok_or_else(list)?.into()
        };
        let value = r.take(len.into()).ok_or_else(list)?;
        // The whole attribute, for the NOTIFICATION's data field.
        let raw = start
            .clone()
            .take(start.remaining() - r.remaining())
            .unwrap_or_default();
        if !seen.insert(kind) {
            return Err(UpdateError::new(
                MALFORMED_ATTRIBUTE_LIST,
                "duplicate attribute",
            ));
        }
        out.push(
            decode_attribute(flags_byte, kind, value, width).map_err(|e| {
                if e.data.is_empty() && e.subcode != MALFORMED_AS_PATH {
                    e.with_data(raw)
                } else {
                    e
                }
            })?,
        );
    }
    Ok(out)
}

fn decode_attribute(
    flags_byte: u8,
    kind: u8,
    value: &[u8],
    width: AsWidth,
) -> Result<PathAttribute, UpdateError> {
    let length = || UpdateError::new(LENGTH_ERROR, "attribute length");
    let expect_flags = |want: u8| {
        if flags_byte & (flags::OPTIONAL | flags::TRANSITIVE) == want {
            Ok(())
        } else {
            Err(UpdateError::new(FLAGS_ERROR, "attribute flags"))
        }
    };
    let well_known = flags::TRANSITIVE;
    Ok(match kind {
        attr_type::ORIGIN => {
            expect_flags(well_known)?;
            let [o] = value.try_into().map_err(|_| length())?;
            PathAttribute::Origin(match o {
                0 => Origin::Igp,
                1 => Origin::Egp,
                2 => Origin::Incomplete,
                _ => return Err(UpdateError::new(INVALID_ORIGIN, "ORIGIN value")),
            })
        }
        attr_type::AS_PATH => {
            expect_flags(well_known)?;
            PathAttribute::AsPath(decode_as_path(value, width)?)
        }
        attr_type::NEXT_HOP => {
            expect_flags(well_known)?;
            let o: [u8; 4] = value.try_into().map_err(|_| length())?;
            PathAttribute::NextHop(o.into())
        }
        attr_type::LOCAL_PREF => {
            expect_flags(well_known)?;
            let v: [u8; 4] = value.try_into().map_err(|_| length())?;
            PathAttribute::LocalPref(u32::from_be_bytes(v))
        }
        attr_type::COMMUNITIES => {
            expect_flags(flags::OPTIONAL | flags::TRANSITIVE)?;
            let (chunks, []) = value.as_chunks::<4>() else {
                return Err(length());
            };
            PathAttribute::Communities(
                chunks
                    .iter()
                    .map(|c| Community(u32::from_be_bytes(*c)))
                    .collect(),
            )
        }
        attr_type::MP_REACH_NLRI | attr_type::MP_UNREACH_NLRI => {
            let mut r = Reader::new(value);
            let family = r.u16().zip(r.u8());
            if family != Some((2, 1)) {
                return Ok(PathAttribute::Other {
                    flags: flags_byte & !flags::EXTENDED_LENGTH,
                    kind,
                    value: value.to_vec(),
                });
            }
            expect_flags(flags::OPTIONAL)?;
            if kind == attr_type::MP_UNREACH_NLRI {
                return Ok(PathAttribute::MpUnreach {
                    withdrawn: decode_v6_prefixes(r.rest())?,
                });
            }
            let bad = || UpdateError::new(OPTIONAL_ATTRIBUTE_ERROR, "MP_REACH_NLRI");
            let nh_len = r.u8().ok_or_else(bad)?;
            let nh = r.take(nh_len.into()).ok_or_else(bad)?;
            let next_hop = match nh.as_chunks::<16>() {
                ([g], []) => Ipv6NextHop {
                    global: (*g).into(),
                    link_local: None,
                },
                ([g, ll], []) => Ipv6NextHop {
                    global: (*g).into(),
                    link_local: Some((*ll).into()),
                },
                _ => return Err(bad()),
            };
            r.u8().ok_or_else(bad)?; // reserved
            PathAttribute::MpReach {
                next_hop,
                nlri: decode_v6_prefixes(r.rest())?,
            }
        }
        _ => PathAttribute::Other {
            flags: flags_byte & !flags::EXTENDED_LENGTH,
            kind,
            value: value.to_vec(),
        },
    })
}

fn decode_as_path(bytes: &[u8], width: AsWidth) -> Result<Vec<AsSegment>, UpdateError> {
    let malformed = || UpdateError::new(MALFORMED_AS_PATH, "AS_PATH");
    let mut r = Reader::new(bytes);
    let mut segments = Vec::new();
    while !r.is_empty() {
        let kind = match r.u8().ok_or_else(malformed)? {
            1 => SegmentKind::Set,
            2 => SegmentKind::Sequence,
            3 => SegmentKind::ConfedSequence,
            4 => SegmentKind::ConfedSet,
            _ => return Err(malformed()),
        };
        let count = r.u8().ok_or_else(malformed)?;
        if count == 0 {
            return Err(malformed());
        }
        let asns = (0..count)
            .map(|_| match width {
                AsWidth::Four => r.u32().map(Asn),
                AsWidth::Two => r.u16().map(|a| Asn(a.into())),
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(malformed)?;
        segments.push(AsSegment { kind, asns });
    }
    Ok(segments)
}
