//! metallb-rs controller.

mod alloc;
#[cfg(test)]
mod api_tests;
mod args;
#[cfg(test)]
mod crd_tests;
#[cfg(test)]
mod fake_api_tests;
mod http;
mod k8s;
#[cfg(test)]
mod loop_tests;
mod plan;
mod queue;
mod reconcile;
mod run;

use std::process::ExitCode;

use common::config::Mode;

use args::{Args, Command};

fn main() -> ExitCode {
    let args: Args = kube_shell::cli::parse_go_args();
    let level = match args.common.level() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    match &args.command {
        Some(Command::CheckConfig { path, allow_empty }) => ExitCode::from(
            kube_shell::offline::check_config_main(path, Mode::Controller, *allow_empty),
        ),
        Some(Command::Convert { config }) => convert_command(config),
        Some(Command::Plan {
            config,
            services,
            output,
        }) => plan_command(config, services, output),
        None => {
            kube_shell::logfmt::install(level);
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                "metallb-rs controller starting version {} (MetalLB v0.12 compatible)",
                env!("CARGO_PKG_VERSION")
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
            match runtime.block_on(run::run(&args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "controller failed");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// `convert`: the objects on stdout; notes (renames, allocation order) on stderr too, where
/// a redirect to a file does not hide them.
fn convert_command(path: &str) -> ExitCode {
    use kube_shell::offline::{MANIFEST_LIMIT, read_input};
    let input = match read_input(path, MANIFEST_LIMIT) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match common::crd::convert(&input) {
        Ok(converted) => {
            for note in &converted.notes {
                eprintln!("note: {note}");
            }
            kube_shell::offline::print_stdout(&converted.to_yaml());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn plan_command(config: &str, services: &str, output: &str) -> ExitCode {
    use kube_shell::offline::{MANIFEST_LIMIT, SERVICES_LIMIT, read_input};
    if config == "-" && services == "-" {
        eprintln!("only one of --config and --services can be read from stdin (-)");
        return ExitCode::from(2);
    }
    let (cfg, svcs) = match (
        read_input(config, MANIFEST_LIMIT),
        read_input(services, SERVICES_LIMIT),
    ) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match plan::run(&cfg, &svcs) {
        Ok(rows) if output == "json" => {
            let json = serde_json::to_string_pretty(&plan::to_json(&rows)).unwrap_or_default();
            kube_shell::offline::print_stdout(&format!("{json}\n"));
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            kube_shell::offline::print_stdout(&plan::to_table(&rows));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
