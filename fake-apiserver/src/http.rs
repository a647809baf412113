//! The HTTP face: request → (verb, resource, namespace, name) → RBAC, latency, store; the
//! tower service both the in-process client and the TCP server call; the TCP accept loop.

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::{BoxError, Router};
use futures::future::Either;
use http::{Method, StatusCode, header};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::paths::{self, ResourceDef};
use crate::selector::Selector;
use crate::status::ApiError;
use crate::store::{Obj, Store};
use crate::{FakeApi, RequestRecord, Verb, control, watch};

/// The server as a tower service. While the server is down it fails every API request at the
/// transport (`ConnectionRefused`), which is what a client sees of an unreachable apiserver.
#[derive(Clone)]
pub struct FakeService {
    api: FakeApi,
    router: Router,
}

impl FakeService {
    pub(crate) fn new(api: FakeApi) -> Self {
        let router = control::routes().fallback(handle).with_state(api.clone());
        Self { api, router }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, io::Error>> + Send>>;

impl<B> tower::Service<http::Request<B>> for FakeService
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = io::Error;
    type Future = Either<Ready<Result<Response, io::Error>>, BoxFuture>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if !req.uri().path().starts_with("/_fake/") && self.api.is_down() {
            let e = io::Error::new(io::ErrorKind::ConnectionRefused, "fake apiserver is down");
            return Either::Left(ready(Err(e)));
        }
        let router = self.router.clone();
        Either::Right(Box::pin(async move {
            match router.oneshot(req).await {
                Ok(r) => Ok(r),
                Err(never) => match never {},
            }
        }))
    }
}

/// Binds `addr` and serves HTTP/1.1 connections from a spawned task.
pub(crate) async fn serve_tcp(api: FakeApi, addr: SocketAddr) -> io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let service = api.service();
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("fake apiserver: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let svc = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                // A service error (the server is down) or a failing watch body drops the
                // connection without an answer, like a dying apiserver.
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                let _ = conn.await;
            });
        }
    });
    Ok(bound)
}

pub(crate) fn json_response(code: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn to_vec(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

enum Reply {
    Object(u16, Obj),
    Json(Vec<u8>),
    Stream(Response),
}

async fn handle(State(api): State<FakeApi>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) if b.is_empty() => Ok(None),
        Ok(b) => serde_json::from_slice::<Value>(&b)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("couldn't decode the body: {e}"))),
        Err(e) => Err(ApiError::bad_request(format!("reading the body: {e}"))),
    };
    let recorded_body = body.as_ref().ok().cloned().flatten();
    let req = ApiRequest {
        method: &parts.method,
        path: &path,
        query: form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        content_type: &content_type,
        body,
    };
    let (status, response) = match serve(&api, req).await {
        Ok(Reply::Object(code, o)) => (code, json_response(code, to_vec(&*o))),
        Ok(Reply::Json(bytes)) => (200, json_response(200, bytes)),
        Ok(Reply::Stream(r)) => (200, r),
        Err(e) => (e.code, json_response(e.code, to_vec(&e.body()))),
    };
    api.record(RequestRecord {
        method: parts.method.to_string(),
        path,
        query,
        status,
        body: recorded_body,
    });
    response
}

struct ApiRequest<'a> {
    method: &'a Method,
    path: &'a str,
    query: HashMap<String, String>,
    content_type: &'a str,
    body: Result<Option<Value>, ApiError>,
}

impl ApiRequest<'_> {
    fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.q(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
        }
    }

    fn required_body(&mut self) -> Result<Value, ApiError> {
        std::mem::replace(&mut self.body, Ok(None))?
            .ok_or_else(|| ApiError::bad_request("the request needs a body".into()))
    }
}

