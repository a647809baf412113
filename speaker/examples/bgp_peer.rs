//! Lab entry point: runs this host's BGP sessions with [`speaker::bgp::BgpSpeaker`] exactly
//! as the speaker does, with peers and routes from the command line instead of a cluster.
//! Used by `scripts/lab/bgp.sh` and `scripts/bench/bgp.sh`; not part of the speaker's
//! interface.
//!
//! ```text
//! bgp_peer --node NAME [--hold-time 9s]
//!          --peer ADDR/PEER_ASN/MY_ASN[/PASSWORD][,src=IP][,port=N][,hold=DUR][,router-id=IP]...
//!          [--route PREFIX[,lp=N][,c=A:B]...]... [--range FIRST COUNT] [--routes-file PATH]
//! ```
//!
//! Peers are turned into a `peers:` ConfigMap section and parsed by the real parser. Logs are
//! MetalLB's JSON lines on stdout (`"event":"sessionUp"` …). Signals: SIGHUP re-reads
//! `--routes-file` (one route spec per line, `#` comments) and advertises that plus the
//! command-line routes (so it also undoes SIGUSR1); SIGUSR1 withdraws everything;
//! SIGTERM/SIGINT close the sessions and print the metrics.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Parser;
use common::bgp::{DesiredRoutes, Prefix, RouteAttrs, diff};
use common::config::{Community, Labels, Mode, parse};
use ipnet::IpNet;
use kube_shell::metrics::{Bgp, render};
use prometheus::Registry;
use speaker::bgp::BgpSpeaker;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
struct Args {
    /// This node's name (router ID fallback).
    #[arg(long)]
    node: String,
    /// Default hold time of every peer (Go duration).
    #[arg(long, default_value = "90s")]
    hold_time: String,
    /// ADDR/PEER_ASN/MY_ASN[/PASSWORD] followed by optional ,src=IP ,port=N ,hold=DUR ,router-id=IP
    #[arg(long = "peer", required = true)]
    peers: Vec<String>,
    /// PREFIX[,lp=LOCALPREF][,c=A:B]...
    #[arg(long = "route")]
    routes: Vec<String>,
    /// Also advertise COUNT consecutive host routes (/32 or /128) starting at FIRST.
    #[arg(long, num_args = 2, value_names = ["FIRST", "COUNT"])]
    range: Vec<String>,
    /// Route specs, one per line, re-read on SIGHUP.
    #[arg(long)]
    routes_file: Option<PathBuf>,
}

/// The `peers:` YAML for the specs.
fn peers_yaml(specs: &[String], hold_time: &str) -> anyhow::Result<String> {
    let mut yaml = String::from("peers:\n");
    for spec in specs {
        let mut parts = spec.split(',');
        let head = parts.next().unwrap_or_default();
        let mut fields: Vec<&str> = head.splitn(4, '/').collect();
        if fields.len() < 3 {
            bail!("peer {spec:?}: want ADDR/PEER_ASN/MY_ASN[/PASSWORD]");
        }
        let password = if fields.len() == 4 {
            fields.pop()
        } else {
            None
        };
        let (addr, peer_asn, my_asn) = (fields[0], fields[1], fields[2]);
        yaml +=
            &format!("- peer-address: \"{addr}\"\n  peer-asn: {peer_asn}\n  my-asn: {my_asn}\n");
        let mut hold = hold_time.to_owned();
        for opt in parts {
            let (key, value) = opt
                .split_once('=')
                .with_context(|| format!("peer option {opt:?}"))?;
            match key {
                "src" => yaml += &format!("  source-address: \"{value}\"\n"),
                "port" => yaml += &format!("  peer-port: {value}\n"),
                "router-id" => yaml += &format!("  router-id: \"{value}\"\n"),
                "hold" => hold = value.to_owned(),
                _ => bail!("unknown peer option {key:?}"),
            }
        }
        yaml += &format!("  hold-time: \"{hold}\"\n");
        if let Some(pw) = password {
            yaml += &format!("  password: {}\n", serde_json::to_string(pw)?);
        }
    }
    Ok(yaml)
}

fn route(spec: &str) -> anyhow::Result<(Prefix, RouteAttrs)> {
    let mut parts = spec.split(',');
    let net: IpNet = parts
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("route {spec:?}"))?;
    let mut local_pref = 0;
    let mut communities = Vec::new();
    for opt in parts {
        match opt.split_once('=') {
            Some(("lp", v)) => local_pref = v.parse().context("lp")?,
            Some(("c", v)) => {
                communities.push(Community::parse(v).map_err(|e| anyhow::anyhow!("{e}"))?)
            }
            _ => bail!("route option {opt:?}"),
        }
    }
    Ok((Prefix::new(net), RouteAttrs::new(local_pref, communities)?))
}

fn host_range(range: &[String]) -> anyhow::Result<DesiredRoutes> {
    let [first, count] = range else {
        return Ok(DesiredRoutes::new());
    };
    let first: IpAddr = first.parse().context("--range FIRST")?;
    let count: u32 = count.parse().context("--range COUNT")?;
    Ok((0..count)
        .map(|i| {
            let ip = match first {
                IpAddr::V4(v4) => IpAddr::V4(u32::from(v4).wrapping_add(i).into()),
                IpAddr::V6(v6) => IpAddr::V6(u128::from(v6).wrapping_add(u128::from(i)).into()),
            };
            (Prefix::host(ip), RouteAttrs::default())
        })
        .collect())
}

fn all_routes(args: &Args) -> anyhow::Result<DesiredRoutes> {
    let mut routes = host_range(&args.range)?;
    for spec in &args.routes {
        let (p, a) = route(spec)?;
        routes.insert(p, a);
    }
    if let Some(path) = &args.routes_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (p, a) = route(line)?;
            routes.insert(p, a);
        }
    }
    Ok(routes)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .event_format(kube_shell::logfmt::MetalLbJson)
        .with_writer(std::io::stdout)
        .init();
    let args = Args::parse();
    let config = parse(
        &peers_yaml(&args.peers, &args.hold_time)?,
        Mode::NativeSpeaker,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let routes = all_routes(&args)?;
    let registry = Registry::new();
    let mut speaker = BgpSpeaker::new(args.node.clone(), Bgp::new(&registry)?);
    let count = routes.len();
    let mut current = routes;
    speaker.set_peers(config.peers, &Labels::new(), &|| current.clone());
    println!("ready peers={} routes={count}", args.peers.len());
    // The speaker takes changes: each new set is handed off as its difference to the last.
    let mut hand_off = |speaker: &mut BgpSpeaker, new: DesiredRoutes| {
        speaker.apply_changes(diff(&current, &new));
        current = new;
    };

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => match all_routes(&args) {
                Ok(r) => {
                    println!("routes {}", r.len());
                    hand_off(&mut speaker, r);
                }
                Err(e) => eprintln!("reloading routes: {e:#}"),
            },
            _ = usr1.recv() => {
                println!("routes 0");
                hand_off(&mut speaker, DesiredRoutes::new());
            }
        }
    }
    let text = render(&registry);
    speaker.shutdown().await;
    print!("{text}");
    Ok(())
}
