//! `check-config` input: a ConfigMap manifest (`data.config`) or a bare config document.

use std::collections::BTreeMap;

use super::yaml::resolve::{BINARY, Value, resolve};
use super::yaml::{Document, NodeId, NodeKind, parse_document};
use super::{ConfigError, Mode, parse, to_json};

/// Why `check-config` failed: the config is invalid (exit 1) or the input is not a
/// ConfigMap/config document at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Invalid(#[from] ConfigError),
    #[error("input is a {0}, expected a ConfigMap or a config document")]
    WrongKind(String),
    /// Nothing to check: an empty input (the command feeding it failed?), a ConfigMap without
    /// `data.config`, or an empty one. Upstream would load an empty config; `check-config`
    /// says so instead of answering "valid" (`--allow-empty` when that is meant).
    #[error("{0}; nothing to check (--allow-empty accepts an empty config)")]
    Empty(String),
    /// The input is a ConfigMap manifest, but not one the API server would store (broken
    /// YAML, `data.config` not a string): its own error, not the config parser's.
    #[error("{0}")]
    Manifest(String),
    /// More config than the API server stores in one ConfigMap.
    #[error(
        "the config is {0} bytes, more than the 1 MiB ({CONFIG_LIMIT} bytes) a ConfigMap can hold"
    )]
    TooLarge(usize),
}

/// The API server refuses a ConfigMap whose data is larger than 1 MiB, so no cluster can hold
/// a longer config.
pub const CONFIG_LIMIT: usize = 1 << 20;

impl CheckError {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckError::Invalid(_) | CheckError::Empty(_) => 1,
            CheckError::WrongKind(_) | CheckError::Manifest(_) | CheckError::TooLarge(_) => 2,
        }
    }
}

/// The config text inside `input`: `data.config` of a ConfigMap manifest (missing key = empty
/// document, as upstream), or `input` itself when it is a bare config document.
pub fn config_text(input: &str) -> Result<String, CheckError> {
    find(input).map(|found| found.text)
}

/// The config an input holds, and why it holds none when that is the case.
struct Found {
    text: String,
    empty_because: Option<String>,
}

fn find(input: &str) -> Result<Found, CheckError> {
    let found = find_unchecked(input)?;
    if found.text.len() > CONFIG_LIMIT {
        return Err(CheckError::TooLarge(found.text.len()));
    }
    Ok(found)
}

fn find_unchecked(input: &str) -> Result<Found, CheckError> {
    // Blank to the eye is not always blank to YAML (a tab where a token may start is an
    // error upstream reports): only a blank input YAML finds no document in is empty.
    if input.trim().is_empty() && matches!(parse_document(input), Ok(None)) {
        return Ok(Found {
            text: String::new(),
            empty_because: Some("the input is empty".to_owned()),
        });
    }
    // A loose look at the top level only: a document with a `kind` is a Kubernetes object;
    // anything else is taken as a bare config document and parsed strictly as itself.
    let top = match loose_top(input) {
        Ok(top) => top,
        Err(e) if looks_like_manifest(input) => {
            return Err(CheckError::Manifest(format!(
                "the input has a top-level apiVersion or kind but is not a valid manifest: {}",
                e.lines().next().unwrap_or_default()
            )));
        }
        Err(_) => None,
    };
    let Some(top) = top.filter(|t| t.kind.is_some()) else {
        return Ok(Found {
            text: input.to_owned(),
            empty_because: None,
        });
    };
    if let Some(kind) = top.kind.filter(|k| k != "ConfigMap") {
        return Err(CheckError::WrongKind(kind));
    }
    let data = top.data.unwrap_or_default();
    let (text, empty_because) = match data.get("config") {
        None if data.is_empty() => (String::new(), Some("the ConfigMap has no data".to_owned())),
        None => {
            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
            let why = format!(
                "the ConfigMap has no data.config (its data keys: {})",
                keys.join(", ")
            );
            (String::new(), Some(why))
        }
        Some(DataValue::Null) => (
            String::new(),
            Some("the ConfigMap's data.config is empty".to_owned()),
        ),
        Some(DataValue::Text(text)) => {
            let empty = text.trim().is_empty();
            let why = empty.then(|| "the ConfigMap's data.config is empty".to_owned());
            (text.clone(), why)
        }
        Some(DataValue::Other(what)) => {
            return Err(CheckError::Manifest(format!(
                "the ConfigMap's data.config is {what}, not a string: ConfigMap data values are \
                 text, so write `config: |` and indent the config document under it"
            )));
        }
    };
    Ok(Found {
        text,
        empty_because,
    })
}

