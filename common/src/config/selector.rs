//! Peer `node-selectors`: Kubernetes label selectors with apimachinery's validation and text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::gotext::quote;

/// A node's labels.
pub type Labels = BTreeMap<String, String>;

/// A selector operator. `Equals` comes from `match-labels`, the others from
/// `match-expressions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    Equals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One requirement; `values` is non-empty exactly for `Equals`, `In` and `NotIn`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: BTreeSet<String>,
}

impl Requirement {
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn operator(&self) -> Operator {
        self.operator
    }
    pub fn values(&self) -> &BTreeSet<String> {
        &self.values
    }

    fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for Requirement {
    /// apimachinery's `Requirement.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self
            .values
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(",");
        match self.operator {
            Operator::Equals => write!(f, "{}={}", self.key, values),
            Operator::In => write!(f, "{} in ({})", self.key, values),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, values),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A conjunction of requirements; no requirements selects every node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches everything (`labels.Everything()`).
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// `metav1.LabelSelectorAsSelector`: `match-labels` (in key order) then
    /// `match-expressions` (in list order), each validated by `labels.NewRequirement`.
    pub fn from_parts(
        match_labels: &BTreeMap<String, String>,
        match_expressions: &[(String, String, Vec<String>)],
    ) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (k, v) in match_labels {
            requirements.push(new_requirement(
                k,
                Operator::Equals,
                std::slice::from_ref(v),
            )?);
        }
        for (key, op, values) in match_expressions {
            let operator = match op.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                _ => return Err(SelectorError::Operator(op.clone())),
            };
            requirements.push(new_requirement(key, operator, values)?);
        }
        // `Selector.Add` keeps requirements sorted by key (stable for equal keys).
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }
}

impl fmt::Display for Selector {
    /// apimachinery's `Selector.String()`; `""` selects everything.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// apimachinery v0.20's selector errors, texts included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("{} is not a valid pod selector operator", quote(.0))]
    Operator(String),
    #[error("invalid label key {}: {}", quote(.0), .1.join("; "))]
    Key(String, Vec<String>),
    #[error("invalid label value: {}: at key: {}: {}", quote(.1), quote(.0), .2.join("; "))]
    Value(String, String, Vec<String>),
    #[error("for 'in', 'notin' operators, values set can't be empty")]
    EmptyValues,
    #[error("values set must be empty for exists and does not exist")]
    NonEmptyValues,
}

fn new_requirement(
    key: &str,
    operator: Operator,
    values: &[String],
) -> Result<Requirement, SelectorError> {
    let key_errors = qualified_name_errors(key);
    if !key_errors.is_empty() {
        return Err(SelectorError::Key(key.to_owned(), key_errors));
    }
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            return Err(SelectorError::EmptyValues);
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            return Err(SelectorError::NonEmptyValues);
        }
        _ => {}
    }
    for v in values {
        let errs = label_value_errors(v);
        if !errs.is_empty() {
            return Err(SelectorError::Value(key.to_owned(), v.clone(), errs));
        }
    }
    Ok(Requirement {
        key: key.to_owned(),
        operator,
        values: values.iter().cloned().collect(),
    })
}

const QNAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QNAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// apimachinery's `RegexError`.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{e}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, anchored.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// One DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => ok(f) && ok(l) && b.iter().all(|c| ok(c) || *c == b'-'),
        _ => false,
    }
}

fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > 253 {
                    errs.push("prefix part must be no more than 253 characters".to_owned());
                }
                if !prefix.split('.').all(is_dns1123_label) {
                    errs.push(format!(
                        "prefix part {}",
                        regex_error(
                            DNS1123_SUBDOMAIN_MSG,
                            DNS1123_SUBDOMAIN_FMT,
                            &["example.com"]
                        )
                    ));
                }
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QNAME_MSG, QNAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_owned());
    }
    if !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(QNAME_MSG, QNAME_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            &format!("({QNAME_FMT})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expr(k: &str, op: &str, v: &[&str]) -> (String, String, Vec<String>) {
        (
            k.to_owned(),
            op.to_owned(),
            v.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    #[test]
    fn docs_example_selects_and_renders() {
        let sel = Selector::from_parts(
            &[("rack".to_owned(), "frontend".to_owned())].into(),
            &[expr("network-speed", "NotIn", &["slow"])],
        )
        .expect("valid");
        assert_eq!(sel.to_string(), "network-speed notin (slow),rack=frontend");
        assert!(sel.matches(&labels(&[("rack", "frontend")])));
        assert!(sel.matches(&labels(&[("rack", "frontend"), ("network-speed", "fast")])));
        assert!(!sel.matches(&labels(&[("rack", "frontend"), ("network-speed", "slow")])));
        assert!(!sel.matches(&labels(&[("rack", "backend")])));
    }

    #[test]
    fn operators() {
        let sel = Selector::from_parts(
            &BTreeMap::new(),
            &[
                expr("a", "Exists", &[]),
                expr("b", "DoesNotExist", &[]),
                expr("c", "In", &["y", "x"]),
            ],
        )
        .expect("valid");
        assert_eq!(sel.to_string(), "a,!b,c in (x,y)");
        assert!(sel.matches(&labels(&[("a", ""), ("c", "x")])));
        assert!(!sel.matches(&labels(&[("a", ""), ("b", "1"), ("c", "x")])));
        assert!(!sel.matches(&labels(&[("a", ""), ("c", "z")])));
        assert!(Selector::everything().matches(&Labels::new()));
        assert_eq!(Selector::everything().to_string(), "");
    }

    #[test]
    fn errors_match_apimachinery() {
        let err = |m: &[(&str, &str)], e: &[(String, String, Vec<String>)]| {
            let m: BTreeMap<String, String> = m
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Selector::from_parts(&m, e).unwrap_err().to_string()
        };
        assert_eq!(
            err(&[], &[expr("a", "Equals", &["x"])]),
            "\"Equals\" is not a valid pod selector operator"
        );
        assert_eq!(
            err(&[], &[expr("a", "", &[])]),
            "\"\" is not a valid pod selector operator"
        );
        assert_eq!(
            err(&[], &[expr("a", "In", &[])]),
            "for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            err(&[], &[expr("a", "Exists", &["x"])]),
            "values set must be empty for exists and does not exist"
        );
        assert_eq!(
            err(&[("-bad", "x")], &[]),
            "invalid label key \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            err(&[("k", "bad value")], &[]),
            "invalid label value: \"bad value\": at key: \"k\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert!(err(&[("Example.com/x", "v")], &[]).starts_with(
            "invalid label key \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain"
        ));
        assert_eq!(
            err(&[("/x", "v")], &[]),
            "invalid label key \"/x\": prefix part must be non-empty"
        );
        assert!(
            Selector::from_parts(
                &[("kubernetes.io/hostname".to_owned(), "node-1".to_owned())].into(),
                &[]
            )
            .is_ok()
        );
        assert!(Selector::from_parts(&[("k".to_owned(), String::new())].into(), &[]).is_ok());
    }
}
