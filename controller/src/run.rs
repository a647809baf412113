//! The in-cluster controller: watches, the reconcile loop, and the writers.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use anyhow::Context as _;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::PostParams;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Client};
use prometheus::Registry;
use tokio::task::JoinSet;

use crate::args::Args;

mod crd_source;
use crate::k8s::secret;
use crate::k8s::service::{SvcView, status_body};
use crate::queue::RetryQueue;
use crate::reconcile::{Action, Reconciler};
use common::crd::CrdSource;
use kube_shell::crd::ConfigSource;
use kube_shell::k8s_event::{EventType, Regarding};
use kube_shell::{EventSink, WatchHealth};

/// Status writes in flight at once: enough that the API server, not we, sets the pace.
const MAX_INFLIGHT_WRITES: usize = 32;
const COMPONENT: &str = "metallb-controller";

/// Runs the controller until the watches end (they retry forever).
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let client = kube_shell::client::connect(args.common.kubeconfig.as_deref()).await?;
    let namespace = args.common.namespace().map_err(anyhow::Error::msg)?;
    let registry = Registry::new();
    let metrics = Metrics::new(&registry)?;
    if let Some(name) = args.ml_secret_name.as_deref().filter(|s| !s.is_empty()) {
        let deployment = args.deployment.as_deref().unwrap_or_default();
        tokio::spawn(secret::keep_ensuring(
            client.clone(),
            namespace.clone(),
            name.to_owned(),
            deployment.to_owned(),
            metrics.forbidden.clone(),
        ));
    }
    let listener = kube_shell::bind_dual_stack(args.common.port)
        .with_context(|| format!("binding the metrics port {}", args.common.port))?;
    tokio::spawn(async move {
        if let Err(e) = crate::http::serve(listener, registry).await {
            tracing::error!(op = "serveMetrics", error = %e, "metrics endpoint failed");
        }
    });

    let source = args.common.config_source;
    reconcile_loop_from(
        client,
        namespace,
        args.common.config.clone(),
        source,
        metrics,
    )
    .await
}

/// The watches, the reconcile loop and the writers, on any client: in-cluster from [`run`],
/// on a mocked API server in the loop tests. Configured by the ConfigMap.
#[cfg(test)]
pub(crate) async fn reconcile_loop(
    client: Client,
    namespace: String,
    config_name: String,
    metrics: Metrics,
) -> anyhow::Result<()> {
    reconcile_loop_from(
        client,
        namespace,
        config_name,
        ConfigSource::Configmap,
        metrics,
    )
    .await
}

/// [`reconcile_loop`], configured from `source`.
pub(crate) async fn reconcile_loop_from(
    client: Client,
    namespace: String,
    config_name: String,
    source: ConfigSource,
    metrics: Metrics,
) -> anyhow::Result<()> {
    let crd = (source == ConfigSource::Crd)
        .then(|| CrdSource::new(common::config::Mode::Controller, config_name.clone()));
    Shell::new(client, namespace, config_name, metrics, crd)
        .run(Reconciler::new())
        .await
}

pub(crate) struct Metrics {
    k8s: kube_shell::metrics::K8sClient,
    pub(crate) forbidden: kube_shell::Forbidden,
    alloc: kube_shell::metrics::Allocator,
    pools: BTreeSet<String>,
}

impl Metrics {
    pub(crate) fn new(registry: &Registry) -> anyhow::Result<Self> {
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            forbidden: kube_shell::Forbidden::new(registry)?,
            k8s: kube_shell::metrics::K8sClient::new(registry)?,
            alloc: kube_shell::metrics::Allocator::new(registry)?,
            pools: BTreeSet::new(),
        })
    }

    fn refresh(&mut self, rec: &Reconciler) {
        self.k8s
            .config_loaded_bool
            .set(i64::from(rec.config().is_loaded()));
        self.k8s
            .config_stale_bool
            .set(i64::from(rec.config().is_stale()));
        let mut now = BTreeSet::new();
        for (pool, total, used) in rec.allocation().pool_usage() {
            self.alloc
                .addresses_total
                .with_label_values(&[&pool])
                .set(total);
            self.alloc
                .addresses_in_use_total
                .with_label_values(&[&pool])
                .set(used);
            now.insert(pool);
        }
        for gone in self.pools.difference(&now) {
            let _ = self.alloc.addresses_total.remove_label_values(&[gone]);
            let _ = self
                .alloc
                .addresses_in_use_total
                .remove_label_values(&[gone]);
        }
        self.pools = now;
    }
}

