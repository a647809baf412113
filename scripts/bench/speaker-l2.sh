#!/usr/bin/env bash
# The whole speaker at start-up in Layer 2 mode, for BENCHMARKS.md (issue #21): the release
# `speaker` started against the fake API server already holding N layer2 LoadBalancer Services
# with their status and a ready endpoint on node1 (the state after an image swap), one segment
# shared with a client namespace. From the client's side (a capture of every ARP frame there):
# the gratuitous frames per second (the most in any one-second window, and the mean), when the
# last address had its first gratuitous frame and when the last frame arrived, and, while the
# client asks for the last address with arping every 10 ms from before the start, when it is
# first answered. Also the speaker's CPU seconds and peak RSS once every burst is out. Each
# RUN starts the speaker once per --garp-rate in RATES (0: unpaced, as upstream); medians.
#
# Layout: namespace $P-node runs the speaker and the fake API (127.0.0.1:6080), $P-client the
# capture and arping, joined by a veth pair (192.168.77.11 and .2, MACs fixed). No traffic
# leaves them. Needs root; otherwise prints SKIP and exits 0.
# Usage: [SPEAKER_BIN=path] [FAKE_API_BIN=path] [RATES="500 0"] [LATENCY_MS=0] [KEEP=1]
#        scripts/bench/speaker-l2.sh [SERVICES (5000)] [RUNS (3)]
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/bench/speaker-l2.sh needs root (network namespaces, raw sockets); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SERVICES=${1:-5000}
RUNS=${2:-3}
RATES=${RATES:-500 0}
P=spkl2
WORK=$(mktemp -d /tmp/spkl2.XXXXXX)
NODE_MAC=02:00:00:00:04:0b
CLIENT_MAC=02:00:00:00:04:02
# cluster_objects.py gives service i the address 10.200.0.0 + i.
TARGET=$(python3 -c "import ipaddress; print(ipaddress.ip_address('10.200.0.0') + $SERVICES - 1)")
PID=
API=
CAPTURE=
ASKER=

cleanup() {
    set +e
    for p in $PID $API $CAPTURE $ASKER; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    ip netns del "$P-client" 2>/dev/null
    ip netns del "$P-node" 2>/dev/null
    [[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/lib/need.sh
source "$ROOT/scripts/lib/need.sh"
need arping:arping tcpdump:tcpdump python3:python3 curl:curl
# shellcheck source=scripts/bench/lib/release_bins.sh
source "$ROOT/scripts/bench/lib/release_bins.sh"
release_bins
python3 "$ROOT/scripts/bench/lib/cluster_objects.py" "$SERVICES" --assigned --endpoints node1 --protocol layer2 \
    >"$WORK/objects.ndjson"

ip netns add "$P-node"
ip netns add "$P-client"
ip link add eth0 netns "$P-node" address "$NODE_MAC" type veth peer name eth0 netns "$P-client" address "$CLIENT_MAC"
ip -n "$P-node" addr add 192.168.77.11/24 dev eth0
ip -n "$P-client" addr add 192.168.77.2/24 dev eth0
for ns in node client; do ip -n "$P-$ns" link set lo up; ip -n "$P-$ns" link set eth0 up; done
in_node() { ip netns exec "$P-node" "$@"; }

ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
hz=$(getconf CLK_TCK)
# 5 rounds of 2 frames per address: the last round leaves 4.4 s after the address's first at
# the earliest; paced, all 10·N frames take N·5/rate seconds.
expected=$((SERVICES * 10))

for rate in $RATES; do
    for f in answered claimed last maxps meanps cpu rss; do : >"$WORK/$rate.$f"; done
done

for run in $(seq "$RUNS"); do
    for rate in $RATES; do
        ip netns exec "$P-node" "$FAKE" --addr 127.0.0.1:6080 --objects "$WORK/objects.ndjson" --kubeconfig-out "$WORK/kubeconfig" \
            >"$WORK/api.out" 2>"$WORK/api.err" &
        API=$!
        for _ in $(seq 400); do in_node curl -sf http://127.0.0.1:6080/_fake/stats >/dev/null 2>&1 && break; sleep 0.05; done
        if [[ -n ${LATENCY_MS:-} ]]; then
            in_node curl -sf -X POST "http://127.0.0.1:6080/_fake/latency?verbs=list,watch&ms=$LATENCY_MS" >/dev/null
        fi
        ip netns exec "$P-client" tcpdump -U -i eth0 -n -s 64 -w "$WORK/arp.pcap" arp 2>/dev/null &
        CAPTURE=$!
        # Asks for the last address every 10 ms from before the start until killed.
        ip netns exec "$P-client" arping -q -i eth0 -W 0.01 -c 100000 "$TARGET" >/dev/null 2>&1 &
        ASKER=$!
        sleep 0.5
        t_start=$(date +%s.%N)
        ip netns exec "$P-node" env METALLB_NODE_NAME=node1 METALLB_NAMESPACE=metallb-system \
            "$SPEAKER" --kubeconfig "$WORK/kubeconfig" --port 7472 --garp-rate="$rate" >"$WORK/log" 2>&1 &
        PID=$!
        if ((rate > 0)); then
            wait_s=$(awk -v n="$SERVICES" -v r="$rate" 'BEGIN { printf "%d", n * 5 / r + 10 }')
        else
            wait_s=10
        fi
        sleep "$wait_s"
        cpu=$(awk -v t="$(ticks)" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
        rss=$(kib VmHWM)
        for p in ASKER CAPTURE PID API; do
            kill "${!p}"; wait "${!p}" 2>/dev/null || true
            printf -v "$p" '%s' ""
        done
        report=$(python3 "$ROOT/scripts/bench/lib/arp_pcap.py" "$WORK/arp.pcap" "$NODE_MAC" "$CLIENT_MAC" "$TARGET" "$t_start")
        echo "run $run, --garp-rate=$rate: $report; CPU ${cpu} s; peak RSS ${rss} KiB"
        [[ $(field "$report" gratuitous_ips) == "$SERVICES" ]] || { echo "run $run: not every address was claimed" >&2; exit 1; }
        frames=$(field "$report" gratuitous_frames)
        ((frames == expected)) || echo "run $run: $frames gratuitous frames, not $expected (bursts not over, or the capture dropped some)" >&2
        field "$report" target_answered >>"$WORK/$rate.answered"
        field "$report" all_claimed >>"$WORK/$rate.claimed"
        field "$report" last_gratuitous >>"$WORK/$rate.last"
        field "$report" max_per_second >>"$WORK/$rate.maxps"
        field "$report" mean_per_second >>"$WORK/$rate.meanps"
        echo "$cpu" >>"$WORK/$rate.cpu"; echo "$rss" >>"$WORK/$rate.rss"
        if [[ -n ${KEEP:-} ]]; then mv "$WORK/arp.pcap" "$WORK/arp-$run-$rate.pcap"; fi
    done
done

echo "== $SPEAKER, $SERVICES layer2 services, API latency ${LATENCY_MS:-0} ms, $RUNS runs (medians)"
for rate in $RATES; do
    echo "--garp-rate=$rate: last address answered $(median <"$WORK/$rate.answered") s after start;" \
        "every address claimed $(median <"$WORK/$rate.claimed") s, last gratuitous frame $(median <"$WORK/$rate.last") s;" \
        "gratuitous frames/s: max $(median <"$WORK/$rate.maxps") (1-s window), mean $(median <"$WORK/$rate.meanps");" \
        "CPU $(median <"$WORK/$rate.cpu") s; peak RSS $(median <"$WORK/$rate.rss") KiB"
done
