//! Upstream v0.12.1's own answers for 300 config documents (testdata/config-upstream, see
//! its README): the parser must give each of them, text included. The controller's answer
//! (`Mode::Controller`) for all 300; the native speaker's (`Mode::NativeSpeaker`) wherever
//! upstream's is a target, i.e. not its IPv6-in-BGP refusal.

use std::path::PathBuf;

use common::config::{Mode, parse, to_json};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/config-upstream")
}

/// One recorded upstream answer: accepted, or rejected with one of these texts.
struct Answer<'a> {
    ok: bool,
    errors: Vec<&'a str>,
}

fn answer(v: &Value) -> Answer<'_> {
    let ok = v["ok"].as_bool().expect("ok is a boolean");
    let errors = match v["errors"].as_array() {
        Some(list) => list.iter().filter_map(Value::as_str).collect(),
        None => v["error"].as_str().into_iter().collect(),
    };
    Answer { ok, errors }
}

/// Why our answer differs from upstream's, if it does.
fn compare(ours: &Result<Value, String>, theirs: &Answer<'_>, config: &Value) -> Option<String> {
    match (ours, theirs.ok) {
        (Ok(json), true) if config.is_null() || json == config => None,
        (Ok(json), true) => Some(format!(
            "values differ:\n  ours: {json}\n  upstream: {config}"
        )),
        (Err(e), false) if theirs.errors.contains(&e.as_str()) => None,
        (Err(e), false) => Some(format!(
            "error differs:\n  ours: {e:?}\n  upstream: {:?}",
            theirs.errors
        )),
        (Ok(_), false) => Some(format!("we accept; upstream: {:?}", theirs.errors)),
        (Err(e), true) => Some(format!("we reject ({e:?}); upstream accepts")),
    }
}

#[test]
fn every_upstream_answer_is_ours() {
    let lines = std::fs::read_to_string(dir().join("upstream.jsonl")).expect("upstream.jsonl");
    let (mut checked, mut native_checked, mut native_ipv6) = (0, 0, 0);
    let mut differ = Vec::new();
    for line in lines.lines() {
        let u: Value = serde_json::from_str(line).expect("a JSON line");
        let input = u["input"].as_str().expect("input name");
        let text = std::fs::read_to_string(dir().join("inputs").join(input)).expect("input file");
        let run = |mode| {
            parse(&text, mode)
                .map(|c| to_json(&c))
                .map_err(|e| e.to_string())
        };

        let controller = run(Mode::Controller);
        if let Some(why) = compare(&controller, &answer(&u), &u["config"]) {
            differ.push(format!("{input} (controller): {why}"));
        }
        checked += 1;

        let native = answer(&u["speaker_native"]);
        let ours = run(Mode::NativeSpeaker);
        if !native.ok
            && native
                .errors
                .iter()
                .any(|e| e.contains("native bgp mode does not support ipv6"))
        {
            // Not a target: we accept IPv6 in BGP pools, so the native speaker answers as
            // the controller does, unless a later BGP pool has an entry that does not parse
            // (the native check reports it without the `parsing address pool` prefix).
            native_ipv6 += 1;
            let later_entry = matches!(&ours, Err(e) if e.starts_with("invalid CIDR"));
            if ours != controller && !later_entry {
                differ.push(format!(
                    "{input} (native, IPv6 in BGP): ours {ours:?}, controller {controller:?}"
                ));
            }
            continue;
        }
        if let Some(why) = compare(&ours, &native, &Value::Null) {
            differ.push(format!("{input} (native speaker): {why}"));
        }
        native_checked += 1;
    }
    assert_eq!(checked, 300, "the recorded set has 300 inputs");
    assert!(native_checked + native_ipv6 == 300 && native_checked > 200);
    assert!(
        differ.is_empty(),
        "{} of {} answers differ from upstream's:\n{}",
        differ.len(),
        checked + native_checked,
        differ.join("\n")
    );
}
