//! The speaker's per-IP series, kept as plain values and written straight into the text
//! exposition when scraped.
//!
//! The prometheus crate's `GaugeVec`/`CounterVec` give every child its own copy of the label
//! pairs, a `Desc` reference and an atomic, ~600 bytes each, and every scrape builds a
//! protobuf-shaped `Metric` with owned label strings per child; with one
//! `metallb_speaker_announced` gauge and three `metallb_layer2_*` counters per IP, a
//! 1 000-service speaker held ~1 MB of children and kept another ~1 MB of its heap after the
//! first scrape. Here an IP costs one map entry (~60 bytes for the counters, ~100 for the
//! gauge), a scrape allocates little more than its output, and counting a packet is a mutex
//! and a hash of 16 bytes instead of formatting the IP and hashing the label string. Names,
//! help texts, types and label sets are upstream's (the tests in the parent module pin them).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Exposition, OwnText};
use common::gotext::ip_string;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a map half-updated: every update is one insert or store.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `# HELP` and `# TYPE` lines, as the prometheus crate's text encoder writes them.
fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A label value between quotes, escaped per the text format.
fn value(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Which Layer 2 counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer2Counter {
    RequestsReceived = 0,
    ResponsesSent = 1,
    GratuitousSent = 2,
}

const LAYER2: [(&str, &str); 3] = [
    (
        "metallb_layer2_requests_received",
        "Number of layer2 requests received for owned IPs",
    ),
    (
        "metallb_layer2_responses_sent",
        "Number of layer2 responses sent for owned IPs",
    ),
    (
        "metallb_layer2_gratuitous_sent",
        "Number of gratuitous layer2 packets sent for owned IPs",
    ),
];

/// `metallb_layer2_requests_received`, `…_responses_sent`, `…_gratuitous_sent`, by `ip`.
/// Upstream's names carry no `_total` suffix; kept as is. Like upstream's, a counter stays
/// once created (counters are not withdrawn).
#[derive(Clone, Default)]
pub struct Layer2 {
    counts: Arc<Mutex<HashMap<IpAddr, [u64; 3]>>>,
}

impl Layer2 {
    pub fn new(e: &Exposition) -> Self {
        let m = Self::default();
        e.add(Arc::new(m.clone()));
        m
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

impl OwnText for Layer2 {
    fn render(&self, out: &mut String) {
        let mut counts: Vec<(IpAddr, [u64; 3])> =
            lock(&self.counts).iter().map(|(ip, c)| (*ip, *c)).collect();
        if counts.is_empty() {
            return;
        }
        counts.sort_unstable_by_key(|(ip, _)| *ip);
        for (i, (name, help)) in LAYER2.iter().enumerate() {
            header(out, name, help, "counter");
            for (ip, c) in &counts {
                let _ = writeln!(out, "{name}{{ip=\"{}\"}} {}", ip_string(*ip), c[i]);
            }
        }
    }
}

const ANNOUNCED: &str = "metallb_speaker_announced";
const ANNOUNCED_HELP: &str = "Services being announced from this node. This is desired state, it does not guarantee that the routing protocols have converged.";

/// `metallb_speaker_announced{service, protocol, node, ip}`: 1 for each IP this node
/// announces, and no series at all for one it does not (removed on withdrawal).
#[derive(Clone)]
pub struct Announced {
    node: Arc<str>,
    ips: Arc<Mutex<BTreeMap<(String, IpAddr), &'static str>>>,
}

impl Announced {
    /// `node` is this speaker's node: the `node` label of every series.
    pub fn new(e: &Exposition, node: &str) -> Self {
        let m = Self {
            node: node.into(),
            ips: Arc::default(),
        };
        e.add(Arc::new(m.clone()));
        m
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

impl OwnText for Announced {
    fn render(&self, out: &mut String) {
        let ips = lock(&self.ips);
        if ips.is_empty() {
            return;
        }
        header(out, ANNOUNCED, ANNOUNCED_HELP, "gauge");
        // Label pairs sorted by name, as the prometheus crate and client_golang emit them.
        for ((service, ip), protocol) in ips.iter() {
            let _ = write!(out, "{ANNOUNCED}{{ip=\"{}\",node=", ip_string(*ip));
            value(out, &self.node);
            out.push_str(",protocol=");
            value(out, protocol);
            out.push_str(",service=");
            value(out, service);
            out.push_str("} 1\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test IP")
    }

    #[test]
    fn layer2_counters_render_as_upstreams_series() {
        let r = Exposition::default();
        let l = Layer2::new(&r);
        l.inc(Layer2Counter::RequestsReceived, ip("10.0.0.2"));
        l.inc(Layer2Counter::RequestsReceived, ip("10.0.0.2"));
        l.inc(Layer2Counter::ResponsesSent, ip("10.0.0.2"));
        l.inc(Layer2Counter::GratuitousSent, ip("2001:db8::1"));
        assert_eq!(l.get(Layer2Counter::RequestsReceived, ip("10.0.0.2")), 2);
        assert_eq!(l.get(Layer2Counter::ResponsesSent, ip("10.0.0.9")), 0);
        assert_eq!(l.total(Layer2Counter::GratuitousSent), 1);
        let text = r.render();
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
        let r = Exposition::default();
        let a = Announced::new(&r, "node-1");
        a.set("ns/web", "layer2", ip("192.0.2.10"));
        a.set("ns/web", "layer2", ip("2001:db8::a"));
        a.set("ns/db", "bgp", ip("192.0.2.11"));
        let text = r.render();
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
        let text = r.render();
        assert!(!text.contains("ns/web"), "{text}");
        a.remove("ns/db", ip("192.0.2.11"));
        // No series left: the family is not rendered at all, as with an empty GaugeVec.
        assert!(!r.render().contains("metallb_speaker_announced{"));
    }
}
