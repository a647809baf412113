//! `labelSelector` and `fieldSelector` of list and watch requests, parsed and matched like the
//! real server: equality (`k=v`, `k==v`, `k!=v`), existence (`k`, `!k`) and sets
//! (`k in (a,b)`, `k notin (a,b)`), comma = AND; fields `metadata.name` and
//! `metadata.namespace` only (the ones every resource supports).

use serde_json::Value;

use crate::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Label {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Name(bool, String),
    Namespace(bool, String),
}

/// Both selectors of a request; the default matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    labels: Vec<Label>,
    fields: Vec<Field>,
}

impl Selector {
    /// Parses the two query parameters (absent = empty). A malformed selector is a 400.
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, ApiError> {
        let mut s = Selector::default();
        for part in split_top(labels.unwrap_or("")) {
            s.labels.push(parse_label(part)?);
        }
        for part in fields.unwrap_or("").split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            let (key, eq, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                )));
            };
            let value = value.trim().to_string();
            s.fields.push(match key.trim() {
                "metadata.name" => Field::Name(eq, value),
                "metadata.namespace" => Field::Namespace(eq, value),
                other => {
                    return Err(ApiError::bad_request(format!(
                        "field label not supported: {other}"
                    )));
                }
            });
        }
        Ok(s)
    }

    /// Whether `obj` (a full object with `metadata`) is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        let meta = &obj["metadata"];
        let label = |k: &str| meta["labels"].get(k).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|r| match r {
            Label::Eq(k, v) => label(k) == Some(v.as_str()),
            Label::NotEq(k, v) => label(k) != Some(v.as_str()),
            Label::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Label::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Label::Exists(k) => label(k).is_some(),
            Label::NotExists(k) => label(k).is_none(),
        });
        let field = |key: &str| meta[key].as_str().unwrap_or("");
        labels_ok
            && self.fields.iter().all(|f| match f {
                Field::Name(eq, v) => (field("name") == v) == *eq,
                Field::Namespace(eq, v) => (field("namespace") == v) == *eq,
            })
    }
}

/// Splits on commas outside parentheses, dropping empty parts.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_label(part: &str) -> Result<Label, ApiError> {
    let bad = || ApiError::bad_request(format!("unable to parse requirement: {part:?}"));
    let key = |k: &str| -> Result<String, ApiError> {
        let k = k.trim();
        if k.is_empty() || k.contains(|c: char| c.is_whitespace() || "!=(),".contains(c)) {
            Err(bad())
        } else {
            Ok(k.to_string())
        }
    };
    if let Some(k) = part.strip_prefix('!') {
        return Ok(Label::NotExists(key(k)?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Label::NotEq(key(k)?, v.trim().to_string()));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Label::Eq(key(k)?, v.trim().to_string()));
    }
    if let Some(open) = part.find('(') {
        let (head, list) = part.split_at(open);
        let list = list.strip_prefix('(').and_then(|l| l.strip_suffix(')'));
        let values: Vec<String> = list
            .ok_or_else(bad)?
            .split(',')
            .map(|v| v.trim().to_string())
            .collect();
        let mut words = head.split_whitespace();
        let (k, op) = (words.next().ok_or_else(bad)?, words.next().ok_or_else(bad)?);
        if words.next().is_some() {
            return Err(bad());
        }
        return match op {
            "in" => Ok(Label::In(key(k)?, values)),
            "notin" => Ok(Label::NotIn(key(k)?, values)),
            _ => Err(bad()),
        };
    }
    Ok(Label::Exists(key(part)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(name: &str, ns: &str, labels: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": ns, "labels": labels}})
    }

    fn sel(l: &str, f: &str) -> Selector {
        Selector::parse(Some(l), Some(f)).unwrap()
    }

    #[test]
    fn label_requirements() {
        let a = obj("a", "x", json!({"app": "web", "tier": "front"}));
        let b = obj("b", "x", json!({"app": "db"}));
        let c = obj("c", "y", json!(null));
        let pick = |s: &Selector| {
            [&a, &b, &c]
                .into_iter()
                .filter(|o| s.matches(o))
                .map(|o| o["metadata"]["name"].as_str().unwrap_or(""))
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&sel("app=web", "")), ["a"]);
        assert_eq!(pick(&sel("app==db", "")), ["b"]);
        assert_eq!(pick(&sel("app!=web", "")), ["b", "c"]);
        assert_eq!(pick(&sel("app", "")), ["a", "b"]);
        assert_eq!(pick(&sel("!app", "")), ["c"]);
        assert_eq!(pick(&sel("app,tier=front", "")), ["a"]);
        assert_eq!(pick(&sel("app in (web, db)", "")), ["a", "b"]);
        assert_eq!(pick(&sel("app notin (web),!tier", "")), ["b", "c"]);
        assert_eq!(pick(&sel("", "metadata.name=b")), ["b"]);
        assert_eq!(pick(&sel("", "metadata.namespace!=x")), ["c"]);
        assert_eq!(
            pick(&sel("app", "metadata.namespace=x,metadata.name!=a")),
            ["b"]
        );
        assert_eq!(pick(&Selector::default()), ["a", "b", "c"]);
    }

    #[test]
    fn malformed_selectors_are_400() {
        let e = Selector::parse(None, Some("spec.clusterIP=1.2.3.4")).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "field label not supported: spec.clusterIP")
        );
        assert_eq!(Selector::parse(Some("a in b"), None).unwrap_err().code, 400);
        assert_eq!(Selector::parse(Some("a b"), None).unwrap_err().code, 400);
        assert_eq!(
            Selector::parse(None, Some("metadata.name"))
                .unwrap_err()
                .code,
            400
        );
    }
}
