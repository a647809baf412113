//! One test per rule of docs/config.md (keys, peers, pools, advertisements, mode-specific
//! validation); errors compared as full upstream texts.

use super::*;
use crate::config::{BgpAdvertisement, Community, Labels, Protocol, Selector};

fn ok(text: &str) -> Config {
    match parse(text, Mode::Controller) {
        Ok(c) => c,
        Err(e) => panic!("expected valid config, got {e}\n{text}"),
    }
}

fn err(text: &str) -> String {
    parse(text, Mode::Controller)
        .expect_err("expected an error")
        .to_string()
}

fn native_err(text: &str) -> String {
    parse(text, Mode::NativeSpeaker)
        .expect_err("expected an error")
        .to_string()
}

fn peer(body: &str) -> String {
    format!("peers:\n- my-asn: 64500\n  peer-asn: 64501\n  peer-address: 10.0.0.1\n{body}")
}

fn pool(body: &str) -> String {
    format!("address-pools:\n- name: p\n{body}")
}

#[test]
fn empty_and_null_documents_are_the_zero_config() {
    for text in ["", "\n", "# just a comment\n", "null", "~", "---\n"] {
        assert_eq!(ok(text), Config::default(), "{text:?}");
    }
}

#[test]
fn decode_errors_use_yaml_v2_wording() {
    assert_eq!(
        err("bogus: 1\n"),
        "could not parse config: yaml: unmarshal errors:\n  line 1: field bogus not found in type config.configFile"
    );
    assert_eq!(
        err(&peer("  holdtime: 3s\n")),
        "could not parse config: yaml: unmarshal errors:\n  line 5: field holdtime not found in type config.peer"
    );
    assert_eq!(
        err(&pool(
            "  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - bogus: 1\n"
        )),
        "could not parse config: yaml: unmarshal errors:\n  line 6: field bogus not found in type config.bgpAdvertisement"
    );
    assert_eq!(
        err(&peer(
            "  node-selectors:\n  - match-labels: {a: b}\n    matchLabels: {}\n"
        )),
        "could not parse config: yaml: unmarshal errors:\n  line 7: field matchLabels not found in type config.nodeSelector"
    );
    assert_eq!(
        err("address-pools:\n- name: a\n  name: b\n"),
        "could not parse config: yaml: unmarshal errors:\n  line 3: field name already set in type config.addressPool"
    );
    assert_eq!(
        err("bgp-communities:\n  a: 1:1\n  a: 1:2\n"),
        "could not parse config: yaml: unmarshal errors:\n  line 3: key \"a\" already set in map"
    );
    assert_eq!(
        err("peers:\n- my-asn: abc\n"),
        "could not parse config: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `abc` into uint32"
    );
    assert!(err("peers:\n- my-asn: 4294967296\n").contains("into uint32"));
    assert!(err(&peer("  peer-port: 65536\n")).contains("into uint16"));
    assert!(err(&peer("  peer-port: -1\n")).contains("into uint16"));
    assert!(err("peers: [\n").starts_with("could not parse config: yaml: "));
}

#[test]
fn yaml_1_1_scalars() {
    let c = ok(&peer(
        "  ebgp-multihop: yes\n  password: 12345\n  router-id: 10.0.0.2\n",
    ));
    assert!(c.peers[0].ebgp_multihop);
    assert_eq!(c.peers[0].password, "12345");
    for (word, want) in [
        ("on", false),
        ("off", true),
        ("no", true),
        ("yes", false),
        ("true", false),
    ] {
        let c = ok(&pool(&format!(
            "  protocol: layer2\n  addresses: [10.0.0.0/24]\n  auto-assign: {word}\n"
        )));
        assert_eq!(c.pools[0].auto_assign, !want, "{word}");
    }
    // yaml.v2 has no sexagesimal numbers: this alias value stays a string (and is invalid).
    assert_eq!(
        err("bgp-communities:\n  big: 99999999:1\n"),
        "parsing community \"big\": invalid first section of community \"99999999\": strconv.ParseUint: parsing \"99999999\": value out of range"
    );
    assert_eq!(ok(&peer("  peer-port: 0x10\n")).peers[0].port, 16);
}