/// How a status write ended, as the writer task reports it to the loop.
pub enum Written {
    /// The server stored it; this is the object as stored now.
    Stored(Box<Service>),
    /// 409: someone changed the Service since we read it. The object as it is now, read
    /// again (`None`: it is gone), to decide on afresh.
    Conflict(Option<Box<Service>>),
    /// RBAC does not grant the write: retried with back-off, logged once for all services.
    Forbidden(kube_shell::Denied),
    /// Anything else (network, 5xx): retried with back-off.
    Failed(String),
}

type WriteResult = (String, Written);

struct Shell {
    client: Client,
    namespace: String,
    config_name: String,
    metrics: Metrics,
    queue: RetryQueue,
    events: EventSink,
    config_uid: Option<String>,
    writes: JoinSet<WriteResult>,
    /// Keys with a write in flight, and the next write to do once it lands.
    inflight: HashMap<String, Option<PendingWrite>>,
    /// Writes waiting for a free slot, oldest first, newest desired status per key.
    backlog: VecDeque<String>,
    backlog_items: HashMap<String, PendingWrite>,
    /// CRD mode (docs/crd.md#crd-mode): the objects, the candidate they make, and the
    /// ConfigMap's `config` text beside them (`None`: no ConfigMap).
    crd: Option<CrdSource>,
    configmap_text: Option<String>,
}

type PendingWrite = (Box<SvcView>, Vec<String>);

impl Shell {
    fn new(
        client: Client,
        namespace: String,
        config_name: String,
        metrics: Metrics,
        crd: Option<CrdSource>,
    ) -> Self {
        Self {
            events: EventSink::spawn_reporting(
                client.clone(),
                COMPONENT,
                metrics.forbidden.clone(),
            ),
            client,
            namespace,
            config_name,
            metrics,
            queue: RetryQueue::default(),
            config_uid: None,
            writes: JoinSet::new(),
            inflight: HashMap::new(),
            backlog: VecDeque::new(),
            backlog_items: HashMap::new(),
            crd,
            configmap_text: None,
        }
    }

