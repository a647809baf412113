//! LZW as memberlist uses it: Go's `compress/lzw` with LSB bit order and 8-bit literals.
//!
//! memberlist compresses every stream and any datagram that shrinks (`compress` message,
//! algorithm 0). The encoder is a line-by-line port of Go 1.19's `lzw.Writer`, including its
//! hash table and its leading clear code, so our output is byte-identical to Go's (checked
//! against golden vectors); older Go writers omitted the leading clear code, which the decoder
//! accepts either way. The decoder ports `lzw.Reader`: a stream must end with the EOF code,
//! or it is an error, exactly as Go reports `io.ErrUnexpectedEOF`.

use thiserror::Error;

const LIT_WIDTH: u32 = 8;
const MAX_WIDTH: u32 = 12;
const CLEAR: u32 = 1 << LIT_WIDTH;
const EOF: u32 = CLEAR + 1;
const MAX_CODE: u32 = (1 << MAX_WIDTH) - 1;
const TABLE_SIZE: usize = 4 << MAX_WIDTH;
const TABLE_MASK: u32 = (TABLE_SIZE as u32) - 1;
/// Index mask for the decoder's 4096-entry tables; codes never exceed it by construction, the
/// mask makes that visible to the reader (and to the compiler).
const CODE_MASK: usize = (1 << MAX_WIDTH) - 1;

/// Why an LZW stream could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LzwError {
    /// The input ended before the EOF code.
    #[error("LZW stream ends without an EOF code")]
    UnexpectedEof,
    /// A code above the highest one defined so far.
    #[error("invalid LZW code {0}")]
    InvalidCode(u32),
    /// The output would exceed the caller's limit (a decompression bomb).
    #[error("LZW output exceeds {0} bytes")]
    TooLarge(usize),
}

struct BitWriter {
    out: Vec<u8>,
    bits: u32,
    n_bits: u32,
    width: u32,
}

impl BitWriter {
    fn write(&mut self, code: u32) {
        self.bits |= code << self.n_bits;
        self.n_bits += self.width;
        while self.n_bits >= 8 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.n_bits -= 8;
        }
    }
}

/// Encoder state between codes (Go's `Writer` fields).
struct Encoder {
    w: BitWriter,
    hi: u32,
    overflow: u32,
    table: Box<[u32; TABLE_SIZE]>,
}

impl Encoder {
    /// Go's `incHi`: returns `false` when the code space ran out and the table was reset
    /// (Go's `errOutOfCodes`), in which case no table entry may be added.
    fn inc_hi(&mut self) -> bool {
        self.hi += 1;
        if self.hi == self.overflow {
            self.w.width += 1;
            self.overflow <<= 1;
        }
        if self.hi == MAX_CODE {
            self.w.write(CLEAR);
            self.w.width = LIT_WIDTH + 1;
            self.hi = CLEAR + 1;
            self.overflow = CLEAR << 1;
            self.table.fill(0);
            return false;
        }
        true
    }
}

/// Compresses `input` exactly as `lzw.NewWriter(w, lzw.LSB, 8)` + `Write` + `Close` does.
pub fn compress(input: &[u8]) -> Vec<u8> {
    let mut e = Encoder {
        w: BitWriter {
            out: Vec::with_capacity(input.len() / 2 + 8),
            bits: 0,
            n_bits: 0,
            width: LIT_WIDTH + 1,
        },
        hi: EOF,
        overflow: 1 << (LIT_WIDTH + 1),
        table: Box::new([0; TABLE_SIZE]),
    };
    e.w.write(CLEAR);
    if let Some((&first, rest)) = input.split_first() {
        let mut code = u32::from(first);
        'next: for &x in rest {
            let literal = u32::from(x);
            let key = (code << 8) | literal;
            let mut hash = ((key >> 12) ^ key) & TABLE_MASK;
            let mut h = hash;
            loop {
                let t = e.table[h as usize];
                if t == 0 {
                    break;
                }
                if key == t >> 12 {
                    code = t & MAX_CODE;
                    continue 'next;
                }
                h = (h + 1) & TABLE_MASK;
            }
            e.w.write(code);
            code = literal;
            if !e.inc_hi() {
                continue;
            }
            while e.table[hash as usize] != 0 {
                hash = (hash + 1) & TABLE_MASK;
            }
            e.table[hash as usize] = (key << 12) | e.hi;
        }
        e.w.write(code);
        e.inc_hi();
    }
    // An empty input is just the clear code and EOF, as Go's Close writes it.
    e.w.write(EOF);
    if e.w.n_bits > 0 {
        e.w.out.push(e.w.bits as u8);
    }
    e.w.out
}

