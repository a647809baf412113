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

/// The plan's reasons are the Warning Events' messages: a refused share names the holder
/// and the rule, an exhausted pool its size.
#[test]
fn refusals_name_the_holder_the_rule_and_the_pool_size() {
    let dir = std::env::temp_dir().join(format!("plan-refusals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = dir.join("config.yaml");
    std::fs::write(
        &cfg,
        "address-pools:\n- name: tiny\n  protocol: layer2\n  addresses: [192.0.2.10/32]\n",
    )
    .expect("write config");
    let svc = |name: &str, key: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: shop\n  annotations:\n    metallb.universe.tf/allow-shared-ip: \"{key}\"\nspec:\n  type: LoadBalancer\n  clusterIP: 10.96.0.{}\n  clusterIPs: [10.96.0.{}]\n  loadBalancerIP: \"{ip}\"\n  ports: [{{port: 80, protocol: TCP}}]\n",
            name.len(),
            name.len()
        )
    };
    let services = dir.join("services.yaml");
    std::fs::write(
        &services,
        [
            svc("a", "x", "192.0.2.10"),
            svc("bb", "y", "192.0.2.10"),
            svc("ccc", "z", ""),
        ]
        .join("---\n"),
    )
    .expect("write services");
    let out = Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(["plan", "--config"])
        .arg(&cfg)
        .arg("--services")
        .arg(&services)
        .args(["--output", "json"])
        .output()
        .expect("run controller plan");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let reason = |svc: &str| {
        rows.as_array()
            .and_then(|r| r.iter().find(|r| r["service"] == svc))
            .and_then(|r| r["reason"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        reason("shop/bb"),
        r#"Failed to allocate IP for "shop/bb": can't change sharing key for "shop/bb", address also in use by shop/a: sharing key "y" does not match existing sharing key "x""#
    );
    assert_eq!(
        reason("shop/ccc"),
        r#"Failed to allocate IP for "shop/ccc": no available IPs: pool "tiny": all 1 ipv4 addresses are in use, none shareable with this service (key, backend or port)"#
    );
}