#[test]
fn peer_defaults() {
    let c = ok(&peer(""));
    let p = &c.peers[0];
    assert_eq!(
        (p.my_asn.get(), p.peer_asn.get(), p.port),
        (64500, 64501, 179)
    );
    assert_eq!(p.hold_time.as_secs(), 90);
    assert_eq!(p.keepalive_time_ns, 30_000_000_000);
    assert_eq!((p.router_id, p.src_addr), (None, None));
    assert_eq!(p.node_selectors, vec![Selector::everything()]);
    assert!(!p.is_ibgp());
    assert_eq!(ok(&peer("  peer-port: 0\n")).peers[0].port, 179);
}

#[test]
fn peer_errors_in_upstream_order() {
    assert_eq!(
        err("peers:\n- peer-asn: 1\n"),
        "parsing peer #1: missing local ASN"
    );
    assert!(err("peers:\n- my-asn: 1\n  my-asn: 2\n").contains("already set"));
    assert_eq!(
        err("peers:\n- my-asn: 1\n"),
        "parsing peer #1: missing peer ASN"
    );
    assert_eq!(
        err("peers:\n- my-asn: 0\n  peer-asn: 1\n"),
        "parsing peer #1: missing local ASN"
    );
    assert_eq!(err("peers:\n-\n"), "parsing peer #1: missing local ASN");
    assert_eq!(
        err("peers:\n- my-asn: 5\n  peer-asn: 5\n  ebgp-multihop: true\n"),
        "parsing peer #1: invalid ebgp-multihop parameter set for an ibgp peer"
    );
    assert_eq!(
        err("peers:\n- my-asn: 5\n  peer-asn: 6\n"),
        "parsing peer #1: invalid peer IP \"\""
    );
    assert_eq!(
        err("peers:\n- my-asn: 5\n  peer-asn: 6\n  peer-address: 10.0.0\n"),
        "parsing peer #1: invalid peer IP \"10.0.0\""
    );
    assert_eq!(
        err(&peer("  hold-time: 90\n")),
        "parsing peer #1: invalid hold time \"90\": time: missing unit in duration \"90\""
    );
    assert_eq!(
        err(&peer("  hold-time: 2.9s\n")),
        "parsing peer #1: invalid hold time \"2.9s\": must be 0 or >=3s"
    );
    assert_eq!(
        err(&peer("  hold-time: -5s\n")),
        "parsing peer #1: invalid hold time \"-5s\": must be 0 or >=3s"
    );
    assert_eq!(
        err(&peer("  keepalive-time: 1x\n")),
        "parsing peer #1: invalid keepalive time \"1x\": time: unknown unit \"x\" in duration \"1x\""
    );
    assert_eq!(
        err(&peer("  hold-time: 30s\n  keepalive-time: 31s\n")),
        "parsing peer #1: invalid keepaliveTime \"31s\""
    );
    assert_eq!(
        err(&peer("  router-id: abc\n")),
        "parsing peer #1: invalid router ID \"abc\""
    );
    assert_eq!(
        err(&peer("  source-address: 1.2.3\n")),
        "parsing peer #1: invalid source IP \"1.2.3\""
    );
    assert_eq!(
        err(&peer(
            "  node-selectors:\n  - match-expressions:\n    - {key: a, operator: in, values: [b]}\n"
        )),
        "parsing peer #1: parsing node selector: \"in\" is not a valid pod selector operator"
    );
    assert_eq!(
        err(&format!("{}- my-asn: 1\n", peer(""))),
        "parsing peer #2: missing peer ASN"
    );
}

#[test]
fn hold_and_keepalive_truncation() {
    let c = ok(&peer("  hold-time: 500ms\n"));
    assert_eq!(
        (c.peers[0].hold_time.as_secs(), c.peers[0].keepalive_time_ns),
        (0, 0)
    );
    let c = ok(&peer("  hold-time: 3.9s\n"));
    assert_eq!(c.peers[0].hold_time.as_secs(), 3);
    let c = ok(&peer("  hold-time: 100s\n"));
    assert_eq!(c.peers[0].keepalive_time_ns, 33_333_333_333);
    let c = ok(&peer("  hold-time: 1m30s\n  keepalive-time: 10.7s\n"));
    assert_eq!(
        (c.peers[0].hold_time.as_secs(), c.peers[0].keepalive_time_ns),
        (90, 10_000_000_000)
    );
    assert_eq!(
        ok(&peer("  hold-time: 0s\n")).peers[0].hold_time.as_secs(),
        0
    );
}

