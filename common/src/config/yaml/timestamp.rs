//! Which scalars yaml.v2 resolves as `!!timestamp`: those Go's `time.Parse` accepts in one
//! of four layouts. Only the verdict matters here (a timestamp decodes into a string field
//! as its text, and into a number field as a `!!timestamp` type error).

/// yaml.v2's layouts: `2006-1-2T15:4:5.999999999Z07:00` (also with `t`),
/// `2006-1-2 15:4:5.999999999` and `2006-1-2`.
pub(super) fn is_timestamp(s: &str) -> bool {
    // yaml.v2's quick check: four digits and a dash.
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let Some((date, rest)) = date(s) else {
        return false;
    };
    if rest.is_empty() {
        return date;
    }
    for (sep, zone) in [("T", true), ("t", true), (" ", false)] {
        if let Some(rest) = rest.strip_prefix(sep).and_then(clock) {
            let rest = if zone { offset(rest) } else { Some(rest) };
            if date && rest == Some("") {
                return true;
            }
        }
    }
    false
}

/// Up to two digits, as Go's `getnum` reads `1`, `2`, `15`, `4` and `5` fields.
fn number(s: &str) -> Option<(u32, &str)> {
    let b = s.as_bytes();
    let d = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u32::from(c - b'0'))
    };
    let first = d(0)?;
    match d(1) {
        Some(second) => Some((first * 10 + second, &s[2..])),
        None => Some((first, &s[1..])),
    }
}

/// `2006-1-2`: whether the day exists, and the text after it. `None` when the text does
/// not have the layout's shape at all.
fn date(s: &str) -> Option<(bool, &str)> {
    let year: u32 = s[..4].parse().ok()?;
    let (month, rest) = number(s[5..].as_ref())?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = number(rest)?;
    if !(1..=12).contains(&month) {
        return Some((false, rest));
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    Some(((1..=days).contains(&day), rest))
}

/// `15:4:5` and an optional fraction (`.` or `,` then digits).
fn clock(s: &str) -> Option<&str> {
    let (hour, rest) = number(s)?;
    let (minute, rest) = number(rest.strip_prefix(':')?)?;
    let (second, rest) = number(rest.strip_prefix(':')?)?;
    if hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    let b = rest.as_bytes();
    if b.len() >= 2 && matches!(b[0], b'.' | b',') && b[1].is_ascii_digit() {
        let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        return Some(&rest[1 + digits..]);
    }
    Some(rest)
}

/// `Z07:00`: `Z` or `±hh:mm`.
fn offset(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix('Z') {
        return Some(rest);
    }
    let b = s.as_bytes();
    if b.len() < 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
        return None;
    }
    let two = |i: usize| b[i].is_ascii_digit() && b[i + 1].is_ascii_digit();
    if !two(1) || !two(4) {
        return None;
    }
    let hour = u32::from(b[1] - b'0') * 10 + u32::from(b[2] - b'0');
    let minute = u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0');
    (hour <= 24 && minute <= 60).then(|| &s[6..])
}
