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
    GoFlags {
        long,
        bools,
        bare: &[],
    }
    .normalize(args)
}

/// The long flags of a command, by how they take a value.
struct GoFlags<'a> {
    /// Every long flag (those below included).
    long: &'a [&'a str],
    /// Optional-value bools: bare `-name` becomes `--name=true`.
    bools: &'a [&'a str],
    /// Flags that take no value at all (`--allow-empty`): bare `-name` becomes `--name`.
    bare: &'a [&'a str],
}

impl GoFlags<'_> {
    fn normalize<I, S>(&self, args: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (long, bools) = (self.long, self.bools);
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
                // clap's own `--help`/`--version` take no value at all, nor do `bare` flags.
                None if name == "help" || name == "version" || self.bare.contains(&name) => {
                    out.push(format!("--{name}"));
                }
                None if bools.contains(&name) => out.push(format!("--{name}=true")),
                None => {
                    out.push(format!("--{name}"));
                    expect_value = true;
                }
            }
        }
        out
    }
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
    fn no_value_flags_never_take_the_next_argument() {
        let flags = GoFlags {
            long: &["allow-empty", "config"],
            bools: &[],
            bare: &["allow-empty"],
        };
        assert_eq!(
            flags.normalize(["c", "check-config", "-allow-empty", "-"]),
            ["c", "check-config", "--allow-empty", "-"]
        );
        assert_eq!(
            flags.normalize(["c", "convert", "-config", "-"]),
            ["c", "convert", "--config", "-"]
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
        // Go's -help, and -version, reach clap's own flags without a value.
        assert_eq!(
            normalize_go_flags(["c", "-version"], &["version"], &[]),
            ["c", "--version"]
        );
    }
}

/// Parses the process arguments into `T`, accepting Go's flag syntax for every long flag `T`
/// declares (bool flags are those that may take no value: `num_args = 0..=1`).
pub fn parse_go_args<T: clap::Parser>() -> T {
    parse_go_args_with_matches().0
}

/// [`parse_go_args`], also returning clap's matches: they tell a flag given on the command
/// line from one left at its default (`ArgMatches::value_source`).
pub fn parse_go_args_with_matches<T: clap::Parser>() -> (T, clap::ArgMatches) {
    go_args_from(std::env::args()).unwrap_or_else(|e| e.exit())
}

/// Parses `argv` (program name first) as [`parse_go_args_with_matches`] does, returning
/// clap's error (help, version, bad flags) instead of exiting.
pub fn go_args_from<T: clap::Parser>(
    argv: impl IntoIterator<Item = String>,
) -> Result<(T, clap::ArgMatches), clap::Error> {
    let cmd = T::command();
    // clap adds `--help` and `--version` when it builds the command; Go's flag package takes
    // `-help` (and our `-version`) too. Subcommands' flags (`convert -config=-`) count too.
    let generated = ["help", "version"];
    let args: Vec<&clap::Arg> = cmd
        .get_arguments()
        .chain(cmd.get_subcommands().flat_map(|s| s.get_arguments()))
        .collect();
    let mut long: Vec<&str> = args.iter().filter_map(|a| a.get_long()).collect();
    long.extend(generated);
    // Flags that take no value at all (`--allow-empty`) are written bare; optional-value
    // bools (`--disable-epslices[=false]`) get `=true`.
    let (bare, bools): (Vec<&clap::Arg>, Vec<&clap::Arg>) = args
        .iter()
        .filter(|a| a.get_num_args().is_some_and(|r| r.min_values() == 0))
        .partition(|a| a.get_num_args().is_some_and(|r| r.max_values() == 0));
    let bare: Vec<&str> = bare.iter().filter_map(|a| a.get_long()).collect();
    long.extend(bare.iter().copied());
    let bools: Vec<&str> = bools.iter().filter_map(|a| a.get_long()).collect();
    let flags = GoFlags {
        long: &long,
        bools: &bools,
        bare: &bare,
    };
    let matches = T::command().try_get_matches_from(flags.normalize(argv))?;
    let args = T::from_arg_matches(&matches).map_err(|e| e.format(&mut T::command()))?;
    Ok((args, matches))
}

