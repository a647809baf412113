//! The `metallb.io` objects of MetalLB v0.13, as plain serde values with upstream's JSON field
//! names (docs/crd.md#the-objects).
//!
//! Decoding is lenient the way the API server is after it prunes an object to its schema, with
//! one difference that matters: fields this API does not know are not dropped but collected in
//! each spec's `unknown`, so that a newer MetalLB's field (or a typo, in a file given to a
//! command) is reported instead of silently changing nothing. `null` reads as the field's zero
//! value, as Go's decoder reads it.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The API group of every object here.
pub const GROUP: &str = "metallb.io";

/// Fields of a spec that this API version does not define, by name.
pub type Unknown = BTreeMap<String, Value>;

/// Reads `null` as the type's default (Go's zero value).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

/// The part of `metadata` the translation reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// Matched by `ipAddressPoolSelectors` (on pools).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// For Events about the object.
    #[serde(default, skip_serializing)]
    pub uid: Option<String>,
}

/// One object of kind `S::KIND`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "S: Serialize",
    deserialize = "S: DeserializeOwned + Default"
))]
pub struct Object<S> {
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "null_default")]
    pub spec: S,
}

/// What a spec type knows about its kind.
pub trait Kind {
    const KIND: &'static str;
    /// The plural resource name (URL path segment).
    const PLURAL: &'static str;
    /// The version this implementation writes and watches.
    const VERSION: &'static str;
    /// Every version whose objects decode into this spec.
    const READS: &'static [&'static str];
}

impl<S: Kind> Object<S> {
    /// A new object of this kind in `namespace`.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>, spec: S) -> Self {
        Self {
            api_version: format!("{GROUP}/{}", S::VERSION),
            kind: S::KIND.to_owned(),
            metadata: Meta {
                name: name.into(),
                namespace: namespace.into(),
                ..Meta::default()
            },
            spec,
        }
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}

/// `matchLabels` and `matchExpressions`: `metav1.LabelSelector`, and v1beta1 BGPPeer's own
/// `NodeSelector`, which has the same JSON shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub match_labels: BTreeMap<String, String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<MatchExpression>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchExpression {
    #[serde(default, deserialize_with = "null_default")]
    pub key: String,
    #[serde(default, deserialize_with = "null_default")]
    pub operator: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<String>,
}

/// `IPAddressPool` (v1beta1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddressPoolSpec {
    #[serde(default, deserialize_with = "null_default")]
    pub addresses: Vec<String>,
    /// Defaults to true (the schema's default; also when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_assign: Option<bool>,
    #[serde(
        rename = "avoidBuggyIPs",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub avoid_buggy_ips: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_allocation: Option<ServiceAllocation>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `spec.serviceAllocation` of a pool (not supported yet: docs/crd.md#not-supported-yet).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAllocation {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub priority: i64,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub namespaces: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub namespace_selectors: Vec<LabelSelector>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub service_selectors: Vec<LabelSelector>,
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

impl Kind for IpAddressPoolSpec {
    const KIND: &'static str = "IPAddressPool";
    const PLURAL: &'static str = "ipaddresspools";
    const VERSION: &'static str = "v1beta1";
    const READS: &'static [&'static str] = &["v1beta1"];
}

/// `L2Advertisement` (v1beta1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L2AdvertisementSpec {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ip_address_pools: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub node_selectors: Vec<LabelSelector>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub interfaces: Vec<String>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl Kind for L2AdvertisementSpec {
    const KIND: &'static str = "L2Advertisement";
    const PLURAL: &'static str = "l2advertisements";
    const VERSION: &'static str = "v1beta1";
    const READS: &'static [&'static str] = &["v1beta1"];
}

