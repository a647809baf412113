//! core/v1 Events, as upstream's client-go recorder writes them (both binaries post them). kube-rs' `Recorder` writes
//! `events.k8s.io/v1`, which upstream's RBAC does not grant; so we build the object ourselves.
//!
//! Identical events (same object, type, reason, message) within `DEDUP_WINDOW` are sent once:
//! a controller that re-examines thousands of services must not flood the API server.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

pub const DEDUP_WINDOW: Duration = Duration::from_secs(600);

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Regarding {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

/// Builds the core/v1 Event client-go would (`<name>.<hex unix nanos>`).
pub fn event_object(
    component: &str,
    about: &Regarding,
    kind: EventType,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> Event {
    let nanos = now.as_nanosecond();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{:x}", about.name, nanos)),
            namespace: Some(about.namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some(crate::crd::api_version_of(about.kind)),
            kind: Some(about.kind.to_owned()),
            namespace: Some(about.namespace.clone()),
            name: Some(about.name.clone()),
            uid: about.uid.clone(),
            ..Default::default()
        },
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        type_: Some(kind.as_str().to_owned()),
        source: Some(EventSource {
            component: Some(component.to_owned()),
            host: None,
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Default::default()
    }
}

/// Remembers recently sent events so duplicates are dropped.
///
/// An event is remembered by a keyed 64-bit hash of (object, type, reason, message), not by
/// its strings: one entry is ~40 bytes instead of ~500, which matters with one `nodeAssigned`
/// per service on every speaker. Two distinct events share a hash with probability ~2⁻⁶⁴
/// per pair (the key is random per process); the cost of that would be one Event not posted.
#[derive(Debug, Default)]
pub struct Dedup {
    keys: RandomState,
    sent: HashMap<u64, Instant>,
}

impl Dedup {
    /// Should this event be sent now? Records it when yes.
    pub fn admit(
        &mut self,
        about: &Regarding,
        kind: EventType,
        reason: &str,
        message: &str,
        now: Instant,
    ) -> bool {
        if self.sent.len() > 10_000 {
            self.sent
                .retain(|_, t| now.duration_since(*t) < DEDUP_WINDOW);
        }
        let key = self.keys.hash_one((about, kind, reason, message));
        match self.sent.get(&key) {
            Some(t) if now.duration_since(*t) < DEDUP_WINDOW => false,
            _ => {
                self.sent.insert(key, now);
                true
            }
        }
    }
}

/// client-go's per-object spam filter (`EventSourceObjectSpamFilter`): a token bucket per
/// object an event is about, 25 events at once and one more every five minutes. Keeps an image
/// swap or a flapping object from posting thousands of Events; what it holds back is only the
/// Event, never the decision it reports.
#[derive(Debug, Default)]
pub struct SpamFilter {
    buckets: HashMap<u64, (f64, Instant)>,
    keys: RandomState,
}

/// Events one object may get at once.
pub const SPAM_BURST: f64 = 25.0;
/// How long the bucket takes to earn one more.
pub const SPAM_REFILL: Duration = Duration::from_secs(300);

impl SpamFilter {
    /// May an event about `about` be posted at `now`? Takes a token when yes.
    pub fn admit(&mut self, about: &Regarding, now: Instant) -> bool {
        if self.buckets.len() > 10_000 {
            // A full bucket is the same as no bucket.
            self.buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() / SPAM_REFILL.as_secs_f64()
                    < SPAM_BURST
            });
        }
        let key = self.keys.hash_one(about);
        let (tokens, at) = self.buckets.entry(key).or_insert((SPAM_BURST, now));
        let earned = now.duration_since(*at).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        *tokens = (*tokens + earned).min(SPAM_BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn about() -> Regarding {
        Regarding {
            kind: "Service",
            namespace: "ns".into(),
            name: "web".into(),
            uid: Some("u".into()),
        }
    }

    #[test]
    fn event_has_client_go_shape() {
        let now = Timestamp::from_second(1_700_000_000).expect("valid");
        let e = event_object(
            "metallb-controller",
            &about(),
            EventType::Normal,
            "IPAllocated",
            "Assigned IP [\"192.0.2.1\"]",
            now,
        );
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(
            json["metadata"]["name"],
            format!("web.{:x}", 1_700_000_000_000_000_000i128)
        );
        assert_eq!(json["involvedObject"]["kind"], "Service");
        assert_eq!(json["involvedObject"]["uid"], "u");
        assert_eq!(json["type"], "Normal");
        assert_eq!(json["source"]["component"], "metallb-controller");
        assert_eq!(json["count"], 1);
    }

    #[test]
    fn duplicates_within_the_window_are_dropped() {
        let mut d = Dedup::default();
        let t0 = Instant::now();
        assert!(d.admit(&about(), EventType::Warning, "AllocationFailed", "m", t0));
        assert!(!d.admit(
            &about(),
            EventType::Warning,
            "AllocationFailed",
            "m",
            t0 + Duration::from_secs(1)
        ));
        assert!(d.admit(
            &about(),
            EventType::Warning,
            "AllocationFailed",
            "other",
            t0
        ));
        assert!(d.admit(
            &about(),
            EventType::Warning,
            "AllocationFailed",
            "m",
            t0 + DEDUP_WINDOW
        ));
    }

    #[test]
    fn spam_filter_allows_a_burst_of_25_per_object_then_one_per_five_minutes() {
        let mut f = SpamFilter::default();
        let t0 = Instant::now();
        let admitted = (0..40).filter(|_| f.admit(&about(), t0)).count();
        assert_eq!(admitted, 25);
        let other = Regarding {
            name: "other".into(),
            ..about()
        };
        assert!(f.admit(&other, t0), "buckets are per object");
        assert!(!f.admit(&about(), t0 + Duration::from_secs(299)));
        assert!(f.admit(&about(), t0 + Duration::from_secs(301)));
        assert!(!f.admit(&about(), t0 + Duration::from_secs(302)));
    }
}
