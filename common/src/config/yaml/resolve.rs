//! YAML 1.1 scalar resolution as yaml.v2's resolve.go does it: which tag (and Go value) a
//! scalar gets from its text and explicit tag. `yes`/`on` are booleans, `0x1F`, `0o17`,
//! `017` and `1_000` integers, `1e3` and `.5` floats, `2001-12-14` a timestamp.

use std::borrow::Cow;

const PREFIX: &str = "tag:yaml.org,2002:";
pub(crate) const STR: &str = "tag:yaml.org,2002:str";
pub(crate) const BOOL: &str = "tag:yaml.org,2002:bool";
pub(crate) const INT: &str = "tag:yaml.org,2002:int";
pub(crate) const FLOAT: &str = "tag:yaml.org,2002:float";
pub(crate) const NULL: &str = "tag:yaml.org,2002:null";
pub(crate) const TIMESTAMP: &str = "tag:yaml.org,2002:timestamp";
pub(crate) const BINARY: &str = "tag:yaml.org,2002:binary";
pub(crate) const SEQ: &str = "tag:yaml.org,2002:seq";
pub(crate) const MAP: &str = "tag:yaml.org,2002:map";
pub(crate) const MERGE: &str = "tag:yaml.org,2002:merge";

/// A resolved scalar: the Go value yaml.v2's `resolve` returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    /// Go `int` (64-bit).
    Int(i64),
    /// Go `uint64`: integers above `i64::MAX`.
    Uint(u64),
    Float(f64),
    Timestamp,
    Str(Cow<'a, str>),
}

/// `!!str` for `tag:yaml.org,2002:str`; other tags as they are.
pub(crate) fn short_tag(tag: &str) -> Cow<'_, str> {
    match tag.strip_prefix(PREFIX) {
        Some(rest) => Cow::Owned(format!("!!{rest}")),
        None => Cow::Borrowed(tag),
    }
}

/// yaml.v2's `resolve(tag, in)`: the tag and value of a scalar with explicit tag `tag`
/// (empty when none). An explicit tag the text does not fit is an error:
/// ``cannot decode !!str `abc` as a !!int``.
pub(crate) fn resolve<'a>(tag: &'a str, input: &'a str) -> Result<(&'a str, Value<'a>), String> {
    if !matches!(tag, "" | STR | BOOL | INT | FLOAT | NULL | TIMESTAMP) {
        return Ok((tag, Value::Str(Cow::Borrowed(input))));
    }
    let (rtag, value) = implicit(tag, input);
    if tag.is_empty() || tag == rtag || tag == STR {
        return Ok((rtag, value));
    }
    if let (FLOAT, INT, Value::Int(i)) = (tag, rtag, &value) {
        return Ok((FLOAT, Value::Float(*i as f64)));
    }
    Err(format!(
        "cannot decode {} `{input}` as a {}",
        short_tag(rtag),
        short_tag(tag)
    ))
}

/// The resolution proper; `tag` only matters for `!!str` (no resolution) and timestamps.
fn implicit<'a>(tag: &str, input: &'a str) -> (&'static str, Value<'a>) {
    let string = (STR, Value::Str(Cow::Borrowed(input)));
    let hint = match input.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => return string,
    };
    if tag == STR || tag == BINARY {
        return string;
    }
    if let Some(v) = keyword(input) {
        return v;
    }
    match hint {
        b'.' => {
            if let Some(f) = parse_float(input) {
                return (FLOAT, Value::Float(f));
            }
        }
        b'D' | b'S' => {
            if (tag.is_empty() || tag == TIMESTAMP) && super::timestamp::is_timestamp(input) {
                return (TIMESTAMP, Value::Timestamp);
            }
            let plain = if input.contains('_') {
                Cow::Owned(input.replace('_', ""))
            } else {
                Cow::Borrowed(input)
            };
            if let Some(i) = parse_int(&plain, 0) {
                return (INT, Value::Int(i));
            }
            if let Some(u) = parse_uint(&plain, 0) {
                return (INT, Value::Uint(u));
            }
            if yaml_style_float(&plain)
                && let Some(f) = parse_float(&plain)
            {
                return (FLOAT, Value::Float(f));
            }
            if let Some(bits) = plain.strip_prefix("0b") {
                if let Some(i) = parse_int(bits, 2) {
                    return (INT, Value::Int(i));
                }
                if let Some(u) = parse_uint(bits, 2) {
                    return (INT, Value::Uint(u));
                }
            } else if let Some(bits) = plain.strip_prefix("-0b")
                && let Some(i) = parse_int(&format!("-{bits}"), 2)
            {
                return (INT, Value::Int(i));
            }
        }
        _ => {}
    }
    string
}

/// The words YAML 1.1 gives a meaning (`resolveMap`).
fn keyword(s: &str) -> Option<(&'static str, Value<'static>)> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            (BOOL, Value::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            (BOOL, Value::Bool(false))
        }
        "" | "~" | "null" | "Null" | "NULL" => (NULL, Value::Null),
        ".nan" | ".NaN" | ".NAN" => (FLOAT, Value::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            (FLOAT, Value::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => (FLOAT, Value::Float(f64::NEG_INFINITY)),
        _ => return None,
    })
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseUint(s, base, 64)` for base 0 (`0x`, `0o`, `0b`, `0` prefixes) or an
/// explicit base; `None` on a syntax or range error. No sign, no underscores (the caller
/// removed them).
pub(crate) fn parse_uint(s: &str, base: u32) -> Option<u64> {
    let (digits, base) = if base == 0 {
        let b = s.as_bytes();
        match (b.first(), b.get(1).map(u8::to_ascii_lowercase)) {
            (Some(b'0'), Some(p @ (b'b' | b'o' | b'x'))) if s.len() >= 3 => {
                let base = match p {
                    b'b' => 2,
                    b'o' => 8,
                    _ => 16,
                };
                (&s[2..], base)
            }
            (Some(b'0'), _) => (&s[1..], 8),
            _ => (s, 10),
        }
    } else {
        (s, base)
    };
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(36)?;
        if d >= base {
            return None;
        }
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, base, 64)`: an optional sign, then [`parse_uint`].
pub(crate) fn parse_int(s: &str, base: u32) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(rest, base)?;
    if neg {
        0i64.checked_sub_unsigned(u)
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal text (the only kind the resolver passes
/// it): underscores between digits allowed, overflow an error.
fn parse_float(s: &str) -> Option<f64> {
    if s.contains('_') && !underscores_ok(s) {
        return None;
    }
    let f: f64 = s.replace('_', "").parse().ok()?;
    f.is_finite().then_some(f)
}

/// Go's `underscoreOK`: each `_` between two digits.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let mut saw = b'^';
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n` ignored.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let sextet = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let chars: Vec<u8> = s.bytes().filter(|c| !matches!(c, b'\r' | b'\n')).collect();
    if !chars.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(chars.len() / 4 * 3);
    let quads = chars.chunks(4).count();
    for (i, q) in chars.chunks(4).enumerate() {
        let last = i + 1 == quads;
        let (a, b) = (sextet(q[0])?, sextet(q[1])?);
        match (q[2], q[3]) {
            (b'=', b'=') if last => out.push((a << 2 | b >> 4) as u8),
            (c, b'=') if last => {
                let c = sextet(c)?;
                out.extend_from_slice(&[(a << 2 | b >> 4) as u8, (b << 4 | c >> 2) as u8]);
            }
            (c, d) => {
                let (c, d) = (sextet(c)?, sextet(d)?);
                let n = a << 18 | b << 12 | c << 6 | d;
                out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
