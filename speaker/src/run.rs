//! The in-cluster speaker: watches, the per-service decisions, and the Layer 2 dataplane.
//!
//! One task owns all state. Watch events feed the index of the cluster
//! (`common::speaker::Index`, see `feed`), which reports the services to re-decide (or all
//! of them, for changes every decision depends on: config, live speakers, excluded nodes);
//! after each event those services are decided with `common::speaker::decide` and the
//! resulting changes are applied to the dataplane, the metrics and the Events.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use common::config::{Loaded, Mode, Protocol};
use common::speaker::{
    Announcements, Change, Changed, Cluster, Endpoint, Index, JoinGate, Live, RouteTable, Sources,
    Verdict, decide,
};
use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ListParams, ObjectList};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client};
use kube_shell::EventSink;
use kube_shell::k8s_event::{EventType, Regarding};
use kube_shell::metrics::Layer2Counter;

use crate::k8s;
use crate::l2::Layer2;

mod explain;
#[cfg(test)]
mod fake_api_tests;
#[cfg(test)]
mod fake_cluster;
mod feed;
#[cfg(test)]
mod harness;
mod join_gate;
#[cfg(test)]
mod join_gate_tests;
mod routes;

use join_gate::START_JOIN_GRACE;
mod sources;

const COMPONENT: &str = "metallb-speaker";
/// Where the live speakers come from, for `/status`.
const LIVE_FROM_PODS: &str = "speakerPods";
const LIVE_FROM_ENDPOINTS: &str = "readyEndpointNodes";
const LIVE_FROM_MEMBERLIST: &str = "memberlist";
/// How often the speaker pods are listed (the RBAC grants `list`, not `watch`).
const POD_POLL: Duration = Duration::from_secs(30);
/// Objects per page of the initial lists (kube's default is 500). A page is held deserialised
/// until its objects are consumed, and the three big watches list at once: with 100, a
/// 1 000-service speaker's heap peaks ~2 MB lower, for 5× the list requests (10 for
/// 1 000 services, each a fraction of a millisecond of the API server's time).
const LIST_PAGE: u32 = 100;
/// Services decided before their changes are carried out, when many are re-decided at once.
const DECIDE_CHUNK: usize = 256;

/// What a run needs from the command line.
pub struct Settings {
    pub node: String,
    pub namespace: String,
    pub config_name: String,
    pub disable_epslices: bool,
    /// Label selector of the speaker pods (whose Ready nodes are the live speakers when
    /// memberlist is off, and whose IPs memberlist joins).
    pub speaker_labels: String,
    /// memberlist's port, for joining the other speakers' pod IPs.
    pub memberlist_port: u16,
    /// The Layer 2 election rule (set, or detected from the command line), and why.
    pub election: common::l2::election_key::KeyChoice,
}

/// A running memberlist node: membership comes from it instead of pod readiness.
pub struct Membership {
    pub handle: crate::memberlist::Handle,
    pub events: tokio::sync::mpsc::UnboundedReceiver<crate::memberlist::Notification>,
}

/// The metrics the speaker updates.
pub struct Metrics {
    pub k8s: kube_shell::metrics::K8sClient,
    pub announced: kube_shell::metrics::Announced,
    /// Calls the installed RBAC refuses (logged once each, counted).
    pub forbidden: kube_shell::Forbidden,
}

/// All of the speaker's state.
pub struct Speaker {
    settings: Settings,
    client: Client,
    metrics: Metrics,
    layer2: Layer2,
    config: Loaded,
    /// The cluster as the watches deliver it: services, endpoints, nodes, ConfigMap text.
    index: Index,
    live: BTreeSet<String>,
    /// No memberlist and the RBAC refuses `list pods` (v0.8.x installs): see [`Live::Unknown`].
    pods_forbidden: bool,
    announcements: Announcements,
    /// The BGP routes of `announcements`, kept per service: a service's change costs its own
    /// prefixes, not a pass over every announced service, and the sessions are handed the
    /// changes, not the set.
    routes: RouteTable,
    /// Route changes wait here a few milliseconds for others, then go out together; under
    /// churn, hand-offs are at least `ROUTE_BATCH_GAP` apart.
    route_batch: crate::bgp::RouteBatch,
    /// Events go out through a sink that never waits: a decision is never held up by the API.
    events: EventSink,
    watch_health: feed::Healths,
    /// The ConfigMap, or in CRD mode the metallb.io objects (docs/crd.md#crd-mode).
    source: sources::Source,
    membership: Option<Membership>,
    /// Holds the first decisions until the listed speakers are memberlist members.
    join_gate: JoinGate,
    bgp: crate::bgp::BgpSpeaker,
    /// What `/status` shows (see `explain`).
    status: crate::status::Board,
}

