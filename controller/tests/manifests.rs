//! Drift guard for `manifests/`: the static install must carry upstream MetalLB v0.12.1's objects,
//! RBAC rules, ports, env, args, probes and security context
//! (docs/operations.md#manifests-and-rbac) object by object, with only the images changed. The
//! expected values (upstream v0.12.1's) are written out here by hand rather than read from
//! any file, so an edit to `manifests/metallb.yaml` that widens RBAC, renames an env var or
//! drops a probe fails this test. The last tests tie the manifests to this binary: the args
//! they pass are accepted and the env vars they set are ones the controller reads.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{Value, json};

const NS: &str = "metallb-system";

fn read(path: &str) -> Vec<Value> {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {full}: {e}"));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("parse {full}: {e}"))
        .into_iter()
        .filter(|doc| !doc.is_null())
        .collect()
}

/// `manifests/namespace.yaml` + `manifests/metallb.yaml`, what `kubectl apply -f` installs.
fn installed() -> Vec<Value> {
    let mut objs = read("manifests/namespace.yaml");
    objs.extend(read("manifests/metallb.yaml"));
    objs
}

fn id(obj: &Value) -> (String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        s(&obj["kind"]),
        s(&obj["metadata"]["namespace"]),
        s(&obj["metadata"]["name"]),
    )
}

fn object<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = objs
        .iter()
        .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} {name}");
    found[0]
}

fn container(workload: &Value) -> &Value {
    let containers = workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1, "{:?}: one container", id(workload));
    &containers[0]
}

type Grant = (String, String, String, String);
/// One expected rule: (apiGroup, resources, resourceNames, verbs).
type Rule<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);

/// Rules flattened to (apiGroup, resource, verb, resourceName or `*`): two roles grant the same
/// access exactly when these sets are equal, however the rules are grouped.
fn grants(role: &Value) -> BTreeSet<Grant> {
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s.as_str().expect("string").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().expect("rules") {
        let mut names = list(&rule["resourceNames"]);
        if names.is_empty() {
            names.push("*".to_owned());
        }
        for group in list(&rule["apiGroups"]) {
            for resource in list(&rule["resources"]) {
                for verb in list(&rule["verbs"]) {
                    for name in &names {
                        out.insert((group.clone(), resource.clone(), verb.clone(), name.clone()));
                    }
                }
            }
        }
    }
    out
}

