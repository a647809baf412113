#!/usr/bin/env bash
# The whole controller against the fake API server (fake-apiserver, real list/watch JSON and the
# real server's write semantics) over loopback TCP, for BENCHMARKS.md (issue #17):
#   1. start-up: N LoadBalancer Services without an IP (dressed as real ones: labels, kubectl's
#      last-applied-configuration, a finalizer, managedFields) → time until every Service holds
#      an IP, RSS then (VmRSS, VmHWM), and whether any Service lost a label, an annotation or
#      its finalizer;
#   2. outage: the API server goes away for OUTAGE seconds (open watches cut, connections
#      refused), then returns with its history compacted (watches answer 410, as after an etcd
#      compaction): the controller must stay up, re-list, and change no IP. Reported: time from
#      the server's return until both watches listed again, status writes after
#      the return (goal 0), IPs changed (goal 0), log lines during the outage.
# Everything stays on 127.0.0.1. No root needed.
# Usage: [CONTROLLER_BIN=path] scripts/bench/controller.sh [SERVICES (5000)] [OUTAGE_SECONDS (60)] [RUNS (3)]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SERVICES=${1:-5000}
OUTAGE=${2:-60}
RUNS=${3:-3}
WORK=$(mktemp -d /tmp/ctlbench.XXXXXX)
ADDR=127.0.0.1:6081
API=http://$ADDR
FAKE=
PID=

cleanup() {
    set +e
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    [[ -n $FAKE ]] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$ROOT" && cargo build -q --release --locked -p fake-apiserver)
OUT=${CARGO_TARGET_DIR:-$ROOT/target}/release
if [[ -n ${CONTROLLER_BIN:-} ]]; then
    CONTROLLER=$CONTROLLER_BIN
else
    (cd "$ROOT" && cargo build -q --release --locked --bin controller)
    CONTROLLER=$OUT/controller
fi
python3 "$ROOT/scripts/bench/lib/cluster_objects.py" "$SERVICES" >"$WORK/objects.ndjson"

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
# Services and their IPs, one "ns/name ip,ip" line each, and how many kept every label,
# annotation and finalizer they were created with.
snapshot() {
    curl -sf "$API/api/v1/services" | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
intact = 0
for s in items:
    m = s["metadata"]
    ing = ",".join(i.get("ip", "") for i in s.get("status", {}).get("loadBalancer", {}).get("ingress", []) or [])
    print("%s/%s %s" % (m["namespace"], m["name"], ing))
    ok = m.get("labels", {}).get("team") and "kubectl.kubernetes.io/last-applied-configuration" in m.get("annotations", {}) \
        and "example.com/owner" in m.get("annotations", {}) and m.get("finalizers") == ["service.kubernetes.io/load-balancer-cleanup"]
    intact += bool(ok)
print("intact", intact, file=sys.stderr)
'
}
status_writes() {
    curl -sf "$API/_fake/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(n for k, n in s.get("writes", {}).items() if k.endswith("/status")))'
}
lists() {
    curl -sf "$API/_fake/stats" | python3 -c '
import json, sys
r = json.load(sys.stdin)["requests"]
print(r.get("list services", 0) + r.get("list configmaps", 0))'
}
assigned() { snapshot 2>/dev/null | awk '$2 != "" { n++ } END { print n + 0 }'; }
for f in ready rss hwm resync after_writes changed intact lines rss_after; do : >"$WORK/$f"; done

for run in $(seq "$RUNS"); do
    "$OUT/fake-apiserver" --addr "$ADDR" --objects "$WORK/objects.ndjson" --kubeconfig-out "$WORK/kubeconfig" >"$WORK/fake.log" 2>&1 &
    FAKE=$!
    for _ in $(seq 200); do curl -sf "$API/_fake/stats" >/dev/null 2>&1 && break; sleep 0.05; done
    t0=$(now)
    "$CONTROLLER" --kubeconfig "$WORK/kubeconfig" --namespace metallb-system --port 17472 >"$WORK/log" 2>&1 &
    PID=$!
    for _ in $(seq 1200); do
        (($(assigned) >= SERVICES)) && break
        sleep 0.1
    done
    t1=$(now)
    n=$(assigned)
    ((n >= SERVICES)) || { echo "run $run: only $n of $SERVICES assigned" >&2; tail -5 "$WORK/log" >&2; exit 1; }
    sleep 2
    rss=$(kib VmRSS); hwm=$(kib VmHWM)
    snapshot >"$WORK/before" 2>"$WORK/intact_raw"
    intact=$(awk '{ print $2 }' "$WORK/intact_raw")

    writes0=$(status_writes)
    lines0=$(wc -l <"$WORK/log")
    curl -sf -X POST "$API/_fake/down" >/dev/null
    sleep "$OUTAGE"
    kill -0 "$PID" || { echo "run $run: the controller exited during the outage" >&2; tail -5 "$WORK/log" >&2; exit 1; }
    lines=$(($(wc -l <"$WORK/log") - lines0))
    [[ -n ${SHOW_OUTAGE_LOG:-} ]] && tail -n "$lines" "$WORK/log" >&2
    lists0=$(lists)
    curl -sf -X POST "$API/_fake/compact" >/dev/null
    curl -sf -X POST "$API/_fake/up" >/dev/null
    t_up=$(now)
    # Both watches answer 410 (the history is compacted) and list again.
    for _ in $(seq 2400); do
        (($(lists) >= lists0 + 2)) && break
        sleep 0.05
    done
    t_back=$(now)
    (($(lists) >= lists0 + 2)) || { echo "run $run: no re-list within 120 s" >&2; tail -5 "$WORK/log" >&2; exit 1; }
    sleep 10
    after=$(($(status_writes) - writes0))
    snapshot >"$WORK/after" 2>/dev/null
    changed=$(diff "$WORK/before" "$WORK/after" | grep -c '^>' || true)
    rss_after=$(kib VmRSS)
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=
    kill "$FAKE"; wait "$FAKE" 2>/dev/null || true; FAKE=

    ready=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    resync=$(awk -v a="$t_up" -v b="$t_back" 'BEGIN { printf "%.2f", b - a }')
    echo "run $run: $SERVICES assigned in ${ready} s (polled every 0.1 s); RSS ${rss} KiB (peak ${hwm}); metadata intact on ${intact}/${SERVICES}; outage ${OUTAGE} s: ${lines} log lines, re-listed ${resync} s after the return, ${after} status writes and ${changed} IP changes after it; RSS ${rss_after} KiB"
    for f in ready rss hwm resync after_writes changed intact lines rss_after; do
        case $f in after_writes) echo "$after" ;; *) echo "${!f}" ;; esac >>"$WORK/$f"
    done
done

echo "== $CONTROLLER, $SERVICES LoadBalancer services, API over loopback HTTP, $RUNS runs (medians)"
echo "start → every service assigned: $(median <"$WORK/ready") s"
echo "RSS after assignment: $(median <"$WORK/rss") KiB (peak $(median <"$WORK/hwm") KiB)"
echo "metadata intact (labels, annotations, finalizer): $(median <"$WORK/intact") of $SERVICES"
echo "outage ${OUTAGE} s: log lines during it $(median <"$WORK/lines"); re-listed after $(median <"$WORK/resync") s; status writes after it $(median <"$WORK/after_writes"); IPs changed $(median <"$WORK/changed"); RSS after $(median <"$WORK/rss_after") KiB"
