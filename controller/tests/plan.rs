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

/// Runs `controller ARGS…` with `stdin`, returning (exit status, stdout, stderr).
fn controller(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn controller");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Go's flag syntax reaches the subcommand's own flags, and either input may be stdin.
#[test]
fn go_flags_and_stdin_give_the_same_plan() {
    let want = plan("json");
    let services = std::fs::read_to_string(testdata("services.yaml")).expect("services");
    let config = std::fs::read_to_string(testdata("config.yaml")).expect("config");
    let cfg_arg = format!("-config={}", testdata("config.yaml"));
    let (code, out, err) = controller(
        &["plan", &cfg_arg, "-services=-", "-output=json"],
        &services,
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, want);
    let svc_path = testdata("services.yaml");
    let (code, out, err) = controller(
        &[
            "plan",
            "-config",
            "-",
            "-services",
            &svc_path,
            "-output",
            "json",
        ],
        &config,
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, want);
    let (code, _, err) = controller(&["plan", "--config", "-", "--services", "-"], "");
    assert_eq!(code, Some(2));
    assert_eq!(
        err.trim_end(),
        "only one of --config and --services can be read from stdin (-)"
    );
}

/// A changed or cleared row says why the old address was refused, not only what replaced it.
#[test]
fn changed_and_cleared_rows_say_why_the_old_ip_went() {
    let rows: serde_json::Value = serde_json::from_str(&plan("json")).expect("json");
    let row = |svc: &str| {
        rows.as_array()
            .and_then(|r| r.iter().find(|r| r["service"] == svc))
            .cloned()
            .unwrap_or_else(|| panic!("row {svc}"))
    };
    let stray = row("shop/stray");
    assert_eq!(stray["action"], "changed");
    assert!(
        stray["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with(r#"current IP refused: ["203.0.113.9"] is not allowed in config: no address pool contains it; Assigned IP"#)),
        "{stray}"
    );
    let worker = row("shop/worker");
    assert_eq!(worker["action"], "changed");
    assert!(
        worker["reason"].as_str().is_some_and(|r| r
            .contains("address also in use by shop/web: existing service does not allow sharing")),
        "{worker}"
    );
    let was_lb = row("shop/was-lb");
    assert_eq!(
        (&was_lb["action"], &was_lb["reason"]),
        (&"cleared".into(), &"not a LoadBalancer".into())
    );
}

/// A cluster far past the YAML reader's default node budget (about 3 600 such services)
/// is planned whole; an alias bomb is refused in one plain line.
#[test]
fn large_lists_are_read_and_alias_bombs_refused_in_one_line() {
    let n = 6000;
    let mut list = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..n {
        list.push_str(&format!(
            "- apiVersion: v1\n  kind: Service\n  metadata: {{name: s{i}, namespace: ns, labels: {{app: a{i}, tier: web}}}}\n  spec:\n    type: LoadBalancer\n    clusterIPs: [10.96.{}.{}]\n    ports: [{{port: 443, protocol: TCP, targetPort: 8443, name: https}}, {{port: 80, protocol: TCP, targetPort: 8080, name: http}}]\n  status: {{}}\n",
            i / 250,
            i % 250
        ));
    }
    let cfg = "address-pools:\n- name: big\n  protocol: layer2\n  addresses: [10.1.0.0/16]\n";
    let dir = std::env::temp_dir().join(format!("plan-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg_path = dir.join("config.yaml");
    std::fs::write(&cfg_path, cfg).expect("write config");
    let cfg_arg = cfg_path.to_string_lossy().into_owned();
    let (code, out, err) = controller(
        &[
            "plan",
            "--config",
            &cfg_arg,
            "--services",
            "-",
            "--output",
            "json",
        ],
        &list,
    );
    assert_eq!(code, Some(0), "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).expect("json");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), n);
    let planned: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r["planned"][0].as_str())
        .collect();
    assert_eq!(planned.len(), n, "every service planned on its own address");

    let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x]\n");
    for (i, c) in ('b'..='i').enumerate() {
        let prev = (b'a' + i as u8) as char;
        bomb.push_str(&format!(
            "{c}: &{c} [{}]\n",
            vec![format!("*{prev}"); 20].join(",")
        ));
    }
    let (code, _, err) = controller(&["plan", "--config", &cfg_arg, "--services", "-"], &bomb);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("services: too many YAML nodes (")
            && err.trim_end().ends_with("; the input is refused"),
        "{err}"
    );
}