    async fn run(mut self, mut rec: Reconciler) -> anyhow::Result<()> {
        let cm_api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let cm_watch =
            watcher::Config::default().fields(&format!("metadata.name={}", self.config_name));
        let mut config_events = watcher(cm_api, cm_watch).default_backoff().boxed();
        let mut service_events = watcher(
            Api::<Service>::all(self.client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .boxed();
        let mut listing: Option<Vec<SvcView>> = None;
        let mut listed_config: Option<Option<String>> = None;
        let mut last_config: Option<String> = None;
        let forbidden = &self.metrics.forbidden;
        let mut config_health =
            WatchHealth::new("watchConfigMap").reporting("configmaps", forbidden.clone());
        let mut service_health =
            WatchHealth::new("watchServices").reporting("services", forbidden.clone());
        let mut object_health = kube_shell::crd::Healths::new(forbidden);
        let mut object_events = match &self.crd {
            Some(_) => kube_shell::crd::watch_objects(&self.client, &self.namespace),
            None => futures::stream::pending().boxed(),
        };

        loop {
            let deadline = self.queue.next_deadline();
            let actions = tokio::select! {
                ev = config_events.next() => match ev {
                    Some(Ok(ev)) if self.crd.is_some() => { config_health.ok(now()); self.configmap_beside_objects(&mut rec, ev, &mut listed_config) }
                    Some(Ok(ev)) => { config_health.ok(now()); self.config_event(&mut rec, ev, &mut listed_config, &mut last_config) }
                    Some(Err(e)) => { config_health.watch_error(&e, now()); Vec::new() }
                    None => anyhow::bail!("configmap watch ended"),
                },
                ev = object_events.next() => match ev {
                    Some(ev) => self.object_event(&mut rec, ev, &mut object_health),
                    None => anyhow::bail!("metallb.io watches ended"),
                },
                ev = service_events.next() => {
                    let ev = ev.ok_or_else(|| anyhow::anyhow!("service watch ended"))?;
                    let mut services = ServiceFeed { rec: &mut rec, listing: &mut listing };
                    kube_shell::watch::feed(&mut services, ev, |s| Some(SvcView::from_service(s)), &mut service_health)
                },
                Some(done) = self.writes.join_next(), if !self.writes.is_empty() => {
                    match done {
                        Ok(result) => self.write_done(&mut rec, result),
                        Err(e) => { tracing::error!(op = "updateServiceStatus", error = %e, "status writer task failed"); Vec::new() }
                    }
                },
                _ = sleep_until(deadline), if deadline.is_some() => {
                    let due = self.queue.pop_due(now());
                    due.iter().flat_map(|k| rec.retry(k)).collect()
                },
            };
            self.metrics.k8s.updates_total.inc();
            self.apply(actions);
            self.metrics.refresh(&rec);
        }
    }

    fn config_event(
        &mut self,
        rec: &mut Reconciler,
        ev: Event<ConfigMap>,
        listed: &mut Option<Option<String>>,
        last: &mut Option<String>,
    ) -> Vec<Action> {
        let text_of = |cm: &ConfigMap| {
            cm.data
                .as_ref()
                .and_then(|d| d.get("config").cloned())
                .unwrap_or_default()
        };
        let mut changed = |rec: &mut Reconciler, text: Option<String>| {
            if text.is_some() && text == *last {
                return Vec::new();
            }
            let out = rec.config_changed(text.as_deref());
            if rec.config().current().is_some() && !rec.config().is_stale() {
                last.clone_from(&text);
            }
            out
        };
        match ev {
            Event::Init => {
                *listed = Some(None);
                Vec::new()
            }
            Event::InitApply(cm) => {
                self.config_uid.clone_from(&cm.metadata.uid);
                *listed = Some(Some(text_of(&cm)));
                Vec::new()
            }
            Event::InitDone => {
                let mut out = match listed.take().flatten() {
                    Some(text) => changed(rec, Some(text)),
                    // Absent at start-up: nothing to load (upstream waits silently).
                    None if rec.config().is_loaded() => changed(rec, None),
                    None => Vec::new(),
                };
                out.extend(rec.config_listed());
                out
            }
            Event::Apply(cm) => {
                self.config_uid.clone_from(&cm.metadata.uid);
                changed(rec, Some(text_of(&cm)))
            }
            Event::Delete(_) => {
                *last = None;
                rec.config_changed(None)
            }
        }
    }

    fn write_done(&mut self, rec: &mut Reconciler, (key, result): WriteResult) -> Vec<Action> {
        let next = self.inflight.remove(&key).flatten();
        let mut out = match result {
            Written::Stored(svc) => {
                rec.status_written(&key, SvcView::from_service(&svc).stored);
                self.queue.forget(&key);
                tracing::info!(event = "serviceUpdated", service = %key, "updated service object");
                next.into_iter()
                    .map(|(svc, ips)| Action::WriteStatus { svc, ips })
                    .collect()
            }
            Written::Conflict(fresh) => {
                self.metrics.k8s.update_errors_total.inc();
                tracing::info!(op = "updateServiceStatus", service = %key, "service changed since it was read, deciding again on the current object");
                // A queued write was decided on an older object too: the fresh one replaces it.
                match fresh {
                    Some(svc) => rec.service_changed(SvcView::from_service(&svc)),
                    None => Vec::new(),
                }
            }
            Written::Forbidden(denied) => {
                self.metrics
                    .forbidden
                    .report(&denied, "no status is written; retrying with back-off");
                retry_then(rec, &key, next)
            }
            Written::Failed(e) => {
                tracing::error!(op = "updateServiceStatus", service = %key, error = %e, "failed to update service status");
                retry_then(rec, &key, next)
            }
        };
        // A slot is free: start the oldest waiting write.
        while let Some(next) = self.backlog.pop_front() {
            if let Some((svc, ips)) = self.backlog_items.remove(&next) {
                out.push(Action::WriteStatus { svc, ips });
                break;
            }
        }
        out
    }

    fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::WriteStatus { svc, ips } => self.write_status(svc, ips),
                Action::ServiceEvent {
                    svc,
                    kind,
                    reason,
                    message,
                } => {
                    let about = Regarding {
                        kind: "Service",
                        namespace: svc.namespace.clone(),
                        name: svc.name.clone(),
                        uid: svc.uid.clone(),
                    };
                    self.events.post(about, kind, &reason, &message);
                }
                Action::ConfigEvent { reason, message } => {
                    let about = Regarding {
                        kind: "ConfigMap",
                        namespace: self.namespace.clone(),
                        name: self.config_name.clone(),
                        uid: self.config_uid.clone(),
                    };
                    self.events
                        .post(about, EventType::Warning, &reason, &message);
                }
                Action::ObjectEvent {
                    object,
                    uid,
                    reason,
                    message,
                } => {
                    let about = Regarding {
                        kind: object.kind,
                        namespace: self.namespace.clone(),
                        name: object.name,
                        uid,
                    };
                    self.events
                        .post(about, EventType::Warning, &reason, &message);
                }
                Action::Log {
                    level,
                    event,
                    key,
                    message,
                } => emit_log(level, event, key.as_deref(), &message),
                Action::Decided { .. } => {}
                Action::Retry { key } => {
                    self.metrics.k8s.update_errors_total.inc();
                    self.queue.retry(&key, now());
                }
            }
        }
    }

    fn write_status(&mut self, svc: Box<SvcView>, ips: Vec<String>) {
        let key = svc.key();
        if let Some(next) = self.inflight.get_mut(&key) {
            // One write per service at a time; the newest desired status wins.
            *next = Some((svc, ips));
            return;
        }
        if self.writes.len() >= MAX_INFLIGHT_WRITES {
            if self.backlog_items.insert(key.clone(), (svc, ips)).is_none() {
                self.backlog.push_back(key);
            }
            return;
        }
        self.inflight.insert(key.clone(), None);
        let client = self.client.clone();
        self.writes
            .spawn(async move { (key, put_status(&client, &svc, &ips).await) });
    }
}

