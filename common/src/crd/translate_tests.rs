//! The translation's semantics and its refusals, on objects written as YAML.

use crate::config::{Mode, Protocol, to_json};
use crate::crd::documents::read;
use crate::crd::{CrdError, Resources, translate};

fn objects(yaml: &str) -> Resources {
    read(yaml).unwrap_or_else(|e| panic!("test objects: {e}"))
}

fn refused(yaml: &str, mode: Mode) -> CrdError {
    translate(&objects(yaml), mode).expect_err("refused")
}

/// The typical v0.13 install of issue #24: a layer2 pool, a BGP pool, one peer.
const TYPICAL: &str = include_str!("../../../testdata/crd/typical.yaml");

#[test]
fn the_typical_install_translates_with_every_default() {
    let cfg = translate(&objects(TYPICAL), Mode::NativeSpeaker).expect("valid");
    let json = to_json(&cfg);
    // Name order: `bgp` before `lan`.
    assert_eq!(
        cfg.pools
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["bgp", "lan"]
    );
    assert_eq!(cfg.pools[0].protocol, Protocol::Bgp);
    assert_eq!(cfg.pools[1].protocol, Protocol::Layer2);
    assert_eq!(
        json["pools"]["lan"]["cidrs"],
        serde_json::json!(["192.168.1.48/28"])
    );
    assert_eq!(json["pools"]["lan"]["auto_assign"], true);
    assert_eq!(
        json["pools"]["bgp"]["bgp_advertisements"],
        serde_json::json!([{"aggregation_length": 32, "aggregation_length_v6": 128, "localpref": 0, "communities": []}])
    );
    let peer = &json["peers"][0];
    assert_eq!(
        (
            &peer["my_asn"],
            &peer["peer_asn"],
            &peer["peer_address"],
            &peer["peer_port"],
            &peer["hold_time_s"],
            &peer["keepalive_time_s"]
        ),
        (
            &serde_json::json!(64512),
            &serde_json::json!(64512),
            &serde_json::json!("192.168.1.254"),
            &serde_json::json!(179),
            &serde_json::json!(90),
            &serde_json::json!(30)
        )
    );
    assert_eq!(peer["node_selectors"], serde_json::json!([""]));
}

#[test]
fn the_result_does_not_depend_on_object_order() {
    let mut res = objects(TYPICAL);
    let a = translate(&res, Mode::Controller).expect("valid");
    res.pools.reverse();
    res.peers.reverse();
    assert_eq!(translate(&res, Mode::Controller).expect("valid"), a);
}

/// Found by the crd_documents fuzzer: two objects of one name (possible in a file) gave a
/// different first error in a different order.
#[test]
fn objects_of_one_name_are_taken_in_one_order() {
    let yaml = "kind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: [10.0.0.x/24]}\n---\nkind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: []}\n";
    let mut res = objects(yaml);
    let first = translate(&res, Mode::Controller).expect_err("refused");
    res.pools.reverse();
    assert_eq!(
        translate(&res, Mode::Controller).expect_err("refused"),
        first
    );
}

#[test]
fn peers_read_both_versions_and_their_settings() {
    let cfg = translate(
        &objects(
            r#"
apiVersion: metallb.io/v1beta1
kind: BGPPeer
metadata: {name: old}
spec:
  myASN: 64500
  peerASN: 64501
  peerAddress: "2001:db8::1"
  peerPort: 1179
  holdTime: 2m
  sourceAddress: "2001:db8::2"
  routerID: 10.0.0.1
  password: s3cret
  ebgpMultiHop: true
  nodeSelectors:
  - matchLabels: {rack: a}
    matchExpressions: [{key: zone, operator: NotIn, values: [z]}]
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: new}
spec: {myASN: 64500, peerASN: 64500, peerAddress: 10.0.0.9, holdTime: 100s}
"#,
        ),
        Mode::Controller,
    )
    .expect("valid");
    let json = to_json(&cfg);
    // `new` sorts before `old`.
    // hold/3 in whole nanoseconds, as the ConfigMap computes it.
    assert_eq!(
        json["peers"][0]["keepalive_time_s"],
        serde_json::json!(33.333333333)
    );
    let old = &json["peers"][1];
    assert_eq!(old["peer_port"], 1179);
    assert_eq!(old["hold_time_s"], 120);
    assert_eq!(old["keepalive_time_s"], 40);
    assert_eq!(old["source_address"], "2001:db8::2");
    assert_eq!(old["router_id"], "10.0.0.1");
    assert_eq!(old["password"], "s3cret");
    assert_eq!(old["ebgp_multihop"], true);
    assert_eq!(
        old["node_selectors"],
        serde_json::json!(["rack=a,zone notin (z)"])
    );
}

