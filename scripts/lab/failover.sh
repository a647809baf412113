#!/usr/bin/env bash
# Failover lab: a client and three nodes in network namespaces on one bridge, each node running
# speaker/examples/l2_member (the speaker's memberlist shell, election and Layer 2 announcer)
# with the speaker's default memberlist timers (the fast ones: every member runs metallb-rs),
# for four IPv4 VIPs and one IPv6 VIP. Checks from the client, with arping and tcpdump:
#   * every VIP is answered by exactly one MAC, that of its Layer 2 owner
#     (docs/layer2.md#election) among the three;
#   * after SIGKILL of a VIP's owner, the VIP is answered by the owner elected among the two
#     survivors, and by it alone;
#   * SIGTERM of the new owner, while the client asks every 20 ms, leaves no request
#     unanswered, and the last node takes over; the leaving node saw every IP it owned
#     claimed by the new owner (gratuitous ARP, and unsolicited NA for the IPv6 VIP).
# Needs root; otherwise prints SKIP and exits 0. Namespaces (prefix folab-) and processes are
# removed on exit. Bounded: a watchdog ends it after 120 s.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/lab/failover.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi
if ! ip netns add folab-probe 2>/dev/null; then
    echo "SKIP: scripts/lab/failover.sh cannot create network namespaces here; not run"
    exit 0
fi
ip netns del folab-probe

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=folab
WORK=$(mktemp -d /tmp/folab.XXXXXX)
# fd79::100 is owned by node1 among node1 and node3, the owner that is sent SIGTERM.
VIPS=(192.168.79.100 192.168.79.101 192.168.79.102 192.168.79.103 fd79::100)
PASSED=0
FAILED=0
# shellcheck source=lib/failover_env.sh
source "$ROOT/scripts/lab/lib/failover_env.sh"

cleanup() {
    trap '' INT TERM
    # The watchdog first (fo_cleanup waits for every child), then its sleep.
    if [[ -n ${WATCHDOG:-} ]]; then
        local sleeper
        sleeper=$(pgrep -P "$WATCHDOG" || true)
        kill "$WATCHDOG" 2>/dev/null
        [[ -n $sleeper ]] && kill $sleeper 2>/dev/null
    fi
    fo_cleanup
    [[ -n ${FOLAB_KEEP:-} ]] && echo "lab: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "lab: interrupted"; exit 1' INT TERM
( sleep 120 >/dev/null 2>&1; echo "lab: watchdog expired"; kill -TERM $$ ) &
WATCHDOG=$!

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

fo_install
echo "lab: building speaker/examples/l2_member"
(cd "$ROOT" && cargo build -q -p speaker --example l2_member)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/l2_member
fo_topology

check_answers() {
    local label=$1 vip want got; shift
    for vip in "${VIPS[@]}"; do
        [[ $vip == *:* ]] && continue
        want=${FO_MAC[$(fo_owner_of "$vip" "$@")]}
        got=$(fo_arp_macs "$vip")
        [[ $got == "$want" ]] && pass "$label $vip answered by $want only" ||
            fail "$label $vip: want $want, got '$got'"
    done
}

# --- 1: one owner per VIP ----------------------------------------------------------------
for node in "${FO_NODES[@]}"; do fo_start "$node"; done
if fo_wait_converged 20 "${FO_NODES[@]}"; then
    pass "three members agree on the owners"
else
    fail "no agreement: $(for n in "${FO_NODES[@]}"; do printf '%s[%s] ' "$n" "$(fo_state "$n")"; done)"
fi
check_answers "3 members:" "${FO_NODES[@]}"

# --- 2: SIGKILL of the owner ---------------------------------------------------------------
VIP=${VIPS[0]}
GONE=$(fo_owner_of "$VIP" "${FO_NODES[@]}")
REST=()
for node in "${FO_NODES[@]}"; do [[ $node != "$GONE" ]] && REST+=("$node"); done
NEXT=$(fo_owner_of "$VIP" "${REST[@]}")
echo "lab: SIGKILL $GONE (owner of $VIP); elected next: $NEXT"
fo_capture_start "$WORK/kill.txt"
fo_arping_start "$VIP"
sleep 0.3
KILLED_AT=$(date +%s.%N)
fo_stop "$GONE" KILL
fo_wait_converged 10 "${REST[@]}" || true
sleep 0.3
fo_arping_stop
fo_capture_stop
read -r took _ < <(fo_analyse "$WORK/kill.txt" "$VIP" "$KILLED_AT" "${FO_MAC[$GONE]}" "${FO_MAC[$NEXT]}")
echo "lab: SIGKILL: $(fo_analyse "$WORK/kill.txt" "$VIP" "$KILLED_AT" "${FO_MAC[$GONE]}" "${FO_MAC[$NEXT]}")"
[[ $took != takeover=none ]] && pass "after SIGKILL, $NEXT answers $VIP ($took s)" ||
    fail "after SIGKILL, no reply from $NEXT"
check_answers "2 members:" "${REST[@]}"

# --- 3: SIGTERM: no unanswered request -----------------------------------------------------
LAST=
for node in "${REST[@]}"; do [[ $node != "$NEXT" ]] && LAST=$node; done
echo "lab: SIGTERM $NEXT (owner of $VIP); $LAST takes over"
fo_capture_start "$WORK/term.txt"
fo_arping_start "$VIP"
sleep 0.5
TERMED_AT=$(date +%s.%N)
fo_stop "$NEXT" TERM
fo_wait_converged 10 "$LAST" || true
sleep 0.5
fo_arping_stop
fo_capture_stop
result=$(fo_analyse "$WORK/term.txt" "$VIP" "$TERMED_AT" "${FO_MAC[$NEXT]}" "${FO_MAC[$LAST]}")
echo "lab: SIGTERM: $result"
[[ $result == *" unanswered=0 "* && $result != takeover=none* ]] &&
    pass "SIGTERM: $LAST took $VIP over and no request went unanswered" ||
    fail "SIGTERM: $result"
grep -q '^DRAINED .* handed_over=[1-9][0-9]* unclaimed=0$' "$WORK/$NEXT.out" && pass "$NEXT drained: $(grep '^DRAINED' "$WORK/$NEXT.out" | cut -d' ' -f3-)" ||
    fail "$NEXT did not report a hand-over: $(grep '^DRAINED' "$WORK/$NEXT.out" || echo none)"
check_answers "1 member:" "$LAST"

echo "failover lab: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
