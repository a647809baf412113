//! The binary's command line: Go flag forms, env fallbacks, exit codes.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn testdata(p: &str) -> String {
    format!("{}/../testdata/config/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(args)
        .output()
        .expect("run controller")
}

#[test]
fn check_config_exit_codes() {
    let ok = run(&["check-config", &testdata("valid/layer2-docs.yaml")]);
    assert_eq!(ok.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("JSON on stdout");
    assert_eq!(
        json["pools"]["default"]["cidrs"],
        serde_json::json!(["10.10.8.200/30", "10.10.8.204/31"])
    );

    let bad = run(&["check-config", &testdata("invalid/overlap.yaml")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("overlaps with already defined CIDR"));

    let missing = run(&["check-config", "/nonexistent/config.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn check_config_reads_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(["check-config", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/30]}\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("10.0.0.0/30"));
}

/// `kubectl get cm … | controller check-config -` when kubectl failed: nothing on stdin.
#[test]
fn empty_stdin_is_not_a_valid_config() {
    let run = |args: &[&str]| {
        let child = Command::new(env!("CARGO_BIN_EXE_controller"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // stdin is dropped at once: an empty input.
        child.wait_with_output().expect("wait")
    };
    let out = run(&["check-config", "-"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the input is empty"), "{err}");
    let out = run(&["check-config", "--allow-empty", "-"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn go_flag_syntax_is_accepted() {
    let file = testdata("valid/bare-document.yaml");
    for flags in [
        &[
            "-port",
            "7472",
            "-config=config",
            "-log-level=debug",
            "-disable-epslices",
        ][..],
        &[
            "--port=7472",
            "--config",
            "config",
            "--log-level",
            "info",
            "--disable-epslices=false",
        ][..],
        &[
            "-enable-pprof",
            "--namespace=metallb-system",
            "-ml-secret-name",
            "memberlist",
            "-deployment=controller",
        ][..],
    ] {
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["check-config", &file]);
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn unknown_flags_and_bad_levels_fail_like_upstream() {
    assert_eq!(run(&["-bogus", "check-config", "x"]).status.code(), Some(2));
    let file = testdata("valid/bare-document.yaml");
    assert_eq!(
        run(&["--log-level=verbose", "check-config", &file])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn version_in_both_flag_syntaxes() {
    for flag in ["-version", "--version"] {
        let out = Command::new(env!("CARGO_BIN_EXE_controller"))
            .arg(flag)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            concat!("controller ", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}

fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn convert_prints_objects_that_read_back() {
    let file = testdata("valid/layer2-docs.yaml");
    let by_flag = run(&["convert", "--config", &file]);
    assert_eq!(by_flag.status.code(), Some(0), "{by_flag:?}");
    let yaml = String::from_utf8_lossy(&by_flag.stdout).into_owned();
    let res = common::crd::documents::read(&yaml).expect("objects");
    assert_eq!(res.pools.len(), 1);
    assert_eq!(res.pools[0].spec.addresses, ["10.10.8.200-10.10.8.205"]);
    assert_eq!(res.l2_advertisements[0].spec.ip_address_pools, ["default"]);

    // Go flag syntax, and standard input (by default and as `-`).
    let text = std::fs::read_to_string(&file).expect("testdata");
    for args in [
        &["convert", "-config=-"][..],
        &["convert"],
        &["convert", "-config", "-"],
    ] {
        let out = run_stdin(args, &text);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), yaml, "{args:?}");
    }
}

#[test]
fn convert_exit_codes_and_notes() {
    let out = run(&["convert", "--config", &testdata("invalid/overlap.yaml")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("overlaps with already defined CIDR"));
    let out = run(&["convert", "--config", "/nonexistent.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_stdin(&["convert"], "kind: Service\nmetadata: {name: x}\n");
    assert_eq!(out.status.code(), Some(2));
    let out = run_stdin(
        &["convert"],
        "peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, hold-time: 0s}\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hold-time 0 (no keepalives)"));
    let out = run_stdin(
        &["convert"],
        "address-pools:\n- {name: Old_Name, protocol: layer2, addresses: [10.0.0.0/24]}\n",
    );
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("note: IPAddressPool \"Old_Name\" is named \"old-name\""),
        "{err}"
    );
}

#[test]
fn no_value_flags_of_subcommands_take_go_syntax() {
    let out = run_stdin(&["check-config", "-allow-empty", "-"], "");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn config_source_takes_a_flag_or_the_environment_and_refuses_unknown_values() {
    let out = run(&[
        "--config-source=nowhere",
        "check-config",
        &testdata("valid/bare-document.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[possible values: configmap, crd]"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(["check-config", &testdata("valid/bare-document.yaml")])
        .env("METALLB_CONFIG_SOURCE", "nowhere")
        .output()
        .expect("run controller");
    assert_eq!(out.status.code(), Some(2), "the environment is read too");
    for args in [&["-config-source=crd"][..], &["--config-source", "crd"]] {
        let mut full = args.to_vec();
        full.extend(["check-config", "-allow-empty", "/dev/null"]);
        let out = run(&full);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    }
}
