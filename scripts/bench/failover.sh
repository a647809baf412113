#!/usr/bin/env bash
# Layer 2 failover figures for BENCHMARKS.md: a client and three nodes in network namespaces on
# one bridge, each node running speaker/examples/l2_member (release build: the speaker's
# memberlist shell, election, Layer 2 announcer and SIGTERM path) for four IPv4 VIPs. The
# client sends a broadcast ARP request for one VIP every 20 ms (arping -W 0.02); tcpdump on
# the client's interface timestamps requests and replies. Every run starts a fresh cluster.
#   a. SIGKILL of the VIP's owner → first reply from the elected next owner's MAC;
#      RUNS runs per profile (default: no flag, the fast timers since every member runs
#      metallb-rs; upstream: --ml-fast=false, upstream's DefaultLANConfig timers).
#   b. SIGTERM of the owner → requests left without a reply, and replies from the old owner
#      after the new owner's first (each can flip the client back); TERM_RUNS runs per
#      profile, with the speaker's drain and, as the reference, upstream's order (Leave(1s),
#      then stop: l2_member --upstream-stop).
#   c. partition: the owner's bridge port goes down until both sides have re-elected, then
#      up → time until every speaker holds the final membership and owned set (from their
#      own timestamped STATE lines); PART_RUNS runs per profile with the port up again 1 s
#      after re-election (dead nodes still get gossip), and PART_RUNS with it held down
#      LONG_HOLD s (default 35, past memberlist's 30 s gossip-to-the-dead: only a re-join
#      merges the two sides then).
# The VIP rotates over the four per run, so different nodes are killed.
# Needs root; otherwise prints SKIP and exits 0. No traffic leaves the namespaces (prefix
# fobench-), which are removed on exit with every process started.
# Usage: scripts/bench/failover.sh [RUNS (10)] [TERM_RUNS (5)] [PART_RUNS (3)] [PROFILES ("default upstream")]
# FOBENCH_BIN=path uses that l2_member binary instead of building the release one.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/bench/failover.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-10}
TERM_RUNS=${2:-5}
PART_RUNS=${3:-3}
PROFILES=${4:-default upstream}
P=fobench
WORK=$(mktemp -d /tmp/fobench.XXXXXX)
VIPS=(192.168.79.100 192.168.79.101 192.168.79.102 192.168.79.103)
# shellcheck source=../lab/lib/failover_env.sh
source "$ROOT/scripts/lab/lib/failover_env.sh"

