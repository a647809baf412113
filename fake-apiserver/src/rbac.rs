//! RBAC as the authorizer sees a request: (verb, API group, resource[/subresource], namespace).
//! Rules are the union of the Roles and ClusterRoles bound to the one user the fake serves;
//! anything not granted is a 403 with the real `… is forbidden: User … cannot …` message, so a
//! missing rule in the Helm chart fails a test instead of a cluster.

use std::fmt;

use crate::paths::ResourceDef;
use crate::status::ApiError;

/// The authorizer's verb of a request (GET with a name = get, without = list, `watch=true`
/// = watch, POST = create, PUT = update, PATCH = patch, DELETE = delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
}

impl Verb {
    /// Every verb, for `*` rules.
    pub const ALL: [Verb; 7] = [
        Verb::Get,
        Verb::List,
        Verb::Watch,
        Verb::Create,
        Verb::Update,
        Verb::Patch,
        Verb::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    /// Parses `get`, `list`… (the control API's `verbs=` parameter).
    pub fn parse(s: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One PolicyRule as granted to the user: through a ClusterRoleBinding (`namespace: None`,
/// everywhere including cluster-scope requests) or a RoleBinding (only in that namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<Verb>,
    /// `""` for core, `"*"` for any.
    pub api_group: String,
    /// `services`, `services/status`, or `*`.
    pub resources: Vec<String>,
    pub namespace: Option<String>,
}

impl Rule {
    /// A ClusterRole rule bound cluster-wide.
    pub fn cluster(verbs: &[Verb], api_group: &str, resources: &[&str]) -> Self {
        Self {
            verbs: verbs.to_vec(),
            api_group: api_group.into(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            namespace: None,
        }
    }

    /// A Role rule, bound in `namespace` only.
    pub fn namespaced(
        namespace: &str,
        verbs: &[Verb],
        api_group: &str,
        resources: &[&str],
    ) -> Self {
        Self {
            namespace: Some(namespace.into()),
            ..Self::cluster(verbs, api_group, resources)
        }
    }

    fn allows(&self, verb: Verb, group: &str, resource: &str, ns: Option<&str>) -> bool {
        self.verbs.contains(&verb)
            && (self.api_group == "*" || self.api_group == group)
            && self.resources.iter().any(|r| r == "*" || r == resource)
            && self
                .namespace
                .as_deref()
                .is_none_or(|rule_ns| Some(rule_ns) == ns)
    }
}

/// The user the clients authenticate as and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rbac {
    /// As it appears in messages: `system:serviceaccount:metallb-system:controller`.
    pub user: String,
    pub rules: Vec<Rule>,
}

impl Rbac {
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            rules: Vec::new(),
        }
    }

    /// Adds a rule (builder style).
    pub fn allow(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// `Ok` when some rule grants the request, else the real 403.
    pub fn check(
        &self,
        verb: Verb,
        def: &ResourceDef,
        ns: Option<&str>,
        name: Option<&str>,
        subresource: Option<&str>,
    ) -> Result<(), ApiError> {
        let resource = match subresource {
            Some(s) => format!("{}/{s}", def.resource),
            None => def.resource.to_string(),
        };
        if self
            .rules
            .iter()
            .any(|r| r.allows(verb, def.group, &resource, ns))
        {
            return Ok(());
        }
        let subject = match name {
            Some(n) => format!("{} \"{n}\"", def.qualified()),
            None => def.qualified(),
        };
        let scope = match ns {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".into(),
        };
        let message = format!(
            "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
            self.user, def.group
        );
        Err(ApiError::forbidden(def, name, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::find;

    #[test]
    fn denials_read_like_the_real_authorizer() {
        let rbac = Rbac::new("system:serviceaccount:metallb-system:speaker")
            .allow(Rule::cluster(
                &[Verb::Get, Verb::List, Verb::Watch],
                "",
                &["services"],
            ))
            .allow(Rule::namespaced(
                "metallb-system",
                &[Verb::Create],
                "",
                &["events"],
            ))
            .allow(Rule::cluster(&[Verb::Update], "", &["services/status"]));
        let (svc, eps, ev) = (
            find("services").unwrap(),
            find("endpointslices").unwrap(),
            find("events").unwrap(),
        );
        assert!(rbac.check(Verb::List, svc, None, None, None).is_ok());
        assert!(
            rbac.check(Verb::Update, svc, Some("a"), Some("web"), Some("status"))
                .is_ok()
        );
        assert!(
            rbac.check(Verb::Create, ev, Some("metallb-system"), None, None)
                .is_ok()
        );

        let e = rbac.check(Verb::List, eps, None, None, None).unwrap_err();
        assert_eq!(
            e.body(),
            serde_json::json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"endpointslices.discovery.k8s.io is forbidden: User \"system:serviceaccount:metallb-system:speaker\" cannot list resource \"endpointslices\" in API group \"discovery.k8s.io\" at the cluster scope","reason":"Forbidden","details":{"group":"discovery.k8s.io","kind":"endpointslices"},"code":403})
        );
        let e = rbac
            .check(Verb::Update, svc, Some("a"), Some("web"), None)
            .unwrap_err();
        assert_eq!(
            e.message,
            "services \"web\" is forbidden: User \"system:serviceaccount:metallb-system:speaker\" cannot update resource \"services\" in API group \"\" in the namespace \"a\""
        );
        assert!(
            rbac.check(Verb::Create, ev, Some("default"), None, None)
                .is_err(),
            "Role is per namespace"
        );
    }
}
