//! metallb-rs speaker.

mod args;

use std::process::ExitCode;

use clap::Parser as _;
use common::cli::normalize_go_flags;
use common::config::Mode;

use args::{Args, BOOL_FLAGS, Command, LONG_FLAGS};

fn main() -> ExitCode {
    let args = Args::parse_from(normalize_go_flags(std::env::args(), LONG_FLAGS, BOOL_FLAGS));
    if let Err(e) = args.level() {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    match args.command {
        Some(Command::CheckConfig { path }) => {
            let (code, out) = common::cli::check_config(&path, Mode::NativeSpeaker);
            match out {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("{e}"),
            }
            ExitCode::from(code)
        }
        None => {
            if !matches!(args.bgp_type.as_str(), "" | "native") {
                eprintln!(
                    "unsupported BGP implementation type {:?}: this speaker is native-only",
                    args.bgp_type
                );
                return ExitCode::from(1);
            }
            if args.node_name.as_deref().unwrap_or("").is_empty() {
                eprintln!("must specify --node-name or METALLB_NODE_NAME");
                return ExitCode::from(1);
            }
            eprintln!(
                "speaker: the in-cluster speaker is not part of this build yet; use `speaker check-config PATH`"
            );
            ExitCode::from(2)
        }
    }
}