impl Speaker {
    pub fn new(
        settings: Settings,
        client: Client,
        metrics: Metrics,
        layer2: Layer2,
        membership: Option<Membership>,
        bgp: crate::bgp::BgpSpeaker,
    ) -> Self {
        Self {
            index: Index::new(settings.node.clone()),
            watch_health: feed::Healths::new(&metrics.forbidden),
            source: sources::Source::configmap(&metrics.forbidden),
            events: EventSink::spawn_reporting(
                client.clone(),
                COMPONENT,
                metrics.forbidden.clone(),
            ),
            settings,
            client,
            metrics,
            layer2,
            config: Loaded::new(Mode::NativeSpeaker),
            live: BTreeSet::new(),
            pods_forbidden: false,
            announcements: Announcements::default(),
            routes: RouteTable::new(),
            route_batch: crate::bgp::RouteBatch::new(
                crate::bgp::ROUTE_BATCH_WINDOW,
                crate::bgp::ROUTE_BATCH_GAP,
            ),
            join_gate: if membership.is_some() {
                JoinGate::waiting(START_JOIN_GRACE)
            } else {
                JoinGate::Open
            },
            membership,
            bgp,
            status: crate::status::Board::default(),
        }
    }

    /// Runs until a watch ends for good or SIGTERM.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let c = self.client.clone();
        let ns = self.settings.namespace.clone();
        let cm_cfg = watcher::Config::default()
            .fields(&format!("metadata.name={}", self.settings.config_name));
        let mut configs = watcher(Api::<ConfigMap>::namespaced(c.clone(), &ns), cm_cfg)
            .default_backoff()
            .boxed();
        let mut objects = self.source.watch(&c, &ns);
        let paged = || watcher::Config::default().page_size(LIST_PAGE);
        let mut services = watcher(Api::<Service>::all(c.clone()), paged())
            .default_backoff()
            .boxed();
        let mut nodes = watcher(Api::<Node>::all(c.clone()), paged())
            .default_backoff()
            .boxed();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let source = tokio::select! {
            source = sources::choose(&c, self.settings.disable_epslices, &self.metrics.forbidden) => source,
            _ = term.recv() => return Ok(()),
        };
        tracing::info!(op = "endpointsSource", source = ?source, "reading endpoints");
        let mut slices = (source == sources::EndpointsApi::Slices).then(|| {
            watcher(Api::<EndpointSlice>::all(c.clone()), paged())
                .default_backoff()
                .boxed()
        });
        let mut eps = (source == sources::EndpointsApi::Endpoints).then(|| {
            watcher(Api::<Endpoints>::all(c.clone()), paged())
                .default_backoff()
                .boxed()
        });
        let mut pod_poll = tokio::time::interval(POD_POLL);
        // The speaker-pod list in flight, if any. It runs beside the loop, not inside it:
        // awaited inline, one slow list held every decision up for as long as the API server
        // took to answer, and a hung one for good (kube's client sets no read timeout).
        let mut pod_list: Option<PodList> = None;