#[test]
fn advertisements_select_pools_by_name_by_label_or_all() {
    let yaml = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: a, labels: {tier: gold}}
spec: {addresses: [10.0.0.0/24], avoidBuggyIPs: true, autoAssign: false}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: b}
spec: {addresses: ["10.1.0.0-10.1.0.10"]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: c}
spec: {addresses: [10.2.0.0/24]}
---
apiVersion: metallb.io/v1beta1
kind: Community
metadata: {name: communities}
spec: {communities: [{name: no-export, value: "65535:65281"}]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: gold}
spec:
  localPref: 200
  communities: [no-export, "64500:1"]
  ipAddressPoolSelectors: [{matchLabels: {tier: gold}}]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: gold-agg}
spec:
  aggregationLength: 24
  aggregationLengthV6: 64
  ipAddressPoolSelectors: [{matchExpressions: [{key: tier, operator: In, values: [gold]}]}]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: named}
spec: {ipAddressPools: [b, missing]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: everything-else}
spec: {ipAddressPools: [c]}
"#;
    let cfg = translate(&objects(yaml), Mode::NativeSpeaker).expect("valid");
    let json = to_json(&cfg);
    let a = &json["pools"]["a"];
    assert_eq!(a["protocol"], "bgp");
    assert_eq!(
        (&a["auto_assign"], &a["avoid_buggy_ips"]),
        (&serde_json::json!(false), &serde_json::json!(true))
    );
    assert_eq!(
        a["bgp_advertisements"],
        serde_json::json!([
            {"aggregation_length": 32, "aggregation_length_v6": 128, "localpref": 200, "communities": ["64500:1", "65535:65281"]},
            {"aggregation_length": 24, "aggregation_length_v6": 64, "localpref": 0, "communities": []}
        ])
    );
    assert_eq!(json["pools"]["b"]["protocol"], "bgp");
    assert_eq!(
        json["pools"]["b"]["cidrs"],
        serde_json::json!(["10.1.0.0/29", "10.1.0.8/31", "10.1.0.10/32"])
    );
    assert_eq!(json["pools"]["c"]["protocol"], "layer2");

    // An advertisement naming no pool announces them all.
    let all = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: a}
spec: {addresses: [10.0.0.0/24]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: b}
spec: {addresses: [10.1.0.0/24]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: all}
"#;
    let cfg = translate(&objects(all), Mode::NativeSpeaker).expect("valid");
    assert!(cfg.pools.iter().all(|p| p.protocol == Protocol::Layer2));
}