/// Decompresses a Go LZW (LSB, 8-bit) stream, refusing to produce more than `limit` bytes.
pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, LzwError> {
    let mut bytes = input.iter();
    let (mut bits, mut n_bits, mut width) = (0u32, 0u32, LIT_WIDTH + 1);
    let (mut hi, mut overflow) = (EOF, 1u32 << width);
    let mut last: Option<u32> = None;
    let mut suffix = vec![0u8; CODE_MASK + 1];
    let mut prefix = vec![0u16; CODE_MASK + 1];
    let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(limit));
    let mut scratch = Vec::new();
    loop {
        while n_bits < width {
            let b = bytes.next().ok_or(LzwError::UnexpectedEof)?;
            bits |= u32::from(*b) << n_bits;
            n_bits += 8;
        }
        let code = bits & ((1 << width) - 1);
        bits >>= width;
        n_bits -= width;

        if code < CLEAR {
            out.push(code as u8);
            if let Some(l) = last {
                suffix[hi as usize & CODE_MASK] = code as u8;
                prefix[hi as usize & CODE_MASK] = l as u16;
            }
        } else if code == CLEAR {
            width = LIT_WIDTH + 1;
            hi = EOF;
            overflow = 1 << width;
            last = None;
            continue;
        } else if code == EOF {
            return Ok(out);
        } else if code <= hi {
            scratch.clear();
            let mut c = code;
            if let (true, Some(l)) = (code == hi, last) {
                // The KwKwK case: the string for `last` followed by its own first byte.
                scratch.push(first_byte(l, &prefix)?);
                c = l;
            }
            let mut steps = 0;
            while c >= CLEAR {
                scratch.push(suffix[c as usize & CODE_MASK]);
                c = u32::from(prefix[c as usize & CODE_MASK]);
                steps += 1;
                if steps > CODE_MASK {
                    return Err(LzwError::InvalidCode(code));
                }
            }
            scratch.push(c as u8);
            out.extend(scratch.iter().rev());
            if let Some(l) = last {
                suffix[hi as usize & CODE_MASK] = c as u8;
                prefix[hi as usize & CODE_MASK] = l as u16;
            }
        } else {
            return Err(LzwError::InvalidCode(code));
        }
        last = Some(code);
        hi += 1;
        if hi >= overflow {
            if width == MAX_WIDTH {
                last = None;
                hi -= 1;
            } else {
                width += 1;
                overflow = 1 << width;
            }
        }
        if out.len() > limit {
            return Err(LzwError::TooLarge(limit));
        }
    }
}

/// First byte of the string a code stands for (walks the prefix chain to its literal).
fn first_byte(code: u32, prefix: &[u16]) -> Result<u8, LzwError> {
    let mut c = code;
    for _ in 0..=CODE_MASK {
        if c < CLEAR {
            return Ok(c as u8);
        }
        c = u32::from(prefix.get(c as usize).copied().unwrap_or(0));
    }
    Err(LzwError::InvalidCode(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_input_is_clear_then_eof() {
        // 256 and 257 in 9-bit LSB order.
        assert_eq!(compress(&[]), [0x00, 0x03, 0x02]);
        assert_eq!(decompress(&[0x00, 0x03, 0x02], 10), Ok(vec![]));
    }

    #[test]
    fn stream_without_leading_clear_code_decodes() {
        // Go before 1.17 did not write the leading clear code: 'a' (97) then EOF (257), 9 bits.
        let code = 97u32 | (257 << 9);
        let bytes = [code as u8, (code >> 8) as u8, (code >> 16) as u8];
        assert_eq!(decompress(&bytes, 10), Ok(b"a".to_vec()));
    }

    #[test]
    fn missing_eof_code_is_an_error() {
        let mut c = compress(b"hello hello hello");
        c.truncate(c.len() - 2);
        assert_eq!(decompress(&c, 100), Err(LzwError::UnexpectedEof));
    }

    #[test]
    fn code_above_table_is_an_error() {
        // clear (256), then 300 although only 257 codes exist.
        let code = 256u32 | (300 << 9);
        let bytes = [code as u8, (code >> 8) as u8, (code >> 16) as u8];
        assert_eq!(decompress(&bytes, 10), Err(LzwError::InvalidCode(300)));
    }

    #[test]
    fn output_limit_stops_bombs() {
        let c = compress(&vec![0u8; 100_000]);
        assert!(c.len() < 2_000);
        assert_eq!(decompress(&c, 50_000), Err(LzwError::TooLarge(50_000)));
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(any::<u8>(), 0..20_000)) {
            prop_assert_eq!(decompress(&compress(&data), data.len()), Ok(data));
        }

        #[test]
        fn round_trips_low_entropy(data in proptest::collection::vec(0u8..3, 0..40_000)) {
            // Few symbols fill the 4096-code table quickly, exercising the reset path.
            prop_assert_eq!(decompress(&compress(&data), data.len()), Ok(data));
        }

        #[test]
        fn arbitrary_input_is_bounded_and_never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..2_000),
        ) {
            if let Ok(out) = decompress(&data, 1 << 16) {
                prop_assert!(out.len() <= 1 << 16);
            }
        }
    }
}