        // Nothing is decided until the four initial lists are complete; see `Startup`.
        let mut startup = Some(Startup::default());
        // The join gate's clock, and its deadline as a timer so that the gate opens then even
        // when nothing else happens.
        let started = tokio::time::Instant::now();
        let grace = tokio::time::sleep(START_JOIN_GRACE);
        tokio::pin!(grace);
        let mut grace_over = false;
        loop {
            let mut listed = |watch: fn(&mut Startup) -> &mut bool, done: bool| {
                if let Some(s) = startup.as_mut() {
                    *watch(s) |= done;
                }
            };
            let dirty = tokio::select! {
                ev = configs.next() => {
                    let ev = ev.context("configmap watch ended")?;
                    let done = init_done(&ev);
                    let dirty = self.on_config(ev);
                    listed(|s| &mut s.config, self.source.listed(done));
                    dirty
                }
                ev = objects.next() => {
                    let ev = ev.context("metallb.io watches ended")?;
                    let dirty = self.on_objects(ev);
                    listed(|s| &mut s.config, self.source.listed(false));
                    dirty
                }
                ev = services.next() => {
                    let ev = ev.context("service watch ended")?;
                    listed(|s| &mut s.services, init_done(&ev));
                    self.on_service(ev)
                }
                ev = nodes.next() => {
                    let ev = ev.context("node watch ended")?;
                    listed(|s| &mut s.nodes, init_done(&ev));
                    let rejoin = ev.as_ref().is_ok_and(|e| k8s::own_node_changed(e, &self.settings.node));
                    let dirty = self.on_node(ev);
                    if rejoin && self.membership.is_some() && pod_list.is_none() {
                        // memberlist: joins listed speakers not yet members
                        pod_list = Some(self.list_pods());
                    }
                    dirty
                }
                Some(ev) = next_opt(&mut slices) => {
                    listed(|s| &mut s.endpoints, init_done(&ev));
                    self.on_endpoints(ev, k8s::endpoint_slice)
                }
                Some(ev) = next_opt(&mut eps) => {
                    listed(|s| &mut s.endpoints, init_done(&ev));
                    self.on_endpoints(ev, |e: &Endpoints| Some(k8s::endpoints(e)))
                }
                _ = pod_poll.tick() => {
                    // A list still in flight answers for this tick too.
                    if pod_list.is_none() {
                        pod_list = Some(self.list_pods());
                    }
                    continue;
                }
                Some(listed) = next_opt_future(&mut pod_list) => {
                    pod_list = None;
                    self.on_pods(listed).await
                }
                Some(n) = next_membership(&mut self.membership) => self.on_membership(n),
                () = &mut grace, if !grace_over => {
                    grace_over = true;
                    Changed::default()
                }
                () = self.route_batch.due() => {
                    self.push_bgp_routes();
                    continue;
                }
                _ = term.recv() => {
                    tracing::info!(op = "shutdown", "SIGTERM received, stopping");
                    let handle = self.membership.take().map(|m| m.handle);
                    crate::stop::leave_and_drain(handle, self.layer2, crate::stop::DRAIN_GRACE).await;
                    // Each session sends a Cease, so routers withdraw our routes at once.
                    self.bgp.shutdown().await;
                    return Ok(());
                }
            };
            self.metrics.k8s.updates_total.inc();
            match startup {
                // Whatever changed before is covered by the first pass, which decides all.
                Some(s) if !s.complete() => continue,
                Some(_) if !self.join_gate_open(started.elapsed()) => continue,
                Some(_) => {
                    startup = None;
                    tracing::info!(
                        op = "startup",
                        services = self.index.services.len(),
                        "initial lists complete, deciding every service"
                    );
                    self.reconcile(Changed::everything()).await;
                    // The whole set at once: nothing to wait for.
                    self.flush_routes();
                }
                None => self.reconcile(dirty).await,
            }
        }
    }

    /// memberlist changed: its members are the live speakers.
    fn on_membership(&mut self, n: crate::memberlist::Notification) -> Changed {
        match n {
            crate::memberlist::Notification::Event(_) => {
                let Some(m) = &self.membership else {
                    return Changed::default();
                };
                let live: BTreeSet<String> =
                    m.handle.members().into_iter().map(|m| m.name).collect();
                if live == self.live {
                    return Changed::default();
                }
                tracing::info!(
                    component = "Memberlist",
                    event = "nodeEvent",
                    members = live.len(),
                    "node event - forcing sync"
                );
                self.live = live;
                Changed::everything()
            }
            crate::memberlist::Notification::JoinFinished(addr, Err(e)) => {
                tracing::warn!(component = "Memberlist", peer = %addr, error = %e, "join failed");
                Changed::default()
            }
            crate::memberlist::Notification::JoinFinished(_, Ok(())) => Changed::default(),
        }
    }

    /// Lists the speaker pods (the RBAC grants `list`, not `watch`); the loop polls the
    /// future beside the watches and hands the answer to [`Speaker::on_pods`].
    fn list_pods(&self) -> PodList {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        let params = ListParams::default().labels(&self.settings.speaker_labels);
        async move { pods.list(&params).await }.boxed()
    }

    /// The listed speaker pods. With memberlist, their addresses become memberlist's peers,
    /// re-joined while not members (what heals partitions). Without it, their Ready nodes
    /// are the live speakers (upstream announced nothing for Cluster-policy services then,
    /// issue #2005).
    async fn on_pods(&mut self, listed: kube::Result<ObjectList<Pod>>) -> Changed {
        let list = match listed {
            Ok(list) => list,
            Err(e) => {
                if let Some(denied) = kube_shell::Denied::of(&e, "list", "pods") {
                    self.metrics.forbidden.report(
                        &denied,
                        "no live-speaker list: Layer 2 owners are elected among the nodes hosting a ready endpoint, as MetalLB v0.8 did",
                    );
                    if !self.pods_forbidden && self.membership.is_none() {
                        self.pods_forbidden = true;
                        self.status.set_live_source(LIVE_FROM_ENDPOINTS);
                        return Changed::everything();
                    }
                    return Changed::default();
                }
                tracing::warn!(op = "listSpeakers", error = %e, "failed to list speaker pods");
                return Changed::default();
            }
        };
        if std::mem::take(&mut self.pods_forbidden) {
            // The RBAC now grants it (an operator added the pod-lister Role).
            self.status.set_live_source(LIVE_FROM_PODS);
            self.live.clear();
        }
        if let Some(m) = &self.membership {
            self.join_gate
                .on_listed(list.items.iter().filter_map(k8s::ready_pod_node).collect());
            let port = self.settings.memberlist_port;
            let peers: Vec<std::net::SocketAddr> = list
                .items
                .iter()
                .filter_map(k8s::pod_ip)
                .map(|ip| std::net::SocketAddr::new(ip, port))
                .collect();
            // Joins those not yet members now, and again every few seconds while they are not.
            m.handle.set_peers(peers).await;
            return Changed::default();
        }
        let live: BTreeSet<String> = list.items.iter().filter_map(k8s::ready_pod_node).collect();
        if live == self.live {
            return Changed::default();
        }
        tracing::info!(
            event = "speakersChanged",
            count = live.len(),
            "live speakers changed - forcing sync"
        );
        self.live = live;
        Changed::everything()
    }

    fn announced_ips(&self) -> Vec<(String, Vec<IpAddr>)> {
        self.announcements
            .iter()
            .map(|(k, _, ips)| (k.to_owned(), ips.to_vec()))
            .collect()
    }

    /// Decides the services `changed` names (all of them for `changed.all`) and carries out
    /// what changed.
    async fn reconcile(&mut self, changed: Changed) {
        let keys: BTreeSet<String> = if changed.all {
            let mut all: BTreeSet<String> = self.index.services.keys().map(str::to_owned).collect();
            // Announced services that vanished from the cache must be re-decided too.
            all.extend(self.announcements.iter().map(|(k, _, _)| k.to_owned()));
            all
        } else if changed.services.is_empty() {
            return;
        } else {
            changed.services
        };
        let sessions = self.bgp.active_peers().len();
        let keys: Vec<String> = keys.into_iter().collect();
        let mut bgp_changed = false;
        // Decided and carried out a chunk at a time: deciding every service before carrying
        // any out held all their changes at once (1.4 MB of the peak at 10 000 services).
        for chunk in keys.chunks(DECIDE_CHUNK) {
            for change in self.decide_services(chunk, sessions) {
                bgp_changed |= self.apply(change).await;
            }
        }
        if bgp_changed {
            self.route_batch.touch();
        }
        self.publish_cluster();
    }

    /// Decides the services `keys` names (recording each decision for `/status`); returns
    /// what changed.
    fn decide_services(&mut self, keys: &[String], sessions: usize) -> Vec<Change> {
        let mut changes = Vec::new();
        let cluster = Cluster {
            node: &self.settings.node,
            config: self.config.current().map(|c| &**c),
            // Field by field (not a method on self): the loop below mutates other fields.
            live: if self.pods_forbidden {
                Live::Unknown
            } else {
                Live::Known(&self.live)
            },
            excluded: self.index.nodes.excluded(),
            election: self.settings.election.key,
        };
        for key in keys {
            let entry = self.index.services.get(key);
            let merged: Option<Vec<Endpoint>> = self.index.endpoints.get(key).map(Sources::merged);
            let verdict = match entry {
                // A deleted service, or one without endpoints objects, is withdrawn.
                None => {
                    self.status.record(key, None);
                    Verdict::Withdraw(common::speaker::Reason::ServiceDeleted)
                }
                Some(e) => {
                    // Empty unless the service-name key is in use and the IP is shared.
                    let sharers = self.index.sharers(key, cluster.election);
                    let svc = e.view(key, merged.as_deref()).sharing(&sharers);
                    let verdict = decide(&svc, &cluster);
                    self.status.record(
                        key,
                        common::speaker::status::service_row(&svc, &cluster, &verdict, sessions),
                    );
                    verdict
                }
            };
            changes.extend(self.announcements.apply(key, &verdict));
        }
        changes
    }

    /// Carries out one change; returns whether the BGP routes changed.
    async fn apply(&mut self, change: Change) -> bool {
        match change {
            Change::Announce { key, protocol, ips } => {
                let routes_changed = protocol == Protocol::Bgp && self.set_routes_of(&key, &ips);
                if protocol == Protocol::Layer2
                    && let Err(e) = self.layer2.set_balancer(&key, ips.clone()).await
                {
                    tracing::error!(op = "setBalancer", service = %key, error = %e, "failed to announce");
                }
                for ip in &ips {
                    self.metrics.announced.set(&key, protocol.as_str(), *ip);
                }
                tracing::info!(event = "serviceAnnounced", service = %key, protocol = protocol.as_str(), ips = ?ips.iter().map(|i| common::gotext::ip_string(*i)).collect::<Vec<_>>(), "service has IP, announcing");
                let message = common::speaker::status::announcing_message(&self.settings.node);
                self.post_service_event(&key, EventType::Normal, "nodeAssigned", &message);
                routes_changed
            }
            Change::Withdraw {
                key,
                protocol,
                ips,
                reason,
            } => {
                let routes_changed = protocol == Protocol::Bgp && self.routes.remove(&key);
                if protocol == Protocol::Layer2
                    && let Err(e) = self.layer2.delete_balancer(&key).await
                {
                    tracing::error!(op = "deleteBalancer", service = %key, error = %e, "failed to withdraw");
                }
                for ip in &ips {
                    self.metrics.announced.remove(&key, *ip);
                }
                tracing::info!(event = "serviceWithdrawn", service = %key, reason = reason.as_str(), "withdrawing service announcement");
                if let Some((why, message)) =
                    common::speaker::status::withdraw_event(&self.settings.node, &reason)
                {
                    self.post_service_event(&key, EventType::Normal, why, &message);
                }
                routes_changed
            }
        }
    }

    fn post_service_event(&self, key: &str, kind: EventType, reason: &str, message: &str) {
        let Some((ns, name)) = key.split_once('/') else {
            return;
        };
        let uid = self.index.services.get(key).and_then(|s| s.uid.clone());
        let about = Regarding {
            kind: "Service",
            namespace: ns.to_owned(),
            name: name.to_owned(),
            uid,
        };
        self.events.post(about, kind, reason, message);
    }
}

