//! yaml.v2's parser (parserc.go): tokens to events, as libyaml's state machine, with
//! yaml.v2's rule that only `%YAML 1.1` documents are compatible.

use super::scanner::Scanner;
use super::token::{ScalarStyle, Tok, Token, Ty};
use super::{Mark, YamlError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ev {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias(String),
    /// `tag` is resolved through the `%TAG` directives; empty when none was written.
    /// `implicit` is libyaml's `plain_implicit`: a plain scalar without a tag (or tagged `!`).
    Scalar {
        anchor: Option<String>,
        tag: String,
        value: String,
        implicit: bool,
    },
    SequenceStart {
        anchor: Option<String>,
    },
    SequenceEnd,
    MappingStart {
        anchor: Option<String>,
    },
    MappingEnd,
}

#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) ev: Ev,
    pub(super) start: Mark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StreamStart,
    ImplicitDocumentStart,
    DocumentStart,
    DocumentContent,
    DocumentEnd,
    BlockNode,
    BlockSequenceFirstEntry,
    BlockSequenceEntry,
    IndentlessSequenceEntry,
    BlockMappingFirstKey,
    BlockMappingKey,
    BlockMappingValue,
    FlowSequenceFirstEntry,
    FlowSequenceEntry,
    FlowSequenceEntryMappingKey,
    FlowSequenceEntryMappingValue,
    FlowSequenceEntryMappingEnd,
    FlowMappingFirstKey,
    FlowMappingKey,
    FlowMappingValue,
    FlowMappingEmptyValue,
    End,
}

pub(super) struct Parser<'a> {
    sc: Scanner<'a>,
    state: State,
    states: Vec<State>,
    marks: Vec<Mark>,
    tag_directives: Vec<(String, String)>,
}

fn parser_error(problem: &'static str, problem_mark: Mark) -> YamlError {
    YamlError::Parser {
        problem,
        problem_mark,
        context_mark: Mark::default(),
    }
}

fn context_error(context_mark: Mark, problem: &'static str, problem_mark: Mark) -> YamlError {
    YamlError::Parser {
        problem,
        problem_mark,
        context_mark,
    }
}

impl<'a> Parser<'a> {
    pub(super) fn new(input: &'a str) -> Self {
        Self {
            sc: Scanner::new(input),
            state: State::StreamStart,
            states: Vec::new(),
            marks: Vec::new(),
            tag_directives: Vec::new(),
        }
    }

    /// The next event.
    pub(super) fn next(&mut self) -> Result<Event, YamlError> {
        if self.sc.stream_end_produced || self.state == State::End {
            return Err(YamlError::Internal("parse after end of stream"));
        }
        match self.state {
            State::StreamStart => self.stream_start(),
            State::ImplicitDocumentStart => self.document_start(true),
            State::DocumentStart => self.document_start(false),
            State::DocumentContent => self.document_content(),
            State::DocumentEnd => self.document_end(),
            State::BlockNode => self.node(true, false),
            State::BlockSequenceFirstEntry => self.block_sequence_entry(true),
            State::BlockSequenceEntry => self.block_sequence_entry(false),
            State::IndentlessSequenceEntry => self.indentless_sequence_entry(),
            State::BlockMappingFirstKey => self.block_mapping_key(true),
            State::BlockMappingKey => self.block_mapping_key(false),
            State::BlockMappingValue => self.block_mapping_value(),
            State::FlowSequenceFirstEntry => self.flow_sequence_entry(true),
            State::FlowSequenceEntry => self.flow_sequence_entry(false),
            State::FlowSequenceEntryMappingKey => self.flow_sequence_entry_mapping_key(),
            State::FlowSequenceEntryMappingValue => self.flow_sequence_entry_mapping_value(),
            State::FlowSequenceEntryMappingEnd => self.flow_sequence_entry_mapping_end(),
            State::FlowMappingFirstKey => self.flow_mapping_key(true),
            State::FlowMappingKey => self.flow_mapping_key(false),
            State::FlowMappingValue => self.flow_mapping_value(false),
            State::FlowMappingEmptyValue => self.flow_mapping_value(true),
            State::End => Err(YamlError::Internal("parse after end of stream")),
        }
    }

    /// The next token's kind and marks.
    fn peek(&mut self) -> Result<(Ty, Mark, Mark), YamlError> {
        let t = self.sc.peek()?;
        Ok((t.tok.ty(), t.start, t.end))
    }