#[test]
fn node_selectors_any_of_all_of() {
    let c = ok(&peer(
        "  node-selectors:\n  - match-labels:\n      rack: frontend\n    match-expressions:\n    - key: network-speed\n      operator: NotIn\n      values: [slow]\n  - match-expressions:\n    - {key: kubernetes.io/hostname, operator: In, values: [hostA, hostB]}\n",
    ));
    let p = &c.peers[0];
    let labels = |pairs: &[(&str, &str)]| -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    };
    assert!(p.selects(&labels(&[("rack", "frontend")])));
    assert!(!p.selects(&labels(&[("rack", "frontend"), ("network-speed", "slow")])));
    assert!(p.selects(&labels(&[("kubernetes.io/hostname", "hostB")])));
    assert!(!p.selects(&labels(&[])));
    let texts: Vec<String> = p.node_selectors.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "network-speed notin (slow),rack=frontend",
            "kubernetes.io/hostname in (hostA,hostB)"
        ]
    );
    // `- {}` selects everything, like an absent list.
    assert_eq!(
        ok(&peer("  node-selectors:\n  - {}\n")).peers[0].node_selectors,
        vec![Selector::everything()]
    );
}

#[test]
fn duplicate_peers_are_deep_equal_only() {
    let one = "- my-asn: 1\n  peer-asn: 2\n  peer-address: 10.0.0.1\n";
    assert_eq!(
        err(&format!("peers:\n{one}{one}")),
        "peer #2 already exists"
    );
    // Same address, other hold time: both accepted (two sessions).
    let c = ok(&format!("peers:\n{one}{one}  hold-time: 30s\n"));
    assert_eq!(c.peers.len(), 2);
    // Default port written out is the same peer.
    assert_eq!(
        err(&format!("peers:\n{one}{one}  peer-port: 179\n")),
        "peer #2 already exists"
    );
    // Deliberate difference: selector values are a set, so their order does not make a
    // second peer (upstream compares the lists as written, docs/config.md).
    let sel = |values: &str| {
        format!(
            "{one}  node-selectors:\n  - match-expressions:\n    - {{key: rack, operator: In, values: {values}}}\n"
        )
    };
    assert_eq!(
        err(&format!("peers:\n{}{}", sel("[a, b]"), sel("[b, a, a]"))),
        "peer #2 already exists"
    );
}

#[test]
fn only_an_exact_null_leaves_a_defaulted_key_unset() {
    // yaml.v2 allocates the pointer for `Null`/`NULL` before resolving them to zero.
    let auto = |value: &str| {
        ok(&pool(&format!(
            "  protocol: layer2\n  addresses: [10.0.0.0/24]\n  auto-assign: {value}\n"
        )))
        .pools[0]
            .auto_assign
    };
    assert!(auto("null") && auto("~") && auto(""));
    assert!(!auto("Null") && !auto("NULL"));
    let length = |value: &str| {
        ok(&pool(&format!("  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - aggregation-length: {value}\n")))
            .pools[0]
            .bgp_advertisements[0]
            .aggregation_length
    };
    assert_eq!(length("~"), 32);
    assert_eq!(
        err(&pool(
            "  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - aggregation-length: NULL\n"
        )),
        "parsing address pool #1: parsing BGP communities: invalid aggregation length 0: prefix '\\x18' in this pool is more specific than the aggregation length for addresses 10.0.0.0/24"
    );
}

