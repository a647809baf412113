//! Every Prometheus series MetalLB v0.12 exports (docs/metrics-events.md#upstream-series), with
//! upstream's names and labels. Helm's alerts and operators' dashboards query these names, so
//! they are defined once here and registered by both binaries; `tests` pins each name and label
//! set.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus::{CounterVec, GaugeVec, IntCounter, IntGauge, Opts, Registry};

mod per_ip;
pub use per_ip::{Announced, Layer2, Layer2Counter};

/// Errors only arise from registering a name twice, which `new` never does.
pub type Result<T> = std::result::Result<T, prometheus::Error>;

/// The work-queue series both processes export.
#[derive(Clone)]
pub struct K8sClient {
    pub updates_total: IntCounter,
    pub update_errors_total: IntCounter,
    pub config_loaded_bool: IntGauge,
    pub config_stale_bool: IntGauge,
}

impl K8sClient {
    pub fn new(r: &Registry) -> Result<Self> {
        let m = Self {
            updates_total: IntCounter::with_opts(Opts::new(
                "metallb_k8s_client_updates_total",
                "Number of k8s object updates that have been processed.",
            ))?,
            update_errors_total: IntCounter::with_opts(Opts::new(
                "metallb_k8s_client_update_errors_total",
                "Number of k8s object updates that failed for some reason.",
            ))?,
            config_loaded_bool: IntGauge::with_opts(Opts::new(
                "metallb_k8s_client_config_loaded_bool",
                "1 if the MetalLB configuration was successfully loaded at least once.",
            ))?,
            config_stale_bool: IntGauge::with_opts(Opts::new(
                "metallb_k8s_client_config_stale_bool",
                "1 if running on a stale configuration, because the latest config failed to load.",
            ))?,
        };
        r.register(Box::new(m.updates_total.clone()))?;
        r.register(Box::new(m.update_errors_total.clone()))?;
        r.register(Box::new(m.config_loaded_bool.clone()))?;
        r.register(Box::new(m.config_stale_bool.clone()))?;
        Ok(m)
    }
}

/// The controller's allocator gauges, labelled by pool.
#[derive(Clone)]
pub struct Allocator {
    pub addresses_total: GaugeVec,
    pub addresses_in_use_total: GaugeVec,
    /// Registered but never set, as upstream: it exports no series.
    pub services_allocated_total: GaugeVec,
}

impl Allocator {
    pub fn new(r: &Registry) -> Result<Self> {
        let g = |name: &str, help: &str| GaugeVec::new(Opts::new(name, help), &["pool"]);
        let m = Self {
            addresses_total: g(
                "metallb_allocator_addresses_total",
                "Number of usable IP addresses, per pool",
            )?,
            addresses_in_use_total: g(
                "metallb_allocator_addresses_in_use_total",
                "Number of IP addresses in use, per pool",
            )?,
            services_allocated_total: g(
                "metallb_allocator_services_allocated_total",
                "Number of services allocated, per pool",
            )?,
        };
        r.register(Box::new(m.addresses_total.clone()))?;
        r.register(Box::new(m.addresses_in_use_total.clone()))?;
        r.register(Box::new(m.services_allocated_total.clone()))?;
        Ok(m)
    }
}

/// The node self-checks (not in upstream; additive): one series per check that applies.
#[derive(Clone)]
pub struct NodeChecks {
    pub check: GaugeVec,
}

impl NodeChecks {
    pub fn new(r: &Registry) -> Result<Self> {
        let m = Self {
            check: GaugeVec::new(
                Opts::new(
                    "metallb_speaker_node_check",
                    "Node self-checks of this speaker: 1 when the node passes the check, 0 when it fails (see /status for the reason).",
                ),
                &["check"],
            )?,
        };
        r.register(Box::new(m.check.clone()))?;
        Ok(m)
    }
}

/// Per-peer BGP series; created at 0 with the session, deleted when it closes.
#[derive(Clone)]
pub struct Bgp {
    pub session_up: GaugeVec,
    pub updates_total: CounterVec,
    pub announced_prefixes_total: GaugeVec,
    pub pending_prefixes_total: GaugeVec,
}

impl Bgp {
    pub fn new(r: &Registry) -> Result<Self> {
        let m = Self {
            session_up: GaugeVec::new(
                Opts::new(
                    "metallb_bgp_session_up",
                    "BGP session state (1 is up, 0 is down)",
                ),
                &["peer"],
            )?,
            updates_total: CounterVec::new(
                Opts::new(
                    "metallb_bgp_updates_total",
                    "Number of BGP UPDATE messages sent",
                ),
                &["peer"],
            )?,
            announced_prefixes_total: GaugeVec::new(
                Opts::new(
                    "metallb_bgp_announced_prefixes_total",
                    "Number of prefixes currently being advertised on the BGP session",
                ),
                &["peer"],
            )?,
            pending_prefixes_total: GaugeVec::new(
                Opts::new(
                    "metallb_bgp_pending_prefixes_total",
                    "Number of prefixes that should be advertised on the BGP session",
                ),
                &["peer"],
            )?,
        };
        r.register(Box::new(m.session_up.clone()))?;
        r.register(Box::new(m.updates_total.clone()))?;
        r.register(Box::new(m.announced_prefixes_total.clone()))?;
        r.register(Box::new(m.pending_prefixes_total.clone()))?;
        Ok(m)
    }
}

