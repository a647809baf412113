//! IP families as upstream's `internal/ipfamily` (v0.12.1) computes them, and the Go `%q`
//! renderings of address lists that appear in its error texts.

use std::fmt;
use std::net::IpAddr;

use crate::gotext::{ip_string, quote};

/// The address family of a service or of an IP list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
    /// One IPv4 and one IPv6 address.
    Dual,
}

impl Family {
    /// `ipfamily.ForAddress`: IPv4-mapped IPv6 counts as IPv4, as Go's `To4` does.
    pub fn of(ip: IpAddr) -> Family {
        match ip.to_canonical() {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Upstream's text (`ipv4`, `ipv6`, `dual`), as printed in `… for <family> IPFamily`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
            Family::Dual => "dual",
        }
    }

    /// Does a service of this family want an address of `single` (V4 or V6)?
    pub(crate) fn wants(self, single: Family) -> bool {
        self == Family::Dual || self == single
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ipfamily.ForAddresses` failures, worded as upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FamilyError {
    #[error("IPFamilyForAddresses: Invalid address {}", go_str_list(.0))]
    Invalid(Vec<String>),
    #[error("IPFamilyForAddresses: same address family {}", go_str_list(.0))]
    Same(Vec<String>),
    #[error("IPFamilyForAddresses: invalid ips length {} {}", .0.len(), go_str_list(.0))]
    Length(Vec<String>),
}

/// `ipfamily.ForAddresses` of v0.12.1 on address texts (cluster IPs, status IPs).
///
/// Quirk kept on purpose: a single text that is not an IPv4 address is IPv6 even when it
/// does not parse at all; the caller then fails on the address itself, as upstream does.
pub fn family_for_texts(texts: &[String]) -> Result<Family, FamilyError> {
    match texts {
        [one] => Ok(match parse_ip(one) {
            Some(IpAddr::V4(_)) => Family::V4,
            _ => Family::V6,
        }),
        [a, b] => match (parse_ip(a), parse_ip(b)) {
            (Some(a), Some(b)) if Family::of(a) == Family::of(b) => {
                Err(FamilyError::Same(texts.to_vec()))
            }
            (Some(_), Some(_)) => Ok(Family::Dual),
            _ => Err(FamilyError::Invalid(texts.to_vec())),
        },
        _ => Err(FamilyError::Length(texts.to_vec())),
    }
}

/// `ipfamily.ForAddressesIPs`: as `family_for_texts` on the addresses' texts, a `None`
/// printing as Go's nil `net.IP` does (`<nil>`). Texts are only built for the error.
pub fn family_for_ips(ips: &[Option<IpAddr>]) -> Result<Family, FamilyError> {
    let texts = || ips.iter().map(|ip| nil_or_text(*ip)).collect::<Vec<_>>();
    match ips {
        // A nil address prints `<nil>`, which is not IPv4: IPv6, as for any one text.
        [one] => Ok(one.map_or(Family::V6, Family::of)),
        [Some(a), Some(b)] if Family::of(*a) == Family::of(*b) => Err(FamilyError::Same(texts())),
        [Some(_), Some(_)] => Ok(Family::Dual),
        [_, _] => Err(FamilyError::Invalid(texts())),
        _ => Err(FamilyError::Length(texts())),
    }
}

/// Go's `net.ParseIP`: dotted IPv4 or IPv6 text; IPv4-mapped IPv6 is the IPv4 address.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// `net.IP.String()` of a possibly nil address.
pub(crate) fn nil_or_text(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "<nil>".to_owned(), ip_string)
}

/// Go's `%q` of a `[]net.IP`: `["192.0.2.1" "2001:db8::1"]`.
pub fn go_ip_list(ips: &[IpAddr]) -> String {
    go_list(ips.iter().map(|ip| ip_string(*ip)))
}

/// Go's `%q` of a `[]string`.
pub fn go_str_list(items: &[String]) -> String {
    go_list(items.iter().cloned())
}

fn go_list(items: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = items.map(|s| quote(&s)).collect();
    format!("[{}]", quoted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn families_follow_ipfamily_for_addresses() {
        assert_eq!(family_for_texts(&texts(&["10.0.0.1"])), Ok(Family::V4));
        assert_eq!(family_for_texts(&texts(&["fd00::1"])), Ok(Family::V6));
        assert_eq!(
            family_for_texts(&texts(&["::ffff:10.0.0.1"])),
            Ok(Family::V4)
        );
        assert_eq!(
            family_for_texts(&texts(&["fd00::1", "10.0.0.1"])),
            Ok(Family::Dual)
        );
        // Upstream's single-address branch never fails.
        assert_eq!(family_for_texts(&texts(&["None"])), Ok(Family::V6));
    }

    #[test]
    fn family_errors_have_upstream_text() {
        let same = family_for_texts(&texts(&["1.2.3.4", "5.6.7.8"])).unwrap_err();
        assert_eq!(
            same.to_string(),
            r#"IPFamilyForAddresses: same address family ["1.2.3.4" "5.6.7.8"]"#
        );
        let bad = family_for_texts(&texts(&["1.2.3.4", "x"])).unwrap_err();
        assert_eq!(
            bad.to_string(),
            r#"IPFamilyForAddresses: Invalid address ["1.2.3.4" "x"]"#
        );
        let none = family_for_texts(&[]).unwrap_err();
        assert_eq!(
            none.to_string(),
            "IPFamilyForAddresses: invalid ips length 0 []"
        );
        let three = family_for_texts(&texts(&["1.1.1.1", "::1", "2.2.2.2"])).unwrap_err();
        assert_eq!(
            three.to_string(),
            r#"IPFamilyForAddresses: invalid ips length 3 ["1.1.1.1" "::1" "2.2.2.2"]"#
        );
        let nil = family_for_ips(&[None, parse_ip("::1")]).unwrap_err();
        assert_eq!(
            nil.to_string(),
            r#"IPFamilyForAddresses: Invalid address ["<nil>" "::1"]"#
        );
    }

    #[test]
    fn go_lists_quote_each_address() {
        let ips = [
            parse_ip("192.0.2.1").unwrap(),
            parse_ip("2001:DB8::1").unwrap(),
        ];
        assert_eq!(go_ip_list(&ips), r#"["192.0.2.1" "2001:db8::1"]"#);
        assert_eq!(go_ip_list(&[]), "[]");
        assert_eq!(parse_ip("::ffff:10.1.2.3"), parse_ip("10.1.2.3"));
        assert_eq!(parse_ip("10.1.2"), None);
    }
}
