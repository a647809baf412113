#!/usr/bin/env bash
# Failover lab: a client and three nodes in network namespaces on one bridge, each node running
# speaker/examples/l2_member (the speaker's memberlist shell, election and Layer 2 announcer)
# with the speaker's default memberlist timers (the fast ones: every member runs metallb-rs),
# for four IPv4 VIPs and one IPv6 VIP. Checks from the client, with arping and tcpdump:
#   * every VIP is answered by exactly one MAC, that of its Layer 2 owner
#     (docs/layer2.md#election) among the three;
#   * for STRESS_SECS (FOLAB_STRESS_SECS, default 60) with every CPU saturated (stress-ng in
#     each node namespace, one worker per CPU each) and 5 % of the frames on every bridge port
#     dropped, while the client asks for every IPv4 VIP every 100 ms: no false failover — no
#     reply from a MAC but the owner's, no second without the owner's reply, no membership
#     change on any node (scripts/bench/failover-api.sh STRESS_SECS=600 is the long run);
#   * after SIGKILL of a VIP's owner, the VIP is answered by the owner elected among the two
#     survivors, and by it alone;
#   * SIGTERM of the new owner, while the client asks every 20 ms, leaves no request
#     unanswered, and the last node takes over; the leaving node saw every IP it owned
#     claimed by the new owner (gratuitous ARP, and unsolicited NA for the IPv6 VIP).
# Needs root; otherwise prints SKIP and exits 0. Namespaces (prefix folab-) and processes are
# removed on exit. Bounded: a watchdog ends it after 120 s plus the stress time.
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
STRESS_SECS=${FOLAB_STRESS_SECS:-60}
PASSED=0
FAILED=0
# shellcheck source=lib/failover_env.sh
source "$ROOT/scripts/lab/lib/failover_env.sh"

cleanup() {
    trap '' INT TERM
    set +e
    # The watchdog first (fo_cleanup waits for every child), then its sleep.
    if [[ -n ${WATCHDOG:-} ]]; then
        local sleeper
        sleeper=$(pgrep -P "$WATCHDOG" || true)
        kill "$WATCHDOG" 2>/dev/null
        [[ -n $sleeper ]] && kill $sleeper 2>/dev/null
    fi
    fo_probe_all_stop
    fo_stress_stop
    fo_cleanup
    [[ -n ${FOLAB_KEEP:-} ]] && echo "lab: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "lab: interrupted"; exit 1' INT TERM
( sleep $((120 + STRESS_SECS)) >/dev/null 2>&1; echo "lab: watchdog expired"; kill -TERM $$ ) &
WATCHDOG=$!

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

fo_install
fo_install_stress
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

# --- 1b: saturated CPUs and 5 % loss: no false failover --------------------------------------
if ((STRESS_SECS > 0)); then
    V4=()
    for vip in "${VIPS[@]}"; do [[ $vip == *:* ]] || V4+=("$vip"); done
    OWNERS=()
    for vip in "${V4[@]}"; do OWNERS+=("$vip=${FO_MAC[$(fo_owner_of "$vip" "${FO_NODES[@]}")]}"); done
    echo "lab: ${STRESS_SECS} s of saturated CPUs ($(nproc) stress-ng workers per node) and 5 % loss per bridge port"
    state_lines() { local n; for n in "${FO_NODES[@]}"; do grep -h '^STATE ' "$WORK/$n.out" 2>/dev/null || true; done; }
    states_before=$(state_lines | wc -l)
    fo_capture_start "$WORK/stress.txt"
    fo_stress_start "$STRESS_SECS" 5
    STRESS_FROM=$(date +%s.%N)
    fo_probe_all_start 0.1 "${V4[@]}"
    sleep "$STRESS_SECS"
    STRESS_TO=$(date +%s.%N)
    fo_probe_all_stop
    fo_stress_stop
    echo "lab: stress: bridge frames $FO_LOSS_COUNTS"
    fo_capture_stop
    states_after=$(state_lines | wc -l)
    result=$(fo_false_failovers "$WORK/stress.txt" "$STRESS_FROM" "$STRESS_TO" 1.0 "${OWNERS[@]}")
    echo "$result" | sed 's/^/lab: stress: /'
    [[ $result == *"false_failovers=0"* ]] && pass "stress: no false failover seen by the client" ||
        fail "stress: false failovers seen by the client"
    ((states_after == states_before)) && pass "stress: no membership or ownership change on any node" ||
        fail "stress: $((states_after - states_before)) membership/ownership changes: $(state_lines | tail -n $((states_after - states_before)) | paste -sd'|')"
    check_answers "after stress:" "${FO_NODES[@]}"
fi

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
