//! `check-config` input: a ConfigMap manifest (`data.config`) or a bare config document.

use serde::Deserialize;

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
}

impl CheckError {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckError::Invalid(_) | CheckError::Empty(_) => 1,
            CheckError::WrongKind(_) => 2,
        }
    }
}

/// The config text inside `input`: `data.config` of a ConfigMap manifest (missing key = empty
/// document, as upstream), or `input` itself when it is a bare config document.
pub fn config_text(input: &str) -> Result<String, CheckError> {
    // A loose look at the top level only: a document with a `kind` is a Kubernetes object;
    // anything else is taken as a bare config document and parsed strictly as itself.
    let envelope = serde_saphyr::from_str::<Option<LooseTop>>(input)
        .ok()
        .flatten();
    match envelope.and_then(|t| t.kind.clone().map(|k| (k, t))) {
        Some((kind, top)) if kind == "ConfigMap" => Ok(top
            .data
            .and_then(|mut d| d.remove("config"))
            .flatten()
            .unwrap_or_default()),
        Some((kind, _)) => Err(CheckError::WrongKind(kind)),
        None => Ok(input.to_owned()),
    }
}

#[derive(Deserialize)]
struct LooseTop {
    kind: Option<String>,
    data: Option<std::collections::BTreeMap<String, Option<String>>>,
    #[serde(flatten)]
    _rest: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

/// Why `input` holds no config to check, if it holds none.
fn emptiness(input: &str) -> Option<String> {
    if input.trim().is_empty() {
        return Some("the input is empty".to_owned());
    }
    let top = serde_saphyr::from_str::<Option<LooseTop>>(input)
        .ok()
        .flatten()?;
    if top.kind.as_deref() != Some("ConfigMap") {
        return None;
    }
    let keys: Vec<&str> = top
        .data
        .iter()
        .flat_map(|d| d.keys().map(String::as_str))
        .collect();
    match top.data.as_ref().and_then(|d| d.get("config")) {
        None if keys.is_empty() => Some("the ConfigMap has no data".to_owned()),
        None => Some(format!(
            "the ConfigMap has no data.config (its data keys: {})",
            keys.join(", ")
        )),
        Some(text) if text.as_deref().unwrap_or_default().trim().is_empty() => {
            Some("the ConfigMap's data.config is empty".to_owned())
        }
        Some(_) => None,
    }
}

/// `check-config`: the normalised JSON of a valid config, pretty-printed. An input with no
/// config in it is an error unless `allow_empty`.
pub fn check_input(input: &str, mode: Mode, allow_empty: bool) -> Result<String, CheckError> {
    if !allow_empty && let Some(why) = emptiness(input) {
        return Err(CheckError::Empty(why));
    }
    check(input, mode)
}

/// The normalised JSON of the config in `input` (an empty one is the empty config).
pub fn check(input: &str, mode: Mode) -> Result<String, CheckError> {
    let text = config_text(input)?;
    let cfg = parse(&text, mode)?;
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
    fn other_kinds_are_usage_errors() {
        let e = check("kind: Service\nmetadata: {name: x}\n", Mode::Controller).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = check("peers: 3\n", Mode::Controller).unwrap_err();
        assert_eq!(e.exit_code(), 1);
    }
}
