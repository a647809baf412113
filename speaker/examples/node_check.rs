//! Runs the speaker's node self-check once in the current network namespace and prints the
//! findings as JSON (one array), as `/status` shows them under `nodeChecks`. Used by
//! `scripts/lab/selfcheck.sh`.
//!
//! `node_check [--memberlist-bind ADDR:PORT] [--bgp-only]`

use std::net::SocketAddr;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut bind: Option<SocketAddr> = None;
    let mut layer2 = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--memberlist-bind" => match args.next().and_then(|s| s.parse().ok()) {
                Some(addr) => bind = Some(addr),
                None => {
                    eprintln!("--memberlist-bind needs ADDR:PORT");
                    return ExitCode::from(2);
                }
            },
            "--bgp-only" => layer2 = false,
            other => {
                eprintln!("unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let probe = bind.map(|a| (a.port(), speaker::selfcheck::probe_bind(a)));
    match runtime.block_on(speaker::selfcheck::gather(probe, layer2)) {
        Ok(facts) => {
            let findings = common::speaker::selfcheck::self_check(&facts);
            match serde_json::to_string_pretty(&findings) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("gathering node facts: {e}");
            ExitCode::from(1)
        }
    }
}