    fn skip(&mut self) -> Result<Token, YamlError> {
        self.sc.skip()
    }

    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(State::End);
    }

    fn pop_mark(&mut self) -> Mark {
        self.marks.pop().unwrap_or_default()
    }

    fn event(ev: Ev, start: Mark) -> Result<Event, YamlError> {
        Ok(Event { ev, start })
    }

    fn empty_scalar(mark: Mark) -> Result<Event, YamlError> {
        Self::event(
            Ev::Scalar {
                anchor: None,
                tag: String::new(),
                value: String::new(),
                implicit: true,
            },
            mark,
        )
    }

    fn stream_start(&mut self) -> Result<Event, YamlError> {
        let (t, start, _) = self.peek()?;
        if t != Ty::StreamStart {
            return Err(parser_error("did not find expected <stream-start>", start));
        }
        self.state = State::ImplicitDocumentStart;
        self.skip()?;
        Self::event(Ev::StreamStart, start)
    }

    fn document_start(&mut self, implicit: bool) -> Result<Event, YamlError> {
        let (mut t, mut start, _) = self.peek()?;
        if !implicit {
            while t == Ty::DocumentEnd {
                self.skip()?;
                (t, start, _) = self.peek()?;
            }
        }
        let directive_or_start = matches!(
            t,
            Ty::VersionDirective | Ty::TagDirective | Ty::DocumentStart | Ty::StreamEnd
        );
        if implicit && !directive_or_start {
            self.process_directives()?;
            self.states.push(State::DocumentEnd);
            self.state = State::BlockNode;
            Self::event(Ev::DocumentStart, start)
        } else if t != Ty::StreamEnd {
            self.process_directives()?;
            let (t, mark, _) = self.peek()?;
            if t != Ty::DocumentStart {
                return Err(parser_error("did not find expected <document start>", mark));
            }
            self.states.push(State::DocumentEnd);
            self.state = State::DocumentContent;
            self.skip()?;
            Self::event(Ev::DocumentStart, start)
        } else {
            self.state = State::End;
            self.skip()?;
            Self::event(Ev::StreamEnd, start)
        }
    }

    fn document_content(&mut self) -> Result<Event, YamlError> {
        let (t, start, _) = self.peek()?;
        if matches!(
            t,
            Ty::VersionDirective
                | Ty::TagDirective
                | Ty::DocumentStart
                | Ty::DocumentEnd
                | Ty::StreamEnd
        ) {
            self.pop_state();
            return Self::empty_scalar(start);
        }
        self.node(true, false)
    }

    fn document_end(&mut self) -> Result<Event, YamlError> {
        let (t, start, _) = self.peek()?;
        if t == Ty::DocumentEnd {
            self.skip()?;
        }
        self.tag_directives.clear();
        self.state = State::DocumentStart;
        Self::event(Ev::DocumentEnd, start)
    }

    /// Directives before a document, and the default `!` and `!!` handles.
    fn process_directives(&mut self) -> Result<(), YamlError> {
        let mut seen_version = false;
        loop {
            let (t, mark, _) = self.peek()?;
            match t {
                Ty::VersionDirective => {
                    let tok = self.skip()?;
                    if seen_version {
                        return Err(parser_error("found duplicate %YAML directive", mark));
                    }
                    if tok.tok != (Tok::VersionDirective { major: 1, minor: 1 }) {
                        return Err(parser_error("found incompatible YAML document", mark));
                    }
                    seen_version = true;
                }
                Ty::TagDirective => {
                    let tok = self.skip()?;
                    if let Tok::TagDirective { handle, prefix } = tok.tok {
                        if self.tag_directives.iter().any(|(h, _)| *h == handle) {
                            return Err(parser_error("found duplicate %TAG directive", mark));
                        }
                        self.tag_directives.push((handle, prefix));
                    }
                }
                _ => break,
            }
        }
        for (handle, prefix) in [("!", "!"), ("!!", "tag:yaml.org,2002:")] {
            if !self.tag_directives.iter().any(|(h, _)| h == handle) {
                self.tag_directives
                    .push((handle.to_owned(), prefix.to_owned()));
            }
        }
        Ok(())
    }

    fn node(&mut self, block: bool, indentless_sequence: bool) -> Result<Event, YamlError> {
        let (mut t, mut start, _) = self.peek()?;
        if t == Ty::Alias {
            self.pop_state();
            let tok = self.skip()?;
            let Tok::Alias(name) = tok.tok else {
                return Err(YamlError::Internal("alias token"));
            };
            return Self::event(Ev::Alias(name), start);
        }
        let mut anchor = None;
        let mut tag_token = None;
        let mut tag_mark = Mark::default();
        let node_start = start;
        for _ in 0..2 {
            match t {
                Ty::Anchor if anchor.is_none() => {
                    if let Tok::Anchor(name) = self.skip()?.tok {
                        anchor = Some(name);
                    }
                }
                Ty::Tag if tag_token.is_none() => {
                    tag_mark = start;
                    if let Tok::Tag { handle, suffix } = self.skip()?.tok {
                        tag_token = Some((handle, suffix));
                    }
                }
                _ => break,
            }
            (t, start, _) = self.peek()?;
        }
        let tag = match tag_token {
            None => String::new(),
            Some((handle, suffix)) if handle.is_empty() => suffix,
            Some((handle, suffix)) => {
                match self.tag_directives.iter().find(|(h, _)| *h == handle) {
                    Some((_, prefix)) if !(prefix.is_empty() && suffix.is_empty()) => {
                        format!("{prefix}{suffix}")
                    }
                    _ => {
                        return Err(context_error(
                            node_start,
                            "found undefined tag handle",
                            tag_mark,
                        ));
                    }
                }
            }
        };
        let implicit = tag.is_empty();
        if indentless_sequence && t == Ty::BlockEntry {
            self.state = State::IndentlessSequenceEntry;
            return Self::event(Ev::SequenceStart { anchor }, node_start);
        }
        match t {
            Ty::Scalar => {
                let tok = self.skip()?;
                let Tok::Scalar { value, style } = tok.tok else {
                    return Err(YamlError::Internal("scalar token"));
                };
                let implicit = (tag.is_empty() && style == ScalarStyle::Plain) || tag == "!";
                self.pop_state();
                Self::event(
                    Ev::Scalar {
                        anchor,
                        tag,
                        value,
                        implicit,
                    },
                    node_start,
                )
            }
            Ty::FlowSequenceStart => {
                self.state = State::FlowSequenceFirstEntry;
                Self::event(Ev::SequenceStart { anchor }, node_start)
            }
            Ty::FlowMappingStart => {
                self.state = State::FlowMappingFirstKey;
                Self::event(Ev::MappingStart { anchor }, node_start)
            }
            Ty::BlockSequenceStart if block => {
                self.state = State::BlockSequenceFirstEntry;
                Self::event(Ev::SequenceStart { anchor }, node_start)
            }
            Ty::BlockMappingStart if block => {
                self.state = State::BlockMappingFirstKey;
                Self::event(Ev::MappingStart { anchor }, node_start)
            }
            _ if anchor.is_some() || !tag.is_empty() => {
                self.pop_state();
                Self::event(
                    Ev::Scalar {
                        anchor,
                        tag,
                        value: String::new(),
                        implicit,
                    },
                    node_start,
                )
            }
            _ => Err(context_error(
                node_start,
                "did not find expected node content",
                start,
            )),
        }
    }

    /// Consumes the collection's start token and remembers its mark for error context.
    fn first_entry(&mut self) -> Result<(), YamlError> {
        let (_, start, _) = self.peek()?;
        self.marks.push(start);
        self.skip()?;
        Ok(())
    }

    fn block_sequence_entry(&mut self, first: bool) -> Result<Event, YamlError> {
        if first {
            self.first_entry()?;
        }
        let (t, start, end) = self.peek()?;
        if t == Ty::BlockEntry {
            self.skip()?;
            let (t, _, _) = self.peek()?;
            if t != Ty::BlockEntry && t != Ty::BlockEnd {
                self.states.push(State::BlockSequenceEntry);
                return self.node(true, false);
            }
            self.state = State::BlockSequenceEntry;
            return Self::empty_scalar(end);
        }
        if t == Ty::BlockEnd {
            self.pop_state();
            self.pop_mark();
            self.skip()?;
            return Self::event(Ev::SequenceEnd, start);
        }
        let context = self.pop_mark();
        Err(context_error(
            context,
            "did not find expected '-' indicator",
            start,
        ))
    }

    fn indentless_sequence_entry(&mut self) -> Result<Event, YamlError> {
        let (t, start, end) = self.peek()?;
        if t == Ty::BlockEntry {
            self.skip()?;
            let (t, _, _) = self.peek()?;
            if !matches!(t, Ty::BlockEntry | Ty::Key | Ty::Value | Ty::BlockEnd) {
                self.states.push(State::IndentlessSequenceEntry);
                return self.node(true, false);
            }
            self.state = State::IndentlessSequenceEntry;
            return Self::empty_scalar(end);
        }
        self.pop_state();
        Self::event(Ev::SequenceEnd, start)
    }

    fn block_mapping_key(&mut self, first: bool) -> Result<Event, YamlError> {
        if first {
            self.first_entry()?;
        }
        let (t, start, end) = self.peek()?;
        if t == Ty::Key {
            self.skip()?;
            let (t, _, _) = self.peek()?;
            if !matches!(t, Ty::Key | Ty::Value | Ty::BlockEnd) {
                self.states.push(State::BlockMappingValue);
                return self.node(true, true);
            }
            self.state = State::BlockMappingValue;
            return Self::empty_scalar(end);
        }
        if t == Ty::BlockEnd {
            self.pop_state();
            self.pop_mark();
            self.skip()?;
            return Self::event(Ev::MappingEnd, start);
        }
        let context = self.pop_mark();
        Err(context_error(context, "did not find expected key", start))
    }

    fn block_mapping_value(&mut self) -> Result<Event, YamlError> {
        let (t, start, end) = self.peek()?;
        if t == Ty::Value {
            self.skip()?;
            let (t, _, _) = self.peek()?;
            if !matches!(t, Ty::Key | Ty::Value | Ty::BlockEnd) {
                self.states.push(State::BlockMappingKey);
                return self.node(true, true);
            }
            self.state = State::BlockMappingKey;
            return Self::empty_scalar(end);
        }
        self.state = State::BlockMappingKey;
        Self::empty_scalar(start)
    }

    fn flow_sequence_entry(&mut self, first: bool) -> Result<Event, YamlError> {
        if first {
            self.first_entry()?;
        }
        let (mut t, mut start, _) = self.peek()?;
        if t != Ty::FlowSequenceEnd {
            if !first {
                if t != Ty::FlowEntry {
                    let context = self.pop_mark();
                    return Err(context_error(
                        context,
                        "did not find expected ',' or ']'",
                        start,
                    ));
                }
                self.skip()?;
                (t, start, _) = self.peek()?;
            }
            if t == Ty::Key {
                self.state = State::FlowSequenceEntryMappingKey;
                self.skip()?;
                return Self::event(Ev::MappingStart { anchor: None }, start);
            }
            if t != Ty::FlowSequenceEnd {
                self.states.push(State::FlowSequenceEntry);
                return self.node(false, false);
            }
        }
        self.pop_state();
        self.pop_mark();
        self.skip()?;
        Self::event(Ev::SequenceEnd, start)
    }

    fn flow_sequence_entry_mapping_key(&mut self) -> Result<Event, YamlError> {
        let (t, _, end) = self.peek()?;
        if !matches!(t, Ty::Value | Ty::FlowEntry | Ty::FlowSequenceEnd) {
            self.states.push(State::FlowSequenceEntryMappingValue);
            return self.node(false, false);
        }
        self.skip()?;
        self.state = State::FlowSequenceEntryMappingValue;
        Self::empty_scalar(end)
    }

    fn flow_sequence_entry_mapping_value(&mut self) -> Result<Event, YamlError> {
        // The empty value takes the mark of the `:` token, not of the token after it.
        let (t, start, _) = self.peek()?;
        if t == Ty::Value {
            self.skip()?;
            let (t, _, _) = self.peek()?;
            if t != Ty::FlowEntry && t != Ty::FlowSequenceEnd {
                self.states.push(State::FlowSequenceEntryMappingEnd);
                return self.node(false, false);
            }
        }
        self.state = State::FlowSequenceEntryMappingEnd;
        Self::empty_scalar(start)
    }

    fn flow_sequence_entry_mapping_end(&mut self) -> Result<Event, YamlError> {
        let (_, start, _) = self.peek()?;
        self.state = State::FlowSequenceEntry;
        Self::event(Ev::MappingEnd, start)
    }

    fn flow_mapping_key(&mut self, first: bool) -> Result<Event, YamlError> {
        if first {
            self.first_entry()?;
        }
        let (mut t, mut start, _) = self.peek()?;
        if t != Ty::FlowMappingEnd {
            if !first {
                if t != Ty::FlowEntry {
                    let context = self.pop_mark();
                    return Err(context_error(
                        context,
                        "did not find expected ',' or '}'",
                        start,
                    ));
                }
                self.skip()?;
                (t, start, _) = self.peek()?;
            }
            if t == Ty::Key {
                self.skip()?;
                let (t, start, _) = self.peek()?;
                if !matches!(t, Ty::Value | Ty::FlowEntry | Ty::FlowMappingEnd) {
                    self.states.push(State::FlowMappingValue);
                    return self.node(false, false);
                }
                self.state = State::FlowMappingValue;
                return Self::empty_scalar(start);
            }
            if t != Ty::FlowMappingEnd {
                self.states.push(State::FlowMappingEmptyValue);
                return self.node(false, false);
            }
        }
        self.pop_state();
        self.pop_mark();
        self.skip()?;
        Self::event(Ev::MappingEnd, start)
    }

    fn flow_mapping_value(&mut self, empty: bool) -> Result<Event, YamlError> {
        let (mut t, mut start, _) = self.peek()?;
        if empty {
            self.state = State::FlowMappingKey;
            return Self::empty_scalar(start);
        }
        if t == Ty::Value {
            self.skip()?;
            (t, start, _) = self.peek()?;
            if t != Ty::FlowEntry && t != Ty::FlowMappingEnd {
                self.states.push(State::FlowMappingKey);
                return self.node(false, false);
            }
        }
        self.state = State::FlowMappingKey;
        Self::empty_scalar(start)
    }
}
