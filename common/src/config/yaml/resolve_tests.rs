//! YAML 1.1 resolution: the tag and Go value of each spelling yaml.v2 knows.

use super::*;

fn plain(s: &str) -> (&'static str, Value<'static>) {
    let (tag, value) = resolve("", Box::leak(s.to_owned().into_boxed_str())).expect(s);
    let tag: &'static str = match tag {
        t if t == STR => STR,
        t if t == BOOL => BOOL,
        t if t == INT => INT,
        t if t == FLOAT => FLOAT,
        t if t == NULL => NULL,
        t if t == TIMESTAMP => TIMESTAMP,
        other => panic!("{s}: unexpected tag {other}"),
    };
    (tag, value)
}

fn string(s: &'static str) -> (&'static str, Value<'static>) {
    (STR, Value::Str(Cow::Borrowed(s)))
}

#[test]
fn integers_in_every_go_spelling() {
    for (text, v) in [
        ("0", 0),
        ("-0", 0),
        ("+5", 5),
        ("1_000", 1000),
        ("0x1F", 31),
        ("0X1f", 31),
        ("0o17", 15),
        ("017", 15),
        ("0b101", 5),
        ("-0x10", -16),
        ("9223372036854775807", i64::MAX),
        ("-9223372036854775808", i64::MIN),
    ] {
        assert_eq!(plain(text), (INT, Value::Int(v)), "{text}");
    }
    assert_eq!(plain("9223372036854775808"), (INT, Value::Uint(1 << 63)));
    assert_eq!(plain("18446744073709551615"), (INT, Value::Uint(u64::MAX)));
    // Too large for uint64: a float, as yaml.v2's float pattern matches it.
    assert_eq!(
        plain("18446744073709551616"),
        (FLOAT, Value::Float(1.8446744073709552e19))
    );
}

#[test]
fn floats_and_what_is_not_one() {
    for (text, v) in [
        ("1e3", 1000.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("-1.5", -1.5),
        ("08", 8.0),
        ("1_0.5", 10.5),
        ("179.0", 179.0),
    ] {
        assert_eq!(plain(text), (FLOAT, Value::Float(v)), "{text}");
    }
    assert_eq!(plain(".inf"), (FLOAT, Value::Float(f64::INFINITY)));
    assert_eq!(plain("-.Inf"), (FLOAT, Value::Float(f64::NEG_INFINITY)));
    assert!(matches!(plain(".NaN"), (FLOAT, Value::Float(f)) if f.is_nan()));
    // Out of float64 range, or not YAML's float syntax: strings.
    for text in [
        "1e400", "0x", "1e", "._5", ".inf.", "1.5.5", "0x1p3", "infinity", "nan",
    ] {
        assert_eq!(plain(text), string(text), "{text}");
    }
}

#[test]
fn booleans_nulls_and_timestamps() {
    for text in [
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
    ] {
        assert_eq!(plain(text), (BOOL, Value::Bool(true)), "{text}");
    }
    for text in [
        "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
    ] {
        assert_eq!(plain(text), (BOOL, Value::Bool(false)), "{text}");
    }
    for text in ["yES", "tRUE", "o", "Nope"] {
        assert_eq!(plain(text), string(text), "{text}");
    }
    for text in ["", "~", "null", "Null", "NULL"] {
        assert_eq!(plain(text), (NULL, Value::Null), "{text:?}");
    }
    assert_eq!(plain("nULL"), string("nULL"));
    for text in [
        "2001-12-14",
        "2000-02-29",
        "2001-12-14t21:59:43.10Z",
        "2001-12-14T21:59:43.1-05:00",
        "2001-1-2 3:4:5",
        "2001-12-14 21:59:43.999999999999",
    ] {
        assert_eq!(plain(text), (TIMESTAMP, Value::Timestamp), "{text}");
    }
    for text in [
        "2001-02-29",
        "2001-13-01",
        "2001-12-14 25:00:00",
        "20011-12-14",
        "2001-12-14x",
    ] {
        assert_eq!(plain(text), string(text), "{text}");
    }
}

#[test]
fn explicit_tags() {
    assert_eq!(
        resolve(STR, "42"),
        Ok((STR, Value::Str(Cow::Borrowed("42"))))
    );
    assert_eq!(resolve(FLOAT, "1"), Ok((FLOAT, Value::Float(1.0))));
    assert_eq!(resolve(INT, "0x10"), Ok((INT, Value::Int(16))));
    assert_eq!(
        resolve("!local", "x"),
        Ok(("!local", Value::Str(Cow::Borrowed("x"))))
    );
    assert_eq!(
        resolve(BINARY, "aGk="),
        Ok((BINARY, Value::Str(Cow::Borrowed("aGk="))))
    );
    for (tag, text, msg) in [
        (INT, "abc", "cannot decode !!str `abc` as a !!int"),
        (BOOL, "1", "cannot decode !!int `1` as a !!bool"),
        (NULL, "x", "cannot decode !!str `x` as a !!null"),
        (
            FLOAT,
            "18446744073709551615",
            "cannot decode !!int `18446744073709551615` as a !!float",
        ),
        (TIMESTAMP, "1", "cannot decode !!int `1` as a !!timestamp"),
    ] {
        assert_eq!(resolve(tag, text), Err(msg.to_owned()), "{tag} {text}");
    }
}

#[test]
fn base64_as_go_decodes_it() {
    assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
    assert_eq!(decode_base64("aGVs\r\nbG8="), Some(b"hello".to_vec()));
    assert_eq!(decode_base64("aGk="), Some(b"hi".to_vec()));
    assert_eq!(decode_base64(""), Some(Vec::new()));
    for bad in ["aGVsbG8", "aGVsbG8==", "a===", "aG=k", "aGk=aGk=", "a b="] {
        assert_eq!(decode_base64(bad), None, "{bad}");
    }
}

#[test]
fn short_tags() {
    assert_eq!(short_tag(STR), "!!str");
    assert_eq!(short_tag("!local"), "!local");
    assert_eq!(
        short_tag("tag:example.com,2000:x"),
        "tag:example.com,2000:x"
    );
}