/// `(objects, kind, name, field, reason)`.
const REFUSED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {peerASN: 1, peerAddress: 10.0.0.1}",
        "BGPPeer",
        "p",
        "spec.myASN",
        "missing local ASN",
    ),
    (
        "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 1, peerAddress: 10.0.0.x}",
        "BGPPeer",
        "p",
        "spec.peerAddress",
        "invalid BGPPeer address \"10.0.0.x\"",
    ),
    (
        "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, holdTime: 2s}",
        "BGPPeer",
        "p",
        "spec.holdTime",
        "invalid hold time \"2s\": must be 0 or >=3s",
    ),
    (
        "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, holdTime: 30s, keepaliveTime: 1m}",
        "BGPPeer",
        "p",
        "spec.keepaliveTime",
        "invalid keepaliveTime \"1m0s\"",
    ),
    (
        "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, passwordSecret: {name: bgp}}",
        "BGPPeer",
        "p",
        "spec.passwordSecret",
        "a password read from a Secret (passwordSecret) is not supported by metallb-rs yet; remove it, or see docs/crd.md#not-supported-yet",
    ),
    (
        "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, connectTime: 5s}",
        "BGPPeer",
        "p",
        "spec.connectTime",
        "unknown field \"connectTime\": not part of MetalLB v0.13's API for this kind (docs/crd.md#the-objects)",
    ),
    (
        "kind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: [10.0.0.0/24]}\n---\nkind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: b}\nspec: {addresses: [10.0.0.128/25]}\n---\nkind: L2Advertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: l2}",
        "IPAddressPool",
        "b",
        "spec.addresses[0]",
        "CIDR \"10.0.0.128/25\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.0/24\"",
    ),
    (
        "kind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: [10.0.0.0/24, 10.0.1.x/24]}",
        "IPAddressPool",
        "a",
        "spec.addresses[1]",
        "invalid CIDR \"10.0.1.x/24\" in pool \"a\": invalid CIDR \"10.0.1.x/24\"",
    ),
    (
        "kind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: [10.0.0.0/24]}",
        "IPAddressPool",
        "a",
        "spec",
        "not announced: no L2Advertisement or BGPAdvertisement selects this pool (metallb-rs announces every pool it allocates from; docs/crd.md#pools-and-advertisements)",
    ),
    (
        "kind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: [10.0.0.0/24]}\n---\nkind: L2Advertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: l2}\n---\nkind: BGPAdvertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: bgp}",
        "IPAddressPool",
        "a",
        "spec",
        "selected by L2Advertisement \"l2\" and by BGPAdvertisement \"bgp\": metallb-rs announces a pool by one protocol (docs/crd.md#pools-and-advertisements)",
    ),
    (
        "kind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: [10.0.0.0/24], serviceAllocation: {priority: 1, namespaces: [x]}}",
        "IPAddressPool",
        "a",
        "spec.serviceAllocation",
        "pinning a pool to namespaces or services (serviceAllocation: priority, namespaces) is not supported by metallb-rs yet; remove it, or see docs/crd.md#not-supported-yet",
    ),
    (
        "kind: L2Advertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: l2}\nspec: {interfaces: [eth0]}",
        "L2Advertisement",
        "l2",
        "spec.interfaces",
        "announcing from a subset of the interfaces (interfaces) is not supported by metallb-rs yet; remove it, or see docs/crd.md#not-supported-yet",
    ),
    (
        "kind: L2Advertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: l2}\nspec: {nodeSelectors: [{matchLabels: {a: b}}]}",
        "L2Advertisement",
        "l2",
        "spec.nodeSelectors",
        "announcing from a subset of the nodes (nodeSelectors) is not supported by metallb-rs yet; remove it, or see docs/crd.md#not-supported-yet",
    ),
    (
        "kind: BGPAdvertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: ad}\nspec: {peers: [p1]}",
        "BGPAdvertisement",
        "ad",
        "spec.peers",
        "announcing to a subset of the BGP peers (peers) is not supported by metallb-rs yet; remove it, or see docs/crd.md#not-supported-yet",
    ),
    (
        "kind: BGPAdvertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: ad}\nspec: {communities: [\"large:1:2:3\"]}",
        "BGPAdvertisement",
        "ad",
        "spec.communities[0]",
        "large BGP communities (large:A:B:C) is not supported by metallb-rs yet; remove it, or see docs/crd.md#not-supported-yet",
    ),
    (
        "kind: BGPAdvertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: ad}\nspec: {communities: [no-export]}",
        "BGPAdvertisement",
        "ad",
        "spec.communities[0]",
        "invalid community \"no-export\" in BGP advertisement: invalid community format: no-export",
    ),
    (
        "kind: BGPAdvertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: ad}\nspec: {aggregationLength: 33}",
        "BGPAdvertisement",
        "ad",
        "spec.aggregationLength",
        "invalid aggregation length '!' for IPv4",
    ),
    (
        "kind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: [10.0.0.0/24]}\n---\nkind: BGPAdvertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: ad}\nspec: {aggregationLength: 16}",
        "BGPAdvertisement",
        "ad",
        "spec",
        "invalid aggregation length 16: prefix 24 in this pool is more specific than the aggregation length for addresses 10.0.0.0/24",
    ),
    (
        "kind: IPAddressPool\napiVersion: metallb.io/v1beta1\nmetadata: {name: a}\nspec: {addresses: [10.0.0.0/24]}\n---\nkind: BGPAdvertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: ad1}\nspec: {localPref: 100}\n---\nkind: BGPAdvertisement\napiVersion: metallb.io/v1beta1\nmetadata: {name: ad2}\nspec: {localPref: 200, aggregationLength: 24}",
        "BGPAdvertisement",
        "ad2",
        "spec",
        "invalid local preference 200: local preferernce 100 was already set for the same type of BGP update. Check existing BGP advertisements with common pools and aggregation lengths",
    ),
    (
        "kind: Community\napiVersion: metallb.io/v1beta1\nmetadata: {name: c}\nspec: {communities: [{name: a, value: \"1:2\"}, {name: a, value: \"1:3\"}]}",
        "Community",
        "c",
        "spec.communities[1]",
        "duplicate definition of community \"a\"",
    ),
    (
        "kind: BFDProfile\napiVersion: metallb.io/v1beta1\nmetadata: {name: b}\nspec: {detectMultiplier: 1}",
        "BFDProfile",
        "b",
        "spec.detectMultiplier",
        "invalid detect multiplier value: invalid value 1, must be in 2-255 range",
    ),
    (
        "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, bfdProfile: missing}",
        "BGPPeer",
        "p",
        "spec.bfdProfile",
        "peer p referencing non existing bfd profile missing",
    ),
];

