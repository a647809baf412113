//! The registry strategies of kube-apiserver for the API's writes: create, update and status
//! update, merge patch, delete with finalizers and preconditions.

use serde_json::{Map, Value};

use super::{EventType, Obj, Store, meta, meta_mut, meta_str, now};
use crate::paths::ResourceDef;
use crate::status::ApiError;

/// A request body must be an object of this resource's kind with object metadata.
pub(super) fn check_body(def: &ResourceDef, body: &Value) -> Result<(), ApiError> {
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

impl Store {
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
    pub(super) fn insert_new(
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
}
