//! The slice of MessagePack that hashicorp/memberlist speaks, with go-msgpack's habits.
//!
//! memberlist encodes with `codec.MsgpackHandle{}` from hashicorp/go-msgpack, an early fork of
//! ugorji's codec with `WriteExt` off. That means the *old* MessagePack spec on the way out:
//! Go strings and `[]byte` alike are "raw" (fixstr, str16, str32 — never str8 or any bin
//! marker), integers take the smallest unsigned form, a nil slice is `nil`, and structs are
//! maps keyed by Go field names **sorted by name** (the codec sorts its field table for binary
//! search and encodes maps from the sorted copy). The writer reproduces exactly that, so our
//! bytes equal Go's; the reader is lenient about every form Go's decoder accepts (str8 and
//! bin included), because other peers may carry newer codecs.

use rmp::Marker;
use std::borrow::Cow;
use thiserror::Error;

/// Nesting bound for skipping unknown values: memberlist messages are flat, so anything deeper
/// than this is hostile input, and the bound keeps the recursive skip off a deep stack.
const MAX_SKIP_DEPTH: usize = 16;

/// Why a MessagePack value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MsgpackError {
    /// The input ended inside a value. For a stream this means "read more bytes"; for a
    /// datagram it means the datagram is malformed.
    #[error("input ends inside a MessagePack value")]
    Truncated,
    /// A value of the wrong kind where a field needs a specific one.
    #[error("expected {expected}, found MessagePack marker {marker:#04x}")]
    Unexpected {
        /// What the field needs.
        expected: &'static str,
        /// The marker byte found instead.
        marker: u8,
    },
    /// An integer that does not fit the field (negative, or too wide).
    #[error("integer out of range for {field}")]
    OutOfRange {
        /// The Go field name being decoded.
        field: &'static str,
    },
    /// A string field holding bytes that are not UTF-8.
    #[error("field {field} is not valid UTF-8")]
    NotUtf8 {
        /// The Go field name being decoded.
        field: &'static str,
    },
    /// Unknown values nested deeper than any memberlist message.
    #[error("value nested deeper than {MAX_SKIP_DEPTH} levels")]
    TooDeep,
}

/// Appends go-msgpack-compatible encodings to a byte vector. Writing to memory cannot fail, so
/// no method returns an error.
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    fn marker(&mut self, m: Marker) {
        self.out.push(m.to_u8());
    }

    /// Map header: fixmap below 16 entries, else map16/map32 (go-msgpack has no map8 either).
    pub(crate) fn map_len(&mut self, len: usize) {
        self.container_len(len, (16, Marker::FixMap), Marker::Map16, Marker::Map32);
    }

    /// `fix` pairs the exclusive bound of the fix form (16 for maps, 32 for strings) with it.
    fn container_len(&mut self, len: usize, fix: (u8, fn(u8) -> Marker), m16: Marker, m32: Marker) {
        match (u8::try_from(len), u16::try_from(len)) {
            (Ok(small), _) if small < fix.0 => self.marker(fix.1(small)),
            (_, Ok(l16)) => {
                self.marker(m16);
                self.out.extend_from_slice(&l16.to_be_bytes());
            }
            _ => {
                self.marker(m32);
                // memberlist frames never approach 4 GiB; saturating keeps this total.
                let l32 = u32::try_from(len).unwrap_or(u32::MAX);
                self.out.extend_from_slice(&l32.to_be_bytes());
            }
        }
    }

    /// A Go `string` or `[]byte` as old-spec raw: fixstr, str16 or str32.
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.container_len(
            bytes.len(),
            (32, Marker::FixStr),
            Marker::Str16,
            Marker::Str32,
        );
        self.out.extend_from_slice(bytes);
    }

    /// A Go `[]byte` that is nil when empty (how memberlist's optional byte fields look).
    pub(crate) fn raw_or_nil(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            self.marker(Marker::Null);
        } else {
            self.raw(bytes);
        }
    }

    /// A map key: Go field names go out as raw strings too.
    pub(crate) fn key(&mut self, name: &str) {
        self.raw(name.as_bytes());
    }

    /// Any non-negative integer in its smallest form, as go-msgpack's `encodeUint`.
    pub(crate) fn uint(&mut self, v: u64) {
        if let Ok(b) = u8::try_from(v) {
            if b <= 0x7f {
                self.marker(Marker::FixPos(b));
            } else {
                self.marker(Marker::U8);
                self.out.push(b);
            }
        } else if let Ok(w) = u16::try_from(v) {
            self.marker(Marker::U16);
            self.out.extend_from_slice(&w.to_be_bytes());
        } else if let Ok(w) = u32::try_from(v) {
            self.marker(Marker::U32);
            self.out.extend_from_slice(&w.to_be_bytes());
        } else {
            self.marker(Marker::U64);
            self.out.extend_from_slice(&v.to_be_bytes());
        }
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.marker(if v { Marker::True } else { Marker::False });
    }
}

