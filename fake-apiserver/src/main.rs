//! `fake-apiserver`: the in-memory API server over TCP, for whole-process benchmarks of the
//! release binaries. Preloads objects, writes a kubeconfig for the binaries under test, prints
//! the bound address on stdout, and is driven through the control API under `/_fake/`:
//!
//! - `POST /_fake/down`, `POST /_fake/up`: outage on/off (API requests dropped, watches cut)
//! - `POST /_fake/compact`: forget the watch history (clients get 410 and re-list)
//! - `POST /_fake/latency?verbs=update,create&ms=2000`: delay those verbs (`ms=0` clears)
//! - `GET /_fake/stats`: requests per verb and resource, writes per object path, RV, counts
//! - `POST /_fake/objects`: upsert a JSON object, an array or NDJSON
//! - `DELETE /_fake/objects/{resource}/{ns}/{name}` (or `/{resource}/{name}` cluster-scoped)
//!
//! `--rbac 0.8.3/speaker` answers every request under that release's grants for that
//! ServiceAccount (the fake has one identity), e.g. for a lab where only speakers call it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fake_apiserver::{FakeApi, Rbac, parse_objects, releases};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "In-memory Kubernetes API server with kube-apiserver's semantics"
)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:6080")]
    addr: SocketAddr,
    /// Objects to preload: a JSON array or NDJSON. May be repeated.
    #[arg(long)]
    objects: Vec<PathBuf>,
    /// Write a kubeconfig pointing at the server here.
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Allow only what this upstream release grants this ServiceAccount, e.g. `0.8.3/speaker`
    /// (403 for the rest). Default: everything allowed.
    #[arg(long, value_name = "RELEASE/COMPONENT", value_parser = releases::rbac_from_spec)]
    rbac: Option<Rbac>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let api = FakeApi::new();
    api.set_rbac(args.rbac);
    for path in &args.objects {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let objects = parse_objects(&text)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("parsing {}", path.display()))?;
        for (i, o) in objects.into_iter().enumerate() {
            api.try_upsert(o)
                .with_context(|| format!("{}: object #{i}", path.display()))?;
        }
    }
    let addr = api.serve(args.addr).await.context("listening")?;
    if let Some(path) = &args.kubeconfig_out {
        std::fs::write(path, api.kubeconfig_yaml(&format!("http://{addr}")))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{addr}")?;
    out.flush()?;
    drop(out);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fake_apiserver::releases::{Component, Release};

    #[test]
    fn rbac_flag_names_a_release_and_a_component() {
        let parse = |extra: &[&str]| Args::try_parse_from([&["fake-apiserver"], extra].concat());
        let args = parse(&["--rbac", "0.8.3/speaker"]).expect("valid");
        assert_eq!(
            args.rbac,
            Some(releases::rbac(Release::V0_8_3, Component::Speaker))
        );
        let args = parse(&["--rbac=v0.12.1/controller"]).expect("valid");
        assert_eq!(
            args.rbac,
            Some(releases::rbac(Release::V0_12_1, Component::Controller))
        );
        assert_eq!(parse(&[]).expect("valid").rbac, None);
        let err = parse(&["--rbac", "0.8/speaker"]).expect_err("no such release");
        assert!(err.to_string().contains("unknown release"), "{err}");
    }
}
