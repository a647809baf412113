//! `controller convert`'s promise: the objects it writes for a ConfigMap, read back as YAML
//! and translated by the CRD front end, are the same internal config the ConfigMap is —
//! over every valid document of testdata/config, the upstream oracle's valid inputs, and
//! generated configurations. "The same" is exact, up to what CRD mode defines differently
//! and the conversion says so: pools in name order, and the names upstream's converter
//! changes (docs/crd.md#converting-a-configmap). The native speaker's verdict agrees too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::config::{Config, Mode, config_text, parse};
use common::crd::{ConvertError, Converted, convert, documents, translate};
use proptest::prelude::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The ConfigMap's config as CRD mode defines it, with the converter's renames.
fn as_crd_mode(mut cfg: Config, converted: &Converted) -> Config {
    // Pools and BFD profiles are written in the config's order (profiles by name).
    let pools: BTreeMap<String, String> = cfg
        .pools
        .iter()
        .zip(&converted.resources.pools)
        .map(|(p, o)| (p.name.clone(), o.metadata.name.clone()))
        .collect();
    let bfd: BTreeMap<String, String> = cfg
        .bfd_profiles
        .keys()
        .zip(&converted.resources.bfd_profiles)
        .map(|(n, o)| (n.clone(), o.metadata.name.clone()))
        .collect();
    for p in &mut cfg.pools {
        p.name = pools[&p.name].clone();
    }
    cfg.pools.sort_by(|a, b| a.name.cmp(&b.name));
    for p in &mut cfg.peers {
        if let Some(n) = bfd.get(&p.bfd_profile) {
            p.bfd_profile = n.clone();
        }
    }
    cfg.bfd_profiles = cfg
        .bfd_profiles
        .into_values()
        .map(|mut b| {
            b.name = bfd[&b.name].clone();
            (b.name.clone(), b)
        })
        .collect();
    cfg
}

/// Converts `text` (valid in the controller) and checks the round trip; `Err` is why the
/// conversion was refused.
fn round_trip(what: &str, input: &str) -> Result<(), String> {
    let text = &config_text(input).unwrap_or_else(|e| panic!("{what}: {e}"));
    let cm = parse(text, Mode::Controller).unwrap_or_else(|e| panic!("{what}: not valid: {e}"));
    let converted = match convert(input) {
        Ok(c) => c,
        Err(e @ (ConvertError::Unrepresentable { .. } | ConvertError::Refused(_))) => {
            return Err(e.to_string());
        }
        Err(e) => panic!("{what}: {e}"),
    };
    let yaml = converted.to_yaml();
    let res = documents::read(&yaml).unwrap_or_else(|e| panic!("{what}: {e}\n{yaml}"));
    assert_eq!(res.len(), converted.resources.len(), "{what}");
    let got = translate(&res, Mode::Controller).unwrap_or_else(|e| panic!("{what}: {e}\n{yaml}"));
    assert_eq!(got, as_crd_mode(cm, &converted), "{what}\n{yaml}");

    let native_cm = parse(text, Mode::NativeSpeaker);
    let native_crd = translate(&res, Mode::NativeSpeaker);
    match (native_cm, native_crd) {
        (Ok(a), Ok(b)) => assert_eq!(b, as_crd_mode(a, &converted), "{what} (native)"),
        (Err(_), Err(_)) => {}
        (a, b) => {
            panic!("{what}: the native speaker's verdicts differ: ConfigMap {a:?}, objects {b:?}")
        }
    }
    Ok(())
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_valid_testdata_config_round_trips() {
    let dir = root().join("testdata/config/valid");
    let mut refused = BTreeMap::new();
    let mut converted = 0;
    for f in files(&dir, "yaml") {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match round_trip(&name, &read(&f)) {
            Ok(()) => converted += 1,
            Err(why) => {
                refused.insert(name, why);
            }
        }
    }
    // Two of MetalLB's own v0.12 examples break rules v0.13 added; the conversion says which.
    assert_eq!(
        refused.keys().map(String::as_str).collect::<Vec<_>>(),
        ["bgp-docs.yaml", "every-key.yaml"],
        "{refused:#?}"
    );
    assert!(refused["bgp-docs.yaml"].contains("invalid local preference 0: local preferernce 100"));
    assert!(refused["every-key.yaml"].contains("which has bfd echo enabled"));
    assert!(converted >= 2, "only {converted} converted");
}

/// Upstream v0.12.1's answers for 300 documents (testdata/config-upstream/README.md).
fn oracle_dir() -> PathBuf {
    root().join("testdata/config-upstream")
}

/// What a refusal may be: things v0.13's objects cannot say, and rules v0.13 added.
const KNOWN_REFUSALS: &[&str] = &[
    "hold-time 0 (no keepalives) cannot be written",
    "keepalive-time 0 cannot be written",
    "above the BGPPeer schema's maximum of 16384",
    "below the BGPAdvertisement schema's minimum of 1",
    "does not fit the schema's 32-bit integer",
    "a BGPPeer refuses duplicate nodeSelectors",
    "no letter to start an object name with",
    "is still not a valid object name",
    "two legacy names become the same object name",
    "MetalLB v0.13 refuses the converted objects",
];

#[test]
fn every_valid_oracle_input_round_trips_or_says_why_not() {
    let dir = oracle_dir();
    let mut converted = 0;
    let mut refused = Vec::new();
    for line in read(&dir.join("upstream.jsonl")).lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        if entry["ok"] != true {
            continue;
        }
        let input = entry["input"].as_str().expect("input name");
        let text = read(&dir.join("inputs").join(input));
        // What upstream accepts, ours accepts (tests/upstream_answers.rs holds the values).
        if let Err(e) = parse(&text, Mode::Controller) {
            panic!("{input}: valid upstream, refused here: {e}");
        }
        match round_trip(input, &text) {
            Ok(()) => converted += 1,
            Err(why) => {
                assert!(
                    KNOWN_REFUSALS.iter().any(|k| why.contains(k)),
                    "{input}: unexpected refusal: {why}"
                );
                refused.push(format!("{input}: {why}"));
            }
        }
    }
    eprintln!(
        "{converted} converted and round-tripped, {} refused:\n{}",
        refused.len(),
        refused.join("\n")
    );
    assert!(
        converted > refused.len(),
        "{converted} converted, {} refused",
        refused.len()
    );
}

