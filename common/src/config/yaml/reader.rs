//! The input as yaml.v2's scanner sees it: a cursor over the text with libyaml's character
//! classes, and the reader's chunked decoding reproduced for its one observable effect.
//!
//! yaml.v2 decodes its input 512 bytes at a time, and rejects a control character only when
//! the chunk holding it is decoded, which happens when the scanner comes within a few
//! characters of the end of the previous chunk. Which error a document with both a syntax
//! error and a control character reports therefore depends on those chunk boundaries, so
//! [`Reader::cache`] tracks them exactly. The same bookkeeping tells where yaml.v2's decoded
//! buffer starts, which its byte-order-mark check reads (docs/config.md#yaml-decoding).

use super::{Mark, YamlError};

/// yaml.v2's raw input buffer size (`input_raw_buffer_size`).
const RAW_BUFFER_SIZE: usize = 512;
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

pub(super) struct Reader<'a> {
    text: &'a str,
    input: &'a [u8],
    /// Byte offset of the next character (yaml.v2's `buffer_pos`, in input coordinates).
    pos: usize,
    /// Input offset of the decoded buffer's first byte: yaml.v2 moves the unread characters
    /// to the front of its buffer whenever it decodes more.
    base: usize,
    /// Input offset up to which characters are decoded (`raw_buffer_pos`).
    decoded: usize,
    /// Input offsets of the raw buffer's contents.
    raw_start: usize,
    raw_end: usize,
    eof: bool,
    encoding_known: bool,
    /// Decoded characters not consumed yet, with the NULs appended at end of input.
    unread: i64,
    pub(super) mark: Mark,
}

/// Bytes in the UTF-8 sequence this byte starts (0 for a continuation byte).
pub(super) fn width(b: u8) -> usize {
    match b {
        b if b & 0x80 == 0 => 1,
        b if b & 0xE0 == 0xC0 => 2,
        b if b & 0xF0 == 0xE0 => 3,
        b if b & 0xF8 == 0xF0 => 4,
        _ => 0,
    }
}

