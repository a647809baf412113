//! Layer 2 mode of the speaker: answers ARP and NDP for owned service IPs on every usable
//! interface and sends the gratuitous rounds that move traffic to this node.
//!
//! The decisions live in [`common::l2`]; this module only moves bytes. One driver task owns
//! the [`Announcer`] and the responders; each responder has a reader task that answers
//! requests from a shared snapshot of the owned set, so answering never waits on the driver.

mod answering;
mod arp;
mod links;
mod ndp;
mod reader;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::l2::announcer::{Announcer, OwnershipChange};
use common::l2::drain::Drain;
use common::l2::iface::{InterfaceTable, Responders};
use common::l2::pace::Pace;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use answering::DrainReport;
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
    /// `--garp-rate`: how fast gratuitous rounds may leave (docs/layer2.md#pacing); `None`
    /// sends each when due.
    pub garp_pace: Option<Pace>,
}

#[derive(Debug, thiserror::Error)]
pub enum Layer2Error {
    #[error(transparent)]
    Links(#[from] LinksError),
    #[error("the layer 2 announcer has stopped")]
    Stopped,
}

/// What every responder answers, read for every request.
pub(crate) type OwnedSet = Arc<answering::Answering>;

/// Handle to the running Layer 2 announcer. Dropping it (or [`Layer2::shutdown`]) stops
/// answering; nothing is sent on the way out, as upstream.
pub struct Layer2 {
    commands: mpsc::Sender<Command>,
    driver: JoinHandle<()>,
    answering: OwnedSet,
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
    Drain {
        deadline: Instant,
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
        let answering = OwnedSet::default();
        let driver = Driver {
            announcer: Announcer::new(config.garp_interval, config.garp_pace),
            owned: Arc::clone(&answering),
            table: InterfaceTable::default(),
            running: BTreeMap::new(),
            stats,
            draining: false,
        };
        let driver = tokio::spawn(driver.run(rx, links, watcher));
        Ok(Layer2 {
            commands,
            driver,
            answering,
        })
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

    /// Starts a graceful stop: no more gratuitous rounds; every IP owned now is answered
    /// until another MAC claims it on the wire or `deadline` passes (see
    /// [`common::l2::drain`]). Call before leaving memberlist, so that no claim is missed.
    pub async fn start_drain(&self, deadline: Instant) -> Result<(), Layer2Error> {
        let (done, wait) = oneshot::channel();
        self.send(Command::Drain { deadline, done }, wait).await
    }

    /// Waits until the drain started by [`Layer2::start_drain`] is over, then stops.
    pub async fn finish_drain(self) -> DrainReport {
        let report = self.answering.drained().await;
        self.shutdown().await;
        report
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
    /// speaker loop that must not send frames; the other half records the commands it took
    /// and the balancers they leave in place.
    pub(crate) fn observed() -> (Layer2, Observed) {
        let observed = Observed::default();
        let log = observed.clone();
        let (commands, mut rx) = mpsc::channel(64);
        let driver = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                let done = match cmd {
                    Command::Set { service, ips, done } => {
                        log.record(Call::Set(service, ips));
                        done
                    }
                    Command::Delete { service, done } => {
                        log.record(Call::Delete(service));
                        done
                    }
                    Command::Drain { done, .. } => done,
                };
                let _ = done.send(());
            }
        });
        let layer2 = Layer2 {
            commands,
            driver,
            answering: OwnedSet::default(),
        };
        (layer2, observed)
    }
}

/// One command an observed inert [`Layer2`] took.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Set(String, Vec<IpAddr>),
    Delete(String),
}

/// What an observed inert [`Layer2`] was told; clones share it.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed(Arc<std::sync::Mutex<Record>>);

#[cfg(test)]
#[derive(Debug, Default)]
struct Record {
    calls: Vec<Call>,
    balancers: BTreeMap<String, Vec<IpAddr>>,
}

#[cfg(test)]
impl Observed {
    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, call: Call) {
        let mut record = self.lock();
        match &call {
            Call::Set(service, ips) => {
                record.balancers.insert(service.clone(), ips.clone());
            }
            Call::Delete(service) => {
                record.balancers.remove(service);
            }
        }
        record.calls.push(call);
    }

    /// The commands taken since the last call, in order.
    pub(crate) fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.lock().calls)
    }

    /// The services announced now, with their IPs.
    pub(crate) fn balancers(&self) -> BTreeMap<String, Vec<IpAddr>> {
        self.lock().balancers.clone()
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
    /// A graceful stop is under way: no gratuitous rounds any more, NAs are listened to.
    draining: bool,
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
            // A leaving node sends nothing: its rounds would fight the new owner's.
            let deadline = self.announcer.next_deadline().filter(|_| !self.draining);
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
            Command::Drain { deadline, done } => {
                self.start_drain(deadline);
                let _ = done.send(());
                return;
            }
        };
        self.update_owned(&change);
        let _ = done.send(());
    }

    fn start_drain(&mut self, deadline: Instant) {
        let ours: Vec<_> = self.running.values().map(|r| r.spec.mac).collect();
        self.owned
            .start_drain(Drain::new(self.announcer.owned_ips(), ours, deadline));
        self.draining = true;
        for running in self.running.values() {
            if let Some(ndp) = &running.ndp {
                ndp.hear_advertisements(&running.spec.name);
            }
        }
        tracing::info!(
            ips = self.announcer.owned_ips().count(),
            "leaving: answering until taken over"
        );
    }

    fn update_owned(&mut self, change: &OwnershipChange) {
        self.owned.update(change);
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
            if self.draining {
                ndp.hear_advertisements(&spec.name);
            }
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
                        Some(arp) => arp.gratuitous(v4, &*self.stats),
                        None => continue,
                    },
                    IpAddr::V6(v6) => match &running.ndp {
                        Some(ndp) => ndp.gratuitous(v6, &*self.stats),
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
