//! The object store: objects, the global resourceVersion, the event history watches replay,
//! and the registry strategies of kube-apiserver (create, update, status update, delete with
//! finalizers, merge patch). Pure and synchronous; the HTTP layer maps requests onto it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::paths::ResourceDef;
use crate::selector::Selector;
use crate::status::ApiError;

mod strategy;
use strategy::check_body;
pub use strategy::merge_patch;

/// A stored object; shared by the store, the history and in-flight responses.
pub type Obj = Arc<Value>;

/// Events kept for watches to resume from; older resourceVersions get `410 Expired`.
pub const HISTORY_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One write, as the history keeps it: the object after the write (for a delete, the last state
/// with the deletion's resourceVersion) and before it, so a selector can turn a MODIFIED that
/// leaves or enters the selection into DELETED/ADDED like the watch cache does.
#[derive(Debug)]
struct Change {
    rv: u64,
    def: &'static ResourceDef,
    kind: EventType,
    object: Obj,
    prev: Option<Obj>,
}

/// One page of a list.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<Obj>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

type Key = (String, String);

#[derive(Debug)]
pub struct Store {
    rv: u64,
    /// Oldest resourceVersion a watch may resume from.
    floor: u64,
    /// Number of compactions; continue tokens of an older epoch are expired.
    epoch: u64,
    history: VecDeque<Change>,
    history_limit: usize,
    objects: HashMap<&'static str, BTreeMap<Key, Obj>>,
    /// Source of uids and generateName suffixes.
    seq: u64,
}

impl Default for Store {
    fn default() -> Self {
        Self::new(HISTORY_LIMIT)
    }
}

/// Current time as the server writes timestamps (RFC 3339, seconds).
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    k8s_openapi::jiff::Timestamp::from_second(i64::try_from(secs).unwrap_or(0))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn meta(v: &Value) -> &Value {
    &v["metadata"]
}

fn meta_str<'a>(v: &'a Value, field: &str) -> &'a str {
    meta(v)[field].as_str().unwrap_or("")
}

