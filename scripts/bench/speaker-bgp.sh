#!/usr/bin/env bash
# The whole speaker at start-up in BGP mode, for BENCHMARKS.md (issue #21): the release `speaker`
# started against the fake API server (fake-apiserver, real list/watch JSON paged by
# `limit`/`continue`) already holding N LoadBalancer Services with their status and a ready
# endpoint on node1 (the state after an image swap), peering with GoBGP in another network
# namespace. Measured from process start: the time until all N routes are at the router (the
# last UPDATE's capture timestamp on the router side), the UPDATE messages GoBGP received, the
# CPU seconds the speaker used until then, and its peak RSS (VmHWM). RUNS runs, medians.
#
# Layout: namespace $P-node runs the speaker and the fake API (127.0.0.1:6080); $P-router runs
# gobgpd (AS 64512, passive, 192.168.78.2), joined to the node (192.168.78.11, AS 64513) by a
# veth pair. No traffic leaves them. Needs root; otherwise prints SKIP and exits 0.
# LATENCY_MS=n delays every list and watch request by n ms, as a busy API server would.
# CHURN=K then adds K more Services with endpoints in one burst (one admin write to the fake):
# the time from that write to all N+K routes at the router, and the UPDATEs it took.
# CHURN_RATE=R [CHURN_SECONDS=30] instead creates R services a second for that long through the
# real API paths (EndpointSlice, Service, then the controller's status write; lib/churn.py) and
# reports, from the router-side capture decoded per prefix (lib/bgp_pcap.py), each service's time
# from its status write to its route at the router (p50/p99/max), the UPDATEs and prefixes per
# UPDATE meanwhile, and the speaker's CPU seconds from the first write to the last route.
# KEEP=1 leaves the scratch directory (logs, capture) behind.
# Usage: [SPEAKER_BIN=path] [FAKE_API_BIN=path] [LATENCY_MS=0] [CHURN=K | CHURN_RATE=R [CHURN_SECONDS=S]] [KEEP=1]
#        scripts/bench/speaker-bgp.sh [SERVICES (1000)] [RUNS (3)]
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/bench/speaker-bgp.sh needs root (network namespaces); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SERVICES=${1:-1000}
RUNS=${2:-3}
P=spkbgp
WORK=$(mktemp -d /tmp/spkbgp.XXXXXX)
NODE_IP=192.168.78.11
ROUTER_IP=192.168.78.2
PID=
API=
ROUTER=
CAPTURE=