async fn serve(api: &FakeApi, mut req: ApiRequest<'_>) -> Result<Reply, ApiError> {
    let target = paths::parse(req.path).ok_or_else(ApiError::no_route)?;
    let def = target.def;
    let watch = matches!(req.q("watch"), Some("true" | "1"));
    let verb = match (req.method, target.name.is_some()) {
        (&Method::GET, true) => Verb::Get,
        (&Method::GET, false) if watch => Verb::Watch,
        (&Method::GET, false) => Verb::List,
        (&Method::POST, false) => Verb::Create,
        (&Method::PUT, true) => Verb::Update,
        (&Method::PATCH, true) => Verb::Patch,
        (&Method::DELETE, true) => Verb::Delete,
        _ => return Err(ApiError::method_not_allowed()),
    };
    let ns = target.namespace.as_deref();
    let name = target.name.as_deref().unwrap_or("");
    let sub = target.subresource.as_deref();
    if sub.is_some() && !matches!(verb, Verb::Get | Verb::Update | Verb::Patch) {
        return Err(ApiError::method_not_allowed());
    }
    let latency = {
        let mut st = api.state();
        *st.counts.entry((verb, def.resource)).or_default() += 1;
        if st.unserved.contains(def.resource) {
            return Err(ApiError::no_route());
        }
        if let Some(rbac) = &st.rbac {
            rbac.check(verb, def, ns, target.name.as_deref(), sub)?;
        }
        st.latency.get(&verb).copied()
    };
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    let status = sub.is_some();
    match verb {
        Verb::Get => Ok(Reply::Object(200, api.state().store.get(def, ns, name)?)),
        Verb::List => {
            let sel = Selector::parse(req.q("labelSelector"), req.q("fieldSelector"))?;
            let limit = req.number("limit")?.map(|l| l as usize);
            let page = api
                .state()
                .store
                .list(def, ns, &sel, limit, req.q("continue"))?;
            Ok(Reply::Json(list_body(def, &page)))
        }
        Verb::Watch => {
            let sel = Selector::parse(req.q("labelSelector"), req.q("fieldSelector"))?;
            let from = req.number("resourceVersion")?.filter(|&rv| rv != 0);
            let timeout = req.number("timeoutSeconds")?.map(Duration::from_secs);
            let bookmarks = matches!(req.q("allowWatchBookmarks"), Some("true" | "1"));
            let initial_events = matches!(req.q("sendInitialEvents"), Some("true" | "1"));
            if initial_events
                && (!bookmarks || req.q("resourceVersionMatch") != Some("NotOlderThan"))
            {
                return Err(ApiError::bad_request(
                    "sendInitialEvents requires allowWatchBookmarks=true and \
                     resourceVersionMatch=NotOlderThan"
                        .into(),
                ));
            }
            let w = watch::Watch {
                def,
                namespace: target.namespace.clone(),
                selector: sel,
                from,
                timeout,
                bookmarks,
                initial_events,
            };
            Ok(Reply::Stream(watch::response(api.clone(), w)))
        }
        Verb::Create => {
            let body = req.required_body()?;
            write(api, def, sub, |s| s.create(def, ns, body)).map(|o| Reply::Object(201, o))
        }
        Verb::Update => {
            let body = req.required_body()?;
            write(api, def, sub, |s| s.update(def, ns, name, body, status))
                .map(|o| Reply::Object(200, o))
        }
        Verb::Patch => {
            let media = req.content_type.split(';').next().unwrap_or("").trim();
            if media != "application/merge-patch+json" {
                return Err(ApiError::unsupported_media_type(media));
            }
            let patch = req.required_body()?;
            write(api, def, sub, |s| s.patch(def, ns, name, &patch, status))
                .map(|o| Reply::Object(200, o))
        }
        Verb::Delete => {
            let opts = std::mem::replace(&mut req.body, Ok(None))?;
            let pre = opts.as_ref().and_then(|o| o.get("preconditions"));
            write(api, def, sub, |s| s.delete(def, ns, name, pre)).map(|o| Reply::Object(200, o))
        }
    }
}

/// Applies a write; when it changed anything, counts it per object path and wakes watches.
fn write(
    api: &FakeApi,
    def: &ResourceDef,
    sub: Option<&str>,
    f: impl FnOnce(&mut Store) -> Result<Obj, ApiError>,
) -> Result<Obj, ApiError> {
    let (result, changed) = {
        let mut st = api.state();
        let before = st.store.rv();
        let result = f(&mut st.store);
        let changed = st.store.rv() != before;
        if let (true, Ok(o)) = (changed, &result) {
            let key = object_path(def, &o["metadata"], sub);
            *st.writes.entry(key).or_default() += 1;
        }
        (result, changed)
    };
    if changed {
        api.notify(|_| {});
    }
    result
}

/// `/api/v1/namespaces/ns/services/web[/status]`.
pub(crate) fn object_path(def: &ResourceDef, meta: &Value, sub: Option<&str>) -> String {
    let root = if def.group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{}/{}", def.group, def.version)
    };
    let ns = match meta["namespace"].as_str() {
        Some(ns) if def.namespaced => format!("/namespaces/{ns}"),
        _ => String::new(),
    };
    let name = meta["name"].as_str().unwrap_or("");
    let sub = sub.map(|s| format!("/{s}")).unwrap_or_default();
    format!("{root}{ns}/{}/{name}{sub}", def.resource)
}

/// A list item as the real server encodes it: without `kind` and `apiVersion`.
struct Item<'a>(&'a Value);

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Value::Object(m) = self.0 else {
            return self.0.serialize(s);
        };
        let mut map = s.serialize_map(None)?;
        for (k, v) in m.iter().filter(|(k, _)| *k != "kind" && *k != "apiVersion") {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct List<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<Item<'a>>,
}

fn list_body(def: &ResourceDef, page: &crate::store::ListPage) -> Vec<u8> {
    let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(c) = &page.continue_token {
        metadata["continue"] = c.clone().into();
    }
    if let Some(n) = page.remaining {
        metadata["remainingItemCount"] = n.into();
    }
    to_vec(&List {
        kind: format!("{}List", def.kind),
        api_version: def.api_version(),
        metadata,
        items: page.items.iter().map(|o| Item(o)).collect(),
    })
}
