//! BGP mode of the speaker (docs/bgp.md): one session per configured peer whose node
//! selectors match this node, each advertising the node's whole set of routes.
//!
//! The protocol lives in [`common::bgp::Session`]; here are its I/O shell ([`driver`]: one
//! task per session owning the socket and the timer) and the [`BgpSpeaker`] that the
//! speaker's main loop drives. Every call on it is synchronous and cheap, so the main loop
//! can own it in its single task: peers and route changes are handed to the session tasks
//! through channels. Routes travel as changes (docs/bgp.md#packing): a hand-off costs the
//! prefixes it changes, and no copy of the whole set is kept here; a session that starts
//! is given the whole set once, by the caller.

mod batch;
mod dial;
mod driver;
mod interfaces;
mod stats;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::bgp::{self, DesiredRoutes, HoldTime, PeerConfig, RouteChange};
use common::config::{Labels, Peer};
use common::speaker::status::BgpSessionRow;
use kube_shell::metrics::Bgp;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use batch::{ROUTE_BATCH_GAP, ROUTE_BATCH_WINDOW, RouteBatch};
pub use dial::DialError;
pub use interfaces::InterfacesError;

use self::driver::DriverHandle;
use self::stats::{PeerSeries, Series};

/// How long [`BgpSpeaker::shutdown`] waits for the sessions to send their NOTIFICATION.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The BGP sessions of this node.
pub struct BgpSpeaker {
    node_name: String,
    series: Series,
    /// Active sessions, in configuration order.
    sessions: Vec<Running>,
    /// Tasks of closed sessions that may still be sending their NOTIFICATION.
    closing: Vec<JoinHandle<()>>,
    /// The active sessions as `/status` reads them, from another task.
    shared: BgpStatus,
    /// What the sessions were told to advertise, for tests of the speaker loop only.
    #[cfg(test)]
    mirror: tokio::sync::watch::Sender<Arc<DesiredRoutes>>,
}

/// The sessions of this node for `/status`: cheap to clone, read without involving the
/// speaker's loop.
#[derive(Clone, Default)]
pub struct BgpStatus {
    sessions: Arc<Mutex<Vec<(Peer, PeerSeries)>>>,
}

impl BgpStatus {
    /// One row per active session, in configuration order.
    pub fn sessions(&self) -> Vec<BgpSessionRow> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .iter()
            .map(|(peer, series)| {
                let v = series.view();
                BgpSessionRow {
                    peer: driver::peer_label(SocketAddr::new(peer.addr, peer.port)),
                    my_asn: peer.my_asn.get(),
                    peer_asn: peer.peer_asn.get(),
                    state: state_name(v.state),
                    prefixes_sent: v.prefixes_sent,
                    prefixes_pending: v.prefixes_pending,
                    last_error: v.last_error,
                }
            })
            .collect()
    }

    fn publish(&self, running: &[Running]) {
        let rows = running
            .iter()
            .map(|r| (r.peer.clone(), r.series.clone()))
            .collect();
        *self.sessions.lock().unwrap_or_else(|p| p.into_inner()) = rows;
    }
}

/// RFC 4271's name of a state.
fn state_name(s: bgp::StateKind) -> &'static str {
    match s {
        bgp::StateKind::Idle => "Idle",
        bgp::StateKind::Connect => "Connect",
        bgp::StateKind::OpenSent => "OpenSent",
        bgp::StateKind::OpenConfirm => "OpenConfirm",
        bgp::StateKind::Established => "Established",
    }
}

struct Running {
    peer: Peer,
    series: PeerSeries,
    driver: DriverHandle,
    routes: mpsc::UnboundedSender<Arc<[RouteChange]>>,
}

impl BgpSpeaker {
    /// No sessions and no routes yet. `metrics` must already be registered.
    pub fn new(node_name: impl Into<String>, metrics: Bgp) -> Self {
        Self {
            node_name: node_name.into(),
            series: Series::new(metrics),
            sessions: Vec::new(),
            closing: Vec::new(),
            shared: BgpStatus::default(),
            #[cfg(test)]
            mirror: tokio::sync::watch::Sender::new(Arc::default()),
        }
    }

    /// The handle `/status` reads the sessions through.
    pub fn status(&self) -> BgpStatus {
        self.shared.clone()
    }

