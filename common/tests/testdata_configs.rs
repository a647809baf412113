//! Every config under testdata/config: valid ones match their reviewed JSON, invalid ones
//! fail with exactly the recorded upstream-style error.

use std::path::{Path, PathBuf};

use common::config::{Mode, check};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/config")
        .join(sub)
}

fn yaml_files(sub: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir(sub))
        .expect("testdata dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {sub}");
    files
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn valid_configs_match_their_json() {
    for f in yaml_files("valid") {
        let got =
            check(&read(&f), Mode::Controller).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let want = read(&f.with_extension("json"));
        assert_eq!(got.trim_end(), want.trim_end(), "{}", f.display());
    }
}

#[test]
fn invalid_configs_fail_with_the_recorded_error() {
    for (sub, mode) in [
        ("invalid", Mode::Controller),
        ("invalid", Mode::NativeSpeaker),
        ("native-invalid", Mode::NativeSpeaker),
    ] {
        for f in yaml_files(sub) {
            let err = check(&read(&f), mode).expect_err(&f.display().to_string());
            assert_eq!(err.exit_code(), 1);
            assert_eq!(
                err.to_string(),
                read(&f.with_extension("error")).trim_end(),
                "{} ({mode:?})",
                f.display()
            );
        }
    }
}

#[test]
fn speaker_only_rejections_are_accepted_by_the_controller() {
    for f in yaml_files("native-invalid") {
        if f.file_name()
            .is_some_and(|n| n == "bfd-section.yaml" || n == "frr-keys.yaml")
        {
            assert!(
                check(&read(&f), Mode::Controller).is_ok(),
                "{}",
                f.display()
            );
        }
    }
}
