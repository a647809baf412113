//! `metav1.Status` error bodies with the real server's reasons and messages, so callers that
//! branch on `reason`/`code` (kube-rs' `Error::Api`) see what a kube-apiserver sends.

use serde_json::{Map, Value, json};

use crate::paths::ResourceDef;

/// A failed request: becomes a `Status` body with `code` as the HTTP status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details` of the Status (name, group, kind, retryAfterSeconds…).
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> Self {
        Self {
            code,
            reason,
            message,
            details,
        }
    }

    /// The Status object the server writes.
    pub fn body(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if let (Some(d), Some(m)) = (&self.details, s.as_object_mut()) {
            m.insert("details".into(), d.clone());
        }
        if let Some(m) = s.as_object_mut() {
            m.insert("code".into(), self.code.into());
        }
        s
    }

    /// `services "web" not found`.
    pub fn not_found(def: &ResourceDef, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", def.qualified()),
            Some(details(def, Some(name))),
        )
    }

    /// A path the server does not serve.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            Some(json!({})),
        )
    }

    /// `services "web" already exists`.
    pub fn already_exists(def: &ResourceDef, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", def.qualified()),
            Some(details(def, Some(name))),
        )
    }

    /// Optimistic-concurrency failure of an update.
    pub fn conflict(def: &ResourceDef, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                def.qualified()
            ),
            Some(details(def, Some(name))),
        )
    }

    /// A watch from (or a continue token of) a resourceVersion the server no longer has.
    pub fn expired(message: String) -> Self {
        Self::new(410, "Expired", message, None)
    }

    pub fn bad_request(message: String) -> Self {
        Self::new(400, "BadRequest", message, None)
    }

    /// 422 of a failed validation: `Service "" is invalid: metadata.name: Required value: …`.
    pub fn invalid(def: &ResourceDef, name: &str, field: &str, detail: &str) -> Self {
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {field}: {detail}", def.kind),
            Some(json!({
                "name": name,
                "group": def.group,
                "kind": def.kind,
                "causes": [{"reason": "FieldValueRequired", "message": detail, "field": field}],
            })),
        )
    }

    pub fn internal(message: String) -> Self {
        Self::new(500, "InternalError", message, None)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".into(),
            Some(json!({})),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json; got {content_type:?}"
            ),
            None,
        )
    }

    /// RBAC denial; `message` is the full `… is forbidden: User … cannot …` text.
    pub fn forbidden(def: &ResourceDef, name: Option<&str>, message: String) -> Self {
        Self::new(403, "Forbidden", message, Some(details(def, name)))
    }
}

/// `details` naming the object: `{name, group, kind}` with `kind` the plural resource, as the
/// real server fills it for NotFound/AlreadyExists/Conflict (group omitted for core).
fn details(def: &ResourceDef, name: Option<&str>) -> Value {
    let mut d = Map::new();
    if let Some(n) = name {
        d.insert("name".into(), n.into());
    }
    if !def.group.is_empty() {
        d.insert("group".into(), def.group.into());
    }
    d.insert("kind".into(), def.resource.into());
    Value::Object(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::find;

    #[test]
    fn bodies_match_the_real_server() {
        let svc = find("services").unwrap();
        assert_eq!(
            ApiError::not_found(svc, "web").body(),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"services \"web\" not found","reason":"NotFound",
                   "details":{"name":"web","kind":"services"},"code":404})
        );
        let eps = find("endpointslices").unwrap();
        let c = ApiError::conflict(eps, "x").body();
        assert_eq!(
            c["message"],
            "Operation cannot be fulfilled on endpointslices.discovery.k8s.io \"x\": the object has been modified; please apply your changes to the latest version and try again"
        );
        assert_eq!(c["details"]["group"], "discovery.k8s.io");
        assert_eq!(c["code"], 409);
        let e = ApiError::expired("too old resource version: 1 (5)".into()).body();
        assert_eq!(e["reason"], "Expired");
        assert!(e.get("details").is_none());
    }
}