    /// Applies a new peer list (after a config change or a change of this node's labels).
    ///
    /// A running session whose peer is still configured, deep-equal, and still selects
    /// this node is kept untouched; every other one is closed and its series deleted;
    /// peers that newly apply get a session (series created at 0) that connects at once
    /// and advertises `routes()`: the routes as the sessions have them, i.e. with every
    /// change handed to [`BgpSpeaker::apply_changes`] so far and no other. Must be called
    /// inside a tokio runtime.
    pub fn set_peers(
        &mut self,
        peers: Vec<Peer>,
        node_labels: &Labels,
        routes: &dyn Fn() -> DesiredRoutes,
    ) {
        self.closing.retain(|task| !task.is_finished());
        let (active, deselected): (Vec<Peer>, Vec<Peer>) =
            peers.into_iter().partition(|p| p.selects(node_labels));
        let mut kept: Vec<Running> = Vec::with_capacity(active.len());
        for running in std::mem::take(&mut self.sessions) {
            if active.contains(&running.peer) {
                kept.push(running);
                continue;
            }
            let reason = if deselected.contains(&running.peer) {
                "filteredByNodeSelector"
            } else {
                "removedFromConfig"
            };
            tracing::info!(peer = %running.peer.addr, event = "peerRemoved", reason, "peer deconfigured, closing BGP session");
            self.series.release(&running.series);
            self.closing.push(running.driver.stop());
        }
        for peer in active {
            let running = match kept.iter().position(|r| r.peer == peer) {
                Some(i) => kept.swap_remove(i),
                None => self.start(peer, routes()),
            };
            self.sessions.push(running);
        }
        self.shared.publish(&self.sessions);
    }

    /// The routes every session advertises changed so (in order); each session sends its
    /// peer the routes of the prefixes changed, packed.
    pub fn apply_changes(&mut self, changes: Vec<RouteChange>) {
        if changes.is_empty() {
            return;
        }
        #[cfg(test)]
        self.mirror.send_modify(|routes| {
            let mut rib = bgp::AdjRibOut::default();
            rib.replace((**routes).clone());
            rib.apply(&changes);
            *routes = Arc::new(rib.routes().clone());
        });
        let changes: Arc<[RouteChange]> = changes.into();
        for running in &self.sessions {
            // A closed channel means the session task ended; set_peers reaps it.
            let _ = running.routes.send(Arc::clone(&changes));
        }
    }

    /// What the sessions were told to advertise (tests of the speaker loop).
    #[cfg(test)]
    pub(crate) fn routes(&self) -> Arc<DesiredRoutes> {
        Arc::clone(&self.mirror.borrow())
    }

    /// A reader of [`BgpSpeaker::routes`] for tests that move the speaker into its loop
    /// (`Speaker::run` takes it by value) and still check what it would advertise.
    #[cfg(test)]
    pub(crate) fn routes_reader(&self) -> tokio::sync::watch::Receiver<Arc<DesiredRoutes>> {
        self.mirror.subscribe()
    }

    /// The peers with a session on this node, in configuration order.
    pub fn active_peers(&self) -> impl ExactSizeIterator<Item = &Peer> {
        self.sessions.iter().map(|r| &r.peer)
    }

    /// Closes every session (each sends a Cease NOTIFICATION) and waits a short while for
    /// them to leave; metrics series are deleted.
    pub async fn shutdown(mut self) {
        self.shared.publish(&[]);
        for running in std::mem::take(&mut self.sessions) {
            self.series.release(&running.series);
            self.closing.push(running.driver.stop());
        }
        let all = futures::future::join_all(self.closing.iter_mut());
        if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
            for task in &self.closing {
                task.abort();
            }
        }
    }

    fn start(&mut self, peer: Peer, routes: DesiredRoutes) -> Running {
        let config = session_config(&peer, &self.node_name);
        let label = driver::peer_label(config.peer);
        tracing::info!(peer = %peer.addr, event = "peerAdded", "peer configured, starting BGP session");
        let series = self.series.acquire(&label);
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let driver = driver::spawn(
            config,
            peer.password.as_bytes().to_vec(),
            routes,
            changes_rx,
            series.clone(),
        );
        Running {
            peer,
            series,
            driver,
            routes: changes,
        }
    }
}

/// The session's view of a configured peer. Hold times above 65535 s do not fit the OPEN
/// field; they are clamped (upstream wrapped them modulo 2^16).
fn session_config(peer: &Peer, node_name: &str) -> PeerConfig {
    let secs = u16::try_from(peer.hold_time.as_secs()).unwrap_or(u16::MAX);
    PeerConfig {
        local_asn: bgp::Asn(peer.my_asn.get()),
        peer_asn: bgp::Asn(peer.peer_asn.get()),
        peer: SocketAddr::new(peer.addr, peer.port),
        source_address: peer.src_addr,
        // The config type already excludes 1 and 2 seconds.
        hold_time: HoldTime::new(secs).unwrap_or(HoldTime::DEFAULT),
        router_id: peer.router_id,
        node_name: node_name.to_owned(),
    }
}
