//! yaml.v2's decoder (decode.go) for the configuration's Go types, in strict mode
//! (`yaml.UnmarshalStrict`, what MetalLB v0.12.1 calls): a node tree into typed values,
//! collecting every type error (`yaml: unmarshal errors:` then one `line N: ...` each) and
//! stopping at the fatal ones (excessive aliasing, bad `!!binary`, bad merge, a tag the
//! text does not fit). The raw types it fills are in [`super::raw`].
//!
//! Go's reflection is replaced by [`Target`]: one implementation per Go kind used by the
//! config (`string`, `uint32`, `uint16`, `int`, `bool`, pointers, slices,
//! `map[string]string`, structs), each with yaml.v2's conversion rules and type name.

use std::borrow::Cow;
use std::collections::HashSet;

use super::yaml::resolve::{
    BINARY, MAP, MERGE, NULL, SEQ, STR, Value, decode_base64, resolve, short_tag,
};
use super::yaml::{self, Document, NodeId, NodeKind, YamlError};
use crate::gotext::lossy;

/// Why decoding failed, worded as yaml.v2 words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not YAML.
    #[error("{0}")]
    Syntax(#[from] YamlError),
    /// A fatal decoding problem (the text after `yaml: `).
    #[error("yaml: {0}")]
    Fatal(String),
    /// Every type error, unknown field and duplicate key, each `line N: ...`.
    #[error("yaml: unmarshal errors:\n  {}", .0.join("\n  "))]
    Unmarshal(Vec<String>),
}

/// Decodes the first document of `text` into `T` as `yaml.UnmarshalStrict` does; a stream
/// without documents is `T`'s zero value.
pub(crate) fn unmarshal_strict<T: Target + Default>(text: &str) -> Result<T, DecodeError> {
    let mut out = T::default();
    let Some(doc) = yaml::parse_document(text)? else {
        return Ok(out);
    };
    let mut d = Decoder {
        doc: &doc,
        aliases: HashSet::new(),
        terrors: Vec::new(),
        decode_count: 0,
        alias_count: 0,
        alias_depth: 0,
    };
    // The document node itself counts as one decoding step.
    d.count().map_err(DecodeError::Fatal)?;
    d.unmarshal(doc.root, &mut out)
        .map_err(DecodeError::Fatal)?;
    if d.terrors.is_empty() {
        Ok(out)
    } else {
        Err(DecodeError::Unmarshal(d.terrors))
    }
}

/// A fatal error's text; unwinds the whole decoding, as yaml.v2's `failf` panics.
pub(super) type Fatal = String;

pub(crate) struct Decoder<'d> {
    pub(super) doc: &'d Document,
    /// Alias nodes being expanded (an alias inside its own anchor is an error).
    aliases: HashSet<NodeId>,
    terrors: Vec<String>,
    decode_count: usize,
    alias_count: usize,
    alias_depth: usize,
}