/// Whether a top-level line starts with `apiVersion:` or `kind:`: what a manifest has and a
/// config document never does.
fn looks_like_manifest(input: &str) -> bool {
    input
        .lines()
        .any(|l| l.starts_with("apiVersion:") || l.starts_with("kind:"))
}

/// The top level of a manifest, as far as `check-config` needs it.
struct LooseTop {
    kind: Option<String>,
    data: Option<BTreeMap<String, DataValue>>,
}

/// A `data` value, typed as the API server would see it after YAML-to-JSON conversion.
enum DataValue {
    Null,
    Text(String),
    /// Not a string: "a mapping", "a sequence", "a boolean", "a number".
    Other(&'static str),
}

/// Reads the first document's top level as kubectl would (YAML 1.1, later keys winning):
/// `None` for a document that is not a mapping; an error for broken YAML, a `kind` that is
/// not text or a `data` that is not a mapping.
fn loose_top(input: &str) -> Result<Option<LooseTop>, String> {
    let Some(doc) = parse_document(input).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let root = deref(&doc, doc.root);
    if doc.node(root).kind != NodeKind::Mapping {
        return Ok(None);
    }
    let mut top = LooseTop {
        kind: None,
        data: None,
    };
    for pair in doc.node(root).children.chunks_exact(2) {
        let (key, value) = (deref(&doc, pair[0]), deref(&doc, pair[1]));
        match doc.node(key).value.as_str() {
            "kind" => match data_value(&doc, value)? {
                DataValue::Text(kind) => top.kind = Some(kind),
                DataValue::Null => top.kind = None,
                DataValue::Other(what) => return Err(format!("kind is {what}, not a string")),
            },
            "data" => {
                top.data = match doc.node(value).kind {
                    NodeKind::Mapping => {
                        let mut data = BTreeMap::new();
                        for kv in doc.node(value).children.chunks_exact(2) {
                            let k = doc.node(deref(&doc, kv[0])).value.clone();
                            data.insert(k, data_value(&doc, deref(&doc, kv[1]))?);
                        }
                        Some(data)
                    }
                    _ if matches!(data_value(&doc, value)?, DataValue::Null) => None,
                    _ => return Err("data is not a mapping".to_owned()),
                }
            }
            _ => {}
        }
    }
    Ok(Some(top))
}

/// The node an alias stands for.
fn deref(doc: &Document, n: NodeId) -> NodeId {
    match doc.node(n).kind {
        NodeKind::Alias(target) => target,
        _ => n,
    }
}

fn data_value(doc: &Document, n: NodeId) -> Result<DataValue, String> {
    let node = doc.node(n);
    Ok(match node.kind {
        NodeKind::Mapping => DataValue::Other("a mapping"),
        NodeKind::Sequence => DataValue::Other("a sequence"),
        _ if node.tag.is_empty() && !node.implicit => DataValue::Text(node.value.clone()),
        _ => match resolve(&node.tag, &node.value)? {
            (BINARY, _) => DataValue::Other("binary data"),
            (_, Value::Null) => DataValue::Null,
            (_, Value::Bool(_)) => DataValue::Other("a boolean"),
            (_, Value::Int(_) | Value::Uint(_) | Value::Float(_)) => DataValue::Other("a number"),
            (_, Value::Timestamp | Value::Str(_)) => DataValue::Text(node.value.clone()),
        },
    })
}

/// `check-config`: the normalised JSON of a valid config, pretty-printed. An input with no
/// config in it is an error unless `allow_empty`.
pub fn check_input(input: &str, mode: Mode, allow_empty: bool) -> Result<String, CheckError> {
    let found = find(input)?;
    if !allow_empty && let Some(why) = found.empty_because {
        return Err(CheckError::Empty(why));
    }
    normalised(&found.text, mode)
}

/// The normalised JSON of the config in `input` (an empty one is the empty config).
pub fn check(input: &str, mode: Mode) -> Result<String, CheckError> {
    normalised(&config_text(input)?, mode)
}

fn normalised(text: &str, mode: Mode) -> Result<String, CheckError> {
    let cfg = parse(text, mode)?;
    Ok(serde_json::to_string_pretty(&to_json(&cfg)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 10.10.8.200-10.10.8.205\n";

    #[test]
    fn manifest_and_bare_document_give_the_same_result() {
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: metallb-system\n  name: config\ndata:\n  config: |\n{}",
            DOC.lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        );
        let a = check(&manifest, Mode::Controller).expect("valid manifest");
        let b = check(DOC, Mode::Controller).expect("valid document");
        assert_eq!(a, b);
        assert!(a.contains("\"10.10.8.204/31\""));
    }

    #[test]
    fn configmap_without_config_key_is_the_empty_config() {
        let out = check(
            "kind: ConfigMap\nmetadata: {name: config}\n",
            Mode::Controller,
        )
        .expect("valid");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["pools"], serde_json::json!({}));
    }

    #[test]
    fn nothing_to_check_is_an_error_unless_allowed() {
        for (input, why) in [
            ("", "the input is empty"),
            ("  \n", "the input is empty"),
            ("kind: ConfigMap\nmetadata: {name: config}\n", "has no data"),
            (
                "kind: ConfigMap\nmetadata: {name: config}\ndata:\n  conifg: |\n    peers: []\n",
                "has no data.config (its data keys: conifg)",
            ),
            (
                "kind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: \"\"\n",
                "data.config is empty",
            ),
        ] {
            let e = check_input(input, Mode::Controller, false).expect_err(input);
            assert_eq!(e.exit_code(), 1, "{input:?}");
            assert!(e.to_string().contains(why), "{input:?}: {e}");
            assert!(e.to_string().contains("--allow-empty"));
            assert!(
                check_input(input, Mode::Controller, true).is_ok(),
                "{input:?}"
            );
        }
        assert!(check_input(DOC, Mode::Controller, false).is_ok());
    }

    #[test]
    fn blank_input_that_yaml_rejects_gets_the_yaml_error() {
        // A tab where a token may start is an error to YAML (and to upstream), not nothing.
        let e = check_input("\t\n", Mode::Controller, false).expect_err("a tab");
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "could not parse config: yaml: found character that cannot start any token"
        );
    }