/// A cursor over one MessagePack input. Every read checks bounds; nothing panics.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not consumed yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], MsgpackError> {
        let end = self.pos.checked_add(n).ok_or(MsgpackError::Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(MsgpackError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, MsgpackError> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], MsgpackError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len8(&mut self) -> Result<usize, MsgpackError> {
        Ok(usize::from(self.byte()?))
    }

    fn len16(&mut self) -> Result<usize, MsgpackError> {
        Ok(usize::from(u16::from_be_bytes(self.be()?)))
    }

    fn len32(&mut self) -> Result<usize, MsgpackError> {
        // u32 always fits usize on the 32/64-bit targets we build for; saturate otherwise.
        Ok(usize::try_from(u32::from_be_bytes(self.be()?)).unwrap_or(usize::MAX))
    }

    /// Number of entries of a map.
    pub(crate) fn map_len(&mut self) -> Result<usize, MsgpackError> {
        let b = self.byte()?;
        match Marker::from_u8(b) {
            Marker::FixMap(n) => Ok(usize::from(n)),
            Marker::Map16 => self.len16(),
            Marker::Map32 => self.len32(),
            _ => Err(unexpected("map", b)),
        }
    }

    /// A raw/str/bin value (nil reads as empty, as Go decodes nil into a nil slice).
    pub(crate) fn raw(&mut self) -> Result<&'a [u8], MsgpackError> {
        let b = self.byte()?;
        let len = match Marker::from_u8(b) {
            Marker::Null => 0,
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 | Marker::Bin8 => self.len8()?,
            Marker::Str16 | Marker::Bin16 => self.len16()?,
            Marker::Str32 | Marker::Bin32 => self.len32()?,
            _ => return Err(unexpected("string or bytes", b)),
        };
        self.take(len)
    }

    /// A string field; memberlist's names are ASCII in practice, so non-UTF-8 is malformed.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, MsgpackError> {
        let raw = self.raw()?;
        String::from_utf8(raw.to_vec()).map_err(|_| MsgpackError::NotUtf8 { field })
    }

    /// A byte list that Go may have written as raw (its `[]uint8` habit) or, from other
    /// encoders, as an array of small integers. The raw form is borrowed, not copied: push/pull
    /// decoding reads one per member.
    pub(crate) fn byte_list(&mut self, field: &'static str) -> Result<Cow<'a, [u8]>, MsgpackError> {
        let b = *self.buf.get(self.pos).ok_or(MsgpackError::Truncated)?;
        let len = match Marker::from_u8(b) {
            Marker::FixArray(n) => {
                self.pos += 1;
                usize::from(n)
            }
            Marker::Array16 => {
                self.pos += 1;
                self.len16()?
            }
            Marker::Array32 => {
                self.pos += 1;
                self.len32()?
            }
            _ => return Ok(Cow::Borrowed(self.raw()?)),
        };
        let mut out = Vec::with_capacity(len.min(self.rest().len()));
        for _ in 0..len {
            out.push(self.uint_as(field)?);
        }
        Ok(Cow::Owned(out))
    }

    /// Any integer form whose value is non-negative (Go's decoder converts between widths).
    pub(crate) fn uint(&mut self, field: &'static str) -> Result<u64, MsgpackError> {
        let b = self.byte()?;
        let signed = |v: i64| u64::try_from(v).map_err(|_| MsgpackError::OutOfRange { field });
        match Marker::from_u8(b) {
            Marker::FixPos(v) => Ok(u64::from(v)),
            Marker::U8 => Ok(u64::from(self.byte()?)),
            Marker::U16 => Ok(u64::from(u16::from_be_bytes(self.be()?))),
            Marker::U32 => Ok(u64::from(u32::from_be_bytes(self.be()?))),
            Marker::U64 => Ok(u64::from_be_bytes(self.be()?)),
            Marker::FixNeg(v) => signed(i64::from(v)),
            Marker::I8 => signed(i64::from(i8::from_be_bytes(self.be()?))),
            Marker::I16 => signed(i64::from(i16::from_be_bytes(self.be()?))),
            Marker::I32 => signed(i64::from(i32::from_be_bytes(self.be()?))),
            Marker::I64 => signed(i64::from_be_bytes(self.be()?)),
            _ => Err(unexpected("integer", b)),
        }
    }

    /// An integer narrowed to the Go field's type.
    pub(crate) fn uint_as<T: TryFrom<u64>>(
        &mut self,
        field: &'static str,
    ) -> Result<T, MsgpackError> {
        T::try_from(self.uint(field)?).map_err(|_| MsgpackError::OutOfRange { field })
    }

    pub(crate) fn bool(&mut self) -> Result<bool, MsgpackError> {
        let b = self.byte()?;
        match Marker::from_u8(b) {
            Marker::True => Ok(true),
            Marker::False => Ok(false),
            _ => Err(unexpected("bool", b)),
        }
    }

    /// Steps over one value of any kind: unknown struct fields are skipped, as go-msgpack does
    /// without `ErrorIfNoField` (that is how old peers ignore fields newer ones add).
    pub(crate) fn skip(&mut self) -> Result<(), MsgpackError> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: usize) -> Result<(), MsgpackError> {
        if depth > MAX_SKIP_DEPTH {
            return Err(MsgpackError::TooDeep);
        }
        let b = self.byte()?;
        let (data, items) = match Marker::from_u8(b) {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
                (0, 0)
            }
            Marker::U8 | Marker::I8 => (1, 0),
            Marker::U16 | Marker::I16 => (2, 0),
            Marker::U32 | Marker::I32 | Marker::F32 => (4, 0),
            Marker::U64 | Marker::I64 | Marker::F64 => (8, 0),
            Marker::FixStr(n) => (usize::from(n), 0),
            Marker::Str8 | Marker::Bin8 => (self.len8()?, 0),
            Marker::Str16 | Marker::Bin16 => (self.len16()?, 0),
            Marker::Str32 | Marker::Bin32 => (self.len32()?, 0),
            Marker::FixArray(n) => (0, usize::from(n)),
            Marker::Array16 => (0, self.len16()?),
            Marker::Array32 => (0, self.len32()?),
            Marker::FixMap(n) => (0, usize::from(n) * 2),
            Marker::Map16 => (0, self.len16()?.saturating_mul(2)),
            Marker::Map32 => (0, self.len32()?.saturating_mul(2)),
            Marker::FixExt1 => (2, 0),
            Marker::FixExt2 => (3, 0),
            Marker::FixExt4 => (5, 0),
            Marker::FixExt8 => (9, 0),
            Marker::FixExt16 => (17, 0),
            Marker::Ext8 => (self.len8()?.saturating_add(1), 0),
            Marker::Ext16 => (self.len16()?.saturating_add(1), 0),
            Marker::Ext32 => (self.len32()?.saturating_add(1), 0),
            Marker::Reserved => return Err(unexpected("a MessagePack value", b)),
        };
        self.take(data)?;
        for _ in 0..items {
            self.skip_depth(depth + 1)?;
        }
        Ok(())
    }

    /// Reads a map into a struct: `field` handles the keys it knows and returns `false` for
    /// the others, which are skipped. Missing fields keep their defaults, duplicates overwrite,
    /// as in Go.
    pub(crate) fn fields<E: From<MsgpackError>>(
        &mut self,
        mut field: impl FnMut(&[u8], &mut Self) -> Result<bool, E>,
    ) -> Result<(), E> {
        let n = self.map_len()?;
        for _ in 0..n {
            let key = self.raw()?;
            if !field(key, self)? {
                self.skip()?;
            }
        }
        Ok(())
    }
}

