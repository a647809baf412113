//! A fire-and-forget sink for core/v1 Events, shared by both binaries.
//!
//! Why: an Event reports a decision and must never delay one. Posting inline put an API round
//! trip (or a 2 s answer from a slow API server) inside the decision loop; a burst after an
//! image swap (one `nodeAssigned` per service) became thousands of sequential POSTs. Here a
//! post is filtered (duplicates within ten minutes; client-go's per-object spam filter), put on
//! a bounded queue (client-go's recorder also drops when its queue of 1 000 is full) and sent
//! by a task of its own, a few at a time. Failures are logged once per run of failures.
//!
//! The queue holds [`Pending`] entries, not finished `Event` objects: a k8s-openapi `Event` is
//! about a kilobyte inline, so the `nodeAssigned` Events queued at a start-up with 1 000
//! services filled 32 KB queue blocks (108 KiB more anonymous memory, BENCHMARKS.md,
//! "Re-measured on main"). The object is built when it is posted.

use std::sync::{Arc, Mutex};

use crate::k8s_event::{Dedup, EventType, Regarding, SpamFilter, event_object};
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::mpsc;

/// Events waiting to be posted before new ones are dropped.
pub const QUEUE: usize = 1000;
/// POSTs in flight at once.
const CONCURRENT_POSTS: usize = 4;

/// Where Events go. Cheap to clone; every clone feeds the same queue.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Pending>,
    filters: Arc<Mutex<Filters>>,
}

/// An Event waiting in the queue: what [`event_object`] needs, and the time it was posted.
struct Pending {
    about: Regarding,
    kind: EventType,
    reason: Box<str>,
    message: Box<str>,
    at: Timestamp,
}

impl Pending {
    fn event(&self, component: &str) -> Event {
        event_object(
            component,
            &self.about,
            self.kind,
            &self.reason,
            &self.message,
            self.at,
        )
    }
}

#[derive(Default)]
struct Filters {
    dedup: Dedup,
    spam: SpamFilter,
    dropped: u64,
}

/// What became of a post (for tests and callers that count).
#[derive(Debug, PartialEq, Eq)]
pub enum Posted {
    Queued,
    Duplicate,
    RateLimited,
    QueueFull,
}

impl EventSink {
    /// Starts the posting task on `client`; `component` is the Event's `source.component`.
    pub fn spawn(client: kube::Client, component: &'static str) -> Self {
        Self::spawn_reporting(client, component, crate::Forbidden::unregistered())
    }

    /// [`EventSink::spawn`], reporting a 403 (no `create events` rule) to `forbidden`.
    pub fn spawn_reporting(
        client: kube::Client,
        component: &'static str,
        forbidden: crate::Forbidden,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(post_all(client, component, rx, forbidden));
        Self {
            tx,
            filters: Arc::default(),
        }
    }

    /// Queues an Event; never waits.
    pub fn post(&self, about: Regarding, kind: EventType, reason: &str, message: &str) -> Posted {
        // tokio's clock, so a test with paused time controls the filters too.
        let now = tokio::time::Instant::now().into_std();
        let Ok(mut f) = self.filters.lock() else {
            return Posted::QueueFull;
        };
        if !f.dedup.admit(&about, kind, reason, message, now) {
            return Posted::Duplicate;
        }
        if !f.spam.admit(&about, now) {
            return Posted::RateLimited;
        }
        let pending = Pending {
            about,
            kind,
            reason: reason.into(),
            message: message.into(),
            at: Timestamp::now(),
        };
        match self.tx.try_send(pending) {
            Ok(()) => {
                if f.dropped > 0 {
                    tracing::info!(
                        op = "postEvent",
                        dropped = f.dropped,
                        "event queue has room again"
                    );
                    f.dropped = 0;
                }
                Posted::Queued
            }
            Err(_) => {
                if f.dropped == 0 {
                    tracing::warn!(
                        op = "postEvent",
                        queue = QUEUE,
                        "event queue full (API server slow or away): dropping events"
                    );
                }
                f.dropped += 1;
                Posted::QueueFull
            }
        }
    }
}

