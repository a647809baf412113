//! `metallb.io` objects in multi-document YAML: what `controller convert` writes, and what
//! tests and tools read back (a `kind: List`, as `kubectl get -o yaml` prints, counts as its
//! items).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::crd::Resources;
use crate::crd::types::{
    BfdProfileSpec, BgpAdvertisementSpec, BgpPeerSpec, CommunitySpec, GROUP, IpAddressPoolSpec,
    Kind, L2AdvertisementSpec, Object,
};

/// Why a YAML stream is not a set of `metallb.io` objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("not YAML: {0}")]
    Yaml(String),
    #[error("document #{0}: not a Kubernetes object (no kind)")]
    NoKind(usize),
    #[error(
        "document #{index}: {kind} of apiVersion {api_version} is not a MetalLB v0.13 object (IPAddressPool, L2Advertisement, BGPAdvertisement, BGPPeer, Community or BFDProfile in metallb.io)"
    )]
    Kind {
        index: usize,
        kind: String,
        api_version: String,
    },
    #[error("document #{index}: {kind} {name}: {reason}")]
    Object {
        index: usize,
        kind: &'static str,
        name: String,
        reason: String,
    },
}

/// Every object in `text`. An empty stream is no objects.
pub fn read(text: &str) -> Result<Resources, DocumentError> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| DocumentError::Yaml(e.to_string()))?;
    let mut items = Vec::new();
    for doc in docs {
        match doc {
            Value::Null => {}
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
                let list = m.get("items").and_then(Value::as_array).cloned();
                items.extend(list.unwrap_or_default());
            }
            other => items.push(other),
        }
    }
    read_values(items)
}

/// Objects as JSON values (an API list's items, a document's objects).
pub fn read_values(items: impl IntoIterator<Item = Value>) -> Result<Resources, DocumentError> {
    let mut res = Resources::default();
    for (i, item) in items.into_iter().enumerate() {
        let index = i + 1;
        let text = |key: &str| {
            item.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (kind, api_version) = (text("kind"), text("apiVersion"));
        let (kind, api_version) = (kind.as_str(), api_version.as_str());
        if kind.is_empty() {
            return Err(DocumentError::NoKind(index));
        }
        let wrong = || DocumentError::Kind {
            index,
            kind: kind.to_owned(),
            api_version: api_version.to_owned(),
        };
        match kind {
            "IPAddressPool" => res.pools.push(object(index, api_version, item, wrong)?),
            "L2Advertisement" => {
                res.l2_advertisements
                    .push(object(index, api_version, item, wrong)?)
            }
            "BGPAdvertisement" => {
                res.bgp_advertisements
                    .push(object(index, api_version, item, wrong)?)
            }
            "BGPPeer" => res.peers.push(object(index, api_version, item, wrong)?),
            "Community" => res
                .communities
                .push(object(index, api_version, item, wrong)?),
            "BFDProfile" => res
                .bfd_profiles
                .push(object(index, api_version, item, wrong)?),
            _ => return Err(wrong()),
        }
    }
    Ok(res)
}

fn object<S: Kind + DeserializeOwned + Default>(
    index: usize,
    api_version: &str,
    item: Value,
    wrong: impl Fn() -> DocumentError,
) -> Result<Object<S>, DocumentError> {
    let version = api_version
        .strip_prefix(GROUP)
        .and_then(|v| v.strip_prefix('/'));
    if !version.is_some_and(|v| S::READS.contains(&v)) {
        return Err(wrong());
    }
    let name = item
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    serde_json::from_value(item).map_err(|e| DocumentError::Object {
        index,
        kind: S::KIND,
        name,
        reason: e.to_string(),
    })
}

/// The objects as multi-document YAML, each document ended by `---`, in upstream's
/// converter's order: peers, pools, BGP advertisements, L2 advertisements, BFD profiles,
/// communities.
pub fn write(res: &Resources) -> String {
    let mut out = String::new();
    fn push<S: Serialize + Kind>(out: &mut String, list: &[Object<S>]) {
        for o in list {
            out.push_str(&yaml(o));
            out.push_str("---\n");
        }
    }
    push(&mut out, &res.peers);
    push(&mut out, &res.pools);
    push(&mut out, &res.bgp_advertisements);
    push(&mut out, &res.l2_advertisements);
    push(&mut out, &res.bfd_profiles);
    push(&mut out, &res.communities);
    out
}

/// One object as a YAML document.
fn yaml<S: Serialize + Kind>(o: &Object<S>) -> String {
    // Through a JSON value: key order is the struct's, and maps come out sorted.
    let value = serde_json::to_value(o).unwrap_or(Value::Null);
    let text = serde_saphyr::to_string(&value).unwrap_or_default();
    if text.ends_with('\n') {
        text
    } else {
        format!("{text}\n")
    }
}

/// The spec types a document may hold, for callers that iterate kinds.
pub const KINDS: [&str; 6] = [
    IpAddressPoolSpec::KIND,
    L2AdvertisementSpec::KIND,
    BgpAdvertisementSpec::KIND,
    BgpPeerSpec::KIND,
    CommunitySpec::KIND,
    BfdProfileSpec::KIND,
];
