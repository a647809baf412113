//! The RBAC tables of `fake_apiserver::releases` against the upstream manifests they describe,
//! when those are present beside the repository (`../shared/upstream-manifests/`): every rule
//! the manifests bind to the controller's and the speaker's ServiceAccounts, and nothing more.

use std::collections::BTreeSet;
use std::path::PathBuf;

use fake_apiserver::Rule;
use fake_apiserver::releases::{Component, Release, crd_mode_rules, rules};
use serde_json::Value;

/// (verb, apiGroup, resource, namespace of a Role binding or "" for cluster-wide).
type Grant = (String, String, String, String);

fn manifests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/upstream-manifests")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What the manifest binds to `sa`, expanded to single grants.
fn granted(objects: &[Value], sa: &str) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for binding in objects {
        let kind = binding["kind"].as_str().unwrap_or_default();
        if kind != "ClusterRoleBinding" && kind != "RoleBinding" {
            continue;
        }
        let bound = binding["subjects"].as_array().is_some_and(|subjects| {
            subjects
                .iter()
                .any(|s| s["kind"] == "ServiceAccount" && s["name"] == sa)
        });
        if !bound {
            continue;
        }
        let role_kind = binding["roleRef"]["kind"].as_str().unwrap_or_default();
        let role_name = binding["roleRef"]["name"].as_str().unwrap_or_default();
        let scope = if kind == "RoleBinding" {
            binding["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
        } else {
            ""
        };
        let role = objects
            .iter()
            .find(|o| o["kind"] == role_kind && o["metadata"]["name"] == role_name)
            .unwrap_or_else(|| panic!("{kind} to a missing {role_kind} {role_name}"));
        for rule in role["rules"].as_array().into_iter().flatten() {
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    if resource == "podsecuritypolicies" {
                        continue; // `use`, not an API call of ours
                    }
                    for verb in strings(&rule["verbs"]) {
                        out.insert((verb, group.clone(), resource.clone(), scope.to_owned()));
                    }
                }
            }
        }
    }
    out
}

fn ours(release: Release, component: Component) -> BTreeSet<Grant> {
    grants(rules(release, component))
}

fn grants(rules: Vec<Rule>) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for verb in &rule.verbs {
            for resource in &rule.resources {
                out.insert((
                    verb.as_str().to_owned(),
                    rule.api_group.clone(),
                    resource.clone(),
                    rule.namespace.clone().unwrap_or_default(),
                ));
            }
        }
    }
    out
}

#[test]
fn tables_match_the_upstream_manifests() {
    let dir = manifests_dir();
    if !dir.is_dir() {
        eprintln!(
            "no {} beside the repository: nothing to compare",
            dir.display()
        );
        return;
    }
    let mut compared = 0;
    for release in Release::ALL {
        let path = dir.join(format!("metallb-v{}.yaml", release.version()));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let objects: Vec<Value> = serde_saphyr::from_multiple::<Value>(&text)
            .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
            .into_iter()
            .filter(|o| !o.is_null())
            .collect();
        for component in [Component::Controller, Component::Speaker] {
            assert_eq!(
                ours(release, component),
                granted(&objects, component.service_account()),
                "v{} {:?}",
                release.version(),
                component
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 12);
}

/// The CRD-mode table against our own CRD-mode install, which is in the repository.
#[test]
fn the_crd_mode_table_matches_manifests_crd() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/crd/metallb.yaml");
    let text = std::fs::read_to_string(&path).expect("manifests/crd/metallb.yaml");
    let objects: Vec<Value> = serde_saphyr::from_multiple::<Value>(&text)
        .expect("YAML")
        .into_iter()
        .filter(|o| !o.is_null())
        .collect();
    for component in [Component::Controller, Component::Speaker] {
        assert_eq!(
            grants(crd_mode_rules(component)),
            granted(&objects, component.service_account()),
            "{component:?}"
        );
    }
}
