//! Go `flag` syntax for command lines written for upstream's binaries.
//!
//! Operators' manifests pass `-port=7472`, `--config config` or a bare `--disable-epslices`;
//! Go's `flag` package reads all of these, clap reads only the double-dash forms. Rewriting
//! argv up front keeps one clap `Args` struct per binary and upstream manifests working.

/// The long flags one command level takes, and its subcommands' own: Go's syntax is
/// rewritten with the flags of the level being read (`controller plan -output=json` is the
/// `plan` subcommand's `--output`).
#[derive(Debug, Clone, Default)]
pub struct FlagSet {
    long: Vec<String>,
    /// Flags taking an optional value (`--name[=v]`): bare, they become `--name=true`.
    bools: Vec<String>,
    /// Flags taking no value at all (clap's `SetTrue`, `--help`): bare, they stay bare.
    switches: Vec<String>,
    subcommands: Vec<(String, FlagSet)>,
}

impl FlagSet {
    /// A level with these long flags, of which `bools` may be given bare.
    pub fn new(long: &[&str], bools: &[&str]) -> Self {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        FlagSet {
            long: own(long),
            bools: own(bools),
            switches: own(&["help", "version"]),
            subcommands: Vec::new(),
        }
    }

    /// Adds a subcommand's flags.
    pub fn with_subcommand(mut self, name: &str, flags: FlagSet) -> Self {
        self.subcommands.push((name.to_owned(), flags));
        self
    }

    /// The flags clap's `cmd` declares, recursively. clap adds `--help` and `--version` when
    /// it builds the command; Go's flag package takes `-help` (and our `-version`) too.
    pub fn of(cmd: &clap::Command) -> Self {
        let mut long: Vec<String> = cmd
            .get_arguments()
            .filter_map(|a| a.get_long())
            .map(str::to_owned)
            .collect();
        long.extend(["help", "version"].map(str::to_owned));
        let (mut switches, mut bools) = (Vec::new(), Vec::new());
        for arg in cmd.get_arguments() {
            let Some(name) = arg.get_long() else { continue };
            // A flag whose value count starts at 0 (`num_args = 0..=1`) takes an optional
            // value; a plain `SetTrue` switch takes none.
            if arg
                .get_num_args()
                .is_some_and(|r| r.min_values() == 0 && r.max_values() > 0)
            {
                bools.push(name.to_owned());
            } else if matches!(
                arg.get_action(),
                clap::ArgAction::SetTrue | clap::ArgAction::SetFalse | clap::ArgAction::Count
            ) {
                switches.push(name.to_owned());
            }
        }
        switches.extend(["help", "version"].map(str::to_owned));
        FlagSet {
            long,
            bools,
            switches,
            subcommands: cmd
                .get_subcommands()
                .map(|sub| (sub.get_name().to_owned(), FlagSet::of(sub)))
                .collect(),
        }
    }

    fn subcommand(&self, name: &str) -> Option<&FlagSet> {
        self.subcommands
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f)
    }
}

/// Rewrites Go-style flags into clap's syntax:
/// * `-name`, `-name=v` → `--name`, `--name=v` when `name` is a long flag of the command level
///   being read (single-dash long options; unknown ones are left alone so clap rejects them
///   with exit status 2); a subcommand's name switches to its own flags;
/// * a bool flag given as `--name false`/`true`? No: Go reads `-flag false` as the flag
///   followed by a positional argument, so bool flags are only rewritten to `--name=true`
///   when bare, which is what clap's `require_equals` bool flags expect.
///
/// Everything after a bare `--` is left untouched.
pub fn normalize_go_flags<I, S>(args: I, flags: &FlagSet) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out = Vec::new();
    let mut iter = args.into_iter().map(Into::into);
    if let Some(argv0) = iter.next() {
        out.push(argv0);
    }
    let mut level = flags;
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
            // subcommands take their own flags, so keep going, with the subcommand's.
            if let Some(sub) = level.subcommand(&arg) {
                level = sub;
            }
            out.push(arg);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if !level.long.iter().any(|l| l == name) {
            out.push(arg);
            continue;
        }
        match value {
            Some(v) => out.push(format!("--{name}={v}")),
            None if level.switches.iter().any(|b| b == name) => out.push(format!("--{name}")),
            None if level.bools.iter().any(|b| b == name) => out.push(format!("--{name}=true")),
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
        normalize_go_flags(args.iter().copied(), &FlagSet::new(LONG, BOOLS))
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
    fn a_subcommand_reads_its_own_flags() {
        let flags = FlagSet::new(LONG, BOOLS)
            .with_subcommand("plan", FlagSet::new(&["config", "output"], &[]))
            .with_subcommand("check-config", {
                let mut f = FlagSet::new(&["allow-empty"], &[]);
                f.switches.push("allow-empty".into());
                f
            });
        let norm = |args: &[&str]| normalize_go_flags(args.iter().copied(), &flags);
        assert_eq!(
            norm(&["c", "plan", "-output=json", "-config", "-"]),
            ["c", "plan", "--output=json", "--config", "-"]
        );
        // `output` is plan's, not the top level's; `port` is the top level's, not plan's.
        assert_eq!(norm(&["c", "-output=json"]), ["c", "-output=json"]);
        assert_eq!(norm(&["c", "plan", "-port=1"]), ["c", "plan", "-port=1"]);
        // A switch stays bare: clap's SetTrue takes no value.
        assert_eq!(
            norm(&["c", "check-config", "-allow-empty", "-"]),
            ["c", "check-config", "--allow-empty", "-"]
        );
    }

    #[test]
    fn flags_are_read_from_clap() {
        #[derive(clap::Parser)]
        struct Top {
            #[arg(long, value_parser = parse_go_bool, require_equals = true, num_args = 0..=1, default_missing_value = "true")]
            debug: bool,
            #[command(subcommand)]
            cmd: Option<Sub>,
        }
        #[derive(clap::Subcommand)]
        enum Sub {
            Plan {
                #[arg(long)]
                output: String,
                #[arg(long)]
                quiet: bool,
            },
        }
        let flags = FlagSet::of(&<Top as clap::CommandFactory>::command());
        assert_eq!(
            normalize_go_flags(["c", "-debug", "plan", "-quiet", "-output", "json"], &flags),
            ["c", "--debug=true", "plan", "--quiet", "--output", "json"]
        );
        let (parsed, _) = go_args_from::<Top>(
            ["c", "-debug", "plan", "-quiet", "-output=json"].map(String::from),
        )
        .expect("Go syntax parses");
        assert!(parsed.debug);
        match parsed.cmd {
            Some(Sub::Plan { output, quiet }) => {
                assert_eq!((output.as_str(), quiet), ("json", true))
            }
            None => panic!("plan subcommand not parsed"),
        }
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
            normalize_go_flags(["c", "-version"], &FlagSet::new(&["version"], &[])),
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
    let flags = FlagSet::of(&T::command());
    let matches = T::command().try_get_matches_from(normalize_go_flags(argv, &flags))?;
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