/// The share of decoding steps that may come from alias expansion (yaml.v2's
/// billion-laughs guard): 99 % up to 400 000 steps, falling to 10 % at 4 000 000.
fn allowed_alias_ratio(decode_count: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if decode_count <= LOW {
        0.99
    } else if decode_count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decode_count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

/// A Go type the decoder fills: yaml.v2's rules for one kind.
pub(crate) trait Target {
    /// The Go type's name in error texts (`uint32`, `[]config.peer`).
    fn go_type() -> Cow<'static, str>;

    /// The Go zero value, which `null` decodes to.
    fn set_zero(&mut self);

    /// A resolved non-null scalar (`tag` is its explicit or resolved tag).
    fn decode_scalar(
        &mut self,
        d: &mut Decoder<'_>,
        n: NodeId,
        tag: &str,
        value: &Value<'_>,
    ) -> bool {
        d.terror(n, tag, &Self::go_type());
        let _ = value;
        false
    }

    fn decode_mapping(&mut self, d: &mut Decoder<'_>, n: NodeId) -> Result<bool, Fatal> {
        d.terror(n, MAP, &Self::go_type());
        Ok(false)
    }

    fn decode_sequence(&mut self, d: &mut Decoder<'_>, n: NodeId) -> Result<bool, Fatal> {
        d.terror(n, SEQ, &Self::go_type());
        Ok(false)
    }

    /// A non-alias node (yaml.v2's `unmarshal` after alias dispatch).
    fn decode(&mut self, d: &mut Decoder<'_>, n: NodeId) -> Result<bool, Fatal> {
        match d.doc.node(n).kind {
            NodeKind::Scalar => d.scalar(n, self),
            NodeKind::Mapping => self.decode_mapping(d, n),
            NodeKind::Sequence => self.decode_sequence(d, n),
            NodeKind::Alias(_) => Err("alias in decode".to_owned()),
        }
    }
}

impl<'d> Decoder<'d> {
    fn count(&mut self) -> Result<(), Fatal> {
        self.decode_count += 1;
        if self.alias_depth > 0 {
            self.alias_count += 1;
        }
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64
                > allowed_alias_ratio(self.decode_count)
        {
            return Err("document contains excessive aliasing".to_owned());
        }
        Ok(())
    }

    /// Decodes node `n` into `out`; `false` when it could not (the type error is recorded).
    pub(crate) fn unmarshal<T: Target + ?Sized>(
        &mut self,
        n: NodeId,
        out: &mut T,
    ) -> Result<bool, Fatal> {
        self.count()?;
        let NodeKind::Alias(target) = self.doc.node(n).kind else {
            return out.decode(self, n);
        };
        self.enter_alias(n)?;
        let good = self.unmarshal(target, out)?;
        self.leave_alias(n);
        Ok(good)
    }

    fn enter_alias(&mut self, n: NodeId) -> Result<(), Fatal> {
        if !self.aliases.insert(n) {
            return Err(format!(
                "anchor '{}' value contains itself",
                self.doc.node(n).value
            ));
        }
        self.alias_depth += 1;
        Ok(())
    }

    fn leave_alias(&mut self, n: NodeId) {
        self.alias_depth -= 1;
        self.aliases.remove(&n);
    }

    /// Records `cannot unmarshal <tag> <value> into <type>`; long values are cut to 7
    /// bytes as yaml.v2 cuts them.
    pub(super) fn terror(&mut self, n: NodeId, tag: &str, go_type: &str) {
        let node = self.doc.node(n);
        let tag = if node.tag.is_empty() { tag } else { &node.tag };
        let value = if tag == SEQ || tag == MAP {
            node.value.clone()
        } else if node.value.len() > 10 {
            format!(" `{}...`", lossy(&node.value.as_bytes()[..7]))
        } else {
            format!(" `{}`", node.value)
        };
        self.terrors.push(format!(
            "line {}: cannot unmarshal {}{value} into {go_type}",
            node.line + 1,
            short_tag(tag)
        ));
    }

    /// Records a type error other than a conversion (`key "a" already set in map`).
    pub(super) fn report(&mut self, message: String) {
        self.terrors.push(message);
    }

    /// yaml.v2's `prepare` test: is this node `null` before any resolution? Only then does
    /// a pointer stay nil (`Null` and `NULL` allocate it, then resolve to its zero value).
    pub(super) fn prepare_null(&self, n: NodeId) -> bool {
        let node = self.doc.node(n);
        node.tag == NULL
            || node.kind == NodeKind::Scalar
                && node.tag.is_empty()
                && (node.value == "null"
                    || node.value == "~"
                    || node.value.is_empty() && node.implicit)
    }

    /// A scalar node into `out`: resolution, `!!binary` decoding, then the kind's rules.
    pub(super) fn scalar<T: Target + ?Sized>(
        &mut self,
        n: NodeId,
        out: &mut T,
    ) -> Result<bool, Fatal> {
        let doc = self.doc;
        let node = doc.node(n);
        let (tag, value) = if node.tag.is_empty() && !node.implicit {
            (STR, Value::Str(Cow::Borrowed(node.value.as_str())))
        } else {
            let (tag, value) = resolve(&node.tag, &node.value)?;
            if tag == BINARY {
                let Some(bytes) = decode_base64(&node.value) else {
                    return Err("!!binary value contains invalid base64 data".to_owned());
                };
                (tag, Value::Str(Cow::Owned(lossy(&bytes))))
            } else {
                (tag, value)
            }
        };
        if value == Value::Null {
            out.set_zero();
            return Ok(true);
        }
        Ok(out.decode_scalar(self, n, tag, &value))
    }

    /// yaml.v2's `isMerge`: a `<<` key, plain or tagged `!!merge`.
    fn is_merge(&self, n: NodeId) -> bool {
        let node = self.doc.node(n);
        node.kind == NodeKind::Scalar && node.value == "<<" && (node.implicit || node.tag == MERGE)
    }

    /// Walks a mapping's key/value pairs in order, expanding `<<` merges where they stand
    /// (a merged mapping is walked as if decoded on its own, with fresh per-mapping state
    /// of `fields` flags). Iterative: merge chains can be as long as the document allows.
    pub(super) fn walk_mapping(
        &mut self,
        n: NodeId,
        fields: usize,
        mut pair: impl FnMut(&mut Self, NodeId, NodeId, &mut [bool]) -> Result<(), Fatal>,
    ) -> Result<(), Fatal> {
        enum Frame {
            Pairs {
                node: NodeId,
                next: usize,
                done: Vec<bool>,
            },
            /// The items of a merged sequence, last first.
            Items {
                node: NodeId,
                left: usize,
            },
            EndAlias(NodeId),
        }
        let doc = self.doc;
        let mut stack = vec![Frame::Pairs {
            node: n,
            next: 0,
            done: vec![false; fields],
        }];
        while let Some(frame) = stack.last_mut() {
            let merged = match frame {
                Frame::EndAlias(a) => {
                    let a = *a;
                    stack.pop();
                    self.leave_alias(a);
                    continue;
                }
                Frame::Items { node, left } => {
                    if *left == 0 {
                        stack.pop();
                        continue;
                    }
                    *left -= 1;
                    let item = doc.node(*node).children[*left];
                    if self.merged_mapping(item).is_none() {
                        return Err(want_map());
                    }
                    item
                }
                Frame::Pairs { node, next, done } => {
                    let children = &doc.node(*node).children;
                    let (Some(&k), Some(&v)) = (children.get(*next), children.get(*next + 1))
                    else {
                        stack.pop();
                        continue;
                    };
                    *next += 2;
                    if !self.is_merge(k) {
                        pair(self, k, v, done)?;
                        continue;
                    }
                    match doc.node(v).kind {
                        NodeKind::Sequence => {
                            let left = doc.node(v).children.len();
                            stack.push(Frame::Items { node: v, left });
                            continue;
                        }
                        NodeKind::Mapping | NodeKind::Alias(_) => {
                            if self.merged_mapping(v).is_none() {
                                return Err(want_map());
                            }
                            v
                        }
                        NodeKind::Scalar => return Err(want_map()),
                    }
                }
            };
            // `unmarshal(merged, out)`: a mapping, or an alias of one.
            self.count()?;
            let mapping = match doc.node(merged).kind {
                NodeKind::Alias(target) => {
                    self.enter_alias(merged)?;
                    stack.push(Frame::EndAlias(merged));
                    self.count()?;
                    target
                }
                _ => merged,
            };
            stack.push(Frame::Pairs {
                node: mapping,
                next: 0,
                done: vec![false; fields],
            });
        }
        Ok(())
    }

    /// The mapping a merge item stands for, if it is one (directly or through an alias).
    fn merged_mapping(&self, n: NodeId) -> Option<NodeId> {
        match self.doc.node(n).kind {
            NodeKind::Mapping => Some(n),
            NodeKind::Alias(t) if self.doc.node(t).kind == NodeKind::Mapping => Some(t),
            _ => None,
        }
    }

    /// A mapping into a struct: known fields decoded, unknown and repeated ones reported.
    pub(crate) fn mapping_struct<S: GoStruct>(
        &mut self,
        n: NodeId,
        out: &mut S,
    ) -> Result<bool, Fatal> {
        let mut name = String::new();
        self.walk_mapping(n, S::FIELDS.len(), |d, k, v, done| {
            if !d.unmarshal(k, &mut name)? {
                return Ok(());
            }
            let line = d.doc.node(k).line + 1;
            let Some(i) = S::FIELDS.iter().position(|f| *f == name) else {
                d.terrors.push(format!(
                    "line {line}: field {name} not found in type {}",
                    S::GO_TYPE
                ));
                return Ok(());
            };
            if done[i] {
                d.terrors.push(format!(
                    "line {line}: field {name} already set in type {}",
                    S::GO_TYPE
                ));
                return Ok(());
            }
            done[i] = true;
            out.field(d, i, v)
        })?;
        Ok(true)
    }
}

fn want_map() -> Fatal {
    "map merge requires map or sequence of maps as the value".to_owned()
}

/// A Go struct decoded from a mapping by field name.
pub(crate) trait GoStruct: Default {
    const GO_TYPE: &'static str;
    /// The YAML keys of the fields, in declaration order.
    const FIELDS: &'static [&'static str];
    /// Decodes `value` into field number `index` of [`Self::FIELDS`].
    fn field(&mut self, d: &mut Decoder<'_>, index: usize, value: NodeId) -> Result<(), Fatal>;
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
