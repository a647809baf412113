//! Layer 2 mode of the speaker: answers ARP and NDP for owned service IPs on every usable
//! interface and sends the gratuitous rounds that move traffic to this node.
//!
//! The decisions live in [`common::l2`]; this module only moves bytes. One driver task owns
//! the [`Announcer`] and the responders; each responder has a reader task that answers
//! requests from a shared snapshot of the owned set, so answering never waits on the driver.

mod arp;
mod links;
mod ndp;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use common::l2::announcer::{Announcer, OwnershipChange};
use common::l2::iface::{InterfaceTable, Responders};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use links::LinksError;
pub(crate) use links::link_from;

use self::arp::ArpResponder;
use self::links::LinkEvent;
use self::ndp::NdpResponder;

/// Per-IP counters, for `metallb_layer2_requests_received`, `…_responses_sent` and
/// `…_gratuitous_sent`. Called from the responder tasks: implementations must be cheap.
pub trait Layer2Stats: Send + Sync + 'static {
    /// A request (ARP request or NS) for an owned IP arrived.
    fn request_received(&self, ip: IpAddr);
    /// The reply to such a request was sent.
    fn response_sent(&self, ip: IpAddr);
    /// One gratuitous ARP frame, or one unsolicited NA on one interface, was sent.
    fn gratuitous_sent(&self, ip: IpAddr);
}

/// Counts nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStats;

impl Layer2Stats for NoStats {
    fn request_received(&self, _: IpAddr) {}
    fn response_sent(&self, _: IpAddr) {}
    fn gratuitous_sent(&self, _: IpAddr) {}
}

#[derive(Debug, Clone, Default)]
pub struct Layer2Config {
    /// `--garp-interval`: resend one gratuitous round per owned IP this often; `None`
    /// (default, as upstream) sends only the burst after an IP becomes owned.
    pub garp_interval: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum Layer2Error {
    #[error(transparent)]
    Links(#[from] LinksError),
    #[error("the layer 2 announcer has stopped")]
    Stopped,
}

/// The IPs any service announces, read by every responder for every request.
pub(crate) type OwnedSet = Arc<RwLock<HashSet<IpAddr>>>;

/// Handle to the running Layer 2 announcer. Dropping it (or [`Layer2::shutdown`]) stops
/// answering; nothing is sent on the way out, as upstream.
pub struct Layer2 {
    commands: mpsc::Sender<Command>,
    driver: JoinHandle<()>,
}

enum Command {
    Set {
        service: String,
        ips: Vec<IpAddr>,
        done: oneshot::Sender<()>,
    },
    Delete {
        service: String,
        done: oneshot::Sender<()>,
    },
}

impl Layer2 {
    /// Discovers interfaces and starts the responders. Must run inside a tokio runtime
    /// with I/O and time enabled; raw sockets need `CAP_NET_RAW`.
    pub async fn start(
        config: Layer2Config,
        stats: Arc<dyn Layer2Stats>,
    ) -> Result<Layer2, Layer2Error> {
        let (links, watcher) = links::watch().await?;
        let (commands, rx) = mpsc::channel(64);
        let driver = Driver {
            announcer: Announcer::new(config.garp_interval),
            owned: OwnedSet::default(),
            table: InterfaceTable::default(),
            running: BTreeMap::new(),
            stats,
        };
        let driver = tokio::spawn(driver.run(rx, links, watcher));
        Ok(Layer2 { commands, driver })
    }

    /// Announces exactly `ips` for `service` (the speaker's `SetBalancer`). Idempotent.
    pub async fn set_balancer(&self, service: &str, ips: Vec<IpAddr>) -> Result<(), Layer2Error> {
        let (done, wait) = oneshot::channel();
        self.send(
            Command::Set {
                service: service.to_owned(),
                ips,
                done,
            },
            wait,
        )
        .await
    }

    /// Stops announcing `service` (the speaker's `DeleteBalancer`).
    pub async fn delete_balancer(&self, service: &str) -> Result<(), Layer2Error> {
        let (done, wait) = oneshot::channel();
        self.send(
            Command::Delete {
                service: service.to_owned(),
                done,
            },
            wait,
        )
        .await
    }

    pub async fn shutdown(self) {
        drop(self.commands);
        let _ = self.driver.await;
    }

    async fn send(&self, cmd: Command, wait: oneshot::Receiver<()>) -> Result<(), Layer2Error> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| Layer2Error::Stopped)?;
        wait.await.map_err(|_| Layer2Error::Stopped)
    }
}