fn expect_grants(rules: &[Rule<'_>]) -> BTreeSet<Grant> {
    let role = json!({
        "rules": rules.iter().map(|(group, resources, names, verbs)| json!({
            "apiGroups": [group], "resources": resources, "resourceNames": names, "verbs": verbs,
        })).collect::<Vec<_>>()
    });
    grants(&role)
}

#[test]
fn the_same_objects_as_upstream() {
    let objs = installed();
    let got: BTreeSet<_> = objs.iter().map(id).collect();
    let expected: BTreeSet<_> = [
        ("Namespace", "", "metallb-system"),
        ("ServiceAccount", NS, "controller"),
        ("ServiceAccount", NS, "speaker"),
        ("ClusterRole", "", "metallb-system:controller"),
        ("ClusterRole", "", "metallb-system:speaker"),
        ("Role", NS, "config-watcher"),
        ("Role", NS, "pod-lister"),
        ("Role", NS, "controller"),
        ("ClusterRoleBinding", "", "metallb-system:controller"),
        ("ClusterRoleBinding", "", "metallb-system:speaker"),
        ("RoleBinding", NS, "config-watcher"),
        ("RoleBinding", NS, "pod-lister"),
        ("RoleBinding", NS, "controller"),
        ("DaemonSet", NS, "speaker"),
        ("Deployment", NS, "controller"),
    ]
    .iter()
    .map(|(k, n, m)| ((*k).to_owned(), (*n).to_owned(), (*m).to_owned()))
    .collect();
    assert_eq!(got, expected);
    assert_eq!(objs.len(), expected.len(), "no object twice");
    for obj in &objs {
        assert_eq!(
            obj["metadata"]["labels"]["app"],
            "metallb",
            "{:?} labelled app=metallb",
            id(obj)
        );
    }
    let psps: BTreeSet<_> = read("manifests/optional/podsecuritypolicy.yaml")
        .iter()
        .map(id)
        .collect();
    assert_eq!(
        psps,
        BTreeSet::from([
            (
                "PodSecurityPolicy".into(),
                String::new(),
                "controller".into()
            ),
            ("PodSecurityPolicy".into(), String::new(), "speaker".into()),
        ])
    );
}

#[test]
fn rbac_rules_are_exactly_upstreams() {
    let objs = installed();
    let read_only: &[&str] = &["get", "list", "watch"];
    let cases: Vec<(&str, &str, BTreeSet<Grant>)> = vec![
        (
            "ClusterRole",
            "metallb-system:controller",
            expect_grants(&[
                ("", &["services"], &[], read_only),
                ("", &["services/status"], &[], &["update"]),
                ("", &["events"], &[], &["create", "patch"]),
                (
                    "policy",
                    &["podsecuritypolicies"],
                    &["controller"],
                    &["use"],
                ),
            ]),
        ),
        (
            "ClusterRole",
            "metallb-system:speaker",
            expect_grants(&[
                ("", &["services", "endpoints", "nodes"], &[], read_only),
                ("discovery.k8s.io", &["endpointslices"], &[], read_only),
                ("", &["events"], &[], &["create", "patch"]),
                ("policy", &["podsecuritypolicies"], &["speaker"], &["use"]),
            ]),
        ),
        (
            "Role",
            "config-watcher",
            expect_grants(&[("", &["configmaps"], &[], read_only)]),
        ),
        (
            "Role",
            "pod-lister",
            expect_grants(&[("", &["pods"], &[], &["list"])]),
        ),
        (
            "Role",
            "controller",
            expect_grants(&[
                ("", &["secrets"], &[], &["create"]),
                ("", &["secrets"], &["memberlist"], &["list"]),
                ("apps", &["deployments"], &["controller"], &["get"]),
            ]),
        ),
    ];
    for (kind, name, expected) in cases {
        let got = grants(object(&objs, kind, name));
        let broader: Vec<_> = got.difference(&expected).collect();
        let missing: Vec<_> = expected.difference(&got).collect();
        assert!(
            broader.is_empty() && missing.is_empty(),
            "{kind} {name}: grants beyond upstream {broader:?}, upstream grants missing {missing:?}"
        );
    }
}

#[test]
fn bindings_are_upstreams() {
    let objs = installed();
    let sa = |name: &str| json!({"kind": "ServiceAccount", "name": name, "namespace": NS});
    let local_sa = |name: &str| json!({"kind": "ServiceAccount", "name": name});
    let cases = [
        (
            "ClusterRoleBinding",
            "metallb-system:controller",
            "ClusterRole",
            json!([sa("controller")]),
        ),
        (
            "ClusterRoleBinding",
            "metallb-system:speaker",
            "ClusterRole",
            json!([sa("speaker")]),
        ),
        (
            "RoleBinding",
            "config-watcher",
            "Role",
            json!([local_sa("controller"), local_sa("speaker")]),
        ),
        (
            "RoleBinding",
            "pod-lister",
            "Role",
            json!([local_sa("speaker")]),
        ),
        (
            "RoleBinding",
            "controller",
            "Role",
            json!([local_sa("controller")]),
        ),
    ];
    for (kind, name, role_kind, subjects) in cases {
        let binding = object(&objs, kind, name);
        assert_eq!(
            binding["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name}),
            "{kind} {name} roleRef"
        );
        assert_eq!(binding["subjects"], subjects, "{kind} {name} subjects");
    }
}

fn probe() -> Value {
    json!({
        "httpGet": {"path": "/metrics", "port": "monitoring"},
        "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 1,
        "successThreshold": 1, "failureThreshold": 3,
    })
}

fn field_ref(path: &str) -> Value {
    json!({"fieldRef": {"fieldPath": path}})
}

#[test]
fn speaker_daemonset_is_upstreams() {
    let objs = installed();
    let ds = object(&objs, "DaemonSet", "speaker");
    let labels = json!({"app": "metallb", "component": "speaker"});
    assert_eq!(ds["spec"]["selector"]["matchLabels"], labels);
    let pod = &ds["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"], labels);
    assert_eq!(
        pod["metadata"]["annotations"],
        json!({"prometheus.io/port": "7472", "prometheus.io/scrape": "true"})
    );
    let spec = &pod["spec"];
    assert_eq!(spec["serviceAccountName"], "speaker");
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["terminationGracePeriodSeconds"], 2);
    assert_eq!(spec["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(
        spec["tolerations"],
        json!([{"effect": "NoSchedule", "key": "node-role.kubernetes.io/master", "operator": "Exists"}])
    );

    let c = container(ds);
    assert_eq!(c["name"], "speaker");
    assert_eq!(c["image"], "ghcr.io/metallb-rs/speaker:v0.1.0");
    assert_eq!(
        c["args"],
        json!(["--port=7472", "--config=config", "--log-level=info"])
    );
    assert_eq!(
        c["env"],
        json!([
            {"name": "METALLB_NODE_NAME", "valueFrom": field_ref("spec.nodeName")},
            {"name": "METALLB_HOST", "valueFrom": field_ref("status.hostIP")},
            {"name": "METALLB_ML_BIND_ADDR", "valueFrom": field_ref("status.podIP")},
            {"name": "METALLB_ML_LABELS", "value": "app=metallb,component=speaker"},
            {"name": "METALLB_ML_SECRET_KEY",
             "valueFrom": {"secretKeyRef": {"name": "memberlist", "key": "secretkey"}}},
        ])
    );
    assert_eq!(
        c["ports"],
        json!([
            {"containerPort": 7472, "name": "monitoring"},
            {"containerPort": 7946, "name": "memberlist-tcp"},
            {"containerPort": 7946, "name": "memberlist-udp", "protocol": "UDP"},
        ])
    );
    assert_eq!(c["livenessProbe"], probe());
    assert_eq!(c["readinessProbe"], probe());
    assert_eq!(
        c["securityContext"],
        json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"add": ["NET_RAW"], "drop": ["ALL"]},
            "readOnlyRootFilesystem": true,
        })
    );
}