    #[test]
    fn a_broken_manifest_gets_its_own_error() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n";
        // The `|` forgotten: data.config is a YAML mapping.
        let forgot_pipe = format!("{cm}  config:\n    address-pools:\n    - name: a\n");
        let e = check_input(&forgot_pipe, Mode::Controller, false).expect_err("a mapping");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "the ConfigMap's data.config is a mapping, not a string: ConfigMap data values are \
             text, so write `config: |` and indent the config document under it"
        );
        for (value, what) in [
            ("42", "a number"),
            ("1e3", "a number"),
            ("yes", "a boolean"),
            ("[a]", "a sequence"),
        ] {
            let e = check(&format!("{cm}  config: {value}\n"), Mode::Controller).expect_err(value);
            assert!(
                e.to_string().contains(&format!("is {what}, not a string")),
                "{e}"
            );
        }
        // Quoted or a timestamp: text (here not a valid config); null: nothing to check.
        for value in ["'42'", "2001-12-14"] {
            let e = check(&format!("{cm}  config: {value}\n"), Mode::Controller).expect_err(value);
            assert!(e.to_string().contains("into config.configFile"), "{e}");
        }
        let null = format!("{cm}  config: ~\n");
        assert!(check(&null, Mode::Controller).is_ok());
        let e = check_input(&null, Mode::Controller, false).expect_err("null");
        assert!(e.to_string().contains("data.config is empty"), "{e}");
        let number = format!("{cm}  config: 42\n");
        assert!(
            check(&number, Mode::Controller)
                .expect_err("a number")
                .to_string()
                .contains("is a number, not a string")
        );
        // Broken YAML in the manifest itself: the manifest's error, not "field apiVersion not
        // found in type config.configFile".
        let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n data:\n  config: |\n    peers: []\n";
        let e = check_input(broken, Mode::Controller, false).expect_err("broken");
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(
            text.starts_with(
                "the input has a top-level apiVersion or kind but is not a valid manifest: "
            ),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains("config.configFile"), "{text}");
    }

    #[test]
    fn more_than_a_configmap_holds_is_refused_in_plain_words() {
        let long = format!("# {}\npeers: []\n", "x".repeat(CONFIG_LIMIT));
        let e = check(&long, Mode::Controller).expect_err("too large");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            format!(
                "the config is {} bytes, more than the 1 MiB (1048576 bytes) a ConfigMap can hold",
                long.len()
            )
        );
        let fits = format!("# {}\npeers: []\n", "x".repeat(CONFIG_LIMIT - 20));
        assert!(check(&fits, Mode::Controller).is_ok());
    }

    #[test]
    fn other_kinds_are_usage_errors() {
        let e = check("kind: Service\nmetadata: {name: x}\n", Mode::Controller).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = check("peers: 3\n", Mode::Controller).unwrap_err();
        assert_eq!(e.exit_code(), 1);
    }
}