/// The flags both binaries take (docs/operations.md#common-flags), flattened into each one's
/// `Args`.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Port of the Prometheus /metrics endpoint.
    #[arg(long, default_value_t = 7472)]
    pub port: u16,
    /// Name of the ConfigMap holding the `config` document.
    #[arg(long, default_value = "config")]
    pub config: String,
    /// Where the configuration comes from: `configmap` (the `config` ConfigMap, as MetalLB
    /// v0.8–v0.12) or `crd` (MetalLB v0.13's metallb.io objects of the namespace;
    /// docs/crd.md#crd-mode).
    #[arg(
        long = "config-source",
        env = "METALLB_CONFIG_SOURCE",
        value_enum,
        default_value = "configmap"
    )]
    pub config_source: crate::crd::ConfigSource,
    /// Namespace of the ConfigMap (default: the service account's).
    #[arg(long, env = "METALLB_NAMESPACE")]
    pub namespace: Option<String>,
    /// Path to a kubeconfig; in-cluster configuration when unset.
    #[arg(long)]
    pub kubeconfig: Option<String>,
    /// all, debug, info, warn, error or none.
    #[arg(long = "log-level", default_value = "info")]
    pub log_level: String,
    /// Read core Endpoints instead of EndpointSlices (the controller reads neither).
    #[arg(long = "disable-epslices", value_parser = parse_go_bool, default_value = "false", require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub disable_epslices: bool,
    /// Accepted for compatibility.
    #[arg(long = "enable-pprof", value_parser = parse_go_bool, default_value = "false", require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub enable_pprof: bool,
}

/// Where the service account's namespace is mounted in a pod.
const SA_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

impl CommonArgs {
    /// `--namespace`/`METALLB_NAMESPACE`, else the service account's namespace, with
    /// upstream's message when neither is there
    /// (docs/config.md#where-the-configuration-comes-from).
    pub fn namespace(&self) -> Result<String, String> {
        if let Some(ns) = self.namespace.as_deref().filter(|s| !s.is_empty()) {
            return Ok(ns.to_owned());
        }
        std::fs::read_to_string(SA_NAMESPACE_FILE)
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                "Unable to get namespace from pod service account data, please specify --namespace or METALLB_NAMESPACE".to_owned()
            })
    }

    /// The validated log level (upstream exits 1 on an unknown one).
    pub fn level(&self) -> Result<LogLevel, String> {
        self.log_level.parse()
    }
}

/// Go's `strconv.ParseBool`, for bool flags given as `--flag=VALUE`.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!(
            "parse error: strconv.ParseBool: parsing {}: invalid syntax",
            common::gotext::quote(s)
        )),
    }
}

/// `--log-level` values (docs/operations.md#common-flags); anything else makes upstream exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    All,
    Debug,
    Info,
    Warn,
    Error,
    None,
}

impl std::str::FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "all" => LogLevel::All,
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            "none" => LogLevel::None,
            _ => {
                return Err(format!(
                    "failed to parse log-level {}: all, debug, info, warn, error or none",
                    common::gotext::quote(s)
                ));
            }
        })
    }
}

#[cfg(test)]
mod value_tests {
    use super::*;

    #[test]
    fn go_bools_and_levels() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(t), Ok(true));
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(f), Ok(false));
        }
        assert!(parse_go_bool("yes").is_err());
        assert_eq!("warn".parse::<LogLevel>(), Ok(LogLevel::Warn));
        assert!("verbose".parse::<LogLevel>().is_err());
    }
}

/// `check-config` as a process: prints the JSON or the error and returns the exit status.
pub fn check_config_main(path: &str, mode: common::config::Mode, allow_empty: bool) -> u8 {
    let (code, out) = check_config(path, mode, allow_empty);
    match out {
        Ok(json) => print_stdout(&format!("{json}\n")),
        Err(e) => eprintln!("{e}"),
    }
    code
}

/// `check-config` as both binaries run it: reads PATH (`-` = stdin), validates in `mode`,
/// and returns the exit status with what to print on stdout or stderr.
pub fn check_config(
    path: &str,
    mode: common::config::Mode,
    allow_empty: bool,
) -> (u8, Result<String, String>) {
    match read_input(path) {
        Err(e) => (2, Err(e)),
        Ok(input) => match common::config::check_input(&input, mode, allow_empty) {
            Ok(json) => (0, Ok(json)),
            Err(e) => (e.exit_code(), Err(e.to_string())),
        },
    }
}

/// The input of an offline subcommand: the file at `path`, or standard input for `-`.
pub fn read_input(path: &str) -> Result<String, String> {
    let input = if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    };
    input.map_err(|e| format!("reading {path}: {e}"))
}

/// Writes `text` to stdout; a closed pipe (`controller plan | head`) is not an error worth a
/// panic, so write errors are dropped.
pub fn print_stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod namespace_tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn flag_wins_and_a_missing_namespace_says_how_to_fix_it() {
        let t = T::parse_from(["x", "--namespace=metallb-system"]);
        assert_eq!(t.common.namespace(), Ok("metallb-system".to_owned()));
        if !std::path::Path::new(SA_NAMESPACE_FILE).exists()
            && std::env::var_os("METALLB_NAMESPACE").is_none()
        {
            let t = T::parse_from(["x"]);
            let err = t.common.namespace().expect_err("no namespace anywhere");
            assert!(
                err.contains("please specify --namespace or METALLB_NAMESPACE"),
                "{err}"
            );
        }
    }
}
