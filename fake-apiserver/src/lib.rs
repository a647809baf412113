//! An in-memory Kubernetes API server with the real kube-apiserver's semantics, for tests and
//! benchmarks of the controller and speaker.
//!
//! Scripted mocks answered what the test author expected, and two bugs passed them only to
//! break on a real cluster: a status PUT that replaced the Service's metadata, and caches that
//! ignored re-list boundaries after `410 Expired`. This server instead implements the rules a
//! client depends on, the way kube-apiserver does:
//!
//! - one global `resourceVersion`, bumped by every write, on objects and lists; a write that
//!   changes nothing is skipped (no new version, no event), as etcd's guaranteed update does;
//! - create (uid, creationTimestamp, generateName, `AlreadyExists`), update with optimistic
//!   concurrency (`Conflict` with the real message), the main/status split of resources with a
//!   status subresource (a status PUT takes **metadata and status from the body**, everything
//!   else from storage), delete with finalizers (deletionTimestamp until they are gone),
//!   merge patch;
//! - list with label/field selectors and `limit`/`continue` paging;
//! - watch replaying a bounded event history from a resourceVersion, `410 Expired` (as a watch
//!   ERROR event) once that version is compacted away, so clients must re-list;
//! - RBAC denials, resources not served, latency and outages, switchable at run time;
//! - `metav1.Status` error bodies with the real reasons and messages.
//!
//! It serves in-process ([`FakeApi::client`], a tower service: works under tokio's paused
//! time) and over TCP ([`FakeApi::serve`], for whole-process benchmarks; the binary adds
//! a control API under `/_fake/`). Objects are JSON values, so unknown fields survive.

mod control;
mod http;
pub mod paths;
pub mod rbac;
pub mod releases;
pub mod selector;
pub mod status;
pub mod store;
mod watch;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

pub use crate::http::FakeService;
pub use crate::rbac::{Rbac, Rule, Verb};
pub use crate::status::ApiError;
use crate::store::Store;

/// Requests kept for [`FakeApi::requests`]; older ones are dropped (counters keep counting).
const REQUEST_LOG_LIMIT: usize = 100_000;

/// One request as the server saw and answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// Raw query string (percent-encoded), empty when none.
    pub query: String,
    /// HTTP status of the response (200 for a watch, whatever it then streams).
    pub status: u16,
    /// The JSON request body, if any.
    pub body: Option<Value>,
}

/// What open watch streams react to; bumped through a `tokio::sync::watch` channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Signal {
    pub rv: u64,
    pub compactions: u64,
    pub outages: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub store: Store,
    pub rbac: Option<Rbac>,
    pub unserved: HashSet<&'static str>,
    pub latency: HashMap<Verb, Duration>,
    pub down: bool,
    pub log: VecDeque<RequestRecord>,
    /// Requests per (verb, resource), for `/_fake/stats`.
    pub counts: BTreeMap<(Verb, &'static str), u64>,
    /// Successful writes per object path.
    pub writes: BTreeMap<String, u64>,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub signal: tokio::sync::watch::Sender<Signal>,
}

/// The fake API server: cheap to clone, every clone is the same server.
#[derive(Clone)]
pub struct FakeApi {
    pub(crate) shared: Arc<Shared>,
}