/// A failed write goes back to the retry queue; the write queued behind it still starts.
fn retry_then(rec: &mut Reconciler, key: &str, next: Option<PendingWrite>) -> Vec<Action> {
    let mut out = rec.status_write_failed(key);
    out.extend(next.map(|(svc, ips)| Action::WriteStatus { svc, ips }));
    out
}

/// PUT `services/status` (the only Service write upstream's RBAC grants) with the object as
/// the server stored it and only the ingress list changed, at the resourceVersion it was read
/// at: a concurrent change is a 409, never a lost update, and labels, annotations, finalizers
/// and ownerReferences are written back as they are (docs/kubernetes.md#status-writes). On a
/// 409 the Service is read again (`get` is granted) for the loop to decide on.
pub async fn put_status(client: &Client, svc: &SvcView, ips: &[String]) -> Written {
    let api: Api<Service> = Api::namespaced(client.clone(), &svc.namespace);
    let base = match svc.stored_object() {
        Some(Ok(base)) => base,
        Some(Err(e)) => return Written::Failed(format!("stored object unreadable: {e}")),
        // Not kept (it was not ours to write when last seen): read it now.
        None => match api.get_opt(&svc.name).await {
            Ok(Some(base)) if base.metadata.uid == svc.uid => base,
            Ok(_) => return Written::Conflict(None),
            Err(e) => return Written::Failed(format!("reading it before the write: {e}")),
        },
    };
    let body = status_body(base, ips);
    match api
        .replace_status(&svc.name, &PostParams::default(), &body)
        .await
    {
        Ok(stored) => Written::Stored(Box::new(stored)),
        Err(kube::Error::Api(s)) if s.code == 409 => match api.get_opt(&svc.name).await {
            // Another Service of the same name is not ours to decide on from this write.
            Ok(fresh) => {
                Written::Conflict(fresh.filter(|f| f.metadata.uid == svc.uid).map(Box::new))
            }
            Err(e) => Written::Failed(format!("conflict, then reading it again: {e}")),
        },
        Err(e) => match kube_shell::Denied::of(&e, "update", "services/status") {
            Some(denied) => Written::Forbidden(denied),
            None => Written::Failed(e.to_string()),
        },
    }
}

/// The Services watch as a re-list index over the reconciler: live changes go straight in; a
/// (re-)list is collected and handed over at its end, where services it did not name are
/// deleted (kube-runtime sends no delete for objects gone during a watch outage).
struct ServiceFeed<'a> {
    rec: &'a mut Reconciler,
    listing: &'a mut Option<Vec<SvcView>>,
}

impl common::relist::Relist for ServiceFeed<'_> {
    type Object = SvcView;
    type Changes = Vec<Action>;

    fn apply(&mut self, svc: SvcView) -> Vec<Action> {
        self.rec.service_changed(svc)
    }

    fn delete(&mut self, svc: SvcView) -> Vec<Action> {
        self.rec.service_deleted(&svc.key())
    }

    fn begin(&mut self) {
        *self.listing = Some(Vec::new());
    }

    fn listed(&mut self, svc: SvcView) {
        self.listing.get_or_insert_with(Vec::new).push(svc);
    }

    fn commit(&mut self) -> Vec<Action> {
        let Some(listed) = self.listing.take() else {
            return Vec::new();
        };
        let present: BTreeSet<String> = listed.iter().map(SvcView::key).collect();
        let mut out: Vec<Action> = listed
            .into_iter()
            .flat_map(|svc| self.rec.service_changed(svc))
            .collect();
        out.extend(self.rec.services_listed(&present));
        out
    }
}

fn emit_log(level: tracing::Level, event: &str, key: Option<&str>, message: &str) {
    let service = key.unwrap_or_default();
    match level {
        tracing::Level::ERROR => tracing::error!(event, service, "{message}"),
        tracing::Level::WARN => tracing::warn!(event, service, "{message}"),
        tracing::Level::INFO => tracing::info!(event, service, "{message}"),
        _ => tracing::debug!(event, service, "{message}"),
    }
}

/// The loop's clock is tokio's, so the retry queue, the Event de-dup and the timer the loop
/// sleeps on agree, also when a test pauses time.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
