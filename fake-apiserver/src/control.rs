//! The control API under `/_fake/`, for driving the server from outside the process (the
//! whole-process benchmarks): outages, compaction, latency, stats, admin writes. It keeps
//! working while the server is "down".

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde_json::{Map, Value, json};

use crate::http::json_response;
use crate::{FakeApi, Verb, paths};

pub(crate) fn routes() -> Router<FakeApi> {
    Router::new()
        .route(
            "/_fake/down",
            post(|State(api): State<FakeApi>| async move {
                api.set_down(true);
                ok()
            }),
        )
        .route(
            "/_fake/up",
            post(|State(api): State<FakeApi>| async move {
                api.set_down(false);
                ok()
            }),
        )
        .route(
            "/_fake/compact",
            post(|State(api): State<FakeApi>| async move {
                api.compact();
                ok()
            }),
        )
        .route("/_fake/latency", post(latency))
        .route("/_fake/stats", get(stats))
        .route("/_fake/objects", post(upsert))
        .route("/_fake/objects/{resource}/{name}", delete(remove_cluster))
        .route("/_fake/objects/{resource}/{ns}/{name}", delete(remove))
}

fn ok() -> Response {
    json_response(200, br#"{"ok":true}"#.to_vec())
}

fn bad(message: String) -> Response {
    json_response(
        400,
        json!({"ok": false, "error": message})
            .to_string()
            .into_bytes(),
    )
}

/// `?verbs=update,create&ms=2000` (`ms=0` clears).
async fn latency(State(api): State<FakeApi>, RawQuery(q): RawQuery) -> Response {
    let (mut verbs, mut ms) = (Vec::new(), None);
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match &*k {
            "verbs" => {
                for s in v.split(',').filter(|s| !s.is_empty()) {
                    match Verb::parse(s) {
                        Some(verb) => verbs.push(verb),
                        None => return bad(format!("unknown verb {s:?}")),
                    }
                }
            }
            "ms" => ms = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    let Some(ms) = ms else {
        return bad("ms=<milliseconds> is required".into());
    };
    api.set_latency(&verbs, Duration::from_millis(ms));
    ok()
}

async fn stats(State(api): State<FakeApi>) -> Response {
    let st = api.state();
    let requests: Map<String, Value> = st
        .counts
        .iter()
        .map(|((verb, res), n)| (format!("{verb} {res}"), (*n).into()))
        .collect();
    let writes: Map<String, Value> = st
        .writes
        .iter()
        .map(|(k, n)| (k.clone(), (*n).into()))
        .collect();
    let objects: Map<String, Value> = paths::RESOURCES
        .iter()
        .map(|d| (d.resource.to_string(), st.store.all(d).len().into()))
        .filter(|(_, n)| n != &Value::from(0))
        .collect();
    let body = json!({
        "resourceVersion": st.store.rv(),
        "requests": requests,
        "writes": writes,
        "objects": objects,
        "down": st.down,
    });
    json_response(200, body.to_string().into_bytes())
}

/// Upserts one object or an array (or NDJSON) of them.
async fn upsert(State(api): State<FakeApi>, body: Bytes) -> Response {
    let objects = match crate::parse_objects(&body) {
        Ok(o) => o,
        Err(e) => return bad(e),
    };
    let mut n = 0;
    for o in objects {
        if let Err(e) = api.try_upsert(o) {
            return bad(format!("object #{n}: {e}"));
        }
        n += 1;
    }
    json_response(
        200,
        json!({"ok": true, "upserted": n}).to_string().into_bytes(),
    )
}

async fn remove(
    State(api): State<FakeApi>,
    Path((resource, ns, name)): Path<(String, String, String)>,
) -> Response {
    match api.delete(&resource, Some(&ns), &name) {
        Some(o) => json_response(200, o.to_string().into_bytes()),
        None => json_response(404, br#"{"ok":false,"error":"not found"}"#.to_vec()),
    }
}

async fn remove_cluster(
    State(api): State<FakeApi>,
    Path((resource, name)): Path<(String, String)>,
) -> Response {
    match api.delete(&resource, None, &name) {
        Some(o) => json_response(200, o.to_string().into_bytes()),
        None => json_response(404, br#"{"ok":false,"error":"not found"}"#.to_vec()),
    }
}
