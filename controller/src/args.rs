//! The controller's command line: upstream v0.12.1's flags and env vars
//! (docs/operations.md#controller-flags), in Go's flag syntax too, plus offline subcommands.

use clap::{Parser, Subcommand};
use kube_shell::cli::CommonArgs;

#[derive(Debug, Parser)]
#[command(
    name = "controller",
    version,
    about = "metallb-rs controller: allocates LoadBalancer IPs (MetalLB v0.12 compatible)"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Create this Secret for memberlist when missing.
    #[arg(long = "ml-secret-name", env = "METALLB_ML_SECRET_NAME")]
    pub ml_secret_name: Option<String>,
    /// The controller's own Deployment (owner of the memberlist Secret).
    #[arg(long, env = "METALLB_DEPLOYMENT")]
    pub deployment: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a ConfigMap manifest or config document as the controller would and print the
    /// normalised config as JSON (exit 0), or the error (exit 1). PATH may be `-` for stdin.
    CheckConfig {
        path: String,
        /// Accept an input with no config in it (empty, or a ConfigMap without
        /// `data.config`) as the empty config, as the cluster would load it.
        #[arg(long = "allow-empty")]
        allow_empty: bool,
    },
    /// Print the MetalLB v0.13 objects (IPAddressPool, L2Advertisement, BGPAdvertisement,
    /// BGPPeer, Community, BFDProfile) equivalent to a ConfigMap manifest or config document,
    /// as multi-document YAML for `kubectl apply -f -` (docs/crd.md#converting-a-configmap).
    /// Exit 1 when the config is invalid or cannot be said with the objects, 2 when the input
    /// cannot be read or is not a ConfigMap.
    Convert {
        /// The ConfigMap manifest or bare config document; `-` is standard input.
        #[arg(long, default_value = "-")]
        config: String,
    },
    /// Show what the controller would do to every LoadBalancer service after an image swap:
    /// replays a restart with the controller's own reconciler (existing statuses first, then the
    /// rest, in namespace/name order, as the live loop) and prints,
    /// per service, current and planned IPs, the action and the reason.
    Plan {
        /// The ConfigMap manifest (or bare config document); `-` reads stdin.
        #[arg(long)]
        config: String,
        /// `kubectl get svc -A -o yaml` output, or multi-document Service YAML; `-` reads
        /// stdin.
        #[arg(long)]
        services: String,
        /// `table` or `json`.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        output: String,
    },
}
