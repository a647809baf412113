#!/usr/bin/env bash
# Layer 2 figures for BENCHMARKS.md, measured in two network namespaces joined by a veth
# pair (client ↔ node); no traffic leaves them. Needs root; otherwise prints SKIP, exits 0.
#   1. ARP reply latency seen by arping from the client: a VIP answered by the announcer vs an
#      address configured on the node's interface (answered by the kernel); interleaved
#      batches, median of all samples of each.
#   2. announcer CPU while the client sends 1 000 ARP requests/s for the 1 000 owned IPs.
#   3. announcer RSS with 1 000 owned IPv4 addresses, and with 1 000 IPv4 + 1 000 IPv6.
# Usage: scripts/bench/l2.sh [SAMPLES_PER_BATCH (default 50)] [LOAD_SECONDS (default 20)]
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/bench/l2.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BATCH=${1:-50}
LOAD_SECS=${2:-20}
P=l2bench
WORK=$(mktemp -d /tmp/l2bench.XXXXXX)
NODE_MAC=02:00:00:00:02:01
CLIENT_MAC=02:00:00:00:02:0c
KERNEL_IP=192.168.78.50
VIP=192.168.78.100
ANN_PID=
PIN=

cleanup() {
    set +e
    [[ -n $ANN_PID ]] && kill "$ANN_PID" 2>/dev/null && wait "$ANN_PID" 2>/dev/null
    ip netns del "$P-client" 2>/dev/null
    ip netns del "$P-node" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

need=()
command -v arping >/dev/null || need+=(arping)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

(cd "$ROOT" && cargo build -q --release -p speaker --example l2_announce)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/l2_announce

ip netns add "$P-client"
ip netns add "$P-node"
for ns in client node; do
    ip netns exec "$P-$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip link add eth0 netns "$P-client" address "$CLIENT_MAC" type veth peer name eth0 netns "$P-node" address "$NODE_MAC"
ip -n "$P-client" addr add 192.168.78.2/24 dev eth0
ip -n "$P-node" addr add 192.168.78.11/24 dev eth0
ip -n "$P-node" addr add "$KERNEL_IP/24" dev eth0
for ns in client node; do ip -n "$P-$ns" link set lo up; ip -n "$P-$ns" link set eth0 up; done

# Starts the announcer in the node namespace with the VIP plus 1 000 owned IPs (and
# optionally 1 000 IPv6) and waits for it to be ready and its gratuitous bursts to end.
start_announcer() {
    ip netns exec "$P-node" $PIN "$BIN" "$VIP" --range 10.99.0.0 1000 "$@" >"$WORK/ann.out" 2>"$WORK/ann.err" &
    ANN_PID=$!
    for _ in $(seq 200); do grep -q '^ready' "$WORK/ann.out" && break; sleep 0.05; done
    grep -q '^ready' "$WORK/ann.out" || { cat "$WORK/ann.err"; exit 1; }
    sleep 6
}

stop_announcer() {
    kill -TERM "$ANN_PID"
    wait "$ANN_PID" || true
    ANN_PID=
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# arping round-trip times in microseconds, one per line.
arping_usec() {
    ip netns exec "$P-client" $PIN arping -i eth0 -c "$BATCH" -W 0.01 "$1" 2>/dev/null |
        sed -n 's/.*time=\([0-9.]*\) \(usec\|msec\|sec\).*/\1 \2/p' |
        awk '{ m = ($2 == "usec") ? 1 : ($2 == "msec") ? 1000 : 1000000; printf "%.3f\n", $1 * m }'
}

# Latency, interleaved batches of the announcer's VIP and the kernel's own address. Where the
# scheduler wakes the responder matters more than anything the responder does: on another
# (idle) vCPU the wake-up IPI of this VM costs ~120 µs, on the sender's CPU a few µs. So it is
# measured twice: as the scheduler places things, and with announcer and arping pinned to
# CPU 0 (PIN), which compares the two paths without the placement lottery.
latency() {
    start_announcer
    : >"$WORK/ours"; : >"$WORK/kernel"
    for _ in 1 2 3 4; do
        arping_usec "$VIP" >>"$WORK/ours"
        arping_usec "$KERNEL_IP" >>"$WORK/kernel"
    done
    stop_announcer
    ours=$(median <"$WORK/ours"); kernel=$(median <"$WORK/kernel")
    echo "announcer: n=$(wc -l <"$WORK/ours") median=${ours} µs"
    echo "kernel:    n=$(wc -l <"$WORK/kernel") median=${kernel} µs"
    echo "ratio announcer/kernel: $(awk -v a="$ours" -v b="$kernel" 'BEGIN { printf "%.2f", a / b }')"
}

# The floor of any user-space responder on this machine: a minimal C program blocked in
# recv() on an AF_PACKET socket, answering the VIP (no filter, no bookkeeping). Measured in
# the same conditions it tells how much of the announcer's figure is the wake-up itself.
floor() {
    cat >"$WORK/floor.c" <<'C'
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
int main(int argc, char **argv) {
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ARP));
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
                              .sll_ifindex = (int)if_nametoindex(argv[1])};
    unsigned char mac[6] = {2, 0, 0, 0, 2, 1}, b[1514], r[42];
    struct in_addr vip;
    if (s < 0 || bind(s, (void *)&sll, sizeof sll) || !inet_aton(argv[2], &vip)) return 1;
    for (;;) {
        if (recv(s, b, sizeof b, 0) < 42 || b[20] != 0 || b[21] != 1 || memcmp(b + 38, &vip, 4)) continue;
        memcpy(r, b + 6, 6); memcpy(r + 6, mac, 6); r[12] = 8; r[13] = 6; memcpy(r + 14, b + 14, 6);
        r[20] = 0; r[21] = 2; memcpy(r + 22, mac, 6); memcpy(r + 28, b + 38, 4);
        memcpy(r + 32, b + 22, 6); memcpy(r + 38, b + 28, 4);
        send(s, r, 42, 0);
    }
}
C
    if ! command -v cc >/dev/null || ! cc -O2 -o "$WORK/floor" "$WORK/floor.c"; then
        echo "floor: no C compiler, not measured"
        return
    fi
    ip netns exec "$P-node" $PIN "$WORK/floor" eth0 "$VIP" &
    ANN_PID=$!
    sleep 0.5
    : >"$WORK/floor.us"
    for _ in 1 2 3 4; do arping_usec "$VIP" >>"$WORK/floor.us"; done
    kill "$ANN_PID"; wait "$ANN_PID" 2>/dev/null || true; ANN_PID=
    echo "C floor:   n=$(wc -l <"$WORK/floor.us") median=$(median <"$WORK/floor.us") µs"
}

