//! Watch streams: newline-delimited `{"type","object"}` events, replayed from the store's
//! history after the requested resourceVersion and then live, until `timeoutSeconds`, a
//! compaction (clean end), an outage (abrupt end: the body fails) or the client leaving.
//! A resourceVersion older than the history yields the real `410 Expired` ERROR event.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::FakeApi;
use crate::http::json_response;
use crate::paths::ResourceDef;
use crate::selector::Selector;
use crate::status::ApiError;
use crate::store::EventType;

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// A parsed watch request.
pub(crate) struct Watch {
    pub def: &'static ResourceDef,
    pub namespace: Option<String>,
    pub selector: Selector,
    /// `None` (absent or `0`): synthetic ADDED events for the current state, then live.
    pub from: Option<u64>,
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    /// `sendInitialEvents=true` (streaming list): the state as ADDED events, then a bookmark
    /// annotated `k8s.io/initial-events-end`.
    pub initial_events: bool,
}

type Chunk = Result<Bytes, io::Error>;

/// The streaming 200 response; a task feeds it.
pub(crate) fn response(api: FakeApi, w: Watch) -> Response {
    let (tx, rx) = mpsc::channel::<Chunk>(256);
    tokio::spawn(run(api, w, tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut r = json_response(200, Vec::new());
    *r.body_mut() = Body::from_stream(stream);
    r
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn expired(from: u64, floor: u64) -> Bytes {
    let e = ApiError::expired(format!("too old resource version: {from} ({floor})"));
    line("ERROR", &e.body())
}

async fn run(api: FakeApi, w: Watch, tx: mpsc::Sender<Chunk>) {
    let mut signal = api.shared.signal.subscribe();
    let start = *signal.borrow_and_update();
    let ns = w.namespace.as_deref();
    let initial = {
        let st = api.state();
        let rv = st.store.rv();
        match w.from.filter(|_| !w.initial_events) {
            None => {
                let page = st.store.list(w.def, ns, &w.selector, None, None);
                let items = page.map(|p| p.items).unwrap_or_default();
                Ok((
                    items.into_iter().map(|o| (EventType::Added, o)).collect(),
                    rv,
                ))
            }
            Some(from) => st
                .store
                .changes_since(w.def, ns, &w.selector, from)
                .map(|events| (events, rv.max(from)))
                .map_err(|floor| (from, floor)),
        }
    };
    let (events, mut from): (Vec<_>, u64) = match initial {
        Ok(x) => x,
        Err((from, floor)) => {
            let _ = tx.send(Ok(expired(from, floor))).await;
            return;
        }
    };
    for (kind, o) in events {
        if tx.send(Ok(line(kind.as_str(), &o))).await.is_err() {
            return;
        }
    }
    if w.initial_events {
        let end = json!({"kind": w.def.kind, "apiVersion": w.def.api_version(),
                         "metadata": {"resourceVersion": from.to_string(),
                                      "annotations": {"k8s.io/initial-events-end": "true"}}});
        if tx.send(Ok(line("BOOKMARK", &end))).await.is_err() {
            return;
        }
    }
    let deadline = w.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut bookmark = tokio::time::interval(BOOKMARK_EVERY);
    bookmark.reset();
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await },
                if deadline.is_some() => return,
            _ = bookmark.tick(), if w.bookmarks => {
                let meta = json!({"kind": w.def.kind, "apiVersion": w.def.api_version(),
                                  "metadata": {"resourceVersion": from.to_string()}});
                if tx.send(Ok(line("BOOKMARK", &meta))).await.is_err() {
                    return;
                }
                continue;
            }
            changed = signal.changed() => if changed.is_err() { return },
        }
        let now = *signal.borrow_and_update();
        if now.outages != start.outages {
            let e = io::Error::new(io::ErrorKind::ConnectionReset, "fake apiserver went down");
            let _ = tx.send(Err(e)).await;
            return;
        }
        if now.compactions != start.compactions {
            return;
        }
        let changes = {
            let st = api.state();
            let changes = st.store.changes_since(w.def, ns, &w.selector, from);
            if changes.is_ok() {
                from = st.store.rv().max(from);
            }
            changes
        };
        let events = match changes {
            Ok(events) => events,
            Err(floor) => {
                let _ = tx.send(Ok(expired(from, floor))).await;
                return;
            }
        };
        for (kind, o) in events {
            if tx.send(Ok(line(kind.as_str(), &o))).await.is_err() {
                return;
            }
        }
    }
}
