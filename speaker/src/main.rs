//! metallb-rs speaker.

mod args;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context as _;
use common::config::Mode;
use speaker::l2::{Layer2, Layer2Config};
use speaker::run::{Membership, Metrics, Settings, Speaker, layer2_stats};

use args::{Args, Command};

/// The manifests' speaker pod labels, used to find live speakers when `--ml-labels` is unset.
const DEFAULT_SPEAKER_LABELS: &str = "app=metallb,component=speaker";

fn main() -> ExitCode {
    let (args, matches): (Args, _) = kube_shell::cli::parse_go_args_with_matches();
    let level = match args.common.level() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    if let Some(Command::CheckConfig { path, allow_empty }) = &args.command {
        return ExitCode::from(kube_shell::offline::check_config_main(
            path,
            Mode::NativeSpeaker,
            *allow_empty,
        ));
    }
    let election = match args.election(&matches) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    if let Some(Command::ElectionKey) = &args.command {
        kube_shell::offline::print_stdout(&format!(
            "{} ({})\n",
            election.key,
            election.source.explain()
        ));
        return ExitCode::SUCCESS;
    }
    if !matches!(args.bgp_type.as_str(), "" | "native") {
        eprintln!(
            "unsupported BGP implementation type {:?}: this speaker is native-only",
            args.bgp_type
        );
        return ExitCode::from(1);
    }
    let Some(node) = args.node_name.clone().filter(|n| !n.is_empty()) else {
        eprintln!("must specify --node-name or METALLB_NODE_NAME");
        return ExitCode::from(1);
    };
    speaker::tune_allocator(); // before the runtime starts its threads
    kube_shell::logfmt::install(level);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "metallb-rs speaker starting version {} (MetalLB v0.12 compatible)",
        env!("CARGO_PKG_VERSION")
    );
    tracing::info!(
        op = "startup",
        electionKey = election.key.as_str(),
        source = election.source.as_str(),
        "Layer 2 owners elected by {}: {}",
        election.key,
        election.source.explain()
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args, node, election)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "speaker failed");
            ExitCode::from(1)
        }
    }
}

async fn run(
    args: Args,
    node: String,
    election: common::l2::election_key::KeyChoice,
) -> anyhow::Result<()> {
    let namespace = args.common.namespace().map_err(anyhow::Error::msg)?;
    let client = kube_shell::client::connect(args.common.kubeconfig.as_deref()).await?;

    let exposition = kube_shell::metrics::Exposition::default();
    let registry = &exposition.registry;
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    let metrics = Metrics {
        k8s: kube_shell::metrics::K8sClient::new(registry)?,
        announced: kube_shell::metrics::Announced::new(&exposition, &node),
        forbidden: kube_shell::Forbidden::new(registry)?,
    };
    let layer2_metrics = kube_shell::metrics::Layer2::new(&exposition);
    let bgp = speaker::bgp::BgpSpeaker::new(node.clone(), kube_shell::metrics::Bgp::new(registry)?);
    // Upstream serves on `host:port`: with METALLB_HOST (the node's IP, in the manifests) that
    // address alone, otherwise every address of both families as Go's `:port` does.
    let listener = if args.host.is_empty() {
        kube_shell::bind_dual_stack(args.common.port)
    } else {
        let host: IpAddr = args
            .host
            .parse()
            .with_context(|| format!("invalid --host {:?}", args.host))?;
        std::net::TcpListener::bind(SocketAddr::new(host, args.common.port)).and_then(|l| {
            l.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(l)
        })
    }
    .with_context(|| format!("binding the metrics port {}", args.common.port))?;
    let http_metrics = exposition.clone();
    let board = speaker::status::Board::new(&node);
    let http_board = board.clone();
    tokio::spawn(async move {
        if let Err(e) = speaker::http::serve(listener, http_metrics, http_board).await {
            tracing::error!(op = "serveMetrics", error = %e, "metrics endpoint failed");
        }
    });

    let garp_interval = args.garp_interval().map_err(anyhow::Error::msg)?;
    let layer2_config = Layer2Config {
        garp_interval,
        garp_pace: args.garp_pace(),
    };
    let layer2 = Layer2::start(layer2_config, layer2_stats(layer2_metrics))
        .await
        .context("starting the Layer 2 announcer")?;
    let speaker_labels = if args.ml_labels.is_empty() {
        DEFAULT_SPEAKER_LABELS.to_owned()
    } else {
        args.ml_labels.clone()
    };
    let memberlist_port: u16 = if args.ml_bindport.is_empty() {
        7946
    } else {
        args.ml_bindport
            .parse()
            .with_context(|| format!("invalid memberlist port {:?}", args.ml_bindport))?
    };
    // Before memberlist binds the port (a failure is then posted on the Node before the
    // start fails below).
    let memberlist_bind = memberlist_addr(&args, memberlist_port)?
        .map(|addr| (memberlist_port, speaker::selfcheck::probe_bind(addr)));
    let mut check = speaker::selfcheck::SelfCheck::new(
        node.clone(),
        client.clone(),
        kube_shell::metrics::NodeChecks::new(registry)?,
        board.clone(),
        memberlist_bind,
    );
    check.pass().await;
    tokio::spawn(check.run());
    let membership = start_memberlist(&args, &node, memberlist_port).await?;
    let settings = Settings {
        node,
        namespace,
        config_name: args.common.config.clone(),
        disable_epslices: args.common.disable_epslices,
        speaker_labels,
        memberlist_port,
        election,
    };
    Speaker::new(settings, client, metrics, layer2, membership, bgp)
        .with_status(board)
        .with_config_source(args.common.config_source)
        .run()
        .await
}

