//! Properties of the yaml.v2-compatible decoding: spelling and style do not change what a
//! configuration means, long values are cut as yaml.v2 cuts them, and any text gets an
//! answer (never an internal error).

use common::config::{Config, Mode, parse};
use proptest::prelude::*;

fn peer_doc(asn: &str) -> String {
    format!("peers:\n- my-asn: {asn}\n  peer-asn: 64500\n  peer-address: 10.0.0.1\n")
}

/// Inserts `_` between the digits after a prefix (yaml.v2 drops them before parsing).
fn underscored(prefix: &str, digits: &str) -> String {
    let mut out = String::from(prefix);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && i % 2 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone)]
struct Pool {
    name: String,
    bgp: bool,
    nets: Vec<String>,
}

#[derive(Debug, Clone)]
struct Peer {
    my_asn: u32,
    peer_asn: u32,
    addr: String,
}

fn pools() -> impl Strategy<Value = Vec<Pool>> {
    prop::collection::vec(("[a-z][a-z0-9-]{0,6}[a-z]", any::<bool>(), 1usize..4), 1..6).prop_map(
        |specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (name, bgp, n))| Pool {
                    name: format!("{name}{i}"),
                    bgp,
                    nets: (0..n).map(|j| format!("10.{i}.{j}.0/24")).collect(),
                })
                .collect()
        },
    )
}

fn peers() -> impl Strategy<Value = Vec<Peer>> {
    prop::collection::vec((1u32.., 1u32..), 0..4).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (my_asn, peer_asn))| Peer {
                my_asn,
                peer_asn,
                addr: format!("192.168.0.{}", i + 1),
            })
            .collect()
    })
}

fn protocol(p: &Pool) -> &'static str {
    if p.bgp { "bgp" } else { "layer2" }
}

fn block(pools: &[Pool], peers: &[Peer]) -> String {
    let mut s = String::from("peers:\n");
    for p in peers {
        s.push_str(&format!(
            "- my-asn: {}\n  peer-asn: {}\n  peer-address: {}\n",
            p.my_asn, p.peer_asn, p.addr
        ));
    }
    s.push_str("address-pools:\n");
    for p in pools {
        s.push_str(&format!(
            "- name: {}\n  protocol: {}\n  addresses:\n",
            p.name,
            protocol(p)
        ));
        for n in &p.nets {
            s.push_str(&format!("  - {n}\n"));
        }
    }
    s
}

/// JSON, which is YAML too (quoted keys and strings, CRLF line ends).
fn json(pools: &[Pool], peers: &[Peer]) -> String {
    let peers: Vec<String> = peers
        .iter()
        .map(|p| {
            format!(
                "{{\"my-asn\": {}, \"peer-asn\": {}, \"peer-address\": \"{}\"}}",
                p.my_asn, p.peer_asn, p.addr
            )
        })
        .collect();
    let pools: Vec<String> = pools
        .iter()
        .map(|p| {
            let nets: Vec<String> = p.nets.iter().map(|n| format!("\"{n}\"")).collect();
            format!(
                "{{\"name\": \"{}\", \"protocol\": \"{}\", \"addresses\": [{}]}}",
                p.name,
                protocol(p),
                nets.join(", ")
            )
        })
        .collect();
    format!(
        "{{\"peers\": [{}],\r\n \"address-pools\": [{}]}}\r\n",
        peers.join(",\r\n  "),
        pools.join(",\r\n  ")
    )
}

/// Every pool after the first merges the first and overrides all of its keys; numbers in
/// hex; a comment and a document end marker; a second document that is never read.
fn merged(pools: &[Pool], peers: &[Peer]) -> String {
    let mut s = String::from("# generated\npeers:\n");
    for p in peers {
        s.push_str(&format!(
            "- {{my-asn: {:#x}, peer-asn: {:#X}, peer-address: '{}'}}\n",
            p.my_asn, p.peer_asn, p.addr
        ));
    }
    s.push_str("address-pools:\n");
    for (i, p) in pools.iter().enumerate() {
        let nets = p.nets.join(", ");
        if i == 0 {
            s.push_str(&format!(
                "- &first\n  name: {}\n  protocol: {}\n  addresses: [{nets}]\n",
                p.name,
                protocol(p)
            ));
        } else {
            s.push_str(&format!(
                "- <<: *first\n  name: \"{}\"\n  protocol: !!str {}\n  addresses: [{nets}]\n",
                p.name,
                protocol(p)
            ));
        }
    }
    s.push_str("...\n---\n[ this is not read\n");
    s
}

fn parsed(text: &str) -> Result<Config, String> {
    parse(text, Mode::Controller).map_err(|e| format!("{e}\n{text}"))
}

proptest! {
    #[test]
    fn every_integer_spelling_is_the_same_number(n in 1u32..) {
        let dec = n.to_string();
        let spellings = [
            dec.clone(),
            format!("+{dec}"),
            underscored("", &dec),
            format!("{n:#x}"),
            format!("{n:#X}"),
            underscored("0x", &format!("{n:x}")),
            format!("0o{n:o}"),
            format!("0{n:o}"),
            format!("{dec}.0"),
            format!("{dec}.99"),
            format!("{n}e0"),
        ];
        for s in spellings {
            let cfg = parsed(&peer_doc(&s)).map_err(TestCaseError::fail)?;
            prop_assert_eq!(cfg.peers[0].my_asn.get(), n, "{}", s);
        }
        // Quoted, a number is a string: yaml.v2 refuses it for a uint32.
        let quoted = parse(&peer_doc(&format!("'{dec}'")), Mode::Controller)
            .expect_err("a string")
            .to_string();
        prop_assert!(quoted.ends_with(&format!("cannot unmarshal !!str `{dec}` into uint32")), "{}", quoted);
    }

    #[test]
    fn style_does_not_change_the_meaning(pools in pools(), peers in peers()) {
        let expected = parsed(&block(&pools, &peers)).map_err(TestCaseError::fail)?;
        prop_assert_eq!(expected.pools.len(), pools.len());
        prop_assert_eq!(&parsed(&json(&pools, &peers)).map_err(TestCaseError::fail)?, &expected);
        prop_assert_eq!(&parsed(&merged(&pools, &peers)).map_err(TestCaseError::fail)?, &expected);
    }

    #[test]
    fn long_values_are_cut_to_seven_bytes(s in "x[a-zA-Z0-9é]{0,30}") {
        let e = parse(&peer_doc(&s), Mode::Controller).expect_err("not a number").to_string();
        let shown = if s.len() > 10 {
            // yaml.v2 cuts bytes, not characters: a cut character shows as U+FFFD.
            format!("{}...", common::gotext::lossy(&s.as_bytes()[..7]))
        } else {
            s.clone()
        };
        prop_assert_eq!(
            e,
            format!("could not parse config: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `{shown}` into uint32")
        );
    }

    #[test]
    fn any_text_gets_an_answer(text in "[ a-z0-9:,#&*!|>'\"%@`{}\\[\\]?.~<=_\t\n-]{0,80}") {
        for mode in [Mode::Controller, Mode::NativeSpeaker] {
            if let Err(e) = parse(&text, mode) {
                let e = e.to_string();
                prop_assert!(!e.contains("internal error"), "{:?}: {}", text, e);
            }
        }
    }
}
