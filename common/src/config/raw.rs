//! The document as written: upstream v0.12.1's `configFile` structs, field for field, with
//! Go's zero values for what is absent (pointers are `Option`, and [`GoSlice`] keeps the
//! nil/empty distinction where upstream compares with `reflect.DeepEqual`). Filled by
//! [`super::decode`]; validated by the parser modules.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::decode::{Decoder, GoStruct, Target};
use super::go_kinds::GoSlice;
use super::yaml::NodeId;
use super::yaml::resolve::Value;

/// A Go struct decoded by field name: the struct, its Go type name and YAML keys.
macro_rules! go_struct {
    (
        $(#[$meta:meta])*
        struct $name:ident = $go:literal {
            $($(#[$fmeta:meta])* $field:ident: $ty:ty = $key:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default, Clone, PartialEq, Eq)]
        pub(crate) struct $name {
            $($(#[$fmeta])* pub(crate) $field: $ty,)*
        }

        impl GoStruct for $name {
            const GO_TYPE: &'static str = $go;
            const FIELDS: &'static [&'static str] = &[$($key),*];

            fn field(&mut self, d: &mut Decoder<'_>, index: usize, value: NodeId) -> Result<(), String> {
                let key = Self::FIELDS.get(index).copied().unwrap_or_default();
                $(
                    if key == $key {
                        return d.unmarshal(value, &mut self.$field).map(drop);
                    }
                )*
                Ok(())
            }
        }

        impl Target for $name {
            fn go_type() -> Cow<'static, str> {
                $go.into()
            }
            fn set_zero(&mut self) {
                *self = Self::default();
            }
            fn decode_mapping(&mut self, d: &mut Decoder<'_>, n: NodeId) -> Result<bool, String> {
                d.mapping_struct(n, self)
            }
        }
    };
}

go_struct! {
    struct RawConfig = "config.configFile" {
        peers: Vec<RawPeer> = "peers",
        bgp_communities: BTreeMap<String, String> = "bgp-communities",
        address_pools: Vec<RawPool> = "address-pools",
        bfd_profiles: Vec<RawBfdProfile> = "bfd-profiles",
    }
}

go_struct! {
    struct RawPeer = "config.peer" {
        my_asn: u32 = "my-asn",
        peer_asn: u32 = "peer-asn",
        peer_address: String = "peer-address",
        source_address: String = "source-address",
        peer_port: u16 = "peer-port",
        hold_time: String = "hold-time",
        keepalive_time: String = "keepalive-time",
        router_id: String = "router-id",
        node_selectors: Vec<RawNodeSelector> = "node-selectors",
        password: String = "password",
        bfd_profile: String = "bfd-profile",
        ebgp_multihop: bool = "ebgp-multihop",
    }
}

go_struct! {
    struct RawNodeSelector = "config.nodeSelector" {
        match_labels: BTreeMap<String, String> = "match-labels",
        match_expressions: Vec<RawRequirement> = "match-expressions",
    }
}

go_struct! {
    struct RawRequirement = "config.selectorRequirements" {
        key: String = "key",
        operator: String = "operator",
        values: Vec<String> = "values",
    }
}

go_struct! {
    struct RawPool = "config.addressPool" {
        protocol: Proto = "protocol",
        name: String = "name",
        addresses: Vec<String> = "addresses",
        avoid_buggy_ips: bool = "avoid-buggy-ips",
        auto_assign: Option<bool> = "auto-assign",
        bgp_advertisements: Vec<RawAdvertisement> = "bgp-advertisements",
    }
}

go_struct! {
    /// Compared field by field (`reflect.DeepEqual`) for upstream's duplicate check.
    struct RawAdvertisement = "config.bgpAdvertisement" {
        aggregation_length: Option<i64> = "aggregation-length",
        aggregation_length_v6: Option<i64> = "aggregation-length-v6",
        localpref: Option<u32> = "localpref",
        communities: GoSlice<String> = "communities",
    }
}

go_struct! {
    struct RawBfdProfile = "config.bfdProfile" {
        name: String = "name",
        receive_interval: Option<u32> = "receive-interval",
        transmit_interval: Option<u32> = "transmit-interval",
        detect_multiplier: Option<u32> = "detect-multiplier",
        echo_interval: Option<u32> = "echo-interval",
        echo_mode: bool = "echo-mode",
        passive_mode: bool = "passive-mode",
        minimum_ttl: Option<u32> = "minimum-ttl",
    }
}

/// Upstream's `Proto`, a named string type: decodes as a string, but type errors name it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Proto(pub(crate) String);

impl Target for Proto {
    fn go_type() -> Cow<'static, str> {
        "config.Proto".into()
    }
    fn set_zero(&mut self) {
        self.0.clear();
    }
    fn decode_scalar(
        &mut self,
        d: &mut Decoder<'_>,
        n: NodeId,
        tag: &str,
        value: &Value<'_>,
    ) -> bool {
        self.0.decode_scalar(d, n, tag, value)
    }
}