// ---- generated configurations ----------------------------------------------------------

#[derive(Debug, Clone)]
struct GenPool {
    name: &'static str,
    bgp: bool,
    /// Address entries, as CIDR or range text.
    addresses: Vec<String>,
    auto_assign: Option<bool>,
    avoid_buggy: bool,
    /// (aggregation length v4, v6, communities) per advertisement; one LOCAL_PREF for all,
    /// which v0.13 requires of advertisements sending the same updates.
    ads: Vec<(Option<u8>, Option<u8>, Vec<String>)>,
    localpref: u32,
}

/// `match-labels` pairs and `match-expressions` (key, operator, values).
type GenSelector = (
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, &'static str, Vec<&'static str>)>,
);

#[derive(Debug, Clone)]
struct GenPeer {
    asns: (u32, u32),
    hold: Option<&'static str>,
    port: Option<u16>,
    selectors: Vec<GenSelector>,
    multihop: bool,
}

const POOL_NAMES: [&str; 5] = ["default", "gold", "b-2", "Legacy_Pool", "a"];
const ALIASES: [(&str, &str); 3] = [
    ("no-export", "65535:65281"),
    ("tenant", "64500:7"),
    ("x", "1:1"),
];

fn gen_pool(i: usize) -> impl Strategy<Value = GenPool> {
    let communities =
        prop::sample::subsequence(vec!["no-export", "tenant", "1:2", "64512:300"], 0..3)
            .prop_map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
    let ad = (
        prop::option::of(28u8..=32),
        prop::option::of(120u8..=128),
        communities,
    );
    (
        any::<bool>(),
        prop::sample::subsequence(vec![0usize, 1, 2], 1..=3),
        prop::option::of(any::<bool>()),
        any::<bool>(),
        prop::collection::vec(ad, 0..3),
        prop::sample::select(vec![0u32, 100, 300]),
    )
        .prop_map(
            move |(bgp, kinds, auto_assign, avoid_buggy, ads, localpref)| {
                let addresses = kinds
                    .into_iter()
                    .map(|k| match k {
                        0 => format!("10.{i}.0.0/24"),
                        1 => format!("10.{i}.1.16-10.{i}.1.31"),
                        _ => format!("fd00:{i}::/120"),
                    })
                    .collect();
                // Duplicate advertisements are refused by the ConfigMap: keep distinct ones.
                let mut distinct: Vec<(Option<u8>, Option<u8>, Vec<String>)> = Vec::new();
                for a in ads {
                    if !distinct.contains(&a) {
                        distinct.push(a);
                    }
                }
                GenPool {
                    name: POOL_NAMES[i],
                    bgp,
                    addresses,
                    auto_assign,
                    avoid_buggy,
                    ads: if bgp { distinct } else { Vec::new() },
                    localpref,
                }
            },
        )
}

