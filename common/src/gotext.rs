//! Go's text forms, reproduced where they reach the outside world.
//!
//! Upstream's error texts use `%q`, and the Layer 2 election hashes `net.IP.String()`; both
//! must match byte for byte, so they are spelled out here rather than borrowed from Rust's
//! `Debug`/`Display`, which differ (IPv4-mapped IPv6, escapes of control characters).

use std::fmt::Write as _;
use std::net::IpAddr;

/// `net.IP.String()`: like Rust's `Display`, except that an IPv4-mapped IPv6 address prints
/// as plain dotted IPv4, as Go does.
pub fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
    }
}

/// Bytes as text the way Go's JSON encoder shows a string that is not UTF-8: each byte of
/// an invalid sequence becomes U+FFFD (Rust's `from_utf8_lossy` merges them).
pub fn lossy(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{FFFD}');
                rest = bad.get(1..).unwrap_or_default();
            }
        }
    }
    out
}

/// Go's `%q` on a string (`strconv.Quote`): double quotes, Go escapes for control characters,
/// printable Unicode kept as is.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `%q` on an integer: the integer read as a Unicode code point, quoted as a rune
/// literal (`33` → `'!'`). Upstream formats aggregation lengths this way by mistake; we keep
/// the text because we keep upstream's error texts (docs/config.md#bgp-advertisements).
pub fn quote_int(v: i64) -> String {
    let c = u32::try_from(v)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}');
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

/// `time.Duration.String()`: `1m30s`, `2m0s`, `1.5s`, `500ms`, `0s`. Upstream prints peer
/// hold and keepalive times this way, in its errors and in the objects its converter writes.
pub fn duration_string(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_owned();
    }
    let mut u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Below a second: one unit, with the fraction it needs.
        let (prec, unit) = match u {
            0..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        out.push_str(&fraction(u, prec));
        out.push_str(unit);
    } else {
        let secs = fraction(u, 9);
        u /= 1_000_000_000;
        let (h, m, s) = (u / 3600, u / 60 % 60, u % 60);
        if h > 0 {
            let _ = write!(out, "{h}h");
        }
        if h > 0 || m > 0 {
            let _ = write!(out, "{m}m");
        }
        // `secs` is the whole value over 10^9 with its fraction; keep the seconds digit(s).
        let frac = secs.split_once('.').map(|(_, f)| f);
        match frac {
            Some(f) => {
                let _ = write!(out, "{s}.{f}s");
            }
            None => {
                let _ = write!(out, "{s}s");
            }
        }
    }
    if ns < 0 {
        out.insert(0, '-');
    }
    out
}

/// `v / 10^prec` in decimal, trailing fractional zeros (and a bare point) dropped.
fn fraction(v: u64, prec: u32) -> String {
    let scale = 10u64.pow(prec);
    let (whole, part) = (v / scale, v % scale);
    if part == 0 {
        return whole.to_string();
    }
    let digits = format!("{part:0width$}", width = prec as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn push_escaped(out: &mut String, c: char, delim: char) {
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == delim => {
            out.push('\\');
            out.push(c);
        }
        c if is_go_printable(c) => out.push(c),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// `strconv.IsPrint`, which decides what `%q` escapes.
fn is_go_printable(c: char) -> bool {
    crate::goprint::is_print(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_prints_them() {
        const S: i64 = 1_000_000_000;
        for (ns, text) in [
            (0, "0s"),
            (90 * S, "1m30s"),
            (120 * S, "2m0s"),
            (3600 * S, "1h0m0s"),
            (3 * S, "3s"),
            (S + S / 2, "1.5s"),
            (61 * S + 5, "1m1.000000005s"),
            (S / 2, "500ms"),
            (1_500, "1.5µs"),
            (7, "7ns"),
            (-5 * S, "-5s"),
            (30 * S, "30s"),
        ] {
            assert_eq!(duration_string(ns), text, "{ns}");
        }
    }

    #[test]
    fn ip_text_matches_go() {
        let cases = [
            ("10.20.30.1", "10.20.30.1"),
            ("::ffff:10.0.0.1", "10.0.0.1"),
            ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("fe80::", "fe80::"),
            ("::", "::"),
            ("1000::", "1000::"),
        ];
        for (input, want) in cases {
            let ip: IpAddr = input.parse().expect("test literal");
            assert_eq!(ip_string(ip), want, "{input}");
        }
    }

    #[test]
    fn quote_matches_strconv_quote() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("\u{0}\u{7f}\n"), "\"\\x00\\x7f\\n\"");
        assert_eq!(quote("é"), "\"é\"");
        assert_eq!(quote("\u{a0}"), "\"\\u00a0\"");
    }

    #[test]
    fn quote_int_matches_go_percent_q() {
        assert_eq!(quote_int(33), "'!'");
        assert_eq!(quote_int(24), "'\\x18'");
        assert_eq!(quote_int(39), "'\\''");
        assert_eq!(quote_int(34), "'\"'");
        assert_eq!(quote_int(129), "'\\u0081'");
        assert_eq!(quote_int(200), "'È'");
        assert_eq!(quote_int(-1), "'\u{FFFD}'");
        assert_eq!(quote_int(0xD800), "'\u{FFFD}'");
        assert_eq!(quote_int(i64::MAX), "'\u{FFFD}'");
    }
}
