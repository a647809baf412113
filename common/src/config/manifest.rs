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
}

impl CheckError {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckError::Invalid(_) => 1,
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

/// `check-config`: the normalised JSON of a valid config, pretty-printed.
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
    fn other_kinds_are_usage_errors() {
        let e = check("kind: Service\nmetadata: {name: x}\n", Mode::Controller).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = check("peers: 3\n", Mode::Controller).unwrap_err();
        assert_eq!(e.exit_code(), 1);
    }
}
