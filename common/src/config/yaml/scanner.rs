//! yaml.v2's scanner (scannerc.go): characters to tokens, with libyaml's simple-key and
//! indentation bookkeeping, yaml.v2's depth limits and its error texts.
//!
//! The scalar, directive, anchor and tag scanners live in [`super::scan_scalar`] and
//! [`super::scan_tag`]; this module decides which token comes next.

use std::collections::{HashMap, VecDeque};

use super::reader::Reader;
use super::token::{Tok, Token};
use super::{Mark, YamlError};

/// yaml.v2's limit on nested flow collections (`max_flow_level`) and block indentation
/// levels (`max_indents`).
const MAX_DEPTH: usize = 10_000;

/// A place where a simple (implicit) key may start.
#[derive(Debug, Clone, Copy, Default)]
struct SimpleKey {
    possible: bool,
    required: bool,
    token_number: usize,
    mark: Mark,
}

pub(super) struct Scanner<'a> {
    pub(super) r: Reader<'a>,
    tokens: VecDeque<Token>,
    tokens_parsed: usize,
    token_available: bool,
    stream_start_produced: bool,
    pub(super) stream_end_produced: bool,
    pub(super) indent: i64,
    indents: Vec<i64>,
    pub(super) simple_key_allowed: bool,
    simple_keys: Vec<SimpleKey>,
    simple_keys_by_tok: HashMap<usize, usize>,
    pub(super) flow_level: usize,
}

/// Bytes scanned into a token value: always UTF-8 except after URI escapes in tags, which
/// yaml.v2 passes on as bytes; those are shown with U+FFFD per invalid byte, as Go's JSON
/// encoder would.
pub(super) fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => crate::gotext::lossy(e.as_bytes()),
    }
}

impl<'a> Scanner<'a> {
    pub(super) fn new(input: &'a str) -> Self {
        Self {
            r: Reader::new(input),
            tokens: VecDeque::new(),
            tokens_parsed: 0,
            token_available: false,
            stream_start_produced: false,
            stream_end_produced: false,
            indent: 0,
            indents: Vec::new(),
            simple_key_allowed: false,
            simple_keys: Vec::new(),
            simple_keys_by_tok: HashMap::new(),
            flow_level: 0,
        }
    }

    /// The next token, scanning as far ahead as simple keys require.
    pub(super) fn peek(&mut self) -> Result<&Token, YamlError> {
        if !self.token_available {
            self.fetch_more_tokens()?;
        }
        self.tokens
            .front()
            .ok_or(YamlError::Internal("empty token queue"))
    }

    /// Consumes the token [`Self::peek`] returned.
    pub(super) fn skip(&mut self) -> Result<Token, YamlError> {
        self.token_available = false;
        self.tokens_parsed += 1;
        let t = self
            .tokens
            .pop_front()
            .ok_or(YamlError::Internal("empty token queue"))?;
        self.stream_end_produced = t.tok == Tok::StreamEnd;
        Ok(t)
    }

    pub(super) fn error(&self, context_mark: Mark, problem: &'static str) -> YamlError {
        YamlError::Scanner {
            problem: problem.into(),
            problem_mark: self.r.mark,
            context_mark,
        }
    }

    pub(super) fn push(&mut self, tok: Tok, start: Mark, end: Mark) {
        self.tokens.push_back(Token { tok, start, end });
    }

    fn insert(&mut self, at: Option<usize>, tok: Tok, mark: Mark) {
        let token = Token {
            tok,
            start: mark,
            end: mark,
        };
        match at {
            Some(i) if i <= self.tokens.len() => self.tokens.insert(i, token),
            _ => self.tokens.push_back(token),
        }
    }

    fn fetch_more_tokens(&mut self) -> Result<(), YamlError> {
        loop {
            if !self.tokens.is_empty() {
                match self.simple_keys_by_tok.get(&self.tokens_parsed) {
                    None => break,
                    Some(&i) => {
                        if !self.simple_key_is_valid(i)? {
                            break;
                        }
                    }
                }
            }
            self.fetch_next_token()?;
        }
        self.token_available = true;
        Ok(())
    }

