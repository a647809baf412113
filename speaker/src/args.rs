//! The speaker's command line: upstream v0.12.1's flags and env vars (spec §5.1), plus
//! offline subcommands.

use clap::{Parser, Subcommand};
use common::cli::{CommonArgs, parse_go_bool};

#[derive(Debug, Parser)]
#[command(
    name = "speaker",
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
    /// memberlist failure detection in about 0.5 s instead of ~5 s (probe every 100 ms):
    /// for clusters whose speakers are all metallb-rs. Upstream speakers gossip every 200 ms
    /// and may be declared dead wrongly under this profile, so leave it off while migrating.
    #[arg(long = "ml-fast", env = "METALLB_ML_FAST", value_parser = parse_go_bool, default_value = "false", require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub ml_fast: bool,
    /// Resend gratuitous ARP/NA for every owned IP this often (Go duration, e.g. `30s`), for
    /// switches whose forwarding tables age out before routers' ARP caches. Off by default,
    /// as upstream.
    #[arg(long = "garp-interval", default_value = "")]
    pub garp_interval: String,
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
    CheckConfig { path: String },
}

impl Args {
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