/// Which initial lists are complete. Deciding before all four are would announce from a
/// partial view (services without their endpoints withdrawn, then announced again) and
/// recompute the routes per listed object; after them, every service is decided once and
/// the sessions get the whole route set at once, packed (`docs/bgp.md#packing`). A missing
/// ConfigMap still completes its list, empty. Without memberlist the speaker pods are not
/// waited for: their answer re-decides every service when it comes. With memberlist, the
/// first decisions also wait for the [`JoinGate`] (docs/layer2.md#start-up): deciding while
/// memberlist holds only this node announced addresses other nodes own.
#[derive(Debug, Default, Clone, Copy)]
struct Startup {
    config: bool,
    services: bool,
    endpoints: bool,
    nodes: bool,
}

impl Startup {
    fn complete(&self) -> bool {
        self.config && self.services && self.endpoints && self.nodes
    }
}

/// Whether a watch item ends a list (the initial one, or a re-list).
fn init_done<K>(ev: &Result<watcher::Event<K>, watcher::Error>) -> bool {
    matches!(ev, Ok(watcher::Event::InitDone))
}

async fn next_membership(m: &mut Option<Membership>) -> Option<crate::memberlist::Notification> {
    match m {
        Some(m) => m.events.recv().await,
        None => std::future::pending().await,
    }
}

