//! The speaker side of the manifest drift guard (controller/tests/manifests.rs pins
//! manifests/metallb.yaml to these same upstream v0.12.1 values,
//! docs/operations.md#manifests-and-rbac and docs/operations.md#helm-chart): the args the
//! DaemonSet passes parse, and every env var the manifests or the Helm chart set on the speaker
//! is one the binary reads.

use std::process::Command;

/// Args of the speaker container in manifests/metallb.yaml and (with the chart's ConfigMap name)
/// in charts/metallb.
const ARGS: [&str; 3] = ["--port=7472", "--config=config", "--log-level=info"];
/// Env of the speaker container: the manifests' five plus the chart's METALLB_ML_BIND_PORT.
const ENV: [&str; 6] = [
    "METALLB_NODE_NAME",
    "METALLB_HOST",
    "METALLB_ML_BIND_ADDR",
    "METALLB_ML_LABELS",
    "METALLB_ML_SECRET_KEY",
    "METALLB_ML_BIND_PORT",
];

#[test]
fn speaker_accepts_the_manifest_args() {
    let config = format!(
        "{}/../testdata/kustomize/config.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_speaker"))
        .args(ARGS)
        .args(["check-config", &config])
        .env_remove("METALLB_BGP_TYPE")
        .output()
        .expect("run speaker");
    assert_eq!(
        out.status.code(),
        Some(0),
        "speaker {ARGS:?} check-config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn speaker_reads_the_manifest_env() {
    let help = Command::new(env!("CARGO_BIN_EXE_speaker"))
        .arg("--help")
        .output()
        .expect("run speaker --help");
    let help = String::from_utf8_lossy(&help.stdout);
    for name in ENV {
        assert!(
            help.contains(&format!("[env: {name}")),
            "speaker does not read {name}:\n{help}"
        );
    }
}
