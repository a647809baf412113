//! What each upstream MetalLB release's manifest grants the controller and the speaker, as
//! facts written down in our own words (checked against the manifests themselves by
//! `tests/releases.rs` when they are present). Tests run our binaries under exactly these
//! grants: our images must work on every install from v0.8.3 to v0.12.1.
//!
//! | release | controller | speaker |
//! |---|---|---|
//! | v0.8.3 | services get/list/watch/update, services/status update, events create/patch, configmaps (namespace) get/list/watch | services, endpoints, nodes get/list/watch, events create/patch, configmaps (namespace) |
//! | v0.9.x | as v0.8.3 | as v0.8.3, plus pods (namespace) list — memberlist |
//! | v0.10.3–v0.12.1 | services without update; plus secrets (namespace) create, list (name `memberlist`), deployments.apps get (name `controller`) | plus endpointslices.discovery.k8s.io get/list/watch |
//!
//! `podsecuritypolicies` `use` is left out (not an API call), and so are `resourceNames`
//! limits, which this server does not model: the secrets `list` and deployments `get` rules
//! are granted for any name.

use std::str::FromStr;

use crate::rbac::{Rbac, Rule, Verb};

/// The upstream releases whose manifests our images must run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Release {
    V0_8_3,
    V0_9_3,
    V0_9_6,
    V0_10_3,
    V0_11_0,
    V0_12_1,
}

impl Release {
    pub const ALL: [Release; 6] = [
        Release::V0_8_3,
        Release::V0_9_3,
        Release::V0_9_6,
        Release::V0_10_3,
        Release::V0_11_0,
        Release::V0_12_1,
    ];

    /// `0.9.3`, as in the manifest's file name.
    pub fn version(self) -> &'static str {
        match self {
            Release::V0_8_3 => "0.8.3",
            Release::V0_9_3 => "0.9.3",
            Release::V0_9_6 => "0.9.6",
            Release::V0_10_3 => "0.10.3",
            Release::V0_11_0 => "0.11.0",
            Release::V0_12_1 => "0.12.1",
        }
    }
}

impl FromStr for Release {
    type Err = String;

    /// `0.8.3` or `v0.8.3`.
    fn from_str(s: &str) -> Result<Self, String> {
        let v = s.strip_prefix('v').unwrap_or(s);
        Release::ALL
            .into_iter()
            .find(|r| r.version() == v)
            .ok_or_else(|| {
                let known: Vec<&str> = Release::ALL.iter().map(|r| r.version()).collect();
                format!("unknown release {s:?}: one of {}", known.join(", "))
            })
    }
}

/// Which ServiceAccount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    Controller,
    Speaker,
}

impl Component {
    pub fn service_account(self) -> &'static str {
        match self {
            Component::Controller => "controller",
            Component::Speaker => "speaker",
        }
    }
}

impl FromStr for Component {
    type Err = String;

    /// `controller` or `speaker`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "controller" => Ok(Component::Controller),
            "speaker" => Ok(Component::Speaker),
            _ => Err(format!("unknown component {s:?}: controller or speaker")),
        }
    }
}

const NS: &str = "metallb-system";
const READ: &[Verb] = &[Verb::Get, Verb::List, Verb::Watch];

/// The rules `component`'s ServiceAccount has on an install of `release`.
pub fn rules(release: Release, component: Component) -> Vec<Rule> {
    let memberlist = release >= Release::V0_9_3;
    let slices_and_secret = release >= Release::V0_10_3;
    let mut rules = vec![
        Rule::cluster(&[Verb::Create, Verb::Patch], "", &["events"]),
        Rule::namespaced(NS, READ, "", &["configmaps"]),
    ];
    match component {
        Component::Controller => {
            let services: &[Verb] = if slices_and_secret {
                READ
            } else {
                &[Verb::Get, Verb::List, Verb::Watch, Verb::Update]
            };
            rules.push(Rule::cluster(services, "", &["services"]));
            rules.push(Rule::cluster(&[Verb::Update], "", &["services/status"]));
            if slices_and_secret {
                rules.push(Rule::namespaced(NS, &[Verb::Create], "", &["secrets"]));
                rules.push(Rule::namespaced(NS, &[Verb::List], "", &["secrets"]));
                rules.push(Rule::namespaced(NS, &[Verb::Get], "apps", &["deployments"]));
            }
        }
        Component::Speaker => {
            rules.push(Rule::cluster(READ, "", &["services", "endpoints", "nodes"]));
            if slices_and_secret {
                rules.push(Rule::cluster(READ, "discovery.k8s.io", &["endpointslices"]));
            }
            if memberlist {
                rules.push(Rule::namespaced(NS, &[Verb::List], "", &["pods"]));
            }
        }
    }
    rules
}

