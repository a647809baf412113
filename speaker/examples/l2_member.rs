//! Lab entry point: one speaker-like node without Kubernetes, for `scripts/lab/failover.sh`
//! and `scripts/bench/failover.sh`. It runs the speaker's own parts end to end — the
//! memberlist shell, `common::speaker::decide` (the Layer 2 election over the live members,
//! docs/layer2.md#election) with `Announcements`, the Layer 2 announcer, and the SIGTERM path
//! of the speaker (`speaker::stop::leave_and_drain`) — for a fixed set of VIPs, each a
//! `Cluster`-policy service with a ready endpoint. Not part of the speaker's interface.
//!
//! `l2_member --node N --bind IP:PORT [--join IP:PORT ...] [--ml-fast[=BOOL]] [--upstream-stop] VIP...`
//!
//! Prints `STATE <unix ms> members=<a,b> owned=<ips>` whenever membership or the owned set
//! changes, and `DRAINED <unix ms> handed_over=<n> unclaimed=<n>` after a graceful stop.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Parser;
use common::config::{Config, Mode, Protocol};
use common::speaker::{Announcements, Change, Cluster, Endpoint, SpeakerService, decide};
use speaker::l2::{Layer2, Layer2Config, NoStats};
use speaker::memberlist::{self, Handle, Notification};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
struct Args {
    /// Node name (memberlist name and election candidate).
    #[arg(long)]
    node: String,
    /// memberlist bind and advertise address.
    #[arg(long)]
    bind: SocketAddr,
    /// Peers to join, re-joined while not members (the speaker's listed pod IPs).
    #[arg(long)]
    join: Vec<SocketAddr>,
    /// memberlist timers as the speaker's `--ml-fast`: unset picks them (fast while every
    /// member runs metallb-rs), `true` forces the fast ones, `false` upstream's.
    #[arg(long, require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    ml_fast: Option<bool>,
    /// On SIGTERM, do what upstream does (`Leave(1s)`, then stop answering) instead of the
    /// speaker's drain: the reference for the benchmark.
    #[arg(long)]
    upstream_stop: bool,
    /// The service IPs, one service each.
    #[arg(required = true)]
    vips: Vec<IpAddr>,
}

struct Node {
    name: String,
    config: Config,
    services: Vec<(String, Vec<Option<String>>)>,
    endpoints: Vec<Endpoint>,
    announcements: Announcements,
    layer2: Layer2,
    handle: Handle,
    last: String,
}

impl Node {
    /// The speaker's reconcile for every service, with the members as the live speakers.
    async fn reconcile(&mut self) -> anyhow::Result<()> {
        let live: BTreeSet<String> = self.handle.members().into_iter().map(|m| m.name).collect();
        let excluded = BTreeSet::new();
        let cluster = Cluster {
            node: &self.name,
            config: Some(&self.config),
            live: common::speaker::Live::Known(&live),
            excluded: &excluded,
            election: common::l2::election::ElectionKey::FirstIp,
        };
        let mut changes = Vec::new();
        for (key, ingress) in &self.services {
            let svc = SpeakerService {
                key,
                is_load_balancer: true,
                ingress,
                local: false,
                endpoints: Some(&self.endpoints),
                shared_with: &[],
            };
            changes.extend(self.announcements.apply(key, &decide(&svc, &cluster)));
        }
        for change in changes {
            match change {
                Change::Announce {
                    key,
                    protocol: Protocol::Layer2,
                    ips,
                } => {
                    self.layer2.set_balancer(&key, ips).await?;
                }
                Change::Withdraw {
                    key,
                    protocol: Protocol::Layer2,
                    ..
                } => {
                    self.layer2.delete_balancer(&key).await?;
                }
                _ => {}
            }
        }
        let members: Vec<String> = live.into_iter().collect();
        let owned: BTreeSet<String> = self
            .announcements
            .iter()
            .flat_map(|(_, _, ips)| ips.iter().map(ToString::to_string))
            .collect();
        let line = format!(
            "members={} owned={}",
            members.join(","),
            owned.into_iter().collect::<Vec<_>>().join(",")
        );
        if line != self.last {
            println!("STATE {} {line}", unix_ms());
            self.last = line;
        }
        Ok(())
    }
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// A layer 2 pool holding exactly the VIPs.
fn lab_config(vips: &[IpAddr]) -> anyhow::Result<Config> {
    let addresses: Vec<String> = vips
        .iter()
        .map(|ip| match ip {
            IpAddr::V4(_) => format!("    - {ip}/32"),
            IpAddr::V6(_) => format!("    - {ip}/128"),
        })
        .collect();
    let text = format!(
        "address-pools:\n- name: lab\n  protocol: layer2\n  addresses:\n{}\n",
        addresses.join("\n")
    );
    common::config::parse(&text, Mode::NativeSpeaker).context("lab config")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = lab_config(&args.vips)?;
    let layer2 = Layer2::start(Layer2Config::default(), Arc::new(NoStats)).await?;
    let profile = match args.ml_fast {
        None => common::memberlist::Profile::Auto,
        Some(true) => common::memberlist::Profile::Fast,
        Some(false) => common::memberlist::Profile::Upstream,
    };
    let ml = common::memberlist::Config {
        profile,
        ..common::memberlist::Config::lan(args.node.clone(), args.bind)
    };
    let (handle, mut events) = memberlist::start(ml, args.bind).await?;
    let services = args
        .vips
        .iter()
        .enumerate()
        .map(|(i, ip)| (format!("lab/vip-{i}"), vec![Some(ip.to_string())]))
        .collect();
    let mut node = Node {
        name: args.node.clone(),
        config,
        services,
        // The backend runs somewhere; with Cluster policy only the members decide.
        endpoints: vec![Endpoint {
            addr: "10.0.0.1".into(),
            node: Some(args.node.clone()),
            ready: true,
        }],
        announcements: Announcements::default(),
        layer2,
        handle,
        last: String::new(),
    };
    node.reconcile().await?;
    node.handle.set_peers(args.join.clone()).await;
    println!("ready {}", args.node);

    let mut term = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            Some(n) = events.recv() => {
                if let Notification::JoinFinished(peer, Err(e)) = n {
                    eprintln!("join {peer} failed: {e}");
                }
                node.reconcile().await?;
            }
            _ = term.recv() => break,
        }
    }
    if args.upstream_stop {
        node.handle.leave(Duration::from_secs(1)).await;
        node.layer2.shutdown().await;
        println!("STOPPED {}", unix_ms());
        return Ok(());
    }
    let report =
        speaker::stop::leave_and_drain(Some(node.handle), node.layer2, speaker::stop::DRAIN_GRACE)
            .await;
    println!(
        "DRAINED {} handed_over={} unclaimed={}",
        unix_ms(),
        report.handed_over.len(),
        report.unclaimed.len()
    );
    Ok(())
}
