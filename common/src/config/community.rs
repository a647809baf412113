//! RFC 1997 standard communities: `bgp-communities` aliases and `A:B` literals.

use std::fmt;

use crate::gotext::quote;

/// A standard community, `A<<16 | B`. Ordered numerically, which is the order upstream
/// sends them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u32);

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

/// Upstream's `ParseCommunity` errors, texts included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommunityError {
    #[error("invalid community string {}", quote(.0))]
    Format(String),
    #[error("invalid first section of community {}: {}", quote(.0), .1)]
    First(String, ParseUintError),
    #[error("invalid second section of community {}: {}", quote(.0), .1)]
    Second(String, ParseUintError),
}

/// `strconv.ParseUint(s, 10, 16)`'s error, with Go's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseUintError {
    #[error("strconv.ParseUint: parsing {}: invalid syntax", quote(.0))]
    Syntax(String),
    #[error("strconv.ParseUint: parsing {}: value out of range", quote(.0))]
    Range(String),
}

/// Go's `strconv.ParseUint(s, 10, 16)`: ASCII decimal digits only, no sign, no underscores.
pub fn parse_u16_go(s: &str) -> Result<u16, ParseUintError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseUintError::Syntax(s.to_owned()));
    }
    let mut v: u32 = 0;
    for b in s.bytes() {
        v = v * 10 + u32::from(b - b'0');
        if v > u32::from(u16::MAX) {
            return Err(ParseUintError::Range(s.to_owned()));
        }
    }
    // v ≤ 65535 was checked in the loop.
    Ok(v as u16)
}

impl Community {
    /// `ParseCommunity` of v0.12.1.
    pub fn parse(s: &str) -> Result<Self, CommunityError> {
        let parts: Vec<&str> = s.split(':').collect();
        let [a, b] = parts.as_slice() else {
            return Err(CommunityError::Format(s.to_owned()));
        };
        let hi = parse_u16_go(a).map_err(|e| CommunityError::First((*a).to_owned(), e))?;
        let lo = parse_u16_go(b).map_err(|e| CommunityError::Second((*b).to_owned(), e))?;
        Ok(Community(u32::from(hi) << 16 | u32::from(lo)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_both_ways() {
        for (text, value) in [
            ("65535:65282", 0xffff_ff02u32),
            ("0:0", 0),
            ("1:2", 0x0001_0002),
            ("64500:100", 0xfbf4_0064),
        ] {
            assert_eq!(Community::parse(text).expect("valid"), Community(value));
            assert_eq!(Community(value).to_string(), text);
        }
        assert_eq!(
            Community::parse("007:0010").expect("leading zeros"),
            Community(7 << 16 | 10)
        );
    }

    #[test]
    fn errors_match_upstream() {
        assert_eq!(
            Community::parse("1:2:3").unwrap_err().to_string(),
            "invalid community string \"1:2:3\""
        );
        assert_eq!(
            Community::parse("no-advertise").unwrap_err().to_string(),
            "invalid community string \"no-advertise\""
        );
        assert_eq!(
            Community::parse("99999999:1").unwrap_err().to_string(),
            "invalid first section of community \"99999999\": strconv.ParseUint: parsing \"99999999\": value out of range"
        );
        assert_eq!(
            Community::parse("1:x").unwrap_err().to_string(),
            "invalid second section of community \"x\": strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            Community::parse("+1:1").unwrap_err().to_string(),
            "invalid first section of community \"+1\": strconv.ParseUint: parsing \"+1\": invalid syntax"
        );
    }
}
