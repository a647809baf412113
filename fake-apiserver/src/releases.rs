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

/// [`rules`] as the fake server's RBAC for that ServiceAccount.
pub fn rbac(release: Release, component: Component) -> Rbac {
    rules(release, component).into_iter().fold(
        Rbac::new(format!(
            "system:serviceaccount:{NS}:{}",
            component.service_account()
        )),
        Rbac::allow,
    )
}
