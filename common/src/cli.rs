//! Go `flag` syntax for command lines written for upstream's binaries.
//!
//! Operators' manifests pass `-port=7472`, `--config config` or a bare `--disable-epslices`;
//! Go's `flag` package reads all of these, clap reads only the double-dash forms. Rewriting
//! argv up front keeps one clap `Args` struct per binary and upstream manifests working.

/// Rewrites Go-style flags into clap's syntax:
/// * `-name`, `-name=v` → `--name`, `--name=v` when `name` is one of `long` (single-dash
///   long options; unknown ones are left alone so clap rejects them with exit status 2);
/// * a bool flag given as `--name false`/`true`? No: Go reads `-flag false` as the flag
///   followed by a positional argument, so bool flags are only rewritten to `--name=true`
///   when bare, which is what clap's `require_equals` bool flags expect.
///
/// Everything after a bare `--` and after the first positional argument (Go stops at the
/// first non-flag) is left untouched.
pub fn normalize_go_flags<I, S>(args: I, long: &[&str], bools: &[&str]) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out = Vec::new();
    let mut iter = args.into_iter().map(Into::into);
    if let Some(argv0) = iter.next() {
        out.push(argv0);
    }
    let mut expect_value = false;
    let mut done = false;
    for arg in iter {
        if done || expect_value {
            expect_value = false;
            out.push(arg);
            continue;
        }
        if arg == "--" {
            done = true;
            out.push(arg);
            continue;
        }
        let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'));
        let Some(body) = body.filter(|b| !b.is_empty()) else {
            // A positional argument (or "-" for stdin): Go stops parsing flags here, but our
            // subcommands take their own flags, so keep going.
            out.push(arg);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if !long.contains(&name) {
            out.push(arg);
            continue;
        }
        match value {
            Some(v) => out.push(format!("--{name}={v}")),
            None if bools.contains(&name) => out.push(format!("--{name}=true")),
            None => {
                out.push(format!("--{name}"));
                expect_value = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[&str] = &["port", "config", "disable-epslices", "log-level"];
    const BOOLS: &[&str] = &["disable-epslices"];

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_go_flags(args.iter().copied(), LONG, BOOLS)
    }

    #[test]
    fn every_go_form_becomes_clap_form() {
        assert_eq!(norm(&["c", "-port", "7472"]), ["c", "--port", "7472"]);
        assert_eq!(norm(&["c", "--port", "7472"]), ["c", "--port", "7472"]);
        assert_eq!(norm(&["c", "-port=7472"]), ["c", "--port=7472"]);
        assert_eq!(norm(&["c", "--config=config"]), ["c", "--config=config"]);
        assert_eq!(
            norm(&["c", "-disable-epslices"]),
            ["c", "--disable-epslices=true"]
        );
        assert_eq!(
            norm(&["c", "--disable-epslices=false"]),
            ["c", "--disable-epslices=false"]
        );
        assert_eq!(
            norm(&["c", "--log-level", "-debug"]),
            ["c", "--log-level", "-debug"]
        );
    }

    #[test]
    fn unknown_flags_and_positionals_are_left_for_clap() {
        assert_eq!(norm(&["c", "-bogus", "x"]), ["c", "-bogus", "x"]);
        assert_eq!(
            norm(&["c", "check-config", "-"]),
            ["c", "check-config", "-"]
        );
        assert_eq!(norm(&["c", "--", "-port"]), ["c", "--", "-port"]);
    }
}
