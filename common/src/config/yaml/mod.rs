//! YAML as gopkg.in/yaml.v2 v2.4.0 reads it, which is what MetalLB v0.12.1 parses its
//! configuration with: the same layers (reader, scanner, parser, node tree, YAML 1.1
//! resolution) so that what is accepted, and every error text, match by construction
//! rather than by rewriting another parser's messages (docs/config.md#yaml-decoding).
//!
//! yaml.v2's scanner and parser are a Go translation of libyaml 0.1 with changes of its
//! own (depth limits, `%YAML 1.1` only, plain scalars that may contain `:` in flow
//! context, how error lines are counted); these modules follow yaml.v2, not today's
//! libyaml, whose Rust ports (`unsafe-libyaml`, `libyaml-safer`) differ on those points.
//! The scanner and parser are adapted from libyaml (MIT, Copyright (c) 2006-2010 Kirill
//! Simonov, 2011-2019 Ingy döt Net) by way of yaml.v2's translation.

mod compose;
mod parser;
mod reader;
pub(crate) mod resolve;
mod scan_scalar;
mod scan_tag;
mod scanner;
mod timestamp;
mod token;

use std::borrow::Cow;

/// A position in the input; `line` and `column` count from 0, as libyaml's do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    pub index: usize,
    pub line: usize,
    pub column: usize,
}

/// A YAML syntax error, displayed as yaml.v2 words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// A character YAML does not allow (yaml.v2 gives no line for these).
    #[error("yaml: {0}")]
    Reader(&'static str),
    #[error("yaml: {}{problem}", line_prefix(*.problem_mark, *.context_mark, true))]
    Scanner {
        problem: Cow<'static, str>,
        problem_mark: Mark,
        context_mark: Mark,
    },
    #[error("yaml: {}{problem}", line_prefix(*.problem_mark, *.context_mark, false))]
    Parser {
        problem: &'static str,
        problem_mark: Mark,
        context_mark: Mark,
    },
    #[error("yaml: unknown anchor '{0}' referenced")]
    UnknownAnchor(String),
    /// A state the port never reaches on input yaml.v2 handles (kept as an error rather
    /// than a panic).
    #[error("yaml: internal error: {0}")]
    Internal(&'static str),
}

/// yaml.v2's `line N: ` prefix: the problem's 0-based line, plus one for scanner errors
/// only; the context's line when the problem is on line 0; nothing when both are 0.
fn line_prefix(problem: Mark, context: Mark, scanner: bool) -> String {
    let line = if problem.line != 0 {
        problem.line + usize::from(scanner)
    } else {
        context.line
    };
    if line == 0 {
        String::new()
    } else {
        format!("line {line}: ")
    }
}

/// Index of a node in [`Document::nodes`].
pub(crate) type NodeId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Scalar,
    Sequence,
    Mapping,
    /// An alias of the node with this id (always an earlier, non-alias node).
    Alias(NodeId),
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    /// 0-based line of the node's first token.
    pub(crate) line: usize,
    /// A scalar's value; an alias's anchor name.
    pub(crate) value: String,
    /// A scalar's explicit tag in long form (`tag:yaml.org,2002:str`), empty when none.
    pub(crate) tag: String,
    /// A plain scalar without tag (or tagged `!`): its type comes from resolution.
    pub(crate) implicit: bool,
    /// A sequence's items; a mapping's keys and values, alternating.
    pub(crate) children: Vec<NodeId>,
}

/// The first document of a stream as a node tree.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: NodeId,
}

impl Document {
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }
}

/// Parses the first document of `text`, as yaml.v2's `Unmarshal` does before decoding;
/// later documents are not read, except for the tokens yaml.v2's look-ahead scans.
/// `None` for a stream without documents.
pub(crate) fn parse_document(text: &str) -> Result<Option<Document>, YamlError> {
    compose::compose(text)
}

#[cfg(test)]
mod tests;