/// The characters YAML 1.1 allows in a stream (yaml.v2's reader check).
fn allowed(c: char) -> bool {
    matches!(c as u32,
        0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10_FFFF)
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            input: text.as_bytes(),
            pos: 0,
            base: 0,
            decoded: 0,
            raw_start: 0,
            raw_end: 0,
            eof: false,
            encoding_known: false,
            unread: 0,
            mark: Mark::default(),
        }
    }

    /// Ensures `n` characters are decoded ahead (yaml.v2's `cache`): the only place a
    /// reader error can surface.
    pub(super) fn cache(&mut self, n: usize) -> Result<(), YamlError> {
        let n = n as i64;
        if self.unread >= n {
            return Ok(());
        }
        if !self.encoding_known {
            self.determine_encoding();
        }
        self.base = self.pos;
        let mut first = true;
        while self.unread < n {
            if !first || self.decoded == self.raw_end {
                self.update_raw_buffer();
            }
            first = false;
            while self.decoded != self.raw_end {
                let w = width(self.input[self.decoded]);
                if w > self.raw_end - self.decoded {
                    // A character split across chunks: decoded with the next one.
                    break;
                }
                let c = self.text[self.decoded..].chars().next().unwrap_or('\0');
                if !allowed(c) {
                    return Err(YamlError::Reader("control characters are not allowed"));
                }
                self.decoded += w;
                self.unread += 1;
            }
            if self.eof {
                // yaml.v2 appends a NUL at end of input; `at` reads past the end as NUL.
                self.unread += 1;
                break;
            }
        }
        Ok(())
    }

    fn determine_encoding(&mut self) {
        while !self.eof && self.raw_end - self.decoded < 3 {
            self.update_raw_buffer();
        }
        if self.input[self.decoded..self.raw_end].starts_with(&BOM) {
            self.decoded += 3;
            self.pos = self.decoded;
        }
        self.encoding_known = true;
    }

    /// Refills the raw buffer from the input, 512 bytes at most; end of input is seen by
    /// the read after the last byte, as yaml.v2's string read handler reports it.
    fn update_raw_buffer(&mut self) {
        if self.raw_start == self.decoded && self.raw_end - self.raw_start == RAW_BUFFER_SIZE {
            return;
        }
        if self.eof {
            return;
        }
        self.raw_start = self.decoded;
        if self.raw_end == self.input.len() {
            self.eof = true;
            return;
        }
        let room = RAW_BUFFER_SIZE - (self.raw_end - self.raw_start);
        self.raw_end = (self.raw_end + room).min(self.input.len());
    }

    /// The byte `k` bytes ahead; NUL past the end of the input.
    pub(super) fn at(&self, k: usize) -> u8 {
        self.input.get(self.pos + k).copied().unwrap_or(0)
    }

    pub(super) fn is(&self, k: usize, c: u8) -> bool {
        self.at(k) == c
    }

    pub(super) fn is_alpha(&self, k: usize) -> bool {
        let b = self.at(k);
        b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
    }

    pub(super) fn is_digit(&self, k: usize) -> bool {
        self.at(k).is_ascii_digit()
    }

    pub(super) fn is_hex(&self, k: usize) -> bool {
        self.at(k).is_ascii_hexdigit()
    }

    pub(super) fn as_hex(&self, k: usize) -> u32 {
        char::from(self.at(k)).to_digit(16).unwrap_or(0)
    }

    pub(super) fn is_z(&self, k: usize) -> bool {
        self.at(k) == 0
    }

    pub(super) fn is_space(&self, k: usize) -> bool {
        self.at(k) == b' '
    }

    pub(super) fn is_tab(&self, k: usize) -> bool {
        self.at(k) == b'\t'
    }

    pub(super) fn is_blank(&self, k: usize) -> bool {
        matches!(self.at(k), b' ' | b'\t')
    }

    /// CR, LF, NEL, LS or PS.
    pub(super) fn is_break(&self, k: usize) -> bool {
        match self.at(k) {
            b'\r' | b'\n' => true,
            0xC2 => self.at(k + 1) == 0x85,
            0xE2 => self.at(k + 1) == 0x80 && matches!(self.at(k + 2), 0xA8 | 0xA9),
            _ => false,
        }
    }

    pub(super) fn is_breakz(&self, k: usize) -> bool {
        self.is_break(k) || self.is_z(k)
    }

    pub(super) fn is_blankz(&self, k: usize) -> bool {
        self.is_blank(k) || self.is_breakz(k)
    }

    /// yaml.v2's `is_bom` looks at the start of its decoded buffer, not at the current
    /// position (a quirk kept: it decides whether a character at column 0 is skipped).
    pub(super) fn is_bom(&self) -> bool {
        (0..3).all(|i| self.input.get(self.base + i).copied().unwrap_or(0) == BOM[i])
    }

    /// Is the scanner at a `---` or `...` line start?
    pub(super) fn at_document_indicator(&self) -> bool {
        self.mark.column == 0
            && ((self.is(0, b'-') && self.is(1, b'-') && self.is(2, b'-'))
                || (self.is(0, b'.') && self.is(1, b'.') && self.is(2, b'.')))
            && self.is_blankz(3)
    }

    pub(super) fn skip(&mut self) {
        self.mark.index += 1;
        self.mark.column += 1;
        self.unread -= 1;
        self.pos += width(self.at(0)).max(1);
    }

    pub(super) fn skip_line(&mut self) {
        if self.is(0, b'\r') && self.is(1, b'\n') {
            self.mark.index += 2;
            self.mark.column = 0;
            self.mark.line += 1;
            self.unread -= 2;
            self.pos += 2;
        } else if self.is_break(0) {
            self.mark.index += 1;
            self.mark.column = 0;
            self.mark.line += 1;
            self.unread -= 1;
            self.pos += width(self.at(0)).max(1);
        }
    }

    /// Appends the current character to `s` and moves past it.
    pub(super) fn read(&mut self, s: &mut Vec<u8>) {
        let w = width(self.at(0)).max(1);
        for k in 0..w {
            s.push(self.at(k));
        }
        self.pos += w;
        self.mark.index += 1;
        self.mark.column += 1;
        self.unread -= 1;
    }

    /// Appends the current line break to `s` (CR, LF, CRLF and NEL as `\n`; LS and PS as
    /// themselves) and moves past it.
    pub(super) fn read_line(&mut self, s: &mut Vec<u8>) {
        match (self.at(0), self.at(1), self.at(2)) {
            (b'\r', b'\n', _) => {
                s.push(b'\n');
                self.pos += 2;
                self.mark.index += 1;
                self.unread -= 1;
            }
            (b'\r' | b'\n', _, _) => {
                s.push(b'\n');
                self.pos += 1;
            }
            (0xC2, 0x85, _) => {
                s.push(b'\n');
                self.pos += 2;
            }
            (0xE2, 0x80, c @ (0xA8 | 0xA9)) => {
                s.extend_from_slice(&[0xE2, 0x80, c]);
                self.pos += 3;
            }
            _ => return,
        }
        self.mark.index += 1;
        self.mark.column = 0;
        self.mark.line += 1;
        self.unread -= 1;
    }
}
