//! metallb-rs controller.

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
        Some(Command::CheckConfig { path }) => check_config(&path),
        None => {
            eprintln!(
                "controller: the in-cluster controller is not part of this build yet; use `controller check-config PATH`"
            );
            ExitCode::from(2)
        }
    }
}

/// Prints the normalised JSON (exit 0) or the error (exit 1; 2 for unreadable input).
fn check_config(path: &str) -> ExitCode {
    let (code, out) = common::cli::check_config(path, Mode::Controller);
    match out {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("{e}"),
    }
    ExitCode::from(code)
}