#[test]
fn refusals_name_object_field_and_upstream_reason() {
    for (yaml, kind, name, field, reason) in REFUSED {
        let e = refused(yaml, Mode::Controller);
        assert_eq!(
            (
                e.object.kind,
                e.object.name.as_str(),
                e.field.as_str(),
                e.reason.to_string().as_str()
            ),
            (*kind, *name, *field, *reason),
            "{yaml}"
        );
        assert_eq!(
            e.to_string(),
            format!("{kind} \"{name}\" {field}: {reason}")
        );
        assert_eq!(e.event_message(), format!("{field}: {reason}"));
    }
}

#[test]
fn the_native_speaker_refuses_frr_only_settings() {
    for (yaml, field, reason) in [
        (
            "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, keepaliveTime: 10s}",
            "spec.keepaliveTime",
            "peer 10.0.0.1 has keepalive-time set on native bgp mode",
        ),
        (
            "kind: BGPPeer\napiVersion: metallb.io/v1beta2\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, bfdProfile: b}",
            "spec.bfdProfile",
            "peer 10.0.0.1 has bfd-profile set on native bgp mode",
        ),
        (
            "kind: BFDProfile\napiVersion: metallb.io/v1beta1\nmetadata: {name: b}",
            "spec",
            "bfd profiles section set",
        ),
    ] {
        let e = refused(yaml, Mode::NativeSpeaker);
        assert_eq!(
            (e.field.as_str(), e.reason.to_string().as_str()),
            (field, reason)
        );
        // The controller defers these to the speakers, as upstream's does.
        if !yaml.contains("bfdProfile: b") {
            assert!(
                translate(&objects(yaml), Mode::Controller).is_ok(),
                "{yaml}"
            );
        }
    }
}

#[test]
fn no_objects_is_the_empty_config() {
    let res = Resources::default();
    assert!(res.is_empty());
    let cfg = translate(&res, Mode::Controller).expect("valid");
    assert!(cfg.pools.is_empty() && cfg.peers.is_empty());
}

#[test]
fn documents_name_what_they_cannot_read() {
    use crate::crd::documents::DocumentError;
    assert!(matches!(
        read("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\n"),
        Err(DocumentError::Kind { .. })
    ));
    assert!(matches!(
        read("apiVersion: metallb.io/v1beta2\nkind: IPAddressPool\nmetadata: {name: a}\n"),
        Err(DocumentError::Kind { .. })
    ));
    assert!(matches!(
        read(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: a}\nspec: {addresses: 3}\n"
        ),
        Err(DocumentError::Object { .. })
    ));
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: metallb.io/v1beta1\n  kind: L2Advertisement\n  metadata: {name: a}\n";
    assert_eq!(read(list).expect("a List").l2_advertisements.len(), 1);
    assert!(read("").expect("nothing").is_empty());
}
