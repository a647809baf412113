//! The speaker's command line: upstream v0.12.1's flags and env vars, plus offline
//! subcommands (docs/operations.md#speaker-flags).

use clap::parser::ValueSource;
use clap::{ArgMatches, Parser, Subcommand};
use common::l2::election_key::{ElectionKey, KeyChoice};
use kube_shell::cli::{CommonArgs, parse_go_bool};

#[derive(Debug, Parser)]
#[command(
    name = "speaker",
    version,
    about = "metallb-rs speaker: announces LoadBalancer IPs over Layer 2 and BGP (MetalLB v0.12 compatible)"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The node this speaker runs on (required to run).
    #[arg(long = "node-name", env = "METALLB_NODE_NAME")]
    pub node_name: Option<String>,
    /// Address the metrics endpoint listens on (all addresses when empty).
    #[arg(long, env = "METALLB_HOST", default_value = "")]
    pub host: String,
    /// memberlist bind address; memberlist runs when this and --ml-labels are set.
    #[arg(long = "ml-bindaddr", env = "METALLB_ML_BIND_ADDR", default_value = "")]
    pub ml_bindaddr: String,
    /// memberlist port (default 7946).
    #[arg(long = "ml-bindport", env = "METALLB_ML_BIND_PORT", default_value = "")]
    pub ml_bindport: String,
    /// Label selector of the speaker pods to join.
    #[arg(long = "ml-labels", env = "METALLB_ML_LABELS", default_value = "")]
    pub ml_labels: String,
    /// v0.9-era namespace of the speaker pods (superseded by --namespace).
    #[arg(
        long = "ml-namespace",
        env = "METALLB_ML_NAMESPACE",
        default_value = ""
    )]
    pub ml_namespace: String,
    /// memberlist encryption secret; its first 16 bytes are the AES key, as upstream.
    #[arg(
        long = "ml-secret-key",
        env = "METALLB_ML_SECRET_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub ml_secret_key: String,
    /// memberlist timers. Unset (the default): fast failure detection (well under a second)
    /// while every speaker in the cluster runs metallb-rs, upstream's timers (~5 s) as soon as
    /// a Go speaker is a member (docs/memberlist.md#timers). `--ml-fast=false`: upstream's
    /// timers always (and the other metallb-rs speakers then use them too). `--ml-fast`:
    /// the fast timers always, even next to Go speakers.
    #[arg(long = "ml-fast", env = "METALLB_ML_FAST", value_parser = parse_go_bool, require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub ml_fast: Option<bool>,
    /// Resend gratuitous ARP/NA for every owned IP this often (Go duration, e.g. `30s`), for
    /// switches whose forwarding tables age out before routers' ARP caches. Off by default,
    /// as upstream.
    #[arg(long = "garp-interval", default_value = "")]
    pub garp_interval: String,
    /// Gratuitous rounds (one ARP request + reply, or one NA, per interface) sent per second
    /// at most, so that thousands of addresses owned at once do not flood the segment; up to
    /// 100 leave back to back. Every owned address is answered at once whatever the pace.
    /// 0 sends every round when due, as upstream.
    #[arg(long = "garp-rate", default_value_t = common::l2::pace::DEFAULT_RATE)]
    pub garp_rate: u32,
    /// Layer 2 owner election: `ip` (MetalLB v0.11 and later) or `service-name` (v0.8 to
    /// v0.10). Unset: `ip` when --log-level is on the command line (the v0.11+ manifests pass
    /// it), else `service-name`. Set it on every speaker at once.
    #[arg(
        long = "l2-election-key",
        env = "METALLB_L2_ELECTION_KEY",
        default_value = ""
    )]
    pub l2_election_key: String,
    /// `native` (default) or `frr`; only the native speaker is built in.
    #[arg(skip = std::env::var("METALLB_BGP_TYPE").unwrap_or_default())]
    pub bgp_type: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a ConfigMap manifest or config document as the native speaker would (FRR-only
    /// keys rejected) and print the normalised config as JSON (exit 0), or the error (exit 1).
    /// PATH may be `-` for stdin.
    CheckConfig {
        path: String,
        /// Accept an input with no config in it (empty, or a ConfigMap without
        /// `data.config`) as the empty config, as the cluster would load it.
        #[arg(long = "allow-empty")]
        allow_empty: bool,
    },
    /// Print the Layer 2 election key this command line and environment select, and why
    /// (as the speaker logs it at start-up), then exit.
    ElectionKey,
}

impl Args {
    /// The Layer 2 election key: `--l2-election-key`/`METALLB_L2_ELECTION_KEY` when set, else
    /// detected from whether `--log-level` was given on the command line (`matches` are the
    /// ones `self` was parsed from).
    pub fn election(&self, matches: &ArgMatches) -> Result<KeyChoice, String> {
        let setting = match self.l2_election_key.as_str() {
            "" => None,
            s => Some(s.parse::<ElectionKey>()?),
        };
        let log_level_given = matches.value_source("log_level") == Some(ValueSource::CommandLine);
        Ok(KeyChoice::choose(setting, log_level_given))
    }

