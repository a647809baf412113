#!/usr/bin/env bash
# The whole speaker at scale, for BENCHMARKS.md (issue #4): RSS and CPU of the speaker's real
# loop (`speaker/examples/speaker_scale.rs`: kube-rs watchers over an in-process API mock with
# real list JSON, the decision pass, the Layer 2 announcer, /status and /metrics) owning N
# Layer 2 services, idle and while a client sends 1 000 ARP requests/s round-robin over the
# N IPs. Two network namespaces joined by a veth pair (client ↔ node); no traffic leaves them.
# Needs root; otherwise prints SKIP and exits 0.
# Usage: scripts/bench/speaker.sh [SERVICES (default 1000)] [LOAD_SECONDS (default 20)] [RUNS (default 3)]
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/bench/speaker.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SERVICES=${1:-1000}
LOAD_SECS=${2:-20}
RUNS=${3:-3}
P=spkbench
WORK=$(mktemp -d /tmp/spkbench.XXXXXX)
NODE_MAC=02:00:00:00:03:01
CLIENT_MAC=02:00:00:00:03:0c
PID=

cleanup() {
    set +e
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    ip netns del "$P-client" 2>/dev/null
    ip netns del "$P-node" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v python3 >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
}

(cd "$ROOT" && cargo build -q --release --locked -p speaker --example speaker_scale)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/speaker_scale

ip netns add "$P-client"
ip netns add "$P-node"
ip link add eth0 netns "$P-client" address "$CLIENT_MAC" type veth peer name eth0 netns "$P-node" address "$NODE_MAC"
ip -n "$P-client" addr add 192.168.78.2/24 dev eth0
ip -n "$P-node" addr add 192.168.78.11/24 dev eth0
for ns in client node; do ip -n "$P-$ns" link set lo up; ip -n "$P-$ns" link set eth0 up; done

kib() { awk '/VmRSS/ { print $2 }' "/proc/$PID/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
hz=$(getconf CLK_TCK)
: >"$WORK/idle"; : >"$WORK/loaded"; : >"$WORK/cpu"; : >"$WORK/ready"

for run in $(seq "$RUNS"); do
    t_start=$(date +%s.%N)
    ip netns exec "$P-node" "$BIN" --services "$SERVICES" >"$WORK/out" 2>"$WORK/err" &
    PID=$!
    for _ in $(seq 600); do grep -q '^ready' "$WORK/out" && break; sleep 0.05; done
    grep -q '^ready' "$WORK/out" || { echo "run $run: not ready"; cat "$WORK/err"; exit 1; }
    t_ready=$(date +%s.%N)
    # The gratuitous bursts (5 rounds, 1.1 s apart) end before the idle figure is taken.
    sleep 7
    # The flood goes round-robin over all N IPs: every service is answered by the real responder.
    idle=$(kib)
    t0=$(ticks)
    sent=$(ip netns exec "$P-client" python3 "$ROOT/scripts/bench/lib/arp_flood.py" 1000 "$LOAD_SECS" "$CLIENT_MAC" "$SERVICES")
    sleep 0.2
    t1=$(ticks)
    loaded=$(kib)
    kill -TERM "$PID"
    wait "$PID" || { echo "run $run: speaker exited with an error"; cat "$WORK/err"; exit 1; }
    PID=
    counts=$(tail -n1 "$WORK/out")
    answered=$(sed -n 's/.*responses_sent=\([0-9]*\).*/\1/p' <<<"$counts")
    if ((answered < sent)); then
        echo "run $run: only $answered of $sent requests answered" >&2
        exit 1
    fi
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$LOAD_SECS" 'BEGIN { printf "%.2f", 100 * d / hz / s }')
    ready=$(awk -v a="$t_start" -v b="$t_ready" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
    echo "run $run: $(head -n1 "$WORK/out") in ${ready} ms; RSS idle ${idle} KiB, after load ${loaded} KiB; CPU ${cpu} % of one core at 1 000 req/s (${sent} sent; ${counts})"
    echo "$idle" >>"$WORK/idle"; echo "$loaded" >>"$WORK/loaded"; echo "$cpu" >>"$WORK/cpu"; echo "$ready" >>"$WORK/ready"
done

echo "== speaker_scale, $SERVICES Layer 2 services owned, $RUNS runs (medians)"
echo "start → all announced: $(median <"$WORK/ready") ms"
echo "RSS idle: $(median <"$WORK/idle") KiB; after ${LOAD_SECS} s at 1 000 ARP req/s: $(median <"$WORK/loaded") KiB"
echo "CPU at 1 000 ARP req/s: $(median <"$WORK/cpu") % of one core"
