//! The node self-check's shell: gathers the facts (a netlink dump of interfaces and
//! addresses, the ARP sysctls from `/proc`, the memberlist bind probe made at start), runs
//! [`common::speaker::selfcheck`], and on every change of the findings logs them, sets
//! `metallb_speaker_node_check{check}` and posts a Warning Event on the Node for each failure
//! that matters.
//!
//! Sysctl changes raise no netlink notification, so the facts are re-gathered every
//! [`INTERVAL`] rather than on interface events; a pass is one netlink dump and a few small
//! file reads.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::speaker::selfcheck::{Finding, InterfaceFacts, NodeFacts, self_check};
use futures::TryStreamExt as _;
use k8s_openapi::api::core::v1::Event as K8sEvent;
use kube::api::PostParams;
use kube::{Api, Client};
use kube_shell::k8s_event::{Dedup, EventType, Regarding, event_object};
use netlink_packet_route::address::AddressAttribute;

use crate::status::Board;

/// How often the facts are gathered again.
pub const INTERVAL: Duration = Duration::from_secs(30);
const COMPONENT: &str = "metallb-speaker";
/// Node events go where kubelet puts them.
const NODE_EVENT_NAMESPACE: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum SelfCheckError {
    #[error("opening the netlink socket failed: {0}")]
    Socket(#[source] std::io::Error),
    #[error("dumping interfaces failed: {0}")]
    Dump(#[source] rtnetlink::Error),
}

/// Whether memberlist's address can be bound, TCP and UDP, by binding and releasing both.
/// Run before memberlist starts (afterwards we hold the port ourselves).
pub fn probe_bind(addr: SocketAddr) -> Result<(), String> {
    let tcp = std::net::TcpListener::bind(addr).map_err(|e| format!("TCP: {e}"))?;
    let udp = std::net::UdpSocket::bind(addr).map_err(|e| format!("UDP: {e}"))?;
    drop((tcp, udp));
    Ok(())
}

/// Interfaces with all their addresses and their ARP sysctls, plus `conf/all`.
pub async fn gather(
    memberlist_bind: Option<(u16, Result<(), String>)>,
    layer2_in_use: bool,
) -> Result<NodeFacts, SelfCheckError> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(SelfCheckError::Socket)?;
    let conn = tokio::spawn(conn);
    let result = dump(&handle).await;
    conn.abort();
    let mut interfaces = result?;
    for i in &mut interfaces {
        i.arp_ignore = sysctl(&i.name, "arp_ignore");
        i.arp_announce = sysctl(&i.name, "arp_announce");
    }
    Ok(NodeFacts {
        interfaces,
        arp_ignore_all: sysctl("all", "arp_ignore"),
        arp_announce_all: sysctl("all", "arp_announce"),
        memberlist_bind,
        layer2_in_use,
    })
}

async fn dump(handle: &rtnetlink::Handle) -> Result<Vec<InterfaceFacts>, SelfCheckError> {
    let mut links = Vec::new();
    let mut stream = handle.link().get().execute();
    while let Some(msg) = stream.try_next().await.map_err(SelfCheckError::Dump)? {
        links.push(crate::l2::link_from(&msg));
    }
    let mut addrs: HashMap<u32, Vec<IpAddr>> = HashMap::new();
    let mut stream = handle.address().get().execute();
    while let Some(msg) = stream.try_next().await.map_err(SelfCheckError::Dump)? {
        for attr in &msg.attributes {
            if let AddressAttribute::Address(ip) = attr {
                addrs.entry(msg.header.index).or_default().push(*ip);
            }
        }
    }
    Ok(links
        .into_iter()
        .map(|link| {
            let addresses = addrs.remove(&link.index).unwrap_or_default();
            let link_local = addresses.iter().find_map(|a| match a {
                IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(*v6),
                _ => None,
            });
            InterfaceFacts {
                usable_for_layer2: common::l2::iface::responders(&link, link_local).is_some(),
                name: link.name,
                addresses,
                arp_ignore: None,
                arp_announce: None,
            }
        })
        .collect())
}

/// `/proc/sys/net/ipv4/conf/<iface>/<key>`; `None` if unreadable (no IPv4 on it, no /proc).
fn sysctl(iface: &str, key: &str) -> Option<String> {
    // Interface names cannot contain '/', but never build a path from one that does.
    if iface.contains('/') || iface.is_empty() {
        return None;
    }
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{iface}/{key}")).ok()
}

/// Runs the checks now and then every [`INTERVAL`], acting on changes.
pub struct SelfCheck {
    pub node: String,
    pub client: Client,
    pub metrics: kube_shell::metrics::NodeChecks,
    pub board: Board,
    pub memberlist_bind: Option<(u16, Result<(), String>)>,
    last: Option<Vec<Finding>>,
    dedup: Dedup,
}

impl SelfCheck {
    pub fn new(
        node: String,
        client: Client,
        metrics: kube_shell::metrics::NodeChecks,
        board: Board,
        memberlist_bind: Option<(u16, Result<(), String>)>,
    ) -> Self {
        SelfCheck {
            node,
            client,
            metrics,
            board,
            memberlist_bind,
            last: None,
            dedup: Dedup::default(),
        }
    }

    /// One pass: gather, check, and act if the findings changed.
    pub async fn pass(&mut self) {
        let facts = match gather(self.memberlist_bind.clone(), self.board.layer2_in_use()).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(op = "nodeCheck", error = %e, "cannot gather node facts");
                return;
            }
        };
        let findings = self_check(&facts);
        if self.last.as_ref() == Some(&findings) {
            return;
        }
        for f in &findings {
            let changed = self.last.as_ref().is_none_or(|l| !l.iter().any(|o| o == f));
            if !changed {
                continue;
            }
            if !f.ok && f.matters {
                tracing::error!(op = "nodeCheck", check = f.check.as_str(), "{}", f.message);
                self.post_node_event(f).await;
            } else if !f.ok {
                tracing::warn!(op = "nodeCheck", check = f.check.as_str(), "{}", f.message);
            } else {
                tracing::info!(op = "nodeCheck", check = f.check.as_str(), "{}", f.message);
            }
        }
        self.metrics.check.reset();
        for f in &findings {
            self.metrics
                .check
                .with_label_values(&[f.check.as_str()])
                .set(if f.ok { 1.0 } else { 0.0 });
        }
        self.board.set_checks(findings.clone());
        self.last = Some(findings);
    }

    /// Passes forever, every [`INTERVAL`].
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.pass().await;
        }
    }

    async fn post_node_event(&mut self, f: &Finding) {
        let reason = f.check.event_reason();
        let about = node_regarding(&self.node);
        if !self.dedup.admit(
            &about,
            EventType::Warning,
            reason,
            &f.message,
            Instant::now(),
        ) {
            return;
        }
        let ev = node_event(&self.node, reason, &f.message);
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), NODE_EVENT_NAMESPACE);
        if let Err(e) = api.create(&PostParams::default(), &ev).await {
            tracing::warn!(op = "postEvent", error = %e, reason, "failed to post event");
        }
    }
}

