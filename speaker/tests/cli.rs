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