async fn post_all(
    client: kube::Client,
    component: &'static str,
    rx: mpsc::Receiver<Pending>,
    forbidden: crate::Forbidden,
) {
    let failing = Arc::new(Mutex::new(0u64));
    tokio_stream_from(rx)
        .for_each_concurrent(CONCURRENT_POSTS, |pending| {
            let client = client.clone();
            let failing = failing.clone();
            let forbidden = forbidden.clone();
            async move {
                let ev = pending.event(component);
                let reason = &*pending.reason;
                let result = Api::<Event>::namespaced(client, &pending.about.namespace)
                    .create(&PostParams::default(), &ev)
                    .await;
                let Ok(mut failures) = failing.lock() else {
                    return;
                };
                match result {
                    Ok(_) if *failures > 0 => {
                        tracing::info!(op = "postEvent", failed = *failures, "posting events works again");
                        *failures = 0;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if let Some(denied) = crate::Denied::of(&e, "create", "events") {
                            forbidden.report(&denied, "events are not posted");
                            return;
                        }
                        if *failures == 0 {
                            tracing::warn!(op = "postEvent", error = %e, reason, "failed to post event (further failures are not logged until one succeeds)");
                        }
                        *failures += 1;
                    }
                }
            }
        })
        .await;
}

fn tokio_stream_from<T>(mut rx: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{Request, Response};
    use kube::client::Body;
    use tower_test::mock;

    use super::*;

    fn about(name: &str) -> Regarding {
        Regarding {
            kind: "Service",
            namespace: "shop".into(),
            name: name.into(),
            uid: Some(format!("uid-{name}")),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_post_never_waits_for_a_slow_api_server() {
        let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
        let sink = EventSink::spawn(kube::Client::new(service, "default"), "metallb-speaker");
        // The server answers nothing for now: every post must still return at once.
        for i in 0..10 {
            let r = sink.post(
                about(&format!("s{i}")),
                EventType::Normal,
                "nodeAssigned",
                "m",
            );
            assert_eq!(r, Posted::Queued);
        }
        assert_eq!(
            sink.post(about("s0"), EventType::Normal, "nodeAssigned", "m"),
            Posted::Duplicate
        );
        // Answer the posts now, slowly: all ten arrive, at most CONCURRENT_POSTS at a time.
        let mut seen = Vec::new();
        while seen.len() < 10 {
            let (req, send) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
                .await
                .expect("a post")
                .expect("client alive");
            assert_eq!(req.method(), http::Method::POST);
            let bytes = req.into_body().collect_bytes().await.expect("body");
            let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(body["source"]["component"], "metallb-speaker");
            seen.push(
                body["involvedObject"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                send.send_response(
                    Response::builder()
                        .status(201)
                        .body(Body::from(bytes.to_vec()))
                        .expect("response"),
                );
            });
        }
        seen.sort();
        let mut expected: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
        expected.sort();
        assert_eq!(seen, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn one_object_gets_a_burst_then_is_rate_limited() {
        let (service, _handle) = mock::pair::<Request<Body>, Response<Body>>();
        let sink = EventSink::spawn(kube::Client::new(service, "default"), "metallb-controller");
        let results: Vec<Posted> = (0..30)
            .map(|i| {
                sink.post(
                    about("flappy"),
                    EventType::Warning,
                    "R",
                    &format!("message {i}"),
                )
            })
            .collect();
        assert_eq!(results.iter().filter(|r| **r == Posted::Queued).count(), 25);
        assert_eq!(results.last(), Some(&Posted::RateLimited));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_drops_instead_of_waiting() {
        let (service, _handle) = mock::pair::<Request<Body>, Response<Body>>();
        let sink = EventSink::spawn(kube::Client::new(service, "default"), "metallb-controller");
        let mut full = 0;
        for i in 0..(QUEUE + 100) {
            if sink.post(about(&format!("s{i}")), EventType::Normal, "R", "m") == Posted::QueueFull
            {
                full += 1;
            }
        }
        // QUEUE wait in the channel, up to CONCURRENT_POSTS more are taken by the task.
        assert!((100 - CONCURRENT_POSTS..=100).contains(&full), "{full}");
    }
}