/// The rules of `component` on a CRD-mode install (manifests/crd/metallb.yaml,
/// docs/crd.md#crd-mode): v0.12.1's, plus reading the `metallb.io` objects of the namespace.
pub fn crd_mode_rules(component: Component) -> Vec<Rule> {
    let mut rules = rules(Release::V0_12_1, component);
    rules.push(Rule::namespaced(
        NS,
        READ,
        "metallb.io",
        &[
            "ipaddresspools",
            "l2advertisements",
            "bgpadvertisements",
            "bgppeers",
            "communities",
            "bfdprofiles",
        ],
    ));
    rules
}

/// [`crd_mode_rules`] as the fake server's RBAC for that ServiceAccount.
pub fn crd_mode_rbac(component: Component) -> Rbac {
    as_rbac(crd_mode_rules(component), component)
}

fn as_rbac(rules: Vec<Rule>, component: Component) -> Rbac {
    rules.into_iter().fold(
        Rbac::new(format!(
            "system:serviceaccount:{NS}:{}",
            component.service_account()
        )),
        Rbac::allow,
    )
}

/// [`rules`] as the fake server's RBAC for that ServiceAccount.
pub fn rbac(release: Release, component: Component) -> Rbac {
    as_rbac(rules(release, component), component)
}

/// The RBAC of `RELEASE/COMPONENT`, e.g. `0.8.3/speaker` (the binary's `--rbac`), or of our
/// CRD-mode install, `crd/speaker`.
pub fn rbac_from_spec(spec: &str) -> Result<Rbac, String> {
    let (release, component) = spec
        .split_once('/')
        .ok_or_else(|| format!("{spec:?}: expected RELEASE/COMPONENT, e.g. 0.8.3/speaker"))?;
    if release == "crd" {
        return Ok(crd_mode_rbac(component.parse()?));
    }
    Ok(rbac(release.parse()?, component.parse()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_every_release_and_component() {
        for r in Release::ALL {
            assert_eq!(r.version().parse(), Ok(r));
            assert_eq!(format!("v{}", r.version()).parse(), Ok(r));
            for (name, c) in [
                ("controller", Component::Controller),
                ("speaker", Component::Speaker),
            ] {
                let spec = format!("{}/{name}", r.version());
                assert_eq!(rbac_from_spec(&spec), Ok(rbac(r, c)), "{spec}");
            }
        }
    }

    #[test]
    fn crd_mode_adds_reading_the_objects() {
        let rbac = rbac_from_spec("crd/controller").expect("valid");
        assert_eq!(rbac, crd_mode_rbac(Component::Controller));
        assert_ne!(rbac, super::rbac(Release::V0_12_1, Component::Controller));
        let extra = crd_mode_rules(Component::Speaker).len()
            - rules(Release::V0_12_1, Component::Speaker).len();
        assert_eq!(extra, 1);
    }

    #[test]
    fn bad_specs_say_what_is_accepted() {
        let err = |s| rbac_from_spec(s).expect_err(s);
        assert!(err("0.8.3").contains("RELEASE/COMPONENT"));
        assert!(err("0.8.4/speaker").contains("0.8.3, 0.9.3"));
        assert!(err("0.8.3/pod").contains("controller or speaker"));
        assert!(err("/speaker").contains("unknown release"));
    }
}
