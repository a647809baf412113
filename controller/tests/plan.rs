//! `controller plan` on the bundled cluster snapshot: the reviewed table and JSON.

use std::process::Command;

fn testdata(p: &str) -> String {
    format!("{}/../testdata/plan/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn plan(output: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_controller"))
        .args([
            "plan",
            "--config",
            &testdata("config.yaml"),
            "--services",
            &testdata("services.yaml"),
            "--output",
            output,
        ])
        .output()
        .expect("run controller plan");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn table_matches_the_reviewed_plan() {
    let want = std::fs::read_to_string(testdata("expected.txt")).expect("expected.txt");
    assert_eq!(plan("table"), want);
}

#[test]
fn json_matches_the_reviewed_plan() {
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(testdata("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let got: serde_json::Value = serde_json::from_str(&plan("json")).expect("plan prints JSON");
    assert_eq!(got, want);
    // Shared IP: the UDP half of DNS lands on the TCP half's address.
    let rows = got.as_array().expect("array");
    let udp = rows
        .iter()
        .find(|r| r["service"] == "infra/dns-udp")
        .expect("dns-udp row");
    assert_eq!(udp["planned"], serde_json::json!(["192.168.10.240"]));
    assert!(
        rows.iter().all(|r| r["service"] != "shop/internal"),
        "ClusterIP services are not planned"
    );
}

#[test]
fn bad_inputs_fail_with_distinct_codes() {
    let run = |cfg: &str, svcs: &str| {
        Command::new(env!("CARGO_BIN_EXE_controller"))
            .args(["plan", "--config", cfg, "--services", svcs])
            .output()
            .expect("run")
            .status
            .code()
    };
    let overlap = format!(
        "{}/../testdata/config/invalid/overlap.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    assert_eq!(run(&overlap, &testdata("services.yaml")), Some(1));
    assert_eq!(run(&testdata("config.yaml"), "/nonexistent"), Some(2));
    assert_eq!(
        run(&testdata("config.yaml"), &testdata("config.yaml")),
        Some(2)
    );
}