echo "== 1. ARP reply latency (arping, $((BATCH * 4)) samples each, interleaved batches of $BATCH), unpinned"
PIN=
latency
floor
echo "== 1b. the same, announcer and arping pinned to CPU 0"
PIN="taskset -c 0"
latency
floor
PIN=
start_announcer

echo "== 2. announcer CPU at 1 000 ARP requests/s for 1 000 owned IPs, ${LOAD_SECS} s"
ticks() { awk '{ print $14 + $15 }' "/proc/$ANN_PID/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
sent=$(ip netns exec "$P-client" python3 "$ROOT/scripts/bench/lib/arp_flood.py" 1000 "$LOAD_SECS" "$CLIENT_MAC")
t1=$(ticks)
rss_loaded=$(awk '/VmRSS/ { print $2 }' "/proc/$ANN_PID/status")
stop_announcer
counts=$(tail -n1 "$WORK/ann.out")
echo "client sent $sent requests; announcer: $counts"
echo "announcer CPU: $(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$LOAD_SECS" 'BEGIN { printf "%.2f", 100 * d / hz / s }') % of one core"

echo "== 3. announcer RSS"
echo "1 000 IPv4 owned, after ${LOAD_SECS} s of load: $((rss_loaded / 1024)).$(((rss_loaded % 1024) * 10 / 1024)) MiB (${rss_loaded} KiB)"
start_announcer
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$ANN_PID/status")
echo "1 000 IPv4 owned, idle: ${rss} KiB"
stop_announcer
start_announcer --range fd78::1:0 1000
rss6=$(awk '/VmRSS/ { print $2 }' "/proc/$ANN_PID/status")
echo "1 000 IPv4 + 1 000 IPv6 owned, idle: ${rss6} KiB"
stop_announcer
