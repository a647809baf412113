//! The controller's command line: upstream v0.12.1's flags and env vars (spec §5.1), plus
//! offline subcommands.

use clap::{Parser, Subcommand};
use common::cli::{LogLevel, parse_go_bool};

/// Flags accepted in Go syntax (`-name`, `-name=value`); see `common::cli`.
pub const LONG_FLAGS: &[&str] = &[
    "port",
    "config",
    "namespace",
    "kubeconfig",
    "ml-secret-name",
    "deployment",
    "log-level",
    "disable-epslices",
    "enable-pprof",
];
pub const BOOL_FLAGS: &[&str] = &["disable-epslices", "enable-pprof"];

#[derive(Debug, Parser)]
#[command(
    name = "controller",
    about = "metallb-rs controller: allocates LoadBalancer IPs (MetalLB v0.12 compatible)"
)]
pub struct Args {
    /// Port of the Prometheus /metrics endpoint.
    #[arg(long, default_value_t = 7472)]
    pub port: u16,
    /// Name of the ConfigMap holding the `config` document.
    #[arg(long, default_value = "config")]
    pub config: String,
    /// Namespace of the ConfigMap and the memberlist Secret (default: the service account's).
    #[arg(long, env = "METALLB_NAMESPACE")]
    pub namespace: Option<String>,
    /// Path to a kubeconfig; in-cluster configuration when unset.
    #[arg(long)]
    pub kubeconfig: Option<String>,
    /// Create this Secret for memberlist when missing.
    #[arg(long = "ml-secret-name", env = "METALLB_ML_SECRET_NAME")]
    pub ml_secret_name: Option<String>,
    /// The controller's own Deployment (owner of the memberlist Secret).
    #[arg(long, env = "METALLB_DEPLOYMENT")]
    pub deployment: Option<String>,
    /// all, debug, info, warn, error or none.
    #[arg(long = "log-level", default_value = "info")]
    pub log_level: String,
    /// Accepted for compatibility; the controller does not read endpoints.
    #[arg(long = "disable-epslices", value_parser = parse_go_bool, default_value = "false", require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub disable_epslices: bool,
    /// Accepted for compatibility.
    #[arg(long = "enable-pprof", value_parser = parse_go_bool, default_value = "false", require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub enable_pprof: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a ConfigMap manifest or config document as the controller would and print the
    /// normalised config as JSON (exit 0), or the error (exit 1). PATH may be `-` for stdin.
    CheckConfig { path: String },
    /// Show what the controller would do to every LoadBalancer service after an image swap:
    /// replays a restart (existing statuses first, then the rest in input order) and prints,
    /// per service, current and planned IPs, the action and the reason.
    Plan {
        /// The ConfigMap manifest (or bare config document).
        #[arg(long)]
        config: String,
        /// `kubectl get svc -A -o yaml` output, or multi-document Service YAML.
        #[arg(long)]
        services: String,
        /// `table` or `json`.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        output: String,
    },
}

impl Args {
    /// The validated log level (upstream exits 1 on an unknown one).
    pub fn level(&self) -> Result<LogLevel, String> {
        self.log_level.parse()
    }
}
