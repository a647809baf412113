//! The Go kinds the configuration uses, as yaml.v2's decoder fills them: which scalars
//! convert into `string`, `uint32`, `uint16`, `int` and `bool` (reflect's rules, with
//! amd64's float conversions), and how pointers, slices and `map[string]string` decode.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use super::decode::{Decoder, Fatal, Target};
use super::yaml::NodeId;
use super::yaml::resolve::{BINARY, Value};
use crate::gotext::quote;

impl Target for String {
    fn go_type() -> Cow<'static, str> {
        "string".into()
    }
    fn set_zero(&mut self) {
        self.clear();
    }
    /// Any scalar: its text as written (a `!!binary` one decoded).
    fn decode_scalar(
        &mut self,
        d: &mut Decoder<'_>,
        n: NodeId,
        tag: &str,
        value: &Value<'_>,
    ) -> bool {
        *self = match value {
            Value::Str(s) if tag == BINARY => s.to_string(),
            _ => d.doc.node(n).value.clone(),
        };
        true
    }
}

/// 2^63, which is also `float64(math.MaxInt64)`.
const TWO_63: f64 = (1u64 << 63) as f64;

/// Go's `float64` to `int64` conversion on amd64 (`CVTTSD2SQ`): truncation, and
/// `i64::MIN` for NaN and out-of-range values.
fn go_f64_to_i64(f: f64) -> i64 {
    if (-TWO_63..TWO_63).contains(&f) {
        f as i64
    } else {
        i64::MIN
    }
}

/// Go's `float64` to `uint64` conversion on amd64.
fn go_f64_to_u64(f: f64) -> u64 {
    if f < TWO_63 {
        go_f64_to_i64(f) as u64
    } else {
        go_f64_to_i64(f - TWO_63) as u64 | 1 << 63
    }
}

/// Go's unsigned integer kinds: a non-negative integer in range, or a float truncated.
macro_rules! go_uint {
    ($t:ty, $name:literal) => {
        impl Target for $t {
            fn go_type() -> Cow<'static, str> {
                $name.into()
            }
            fn set_zero(&mut self) {
                *self = 0;
            }
            fn decode_scalar(
                &mut self,
                d: &mut Decoder<'_>,
                n: NodeId,
                tag: &str,
                value: &Value<'_>,
            ) -> bool {
                let v = match *value {
                    Value::Int(i) => u64::try_from(i).ok(),
                    Value::Uint(u) => Some(u),
                    // float64(math.MaxUint64) is 2^64.
                    Value::Float(f) if f <= 2.0 * TWO_63 => Some(go_f64_to_u64(f)),
                    _ => None,
                };
                match v.and_then(|v| <$t>::try_from(v).ok()) {
                    Some(v) => {
                        *self = v;
                        true
                    }
                    None => {
                        d.terror(n, tag, $name);
                        false
                    }
                }
            }
        }
    };
}
go_uint!(u32, "uint32");
go_uint!(u16, "uint16");

/// Go's `int` (64-bit).
impl Target for i64 {
    fn go_type() -> Cow<'static, str> {
        "int".into()
    }
    fn set_zero(&mut self) {
        *self = 0;
    }
    fn decode_scalar(
        &mut self,
        d: &mut Decoder<'_>,
        n: NodeId,
        tag: &str,
        value: &Value<'_>,
    ) -> bool {
        let v = match *value {
            Value::Int(i) => Some(i),
            Value::Uint(u) => i64::try_from(u).ok(),
            Value::Float(f) if f <= TWO_63 => Some(go_f64_to_i64(f)),
            _ => None,
        };
        match v {
            Some(v) => {
                *self = v;
                true
            }
            None => {
                d.terror(n, tag, "int");
                false
            }
        }
    }
}

impl Target for bool {
    fn go_type() -> Cow<'static, str> {
        "bool".into()
    }
    fn set_zero(&mut self) {
        *self = false;
    }
    fn decode_scalar(
        &mut self,
        d: &mut Decoder<'_>,
        n: NodeId,
        tag: &str,
        value: &Value<'_>,
    ) -> bool {
        match *value {
            Value::Bool(b) => {
                *self = b;
                true
            }
            _ => {
                d.terror(n, tag, "bool");
                false
            }
        }
    }
}

/// A Go pointer (`*bool`, `*int`, `*uint32`): nil for `null`, otherwise allocated before
/// decoding (so `Null` gives a pointer to the zero value, as yaml.v2 does).
impl<T: Target + Default> Target for Option<T> {
    fn go_type() -> Cow<'static, str> {
        T::go_type()
    }
    fn set_zero(&mut self) {
        *self = None;
    }
    fn decode(&mut self, d: &mut Decoder<'_>, n: NodeId) -> Result<bool, Fatal> {
        if d.prepare_null(n) {
            return d.scalar(n, self);
        }
        self.get_or_insert_with(T::default).decode(d, n)
    }
}

/// A Go slice where only the length matters (nil and empty alike).
impl<T: Target + Default> Target for Vec<T> {
    fn go_type() -> Cow<'static, str> {
        format!("[]{}", T::go_type()).into()
    }
    fn set_zero(&mut self) {
        self.clear();
    }
    fn decode_sequence(&mut self, d: &mut Decoder<'_>, n: NodeId) -> Result<bool, Fatal> {
        let doc = d.doc;
        let items = &doc.node(n).children;
        let mut out = Vec::with_capacity(items.len());
        for &item in items {
            let mut e = T::default();
            if d.unmarshal(item, &mut e)? {
                out.push(e);
            }
        }
        *self = out;
        Ok(true)
    }
}

/// A Go slice compared with `reflect.DeepEqual`, where nil (`null`, absent) and empty
/// (`[]`) differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GoSlice<T>(pub(crate) Option<Vec<T>>);

impl<T: Target + Default> Target for GoSlice<T> {
    fn go_type() -> Cow<'static, str> {
        Vec::<T>::go_type()
    }
    fn set_zero(&mut self) {
        self.0 = None;
    }
    fn decode_sequence(&mut self, d: &mut Decoder<'_>, n: NodeId) -> Result<bool, Fatal> {
        self.0.get_or_insert_with(Vec::new).decode_sequence(d, n)
    }
}

/// `map[string]string`: keys and values as strings; in strict mode a repeated key (merges
/// included) is an error naming the value's line.
impl Target for BTreeMap<String, String> {
    fn go_type() -> Cow<'static, str> {
        "map[string]string".into()
    }
    fn set_zero(&mut self) {
        self.clear();
    }
    fn decode_mapping(&mut self, d: &mut Decoder<'_>, n: NodeId) -> Result<bool, Fatal> {
        d.walk_mapping(n, 0, |d, k, v, _| {
            let mut key = String::new();
            if !d.unmarshal(k, &mut key)? {
                return Ok(());
            }
            let mut value = String::new();
            if !d.unmarshal(v, &mut value)? {
                return Ok(());
            }
            match self.entry(key) {
                Entry::Occupied(e) => {
                    let line = d.doc.node(v).line + 1;
                    let key = quote(e.key());
                    d.report(format!("line {line}: key {key} already set in map"));
                }
                Entry::Vacant(e) => {
                    e.insert(value);
                }
            }
            Ok(())
        })?;
        Ok(true)
    }
}