    fn fetch_next_token(&mut self) -> Result<(), YamlError> {
        self.r.cache(1)?;
        if !self.stream_start_produced {
            self.fetch_stream_start();
            return Ok(());
        }
        self.scan_to_next_token()?;
        self.unroll_indent(self.r.mark.column as i64);
        self.r.cache(4)?;
        let r = &self.r;
        let c = r.at(0);
        if c == 0 {
            return self.fetch_stream_end();
        }
        if r.mark.column == 0 && c == b'%' {
            return self.fetch_directive();
        }
        if r.at_document_indicator() {
            let tok = if c == b'-' {
                Tok::DocumentStart
            } else {
                Tok::DocumentEnd
            };
            return self.fetch_document_indicator(tok);
        }
        let flow = self.flow_level > 0;
        match c {
            b'[' => return self.fetch_flow_collection_start(Tok::FlowSequenceStart),
            b'{' => return self.fetch_flow_collection_start(Tok::FlowMappingStart),
            b']' => return self.fetch_flow_collection_end(Tok::FlowSequenceEnd),
            b'}' => return self.fetch_flow_collection_end(Tok::FlowMappingEnd),
            b',' => return self.fetch_flow_entry(),
            b'-' if r.is_blankz(1) => return self.fetch_block_entry(),
            b'?' if flow || r.is_blankz(1) => return self.fetch_key(),
            b':' if flow || r.is_blankz(1) => return self.fetch_value(),
            b'*' => return self.fetch_anchor(true),
            b'&' => return self.fetch_anchor(false),
            b'!' => return self.fetch_tag(),
            b'|' if !flow => return self.fetch_block_scalar(true),
            b'>' if !flow => return self.fetch_block_scalar(false),
            b'\'' => return self.fetch_flow_scalar(true),
            b'"' => return self.fetch_flow_scalar(false),
            _ => {}
        }
        let r = &self.r;
        let indicator = r.is_blankz(0) || b"-?:,[]{}#&*!|>'\"%@`".contains(&c);
        if !indicator
            || (c == b'-' && !r.is_blank(1))
            || (!flow && (c == b'?' || c == b':') && !r.is_blankz(1))
        {
            return self.fetch_plain_scalar();
        }
        Err(self.error(self.r.mark, "found character that cannot start any token"))
    }

    /// Whether the simple key at index `i` can still become a key; an impossible required
    /// key is an error.
    fn simple_key_is_valid(&mut self, i: usize) -> Result<bool, YamlError> {
        let mark = self.r.mark;
        let Some(key) = self.simple_keys.get_mut(i) else {
            return Err(YamlError::Internal("stale simple key"));
        };
        if !key.possible {
            return Ok(false);
        }
        if key.mark.line < mark.line || key.mark.index + 1024 < mark.index {
            if key.required {
                let context = key.mark;
                return Err(self.error(context, "could not find expected ':'"));
            }
            key.possible = false;
            return Ok(false);
        }
        Ok(true)
    }

    pub(super) fn save_simple_key(&mut self) -> Result<(), YamlError> {
        let required = self.flow_level == 0 && self.indent == self.r.mark.column as i64;
        if self.simple_key_allowed {
            let key = SimpleKey {
                possible: true,
                required,
                token_number: self.tokens_parsed + self.tokens.len(),
                mark: self.r.mark,
            };
            self.remove_simple_key()?;
            let last = self.simple_keys.len().saturating_sub(1);
            if let Some(slot) = self.simple_keys.get_mut(last) {
                *slot = key;
            }
            self.simple_keys_by_tok.insert(key.token_number, last);
        }
        Ok(())
    }

