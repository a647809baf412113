//! Address entries of a pool: `a.b.c.d/n` or `start-end`, and range summarisation.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::gotext::quote;

/// An inclusive address range of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl AddrRange {
    /// The range's CIDRs in ascending order.
    pub fn cidrs(&self) -> Vec<IpNet> {
        summarize(self.first, self.last)
    }
}

/// The minimal list of CIDR prefixes covering exactly `[first, last]`, ascending — what
/// `ipaddr.Summarize` (and Python's `summarize_address_range`) return. Mixed families or a
/// reversed range yield nothing, as upstream.
pub fn summarize(first: IpAddr, last: IpAddr) -> Vec<IpNet> {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            summarize_bits(u32::from(a).into(), u32::from(b).into(), 32)
                .into_iter()
                .map(|(start, len)| {
                    // `start` came from a u32 and `len` ≤ 32, so both conversions hold.
                    let addr = u32::try_from(start).unwrap_or(0);
                    IpNet::V4(Ipv4Net::new_assert(addr.into(), len))
                })
                .collect()
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => summarize_bits(u128::from(a), u128::from(b), 128)
            .into_iter()
            .map(|(start, len)| IpNet::V6(Ipv6Net::new_assert(start.into(), len)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Greedy summarisation over `bits`-wide integers: at each step take the largest aligned
/// block starting at `start` that does not pass `last`.
fn summarize_bits(mut start: u128, last: u128, bits: u8) -> Vec<(u128, u8)> {
    let mut out = Vec::new();
    if start > last {
        return out;
    }
    let width = u32::from(bits);
    loop {
        // Largest block allowed by the alignment of `start` …
        let align = if start == 0 {
            width
        } else {
            start.trailing_zeros().min(width)
        };
        // … and by the number of addresses left (`remaining + 1` overflows only for ::/0).
        let remaining = last - start;
        let fit = if remaining == u128::MAX {
            128
        } else {
            127 - (remaining + 1).leading_zeros()
        };
        let k = align.min(fit);
        // k ≤ width ≤ 128, so the prefix length fits a u8.
        out.push((start, bits - k as u8));
        if k == 128 {
            break;
        }
        let block_last = start + ((1u128 << k) - 1);
        if block_last >= last {
            break;
        }
        start = block_last + 1;
    }
    out
}

/// Why an address entry was rejected; the text is upstream's reason after the
/// `invalid CIDR "<s>" in pool "<p>": ` prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("invalid CIDR {}", quote(.0))]
    Cidr(String),
    #[error("invalid IP range {}: invalid start IP {}", quote(.0), quote(.1))]
    Start(String, String),
    #[error("invalid IP range {}: invalid end IP {}", quote(.0), quote(.1))]
    End(String, String),
    #[error("invalid IP range {}: start IP {} is after the end IP {}", quote(.0), quote(.1), quote(.2))]
    Reversed(String, String, String),
}

/// Go's `net.ParseIP`: dotted IPv4 or IPv6 text; IPv4-mapped IPv6 is the IPv4 address.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// A pool CIDR as Go holds it. An IPv4-mapped IPv6 CIDR of /96 or longer
/// (`::ffff:10.0.0.0/120`) prints and matches as the IPv4 CIDR it maps (`10.0.0.0/24`), but
/// keeps its 16-byte mask, so its mask length counts 128 bits where upstream compares
/// lengths (aggregation and overlap checks, docs/config.md#address-pools).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoNet {
    pub net: IpNet,
    /// Written as IPv4-mapped IPv6 (a 16-byte mask on an IPv4 network).
    pub mapped: bool,
}

impl GoNet {
    fn plain(net: IpNet) -> Self {
        Self { net, mapped: false }
    }

    /// `Mask.Size()`'s ones: the prefix length, counted on 128 bits for a mapped CIDR.
    pub fn mask_ones(&self) -> u8 {
        self.net.prefix_len() + if self.mapped { 96 } else { 0 }
    }

    /// `IP.To4() != nil`: an IPv4 network, mapped ones included.
    pub fn is_v4(&self) -> bool {
        matches!(self.net, IpNet::V4(_))
    }
}

/// `config.ParseCIDR` of v0.12.1: one address entry to its CIDRs, in order.
pub fn parse_entry(entry: &str) -> Result<Vec<IpNet>, RangeError> {
    parse_entry_go(entry).map(|nets| nets.into_iter().map(|g| g.net).collect())
}

/// [`parse_entry`], with each CIDR as Go holds it.
pub(crate) fn parse_entry_go(entry: &str) -> Result<Vec<GoNet>, RangeError> {
    let Some((a, b)) = entry.split_once('-') else {
        let net: IpNet = entry
            .parse()
            .map_err(|_| RangeError::Cidr(entry.to_owned()))?;
        // Go masks the host bits away.
        return Ok(vec![unmap(net.trunc())]);
    };
    let (a, b) = (trim_go_space(a), trim_go_space(b));
    let first = parse_ip(a).ok_or_else(|| RangeError::Start(entry.to_owned(), a.to_owned()))?;
    let last = parse_ip(b).ok_or_else(|| RangeError::End(entry.to_owned(), b.to_owned()))?;
    if sixteen(first) > sixteen(last) {
        return Err(RangeError::Reversed(
            entry.to_owned(),
            a.to_owned(),
            b.to_owned(),
        ));
    }
    // Ranges are summarised in 4-byte form for IPv4 (`ipaddr.Summarize`): never mapped.
    Ok(summarize(first, last)
        .into_iter()
        .map(GoNet::plain)
        .collect())
}

fn unmap(net: IpNet) -> GoNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => GoNet {
                net: IpNet::V4(Ipv4Net::new_assert(v4, v6.prefix_len() - 96)),
                mapped: true,
            },
            None => GoNet::plain(net),
        },
        _ => GoNet::plain(net),
    }
}

