#!/usr/bin/env python3
"""Helpers of scripts/bench/failover-api.sh (Layer 2 failover of the release speaker against
the fake API server). Three subcommands:

objects NODES VIPS           NDJSON of the cluster for `fake-apiserver --objects`: the MetalLB
                             `config` ConfigMap (one layer2 pool holding the VIPs), the Nodes, a
                             Ready speaker pod per node (podIP = hostIP = the node's bridge IP),
                             and per VIP a LoadBalancer Service (externalTrafficPolicy Cluster,
                             status.loadBalancer.ingress set, as the controller leaves it) with an
                             EndpointSlice holding a ready endpoint on every node.
state NODES VIPS             Reads every listed node's GET /status (:7472) and prints "ok", or
                             what still differs, against the state those nodes must reach when
                             exactly they are alive: memberlist members = the listed nodes,
                             every service's owner = the Layer 2 owner among them
                             (docs/layer2.md#election: sha256 of "node#ip", computed here
                             independently of the Rust code), and each node announcing exactly
                             the services it owns.
analyse CAPTURE VIP SINCE OLD_MAC
                             From tcpdump's text capture of the client's interface: the first
                             reply to the client for VIP after SINCE from a MAC other than
                             OLD_MAC, and what else answered.

stale NODES KILLED           The nodes whose memberlist no longer holds KILLED but whose decision
                             loop (/status "members") still counts it live.
members NODES                memberlist's own view (name@addr/state) from each node's /status.

Cold start-ups (STARTUPS=N):
startup-objects NODES VIPS EPSETS ASSIGNED
                             As `objects`, but the Services have externalTrafficPolicy Local and
                             the I-th has ready endpoints on the nodes of the I-th EPSETS entry
                             only ("node2;node1+node3;…"; the others' pods are not ready), both as
                             v1 Endpoints and as an EndpointSlice; status.loadBalancer.ingress is
                             set when ASSIGNED is "yes", left empty otherwise.
assign API VIPS yes|no       PUTs every Service's status (the controller's write): the ingress
                             set to its VIP, or emptied.
startup-analyse CAPTURE VIPS EPSETS NODEMACS STARTED UP ASSIGNED
                             Per VIP, from the client's capture: seconds from STARTED to the first
                             reply, the MACs that answered, replies from a node without a ready
                             endpoint or from a MAC other than the owner's (docs/layer2.md#election,
                             key "namespace/name", candidates the endpoint nodes), and the longest
                             time without a reply counted from max(UP, ASSIGNED) (UP: all three
                             /status answer; ASSIGNED: the statuses were written); a reply is any
                             frame claiming the VIP (replies to the client and gratuitous ARP).
                             NODEMACS is
                             "node=mac,…". Last line: "startup_failures=N".

NODES is "name=ip,name=ip,…"; VIPS is "ip,ip,…". Services are default/svc-0… in VIP order.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../lab/lib"))
from arp_text import arp_frames  # noqa: E402
from fake_cluster import (CLIENT_MAC, endpoint_slice, layer2_config, lb_service, node,  # noqa: E402
                          owner, parse_nodes, print_ndjson, speaker_pod, status)


def service_key(i):
    return "default/svc-%d" % i


def objects(nodes, vips):
    out = [layer2_config("%s/32" % v for v in vips)]
    for name, ip in nodes.items():
        out += [node(name, ip), speaker_pod(name, ip)]
    for i, vip in enumerate(vips):
        name = "svc-%d" % i
        out += [lb_service(name, i, vip), endpoint_slice(name, i, list(nodes))]
    print_ndjson(out)


def state(nodes, vips):
    names = sorted(nodes)
    want_owner = {service_key(i): owner(v, names) for i, v in enumerate(vips)}
    problems = []
    for name in names:
        try:
            doc = status(nodes[name])
        except Exception as e:  # noqa: BLE001 - any failure means "not there yet"
            problems.append("%s: /status: %s" % (name, e))
            continue
        members = sorted(doc.get("members") or [])
        if members != names:
            problems.append("%s: members %s" % (name, ",".join(members)))
        rows = {row["service"]: row for row in doc.get("services") or []}
        for key, want in want_owner.items():
            row = rows.get(key)
            if row is None:
                problems.append("%s: no row for %s" % (name, key))
                continue
            if row.get("owner") != want:
                problems.append("%s: %s owner %s, want %s" % (name, key, row.get("owner"), want))
            announcing = row.get("decision") == "announcing"
            if announcing != (want == name):
                problems.append("%s: %s decision %s" % (name, key, row.get("decision")))
    print("ok" if not problems else "; ".join(problems))


def members(nodes):
    for name in sorted(nodes):
        try:
            doc = status(nodes[name])
        except Exception as e:  # noqa: BLE001
            print("%s: /status: %s" % (name, e))
            continue
        rows = doc.get("memberlist") or []
        print("%s sees: %s" % (name, " ".join("%s@%s/%s" % (m["name"], m["addr"], m["state"])
                                               for m in rows)))


def stale(nodes, killed):
    """Nodes whose memberlist dropped KILLED while their decision loop still counts it live."""
    out = []
    for name in sorted(nodes):
        try:
            doc = status(nodes[name])
        except Exception:  # noqa: BLE001
            continue
        in_ml = any(m["name"] == killed for m in doc.get("memberlist") or [])
        in_loop = killed in (doc.get("members") or [])
        if in_loop and not in_ml:
            out.append(name)
    print(",".join(out) or "none")


def analyse(path, vip, since, old):
    since = float(since)
    reqs, reps = [], []  # reps: (ts, mac)
    for ts, kind, ip, src, dst in arp_frames(path):
        if ip != vip:
            continue
        if kind == "req" and src == CLIENT_MAC:
            reqs.append(ts)
        elif kind == "rep" and dst == CLIENT_MAC:
            reps.append((ts, src))
    reps.sort()
    old_before = [ts for ts, m in reps if m == old and ts < since]
    first = next(((ts, m) for ts, m in reps if ts >= since and m != old), None)
    after = [m for ts, m in reps if first is not None and ts > first[0]]
    others = sum(1 for m in after if m != first[1]) if first else 0
    old_after_kill = sum(1 for ts, m in reps if m == old and ts > since)
    reqs_after = [t for t in reqs if t >= since]
    took = "none" if first is None else "%.3f" % (first[0] - since)
    new = "none" if first is None else first[1]
    last_old = "none" if not old_before else "%.3f" % (since - old_before[-1])
    print(f"takeover={took} new_mac={new} other_macs_after={others} old_after_kill={old_after_kill} "
          f"old_last_reply_before_kill={last_old} requests={len(reqs_after)}")


def parse_epsets(text):
    return [part.split("+") for part in text.split(";")]


def startup_objects(nodes, vips, epsets, assigned):
    from fake_cluster import endpoints
    out = [layer2_config("%s/32" % v for v in vips)]
    for name, ip in nodes.items():
        out += [node(name, ip), speaker_pod(name, ip)]
    for i, (vip, ready) in enumerate(zip(vips, epsets)):
        name = "svc-%d" % i
        svc = lb_service(name, i, vip)
        svc["spec"]["externalTrafficPolicy"] = "Local"
        svc["spec"]["healthCheckNodePort"] = 32000 + i
        if not assigned:
            svc["status"] = {"loadBalancer": {}}
        eps = endpoints(name, i, list(nodes), ready)
        sl = endpoint_slice(name, i, list(nodes))
        for ep in sl["endpoints"]:
            up = ep["nodeName"] in ready
            ep["conditions"] = {"ready": up, "serving": up, "terminating": False}
        out += [svc, eps, sl]
    print_ndjson(out)


def assign(api, vips, on):
    import urllib.request
    for i, vip in enumerate(vips):
        url = "http://%s/api/v1/namespaces/default/services/svc-%d" % (api, i)
        with urllib.request.urlopen(url, timeout=5) as r:
            svc = json.load(r)
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": vip}]} if on else {}}
        req = urllib.request.Request(url + "/status", data=json.dumps(svc).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()


def startup_analyse(path, vips, epsets, nodemacs, started, up, assigned):
    started, ref = float(started), max(float(up), float(assigned))
    mac_node = {m: n for n, m in parse_nodes(nodemacs).items()}
    reps = {v: [] for v in vips}  # vip: [(ts, mac)]
    end = started
    for ts, kind, ip, src, _ in arp_frames(path):
        end = max(end, ts)
        # Every reply claiming the VIP: to the client, and gratuitous (broadcast; each goes with
        # a gratuitous request), which moves clients' caches just as much.
        if kind == "rep" and ip in reps:
            reps[ip].append((ts, src))
    failures = 0
    for i, (v, ready) in enumerate(zip(vips, epsets)):
        want = owner(service_key(i), sorted(ready))
        rs = sorted(reps[v])
        macs = sorted({m for _, m in rs})
        who = [mac_node.get(m, m) for m in macs]
        wrong = sum(1 for _, m in rs if mac_node.get(m) != want)
        no_ep = sum(1 for _, m in rs if mac_node.get(m) not in ready)
        # Longest silence from ref: ref to the first reply at or after it, between replies,
        # and from the last reply to the end of the capture.
        times = [ref] + [t for t, _ in rs if t >= ref] + [end]
        gap = max(b - a for a, b in zip(times, times[1:]))
        first = "none" if not rs else "%.3f" % (rs[0][0] - started)
        bad = len(macs) > 1 or wrong > 0 or no_ep > 0 or gap > 2.0 or not rs
        failures += bad
        print("vip=%s svc=%s endpoints=%s owner=%s first=%s macs=%s two_macs=%s not_owner=%d "
              "no_endpoint=%d max_silence_after_up=%.3f %s"
              % (v, service_key(i), "+".join(ready), want, first, ",".join(who) or "none",
                 "yes" if len(macs) > 1 else "no", wrong, no_ep, gap, "FAIL" if bad else "ok"))
    print("startup_failures=%d" % failures)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "objects":
        objects(parse_nodes(args[0]), args[1].split(","))
    elif cmd == "state":
        state(parse_nodes(args[0]), args[1].split(","))
    elif cmd == "stale":
        stale(parse_nodes(args[0]), args[1])
    elif cmd == "members":
        members(parse_nodes(args[0]))
    elif cmd == "startup-objects":
        startup_objects(parse_nodes(args[0]), args[1].split(","), parse_epsets(args[2]),
                        args[3] == "yes")
    elif cmd == "assign":
        assign(args[0], args[1].split(","), args[2] == "yes")
    elif cmd == "startup-analyse":
        startup_analyse(args[0], args[1].split(","), parse_epsets(args[2]), *args[3:])
    elif cmd == "analyse":
        analyse(*args)
    else:
        sys.exit("unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