    pub(super) fn remove_simple_key(&mut self) -> Result<(), YamlError> {
        let Some(key) = self.simple_keys.last_mut() else {
            return Ok(());
        };
        if key.possible {
            if key.required {
                let context = key.mark;
                return Err(self.error(context, "could not find expected ':'"));
            }
            key.possible = false;
            let number = key.token_number;
            self.simple_keys_by_tok.remove(&number);
        }
        Ok(())
    }

    fn increase_flow_level(&mut self) -> Result<(), YamlError> {
        self.simple_keys.push(SimpleKey {
            possible: false,
            required: false,
            token_number: self.tokens_parsed + self.tokens.len(),
            mark: self.r.mark,
        });
        self.flow_level += 1;
        if self.flow_level > MAX_DEPTH {
            return Err(self.depth_error());
        }
        Ok(())
    }

    /// yaml.v2's "exceeded max depth" (its contexts: increasing the flow or indent level).
    fn depth_error(&self) -> YamlError {
        YamlError::Scanner {
            problem: format!("exceeded max depth of {MAX_DEPTH}").into(),
            problem_mark: self.r.mark,
            context_mark: self.simple_keys.last().map(|k| k.mark).unwrap_or_default(),
        }
    }

    fn decrease_flow_level(&mut self) {
        if self.flow_level > 0 {
            self.flow_level -= 1;
            if let Some(key) = self.simple_keys.pop() {
                self.simple_keys_by_tok.remove(&key.token_number);
            }
        }
    }

    /// Opens a block collection when `column` is deeper than the current indentation; the
    /// start token goes before token `number` when given, else at the end of the queue.
    fn roll_indent(
        &mut self,
        column: usize,
        number: Option<usize>,
        tok: Tok,
        mark: Mark,
    ) -> Result<(), YamlError> {
        if self.flow_level > 0 {
            return Ok(());
        }
        let column = column as i64;
        if self.indent < column {
            self.indents.push(self.indent);
            self.indent = column;
            if self.indents.len() > MAX_DEPTH {
                return Err(self.depth_error());
            }
            let at = number.and_then(|n| n.checked_sub(self.tokens_parsed));
            self.insert(at, tok, mark);
        }
        Ok(())
    }

    /// Closes the block collections deeper than `column`.
    fn unroll_indent(&mut self, column: i64) {
        if self.flow_level > 0 {
            return;
        }
        while self.indent > column {
            let mark = self.r.mark;
            self.push(Tok::BlockEnd, mark, mark);
            self.indent = self.indents.pop().unwrap_or(-1);
        }
    }

    fn fetch_stream_start(&mut self) {
        self.indent = -1;
        self.simple_keys.push(SimpleKey::default());
        self.simple_key_allowed = true;
        self.stream_start_produced = true;
        let mark = self.r.mark;
        self.push(Tok::StreamStart, mark, mark);
    }

    fn fetch_stream_end(&mut self) -> Result<(), YamlError> {
        if self.r.mark.column != 0 {
            self.r.mark.column = 0;
            self.r.mark.line += 1;
        }
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let mark = self.r.mark;
        self.push(Tok::StreamEnd, mark, mark);
        Ok(())
    }

