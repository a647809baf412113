#!/usr/bin/env python3
"""Helpers of scripts/lab/crd.sh (controller and speakers in CRD mode against the fake API
server). NODES is "name=ip,…".

objects NODES ROUTER        NDJSON for `fake-apiserver --objects`: the metallb.io objects
                            (pool `lan` 192.168.79.100-103 announced by an L2Advertisement; pool
                            `bgp` 10.42.0.0/24 by a BGPAdvertisement with localPref 150 and the
                            communities `no-export` (a Community alias) and 64512:100; a BGPPeer
                            to ROUTER, AS 64512 both ends), the Nodes, their speaker pods, and two
                            LoadBalancer Services without an address, `default/web` (pool lan) and
                            `default/api` (pool bgp), with endpoints ready on every node.
ingress API NAME            The ingress IPs of default/NAME as the fake stores them ("" if none).
set-localpref API VALUE     Replaces the BGPAdvertisement `bgp` with localPref VALUE.
set-interfaces API IFACE    Replaces the L2Advertisement `lan` with interfaces [IFACE] (not
                            supported by metallb-rs yet: the config is refused).
events API KIND NAME        The messages of the Events about KIND/NAME in metallb-system, one per
                            line.
"""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_cluster import NS, endpoint_slice, node, parse_nodes, print_ndjson, speaker_pod  # noqa: E402


def obj(kind, version, name, spec):
    return {"apiVersion": "metallb.io/" + version, "kind": kind,
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def bgp_advertisement(localpref):
    return obj("BGPAdvertisement", "v1beta1", "bgp",
               {"ipAddressPools": ["bgp"], "localPref": localpref,
                "communities": ["no-export", "64512:100"]})


def l2_advertisement(interfaces=None):
    spec = {"ipAddressPools": ["lan"]}
    if interfaces:
        spec["interfaces"] = interfaces
    return obj("L2Advertisement", "v1beta1", "lan", spec)


def service(name, i, pool):
    """A LoadBalancer Service the controller has not given an address yet."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": "uid-" + name,
                         "annotations": {"metallb.universe.tf/address-pool": pool}},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.%d" % (10 + i),
                     "clusterIPs": ["10.96.0.%d" % (10 + i)],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                     "selector": {"app": name}, "externalTrafficPolicy": "Cluster",
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}}


def objects(nodes, router):
    out = [
        obj("IPAddressPool", "v1beta1", "lan", {"addresses": ["192.168.79.100-192.168.79.103"]}),
        l2_advertisement(),
        obj("IPAddressPool", "v1beta1", "bgp", {"addresses": ["10.42.0.0/24"]}),
        bgp_advertisement(150),
        obj("Community", "v1beta1", "communities",
            {"communities": [{"name": "no-export", "value": "65535:65281"}]}),
        obj("BGPPeer", "v1beta2", "router",
            {"myASN": 64512, "peerASN": 64512, "peerAddress": router}),
    ]
    for name, ip in nodes.items():
        out += [node(name, ip), speaker_pod(name, ip)]
    for i, (name, pool) in enumerate([("web", "lan"), ("api", "bgp")]):
        out += [service(name, i, pool), endpoint_slice(name, i, list(nodes))]
    print_ndjson(out)


def get(api, path):
    with urllib.request.urlopen("http://%s%s" % (api, path), timeout=5) as r:
        return json.load(r)


def post(api, body):
    req = urllib.request.Request("http://%s/_fake/objects" % api, data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        doc = json.load(r)
    if not doc.get("ok"):
        sys.exit("POST /_fake/objects: %s" % doc)


def ingress(api, name):
    svc = get(api, "/api/v1/namespaces/default/services/" + name)
    ips = [i.get("ip", "") for i in svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []]
    print(" ".join(ips))


def events(api, kind, name):
    for e in get(api, "/api/v1/namespaces/%s/events" % NS).get("items") or []:
        o = e.get("involvedObject", {})
        if o.get("kind") == kind and o.get("name") == name:
            print(e.get("message", ""))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "objects":
        objects(parse_nodes(args[0]), args[1])
    elif cmd == "ingress":
        ingress(args[0], args[1])
    elif cmd == "set-localpref":
        post(args[0], bgp_advertisement(int(args[1])))
    elif cmd == "set-interfaces":
        post(args[0], l2_advertisement([args[1]]))
    elif cmd == "events":
        events(args[0], args[1], args[2])
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    main()