#[cfg(test)]
impl Layer2 {
    /// A handle that accepts every command and touches no interface, for tests of the
    /// speaker loop that must not send frames.
    pub(crate) fn inert() -> Layer2 {
        let (commands, mut rx) = mpsc::channel(64);
        let driver = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                match cmd {
                    Command::Set { done, .. } | Command::Delete { done, .. } => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Layer2 { commands, driver }
    }
}

/// The responders running on one interface, and what they were started for.
struct Running {
    spec: Responders,
    arp: Option<ArpResponder>,
    ndp: Option<NdpResponder>,
}

struct Driver {
    announcer: Announcer,
    owned: OwnedSet,
    table: InterfaceTable,
    running: BTreeMap<u32, Running>,
    stats: Arc<dyn Layer2Stats>,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut links: mpsc::UnboundedReceiver<LinkEvent>,
        watcher: JoinHandle<()>,
    ) {
        // The initial dump is already queued: start the responders before the first command
        // is taken, so that once `set_balancer` returns its IPs are answered.
        while let Ok(event) = links.try_recv() {
            self.apply(event);
        }
        self.reconcile();
        let mut links_open = true;
        loop {
            let deadline = self.announcer.next_deadline();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                event = links.recv(), if links_open => match event {
                    Some(event) => {
                        self.apply(event);
                        while let Ok(event) = links.try_recv() {
                            self.apply(event);
                        }
                        self.reconcile();
                    }
                    None => links_open = false,
                },
                () = sleep => self.send_rounds().await,
            }
        }
        watcher.abort();
    }

    fn command(&mut self, cmd: Command) {
        let (change, done) = match cmd {
            Command::Set { service, ips, done } => {
                (self.announcer.set_balancer(&service, ips, now()), done)
            }
            Command::Delete { service, done } => (self.announcer.delete_balancer(&service), done),
        };
        self.update_owned(&change);
        let _ = done.send(());
    }

    fn update_owned(&mut self, change: &OwnershipChange) {
        {
            let mut owned = self
                .owned
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for ip in &change.lost {
                owned.remove(ip);
            }
            owned.extend(change.gained.iter().copied());
        }
        for (ifindex, running) in &mut self.running {
            let Some(ndp) = running.ndp.as_mut() else {
                continue;
            };
            for ip in &change.gained {
                if let IpAddr::V6(v6) = ip
                    && let Err(err) = ndp.watch(*v6)
                {
                    tracing::warn!(interface = %running.spec.name, ifindex, ip = %v6, error = %err, "joining solicited-node group failed");
                }
            }
            for ip in &change.lost {
                if let IpAddr::V6(v6) = ip
                    && let Err(err) = ndp.unwatch(*v6)
                {
                    tracing::warn!(interface = %running.spec.name, ifindex, ip = %v6, error = %err, "leaving solicited-node group failed");
                }
            }
        }
    }

    fn apply(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Link(link) => self.table.upsert_link(link),
            LinkEvent::LinkGone(index) => self.table.remove_link(index),
            LinkEvent::Address(index, ip) => self.table.add_address(index, ip),
            LinkEvent::AddressGone(index, ip) => self.table.remove_address(index, ip),
        }
    }

    /// Stops responders of interfaces that went away or changed, starts the missing ones.
    fn reconcile(&mut self) {
        let desired = self.table.desired();
        self.running.retain(|index, running| {
            let keep = desired.get(index) == Some(&running.spec);
            if !keep {
                tracing::info!(interface = %running.spec.name, "stopping layer 2 responders");
            }
            keep
        });
        for (index, spec) in desired {
            if self.running.contains_key(&index) {
                continue;
            }
            let running = self.start_responders(index, spec);
            self.running.insert(index, running);
        }
    }

    fn start_responders(&self, index: u32, spec: Responders) -> Running {
        let arp = spec
            .arp
            .then(|| ArpResponder::start(index, &spec.name, spec.mac, Arc::clone(&self.owned), Arc::clone(&self.stats)))
            .and_then(|started| {
                started
                    .inspect_err(|err| tracing::error!(interface = %spec.name, error = %err, "creating ARP responder failed"))
                    .ok()
            });
        let mut ndp = spec
            .ndp
            .map(|_| NdpResponder::start(index, &spec.name, spec.mac, Arc::clone(&self.owned), Arc::clone(&self.stats)))
            .and_then(|started| {
                started
                    .inspect_err(|err| tracing::error!(interface = %spec.name, error = %err, "creating NDP responder failed"))
                    .ok()
            });
        // Unlike upstream, a responder created after IPs were announced joins their groups too.
        if let Some(ndp) = ndp.as_mut() {
            for ip in self.announcer.owned_ips() {
                if let IpAddr::V6(v6) = ip
                    && let Err(err) = ndp.watch(v6)
                {
                    tracing::warn!(interface = %spec.name, ip = %v6, error = %err, "joining solicited-node group failed");
                }
            }
        }
        tracing::info!(interface = %spec.name, arp = arp.is_some(), ndp = ndp.is_some(), "started layer 2 responders");
        Running { spec, arp, ndp }
    }

    async fn send_rounds(&mut self) {
        for round in self.announcer.poll_gratuitous(now()) {
            for running in self.running.values() {
                let sent = match round.ip {
                    IpAddr::V4(v4) => match &running.arp {
                        Some(arp) => arp.gratuitous(v4, &*self.stats).await,
                        None => continue,
                    },
                    IpAddr::V6(v6) => match &running.ndp {
                        Some(ndp) => ndp.gratuitous(v6, &*self.stats).await,
                        None => continue,
                    },
                };
                if let Err(err) = sent {
                    tracing::warn!(interface = %running.spec.name, ip = %round.ip, error = %err, "sending gratuitous announcement failed");
                }
            }
        }
    }
}