#[test]
fn communities_and_aliases() {
    let c = ok(
        "bgp-communities:\n  no-advertise: 65535:65282\naddress-pools:\n- name: p\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n  bgp-advertisements:\n  - communities: [no-advertise, \"1:2\"]\n",
    );
    let ad = &c.pools[0].bgp_advertisements[0];
    assert_eq!(
        ad.communities.iter().copied().collect::<Vec<_>>(),
        [Community(0x0001_0002), Community(0xffff_ff02)]
    );
    assert_eq!(
        err("bgp-communities:\n  a: \"1:2:3\"\n"),
        "parsing community \"a\": invalid community string \"1:2:3\""
    );
    assert_eq!(
        err("bgp-communities:\n  a: \"1:x\"\n"),
        "parsing community \"a\": invalid second section of community \"x\": strconv.ParseUint: parsing \"x\": invalid syntax"
    );
    // Unreferenced aliases are validated too; with two bad ones the first in key order is reported.
    assert_eq!(
        err("bgp-communities:\n  z: bad\n  b: worse\n"),
        "parsing community \"b\": invalid community string \"worse\""
    );
    assert_eq!(
        err(&pool(
            "  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: [unknown-alias]\n"
        )),
        "parsing address pool #1: parsing BGP communities: invalid community \"unknown-alias\" in BGP advertisement: invalid community string \"unknown-alias\""
    );
}

#[test]
fn pool_checks_in_upstream_order() {
    assert_eq!(
        err("address-pools:\n- protocol: bgp\n"),
        "parsing address pool #1: missing pool name"
    );
    assert_eq!(
        err("address-pools:\n-\n"),
        "parsing address pool #1: missing pool name"
    );
    // Neither addresses nor protocol: the address check comes first.
    assert_eq!(
        err(&pool("")),
        "parsing address pool #1: pool has no prefixes defined"
    );
    assert_eq!(
        err(&pool("  protocol: bgp\n  addresses: []\n")),
        "parsing address pool #1: pool has no prefixes defined"
    );
    assert_eq!(
        err(&pool("  addresses: [10.0.0.0/24]\n")),
        "parsing address pool #1: address pool is missing the protocol field"
    );
    assert_eq!(
        err(&pool("  protocol: arp\n  addresses: [10.0.0.0/24]\n")),
        "parsing address pool #1: unknown protocol \"arp\""
    );
    assert_eq!(
        err(&pool("  protocol: layer2\n  addresses: [10.0.0.1]\n")),
        "parsing address pool #1: invalid CIDR \"10.0.0.1\" in pool \"p\": invalid CIDR \"10.0.0.1\""
    );
    assert_eq!(
        err(&pool(
            "  protocol: layer2\n  addresses: [10.0.0.9-10.0.0.1]\n"
        )),
        "parsing address pool #1: invalid CIDR \"10.0.0.9-10.0.0.1\" in pool \"p\": invalid IP range \"10.0.0.9-10.0.0.1\": start IP \"10.0.0.9\" is after the end IP \"10.0.0.1\""
    );
    assert_eq!(
        err(&pool(
            "  protocol: layer2\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - localpref: 1\n"
        )),
        "parsing address pool #1: cannot have bgp-advertisements configuration element in a layer2 address pool"
    );
    let two = "- name: p\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n";
    assert_eq!(
        err(&format!("address-pools:\n{two}{two}")),
        "duplicate definition of pool \"p\""
    );
}

#[test]
fn pool_defaults_and_order() {
    let c = ok(
        "address-pools:\n- name: z\n  protocol: layer2\n  addresses: [10.10.8.200-10.10.8.205, 10.0.0.0/30]\n- name: a\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n",
    );
    assert_eq!(
        c.pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["z", "a"]
    );
    let z = &c.pools[0];
    assert_eq!(z.protocol, Protocol::Layer2);
    assert!(z.auto_assign && !z.avoid_buggy_ips && z.bgp_advertisements.is_empty());
    let cidrs: Vec<String> = z.cidrs.iter().map(ToString::to_string).collect();
    assert_eq!(cidrs, ["10.10.8.200/30", "10.10.8.204/31", "10.0.0.0/30"]);
    assert_eq!(
        c.pools[1].bgp_advertisements,
        vec![BgpAdvertisement::default()]
    );
}