#[test]
fn controller_deployment_is_upstreams() {
    let objs = installed();
    let dep = object(&objs, "Deployment", "controller");
    let labels = json!({"app": "metallb", "component": "controller"});
    assert_eq!(dep["spec"]["revisionHistoryLimit"], 3);
    assert!(
        dep["spec"]["replicas"].is_null() || dep["spec"]["replicas"] == 1,
        "one controller: no leader election"
    );
    assert_eq!(dep["spec"]["selector"]["matchLabels"], labels);
    let pod = &dep["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"], labels);
    assert_eq!(
        pod["metadata"]["annotations"],
        json!({"prometheus.io/port": "7472", "prometheus.io/scrape": "true"})
    );
    let spec = &pod["spec"];
    assert_eq!(spec["serviceAccountName"], "controller");
    assert_eq!(spec["terminationGracePeriodSeconds"], 0);
    assert_eq!(spec["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(
        spec["securityContext"],
        json!({"runAsNonRoot": true, "runAsUser": 65534, "fsGroup": 65534})
    );
    assert!(
        spec["hostNetwork"].is_null(),
        "controller on the pod network"
    );

    let c = container(dep);
    assert_eq!(c["name"], "controller");
    assert_eq!(c["image"], "ghcr.io/metallb-rs/controller:v0.1.0");
    assert_eq!(
        c["args"],
        json!(["--port=7472", "--config=config", "--log-level=info"])
    );
    assert_eq!(
        c["env"],
        json!([
            {"name": "METALLB_ML_SECRET_NAME", "value": "memberlist"},
            {"name": "METALLB_DEPLOYMENT", "value": "controller"},
        ])
    );
    assert_eq!(
        c["ports"],
        json!([{"containerPort": 7472, "name": "monitoring"}])
    );
    assert_eq!(c["livenessProbe"], probe());
    assert_eq!(c["readinessProbe"], probe());
    assert_eq!(
        c["securityContext"],
        json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["all"]},
            "readOnlyRootFilesystem": true,
        })
    );
}

