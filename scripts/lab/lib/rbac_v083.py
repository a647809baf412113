#!/usr/bin/env python3
"""Helpers of scripts/lab/rbac-v083.sh (three release speakers on MetalLB v0.8.3's RBAC against
the fake API server). NODES is "name=ip,…"; SERVICES is "name=vip=node+node,…": each is a
LoadBalancer Service default/NAME holding VIP, with a pod on every node whose address is ready
on the listed nodes and not ready elsewhere (its v1 Endpoints).

objects NODES SERVICES       NDJSON for `fake-apiserver --objects`: the `config` ConfigMap (a
                             layer2 pool of the VIPs), the Nodes, their speaker pods, the
                             Services and their v1 Endpoints (no EndpointSlices).
owner KEY NODE...            The v0.8–v0.10 owner: lowest SHA-256(node + "#" + KEY), KEY being
                             "namespace/name" (hashlib, independently of the Rust code).
endpoints API NODES SERVICES NAME READY
                             POSTs NAME's Endpoints, ready on READY ("node+node", may be empty),
                             to the fake's /_fake/objects.
status NODES OWNERS          "ok" when every listed speaker's GET /status shows electionKey
                             serviceName, liveSpeakers readyEndpointNodes, and for each
                             "default/name=owner" of OWNERS ("…,…") that owner, announcing
                             exactly on the owner; else what differs.
stats API                    From the fake's GET /_fake/stats: "slices=<endpointslices requests,
                             any verb> slice_watches=<watches of them> endpoints_watches=<…>".
replies CAPTURE VIP [SINCE]  The MACs answering the client for VIP in tcpdump's text capture
                             (after SINCE, epoch seconds), sorted and unique.
moved CAPTURE VIP SINCE NEW  After SINCE: "takeover=<s to the first reply from NEW, or none>
                             others_after=<replies from any other MAC after it>".
"""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arp_text import arp_frames  # noqa: E402
from fake_cluster import (CLIENT_MAC, endpoints, layer2_config, lb_service, node,  # noqa: E402
                          owner, parse_nodes, print_ndjson, speaker_pod, status)


def parse_services(text):
    """[(name, vip, [ready nodes])] in the given order."""
    out = []
    for item in text.split(","):
        name, vip, ready = item.split("=")
        out.append((name, vip, [n for n in ready.split("+") if n]))
    return out


def objects(nodes, services):
    out = [layer2_config("%s/32" % vip for _, vip, _ in services)]
    for name, ip in nodes.items():
        out += [node(name, ip), speaker_pod(name, ip)]
    for i, (name, vip, ready) in enumerate(services):
        out += [lb_service(name, i, vip), endpoints(name, i, list(nodes), ready)]
    print_ndjson(out)


def post_endpoints(api, nodes, services, name, ready):
    i = next(i for i, s in enumerate(services) if s[0] == name)
    body = json.dumps(endpoints(name, i, list(nodes), [n for n in ready.split("+") if n]))
    req = urllib.request.Request("http://%s/_fake/objects" % api, data=body.encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        doc = json.load(r)
    if not doc.get("ok"):
        sys.exit("POST /_fake/objects: %s" % doc)


def check_status(nodes, owners):
    want = dict(item.split("=", 1) for item in owners.split(","))
    problems = []
    for name in sorted(nodes):
        try:
            doc = status(nodes[name])
        except Exception as e:  # noqa: BLE001 - any failure means "not there yet"
            problems.append("%s: /status: %s" % (name, e))
            continue
        if doc.get("electionKey") != "serviceName":
            problems.append("%s: electionKey %s" % (name, doc.get("electionKey")))
        if doc.get("liveSpeakers") != "readyEndpointNodes":
            problems.append("%s: liveSpeakers %s" % (name, doc.get("liveSpeakers")))
        rows = {row["service"]: row for row in doc.get("services") or []}
        for key, owner_ in want.items():
            row = rows.get(key)
            if row is None:
                problems.append("%s: no row for %s" % (name, key))
                continue
            if row.get("owner") != owner_:
                problems.append("%s: %s owner %s" % (name, key, row.get("owner")))
            if (row.get("decision") == "announcing") != (owner_ == name):
                problems.append("%s: %s decision %s" % (name, key, row.get("decision")))
    print("ok" if not problems else "; ".join(problems))


def stats(api):
    with urllib.request.urlopen("http://%s/_fake/stats" % api, timeout=5) as r:
        reqs = json.load(r)["requests"]
    slices = sum(n for k, n in reqs.items() if k.split(" ")[1] == "endpointslices")
    print("slices=%d slice_watches=%d endpoints_watches=%d" % (
        slices, reqs.get("watch endpointslices", 0), reqs.get("watch endpoints", 0)))


def replies_to_client(path, vip, since=0.0):
    """[(ts, mac)] of the ARP replies for VIP sent to the client, after SINCE."""
    return sorted((ts, src) for ts, kind, ip, src, dst in arp_frames(path)
                  if kind == "rep" and ip == vip and dst == CLIENT_MAC and ts >= since)


def moved(path, vip, since, new):
    since = float(since)
    reps = replies_to_client(path, vip, since)
    first = next((ts for ts, m in reps if m == new), None)
    others = sum(1 for ts, m in reps if first is not None and ts > first and m != new)
    took = "none" if first is None else "%.3f" % (first - since)
    print("takeover=%s others_after=%d" % (took, others))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "objects":
        objects(parse_nodes(args[0]), parse_services(args[1]))
    elif cmd == "owner":
        print(owner(args[0], args[1:]))
    elif cmd == "endpoints":
        post_endpoints(args[0], parse_nodes(args[1]), parse_services(args[2]), args[3], args[4])
    elif cmd == "status":
        check_status(parse_nodes(args[0]), args[1])
    elif cmd == "stats":
        stats(args[0])
    elif cmd == "replies":
        since = float(args[2]) if len(args) > 2 else 0.0
        print(" ".join(sorted({m for _, m in replies_to_client(args[0], args[1], since)})))
    elif cmd == "moved":
        moved(*args)
    else:
        sys.exit("unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
