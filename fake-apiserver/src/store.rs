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

/// A request body must be an object of this resource's kind with object metadata.
fn check_body(def: &ResourceDef, body: &Value) -> Result<(), ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_request(
            "the request body is not a JSON object".into(),
        ));
    };
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{body}'"
        )));
    }
    if kind != def.kind || api_version != def.api_version() {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{api_version}\" cannot be handled as a {}: the object's kind and \
             apiVersion do not match the URL",
            def.kind
        )));
    }
    if obj.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(ApiError::bad_request("metadata must be an object".into()));
    }
    Ok(())
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
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

    /// POST: the create strategy.
    pub fn create(
        &mut self,
        def: &'static ResourceDef,
        ns: Option<&str>,
        mut body: Value,
    ) -> Result<Obj, ApiError> {
        check_body(def, &body)?;
        let body_ns = meta_str(&body, "namespace").to_string();
        let m = meta_mut(&mut body);
        if def.namespaced {
            let Some(ns) = ns else {
                return Err(ApiError::method_not_allowed());
            };
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on \
                     the request"
                        .into(),
                ));
            }
            m.insert("namespace".into(), ns.into());
        } else {
            m.remove("namespace");
        }
        if m.get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|rv| !rv.is_empty())
        {
            return Err(ApiError::internal(
                "resourceVersion should not be set on objects to be created".into(),
            ));
        }
        if def.has_status
            && def.resource != "nodes"
            && let Some(o) = body.as_object_mut()
        {
            // Services, Pods, workloads: status is the controllers' to write, reset on create.
            o.insert("status".into(), Value::Object(Map::new()));
        }
        self.insert_new(def, ns, body, false)
    }

    /// Names (generateName), stamps system fields and stores a new object.
    fn insert_new(
        &mut self,
        def: &'static ResourceDef,
        ns: Option<&str>,
        mut body: Value,
        keep_identity: bool,
    ) -> Result<Obj, ApiError> {
        let mut name = meta_str(&body, "name").to_string();
        if name.is_empty() {
            let prefix = meta_str(&body, "generateName").to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    def,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
            const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
            loop {
                let mut r = self.next_seq();
                let suffix: String = (0..5)
                    .map(|_| {
                        let c = ALPHABET[(r % ALPHABET.len() as u64) as usize];
                        r /= ALPHABET.len() as u64;
                        c as char
                    })
                    .collect();
                name = format!("{prefix}{suffix}");
                if self.lookup(def, &Self::key(def, ns, &name)).is_none() {
                    break;
                }
            }
        }
        let key = Self::key(def, ns, &name);
        if self.lookup(def, &key).is_some() {
            return Err(ApiError::already_exists(def, &name));
        }
        let uid = self.new_uid();
        let m = meta_mut(&mut body);
        m.insert("name".into(), name.into());
        if !keep_identity || !m.contains_key("uid") {
            m.insert("uid".into(), uid.into());
        }
        if !keep_identity || !m.contains_key("creationTimestamp") {
            m.insert("creationTimestamp".into(), now().into());
        }
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        if def.tracks_generation {
            m.insert("generation".into(), 1.into());
        } else {
            m.remove("generation");
        }
        Ok(self.commit(def, key, body, EventType::Added))
    }

    /// PUT on the object (`status == false`) or on its `/status` subresource.
    pub fn update(
        &mut self,
        def: &'static ResourceDef,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        status: bool,
    ) -> Result<Obj, ApiError> {
        check_body(def, &body)?;
        let body_name = meta_str(&body, "name");
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let body_ns = meta_str(&body, "namespace");
        if def.namespaced && !body_ns.is_empty() && Some(body_ns) != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the \
                 request"
                    .into(),
            ));
        }
        let body_rv = meta_str(&body, "resourceVersion").to_string();
        let key = Self::key(def, ns, name);
        let Some(stored) = self.lookup(def, &key).cloned() else {
            if status || !def.create_on_update || !body_rv.is_empty() {
                return Err(ApiError::not_found(def, name));
            }
            return self.insert_new(def, ns, body, false);
        };
        if !body_rv.is_empty() {
            let Ok(rv) = body_rv.parse::<u64>() else {
                return Err(ApiError::bad_request(format!(
                    "metadata.resourceVersion: Invalid value: {body_rv:?}: must be an integer"
                )));
            };
            if rv.to_string() != meta_str(&stored, "resourceVersion") {
                return Err(ApiError::conflict(def, name));
            }
        }
        let mut new = if status {
            // Status strategy: spec and everything else from storage, metadata and status from
            // the request (kube-apiserver's `PrepareForUpdate` of the status strategies).
            let mut new = (*stored).clone();
            if let (Some(n), Some(b)) = (new.as_object_mut(), body.as_object_mut()) {
                for field in ["metadata", "status"] {
                    match b.remove(field) {
                        Some(v) => n.insert(field.into(), v),
                        None => n.remove(field),
                    };
                }
            }
            new
        } else {
            if def.has_status
                && let Some(b) = body.as_object_mut()
            {
                match stored.get("status") {
                    Some(s) => b.insert("status".into(), s.clone()),
                    None => b.remove("status"),
                };
            }
            body
        };
        let stored_meta = meta(&stored).clone();
        let m = meta_mut(&mut new);
        let mut system = vec![
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "namespace",
        ];
        if status || !m.contains_key("managedFields") {
            system.push("managedFields");
        }
        if status && def.resource == "pods" {
            // pods/status never touches ownerReferences (old kubelets corrupted them).
            system.push("ownerReferences");
        }
        for f in system {
            match stored_meta.get(f) {
                Some(v) => m.insert(f.into(), v.clone()),
                None => m.remove(f),
            };
        }
        if def.tracks_generation && !status && new.get("spec") != stored.get("spec") {
            let g = stored_meta["generation"].as_i64().unwrap_or(0) + 1;
            meta_mut(&mut new).insert("generation".into(), g.into());
        }
        if new == *stored {
            // etcd skips a write that changes nothing: same resourceVersion, no event.
            return Ok(stored);
        }
        let finalizers_left = meta(&new)["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if !meta(&new)["deletionTimestamp"].is_null() && !finalizers_left {
            return Ok(self.commit(def, key, new, EventType::Deleted));
        }
        Ok(self.commit(def, key, new, EventType::Modified))
    }

    /// PATCH with an RFC 7386 merge patch, then the update strategy of the (sub)resource.
    pub fn patch(
        &mut self,
        def: &'static ResourceDef,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
        status: bool,
    ) -> Result<Obj, ApiError> {
        let mut merged = (*self.get(def, ns, name)?).clone();
        merge_patch(&mut merged, patch);
        self.update(def, ns, name, merged, status)
    }

    /// DELETE: removes the object, or with finalizers marks it (deletionTimestamp) and leaves
    /// it until an update empties the finalizers. `preconditions` from DeleteOptions.
    pub fn delete(
        &mut self,
        def: &'static ResourceDef,
        ns: Option<&str>,
        name: &str,
        preconditions: Option<&Value>,
    ) -> Result<Obj, ApiError> {
        let key = Self::key(def, ns, name);
        let stored = self.get(def, ns, name)?;
        for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
            if let Some(want) = preconditions.and_then(|p| p[field].as_str()) {
                let have = meta_str(&stored, field);
                if want != have {
                    let mut e = ApiError::conflict(def, name);
                    e.message = format!(
                        "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: \
                         {label} in precondition: {want}, {label} in object meta: {have}",
                        def.qualified()
                    );
                    return Err(e);
                }
            }
        }
        let has_finalizers = meta(&stored)["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if !has_finalizers {
            return Ok(self.commit(def, key, (*stored).clone(), EventType::Deleted));
        }
        if !meta(&stored)["deletionTimestamp"].is_null() {
            return Ok(stored);
        }
        let mut new = (*stored).clone();
        let m = meta_mut(&mut new);
        m.insert("deletionTimestamp".into(), now().into());
        m.insert("deletionGracePeriodSeconds".into(), 0.into());
        Ok(self.commit(def, key, new, EventType::Modified))
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
#[path = "store_tests.rs"]
mod tests;
