//! Events to a node tree, as yaml.v2's own parser (decode.go) builds it: the first document
//! only, anchors bound as they are met, aliases pointing at their anchored node.
//!
//! Built iteratively: yaml.v2 allows 10 000 nested flow collections inside 10 000 block
//! levels, deeper than a recursive Rust composer could go on a 2 MiB thread stack.

use std::collections::HashMap;

use super::parser::{Ev, Event, Parser};
use super::{Document, Node, NodeId, NodeKind, YamlError};

/// The first document of `text`, `None` when the stream has none (empty, or only comments).
pub(super) fn compose(text: &str) -> Result<Option<Document>, YamlError> {
    let mut p = Parser::new(text);
    if p.next()?.ev != Ev::StreamStart {
        return Err(YamlError::Internal("expected stream start"));
    }
    let first = p.next()?;
    match first.ev {
        Ev::StreamEnd => return Ok(None),
        Ev::DocumentStart => {}
        _ => return Err(YamlError::Internal("expected document start")),
    }
    let mut doc = Document {
        nodes: Vec::new(),
        root: 0,
    };
    let mut anchors: HashMap<String, NodeId> = HashMap::new();
    // Collections still open, innermost last.
    let mut open: Vec<NodeId> = Vec::new();
    loop {
        let Event { ev, start } = p.next()?;
        let (kind, value, tag, implicit, anchor, opens) = match ev {
            Ev::Scalar {
                anchor,
                tag,
                value,
                implicit,
            } => (NodeKind::Scalar, value, tag, implicit, anchor, false),
            Ev::Alias(name) => {
                let Some(&target) = anchors.get(&name) else {
                    return Err(YamlError::UnknownAnchor(name));
                };
                (
                    NodeKind::Alias(target),
                    name,
                    String::new(),
                    false,
                    None,
                    false,
                )
            }
            Ev::SequenceStart { anchor } => (
                NodeKind::Sequence,
                String::new(),
                String::new(),
                false,
                anchor,
                true,
            ),
            Ev::MappingStart { anchor } => (
                NodeKind::Mapping,
                String::new(),
                String::new(),
                false,
                anchor,
                true,
            ),
            Ev::SequenceEnd | Ev::MappingEnd => {
                open.pop();
                if open.is_empty() {
                    break;
                }
                continue;
            }
            Ev::StreamStart | Ev::StreamEnd | Ev::DocumentStart | Ev::DocumentEnd => {
                return Err(YamlError::Internal("unexpected event in a node"));
            }
        };
        let id = doc.nodes.len();
        doc.nodes.push(Node {
            kind,
            line: start.line,
            value,
            tag,
            implicit,
            children: Vec::new(),
        });
        if let Some(name) = anchor {
            anchors.insert(name, id);
        }
        match open.last() {
            Some(&parent) => doc.nodes[parent].children.push(id),
            None => doc.root = id,
        }
        if opens {
            open.push(id);
        } else if open.is_empty() {
            break;
        }
    }
    if p.next()?.ev != Ev::DocumentEnd {
        return Err(YamlError::Internal("expected document end"));
    }
    Ok(Some(doc))
}