/// Kubelet's reference to a Node: cluster-scoped, and the node name as UID
/// (`kubectl describe node` finds events by either UID).
fn node_regarding(node: &str) -> Regarding {
    Regarding {
        kind: "Node",
        namespace: NODE_EVENT_NAMESPACE.to_owned(),
        name: node.to_owned(),
        uid: Some(node.to_owned()),
    }
}

/// A Warning Event about this Node, in the namespace kubelet uses for node events.
fn node_event(node: &str, reason: &str, message: &str) -> K8sEvent {
    let mut ev = event_object(
        COMPONENT,
        &node_regarding(node),
        EventType::Warning,
        reason,
        message,
        k8s_openapi::jiff::Timestamp::now(),
    );
    ev.involved_object.namespace = None;
    if let Some(source) = &mut ev.source {
        source.host = Some(node.to_owned());
    }
    ev
}

#[cfg(test)]
mod tests {
    use http::{Method, Request, Response};
    use kube::client::Body;
    use tower_test::mock;

    use super::*;

    #[tokio::test]
    async fn gathers_this_hosts_loopback() {
        let facts = gather(None, true).await.expect("netlink dump");
        let lo = facts
            .interfaces
            .iter()
            .find(|i| i.name == "lo")
            .expect("lo");
        assert!(lo.addresses.contains(&IpAddr::from([127, 0, 0, 1])));
        assert!(
            !lo.usable_for_layer2,
            "loopback has no MAC and is not broadcast"
        );
        assert!(facts.layer2_in_use);
        assert!(
            facts
                .arp_ignore_all
                .as_deref()
                .map(str::trim)
                .is_some_and(|v| v.parse::<u32>().is_ok()),
            "{:?}",
            facts.arp_ignore_all
        );
    }

    #[test]
    fn bind_probe_reports_a_taken_port() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let err = probe_bind(addr).expect_err("port is taken");
        assert!(err.starts_with("TCP:"), "{err}");
        drop(taken);
        assert_eq!(probe_bind(addr), Ok(()));
    }

    /// A failing check that matters is POSTed once as a Warning about the Node; the gauge
    /// says 0 for it and 1 for the checks that pass.
    #[tokio::test]
    async fn failing_check_posts_a_node_warning_and_sets_the_gauge() {
        let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        let registry = prometheus::Registry::new();
        let metrics = kube_shell::metrics::NodeChecks::new(&registry).expect("register");
        let mut check = SelfCheck::new(
            "node1".into(),
            client,
            metrics.clone(),
            Board::new("node1"),
            // A port we hold ourselves: the memberlist check fails, and it matters.
            Some((7946, Err("TCP: Address in use (os error 98)".into()))),
        );
        let (seen, mut requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let (method, uri) = (req.method().clone(), req.uri().to_string());
                let body = req.into_body().collect_bytes().await.expect("body");
                let ev: serde_json::Value = serde_json::from_slice(&body).expect("json");
                send.send_response(
                    Response::builder()
                        .status(201)
                        .body(Body::from(body.to_vec()))
                        .expect("response"),
                );
                let _ = seen.send((method, uri, ev));
            }
        });
        check.pass().await;
        let (method, uri, ev) = requests.recv().await.expect("one POST");
        assert_eq!(method, Method::POST);
        assert_eq!(uri, "/api/v1/namespaces/default/events?");
        assert_eq!(ev["type"], "Warning");
        assert_eq!(ev["reason"], "memberlistPortUnavailable");
        assert_eq!(ev["involvedObject"]["kind"], "Node");
        assert_eq!(ev["involvedObject"]["name"], "node1");
        assert!(ev["involvedObject"].get("namespace").is_none());
        assert!(ev["message"].as_str().is_some_and(|m| m.contains("7946")));
        let gauge = |c: &str| metrics.check.with_label_values(&[c]).get();
        assert_eq!(gauge("memberlistPort"), 0.0);
        let board_doc: serde_json::Value =
            serde_json::from_str(&check.board.render(crate::status::Format::Json)).expect("json");
        let checks = board_doc["nodeChecks"].as_array().expect("checks");
        assert!(
            checks
                .iter()
                .any(|c| c["check"] == "memberlistPort" && c["ok"] == false)
        );
        // Same findings again: nothing is posted, the gauge keeps its value.
        check.pass().await;
        assert!(requests.try_recv().is_err(), "no second event");
        assert_eq!(gauge("memberlistPort"), 0.0);
    }
}
