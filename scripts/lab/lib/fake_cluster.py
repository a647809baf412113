"""The cluster objects and /status reads shared by the whole-process runs of the release speaker
against the fake API server (scripts/bench/lib/failover_api.py, scripts/lab/lib/rbac_v083.py):
real Kubernetes JSON for `fake-apiserver --objects` and its POST /_fake/objects, and the
Layer 2 owner computed here with hashlib, independently of the Rust code.
"""
import hashlib
import json
import urllib.request

NS = "metallb-system"
CLIENT_MAC = "02:00:00:00:03:0c"


def parse_nodes(text):
    """"name=ip,name=ip,…" as {name: ip}."""
    return dict(item.split("=", 1) for item in text.split(",") if item)


def owner(key, nodes):
    """The node with the lowest SHA-256(node + "#" + key): MetalLB's Layer 2 owner. The key is
    the first IP from v0.11 on, and "namespace/name" from v0.8 to v0.10."""
    return min(nodes, key=lambda n: (hashlib.sha256(f"{n}#{key}".encode()).hexdigest(), n))


def layer2_config(addresses):
    """The `config` ConfigMap: one layer2 pool `default` holding ADDRESSES (CIDRs or ranges)."""
    pool = "address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n" + "".join(
        "  - %s\n" % a for a in addresses)
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "config", "namespace": NS}, "data": {"config": pool}}


def node(name, ip):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "kubernetes.io/os": "linux"}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                     {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def speaker_pod(name, ip):
    """The Ready speaker pod of node NAME (host network: podIP = hostIP = IP)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "speaker-" + name, "namespace": NS,
                         "labels": {"app": "metallb", "component": "speaker"}},
            "spec": {"nodeName": name, "hostNetwork": True,
                     "containers": [{"name": "speaker", "image": "metallb-rs/speaker"}]},
            "status": {"phase": "Running", "hostIP": ip, "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def lb_service(name, i, vip, namespace="default"):
    """LoadBalancer Service NAME (the I-th: clusterIP and uid), externalTrafficPolicy Cluster,
    status.loadBalancer.ingress = VIP as the controller leaves it."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "uid": "uid-%s" % name,
                         "labels": {"app": name}},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.%d" % (10 + i),
                     "clusterIPs": ["10.96.0.%d" % (10 + i)],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                                "targetPort": 8080}],
                     "selector": {"app": name}, "externalTrafficPolicy": "Cluster",
                     "sessionAffinity": "None", "ipFamilies": ["IPv4"],
                     "ipFamilyPolicy": "SingleStack"},
            "status": {"loadBalancer": {"ingress": [{"ip": vip}]}}}


def pod_ip(node_index, i):
    """The endpoint address of the I-th service's pod on the NODE_INDEX-th node."""
    return "10.244.%d.%d" % (node_index, 10 + i)


def endpoint_slice(name, i, nodes, namespace="default"):
    """An EndpointSlice of service NAME with a ready endpoint on each of NODES (names)."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name + "-abcde", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [pod_ip(j, i)],
                           "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": n}
                          for j, n in enumerate(nodes)],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def endpoints(name, i, all_nodes, ready, namespace="default"):
    """The v1 Endpoints of service NAME: a pod on each node of ALL_NODES (names, in their
    order), under `addresses` on the nodes in READY and `notReadyAddresses` elsewhere."""
    def address(j, n):
        return {"ip": pod_ip(j, i), "nodeName": n,
                "targetRef": {"kind": "Pod", "namespace": namespace,
                              "name": "%s-%s" % (name, n)}}
    subset = {"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    up = [address(j, n) for j, n in enumerate(all_nodes) if n in ready]
    down = [address(j, n) for j, n in enumerate(all_nodes) if n not in ready]
    if up:
        subset["addresses"] = up
    if down:
        subset["notReadyAddresses"] = down
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": namespace}, "subsets": [subset]}


def status(ip, timeout=1):
    """The speaker's GET /status on IP:7472, parsed."""
    with urllib.request.urlopen("http://%s:7472/status" % ip, timeout=timeout) as r:
        return json.load(r)


def print_ndjson(objects):
    for o in objects:
        print(json.dumps(o))
