//! The document as written: strict YAML decoding into raw structs, before any validation.
//!
//! Mirrors upstream's `configFile` structs decoded with yaml.v2 `UnmarshalStrict`: unknown and
//! duplicate keys are errors, YAML 1.1 booleans are accepted, string fields take the raw text
//! of any scalar, and a `null` anywhere means "the zero value" — hence `Option` everywhere,
//! with `None` read as Go's zero value by the parser.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub peers: Option<Vec<Option<RawPeer>>>,
    #[serde(rename = "bgp-communities")]
    pub bgp_communities: Option<BTreeMap<String, Option<String>>>,
    #[serde(rename = "address-pools")]
    pub address_pools: Option<Vec<Option<RawPool>>>,
    #[serde(rename = "bfd-profiles")]
    pub bfd_profiles: Option<Vec<Option<RawBfdProfile>>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPeer {
    #[serde(rename = "my-asn")]
    pub my_asn: Option<u32>,
    #[serde(rename = "peer-asn")]
    pub peer_asn: Option<u32>,
    #[serde(rename = "peer-address")]
    pub peer_address: Option<String>,
    #[serde(rename = "source-address")]
    pub source_address: Option<String>,
    #[serde(rename = "peer-port")]
    pub peer_port: Option<u16>,
    #[serde(rename = "hold-time")]
    pub hold_time: Option<String>,
    #[serde(rename = "keepalive-time")]
    pub keepalive_time: Option<String>,
    #[serde(rename = "router-id")]
    pub router_id: Option<String>,
    #[serde(rename = "node-selectors")]
    pub node_selectors: Option<Vec<Option<RawNodeSelector>>>,
    pub password: Option<String>,
    #[serde(rename = "bfd-profile")]
    pub bfd_profile: Option<String>,
    #[serde(rename = "ebgp-multihop")]
    pub ebgp_multihop: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNodeSelector {
    #[serde(rename = "match-labels")]
    pub match_labels: Option<BTreeMap<String, Option<String>>>,
    #[serde(rename = "match-expressions")]
    pub match_expressions: Option<Vec<Option<RawRequirement>>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequirement {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub values: Option<Vec<Option<String>>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub protocol: Option<String>,
    pub name: Option<String>,
    pub addresses: Option<Vec<Option<String>>>,
    #[serde(rename = "avoid-buggy-ips")]
    pub avoid_buggy_ips: Option<bool>,
    #[serde(rename = "auto-assign")]
    pub auto_assign: Option<bool>,
    #[serde(rename = "bgp-advertisements")]
    pub bgp_advertisements: Option<Vec<Option<RawAdvertisement>>>,
}

/// Compared field by field (deep equality as written) for upstream's duplicate check.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdvertisement {
    #[serde(rename = "aggregation-length")]
    pub aggregation_length: Option<i64>,
    #[serde(rename = "aggregation-length-v6")]
    pub aggregation_length_v6: Option<i64>,
    pub localpref: Option<u32>,
    pub communities: Option<Vec<Option<String>>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBfdProfile {
    pub name: Option<String>,
    #[serde(rename = "receive-interval")]
    pub receive_interval: Option<u32>,
    #[serde(rename = "transmit-interval")]
    pub transmit_interval: Option<u32>,
    #[serde(rename = "detect-multiplier")]
    pub detect_multiplier: Option<u32>,
    #[serde(rename = "echo-interval")]
    pub echo_interval: Option<u32>,
    #[serde(rename = "echo-mode")]
    pub echo_mode: Option<bool>,
    #[serde(rename = "passive-mode")]
    pub passive_mode: Option<bool>,
    #[serde(rename = "minimum-ttl")]
    pub minimum_ttl: Option<u32>,
}

/// Go type names of the raw structs, keyed by their first field, so that serde's
/// "unknown field" message can be told the way yaml.v2 tells it.
const GO_TYPES: &[(&str, &str)] = &[
    ("peers", "config.configFile"),
    ("my-asn", "config.peer"),
    ("match-labels", "config.nodeSelector"),
    ("key", "config.selectorRequirements"),
    ("protocol", "config.addressPool"),
    ("aggregation-length", "config.bgpAdvertisement"),
    ("name", "config.bfdProfile"),
];

/// Go type names of the scalar Rust types in the raw structs.
const GO_SCALARS: &[(&str, &str)] = &[
    ("u32", "uint32"),
    ("u16", "uint16"),
    ("i64", "int"),
    ("bool", "bool"),
];

/// Decodes the document; an empty or `null` document is the zero config.
pub(crate) fn decode(text: &str) -> Result<RawConfig, String> {
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Option<RawConfig>>(text, options) {
        Ok(raw) => Ok(raw.unwrap_or_default()),
        Err(e) => Err(go_style(&e.to_string(), text)),
    }
}

/// Rewrites serde-saphyr's messages for the three strict-mode failures (unknown key, duplicate
/// key, wrong scalar type) into yaml.v2's `unmarshal errors` wording, which operators know;
/// syntax errors keep serde-saphyr's own text and position.
fn go_style(msg: &str, text: &str) -> String {
    let line = position(msg).map(|(l, _)| l);
    let unmarshal = |what: String| match line {
        Some(l) => format!("yaml: unmarshal errors:\n  line {l}: {what}"),
        None => format!("yaml: unmarshal errors:\n  {what}"),
    };
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((field, after)) = rest.split_once('`')
    {
        let first_expected = after
            .trim_start_matches(", expected one of ")
            .split([',', ' ', '`'])
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let go_type = GO_TYPES
            .iter()
            .find(|(f, _)| *f == first_expected)
            .map_or("config", |(_, t)| t);
        return unmarshal(format!("field {field} not found in type {go_type}"));
    }
    if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return unmarshal(format!(
            "key {} already set in map",
            crate::gotext::quote(key)
        ));
    }
    if let Some(rest) = msg.strip_prefix("invalid ") {
        let rust_type = rest.split(' ').next().unwrap_or_default();
        if let Some((_, go_type)) = GO_SCALARS.iter().find(|(r, _)| *r == rust_type) {
            let scalar = position(msg)
                .and_then(|(l, c)| scalar_at(text, l, c))
                .unwrap_or_default();
            return unmarshal(format!(
                "cannot unmarshal {} `{}` into {go_type}",
                yaml11_tag(&scalar),
                scalar.trim_matches(['"', '\''])
            ));
        }
    }
    format!("yaml: {msg}")
}

/// `(line, column)` from serde-saphyr's "at line L, column C" suffix.
fn position(msg: &str) -> Option<(usize, usize)> {
    let tail = msg.rsplit_once(" at line ")?.1;
    let (l, c) = tail.split_once(", column ")?;
    Some((l.parse().ok()?, c.trim_end().parse().ok()?))
}

/// The plain or quoted scalar starting at a 1-based position.
fn scalar_at(text: &str, line: usize, column: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let start = l
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map(|(i, _)| i)?;
    let rest = &l[start..];
    let end = rest.find(" #").unwrap_or(rest.len());
    Some(
        rest[..end]
            .trim()
            .trim_end_matches([',', ']', '}'])
            .trim()
            .to_owned(),
    )
}

/// The YAML 1.1 tag yaml.v2 would resolve a scalar to (for the error text only).
fn yaml11_tag(s: &str) -> &'static str {
    if s.starts_with(['"', '\'']) {
        return "!!str";
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "yes" | "n" | "no" | "true" | "false" | "on" | "off"
    ) {
        "!!bool"
    } else if s
        .replace('_', "")
        .trim_start_matches(['-', '+'])
        .chars()
        .all(|c| c.is_ascii_digit())
        && !s.is_empty()
    {
        "!!int"
    } else if s.parse::<f64>().is_ok() {
        "!!float"
    } else if matches!(s, "" | "~" | "null" | "Null" | "NULL") {
        "!!null"
    } else {
        "!!str"
    }
}
