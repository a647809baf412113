//! The speaker binary's command line: native-mode validation and required settings.

use std::process::{Command, Output};

fn testdata(p: &str) -> String {
    format!("{}/../testdata/config/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_speaker"));
    cmd.args(args)
        .env_remove("METALLB_NODE_NAME")
        .env_remove("METALLB_BGP_TYPE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run speaker")
}

#[test]
fn check_config_rejects_frr_only_keys() {
    let out = run(&["check-config", &testdata("valid/every-key.yaml")], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "peer 10.0.0.1 has bfd-profile set on native bgp mode"
    );
    let ok = run(
        &[
            "-node-name",
            "n1",
            "check-config",
            &testdata("valid/bgp-docs.yaml"),
        ],
        &[],
    );
    assert_eq!(ok.status.code(), Some(0));
}

#[test]
fn running_needs_a_node_name_and_native_mode() {
    let out = run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("must specify --node-name or METALLB_NODE_NAME")
    );
    let frr = run(
        &[],
        &[("METALLB_NODE_NAME", "n1"), ("METALLB_BGP_TYPE", "frr")],
    );
    assert_eq!(frr.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&frr.stderr).contains("native-only"));
}

/// The speaker container of each upstream release's manifest (args, and env with stand-in
/// values for the `valueFrom` entries): the election key it selects when started that way.
#[test]
fn each_upstream_install_selects_its_election_key() {
    const BASE: &[(&str, &str)] = &[("METALLB_NODE_NAME", "n1"), ("METALLB_HOST", "10.0.0.1")];
    const ML: &[(&str, &str)] = &[
        ("METALLB_ML_BIND_ADDR", "10.0.0.1"),
        ("METALLB_ML_LABELS", "app=metallb,component=speaker"),
        ("METALLB_ML_SECRET_KEY", "c2VjcmV0"),
    ];
    let old: &[&str] = &["--port=7472", "--config=config"];
    let new: &[&str] = &["--port=7472", "--config=config", "--log-level=info"];
    /// Release, speaker args, speaker env, the key it selects.
    type Install<'a> = (&'a str, &'a [&'a str], Vec<(&'a str, &'a str)>, &'a str);
    let installs: [Install<'_>; 5] = [
        ("v0.8.3", old, BASE.to_vec(), "serviceName"),
        (
            "v0.9.3",
            old,
            [BASE, ML, &[("METALLB_ML_NAMESPACE", "metallb-system")]].concat(),
            "serviceName",
        ),
        ("v0.10.3", old, [BASE, ML].concat(), "serviceName"),
        ("v0.11.0", new, [BASE, ML].concat(), "ip"),
        ("v0.12.1", new, [BASE, ML].concat(), "ip"),
    ];
    for (release, args, env, key) in &installs {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_speaker"));
        cmd.env_clear().args(*args).arg("election-key");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run speaker");
        assert_eq!(out.status.code(), Some(0), "{release}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with(&format!("{key} (not set; ")),
            "{release}: {stdout}"
        );
        // The setting, as an env var on every speaker, wins over the detection.
        for (value, want) in [("ip", "ip"), ("service-name", "serviceName")] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_speaker"));
            cmd.env_clear()
                .args(*args)
                .arg("election-key")
                .env("METALLB_L2_ELECTION_KEY", value);
            let out = cmd.output().expect("run speaker");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{want} (set by --l2-election-key / METALLB_L2_ELECTION_KEY)\n"),
                "{release} with METALLB_L2_ELECTION_KEY={value}"
            );
        }
    }
    let bad = run(&["election-key"], &[("METALLB_L2_ELECTION_KEY", "uid")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("service-name"));
}