#[test]
fn optional_psps_are_upstreams() {
    let psps = read("manifests/optional/podsecuritypolicy.yaml");
    let controller = &object(&psps, "PodSecurityPolicy", "controller")["spec"];
    let speaker = &object(&psps, "PodSecurityPolicy", "speaker")["spec"];
    let volumes = json!(["configMap", "secret", "emptyDir"]);
    let range = json!({"ranges": [{"max": 65535, "min": 1}], "rule": "MustRunAs"});

    assert_eq!(controller["privileged"], false);
    assert_eq!(controller["hostNetwork"], false);
    assert_eq!(controller["allowPrivilegeEscalation"], false);
    assert_eq!(controller["allowedCapabilities"], json!([]));
    assert_eq!(controller["requiredDropCapabilities"], json!(["ALL"]));
    assert_eq!(controller["readOnlyRootFilesystem"], true);
    for key in ["runAsUser", "fsGroup", "supplementalGroups"] {
        assert_eq!(controller[key], range, "controller PSP {key}");
    }
    assert_eq!(controller["volumes"], volumes);

    assert_eq!(speaker["privileged"], true);
    assert_eq!(speaker["hostNetwork"], true);
    assert_eq!(
        speaker["hostPorts"],
        json!([{"max": 7472, "min": 7472}, {"max": 7946, "min": 7946}])
    );
    assert_eq!(speaker["allowedCapabilities"], json!(["NET_RAW"]));
    assert_eq!(speaker["requiredDropCapabilities"], json!(["ALL"]));
    assert_eq!(speaker["readOnlyRootFilesystem"], true);
    for key in ["runAsUser", "fsGroup", "supplementalGroups", "seLinux"] {
        assert_eq!(
            speaker[key],
            json!({"rule": "RunAsAny"}),
            "speaker PSP {key}"
        );
    }
    assert_eq!(speaker["volumes"], volumes);
}

/// The args the Deployment passes parse (a subcommand after them proves it without a cluster).
#[test]
fn controller_accepts_the_manifest_args() {
    let objs = installed();
    let args: Vec<String> = container(object(&objs, "Deployment", "controller"))["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_owned())
        .collect();
    let config = format!(
        "{}/../testdata/kustomize/config.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(&args)
        .args(["check-config", &config])
        .output()
        .expect("run controller");
    assert_eq!(
        out.status.code(),
        Some(0),
        "controller {args:?} check-config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every env var the Deployment sets is one the controller reads (clap lists them in --help).
#[test]
fn controller_reads_the_manifest_env() {
    let objs = installed();
    let help = Command::new(env!("CARGO_BIN_EXE_controller"))
        .arg("--help")
        .output()
        .expect("run controller --help");
    let help = String::from_utf8_lossy(&help.stdout);
    for var in container(object(&objs, "Deployment", "controller"))["env"]
        .as_array()
        .expect("env")
    {
        let name = var["name"].as_str().expect("env name");
        assert!(
            help.contains(&format!("[env: {name}")),
            "controller does not read {name}:\n{help}"
        );
    }
}
