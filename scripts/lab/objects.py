"""Kubernetes objects for the install checks: loading, strict schema validation against the
Kubernetes 1.22-1.31 OpenAPI schemas of kubernetes-validate, and the cross-object agreement a schema
cannot see (names shared between --config and the ConfigMap, the memberlist Secret and its RBAC,
the memberlist label selector and the speaker pods, ...). Used by manifests.py.
"""
from __future__ import annotations

import functools
import os
import subprocess
import traceback
from pathlib import Path
from typing import Callable

import kubernetes_validate
import kubernetes_validate.utils as kv_utils
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "metallb"
KUBE_VERSIONS = [f"1.{minor}.0" for minor in range(22, 32)]
PSP_API = "policy/v1beta1/PodSecurityPolicy"
PSP_REMOVED_IN = (1, 25)
# Prometheus Operator kinds: custom resources, so no schema ships with Kubernetes.
CRD_KINDS = {("monitoring.coreos.com/v1", "PodMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
UPSTREAM_ALERTS = {
    "MetalLBStaleConfig",
    "MetalLBConfigNotLoaded",
    "MetalLBAddressPoolExhausted",
    "MetalLBAddressPoolUsage75Percent",
    "MetalLBAddressPoolUsage85Percent",
    "MetalLBAddressPoolUsage95Percent",
    "MetalLBBGPSessionDown",
}
# The metric names dashboards and the alerts depend on (docs/metrics-events.md#upstream-series).
METRICS = {
    "metallb_allocator_addresses_total",
    "metallb_allocator_addresses_in_use_total",
    "metallb_allocator_services_allocated_total",
    "metallb_k8s_client_updates_total",
    "metallb_k8s_client_update_errors_total",
    "metallb_k8s_client_config_loaded_bool",
    "metallb_k8s_client_config_stale_bool",
    "metallb_speaker_announced",
    "metallb_bgp_session_up",
    "metallb_bgp_updates_total",
    "metallb_bgp_announced_prefixes_total",
    "metallb_bgp_pending_prefixes_total",
    "metallb_layer2_requests_received",
    "metallb_layer2_responses_sent",
    "metallb_layer2_gratuitous_sent",
}
LAYER2_CONFIG = {
    "address-pools": [
        {"name": "default", "protocol": "layer2", "addresses": ["198.51.100.0/24"]},
    ]
}


# --------------------------------------------------------------------------------------------
# Reporting


class CheckFailed(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


RESULTS: list[tuple[str, bool, str]] = []


def check(name: str, fn: Callable[[], str | None]) -> None:
    try:
        note = fn() or ""
        RESULTS.append((name, True, note))
        print(f"PASS  {name}" + (f"  ({note})" if note else ""), flush=True)
    except CheckFailed as e:
        RESULTS.append((name, False, str(e)))
        print(f"FAIL  {name}: {e}", flush=True)
    except Exception as e:  # a crash in a check is a failure of that check, not of the run
        RESULTS.append((name, False, repr(e)))
        print(f"FAIL  {name}: {e!r}", flush=True)
        traceback.print_exc()


# --------------------------------------------------------------------------------------------
# Loading and schema validation


def load_docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def key(obj: dict) -> tuple[str, str, str]:
    md = obj.get("metadata", {})
    return (obj["kind"], md.get("namespace", ""), md["name"])


# kubernetes-validate re-reads the 1.5 MB definitions file on every call; cache it per file.
kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)


def validate(objs: list[dict], version: str) -> int:
    """Strict schema validation; returns how many objects were checked against a schema."""
    checked = 0
    for obj in objs:
        if (obj.get("apiVersion"), obj.get("kind")) in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            raise CheckFailed(f"{key(obj)} invalid for Kubernetes {version}: {e.message} at {list(e.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            raise CheckFailed(f"{key(obj)}: {obj['apiVersion']} {obj['kind']} does not exist in Kubernetes {version}")
        checked += 1
    return checked


def minor(version: str) -> tuple[int, int]:
    major, mnr = version.split(".")[:2]
    return int(major), int(mnr)


def kubectl(*args: str) -> str:
    out = subprocess.run(["kubectl", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise CheckFailed(f"kubectl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def controller_binary() -> Path | None:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("debug", "release"):
        p = target / profile / "controller"
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None


def check_config_text(text: str) -> str:
    """Runs the controller's own parser on a config document, when a built binary exists."""
    binary = controller_binary()
    if binary is None:
        return "config text not parsed: no built controller binary"
    out = subprocess.run([str(binary), "check-config", "-"], input=text, capture_output=True, text=True, timeout=30)
    expect(out.returncode == 0, f"controller check-config rejected the config: {out.stderr.strip()}")
    return f"config accepted by {binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary}"


# --------------------------------------------------------------------------------------------
# Workload helpers


def find(objs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objs: list[dict], kind: str, name: str | None = None) -> dict:
    found = find(objs, kind, name)
    expect(len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    expect(len(containers) == 1, f"{key(workload)}: expected one container")
    return containers[0]


def flag(c: dict, name: str) -> str | None:
    for arg in c.get("args", []):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def env(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


def rule_set(role: dict, rename: dict[str, str]) -> set[tuple[str, str, str, str]]:
    """A role's rules as (apiGroup, resource, verb, resourceName or *), names mapped by `rename`."""
    out = set()
    for r in role.get("rules", []):
        names = [rename.get(n, n) for n in r.get("resourceNames", [])] or ["*"]
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for verb in r.get("verbs", []):
                    for n in names:
                        out.add((g, res, verb, n))
    return out


def check_consistency(objs: list[dict], version: str) -> None:
    """Cross-object agreement that the schemas cannot see (docs/config.md, docs/memberlist.md,
    docs/operations.md#manifests-and-rbac)."""
    by_kind_name = {(o["kind"], o["metadata"]["name"]) for o in objs}
    workloads = find(objs, "Deployment") + find(objs, "DaemonSet")
    for w in workloads:
        spec = w["spec"]
        sel = spec["selector"]["matchLabels"]
        labels = spec["template"]["metadata"]["labels"]
        expect(sel.items() <= labels.items(), f"{key(w)}: selector {sel} does not match pod labels {labels}")
        c = container(w)
        expect(flag(c, "config") is not None, f"{key(w)}: no --config flag")
        ports = {p["name"]: p for p in c.get("ports", [])}
        expect("monitoring" in ports and f"--port={ports['monitoring']['containerPort']}" in c["args"],
               f"{key(w)}: --port and the monitoring port disagree")
        for probe in ("livenessProbe", "readinessProbe"):
            if probe in c:
                expect(c[probe]["httpGet"] == {"path": "/metrics", "port": "monitoring"}, f"{key(w)}: {probe} target")
        sa = spec["template"]["spec"].get("serviceAccountName")
        if sa and sa != "default":
            expect(("ServiceAccount", sa) in by_kind_name or not find(objs, "ServiceAccount"),
                   f"{key(w)}: service account {sa} not rendered")

    configmaps = {o["metadata"]["name"]: o for o in find(objs, "ConfigMap")}
    for w in workloads:
        name = flag(container(w), "config")
        if configmaps:
            expect(name in configmaps, f"{key(w)}: --config={name} but the ConfigMaps are {sorted(configmaps)}")
            expect(isinstance(configmaps[name].get("data", {}).get("config"), str),
                   f"ConfigMap {name} has no string key `config`")

    ds = find(objs, "DaemonSet")
    dep = find(objs, "Deployment")
    if ds:
        c = container(ds[0])
        e = env(c)
        pod_labels = ds[0]["spec"]["template"]["metadata"]["labels"]
        if "METALLB_ML_LABELS" in e:
            selector = dict(kv.split("=", 1) for kv in e["METALLB_ML_LABELS"]["value"].split(","))
            expect(selector.items() <= pod_labels.items(),
                   f"METALLB_ML_LABELS {selector} does not select the speaker pods {pod_labels}")
            port = int(e.get("METALLB_ML_BIND_PORT", {}).get("value", "7946"))
            ports = {(p["name"], p.get("protocol", "TCP")): p["containerPort"] for p in c["ports"]}
            expect(ports.get(("memberlist-tcp", "TCP")) == port and ports.get(("memberlist-udp", "UDP")) == port,
                   f"memberlist container ports {ports} disagree with bind port {port}")
            secret = e["METALLB_ML_SECRET_KEY"]["valueFrom"]["secretKeyRef"]
            expect(secret["key"] == "secretkey", "speaker reads the memberlist Secret's key `secretkey`")
            if dep:
                ce = env(container(dep[0]))
                expect(ce.get("METALLB_ML_SECRET_NAME", {}).get("value") == secret["name"],
                       f"controller creates Secret {ce.get('METALLB_ML_SECRET_NAME')} but speakers read {secret['name']}")
                expect(ce.get("METALLB_DEPLOYMENT", {}).get("value") == dep[0]["metadata"]["name"],
                       "METALLB_DEPLOYMENT must name the controller Deployment (owner of the Secret)")
                role = [r for r in find(objs, "Role") if any(
                    "secrets" in rule.get("resources", []) and "list" in rule.get("verbs", []) for rule in r["rules"])]
                if role:
                    rules = rule_set(role[0], {})
                    expect(("", "secrets", "list", secret["name"]) in rules, f"no list rule for Secret {secret['name']}")
                    expect(("apps", "deployments", "get", dep[0]["metadata"]["name"]) in rules,
                           "no get rule for the controller Deployment")

    roles = {(o["kind"], o["metadata"]["name"]) for o in objs if o["kind"] in ("Role", "ClusterRole")}
    for b in find(objs, "RoleBinding") + find(objs, "ClusterRoleBinding"):
        ref = b["roleRef"]
        expect((ref["kind"], ref["name"]) in roles, f"{key(b)} refers to missing {ref['kind']} {ref['name']}")

    psps = {o["metadata"]["name"] for o in find(objs, "PodSecurityPolicy")}
    for r in find(objs, "ClusterRole"):
        for rule in r["rules"]:
            if "podsecuritypolicies" in rule.get("resources", []) and psps:
                for n in rule.get("resourceNames", []):
                    expect(n in psps, f"{key(r)} may use PSP {n}, which is not rendered ({sorted(psps)})")
    if minor(version) >= PSP_REMOVED_IN:
        expect(not psps, f"PodSecurityPolicies rendered for Kubernetes {version}")
