//! yaml.v2's scanners for directives (`%YAML`, `%TAG`), anchors, aliases and tags.

use super::scanner::{Scanner, text};
use super::token::{Tok, Token};
use super::{Mark, YamlError};

/// Characters allowed in a tag URI besides letters, digits, `_` and `-`.
const URI_CHARS: &[u8] = b";/?:@&=+$,.!~*'()[]%";

impl Scanner<'_> {
    /// Skips blanks, a comment and the line break ending a directive.
    fn end_of_directive(&mut self, start: Mark) -> Result<(), YamlError> {
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
        Ok(())
    }

    pub(super) fn scan_directive(&mut self) -> Result<Token, YamlError> {
        let start = self.r.mark;
        self.r.skip();
        let name = self.scan_directive_name(start)?;
        let tok = match name.as_slice() {
            b"YAML" => {
                self.r.cache(1)?;
                while self.r.is_blank(0) {
                    self.r.skip();
                    self.r.cache(1)?;
                }
                let major = self.scan_version_number(start)?;
                if !self.r.is(0, b'.') {
                    return Err(self.error(start, "did not find expected digit or '.' character"));
                }
                self.r.skip();
                let minor = self.scan_version_number(start)?;
                Tok::VersionDirective { major, minor }
            }
            b"TAG" => {
                let (handle, prefix) = self.scan_tag_directive_value(start)?;
                Tok::TagDirective { handle, prefix }
            }
            _ => return Err(self.error(start, "found unknown directive name")),
        };
        let end = self.r.mark;
        self.end_of_directive(start)?;
        Ok(Token { tok, start, end })
    }

    fn scan_directive_name(&mut self, start: Mark) -> Result<Vec<u8>, YamlError> {
        self.r.cache(1)?;
        let mut s = Vec::new();
        while self.r.is_alpha(0) {
            self.r.read(&mut s);
            self.r.cache(1)?;
        }
        if s.is_empty() {
            return Err(self.error(start, "could not find expected directive name"));
        }
        if !self.r.is_blankz(0) {
            return Err(self.error(start, "found unexpected non-alphabetical character"));
        }
        Ok(s)
    }

    /// One or two digits of a `%YAML` version.
    fn scan_version_number(&mut self, start: Mark) -> Result<u8, YamlError> {
        self.r.cache(1)?;
        let (mut value, mut length) = (0u8, 0);
        while self.r.is_digit(0) {
            length += 1;
            if length > 2 {
                return Err(self.error(start, "found extremely long version number"));
            }
            value = value * 10 + (self.r.at(0) - b'0');
            self.r.skip();
            self.r.cache(1)?;
        }
        if length == 0 {
            return Err(self.error(start, "did not find expected version number"));
        }
        Ok(value)
    }

    fn scan_tag_directive_value(&mut self, start: Mark) -> Result<(String, String), YamlError> {
        self.r.cache(1)?;
        while self.r.is_blank(0) {
            self.r.skip();
            self.r.cache(1)?;
        }
        let handle = self.scan_tag_handle(true, start)?;
        self.r.cache(1)?;
        if !self.r.is_blank(0) {
            return Err(self.error(start, "did not find expected whitespace"));
        }
        while self.r.is_blank(0) {
            self.r.skip();
            self.r.cache(1)?;
        }
        let prefix = self.scan_tag_uri(&[], start)?;
        self.r.cache(1)?;
        if !self.r.is_blankz(0) {
            return Err(self.error(start, "did not find expected whitespace or line break"));
        }
        Ok((text(handle), text(prefix)))
    }

    pub(super) fn scan_anchor(&mut self, alias: bool) -> Result<Token, YamlError> {
        let start = self.r.mark;
        self.r.skip();
        self.r.cache(1)?;
        let mut s = Vec::new();
        while self.r.is_alpha(0) {
            self.r.read(&mut s);
            self.r.cache(1)?;
        }
        let end = self.r.mark;
        if s.is_empty() || !(self.r.is_blankz(0) || b"?:,]}%@`".contains(&self.r.at(0))) {
            return Err(self.error(
                start,
                "did not find expected alphabetic or numeric character",
            ));
        }
        let name = text(s);
        let tok = if alias {
            Tok::Alias(name)
        } else {
            Tok::Anchor(name)
        };
        Ok(Token { tok, start, end })
    }

    pub(super) fn scan_tag(&mut self) -> Result<Token, YamlError> {
        let start = self.r.mark;
        self.r.cache(2)?;
        let (handle, suffix);
        if self.r.is(1, b'<') {
            // Verbatim: `!<uri>`.
            self.r.skip();
            self.r.skip();
            suffix = self.scan_tag_uri(&[], start)?;
            if !self.r.is(0, b'>') {
                return Err(self.error(start, "did not find the expected '>'"));
            }
            self.r.skip();
            handle = Vec::new();
        } else {
            let h = self.scan_tag_handle(false, start)?;
            if h.len() > 1 && h.first() == Some(&b'!') && h.last() == Some(&b'!') {
                // `!handle!suffix`.
                handle = h;
                suffix = self.scan_tag_uri(&[], start)?;
            } else {
                // `!suffix` (the handle read so far is part of it), or a lone `!`.
                let s = self.scan_tag_uri(&h, start)?;
                if s.is_empty() {
                    (handle, suffix) = (Vec::new(), b"!".to_vec());
                } else {
                    (handle, suffix) = (b"!".to_vec(), s);
                }
            }
        }
        self.r.cache(1)?;
        if !self.r.is_blankz(0) {
            return Err(self.error(start, "did not find expected whitespace or line break"));
        }
        let end = self.r.mark;
        Ok(Token {
            tok: Tok::Tag {
                handle: text(handle),
                suffix: text(suffix),
            },
            start,
            end,
        })
    }

    fn scan_tag_handle(&mut self, directive: bool, start: Mark) -> Result<Vec<u8>, YamlError> {
        self.r.cache(1)?;
        if !self.r.is(0, b'!') {
            return Err(self.error(start, "did not find expected '!'"));
        }
        let mut s = Vec::new();
        self.r.read(&mut s);
        self.r.cache(1)?;
        while self.r.is_alpha(0) {
            self.r.read(&mut s);
            self.r.cache(1)?;
        }
        if self.r.is(0, b'!') {
            self.r.read(&mut s);
        } else if directive && s != b"!" {
            return Err(self.error(start, "did not find expected '!'"));
        }
        Ok(s)
    }

    /// A tag URI; `head` is a handle already read that belongs to it (minus its `!`).
    fn scan_tag_uri(&mut self, head: &[u8], start: Mark) -> Result<Vec<u8>, YamlError> {
        let mut has_tag = !head.is_empty();
        let mut s = head.get(1..).unwrap_or_default().to_vec();
        self.r.cache(1)?;
        while self.r.is_alpha(0) || URI_CHARS.contains(&self.r.at(0)) {
            if self.r.is(0, b'%') {
                self.scan_uri_escapes(start, &mut s)?;
            } else {
                self.r.read(&mut s);
            }
            self.r.cache(1)?;
            has_tag = true;
        }
        if !has_tag {
            return Err(self.error(start, "did not find expected tag URI"));
        }
        Ok(s)
    }

    /// `%XX` escapes forming one UTF-8 character.
    fn scan_uri_escapes(&mut self, start: Mark, s: &mut Vec<u8>) -> Result<(), YamlError> {
        let mut w = 1024;
        while w > 0 {
            self.r.cache(3)?;
            if !(self.r.is(0, b'%') && self.r.is_hex(1) && self.r.is_hex(2)) {
                return Err(self.error(start, "did not find URI escaped octet"));
            }
            let octet = ((self.r.as_hex(1) << 4) + self.r.as_hex(2)) as u8;
            if w == 1024 {
                w = super::reader::width(octet);
                if w == 0 {
                    return Err(self.error(start, "found an incorrect leading UTF-8 octet"));
                }
            } else if octet & 0xC0 != 0x80 {
                return Err(self.error(start, "found an incorrect trailing UTF-8 octet"));
            }
            s.push(octet);
            self.r.skip();
            self.r.skip();
            self.r.skip();
            w -= 1;
        }
        Ok(())
    }
}