impl Default for FakeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeApi {
    /// An empty cluster: no objects, everything allowed, no latency, up.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                signal: tokio::sync::watch::Sender::new(Signal::default()),
            }),
        }
    }

    /// A server whose watch history keeps only the last `events` writes (default 10 000), to
    /// provoke `410 Expired` by trimming instead of [`FakeApi::compact`].
    pub fn with_history_limit(events: usize) -> Self {
        let api = Self::new();
        api.state().store = Store::new(events);
        api
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock (a test assertion elsewhere) must not cascade.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes watch streams after a write (or a compaction/outage).
    pub(crate) fn notify(&self, f: impl FnOnce(&mut Signal)) {
        let rv = self.state().store.rv();
        self.shared.signal.send_modify(|s| {
            s.rv = rv;
            f(s);
        });
    }

    /// The tower service the in-process client and the TCP server both call.
    pub fn service(&self) -> FakeService {
        FakeService::new(self.clone())
    }

    /// A kube client talking to this server in-process (default namespace `default`).
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.service(), "default")
    }

    /// Serves over HTTP/1.1 on `addr` (port 0 picks one) from a spawned task; returns the bound
    /// address. The control API (`/_fake/…`) is served there too.
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        http::serve_tcp(self.clone(), addr).await
    }

    /// A kubeconfig pointing at `server_url` (e.g. `http://127.0.0.1:6080`), without auth.
    pub fn kubeconfig_yaml(&self, server_url: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: \
             {server_url}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: \
             fake\n    namespace: default\ncurrent-context: fake\nusers:\n- name: fake\n  user: \
             {{}}\n"
        )
    }

    /// Cluster-admin create-or-replace of an object (its `apiVersion` and `kind` pick the
    /// resource; namespace defaults to `default`). Status is stored as given. Bypasses RBAC,
    /// latency and outages; bumps the resourceVersion and is seen by watches.
    ///
    /// # Panics
    /// If the object is not of a served kind or has no name: a bug in the test.
    pub fn upsert(&self, obj: Value) -> Value {
        self.try_upsert(obj)
            .unwrap_or_else(|e| panic!("FakeApi::upsert: {e}"))
    }

    /// [`FakeApi::upsert`] that reports a bad object instead of panicking.
    pub fn try_upsert(&self, obj: Value) -> Result<Value, ApiError> {
        let api_version = obj["apiVersion"].as_str().unwrap_or("");
        let kind = obj["kind"].as_str().unwrap_or("");
        let def = paths::by_kind(api_version, kind).ok_or_else(|| {
            ApiError::bad_request(format!("no resource serves {api_version} {kind}"))
        })?;
        let stored = self.state().store.upsert(def, obj)?;
        self.notify(|_| {});
        Ok((*stored).clone())
    }

    /// Cluster-admin delete, at once (finalizers ignored). `resource` is the plural
    /// (`services`), the qualified plural or the kind.
    pub fn delete(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let def = paths::find(resource)?;
        let gone = self.state().store.remove(def, namespace, name);
        self.notify(|_| {});
        gone.map(|o| (*o).clone())
    }

    /// The stored object, if any.
    pub fn get(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let def = paths::find(resource)?;
        let o = self.state().store.get(def, namespace, name).ok()?;
        Some((*o).clone())
    }

    /// Every stored object of a resource, sorted by namespace and name.
    pub fn objects(&self, resource: &str) -> Vec<Value> {
        let Some(def) = paths::find(resource) else {
            return Vec::new();
        };
        let all = self.state().store.all(def);
        all.iter().map(|o| (**o).clone()).collect()
    }

    /// `None` allows everything; `Some` allows only what its rules grant (else 403).
    pub fn set_rbac(&self, rbac: Option<Rbac>) {
        self.state().rbac = rbac;
    }

    /// Stops serving a resource (404 for every request), like an API version the cluster
    /// does not have, e.g. `discovery.k8s.io/v1` EndpointSlices before Kubernetes 1.21.
    pub fn unserve(&self, resource: &str) {
        if let Some(def) = paths::find(resource) {
            self.state().unserved.insert(def.resource);
        }
    }

    /// Answers requests of these verbs `d` later (a zero `d` removes the delay). The sleep is
    /// `tokio::time::sleep` before the request is applied, so paused test time works.
    pub fn set_latency(&self, verbs: &[Verb], d: Duration) {
        let mut st = self.state();
        for v in verbs {
            if d.is_zero() {
                st.latency.remove(v);
            } else {
                st.latency.insert(*v, d);
            }
        }
    }

    /// An outage: while down, every API request fails at the transport (in-process the
    /// service returns a connection-refused error, over TCP the connection is dropped without
    /// an answer) and open watch streams end abruptly. The store survives; `/_fake/` works.
    pub fn set_down(&self, down: bool) {
        let was = std::mem::replace(&mut self.state().down, down);
        if down && !was {
            self.notify(|s| s.outages += 1);
        }
    }

    /// Forgets the event history: watches from any resourceVersion handed out so far get
    /// `410 Expired`, continue tokens expire, and open watches are closed, so clients re-list.
    pub fn compact(&self) {
        self.state().store.compact();
        self.notify(|s| s.compactions += 1);
    }

    /// The requests served so far (the last 100 000), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state().log.iter().cloned().collect()
    }

    /// The requests RBAC refused so far (403), as `METHOD path?query`: what a test asserts
    /// empty when its binary must stay inside a release's grants.
    pub fn forbidden_requests(&self) -> Vec<String> {
        self.state()
            .log
            .iter()
            .filter(|r| r.status == 403)
            .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
            .collect()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state().store.rv()
    }

    pub(crate) fn is_down(&self) -> bool {
        self.state().down
    }

    pub(crate) fn record(&self, rec: RequestRecord) {
        let mut st = self.state();
        if st.log.len() >= REQUEST_LOG_LIMIT {
            st.log.pop_front();
        }
        st.log.push_back(rec);
    }
}

/// Objects from a JSON object, a JSON array of objects, or NDJSON (one object per line).
pub fn parse_objects(text: &[u8]) -> Result<Vec<Value>, String> {
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(v @ Value::Object(_)) => Ok(vec![v]),
        Ok(_) => Err("expected a JSON object or an array of objects".into()),
        Err(_) => text
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .map(|(i, l)| serde_json::from_slice(l).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect(),
    }
}