#[test]
fn overlaps_are_reported_against_the_first_earlier_cidr() {
    let text = "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24, 10.0.1.0/24]\n- name: b\n  protocol: layer2\n  addresses: [10.0.0.0/16]\n";
    assert_eq!(
        err(text),
        "CIDR \"10.0.0.0/16\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.0/24\""
    );
    // Within one pool, and ranges overlapping by a single address.
    assert_eq!(
        err(&pool(
            "  protocol: layer2\n  addresses: [10.0.0.1-10.0.0.10, 10.0.0.10-10.0.0.20]\n"
        )),
        "CIDR \"10.0.0.10/31\" in pool \"p\" overlaps with already defined CIDR \"10.0.0.10/32\""
    );
    // Contained in an earlier, wider CIDR.
    assert_eq!(
        err(
            "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/8]\n- name: b\n  protocol: bgp\n  addresses: [10.1.2.3/32]\n"
        ),
        "CIDR \"10.1.2.3/32\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.0/8\""
    );
    // IPv4 and IPv6 never overlap; adjacent CIDRs do not.
    ok("address-pools:\n- name: a\n  protocol: layer2\n  addresses: [0.0.0.0/0, '::/0']\n");
    // Unquoted, `::/0` starts with the value indicator in a flow sequence: YAML 1.1 (and
    // upstream) reject it.
    assert_eq!(
        err("address-pools:\n- name: a\n  protocol: layer2\n  addresses: [0.0.0.0/0, ::/0]\n"),
        "could not parse config: yaml: line 3: did not find expected node content"
    );
    ok(&pool(
        "  protocol: layer2\n  addresses: [10.0.0.0/25, 10.0.0.128/25]\n",
    ));
}

#[test]
fn an_earlier_overlap_is_reported_before_a_later_pool_error() {
    let text = "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n- name: b\n  protocol: layer2\n  addresses: [10.0.0.128/25]\n- name: c\n";
    assert_eq!(
        err(text),
        "CIDR \"10.0.0.128/25\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.0/24\""
    );
    let dup = "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n";
    assert_eq!(err(dup), "duplicate definition of pool \"a\"");
}

#[test]
fn advertisement_rules() {
    let bgp = |ads: &str| {
        pool(&format!(
            "  protocol: bgp\n  addresses: [198.51.100.0/24, 3.3.3.2-3.3.3.254]\n  bgp-advertisements:\n{ads}"
        ))
    };
    let c = ok(&bgp(
        "  - aggregation-length: 26\n    localpref: 100\n  -\n",
    ));
    let ads = &c.pools[0].bgp_advertisements;
    assert_eq!((ads[0].aggregation_length, ads[0].localpref), (26, 100));
    assert_eq!(ads[1], BgpAdvertisement::default());
    assert_eq!(
        err(&bgp("  - aggregation-length: 33\n")),
        "parsing address pool #1: parsing BGP communities: invalid aggregation length '!' for IPv4"
    );
    assert_eq!(
        err(&bgp("  - aggregation-length-v6: 129\n")),
        "parsing address pool #1: parsing BGP communities: invalid aggregation length '\\u0081' for IPv6"
    );
    // The range 3.3.3.2-3.3.3.254 summarises to CIDRs of which the widest is a /26.
    assert_eq!(
        err(&bgp("  - aggregation-length: 25\n")),
        "parsing address pool #1: parsing BGP communities: invalid aggregation length 25: prefix '\\x1a' in this pool is more specific than the aggregation length for addresses 3.3.3.2-3.3.3.254"
    );
    ok(&pool(
        "  protocol: bgp\n  addresses: [3.3.3.2-3.3.3.254]\n  bgp-advertisements:\n  - aggregation-length: 26\n",
    ));
    assert_eq!(
        err(&bgp("  - localpref: 1\n  - localpref: 1\n")),
        "parsing address pool #1: parsing BGP communities: duplicate definition of bgpadvertisements. advertisement 1 and 2 are equal"
    );
    assert_eq!(
        err(&bgp("  -\n  - {}\n")),
        "parsing address pool #1: parsing BGP communities: duplicate definition of bgpadvertisements. advertisement 1 and 2 are equal"
    );
    assert_eq!(
        err(&bgp("  - communities: [\"1:1\", \"1:1\"]\n")),
        "parsing address pool #1: parsing BGP communities: duplicate definition of community \"1:1\""
    );
    // IPv6 entries are checked against aggregation-length-v6, and the IPv4 value is printed.
    assert_eq!(
        err(&pool(
            "  protocol: bgp\n  addresses: [2001:db8::/64]\n  bgp-advertisements:\n  - aggregation-length-v6: 48\n"
        )),
        "parsing address pool #1: parsing BGP communities: invalid aggregation length 32: prefix '@' in this pool is more specific than the aggregation length for addresses 2001:db8::/64"
    );
    // A negative IPv4 length is harmless in an IPv6-only pool.
    ok(&pool(
        "  protocol: bgp\n  addresses: [2001:db8::/64]\n  bgp-advertisements:\n  - aggregation-length: -1\n",
    ));
}

