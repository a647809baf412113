//! Tokens, the scanner's output and the parser's input.

use super::Mark;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    StreamStart,
    StreamEnd,
    VersionDirective { major: u8, minor: u8 },
    TagDirective { handle: String, prefix: String },
    DocumentStart,
    DocumentEnd,
    BlockSequenceStart,
    BlockMappingStart,
    BlockEnd,
    FlowSequenceStart,
    FlowSequenceEnd,
    FlowMappingStart,
    FlowMappingEnd,
    BlockEntry,
    FlowEntry,
    Key,
    Value,
    Alias(String),
    Anchor(String),
    Tag { handle: String, suffix: String },
    Scalar { value: String, style: ScalarStyle },
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: Mark,
    pub(super) end: Mark,
}

/// The token kinds the state machine branches on (the token's data stays in the queue
/// until it is consumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    StreamStart,
    StreamEnd,
    VersionDirective,
    TagDirective,
    DocumentStart,
    DocumentEnd,
    BlockSequenceStart,
    BlockMappingStart,
    BlockEnd,
    FlowSequenceStart,
    FlowSequenceEnd,
    FlowMappingStart,
    FlowMappingEnd,
    BlockEntry,
    FlowEntry,
    Key,
    Value,
    Alias,
    Anchor,
    Tag,
    Scalar,
}

impl Tok {
    pub(super) fn ty(&self) -> Ty {
        match self {
            Tok::StreamStart => Ty::StreamStart,
            Tok::StreamEnd => Ty::StreamEnd,
            Tok::VersionDirective { .. } => Ty::VersionDirective,
            Tok::TagDirective { .. } => Ty::TagDirective,
            Tok::DocumentStart => Ty::DocumentStart,
            Tok::DocumentEnd => Ty::DocumentEnd,
            Tok::BlockSequenceStart => Ty::BlockSequenceStart,
            Tok::BlockMappingStart => Ty::BlockMappingStart,
            Tok::BlockEnd => Ty::BlockEnd,
            Tok::FlowSequenceStart => Ty::FlowSequenceStart,
            Tok::FlowSequenceEnd => Ty::FlowSequenceEnd,
            Tok::FlowMappingStart => Ty::FlowMappingStart,
            Tok::FlowMappingEnd => Ty::FlowMappingEnd,
            Tok::BlockEntry => Ty::BlockEntry,
            Tok::FlowEntry => Ty::FlowEntry,
            Tok::Key => Ty::Key,
            Tok::Value => Ty::Value,
            Tok::Alias(_) => Ty::Alias,
            Tok::Anchor(_) => Ty::Anchor,
            Tok::Tag { .. } => Ty::Tag,
            Tok::Scalar { .. } => Ty::Scalar,
        }
    }
}
