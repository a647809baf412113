#!/usr/bin/env python3
"""Service churn against the fake API server, the way a cluster makes it: at RATE services a
second for SECONDS, each new LoadBalancer Service gets its EndpointSlice (a ready endpoint on
NODE) and is created, and then the controller's status write (PUT .../services/NAME/status
with status.loadBalancer.ingress) assigns its IP. Every request goes through the real API
paths, as the controller and the endpoint-slice controller would write them.

usage: churn.py API_URL FIRST RATE SECONDS NODE > writes.txt

Writes one line per service: "IP T_SENT T_ANSWERED", the times (seconds since the epoch)
the status write was sent and answered. The latency to the router is measured from T_SENT
(an upper bound: it includes the write's own round trip). Numbering and objects are those
of cluster_objects.py (service i gets 10.200.0.0 + i). Stderr gets a summary, including how
far behind its schedule the driver fell (it must stay near zero for the rate to be real).
"""
import http.client
import ipaddress
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_objects  # noqa: E402


class Api:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)

    def call(self, method, path, obj):
        body = json.dumps(obj).encode()
        self.conn.request(method, path, body, {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise SystemExit("%s %s: %d %s" % (method, path, r.status, data[:300]))
        return json.loads(data)


def main():
    url, first, rate, seconds, node = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    api = Api(url)
    count = int(rate * seconds)
    start = time.time() + 0.05
    worst_lag = 0.0
    out = sys.stdout
    for k in range(count):
        i = first + k
        due = start + k / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        else:
            worst_lag = max(worst_lag, now - due)
        svc = cluster_objects.service(i, assigned=False)
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        api.call("POST", "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % ns,
                 cluster_objects.endpoint_slice(i, node))
        created = api.call("POST", "/api/v1/namespaces/%s/services" % ns, svc)
        ip = str(ipaddress.ip_address("10.200.0.0") + i)
        created["status"] = {"loadBalancer": {"ingress": [{"ip": ip}]}}
        sent = time.time()
        api.call("PUT", "/api/v1/namespaces/%s/services/%s/status" % (ns, name), created)
        answered = time.time()
        out.write("%s %.6f %.6f\n" % (ip, sent, answered))
    out.flush()
    took = time.time() - start
    print("churn: %d services in %.2f s (%.1f/s), worst lag behind schedule %.1f ms"
          % (count, took, count / took, worst_lag * 1000), file=sys.stderr)


if __name__ == "__main__":
    main()