/// `strings.TrimSpace`: ASCII white space plus Unicode `White_Space`.
fn trim_go_space(s: &str) -> &str {
    s.trim_matches(char::is_whitespace)
}

/// The 16-byte form Go compares ranges in (IPv4 as `::ffff:a.b.c.d`).
fn sixteen(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|s| s.parse().expect("test literal"))
            .collect()
    }

    #[test]
    fn upstream_range_example() {
        assert_eq!(
            parse_entry("40.0.0.150-40.0.0.200").expect("valid"),
            nets(&[
                "40.0.0.150/31",
                "40.0.0.152/29",
                "40.0.0.160/27",
                "40.0.0.192/29",
                "40.0.0.200/32"
            ])
        );
    }

    #[test]
    fn spaces_single_address_and_full_space() {
        assert_eq!(
            parse_entry("10.0.0.1 - 10.0.0.1").expect("valid"),
            nets(&["10.0.0.1/32"])
        );
        assert_eq!(
            parse_entry("0.0.0.0-255.255.255.255").expect("valid"),
            nets(&["0.0.0.0/0"])
        );
        assert_eq!(
            parse_entry("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").expect("valid"),
            nets(&["::/0"])
        );
        assert_eq!(
            parse_entry("10.10.8.200-10.10.8.205").expect("valid"),
            nets(&["10.10.8.200/30", "10.10.8.204/31"])
        );
    }

    #[test]
    fn cidr_host_bits_masked() {
        assert_eq!(
            parse_entry("10.20.30.40/24").expect("valid"),
            nets(&["10.20.30.0/24"])
        );
        assert_eq!(
            parse_entry("2001:db8::1/64").expect("valid"),
            nets(&["2001:db8::/64"])
        );
    }

    #[test]
    fn entry_errors_use_upstream_text() {
        assert_eq!(
            parse_entry("10.0.0.1").unwrap_err().to_string(),
            "invalid CIDR \"10.0.0.1\""
        );
        assert_eq!(
            parse_entry("10.0.0.x-10.0.0.2").unwrap_err().to_string(),
            "invalid IP range \"10.0.0.x-10.0.0.2\": invalid start IP \"10.0.0.x\""
        );
        assert_eq!(
            parse_entry("10.0.0.1-").unwrap_err().to_string(),
            "invalid IP range \"10.0.0.1-\": invalid end IP \"\""
        );
        assert_eq!(
            parse_entry("10.0.0.2-10.0.0.1").unwrap_err().to_string(),
            "invalid IP range \"10.0.0.2-10.0.0.1\": start IP \"10.0.0.2\" is after the end IP \"10.0.0.1\""
        );
    }

    #[test]
    fn mapped_cidr_is_ipv4_with_a_128_bit_mask() {
        let go = super::parse_entry_go("::ffff:10.0.0.7/120").expect("valid");
        assert_eq!(go.len(), 1);
        assert_eq!(go[0].net, nets(&["10.0.0.0/24"])[0]);
        assert!(go[0].mapped && go[0].is_v4());
        assert_eq!(go[0].mask_ones(), 120);
        // Below /96 the mapping prefix is masked away: an ordinary IPv6 CIDR.
        let go = super::parse_entry_go("::ffff:10.0.0.7/64").expect("valid");
        assert_eq!(go[0].net, nets(&["::/64"])[0]);
        assert!(!go[0].mapped);
        // Ranges are summarised as IPv4.
        let go = super::parse_entry_go("::ffff:10.0.0.0-10.0.0.255").expect("valid");
        assert_eq!(
            (go[0].net, go[0].mapped),
            (nets(&["10.0.0.0/24"])[0], false)
        );
    }

    #[test]
    fn mixed_family_range_is_silently_empty() {
        assert_eq!(
            parse_entry("10.0.0.1-2001:db8::1").expect("accepted"),
            Vec::<IpNet>::new()
        );
    }
}