fn gen_peer() -> impl Strategy<Value = GenPeer> {
    let selector = (
        prop::sample::subsequence(vec![("rack", "a"), ("zone", "z1")], 0..2),
        prop::sample::subsequence(
            vec![
                ("kubernetes.io/hostname", "In", vec!["n1", "n2"]),
                ("network-speed", "NotIn", vec!["slow"]),
                ("bgp", "Exists", vec![]),
            ],
            0..2,
        ),
    );
    (
        (1u32..70000, 1u32..70000),
        prop::option::of(prop::sample::select(vec!["90s", "3m", "100s", "3s"])),
        prop::option::of(prop::sample::select(vec![179u16, 1179, 16384])),
        prop::collection::vec(selector, 0..3),
        any::<bool>(),
    )
        .prop_map(|(asns, hold, port, mut selectors, multihop)| {
            selectors.dedup();
            let mut distinct = Vec::new();
            for s in selectors {
                if !distinct.contains(&s) {
                    distinct.push(s);
                }
            }
            GenPeer {
                multihop: multihop && asns.0 != asns.1,
                asns,
                hold,
                port,
                selectors: distinct,
            }
        })
}

fn render(pools: &[GenPool], peers: &[GenPeer], aliases: usize) -> String {
    let mut out = String::new();
    if !peers.is_empty() {
        out.push_str("peers:\n");
    }
    for (i, p) in peers.iter().enumerate() {
        out.push_str(&format!(
            "- peer-address: 192.0.2.{}\n  my-asn: {}\n  peer-asn: {}\n",
            i + 1,
            p.asns.0,
            p.asns.1
        ));
        if let Some(h) = p.hold {
            out.push_str(&format!("  hold-time: {h}\n"));
        }
        if let Some(port) = p.port {
            out.push_str(&format!("  peer-port: {port}\n"));
        }
        if p.multihop {
            out.push_str("  ebgp-multihop: true\n");
        }
        if !p.selectors.is_empty() {
            out.push_str("  node-selectors:\n");
        }
        for (labels, exprs) in &p.selectors {
            out.push_str("  - match-labels: {");
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("\"{k}\": \"{v}\""))
                .collect();
            out.push_str(&l.join(", "));
            out.push_str("}\n    match-expressions:\n");
            for (k, op, vals) in exprs {
                let v: Vec<String> = vals.iter().map(|v| format!("\"{v}\"")).collect();
                out.push_str(&format!(
                    "    - {{key: \"{k}\", operator: {op}, values: [{}]}}\n",
                    v.join(", ")
                ));
            }
        }
    }
    if aliases > 0 {
        out.push_str("bgp-communities:\n");
        for (n, v) in &ALIASES[..aliases] {
            out.push_str(&format!("  {n}: \"{v}\"\n"));
        }
    }
    out.push_str("address-pools:\n");
    for p in pools {
        out.push_str(&format!(
            "- name: {}\n  protocol: {}\n  avoid-buggy-ips: {}\n  addresses:\n",
            p.name,
            if p.bgp { "bgp" } else { "layer2" },
            p.avoid_buggy
        ));
        for a in &p.addresses {
            out.push_str(&format!("  - {a}\n"));
        }
        if let Some(a) = p.auto_assign {
            out.push_str(&format!("  auto-assign: {a}\n"));
        }
        if !p.ads.is_empty() {
            out.push_str("  bgp-advertisements:\n");
        }
        for (v4, v6, communities) in &p.ads {
            out.push_str(&format!("  - localpref: {}\n", p.localpref));
            if let Some(v) = v4 {
                out.push_str(&format!("    aggregation-length: {v}\n"));
            }
            if let Some(v) = v6 {
                out.push_str(&format!("    aggregation-length-v6: {v}\n"));
            }
            let c: Vec<String> = communities.iter().map(|c| format!("\"{c}\"")).collect();
            out.push_str(&format!("    communities: [{}]\n", c.join(", ")));
        }
    }
    out
}

fn gen_config() -> impl Strategy<Value = String> {
    let pools = prop::sample::subsequence(vec![0usize, 1, 2, 3, 4], 1..=5)
        .prop_flat_map(|idx| idx.into_iter().map(gen_pool).collect::<Vec<_>>());
    (pools, prop::collection::vec(gen_peer(), 0..4)).prop_map(|(pools, peers)| {
        // Aliases the advertisements use must exist; unused ones may too.
        render(&pools, &peers, ALIASES.len())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any config the generator writes is valid, converts, and round-trips exactly.
    #[test]
    fn generated_configs_round_trip(text in gen_config()) {
        prop_assert!(parse(&text, Mode::Controller).is_ok(), "{}", text);
        if let Err(why) = round_trip("generated", &text) {
            return Err(TestCaseError::fail(format!("refused: {why}\n{text}")));
        }
    }
}