/// A speaker-pod list in flight.
type PodList = futures::future::BoxFuture<'static, kube::Result<ObjectList<Pod>>>;

/// The answer of the pod list in flight; never, while none is.
async fn next_opt_future<F: std::future::Future + Unpin>(f: &mut Option<F>) -> Option<F::Output> {
    match f {
        Some(f) => Some(f.await),
        None => std::future::pending().await,
    }
}

async fn next_opt<S: futures::Stream + Unpin>(s: &mut Option<S>) -> Option<S::Item> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Feeds the Layer 2 dataplane's counters into upstream's `metallb_layer2_*` series.
pub struct Layer2Metrics(pub kube_shell::metrics::Layer2);

impl crate::l2::Layer2Stats for Layer2Metrics {
    fn request_received(&self, ip: IpAddr) {
        self.0.inc(Layer2Counter::RequestsReceived, ip);
    }
    fn response_sent(&self, ip: IpAddr) {
        self.0.inc(Layer2Counter::ResponsesSent, ip);
    }
    fn gratuitous_sent(&self, ip: IpAddr) {
        self.0.inc(Layer2Counter::GratuitousSent, ip);
    }
}

/// Builds the Layer 2 stats sink.
pub fn layer2_stats(m: kube_shell::metrics::Layer2) -> Arc<dyn crate::l2::Layer2Stats> {
    Arc::new(Layer2Metrics(m))
}
