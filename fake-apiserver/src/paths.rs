//! The resources the fake serves and the URLs kube-rs builds for them.
//!
//! One table row per resource (group, version, plural, kind, scope, status subresource), and a
//! parser from a request path to (resource, namespace, name, subresource). Anything the table
//! does not hold is a 404, like a resource the real server does not serve.

/// One served resource, as its discovery document would describe it.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceDef {
    /// API group; `""` for the core group (`/api/v1`).
    pub group: &'static str,
    pub version: &'static str,
    /// Plural resource name, the path segment (`services`).
    pub resource: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Has a `/status` subresource: the main update keeps the stored `status` and the status
    /// update keeps everything but metadata and status.
    pub has_status: bool,
    /// The strategy allows a PUT to create a missing object (Endpoints, Events, EndpointSlices).
    pub create_on_update: bool,
    /// `metadata.generation` counts spec changes (workload controllers).
    pub tracks_generation: bool,
}

impl ResourceDef {
    /// `apiVersion` of the objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name the real server uses in messages: `services`, `endpointslices.discovery.k8s.io`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

const fn def(
    group: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    has_status: bool,
) -> ResourceDef {
    ResourceDef {
        group,
        version: "v1",
        resource,
        kind,
        namespaced,
        has_status,
        create_on_update: false,
        tracks_generation: false,
    }
}

/// A `metallb.io` custom resource (docs/crd.md#the-crd-files): namespaced, a `status`
/// subresource, and `metadata.generation` counting spec changes, as the API server handles
/// custom resources.
const fn metallb(resource: &'static str, kind: &'static str, version: &'static str) -> ResourceDef {
    ResourceDef {
        version,
        tracks_generation: true,
        ..def("metallb.io", resource, kind, true, true)
    }
}

/// Every resource the fake serves: the core and apps resources at `v1`, and MetalLB v0.13's
/// custom resources at the version metallb-rs reads and writes (`BGPPeer` only at v1beta2:
/// the other version of a multi-version CRD is not served here, a request for it is a 404).
pub static RESOURCES: [ResourceDef; 16] = [
    def("", "services", "Service", true, true),
    ResourceDef {
        create_on_update: true,
        ..def("", "endpoints", "Endpoints", true, false)
    },
    def("", "configmaps", "ConfigMap", true, false),
    def("", "secrets", "Secret", true, false),
    def("", "pods", "Pod", true, true),
    def("", "nodes", "Node", false, true),
    ResourceDef {
        create_on_update: true,
        ..def("", "events", "Event", true, false)
    },
    ResourceDef {
        create_on_update: true,
        ..def(
            "discovery.k8s.io",
            "endpointslices",
            "EndpointSlice",
            true,
            false,
        )
    },
    ResourceDef {
        tracks_generation: true,
        ..def("apps", "deployments", "Deployment", true, true)
    },
    ResourceDef {
        tracks_generation: true,
        ..def("apps", "daemonsets", "DaemonSet", true, true)
    },
    metallb("ipaddresspools", "IPAddressPool", "v1beta1"),
    metallb("l2advertisements", "L2Advertisement", "v1beta1"),
    metallb("bgpadvertisements", "BGPAdvertisement", "v1beta1"),
    metallb("bgppeers", "BGPPeer", "v1beta2"),
    metallb("communities", "Community", "v1beta1"),
    metallb("bfdprofiles", "BFDProfile", "v1beta1"),
];

/// Looks a resource up by plural (`services`), qualified plural
/// (`endpointslices.discovery.k8s.io`) or kind (`EndpointSlice`).
pub fn find(name: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|d| d.resource == name || d.kind == name || d.qualified() == name)
}

/// The resource of an object, from its `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|d| d.kind == kind && d.api_version() == api_version)
}

/// A request path, resolved against [`RESOURCES`].
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub def: &'static ResourceDef,
    /// The namespace in the path, `None` for cluster-scoped and all-namespaces requests.
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `status` for `.../{name}/status`.
    pub subresource: Option<String>,
}

/// Parses `/api/v1/[namespaces/{ns}/]{resource}[/{name}[/{sub}]]` and the same under
/// `/apis/{group}/{version}`. `None` when the path names nothing served.
pub fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(n.to_string()), None),
        [r, n, s] => (*r, Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    let def = RESOURCES
        .iter()
        .find(|d| d.group == group && d.version == version && d.resource == resource)?;
    if (namespace.is_some() && !def.namespaced) || name.as_deref() == Some("") {
        return None;
    }
    match subresource.as_deref() {
        None => {}
        Some("status") if def.has_status => {}
        Some(_) => return None,
    }
    Some(Target {
        def,
        namespace,
        name,
        subresource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_paths_kube_rs_builds() {
        let t = parse("/api/v1/namespaces/default/services/web/status").unwrap();
        assert_eq!(t.def.resource, "services");
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("status"));

        let t = parse("/api/v1/services").unwrap();
        assert_eq!((t.namespace, t.name), (None, None));

        let t = parse("/apis/discovery.k8s.io/v1/namespaces/a/endpointslices").unwrap();
        assert_eq!(t.def.kind, "EndpointSlice");
        assert_eq!(t.namespace.as_deref(), Some("a"));

        let t = parse("/api/v1/nodes/n1/status").unwrap();
        assert_eq!(t.def.kind, "Node");
        assert_eq!(t.name.as_deref(), Some("n1"));

        assert!(parse("/apis/discovery.k8s.io/v1beta1/endpointslices").is_none());
        assert!(parse("/api/v1/namespaces/default/configmaps/x/status").is_none());
        assert!(parse("/api/v1/namespaces/default/nodes").is_none());
        assert!(parse("/api/v1/namespaces/default").is_none());
        assert!(parse("/healthz").is_none());
    }

    #[test]
    fn serves_metallb_objects_at_their_versions() {
        let t =
            parse("/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/lan").unwrap();
        assert_eq!(
            (t.def.kind, t.name.as_deref()),
            ("IPAddressPool", Some("lan"))
        );
        assert!(t.def.has_status && t.def.tracks_generation);
        let t = parse("/apis/metallb.io/v1beta2/namespaces/metallb-system/bgppeers").unwrap();
        assert_eq!(t.def.api_version(), "metallb.io/v1beta2");
        assert!(parse("/apis/metallb.io/v1beta1/namespaces/metallb-system/bgppeers").is_none());
        assert_eq!(
            find("bgpadvertisements.metallb.io").unwrap().kind,
            "BGPAdvertisement"
        );
    }

    #[test]
    fn finds_by_any_name() {
        assert_eq!(
            find("endpointslices.discovery.k8s.io").unwrap().kind,
            "EndpointSlice"
        );
        assert_eq!(find("Service").unwrap().resource, "services");
        assert_eq!(
            by_kind("apps/v1", "Deployment").unwrap().resource,
            "deployments"
        );
        assert!(by_kind("v1", "Deployment").is_none());
    }
}