    /// The memberlist timer profile `--ml-fast` selects (docs/memberlist.md#timers).
    pub fn ml_profile(&self) -> common::memberlist::Profile {
        use common::memberlist::Profile;
        match self.ml_fast {
            None => Profile::Auto,
            Some(true) => Profile::Fast,
            Some(false) => Profile::Upstream,
        }
    }

    /// `--garp-rate` as the announcer's pace (`None`: unpaced).
    pub fn garp_pace(&self) -> Option<common::l2::pace::Pace> {
        (self.garp_rate > 0).then_some(common::l2::pace::Pace {
            rate: self.garp_rate,
            burst: common::l2::pace::DEFAULT_BURST,
        })
    }

    /// `--garp-interval` as a duration (`None`: off).
    pub fn garp_interval(&self) -> Result<Option<std::time::Duration>, String> {
        if self.garp_interval.is_empty() {
            return Ok(None);
        }
        let ns = common::config::parse_go_duration(&self.garp_interval)
            .map_err(|e| format!("invalid --garp-interval {:?}: {e}", self.garp_interval))?;
        match u64::try_from(ns) {
            Ok(0) => Ok(None),
            Ok(ns) => Ok(Some(std::time::Duration::from_nanos(ns))),
            Err(_) => Err(format!(
                "invalid --garp-interval {:?}: must not be negative",
                self.garp_interval
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::l2::election_key::{KeySource, RELEASE_ARGS};

    fn parse(args: &[&str]) -> Result<KeyChoice, String> {
        let argv = std::iter::once("speaker")
            .chain(args.iter().copied())
            .map(str::to_owned);
        let (parsed, matches) =
            kube_shell::cli::go_args_from::<Args>(argv).map_err(|e| e.to_string())?;
        parsed.election(&matches)
    }

    fn pace(args: &[&str]) -> Option<common::l2::pace::Pace> {
        let argv = std::iter::once("speaker")
            .chain(args.iter().copied())
            .map(str::to_owned);
        let (parsed, _) = kube_shell::cli::go_args_from::<Args>(argv).expect("valid");
        parsed.garp_pace()
    }

    #[test]
    fn gratuitous_rounds_are_paced_unless_the_rate_is_zero() {
        let default = common::l2::pace::Pace::default();
        assert_eq!(pace(&[]), Some(default));
        assert_eq!(
            pace(&["--garp-rate=50"]),
            Some(common::l2::pace::Pace {
                rate: 50,
                ..default
            })
        );
        assert_eq!(pace(&["--garp-rate", "0"]), None);
    }

    #[test]
    fn ml_fast_unset_is_auto_and_either_value_forces_a_profile() {
        use common::memberlist::Profile;
        if std::env::var_os("METALLB_ML_FAST").is_some() {
            return; // the setting would win
        }
        let profile = |args: &[&str]| {
            let argv = std::iter::once("speaker")
                .chain(args.iter().copied())
                .map(str::to_owned);
            let (parsed, _) = kube_shell::cli::go_args_from::<Args>(argv).expect("valid args");
            parsed.ml_profile()
        };
        assert_eq!(profile(&[]), Profile::Auto);
        assert_eq!(profile(&["--ml-fast"]), Profile::Fast);
        assert_eq!(profile(&["--ml-fast=true"]), Profile::Fast);
        assert_eq!(profile(&["-ml-fast=false"]), Profile::Upstream);
        assert_eq!(profile(&["--ml-fast=0"]), Profile::Upstream);
    }

    #[test]
    fn each_release_manifest_selects_its_release_rule() {
        if std::env::var_os("METALLB_L2_ELECTION_KEY").is_some() {
            return; // the setting would win; the binary tests cover it
        }
        for r in RELEASE_ARGS {
            let choice = parse(r.args).expect("the manifest's args parse");
            assert_eq!(choice.key, r.key, "{}", r.release);
            assert_ne!(choice.source, KeySource::Setting, "{}", r.release);
        }
    }

    #[test]
    fn go_syntax_and_the_setting() {
        if std::env::var_os("METALLB_L2_ELECTION_KEY").is_some() {
            return;
        }
        assert_eq!(
            parse(&["-log-level", "debug"]).map(|c| c.key),
            Ok(ElectionKey::FirstIp)
        );
        assert_eq!(
            parse(&["-log-level=info"]).map(|c| c.key),
            Ok(ElectionKey::FirstIp)
        );
        assert_eq!(
            parse(&["-port=7472"]).map(|c| c.key),
            Ok(ElectionKey::ServiceName)
        );
        let set = parse(&["--log-level=info", "-l2-election-key=service-name"]).expect("valid");
        assert_eq!(
            (set.key, set.source),
            (ElectionKey::ServiceName, KeySource::Setting)
        );
        let set = parse(&["--l2-election-key", "ip"]).expect("valid");
        assert_eq!(
            (set.key, set.source),
            (ElectionKey::FirstIp, KeySource::Setting)
        );
        let err = parse(&["--l2-election-key=name"]).expect_err("not a key");
        assert!(err.contains("service-name"), "{err}");
    }
}
