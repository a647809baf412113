//! One memberlist node on real sockets, for interoperability tests against Go memberlist
//! (`scripts/memberlist-interop.sh`). It prints `MEMBERS a,b,…` (sorted) whenever the member
//! list changes, `EVENT join|leave|update <name>` per event and `TIMERS fast|upstream` when
//! the timers in force change (docs/memberlist.md#timers), and leaves gracefully (1 s, as
//! MetalLB) on SIGTERM or SIGINT.

use clap::Parser;
use common::memberlist::{Config, Event, Keyring, Profile, SecretKey};
use speaker::memberlist::{self, Notification};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
struct Args {
    /// Node name.
    #[arg(long)]
    name: String,
    /// Address to bind and advertise.
    #[arg(long)]
    bind: SocketAddr,
    /// Peers to join at start.
    #[arg(long)]
    join: Vec<SocketAddr>,
    /// MetalLB memberlist secret (METALLB_ML_SECRET_KEY); empty disables encryption.
    #[arg(long, default_value = "")]
    secret: String,
    /// memberlist timers as the speaker's `--ml-fast`: unset picks them (fast while every
    /// member runs metallb-rs), `true` forces the fast ones, `false` upstream's.
    #[arg(long, require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    ml_fast: Option<bool>,
    /// Log the shell's diagnostics (malformed input, failed sends) to stderr.
    #[arg(short, long)]
    verbose: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if args.verbose {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(std::io::stderr)
            .init();
    }
    let profile = match args.ml_fast {
        None => Profile::Auto,
        Some(true) => Profile::Fast,
        Some(false) => Profile::Upstream,
    };
    let mut config = Config {
        profile,
        ..Config::lan(args.name.clone(), args.bind)
    };
    config.keyring = SecretKey::from_metallb_secret(&args.secret).map(Keyring::new);
    let (handle, mut notifications) = memberlist::start(config, args.bind).await?;
    if !args.join.is_empty() {
        handle.join(args.join.clone()).await;
    }
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut last = String::new();
    let mut last_fast = None;
    loop {
        tokio::select! {
            Some(n) = notifications.recv() => match n {
                Notification::Event(e) => {
                    let (kind, m) = match e {
                        Event::Joined(m) => ("join", m),
                        Event::Left(m) => ("leave", m),
                        Event::Updated(m) => ("update", m),
                    };
                    println!("EVENT {kind} {}", m.name);
                }
                Notification::JoinFinished(peer, result) => match result {
                    Ok(()) => println!("JOINED {peer}"),
                    Err(e) => println!("JOIN-FAILED {peer} {e}"),
                },
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let fast = handle.fast_timers();
        if last_fast != Some(fast) {
            println!("TIMERS {}", if fast { "fast" } else { "upstream" });
            last_fast = Some(fast);
        }
        let mut names: Vec<String> = handle.members().into_iter().map(|m| m.name).collect();
        names.sort();
        let line = names.join(",");
        if line != last {
            println!("MEMBERS {line}");
            last = line;
        }
    }
    handle.leave(Duration::from_secs(1)).await;
    println!("LEFT");
    Ok(())
}