cleanup() {
    set +e
    for p in $PID $API $ROUTER $CAPTURE; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    ip netns del "$P-router" 2>/dev/null
    ip netns del "$P-node" 2>/dev/null
    [[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/lib/need.sh
source "$ROOT/scripts/lib/need.sh"
need gobgpd:gobgpd tcpdump:tcpdump python3:python3 curl:curl
# shellcheck source=scripts/bench/lib/release_bins.sh
source "$ROOT/scripts/bench/lib/release_bins.sh"
release_bins
python3 "$ROOT/scripts/bench/lib/cluster_objects.py" "$SERVICES" --assigned --endpoints node1 --protocol bgp \
    >"$WORK/objects.ndjson"

ip netns add "$P-node"
ip netns add "$P-router"
ip link add eth0 netns "$P-node" type veth peer name eth0 netns "$P-router"
ip -n "$P-node" addr add "$NODE_IP/24" dev eth0
ip -n "$P-router" addr add "$ROUTER_IP/24" dev eth0
for ns in node router; do ip -n "$P-$ns" link set lo up; ip -n "$P-$ns" link set eth0 up; done
in_node() { ip netns exec "$P-node" "$@"; }
in_router() { ip netns exec "$P-router" "$@"; }

cat >"$WORK/gobgpd.toml" <<EOF
[global.config]
  as = 64512
  router-id = "$ROUTER_IP"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$NODE_IP"
    peer-as = 64513
  [neighbors.transport.config]
    passive-mode = true
EOF

ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# GoBGP's view of the speaker: routes received and UPDATE messages received.
neighbor() { in_router gobgp neighbor "$NODE_IP" -j 2>/dev/null | python3 -c '
import json, sys
try:
    n = json.load(sys.stdin)
except ValueError:
    print("0 0"); sys.exit()
st = n.get("state", {})
rcv = 0
for a in n.get("afi_safis", []):
    rcv += a.get("state", {}).get("received", 0)
upd = st.get("messages", {}).get("received", {}).get("update", 0)
print(rcv, upd)'; }
hz=$(getconf CLK_TCK)
for f in ready updates cpu rss churn churn_updates rate_p50 rate_p99 rate_max rate_updates rate_size rate_cpu; do : >"$WORK/$f"; done
if [[ -n ${CHURN:-} ]]; then
    python3 "$ROOT/scripts/bench/lib/cluster_objects.py" "$CHURN" --first "$SERVICES" --assigned --endpoints node1 \
        --protocol bgp --services-only >"$WORK/churn.ndjson"
fi

for run in $(seq "$RUNS"); do
    # Started without a shell function in between, so that $! is the process itself.
    ip netns exec "$P-router" gobgpd -t toml -f "$WORK/gobgpd.toml" --log-level=warn >"$WORK/gobgpd.log" 2>&1 &
    ROUTER=$!
    for _ in $(seq 100); do in_router gobgp global >/dev/null 2>&1 && break; sleep 0.05; done
    ip netns exec "$P-node" "$FAKE" --addr 127.0.0.1:6080 --objects "$WORK/objects.ndjson" --kubeconfig-out "$WORK/kubeconfig" \
        >"$WORK/api.out" 2>"$WORK/api.err" &
    API=$!
    for _ in $(seq 400); do in_node curl -sf http://127.0.0.1:6080/_fake/stats >/dev/null 2>&1 && break; sleep 0.05; done
    if [[ -n ${LATENCY_MS:-} ]]; then
        in_node curl -sf -X POST "http://127.0.0.1:6080/_fake/latency?verbs=list,watch&ms=$LATENCY_MS" >/dev/null
    fi
    # Every BGP segment the router receives, with its capture time.
    ip netns exec "$P-router" tcpdump -U -i eth0 -n -s 0 -w "$WORK/bgp.pcap" "tcp port 179" 2>/dev/null &
    CAPTURE=$!
    sleep 0.5
    t_start=$(date +%s.%N)
    ip netns exec "$P-node" env METALLB_NODE_NAME=node1 METALLB_NAMESPACE=metallb-system \
        "$SPEAKER" --kubeconfig "$WORK/kubeconfig" --port 7472 >"$WORK/log" 2>&1 &
    PID=$!
    got=0
    for _ in $(seq 300); do
        read -r got updates < <(neighbor)
        ((got >= SERVICES)) && break
        sleep 0.1
    done
    ((got >= SERVICES)) || { echo "run $run: only $got of $SERVICES routes at the router" >&2; tail -5 "$WORK/log" >&2; exit 1; }
    # Nothing more should come: the CPU and UPDATE figures are those of a settled speaker.
    sleep 1
    read -r got updates < <(neighbor)
    cpu=$(awk -v t="$(ticks)" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
    c_start=99999999999
    if [[ -n ${CHURN:-} ]]; then
        c_start=$(date +%s.%N)
        in_node curl -sf -X POST --data-binary "@$WORK/churn.ndjson" http://127.0.0.1:6080/_fake/objects >/dev/null
        for _ in $(seq 300); do
            read -r c_got c_updates < <(neighbor)
            ((c_got >= SERVICES + CHURN)) && break
            sleep 0.05
        done
        ((c_got >= SERVICES + CHURN)) || { echo "run $run: churn: only $c_got routes" >&2; exit 1; }
        c_ready=$(awk -v a="$c_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
        sleep 1
        read -r c_got c_updates < <(neighbor)
        echo "$c_ready" >>"$WORK/churn"; echo "$((c_updates - updates))" >>"$WORK/churn_updates"
        echo "run $run: churn: $CHURN more routes at the router ${c_ready} s after the write (polled), $((c_updates - updates)) UPDATEs"
    fi
    if [[ -n ${CHURN_RATE:-} ]]; then
        total=$(awk -v r="$CHURN_RATE" -v s="${CHURN_SECONDS:-30}" 'BEGIN { printf "%d", r * s }')
        t0=$(ticks)
        c_start=$(date +%s.%N)
        in_node python3 "$ROOT/scripts/bench/lib/churn.py" http://127.0.0.1:6080 "$SERVICES" "$CHURN_RATE" \
            "${CHURN_SECONDS:-30}" node1 >"$WORK/writes" 2>"$WORK/churn.err"
        # Polled slowly: the CLI's own CPU would compete with the speaker on two cores.
        for _ in $(seq 120); do
            read -r c_got c_updates < <(neighbor)
            ((c_got >= SERVICES + total)) && break
            sleep 0.5
        done
        ((c_got >= SERVICES + total)) || { echo "run $run: churn: only $c_got routes" >&2; exit 1; }
        rate_cpu=$(awk -v t="$(( $(ticks) - t0 ))" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
        # The capture may still hold the last segments in its buffer.
        sleep 1
        echo "run $run: $(cat "$WORK/churn.err")"
    fi
    # With CHURN or CHURN_RATE, the peak includes the churn.
    rss=$(kib VmHWM)
    kill "$CAPTURE"; wait "$CAPTURE" 2>/dev/null || true
    CAPTURE=
    # The last segment from the speaker carrying more than a KEEPALIVE (19 bytes).
    t_last=$(tcpdump -r "$WORK/bgp.pcap" -tt -n \
        "src host $NODE_IP and (ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) > 19" 2>/dev/null |
        awk -v c="$c_start" '$1 < c { t = $1 } END { print t }')
    ready=$(awk -v a="$t_start" -v b="$t_last" 'BEGIN { printf "%.3f", b - a }')
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
    PID=
    kill "$API"; wait "$API" 2>/dev/null || true
    API=
    kill "$ROUTER"; wait "$ROUTER" 2>/dev/null || true
    ROUTER=
    if [[ -n ${CHURN_RATE:-} ]]; then
        python3 "$ROOT/scripts/bench/lib/bgp_pcap.py" "$WORK/bgp.pcap" "$NODE_IP" --prefixes "$WORK/prefixes" >"$WORK/updates.ndjson"
        report=$(python3 "$ROOT/scripts/bench/lib/churn_report.py" "$WORK/writes" "$WORK/prefixes" "$WORK/updates.ndjson")
        echo "run $run: churn at $CHURN_RATE/s: $report; speaker CPU ${rate_cpu} s"
        field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$report" "$1"; }
        [[ $(field missing) == 0 ]] || { echo "run $run: churned routes missing from the capture" >&2; exit 1; }
        field p50_ms >>"$WORK/rate_p50"; field p99_ms >>"$WORK/rate_p99"; field max_ms >>"$WORK/rate_max"
        field updates >>"$WORK/rate_updates"; field prefixes_per_update_mean >>"$WORK/rate_size"
        echo "$rate_cpu" >>"$WORK/rate_cpu"
    fi
    echo "run $run: $got routes at the router ${ready} s after start, ${updates} UPDATEs; CPU ${cpu} s; peak RSS ${rss} KiB"
    echo "$ready" >>"$WORK/ready"; echo "$updates" >>"$WORK/updates"; echo "$cpu" >>"$WORK/cpu"; echo "$rss" >>"$WORK/rss"
done

echo "== $SPEAKER, $SERVICES BGP services, API latency ${LATENCY_MS:-0} ms, $RUNS runs (medians)"
echo "start → all routes at the router: $(median <"$WORK/ready") s"
echo "UPDATE messages: $(median <"$WORK/updates")"
echo "CPU to settle: $(median <"$WORK/cpu") s"
echo "peak RSS: $(median <"$WORK/rss") KiB"
if [[ -n ${CHURN:-} ]]; then
    echo "churn of $CHURN: all at the router $(median <"$WORK/churn") s after the write (polled every 50 ms), UPDATEs $(median <"$WORK/churn_updates")"
fi
if [[ -n ${CHURN_RATE:-} ]]; then
    echo "churn at $CHURN_RATE services/s for ${CHURN_SECONDS:-30} s: status write → route at the router p50 $(median <"$WORK/rate_p50") ms, p99 $(median <"$WORK/rate_p99") ms, max $(median <"$WORK/rate_max") ms"
    echo "  UPDATEs $(median <"$WORK/rate_updates"), prefixes per UPDATE $(median <"$WORK/rate_size") (mean), speaker CPU $(median <"$WORK/rate_cpu") s"
fi