/// The metadata map of an object checked by [`check_body`].
fn meta_mut(v: &mut Value) -> &mut Map<String, Value> {
    let Some(obj) = v.as_object_mut() else {
        unreachable!("check_body guarantees an object")
    };
    let m = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    match m {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a \
    consistent list result. You can start a new list without the continue parameter.";

impl Store {
    pub fn new(history_limit: usize) -> Self {
        Self {
            rv: 0,
            floor: 0,
            epoch: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            objects: HashMap::new(),
            seq: 0,
        }
    }

    /// The current (last written) resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    fn key(def: &ResourceDef, ns: Option<&str>, name: &str) -> Key {
        let ns = if def.namespaced { ns.unwrap_or("") } else { "" };
        (ns.to_string(), name.to_string())
    }

    fn lookup(&self, def: &ResourceDef, key: &Key) -> Option<&Obj> {
        self.objects.get(def.resource)?.get(key)
    }

    pub fn get(&self, def: &ResourceDef, ns: Option<&str>, name: &str) -> Result<Obj, ApiError> {
        self.lookup(def, &Self::key(def, ns, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(def, name))
    }

    /// Every stored object of a resource, by namespace and name.
    pub fn all(&self, def: &ResourceDef) -> Vec<Obj> {
        self.objects
            .get(def.resource)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stamps the next resourceVersion on `obj`, stores (or removes) it and records the event.
    fn commit(
        &mut self,
        def: &'static ResourceDef,
        key: Key,
        mut obj: Value,
        kind: EventType,
    ) -> Obj {
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), self.rv.to_string().into());
        let obj = Arc::new(obj);
        let map = self.objects.entry(def.resource).or_default();
        let prev = if kind == EventType::Deleted {
            map.remove(&key)
        } else {
            map.insert(key, obj.clone())
        };
        self.history.push_back(Change {
            rv: self.rv,
            def,
            kind,
            object: obj.clone(),
            prev,
        });
        while self.history.len() > self.history_limit {
            if let Some(c) = self.history.pop_front() {
                self.floor = c.rv;
            }
        }
        obj
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        splitmix(self.seq)
    }

    fn new_uid(&mut self) -> String {
        let (a, b) = (self.next_seq(), self.next_seq());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// Cluster-admin write: creates or replaces `obj` as given (status included), keeping the
    /// stored uid and creationTimestamp unless the object sets them.
    pub fn upsert(&mut self, def: &'static ResourceDef, mut obj: Value) -> Result<Obj, ApiError> {
        check_body(def, &obj)?;
        let ns = if def.namespaced {
            let ns = meta_str(&obj, "namespace");
            Some(if ns.is_empty() { "default" } else { ns }.to_string())
        } else {
            None
        };
        if let Some(ns) = &ns {
            meta_mut(&mut obj).insert("namespace".into(), ns.clone().into());
        }
        let name = meta_str(&obj, "name").to_string();
        let key = Self::key(def, ns.as_deref(), &name);
        let Some(stored) = self.lookup(def, &key).cloned() else {
            return self.insert_new(def, ns.as_deref(), obj, true);
        };
        let m = meta_mut(&mut obj);
        for f in ["uid", "creationTimestamp", "resourceVersion"] {
            if (f == "resourceVersion" || !m.contains_key(f))
                && let Some(v) = meta(&stored).get(f)
            {
                m.insert(f.into(), v.clone());
            }
        }
        if obj == *stored {
            return Ok(stored);
        }
        Ok(self.commit(def, key, obj, EventType::Modified))
    }

    /// Cluster-admin delete: gone at once, finalizers or not.
    pub fn remove(
        &mut self,
        def: &'static ResourceDef,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Obj> {
        let key = Self::key(def, ns, name);
        let stored = self.lookup(def, &key)?.clone();
        Some(self.commit(def, key, (*stored).clone(), EventType::Deleted))
    }

    /// Forgets the history: every resourceVersion handed out so far becomes too old to watch
    /// from, and continue tokens expire. The resourceVersion moves on by one (as a busy
    /// cluster's would) so that a re-list returns a version that can be watched again.
    pub fn compact(&mut self) {
        self.rv += 1;
        self.floor = self.rv;
        self.epoch += 1;
        self.history.clear();
    }

    /// List with namespace, selectors and `limit`/`continue` paging, sorted by namespace/name.
    pub fn list(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        sel: &Selector,
        limit: Option<usize>,
        cont: Option<&str>,
    ) -> Result<ListPage, ApiError> {
        let (mut rv, mut after) = (self.rv, None);
        if let Some(token) = cont.filter(|c| !c.is_empty()) {
            let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
            let decoded = unhex(token).ok_or_else(bad)?;
            let mut parts = decoded.splitn(4, '/');
            let mut next = || parts.next().ok_or_else(bad);
            let (epoch, token_rv, kns, kname) = (next()?, next()?, next()?, next()?);
            if epoch.parse::<u64>().ok() != Some(self.epoch) {
                return Err(ApiError::expired(CONTINUE_EXPIRED.into()));
            }
            rv = token_rv.parse().map_err(|_| bad())?;
            after = Some((kns.to_string(), kname.to_string()));
        }
        let Some(map) = self.objects.get(def.resource) else {
            return Ok(ListPage {
                items: Vec::new(),
                resource_version: rv,
                continue_token: None,
                remaining: None,
            });
        };
        let lower = match &after {
            Some(k) => Bound::Excluded(k.clone()),
            None => Bound::Included((ns.unwrap_or("").to_string(), String::new())),
        };
        let mut matching = map
            .range((lower, Bound::Unbounded))
            .take_while(|((kns, _), _)| ns.is_none_or(|ns| kns == ns))
            .filter(|(_, o)| sel.matches(o));
        let limit = limit.filter(|&l| l > 0).unwrap_or(usize::MAX);
        let items: Vec<Obj> = matching
            .by_ref()
            .take(limit)
            .map(|(_, o)| o.clone())
            .collect();
        let remaining = matching.count();
        let continue_token = (remaining > 0).then(|| {
            let last = items
                .last()
                .map(|o| (meta_str(o, "namespace"), meta_str(o, "name")));
            let (kns, kname) = last.unwrap_or(("", ""));
            hex(&format!("{}/{rv}/{kns}/{kname}", self.epoch))
        });
        Ok(ListPage {
            items,
            resource_version: rv,
            continue_token,
            remaining: (remaining > 0).then_some(remaining),
        })
    }

    /// The watch events after `from` for one resource, namespace and selector; `Err(floor)`
    /// when `from` is older than the retained history (`410 Expired`).
    pub fn changes_since(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        sel: &Selector,
        from: u64,
    ) -> Result<Vec<(EventType, Obj)>, u64> {
        if from < self.floor {
            return Err(self.floor);
        }
        let start = self.history.partition_point(|c| c.rv <= from);
        let events = self
            .history
            .range(start..)
            .filter(|c| c.def == def && ns.is_none_or(|ns| meta_str(&c.object, "namespace") == ns))
            .filter_map(|c| {
                let now = sel.matches(&c.object);
                let before = c.prev.as_deref().is_some_and(|p| sel.matches(p));
                let kind = match (c.kind, before, now) {
                    (EventType::Added, _, true) => EventType::Added,
                    (EventType::Deleted, true, _) => EventType::Deleted,
                    (EventType::Modified, true, true) => EventType::Modified,
                    (EventType::Modified, false, true) => EventType::Added,
                    (EventType::Modified, true, false) => EventType::Deleted,
                    _ => return None,
                };
                Some((kind, c.object.clone()))
            })
            .collect();
        Ok(events)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