/// `BGPAdvertisement` (v1beta1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpAdvertisementSpec {
    /// Defaults to 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_length: Option<i32>,
    /// Defaults to 128.
    #[serde(
        rename = "aggregationLengthV6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub aggregation_length_v6: Option<i32>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_u32"
    )]
    pub local_pref: u32,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub communities: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ip_address_pools: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub node_selectors: Vec<LabelSelector>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peers: Vec<String>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl Kind for BgpAdvertisementSpec {
    const KIND: &'static str = "BGPAdvertisement";
    const PLURAL: &'static str = "bgpadvertisements";
    const VERSION: &'static str = "v1beta1";
    const READS: &'static [&'static str] = &["v1beta1"];
}

/// `BGPPeer` v1beta2. A v1beta1 object decodes into it too: v1beta1 has no `passwordSecret`
/// and no `vrf`, and its own node selector type has `metav1.LabelSelector`'s JSON shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BgpPeerSpec {
    #[serde(rename = "myASN", default, deserialize_with = "null_default")]
    pub my_asn: u32,
    #[serde(rename = "peerASN", default, deserialize_with = "null_default")]
    pub peer_asn: u32,
    #[serde(rename = "peerAddress", default, deserialize_with = "null_default")]
    pub peer_address: String,
    #[serde(
        rename = "sourceAddress",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub source_address: String,
    /// 0 reads as 179 (v1beta2's schema default).
    #[serde(
        rename = "peerPort",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_u16"
    )]
    pub peer_port: u16,
    /// A Go duration (`metav1.Duration`); empty or zero means 90s.
    #[serde(
        rename = "holdTime",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub hold_time: String,
    /// A Go duration; empty or zero means a third of the hold time.
    #[serde(
        rename = "keepaliveTime",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub keepalive_time: String,
    #[serde(
        rename = "routerID",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub router_id: String,
    #[serde(
        rename = "nodeSelectors",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub node_selectors: Vec<LabelSelector>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub password: String,
    /// v1beta2 only; not supported yet (docs/crd.md#not-supported-yet).
    #[serde(
        rename = "passwordSecret",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "SecretReference::is_empty"
    )]
    pub password_secret: SecretReference,
    #[serde(
        rename = "bfdProfile",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub bfd_profile: String,
    #[serde(
        rename = "ebgpMultiHop",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub ebgp_multihop: bool,
    /// v1beta2 only; not supported (docs/crd.md#not-supported-yet).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub vrf: String,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `core/v1 SecretReference`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretReference {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
}

impl SecretReference {
    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.namespace.is_empty()
    }
}

impl Kind for BgpPeerSpec {
    const KIND: &'static str = "BGPPeer";
    const PLURAL: &'static str = "bgppeers";
    const VERSION: &'static str = "v1beta2";
    const READS: &'static [&'static str] = &["v1beta1", "v1beta2"];
}

/// `Community` (v1beta1): named community values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommunitySpec {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub communities: Vec<CommunityAlias>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityAlias {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub value: String,
}

impl Kind for CommunitySpec {
    const KIND: &'static str = "Community";
    const PLURAL: &'static str = "communities";
    const VERSION: &'static str = "v1beta1";
    const READS: &'static [&'static str] = &["v1beta1"];
}

/// `BFDProfile` (v1beta1). `None` is FRR's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BfdProfileSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_interval: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmit_interval: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_multiplier: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_interval: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_mode: Option<bool>,
    #[serde(
        rename = "minimumTtl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub minimum_ttl: Option<u32>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl Kind for BfdProfileSpec {
    const KIND: &'static str = "BFDProfile";
    const PLURAL: &'static str = "bfdprofiles";
    const VERSION: &'static str = "v1beta1";
    const READS: &'static [&'static str] = &["v1beta1"];
}

pub type IpAddressPool = Object<IpAddressPoolSpec>;
pub type L2Advertisement = Object<L2AdvertisementSpec>;
pub type BgpAdvertisement = Object<BgpAdvertisementSpec>;
pub type BgpPeer = Object<BgpPeerSpec>;
pub type Community = Object<CommunitySpec>;
pub type BfdProfile = Object<BfdProfileSpec>;