    fn fetch_directive(&mut self) -> Result<(), YamlError> {
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_directive()?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_document_indicator(&mut self, tok: Tok) -> Result<(), YamlError> {
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let start = self.r.mark;
        self.r.skip();
        self.r.skip();
        self.r.skip();
        let end = self.r.mark;
        self.push(tok, start, end);
        Ok(())
    }

    /// Consumes a one-character indicator and queues its token.
    fn indicator(&mut self, tok: Tok) {
        let start = self.r.mark;
        self.r.skip();
        let end = self.r.mark;
        self.push(tok, start, end);
    }

    fn fetch_flow_collection_start(&mut self, tok: Tok) -> Result<(), YamlError> {
        self.save_simple_key()?;
        self.increase_flow_level()?;
        self.simple_key_allowed = true;
        self.indicator(tok);
        Ok(())
    }

    fn fetch_flow_collection_end(&mut self, tok: Tok) -> Result<(), YamlError> {
        self.remove_simple_key()?;
        self.decrease_flow_level();
        self.simple_key_allowed = false;
        self.indicator(tok);
        Ok(())
    }

    fn fetch_flow_entry(&mut self) -> Result<(), YamlError> {
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        self.indicator(Tok::FlowEntry);
        Ok(())
    }

    fn fetch_block_entry(&mut self) -> Result<(), YamlError> {
        if self.flow_level == 0 {
            if !self.simple_key_allowed {
                return Err(self.error(
                    self.r.mark,
                    "block sequence entries are not allowed in this context",
                ));
            }
            let mark = self.r.mark;
            self.roll_indent(mark.column, None, Tok::BlockSequenceStart, mark)?;
        }
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        self.indicator(Tok::BlockEntry);
        Ok(())
    }

    fn fetch_key(&mut self) -> Result<(), YamlError> {
        if self.flow_level == 0 {
            if !self.simple_key_allowed {
                return Err(self.error(self.r.mark, "mapping keys are not allowed in this context"));
            }
            let mark = self.r.mark;
            self.roll_indent(mark.column, None, Tok::BlockMappingStart, mark)?;
        }
        self.remove_simple_key()?;
        self.simple_key_allowed = self.flow_level == 0;
        self.indicator(Tok::Key);
        Ok(())
    }

    fn fetch_value(&mut self) -> Result<(), YamlError> {
        let last = self.simple_keys.len().saturating_sub(1);
        if self.simple_key_is_valid(last)? {
            let key = self.simple_keys[last];
            let at = key.token_number.checked_sub(self.tokens_parsed);
            self.insert(at, Tok::Key, key.mark);
            self.roll_indent(
                key.mark.column,
                Some(key.token_number),
                Tok::BlockMappingStart,
                key.mark,
            )?;
            self.simple_keys[last].possible = false;
            self.simple_keys_by_tok.remove(&key.token_number);
            self.simple_key_allowed = false;
        } else {
            if self.flow_level == 0 {
                if !self.simple_key_allowed {
                    return Err(self.error(
                        self.r.mark,
                        "mapping values are not allowed in this context",
                    ));
                }
                let mark = self.r.mark;
                self.roll_indent(mark.column, None, Tok::BlockMappingStart, mark)?;
            }
            self.simple_key_allowed = self.flow_level == 0;
        }
        self.indicator(Tok::Value);
        Ok(())
    }

    fn fetch_anchor(&mut self, alias: bool) -> Result<(), YamlError> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_anchor(alias)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_tag(&mut self) -> Result<(), YamlError> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_tag()?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_block_scalar(&mut self, literal: bool) -> Result<(), YamlError> {
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let token = self.scan_block_scalar(literal)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_flow_scalar(&mut self, single: bool) -> Result<(), YamlError> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_flow_scalar(single)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_plain_scalar(&mut self) -> Result<(), YamlError> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_plain_scalar()?;
        self.tokens.push_back(token);
        Ok(())
    }

    /// Skips white space, comments and line breaks up to the next token.
    fn scan_to_next_token(&mut self) -> Result<(), YamlError> {
        loop {
            self.r.cache(1)?;
            if self.r.mark.column == 0 && self.r.is_bom() {
                self.r.skip();
            }
            self.r.cache(1)?;
            while self.r.is(0, b' ')
                || ((self.flow_level > 0 || !self.simple_key_allowed) && self.r.is(0, b'\t'))
            {
                self.r.skip();
                self.r.cache(1)?;
            }
            if self.r.is(0, b'#') {
                while !self.r.is_breakz(0) {
                    self.r.skip();
                    self.r.cache(1)?;
                }
            }
            if !self.r.is_break(0) {
                return Ok(());
            }
            self.r.cache(2)?;
            self.r.skip_line();
            if self.flow_level == 0 {
                self.simple_key_allowed = true;
            }
        }
    }
}