cleanup() {
    trap '' INT TERM
    fo_cleanup
    [[ -n ${FOBENCH_KEEP:-} ]] && echo "bench: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench: interrupted"; exit 1' INT TERM

fo_install
if [[ -n ${FOBENCH_BIN:-} ]]; then
    BIN=$FOBENCH_BIN # a prebuilt l2_member, e.g. to try the script out with a debug build
else
    (cd "$ROOT" && cargo build -q --release -p speaker --example l2_member)
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/l2_member
fi
fo_topology

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maximum() { sort -n | tail -n1; }

# Starts three fresh members and waits until they agree.
fresh_cluster() {
    local node
    for node in "${FO_NODES[@]}"; do
        [[ -n ${FO_PID[$node]:-} ]] && fo_stop "$node" KILL
        : >"$WORK/$node.out"
    done
    for node in "${FO_NODES[@]}"; do fo_start "$node"; done
    fo_wait_converged 30 "${FO_NODES[@]}" || { echo "bench: cluster did not converge"; return 1; }
    # Past the start-up gratuitous bursts (5 s) would be cleaner, but a burst is only sent
    # by the owner, and the requests and replies counted are unicast to the client.
    sleep 0.5
}

others() { local n; for n in "${FO_NODES[@]}"; do [[ $n != "$1" ]] && echo "$n"; done; }

# one_stop SIGNAL RUN: sets LINE to the analysis of one stop of the owner of the run's VIP.
# (Not called in a subshell: the PIDs of the members must stay known to this shell.)
one_stop() {
    local sig=$1 run=$2 vip gone next rest since
    vip=${VIPS[$((run % ${#VIPS[@]}))]}
    gone=$(fo_owner_of "$vip" "${FO_NODES[@]}")
    mapfile -t rest < <(others "$gone")
    next=$(fo_owner_of "$vip" "${rest[@]}")
    fresh_cluster
    fo_capture_start "$WORK/cap.txt"
    fo_arping_start "$vip"
    sleep 0.5
    since=$(date +%s.%N)
    fo_stop "$gone" "$sig"
    fo_wait_converged 30 "${rest[@]}" || echo "bench: survivors did not converge" >&2
    sleep 0.5
    fo_arping_stop
    fo_capture_stop
    LINE="$(fo_analyse "$WORK/cap.txt" "$vip" "$since" "${FO_MAC[$gone]}" "${FO_MAC[$next]}") stopped=$gone next=$next vip=$vip"
}

# The latest STATE timestamp (ms) over the given nodes.
last_state_ms() {
    local n
    for n in "$@"; do grep '^STATE ' "$WORK/$n.out" | tail -n1 | cut -d' ' -f2; done | sort -n | tail -n1
}

# one_partition RUN HOLD: sets LINE to the time from heal to agreement.
one_partition() {
    local run=$1 hold=$2 vip cut rest healed_ms agreed_ms
    vip=${VIPS[$((run % ${#VIPS[@]}))]}
    cut=$(fo_owner_of "$vip" "${FO_NODES[@]}")
    mapfile -t rest < <(others "$cut")
    fresh_cluster
    fo_in_ns br ip link set "v-$cut" down
    if ! fo_wait_converged 60 "$cut" || ! fo_wait_converged 60 "${rest[@]}"; then
        echo "bench: partition not detected" >&2
    fi
    sleep "$hold"
    healed_ms=$(date +%s%3N)
    fo_in_ns br ip link set "v-$cut" up
    if fo_wait_converged 120 "${FO_NODES[@]}"; then
        sleep 1 # nothing may change any more
        fo_converged "${FO_NODES[@]}" || echo "bench: agreement did not hold" >&2
        agreed_ms=$(last_state_ms "${FO_NODES[@]}")
        LINE="$(awk -v a="$agreed_ms" -v h="$healed_ms" 'BEGIN { printf "heal=%.3f", (a - h) / 1000 }') cut=$cut"
    else
        LINE="heal=none cut=$cut"
    fi
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

echo "bench: machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
for profile in $PROFILES; do
    [[ $profile == upstream ]] && FO_FAST=--ml-fast=false || FO_FAST=
    : >"$WORK/kill-$profile.txt"
    for run in $(seq "$RUNS"); do
        one_stop KILL "$run"
        echo "bench: $profile SIGKILL run $run: $LINE"
        echo "$LINE" >>"$WORK/kill-$profile.txt"
    done
    : >"$WORK/term-$profile.txt"
    for run in $(seq "$TERM_RUNS"); do
        one_stop TERM "$run"
        echo "bench: $profile SIGTERM run $run: $LINE"
        echo "$LINE" >>"$WORK/term-$profile.txt"
    done
    : >"$WORK/upterm-$profile.txt"
    FO_EXTRA=--upstream-stop
    for run in $(seq "$TERM_RUNS"); do
        one_stop TERM "$run"
        echo "bench: $profile SIGTERM (upstream order) run $run: $LINE"
        echo "$LINE" >>"$WORK/upterm-$profile.txt"
    done
    FO_EXTRA=
    : >"$WORK/part-$profile.txt"
    for run in $(seq "$PART_RUNS"); do
        one_partition "$run" 1
        echo "bench: $profile partition run $run: $LINE"
        echo "$LINE" >>"$WORK/part-$profile.txt"
    done
    : >"$WORK/longpart-$profile.txt"
    for run in $(seq "$PART_RUNS"); do
        one_partition "$run" "${LONG_HOLD:-35}"
        echo "bench: $profile partition held ${LONG_HOLD:-35} s, run $run: $LINE"
        echo "$LINE" >>"$WORK/longpart-$profile.txt"
    done
    k=$(field takeover <"$WORK/kill-$profile.txt")
    t=$(field unanswered <"$WORK/term-$profile.txt")
    tt=$(field takeover <"$WORK/term-$profile.txt")
    f=$(field flips <"$WORK/term-$profile.txt")
    ut=$(field unanswered <"$WORK/upterm-$profile.txt")
    uf=$(field flips <"$WORK/upterm-$profile.txt")
    h=$(field heal <"$WORK/part-$profile.txt")
    lh=$(field heal <"$WORK/longpart-$profile.txt")
    ((RUNS > 0)) && echo "RESULT $profile SIGKILL→new owner's first reply: median $(median <<<"$k") s, max $(maximum <<<"$k") s over $(wc -l <<<"$k") runs"
    ((TERM_RUNS > 0)) && echo "RESULT $profile SIGTERM: unanswered requests per run: $(paste -sd' ' <<<"$t") (max $(maximum <<<"$t")); new owner's first reply after $(median <<<"$tt") s (median); replies from the old owner after it: $(paste -sd' ' <<<"$f")"
    ((TERM_RUNS > 0)) && echo "RESULT $profile SIGTERM, upstream order: unanswered requests per run: $(paste -sd' ' <<<"$ut"); replies from the old owner after the new owner's first: $(paste -sd' ' <<<"$uf")"
    ((PART_RUNS > 0)) && echo "RESULT $profile partition heal→agreement: median $(median <<<"$h") s, max $(maximum <<<"$h") s over $(wc -l <<<"$h") runs"
    ((PART_RUNS > 0)) && echo "RESULT $profile partition held ${LONG_HOLD:-35} s, heal→agreement: median $(median <<<"$lh") s, max $(maximum <<<"$lh") s over $(wc -l <<<"$lh") runs"
done
true