#[test]
fn bfd_profiles() {
    let c = ok(
        "bfd-profiles:\n- name: fast\n  receive-interval: 10\n  echo-mode: true\npeers:\n- my-asn: 1\n  peer-asn: 2\n  peer-address: 10.0.0.1\n  bfd-profile: fast\n",
    );
    assert_eq!(c.bfd_profiles["fast"].receive_interval, Some(10));
    assert!(c.bfd_profiles["fast"].echo_mode);
    assert_eq!(c.peers[0].bfd_profile, "fast");
    assert_eq!(
        err("bfd-profiles:\n- receive-interval: 10\n"),
        "parsing bfd profile #1: missing bfd profile name"
    );
    assert_eq!(
        err("bfd-profiles:\n- name: a\n  detect-multiplier: 1\n"),
        "parsing bfd profile #1: invalid detect multiplier value: invalid value 1, must be in 2-255 range"
    );
    assert_eq!(
        err("bfd-profiles:\n- name: a\n  echo-interval: 9\n"),
        "parsing bfd profile #1: invalid minimum ttl value: invalid value 9, must be in 10-60000 range"
    );
    assert_eq!(
        err("bfd-profiles:\n- name: a\n- name: a\n"),
        "found duplicate bfd profile name a"
    );
    assert_eq!(
        err(&peer("  bfd-profile: nope\n")),
        "peer #1 referencing non existing bfd profile nope"
    );
}

#[test]
fn native_speaker_rejects_frr_only_keys() {
    let text = peer("  keepalive-time: 10s\n");
    assert!(parse(&text, Mode::Controller).is_ok());
    assert_eq!(
        native_err(&text),
        "peer 10.0.0.1 has keepalive-time set on native bgp mode"
    );
    assert_eq!(
        native_err(&peer("  bfd-profile: x\n")),
        "peer 10.0.0.1 has bfd-profile set on native bgp mode"
    );
    assert_eq!(
        native_err("bfd-profiles:\n- name: a\n"),
        "bfd profiles section set"
    );
    assert_eq!(
        native_err(&pool("  protocol: bgp\n  addresses: [bad]\n")),
        "invalid CIDR \"bad\" in pool \"p\": invalid CIDR \"bad\""
    );
    // Unlike upstream's native speaker, ours advertises IPv6 over MP-BGP.
    assert!(
        parse(
            &pool("  protocol: bgp\n  addresses: [2001:db8::/120]\n"),
            Mode::NativeSpeaker
        )
        .is_ok()
    );
    // Decode errors come before mode validation.
    assert!(
        native_err("bogus: 1\npeers:\n- bfd-profile: x\n").starts_with("could not parse config")
    );
}

#[test]
fn parse_order_profiles_peers_communities_pools() {
    let text = "address-pools:\n- name: ''\nbgp-communities:\n  a: bad\npeers:\n- my-asn: 0\nbfd-profiles:\n- name: ''\n";
    assert!(err(text).starts_with("parsing bfd profile #1"));
    assert!(err(&text.replace("bfd-profiles:\n- name: ''\n", "")).starts_with("parsing peer #1"));
    assert!(
        err("address-pools:\n- name: ''\nbgp-communities:\n  a: bad\n")
            .starts_with("parsing community")
    );
}
