#!/usr/bin/env python3
"""The churn figures of one run: for each service churn.py assigned, the time from its status
write to its route at the router (bgp_pcap.py's first announcement of IP/32), and the UPDATEs
the speaker sent meanwhile.

usage: churn_report.py WRITES PREFIXES UPDATES

WRITES is churn.py's output, PREFIXES and UPDATES bgp_pcap.py's. Prints one JSON object:
services, missing (never at the router), p50/p99/max latency in ms, the UPDATEs sent from the
first write until the last churned route arrived, and their announced prefixes per UPDATE
(mean and median).
"""
import json
import sys


def quantile(sorted_values, q):
    """Nearest-rank quantile: the smallest value with at least q of the values at or below."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 1))
    return sorted_values[int(rank) - 1]


def main():
    writes_path, prefixes_path, updates_path = sys.argv[1:4]
    at_router = {}
    with open(prefixes_path) as f:
        for line in f:
            prefix, ts = line.split()
            at_router[prefix] = float(ts)
    writes = []
    with open(writes_path) as f:
        for line in f:
            ip, sent, _answered = line.split()
            writes.append((ip + "/32", float(sent)))
    latencies, missing = [], 0
    for prefix, sent in writes:
        if prefix in at_router:
            latencies.append((at_router[prefix] - sent) * 1000)
        else:
            missing += 1
    latencies.sort()
    begin = min(s for _, s in writes)
    end = max((at_router[p] for p, _ in writes if p in at_router), default=begin)
    sizes = []
    with open(updates_path) as f:
        for line in f:
            u = json.loads(line)
            if begin <= u["t"] <= end and u["announced"]:
                sizes.append(u["announced"])
    sizes.sort()
    print(json.dumps({
        "services": len(writes),
        "missing": missing,
        "p50_ms": round(quantile(latencies, 0.50), 2) if latencies else None,
        "p99_ms": round(quantile(latencies, 0.99), 2) if latencies else None,
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "updates": len(sizes),
        "prefixes_per_update_mean": round(sum(sizes) / len(sizes), 1) if sizes else None,
        "prefixes_per_update_median": quantile(sizes, 0.5),
    }))


if __name__ == "__main__":
    main()
