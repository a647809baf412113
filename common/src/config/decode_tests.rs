//! yaml.v2's strict decoder on the config's Go types: conversions, every error collected,
//! merges and aliases, and its guards.

use super::*;
use crate::config::go_kinds::GoSlice;
use crate::config::raw::RawConfig;

fn raw(text: &str) -> RawConfig {
    unmarshal_strict(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> String {
    unmarshal_strict::<RawConfig>(text)
        .expect_err(text)
        .to_string()
}

fn peer_field(field: &str, value: &str) -> String {
    format!("peers:\n- {field}: {value}\n")
}

#[test]
fn numbers_convert_as_go_reflect_does() {
    for (value, asn) in [
        ("64500", 64500),
        ("0xFBF4", 64500),
        ("0o175764", 64500),
        ("0175764", 64500),
        ("64_500", 64500),
        ("64500.9", 64500),
        ("6.45e4", 64500),
        ("-0", 0),
        ("-0.5", 0),
        ("Null", 0),
        ("~", 0),
    ] {
        let r = raw(&peer_field("my-asn", value));
        assert_eq!(r.peers[0].my_asn, asn, "{value}");
    }
    for (value, shown, tag) in [
        ("-1", "`-1`", "!!int"),
        ("4294967296", "`4294967296`", "!!int"),
        ("\"42\"", "`42`", "!!str"),
        ("!!str 42", "`42`", "!!str"),
        ("1e400", "`1e400`", "!!str"),
        (".inf", "`.inf`", "!!float"),
        ("-1.5", "`-1.5`", "!!float"),
        ("99999999999999999999", "`9999999...`", "!!float"),
        ("2001-12-14", "`2001-12-14`", "!!timestamp"),
        ("true", "`true`", "!!bool"),
        ("[1]", "", "!!seq"),
        ("{a: 1}", "", "!!map"),
        ("!!seq true", "true", "!!seq"),
    ] {
        let space = if shown.is_empty() || !shown.starts_with('`') {
            ""
        } else {
            " "
        };
        assert_eq!(
            err(&peer_field("my-asn", value)),
            format!(
                "yaml: unmarshal errors:\n  line 2: cannot unmarshal {tag}{space}{shown} into uint32"
            ),
            "{value}"
        );
    }
    // Go's `int`: 2^63 as a float wraps to i64::MIN (amd64's conversion), -.inf too.
    let ad = |v: &str| {
        let text = format!("address-pools:\n- bgp-advertisements:\n  - aggregation-length: {v}\n");
        raw(&text).address_pools[0].bgp_advertisements[0].aggregation_length
    };
    assert_eq!(ad("24.9"), Some(24));
    assert_eq!(ad("-.inf"), Some(i64::MIN));
    assert_eq!(ad("9223372036854775807.0"), Some(i64::MIN));
    assert_eq!(ad("null"), None);
    // A pointer is allocated unless the value is exactly `null`, `~` or empty: `Null` and
    // `NULL` give a pointer to zero.
    assert_eq!(ad("NULL"), Some(0));
}

#[test]
fn strings_take_any_scalar_as_written() {
    let r = raw(
        "peers:\n- password: 012\n  hold-time: 1e3\n  router-id: yes\n  bfd-profile: !!binary aGk=\n",
    );
    let p = &r.peers[0];
    assert_eq!((p.password.as_str(), p.hold_time.as_str()), ("012", "1e3"));
    assert_eq!(
        (p.router_id.as_str(), p.bfd_profile.as_str()),
        ("yes", "hi")
    );
    assert_eq!(
        err("peers:\n- password: !!binary 'not base64'\n"),
        "yaml: !!binary value contains invalid base64 data"
    );
    assert_eq!(
        err("peers:\n- password: !!int abc\n"),
        "yaml: cannot decode !!str `abc` as a !!int"
    );
}

#[test]
fn every_error_is_collected_in_document_order() {
    let text = "peers:\n- my-asn: x\n  my-asn: 1\n  bogus: 2\n  ~: 3\n  [k]: 4\naddress-pools: 7\nbgp-communities:\n  a: 1:1\n  a: [2]\n  b: 1:2\n  b: 1:3\n";
    assert_eq!(
        err(text),
        "yaml: unmarshal errors:\n  \
         line 2: cannot unmarshal !!str `x` into uint32\n  \
         line 3: field my-asn already set in type config.peer\n  \
         line 4: field bogus not found in type config.peer\n  \
         line 5: field  not found in type config.peer\n  \
         line 6: cannot unmarshal !!seq into string\n  \
         line 7: cannot unmarshal !!int `7` into []config.addressPool\n  \
         line 10: cannot unmarshal !!seq into string\n  \
         line 12: key \"b\" already set in map"
    );
}

#[test]
fn merge_keys_and_aliases() {
    let r = raw(
        "peers:\n- &base {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1}\n- <<: *base\n  peer-asn: 3\n- <<: [{my-asn: 7}, *base]\n",
    );
    assert_eq!(r.peers.len(), 3);
    assert_eq!((r.peers[1].my_asn, r.peers[1].peer_asn), (1, 3));
    assert_eq!(r.peers[1].peer_address, "10.0.0.1");
    // In a merged sequence the earlier mapping wins.
    assert_eq!((r.peers[2].my_asn, r.peers[2].peer_asn), (7, 2));
    // A key both merged and written is no error for a struct …
    raw("peers:\n- <<: {my-asn: 1}\n  my-asn: 2\n");
    // … but is one for a map.
    assert_eq!(
        err("bgp-communities:\n  <<: {a: '1:1'}\n  a: '1:2'\n"),
        "yaml: unmarshal errors:\n  line 3: key \"a\" already set in map"
    );
    for bad in [
        "peers:\n- <<: 1\n",
        "peers:\n- <<: [1]\n",
        "peers:\n- <<: [*a]\nx: &a 1\n",
    ] {
        let e = unmarshal_strict::<RawConfig>(bad)
            .expect_err(bad)
            .to_string();
        assert!(
            e == "yaml: map merge requires map or sequence of maps as the value"
                || e == "yaml: unknown anchor 'a' referenced",
            "{bad:?}: {e}"
        );
    }
    assert_eq!(
        err("peers:\n- &p\n  <<: *p\n"),
        "yaml: anchor 'p' value contains itself"
    );
}

#[test]
fn alias_expansion_is_bounded() {
    // The billion laughs, nine levels of nine: yaml.v2 stops it by its alias ratio.
    let mut text = String::from("x:\n  a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]\n");
    for i in 1..9 {
        let p = i - 1;
        text.push_str(&format!(
            "  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    text.push_str("bgp-communities: {b: *a8}\npeers: [*a8]\n");
    assert_eq!(
        err(&text),
        "yaml: unmarshal errors:\n  line 1: field x not found in type config.configFile\n  line 10: cannot unmarshal !!seq into string\n  line 10: cannot unmarshal !!seq into config.peer"
    );
    // Aliases of a large mapping that does decode: almost every step comes from alias
    // expansion.
    let labels: Vec<String> = (0..100).map(|i| format!("k{i}: v")).collect();
    let mut deep = format!(
        "peers:\n- &p {{my-asn: 1, node-selectors: [{{match-labels: {{{}}}}}]}}\n",
        labels.join(", ")
    );
    for _ in 0..300 {
        deep.push_str("- *p\n");
    }
    assert_eq!(err(&deep), "yaml: document contains excessive aliasing");
}

#[test]
fn long_merge_chains_do_not_exhaust_the_stack() {
    // 20 000 mappings, each merging the previous one, defined where nothing decodes them,
    // then used as a peer: enough plain entries keep the alias ratio under the limit.
    let mut text = String::from("x:\n- &m0 {my-asn: 1, peer-asn: 2}\n");
    for i in 1..20_000 {
        text.push_str(&format!("- &m{i} {{<<: *m{}}}\n", i - 1));
    }
    text.push_str("bgp-communities:\n");
    for i in 0..20_000 {
        text.push_str(&format!("  c{i}: '1:1'\n"));
    }
    text.push_str("peers: [*m19999]\n");
    let e = unmarshal_strict::<RawConfig>(&text).expect_err("x is unknown");
    assert_eq!(
        e.to_string(),
        "yaml: unmarshal errors:\n  line 1: field x not found in type config.configFile"
    );
}

#[test]
fn nil_and_empty_slices_differ_where_upstream_compares_them() {
    let text =
        "address-pools:\n- bgp-advertisements:\n  - communities: []\n  - communities: ~\n  - {}\n";
    let r = raw(text);
    let ads = &r.address_pools[0].bgp_advertisements;
    assert_eq!(ads[0].communities, GoSlice(Some(vec![])));
    assert_eq!(ads[1].communities, GoSlice(None));
    assert_eq!(ads[1], ads[2]);
    assert_ne!(ads[0], ads[1]);
}
