//! The speaker's per-IP series, kept as plain values and turned into Prometheus families only
//! when scraped.
//!
//! The prometheus crate's `GaugeVec`/`CounterVec` give every child its own copy of the label
//! pairs, a `Desc` reference and an atomic, ~600 bytes each; with one `metallb_speaker_announced`
//! gauge and three `metallb_layer2_*` counters per IP that was ~1 MB of a 1 000-service speaker's
//! heap. Here an IP costs one map entry (~60 bytes for the counters, ~100 for the gauge), and
//! counting a packet is a mutex and a hash of 16 bytes instead of formatting the IP and hashing
//! the label string. Names, help texts, types and label sets are upstream's (the tests in the
//! parent module pin them).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};

use super::Result;
use crate::gotext::ip_string;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a counter map half-updated: every update is one store.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn desc(name: &str, help: &str, labels: &[&str]) -> Result<Desc> {
    Desc::new(
        name.to_owned(),
        help.to_owned(),
        labels.iter().map(|l| (*l).to_owned()).collect(),
        HashMap::new(),
    )
}

fn pair(name: &str, value: String) -> LabelPair {
    let mut p = LabelPair::default();
    p.set_name(name.to_owned());
    p.set_value(value);
    p
}

fn family(d: &Desc, kind: MetricType, metrics: Vec<proto::Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(d.fq_name.clone());
    f.set_help(d.help.clone());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

/// Which Layer 2 counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer2Counter {
    RequestsReceived = 0,
    ResponsesSent = 1,
    GratuitousSent = 2,
}

/// `metallb_layer2_requests_received`, `…_responses_sent`, `…_gratuitous_sent`, by `ip`.
/// Upstream's names carry no `_total` suffix; kept as is. Like upstream's, a counter stays
/// once created (counters are not withdrawn).
#[derive(Clone)]
pub struct Layer2 {
    counts: Arc<Mutex<HashMap<IpAddr, [u64; 3]>>>,
    descs: Arc<[Desc; 3]>,
}

impl Layer2 {
    pub fn new(r: &prometheus::Registry) -> Result<Self> {
        let d = |name: &str, help: &str| desc(name, help, &["ip"]);
        let m = Self {
            counts: Arc::default(),
            descs: Arc::new([
                d(
                    "metallb_layer2_requests_received",
                    "Number of layer2 requests received for owned IPs",
                )?,
                d(
                    "metallb_layer2_responses_sent",
                    "Number of layer2 responses sent for owned IPs",
                )?,
                d(
                    "metallb_layer2_gratuitous_sent",
                    "Number of gratuitous layer2 packets sent for owned IPs",
                )?,
            ]),
        };
        r.register(Box::new(m.clone()))?;
        Ok(m)
    }

    pub fn inc(&self, which: Layer2Counter, ip: IpAddr) {
        lock(&self.counts).entry(ip).or_default()[which as usize] += 1;
    }

    /// The counter's value (0 when the IP has none).
    pub fn get(&self, which: Layer2Counter, ip: IpAddr) -> u64 {
        lock(&self.counts).get(&ip).map_or(0, |c| c[which as usize])
    }

    /// The counter summed over every IP.
    pub fn total(&self, which: Layer2Counter) -> u64 {
        lock(&self.counts).values().map(|c| c[which as usize]).sum()
    }
}

impl Collector for Layer2 {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let counts: Vec<(IpAddr, [u64; 3])> =
            lock(&self.counts).iter().map(|(ip, c)| (*ip, *c)).collect();
        (0..3)
            .map(|i| {
                let metrics = counts
                    .iter()
                    .map(|(ip, c)| {
                        let mut m = proto::Metric::from_label(vec![pair("ip", ip_string(*ip))]);
                        let mut v = proto::Counter::default();
                        v.set_value(c[i] as f64);
                        m.set_counter(v);
                        m
                    })
                    .collect();
                family(&self.descs[i], MetricType::COUNTER, metrics)
            })
            .collect()
    }
}

/// `metallb_speaker_announced{service, protocol, node, ip}`: 1 for each IP this node
/// announces, and no series at all for one it does not (removed on withdrawal).
#[derive(Clone)]
pub struct Announced {
    node: Arc<str>,
    ips: Arc<Mutex<BTreeMap<(String, IpAddr), &'static str>>>,
    desc: Arc<Desc>,
}