/// memberlist's bind address, if it runs (`--ml-bindaddr` and `--ml-labels` set:
/// docs/memberlist.md#when-it-runs).
fn memberlist_addr(args: &Args, port: u16) -> anyhow::Result<Option<SocketAddr>> {
    if args.ml_bindaddr.is_empty() || args.ml_labels.is_empty() {
        return Ok(None);
    }
    let ip: IpAddr = args
        .ml_bindaddr
        .parse()
        .with_context(|| format!("invalid --ml-bindaddr {:?}", args.ml_bindaddr))?;
    Ok(Some(SocketAddr::new(ip, port)))
}

/// memberlist runs iff `--ml-bindaddr` and `--ml-labels` are set
/// (docs/memberlist.md#when-it-runs).
async fn start_memberlist(
    args: &Args,
    node: &str,
    port: u16,
) -> anyhow::Result<Option<Membership>> {
    if args.ml_bindaddr.is_empty() || args.ml_labels.is_empty() {
        tracing::info!(
            op = "startup",
            "not starting fast dead node detection (memberlist), need ml-bindaddr / ml-labels config"
        );
        return Ok(None);
    }
    let ip: IpAddr = args
        .ml_bindaddr
        .parse()
        .with_context(|| format!("invalid --ml-bindaddr {:?}", args.ml_bindaddr))?;
    let bind = SocketAddr::new(ip, port);
    let mut config = common::memberlist::Config {
        profile: args.ml_profile(),
        ..common::memberlist::Config::lan(node, bind)
    };
    tracing::info!(op = "startup", profile = ?config.profile, "memberlist timers (docs/memberlist.md#timers)");
    match common::memberlist::SecretKey::from_metallb_secret(&args.ml_secret_key) {
        Some(key) => config.keyring = Some(common::memberlist::Keyring::new(key)),
        None => tracing::warn!(
            op = "startup",
            "no ml-secret-key set, memberlist traffic will not be encrypted"
        ),
    }
    let (handle, events) = speaker::memberlist::start(config, bind)
        .await
        .context("creating memberlist")?;
    Ok(Some(Membership { handle, events }))
}
