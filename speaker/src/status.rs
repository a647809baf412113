//! What `GET /status` reads: the speaker loop's decisions, the BGP sessions and the node
//! self-checks, each published by the task that owns it.
//!
//! The loop swaps rows into an `Arc<Snapshot>` under a lock held only for the swap; a
//! request clones the `Arc` and renders from it without any lock, so neither side ever
//! waits on the other for longer than a pointer copy. While a request still renders from an
//! old snapshot the loop's next change copies the row map once (`Arc::make_mut`); otherwise
//! it updates in place.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use common::config::{Config, Protocol};
use common::memberlist::MemberState;
use common::speaker::selfcheck::Finding;
use common::speaker::status::{MemberRow, ServiceRow, Snapshot, StatusView};

use crate::bgp::BgpStatus;

/// The shared state behind `/status`. Clones share it.
#[derive(Clone, Default)]
pub struct Board {
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    checks: Arc<RwLock<Vec<Finding>>>,
    bgp: Arc<RwLock<Option<BgpStatus>>>,
    memberlist: Arc<RwLock<Option<crate::memberlist::Handle>>>,
    layer2_in_use: Arc<AtomicBool>,
}

/// `?format=text` selects the text view; anything else is JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

impl Board {
    pub fn new(node: &str) -> Self {
        let board = Board::default();
        board.update(|s| s.node = node.to_owned());
        board
    }

    fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        let mut guard = self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        f(Arc::make_mut(&mut guard));
    }

    /// The row of one service after a decision (`None`: the service is gone or is not a
    /// LoadBalancer).
    pub fn record(&self, key: &str, row: Option<ServiceRow>) {
        let unchanged = {
            let guard = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
            match (&row, guard.services.get(key)) {
                (None, None) => true,
                (Some(new), Some(old)) => **old == *new,
                _ => false,
            }
        };
        if !unchanged {
            self.update(|s| s.set_row(key, row));
        }
    }

    /// The Layer 2 election rule in use, and why (fixed at start-up).
    pub fn set_election(&self, election: common::l2::election_key::KeyChoice) {
        self.update(|s| s.election = election);
    }

    /// Where the live speakers come from: `memberlist`, `speakerPods`, or
    /// `readyEndpointNodes` (no list allowed: v0.8's rule).
    pub fn set_live_source(&self, source: &'static str) {
        self.update(|s| s.live_source = source);
    }

    /// What every decision depends on: the config and the live speakers.
    pub fn set_cluster(&self, config: Option<&Config>, live: &BTreeSet<String>) {
        let layer2 = config.is_some_and(|c| c.pools.iter().any(|p| p.protocol == Protocol::Layer2));
        self.layer2_in_use.store(layer2, Ordering::Relaxed);
        let loaded = config.is_some();
        let same = {
            let guard = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
            guard.config_loaded == loaded && guard.members.iter().eq(live.iter())
        };
        if !same {
            self.update(|s| {
                s.config_loaded = loaded;
                s.members = live.iter().cloned().collect();
            });
        }
    }

    /// Whether some Layer 2 pool is configured (self-checks about ARP matter then).
    pub fn layer2_in_use(&self) -> bool {
        self.layer2_in_use.load(Ordering::Relaxed)
    }

    pub fn set_bgp(&self, bgp: BgpStatus) {
        *self.bgp.write().unwrap_or_else(PoisonError::into_inner) = Some(bgp);
    }

    /// memberlist's view of the members (with their states) is shown when it runs.
    pub fn set_memberlist(&self, handle: crate::memberlist::Handle) {
        *self
            .memberlist
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(handle);
    }

    pub fn set_checks(&self, checks: Vec<Finding>) {
        *self.checks.write().unwrap_or_else(PoisonError::into_inner) = checks;
    }

    /// The current snapshot (a pointer copy).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The `/status` document.
    pub fn render(&self, format: Format) -> String {
        let snapshot = self.snapshot();
        let checks = self
            .checks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let bgp = self
            .bgp
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(BgpStatus::sessions)
            .unwrap_or_default();
        let memberlist: Option<Vec<MemberRow>> = self
            .memberlist
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|h| {
                h.members()
                    .into_iter()
                    .map(|m| MemberRow {
                        name: m.name,
                        addr: m.addr.to_string(),
                        state: state_name(m.state),
                    })
                    .collect()
            });
        let view = StatusView {
            snapshot: &snapshot,
            memberlist: memberlist.as_deref(),
            bgp: &bgp,
            checks: &checks,
        };
        match format {
            Format::Json => view.to_json(),
            Format::Text => view.to_text(),
        }
    }
}

fn state_name(s: MemberState) -> &'static str {
    match s {
        MemberState::Alive => "alive",
        MemberState::Suspect => "suspect",
        MemberState::Dead => "dead",
        MemberState::Left => "left",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::speaker::status::Decision;

    fn row(service: &str, decision: Decision) -> ServiceRow {
        ServiceRow {
            service: service.into(),
            ips: vec!["192.0.2.1".into()],
            protocol: Some("bgp"),
            pool: Some("b".into()),
            decision,
            reason: None,
            message: String::new(),
            owner: None,
        }
    }

    #[test]
    fn a_held_snapshot_is_not_changed_by_later_decisions() {
        let board = Board::new("n1");
        board.record("ns/a", Some(row("ns/a", Decision::Announcing)));
        let held = board.snapshot();
        board.record("ns/a", Some(row("ns/a", Decision::NotAnnouncing)));
        board.record("ns/b", Some(row("ns/b", Decision::Announcing)));
        assert_eq!(held.services.len(), 1);
        assert_eq!(held.services["ns/a"].decision, Decision::Announcing);
        let now = board.snapshot();
        assert_eq!(now.services["ns/a"].decision, Decision::NotAnnouncing);
        assert_eq!(now.node, "n1");
        board.record("ns/a", None);
        assert_eq!(board.snapshot().services.len(), 1);
    }

    /// A real memberlist node on loopback: `/status` lists it with its state.
    #[tokio::test]
    async fn memberlist_members_are_listed_with_their_state() {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("free port")
            .port();
        let bind = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let (handle, _events) =
            crate::memberlist::start(common::memberlist::Config::lan("n1", bind), bind)
                .await
                .expect("memberlist starts");
        let board = Board::new("n1");
        board.set_memberlist(handle);
        let mut doc = serde_json::Value::Null;
        for _ in 0..100 {
            doc = serde_json::from_str(&board.render(Format::Json)).expect("json");
            if doc["memberlist"].as_array().is_some_and(|m| !m.is_empty()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            doc["memberlist"],
            serde_json::json!([{"name": "n1", "addr": bind.to_string(), "state": "alive"}])
        );
        assert!(
            Board::new("n2")
                .render(Format::Json)
                .contains("\"memberlist\": null"),
            "no memberlist: null, the members come from the speaker pods"
        );
    }

    #[test]
    fn cluster_facts_reach_the_document() {
        let board = Board::new("n1");
        let cfg = common::config::parse(
            "address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n",
            common::config::Mode::NativeSpeaker,
        )
        .expect("valid");
        assert!(!board.layer2_in_use());
        board.set_cluster(Some(&cfg), &["n1".to_owned(), "n2".to_owned()].into());
        assert!(board.layer2_in_use());
        let doc: serde_json::Value =
            serde_json::from_str(&board.render(Format::Json)).expect("json");
        assert_eq!(doc["configLoaded"], true);
        assert_eq!(doc["members"], serde_json::json!(["n1", "n2"]));
        assert!(board.render(Format::Text).contains("members (2): n1, n2"));
    }
}