impl Announced {
    /// `node` is this speaker's node: the `node` label of every series.
    pub fn new(r: &prometheus::Registry, node: &str) -> Result<Self> {
        let m = Self {
            node: node.into(),
            ips: Arc::default(),
            desc: Arc::new(desc(
                "metallb_speaker_announced",
                "Services being announced from this node. This is desired state, it does not guarantee that the routing protocols have converged.",
                &["service", "protocol", "node", "ip"],
            )?),
        };
        r.register(Box::new(m.clone()))?;
        Ok(m)
    }

    pub fn set(&self, service: &str, protocol: &'static str, ip: IpAddr) {
        lock(&self.ips).insert((service.to_owned(), ip), protocol);
    }

    pub fn remove(&self, service: &str, ip: IpAddr) {
        lock(&self.ips).remove(&(service.to_owned(), ip));
    }

    /// The protocol label of the series, if it exists.
    pub fn get(&self, service: &str, ip: IpAddr) -> Option<&'static str> {
        lock(&self.ips).get(&(service.to_owned(), ip)).copied()
    }
}

impl Collector for Announced {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let metrics = lock(&self.ips)
            .iter()
            .map(|((service, ip), protocol)| {
                // Label pairs sorted by name, as the prometheus crate and client_golang emit them.
                let mut m = proto::Metric::from_label(vec![
                    pair("ip", ip_string(*ip)),
                    pair("node", self.node.to_string()),
                    pair("protocol", (*protocol).to_owned()),
                    pair("service", service.clone()),
                ]);
                let mut g = proto::Gauge::default();
                g.set_value(1.0);
                m.set_gauge(g);
                m
            })
            .collect();
        vec![family(&self.desc, MetricType::GAUGE, metrics)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Registry;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test IP")
    }

    #[test]
    fn layer2_counters_render_as_upstreams_series() {
        let r = Registry::new();
        let l = Layer2::new(&r).expect("register");
        l.inc(Layer2Counter::RequestsReceived, ip("10.0.0.2"));
        l.inc(Layer2Counter::RequestsReceived, ip("10.0.0.2"));
        l.inc(Layer2Counter::ResponsesSent, ip("10.0.0.2"));
        l.inc(Layer2Counter::GratuitousSent, ip("2001:db8::1"));
        assert_eq!(l.get(Layer2Counter::RequestsReceived, ip("10.0.0.2")), 2);
        assert_eq!(l.get(Layer2Counter::ResponsesSent, ip("10.0.0.9")), 0);
        assert_eq!(l.total(Layer2Counter::GratuitousSent), 1);
        let text = super::super::render(&r);
        for line in [
            "# HELP metallb_layer2_requests_received Number of layer2 requests received for owned IPs\n",
            "# TYPE metallb_layer2_requests_received counter\n",
            "metallb_layer2_requests_received{ip=\"10.0.0.2\"} 2\n",
            "metallb_layer2_requests_received{ip=\"2001:db8::1\"} 0\n",
            "metallb_layer2_responses_sent{ip=\"10.0.0.2\"} 1\n",
            "metallb_layer2_gratuitous_sent{ip=\"2001:db8::1\"} 1\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
    }

    #[test]
    fn announced_gauges_exist_only_while_announced() {
        let r = Registry::new();
        let a = Announced::new(&r, "node-1").expect("register");
        a.set("ns/web", "layer2", ip("192.0.2.10"));
        a.set("ns/web", "layer2", ip("2001:db8::a"));
        a.set("ns/db", "bgp", ip("192.0.2.11"));
        let text = super::super::render(&r);
        assert!(text.contains("# TYPE metallb_speaker_announced gauge\n"));
        assert!(text.contains(
            "metallb_speaker_announced{ip=\"192.0.2.10\",node=\"node-1\",protocol=\"layer2\",service=\"ns/web\"} 1\n"
        ));
        assert!(text.contains(
            "metallb_speaker_announced{ip=\"192.0.2.11\",node=\"node-1\",protocol=\"bgp\",service=\"ns/db\"} 1\n"
        ));
        a.remove("ns/web", ip("192.0.2.10"));
        a.remove("ns/web", ip("2001:db8::a"));
        assert_eq!(a.get("ns/web", ip("192.0.2.10")), None);
        assert_eq!(a.get("ns/db", ip("192.0.2.11")), Some("bgp"));
        let text = super::super::render(&r);
        assert!(!text.contains("ns/web"), "{text}");
        a.remove("ns/db", ip("192.0.2.11"));
        // No series left: the family is not rendered at all, as with an empty GaugeVec.
        assert!(!super::super::render(&r).contains("metallb_speaker_announced{"));
    }
}
