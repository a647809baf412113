//! `common` is the pure side: no runtime, no Kubernetes client, no metrics registry, no
//! command line, no log subscriber, not even through a dependency of a dependency. The shells
//! (`kube-shell`, `controller`, `speaker`) hold those. Checked on the resolved dependency tree,
//! so a new dependency that drags one in fails here, not in review.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates that mean I/O, a clock-driven runtime or process-wide state.
const FORBIDDEN: [&str; 8] = [
    "tokio",
    "kube",
    "kube-client",
    "k8s-openapi",
    "prometheus",
    "clap",
    "tracing-subscriber",
    "hyper",
];

#[test]
fn common_depends_on_no_runtime_client_registry_or_cli() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            "metallb-common",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(names.contains("metallb-common"), "{names:?}");
    assert!(names.contains("serde"), "the tree was read: {names:?}");
    let found: Vec<&str> = FORBIDDEN
        .iter()
        .copied()
        .filter(|f| names.contains(*f))
        .collect();
    assert!(found.is_empty(), "common depends on {found:?}");
}