fn unexpected(expected: &'static str, marker: u8) -> MsgpackError {
    MsgpackError::Unexpected { expected, marker }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut Writer::new(&mut out));
        out
    }

    #[test]
    fn uints_take_the_smallest_go_form() {
        let cases: [(u64, &[u8]); 8] = [
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xcc, 0x80]),
            (255, &[0xcc, 0xff]),
            (7946, &[0xcd, 0x1f, 0x0a]),
            (70000, &[0xce, 0x00, 0x01, 0x11, 0x70]),
            (u64::from(u32::MAX), &[0xce, 0xff, 0xff, 0xff, 0xff]),
            (1 << 32, &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
        ];
        for (value, bytes) in cases {
            assert_eq!(enc(|w| w.uint(value)), bytes, "encode {value}");
            assert_eq!(Reader::new(bytes).uint("x"), Ok(value), "decode {value}");
        }
    }

    #[test]
    fn raw_never_uses_str8_or_bin() {
        let s31 = vec![b'a'; 31];
        let s32 = vec![b'a'; 32];
        let s300 = vec![b'a'; 300];
        assert_eq!(enc(|w| w.raw(&s31))[0], 0xbf);
        assert_eq!(enc(|w| w.raw(&s32))[..3], [0xda, 0x00, 0x20]);
        assert_eq!(enc(|w| w.raw(&s300))[..3], [0xda, 0x01, 0x2c]);
        let s70k = vec![0u8; 70_000];
        assert_eq!(enc(|w| w.raw(&s70k))[..5], [0xdb, 0x00, 0x01, 0x11, 0x70]);
        assert_eq!(enc(|w| w.raw_or_nil(&[])), [0xc0]);
    }

    #[test]
    fn reader_accepts_every_string_and_binary_form() {
        let forms: [&[u8]; 7] = [
            &[0xa2, b'h', b'i'],
            &[0xd9, 2, b'h', b'i'],
            &[0xda, 0, 2, b'h', b'i'],
            &[0xdb, 0, 0, 0, 2, b'h', b'i'],
            &[0xc4, 2, b'h', b'i'],
            &[0xc5, 0, 2, b'h', b'i'],
            &[0xc6, 0, 0, 0, 2, b'h', b'i'],
        ];
        for form in forms {
            assert_eq!(Reader::new(form).raw(), Ok(&b"hi"[..]), "{form:x?}");
        }
        assert_eq!(Reader::new(&[0xc0]).raw(), Ok(&b""[..]));
    }

    #[test]
    fn reader_accepts_non_negative_signed_integers_and_rejects_negative_ones() {
        assert_eq!(Reader::new(&[0xd0, 0x05]).uint("x"), Ok(5));
        assert_eq!(
            Reader::new(&[0xd3, 0, 0, 0, 0, 0, 0, 1, 0]).uint("x"),
            Ok(256)
        );
        assert_eq!(
            Reader::new(&[0xff]).uint("SeqNo"),
            Err(MsgpackError::OutOfRange { field: "SeqNo" })
        );
        assert_eq!(
            Reader::new(&[0xcd, 1, 0]).uint_as::<u8>("Vsn"),
            Err(MsgpackError::OutOfRange { field: "Vsn" })
        );
    }

    #[test]
    fn byte_lists_read_from_raw_or_array() {
        let list = |bytes: &[u8]| Reader::new(bytes).byte_list("Vsn").map(Cow::into_owned);
        assert_eq!(list(&[0xa2, 1, 5]), Ok(vec![1, 5]));
        assert_eq!(list(&[0x92, 1, 5]), Ok(vec![1, 5]));
    }

    #[test]
    fn skip_steps_over_nested_values_and_bounds_depth() {
        // {"a": [1, {"b": nil}], "c": 1.0f64} then a trailing 0x07
        let mut input = vec![
            0x82, 0xa1, b'a', 0x92, 0x01, 0x81, 0xa1, b'b', 0xc0, 0xa1, b'c', 0xcb,
        ];
        input.extend_from_slice(&1.0f64.to_be_bytes());
        input.push(0x07);
        let mut r = Reader::new(&input);
        assert_eq!(r.skip(), Ok(()));
        assert_eq!(r.rest(), &[0x07]);

        let deep = vec![0x91; 100];
        assert_eq!(Reader::new(&deep).skip(), Err(MsgpackError::TooDeep));
    }

    #[test]
    fn truncation_is_an_error_not_a_panic() {
        for input in [
            &[0xda, 0x00][..],
            &[0xa5, b'a'],
            &[0xce, 1, 2],
            &[0x81, 0xa1, b'k'],
            &[],
        ] {
            let mut r = Reader::new(input);
            assert!(r.skip().is_err(), "{input:x?}");
        }
        assert_eq!(
            Reader::new(&[0xdb, 0xff, 0xff, 0xff, 0xff]).raw(),
            Err(MsgpackError::Truncated)
        );
    }
}
