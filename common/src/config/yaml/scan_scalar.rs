//! yaml.v2's scalar scanners: block (`|`, `>`), quoted and plain scalars, with libyaml's
//! line folding and its error texts.

use super::scanner::{Scanner, text};
use super::token::{ScalarStyle, Tok, Token};
use super::{Mark, YamlError};

/// Folds a line break between two non-empty lines as YAML does: one `\n` becomes a space,
/// more are kept minus the first; LS/PS breaks are kept as written.
fn fold(s: &mut Vec<u8>, leading_break: &mut Vec<u8>, trailing_breaks: &mut Vec<u8>) {
    if leading_break.first() == Some(&b'\n') {
        if trailing_breaks.is_empty() {
            s.push(b' ');
        } else {
            s.extend_from_slice(trailing_breaks);
        }
    } else {
        s.extend_from_slice(leading_break);
        s.extend_from_slice(trailing_breaks);
    }
    leading_break.clear();
    trailing_breaks.clear();
}

impl Scanner<'_> {
    pub(super) fn scan_block_scalar(&mut self, literal: bool) -> Result<Token, YamlError> {
        let start = self.r.mark;
        self.r.skip();
        self.r.cache(1)?;
        let mut chomping = 0i8;
        let mut increment = 0usize;
        let zero_indent = "found an indentation indicator equal to 0";
        if self.r.is(0, b'+') || self.r.is(0, b'-') {
            chomping = if self.r.is(0, b'+') { 1 } else { -1 };
            self.r.skip();
            self.r.cache(1)?;
            if self.r.is_digit(0) {
                if self.r.is(0, b'0') {
                    return Err(self.error(start, zero_indent));
                }
                increment = usize::from(self.r.at(0) - b'0');
                self.r.skip();
            }
        } else if self.r.is_digit(0) {
            if self.r.is(0, b'0') {
                return Err(self.error(start, zero_indent));
            }
            increment = usize::from(self.r.at(0) - b'0');
            self.r.skip();
            self.r.cache(1)?;
            if self.r.is(0, b'+') || self.r.is(0, b'-') {
                chomping = if self.r.is(0, b'+') { 1 } else { -1 };
                self.r.skip();
            }
        }
        self.r.cache(1)?;
        while self.r.is_blank(0) {
            self.r.skip();
            self.r.cache(1)?;
        }
        if self.r.is(0, b'#') {
            while !self.r.is_breakz(0) {
                self.r.skip();
                self.r.cache(1)?;
            }
        }
        if !self.r.is_breakz(0) {
            return Err(self.error(start, "did not find expected comment or line break"));
        }
        if self.r.is_break(0) {
            self.r.cache(2)?;
            self.r.skip_line();
        }
        let mut end = self.r.mark;
        let mut indent = 0usize;
        if increment > 0 {
            indent = if self.indent >= 0 {
                self.indent as usize + increment
            } else {
                increment
            };
        }
        let (mut s, mut leading_break, mut trailing_breaks) = (Vec::new(), Vec::new(), Vec::new());
        self.block_scalar_breaks(&mut indent, &mut trailing_breaks, start, &mut end)?;
        self.r.cache(1)?;
        let mut leading_blank = false;
        while self.r.mark.column == indent && !self.r.is_z(0) {
            let trailing_blank = self.r.is_blank(0);
            if !literal
                && !leading_blank
                && !trailing_blank
                && leading_break.first() == Some(&b'\n')
            {
                if trailing_breaks.is_empty() {
                    s.push(b' ');
                }
            } else {
                s.extend_from_slice(&leading_break);
            }
            leading_break.clear();
            s.append(&mut trailing_breaks);
            leading_blank = self.r.is_blank(0);
            while !self.r.is_breakz(0) {
                self.r.read(&mut s);
                self.r.cache(1)?;
            }
            self.r.cache(2)?;
            self.r.read_line(&mut leading_break);
            self.block_scalar_breaks(&mut indent, &mut trailing_breaks, start, &mut end)?;
        }
        if chomping != -1 {
            s.extend_from_slice(&leading_break);
        }
        if chomping == 1 {
            s.extend_from_slice(&trailing_breaks);
        }
        let style = if literal {
            ScalarStyle::Literal
        } else {
            ScalarStyle::Folded
        };
        Ok(Token {
            tok: Tok::Scalar {
                value: text(s),
                style,
            },
            start,
            end,
        })
    }

    /// Skips the indentation and empty lines of a block scalar, collecting the breaks, and
    /// settles the indentation when it was not given.
    fn block_scalar_breaks(
        &mut self,
        indent: &mut usize,
        breaks: &mut Vec<u8>,
        start: Mark,
        end: &mut Mark,
    ) -> Result<(), YamlError> {
        *end = self.r.mark;
        let mut max_indent = 0;
        loop {
            self.r.cache(1)?;
            while (*indent == 0 || self.r.mark.column < *indent) && self.r.is_space(0) {
                self.r.skip();
                self.r.cache(1)?;
            }
            max_indent = max_indent.max(self.r.mark.column);
            if (*indent == 0 || self.r.mark.column < *indent) && self.r.is_tab(0) {
                return Err(self.error(
                    start,
                    "found a tab character where an indentation space is expected",
                ));
            }
            if !self.r.is_break(0) {
                break;
            }
            self.r.cache(2)?;
            self.r.read_line(breaks);
            *end = self.r.mark;
        }
        if *indent == 0 {
            let floor = (self.indent + 1).max(1) as usize;
            *indent = max_indent.max(floor);
        }
        Ok(())
    }

    pub(super) fn scan_flow_scalar(&mut self, single: bool) -> Result<Token, YamlError> {
        let start = self.r.mark;
        self.r.skip();
        let (mut s, mut leading_break, mut trailing_breaks, mut whitespaces) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        loop {
            self.r.cache(4)?;
            if self.r.at_document_indicator() {
                return Err(self.error(start, "found unexpected document indicator"));
            }
            if self.r.is_z(0) {
                return Err(self.error(start, "found unexpected end of stream"));
            }
            let mut leading_blanks = false;
            while !self.r.is_blankz(0) {
                let c = self.r.at(0);
                if single && c == b'\'' && self.r.is(1, b'\'') {
                    s.push(b'\'');
                    self.r.skip();
                    self.r.skip();
                } else if single && c == b'\'' || !single && c == b'"' {
                    break;
                } else if !single && c == b'\\' && self.r.is_break(1) {
                    self.r.cache(3)?;
                    self.r.skip();
                    self.r.skip_line();
                    leading_blanks = true;
                    break;
                } else if !single && c == b'\\' {
                    self.escape(&mut s, start)?;
                } else {
                    self.r.read(&mut s);
                }
                self.r.cache(2)?;
            }
            self.r.cache(1)?;
            if self.r.is(0, if single { b'\'' } else { b'"' }) {
                break;
            }
            while self.r.is_blank(0) || self.r.is_break(0) {
                if self.r.is_blank(0) {
                    if leading_blanks {
                        self.r.skip();
                    } else {
                        self.r.read(&mut whitespaces);
                    }
                } else {
                    self.r.cache(2)?;
                    if leading_blanks {
                        self.r.read_line(&mut trailing_breaks);
                    } else {
                        whitespaces.clear();
                        self.r.read_line(&mut leading_break);
                        leading_blanks = true;
                    }
                }
                self.r.cache(1)?;
            }
            if leading_blanks {
                fold(&mut s, &mut leading_break, &mut trailing_breaks);
            } else {
                s.append(&mut whitespaces);
            }
        }
        self.r.skip();
        let end = self.r.mark;
        let style = if single {
            ScalarStyle::SingleQuoted
        } else {
            ScalarStyle::DoubleQuoted
        };
        Ok(Token {
            tok: Tok::Scalar {
                value: text(s),
                style,
            },
            start,
            end,
        })
    }

    /// One `\` escape of a double-quoted scalar.
    fn escape(&mut self, s: &mut Vec<u8>, start: Mark) -> Result<(), YamlError> {
        let simple: Option<&[u8]> = match self.r.at(1) {
            b'0' => Some(b"\0"),
            b'a' => Some(b"\x07"),
            b'b' => Some(b"\x08"),
            b't' | b'\t' => Some(b"\t"),
            b'n' => Some(b"\n"),
            b'v' => Some(b"\x0B"),
            b'f' => Some(b"\x0C"),
            b'r' => Some(b"\r"),
            b'e' => Some(b"\x1B"),
            b' ' => Some(b" "),
            b'"' => Some(b"\""),
            b'\'' => Some(b"'"),
            b'\\' => Some(b"\\"),
            b'N' => Some("\u{85}".as_bytes()),
            b'_' => Some("\u{A0}".as_bytes()),
            b'L' => Some("\u{2028}".as_bytes()),
            b'P' => Some("\u{2029}".as_bytes()),
            b'x' | b'u' | b'U' => None,
            _ => return Err(self.error(start, "found unknown escape character")),
        };
        let code_length = match self.r.at(1) {
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            _ => 0,
        };
        if let Some(bytes) = simple {
            s.extend_from_slice(bytes);
        }
        self.r.skip();
        self.r.skip();
        if code_length > 0 {
            self.r.cache(code_length)?;
            let mut value = 0u32;
            for k in 0..code_length {
                if !self.r.is_hex(k) {
                    return Err(self.error(start, "did not find expected hexdecimal number"));
                }
                value = (value << 4) + self.r.as_hex(k);
            }
            let Some(c) = char::from_u32(value) else {
                return Err(self.error(start, "found invalid Unicode character escape code"));
            };
            let mut buf = [0u8; 4];
            s.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            for _ in 0..code_length {
                self.r.skip();
            }
        }
        Ok(())
    }

    pub(super) fn scan_plain_scalar(&mut self) -> Result<Token, YamlError> {
        let (mut s, mut leading_break, mut trailing_breaks, mut whitespaces) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut leading_blanks = false;
        let indent = self.indent + 1;
        let start = self.r.mark;
        let mut end = self.r.mark;
        loop {
            self.r.cache(4)?;
            if self.r.at_document_indicator() || self.r.is(0, b'#') {
                break;
            }
            while !self.r.is_blankz(0) {
                let c = self.r.at(0);
                if (c == b':' && self.r.is_blankz(1))
                    || (self.flow_level > 0 && b",?[]{}".contains(&c))
                {
                    break;
                }
                if leading_blanks {
                    fold(&mut s, &mut leading_break, &mut trailing_breaks);
                    leading_blanks = false;
                } else if !whitespaces.is_empty() {
                    s.append(&mut whitespaces);
                }
                self.r.read(&mut s);
                end = self.r.mark;
                self.r.cache(2)?;
            }
            if !(self.r.is_blank(0) || self.r.is_break(0)) {
                break;
            }
            self.r.cache(1)?;
            while self.r.is_blank(0) || self.r.is_break(0) {
                if self.r.is_blank(0) {
                    if leading_blanks && (self.r.mark.column as i64) < indent && self.r.is_tab(0) {
                        return Err(
                            self.error(start, "found a tab character that violates indentation")
                        );
                    }
                    if leading_blanks {
                        self.r.skip();
                    } else {
                        self.r.read(&mut whitespaces);
                    }
                } else {
                    self.r.cache(2)?;
                    if leading_blanks {
                        self.r.read_line(&mut trailing_breaks);
                    } else {
                        whitespaces.clear();
                        self.r.read_line(&mut leading_break);
                        leading_blanks = true;
                    }
                }
                self.r.cache(1)?;
            }
            if self.flow_level == 0 && (self.r.mark.column as i64) < indent {
                break;
            }
        }
        if leading_blanks {
            self.simple_key_allowed = true;
        }
        Ok(Token {
            tok: Tok::Scalar {
                value: text(s),
                style: ScalarStyle::Plain,
            },
            start,
            end,
        })
    }
}
