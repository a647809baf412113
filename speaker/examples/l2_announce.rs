//! Lab entry point: announce the given IPs from this host on every usable interface, as if
//! this node had won them all, until SIGTERM/SIGINT. Used by `scripts/lab.sh` and
//! `scripts/bench/l2.sh`; not part of the speaker's interface.
//!
//! `l2_announce [--garp-interval SECS] [--garp-rate N] [--range FIRST COUNT] [--node N --candidates A,B,..] [IP...]`
//!
//! With `--node` and `--candidates`, only the IPs that `N` wins in the Layer 2 election
//! (docs/layer2.md#election) among the candidates are announced, so the lab can run one
//! instance per node with the same list.
//!
//! Prints `ready` on stdout once the responders run, and the counters on exit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use common::l2::election;
use speaker::l2::{Layer2, Layer2Config, Layer2Stats};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
struct Args {
    /// Resend one gratuitous round per IP this often (seconds); off by default.
    #[arg(long)]
    garp_interval: Option<f64>,
    /// Pace gratuitous rounds to N a second (the speaker's `--garp-rate`); unpaced by default,
    /// so that the labs' bursts end as upstream's do.
    #[arg(long)]
    garp_rate: Option<u32>,
    /// Also announce COUNT consecutive addresses starting at FIRST.
    #[arg(long, num_args = 2, value_names = ["FIRST", "COUNT"])]
    range: Vec<String>,
    /// This node's name for the election.
    #[arg(long, requires = "candidates")]
    node: Option<String>,
    /// Comma-separated candidate node names (the memberlist members).
    #[arg(long, value_delimiter = ',', requires = "node")]
    candidates: Vec<String>,
    ips: Vec<IpAddr>,
}

#[derive(Default)]
struct Counting(Mutex<HashMap<IpAddr, [u64; 3]>>);

impl Counting {
    fn bump(&self, ip: IpAddr, which: usize) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.entry(ip).or_default().get_mut(which) {
            *c += 1;
        }
    }
    fn totals(&self) -> [u64; 3] {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.values().fold([0; 3], |acc, c| {
            [acc[0] + c[0], acc[1] + c[1], acc[2] + c[2]]
        })
    }
}

impl Layer2Stats for Counting {
    fn request_received(&self, ip: IpAddr) {
        self.bump(ip, 0);
    }
    fn response_sent(&self, ip: IpAddr) {
        self.bump(ip, 1);
    }
    fn gratuitous_sent(&self, ip: IpAddr) {
        self.bump(ip, 2);
    }
}

fn expand_range(range: &[String]) -> anyhow::Result<Vec<IpAddr>> {
    let [first, count] = range else {
        return Ok(Vec::new());
    };
    let first: IpAddr = first.parse().context("--range FIRST")?;
    let count: u32 = count.parse().context("--range COUNT")?;
    Ok((0..count)
        .map(|i| match first {
            IpAddr::V4(v4) => IpAddr::V4(u32::from(v4).wrapping_add(i).into()),
            IpAddr::V6(v6) => IpAddr::V6(u128::from(v6).wrapping_add(u128::from(i)).into()),
        })
        .collect())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut ips = args.ips.clone();
    ips.extend(expand_range(&args.range)?);
    if let Some(node) = &args.node {
        ips.retain(|ip| {
            let key = election::election_key(*ip);
            election::owner(args.candidates.iter().map(String::as_str), &key) == Some(node.as_str())
        });
    }
    if ips.is_empty() && args.node.is_none() {
        bail!("no IP to announce");
    }
    let garp_interval = args.garp_interval.map(Duration::from_secs_f64);
    let stats = Arc::new(Counting::default());
    let l2 = Layer2::start(
        Layer2Config {
            garp_interval,
            garp_pace: args.garp_rate.map(|rate| common::l2::pace::Pace {
                rate,
                burst: common::l2::pace::DEFAULT_BURST,
            }),
        },
        Arc::clone(&stats) as Arc<dyn Layer2Stats>,
    )
    .await?;
    for (i, ip) in ips.iter().enumerate() {
        l2.set_balancer(&format!("lab/svc-{i}"), vec![*ip]).await?;
    }
    let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
    println!(
        "ready announcing {}",
        if list.len() <= 16 {
            list.join(",")
        } else {
            format!("{} IPs", list.len())
        }
    );

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    l2.shutdown().await;
    let [req, resp, garp] = stats.totals();
    println!("requests_received={req} responses_sent={resp} gratuitous_sent={garp}");
    Ok(())
}