/// Series that write their own text exposition (the speaker's per-IP series, [`per_ip`]).
pub trait OwnText: Send + Sync {
    fn render(&self, out: &mut String);
}

/// What a `/metrics` endpoint serves: the prometheus crate's registry, then the series that
/// render their own text.
#[derive(Clone, Default)]
pub struct Exposition {
    pub registry: Registry,
    own: Arc<Mutex<Vec<Arc<dyn OwnText>>>>,
}

impl Exposition {
    pub fn add(&self, series: Arc<dyn OwnText>) {
        self.own
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(series);
    }

    pub fn render(&self) -> String {
        let mut out = render(&self.registry);
        let own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        for s in own.iter() {
            s.render(&mut out);
        }
        out
    }
}

/// The Prometheus text exposition of a registry.
pub fn render(r: &Registry) -> String {
    let mut out = String::new();
    // Encoding into a String only fails on invalid metric data, which the types exclude.
    let _ = prometheus::TextEncoder::new().encode_utf8(&r.gather(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, type, labels) of every series in docs/metrics-events.md#upstream-series.
    const UPSTREAM: &[(&str, &str, &[&str])] = &[
        ("metallb_allocator_addresses_total", "gauge", &["pool"]),
        (
            "metallb_allocator_addresses_in_use_total",
            "gauge",
            &["pool"],
        ),
        ("metallb_k8s_client_updates_total", "counter", &[]),
        ("metallb_k8s_client_update_errors_total", "counter", &[]),
        ("metallb_k8s_client_config_loaded_bool", "gauge", &[]),
        ("metallb_k8s_client_config_stale_bool", "gauge", &[]),
        (
            "metallb_speaker_announced",
            "gauge",
            &["service", "protocol", "node", "ip"],
        ),
        ("metallb_bgp_session_up", "gauge", &["peer"]),
        ("metallb_bgp_updates_total", "counter", &["peer"]),
        ("metallb_bgp_announced_prefixes_total", "gauge", &["peer"]),
        ("metallb_bgp_pending_prefixes_total", "gauge", &["peer"]),
        ("metallb_layer2_requests_received", "counter", &["ip"]),
        ("metallb_layer2_responses_sent", "counter", &["ip"]),
        ("metallb_layer2_gratuitous_sent", "counter", &["ip"]),
    ];

    /// The label names of the first sample of `name` in a text exposition.
    fn label_names<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
        let prefix = format!("{name}{{");
        let line = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no sample of {name} in\n{text}"));
        let labels = &line[prefix.len()..line.rfind('}').expect("closing brace")];
        labels
            .split("\",")
            .map(|kv| kv.split_once('=').expect("name=value").0)
            .collect()
    }

    #[test]
    fn every_upstream_series_is_exported_with_its_name_type_and_labels() {
        let e = Exposition::default();
        let r = &e.registry;
        let k = K8sClient::new(r).expect("register");
        let a = Allocator::new(r).expect("register");
        let s = Announced::new(&e, "n1");
        let b = Bgp::new(r).expect("register");
        let l = Layer2::new(&e);
        k.updates_total.inc();
        a.addresses_total.with_label_values(&["p"]).set(1.0);
        a.addresses_in_use_total.with_label_values(&["p"]).set(1.0);
        s.set("ns/svc", "layer2", "10.0.0.1".parse().expect("ip"));
        for v in [
            &b.session_up,
            &b.announced_prefixes_total,
            &b.pending_prefixes_total,
        ] {
            v.with_label_values(&["10.0.0.1:179"]).set(0.0);
        }
        b.updates_total.with_label_values(&["10.0.0.1:179"]).inc();
        for c in [
            Layer2Counter::RequestsReceived,
            Layer2Counter::ResponsesSent,
            Layer2Counter::GratuitousSent,
        ] {
            l.inc(c, "10.0.0.1".parse().expect("ip"));
        }
        let text = e.render();
        for (name, kind, labels) in UPSTREAM {
            assert!(
                text.contains(&format!("\n# TYPE {name} {kind}\n")),
                "{name} {kind} missing from\n{text}"
            );
            assert_eq!(
                text.matches(&format!("# TYPE {name} ")).count(),
                1,
                "{name}"
            );
            let mut want: Vec<&str> = labels.to_vec();
            want.sort_unstable();
            if want.is_empty() {
                assert!(text.contains(&format!("\n{name} ")), "{name}");
            } else {
                assert_eq!(label_names(&text, name), want, "{name}");
            }
        }
        assert!(text.contains("metallb_layer2_requests_received{ip=\"10.0.0.1\"} 1\n"));
        assert!(!text.contains("metallb_allocator_services_allocated_total{"));
    }
}
