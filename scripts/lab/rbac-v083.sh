#!/usr/bin/env bash
# MetalLB v0.8.3 install lab (issue #18): three release speakers with exactly v0.8.3's DaemonSet
# env and args (METALLB_NODE_NAME, METALLB_HOST, `--port=7472 --config=config`: no --log-level,
# no METALLB_ML_*, so no memberlist) in network namespaces on one bridge, against the fake API
# server (in the client namespace) answering under v0.8.3's speaker RBAC (`--rbac 0.8.3/speaker`:
# services, endpoints, nodes, configmaps; pods may not be listed; no EndpointSlices rule).
# Outside a pod, KUBECONFIG and METALLB_NAMESPACE stand in for the service account's mount.
#
# The fake holds (scripts/lab/lib/rbac_v083.py objects) the `config` ConfigMap with a layer2
# pool of three VIPs, three Nodes, their speaker pods, and three LoadBalancer Services
# (externalTrafficPolicy Cluster, status.loadBalancer.ingress set) whose v1 Endpoints are ready
# on a subset of the nodes: the v0.8 owner is the lowest SHA-256(node#namespace/name) among the
# nodes hosting a ready endpoint, computed here with python's hashlib. Checks:
#   * the scenario matters: some service's owner among all three nodes hosts no ready endpoint;
#   * each speaker, started alone, makes at most one EndpointSlices request (the refused probe);
#   * every /status: electionKey serviceName, liveSpeakers readyEndpointNodes, the owners,
#     each speaker announcing exactly the services it owns;
#   * from the client (arping a few times, tcpdump): each VIP answered by its owner's MAC alone;
#   * the owner's endpoint of one service turns not ready (its Endpoints updated through
#     POST /_fake/objects): the VIP is answered by the next candidate's MAC within 5 s, by it
#     alone afterwards, and the other VIPs keep their owners;
#   * the fake's request counts: no watch of EndpointSlices, no EndpointSlices request beyond
#     the probes counted at start, Endpoints watched.
# Prints PASS/FAIL lines and "N passed, M failed"; exits 1 on any failure. Needs root; otherwise
# prints SKIP and exits 0. Nothing leaves the namespaces (prefix rbac083-$$-), removed on exit
# with every process started (by PID). A watchdog ends the run after 120 s (after the builds).
# Environment: RBAC083_KEEP=1 keeps the work dir (speaker and API logs, captures; kept on any
# failure);
# SPEAKER_BIN / FAKE_API_BIN use prebuilt binaries; CARGO_TARGET_DIR as for cargo.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/lab/rbac-v083.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib/lab.sh
source "$ROOT/scripts/lab/lib/lab.sh"
P=rbac083-$$
WORK=$(mktemp -d /tmp/rbac083.XXXXXX)
HELPER=$ROOT/scripts/lab/lib/rbac_v083.py
# shellcheck source=lib/failover_env.sh
source "$ROOT/scripts/lab/lib/failover_env.sh"

# The services: name, VIP, nodes hosting a ready endpoint (the others' endpoints are not ready).
SVCS=(web dns db)
declare -A VIP=([web]=192.168.79.100 [dns]=192.168.79.101 [db]=192.168.79.102)
declare -A READY=([web]="node1 node2" [dns]="node2 node3" [db]="node1 node2 node3")
# The service whose owner's endpoint turns not ready.
MOVE=db


cleanup() {
    local rc=$?
    trap '' INT TERM
    set +e
    lab_stop_watchdog
    fo_cleanup # speakers (FO_PID), arping, tcpdump, the fake API server, then the namespaces
    if [[ -z $SUMMARY_DONE ]]; then
        fail "the lab stopped early (exit status $rc)"
        summary
    fi
    ((FAILED == 0)) || RBAC083_KEEP=1
    if [[ -n ${RBAC083_KEEP:-} ]]; then echo "lab: kept $WORK"; else rm -rf "$WORK"; fi
    ((FAILED == 0)) || exit 1
}
trap cleanup EXIT
trap 'echo "lab: interrupted"; exit 1' INT TERM

fo_install
if ! ip netns add "$P-probe" 2>/dev/null; then
    fail "cannot create network namespaces as root"
    exit 1
fi
ip netns del "$P-probe"

echo "lab: building the release speaker and fake-apiserver"
fo_build_release "$ROOT"
( sleep 120 >/dev/null 2>&1; echo "lab: watchdog expired"; kill -TERM $$ ) &
WATCHDOG=$!

fo_topology
API=$FO_API
NODES_ARG=$(fo_nodes_arg "${FO_NODES[@]}")
svcs_arg() {
    local s out=()
    for s in "${SVCS[@]}"; do out+=("$s=${VIP[$s]}=${READY[$s]// /+}"); done
    (IFS=,; echo "${out[*]}")
}
helper() { ip netns exec "$P-client" python3 "$HELPER" "$@"; }
python3 "$HELPER" objects "$NODES_ARG" "$(svcs_arg)" >"$WORK/objects.ndjson"
fo_api_start "$WORK/objects.ndjson" --rbac 0.8.3/speaker

# The expected owners: v0.8's rule, among the nodes hosting a ready endpoint.
declare -A OWNER=()
owners_arg() {
    local s out=()
    for s in "${SVCS[@]}"; do out+=("default/$s=${OWNER[$s]}"); done
    (IFS=,; echo "${out[*]}")
}
matters=
for s in "${SVCS[@]}"; do
    # shellcheck disable=SC2086 # READY holds node names separated by spaces
    OWNER[$s]=$(python3 "$HELPER" owner "default/$s" ${READY[$s]})
    everyone=$(python3 "$HELPER" owner "default/$s" "${FO_NODES[@]}")
    echo "lab: default/$s ${VIP[$s]}: ready on ${READY[$s]}; owner ${OWNER[$s]} (${FO_MAC[${OWNER[$s]}]}); among all three: $everyone"
    [[ " ${READY[$s]} " == *" $everyone "* ]] || matters=1
done
check "the scenario matters: some service's owner among all three nodes hosts no ready endpoint" test -n "$matters"

# spk_start NODE: the release speaker with v0.8.3's env and args, and nothing else inherited.
spk_start() {
    local node=$1
    # Not through a function: `ip netns exec` execs env, which execs the speaker: $! is it.
    ip netns exec "$P-$node" env -i PATH="$PATH" METALLB_NODE_NAME="$node" \
        METALLB_HOST="$(fo_node_ip "$node")" METALLB_NAMESPACE=metallb-system \
        KUBECONFIG="$WORK/kubeconfig" "$WORK/bin/speaker" --port=7472 --config=config \
        >>"$WORK/$node.log" 2>&1 &
    # shellcheck disable=SC2004 # an associative array: the key must be expanded
    FO_PID[$node]=$!
}

# wait_status SECONDS NODE...: until those speakers' /status show the owners in OWNER.
wait_status() {
    local secs=$1 end s; shift
    end=$(($(date +%s) + secs))
    while (($(date +%s) < end)); do
        s=$(helper status "$(fo_nodes_arg "$@")" "$(owners_arg)")
        [[ $s == ok ]] && return 0
        sleep 0.2
    done
    echo "lab: /status of $* after $secs s: $s"
    return 1
}

slices() { helper stats "$API" | sed -n 's/.*slices=\([0-9]*\) slice_watches.*/\1/p'; }

# One speaker at a time: each asks for EndpointSlices at most once (the refused probe).
probes=0
for node in "${FO_NODES[@]}"; do
    before=$(slices)
    spk_start "$node"
    check "$node: /status shows the v0.8 owners (serviceName key, readyEndpointNodes)" wait_status 15 "$node"
    n=$(($(slices) - before))
    probes=$((probes + n))
    check "$node: $n EndpointSlices request(s) at start (at most 1)" test "$n" -le 1
done
check "all three /status agree on the owners" wait_status 5 "${FO_NODES[@]}"

# From the client: each VIP answered by its owner's MAC alone (arping 2 × 3 requests), and the
# capture of the client's interface shows no other MAC answering.
fo_capture_start "$WORK/cap-start.txt"
declare -A ARPED=()
for s in "${SVCS[@]}"; do
    ARPED[$s]=$( { fo_arp_macs "${VIP[$s]}"; fo_arp_macs "${VIP[$s]}"; } | tr ' ' '\n' | sort -u | paste -sd' ')
done
fo_capture_stop
for s in "${SVCS[@]}"; do
    want=${FO_MAC[${OWNER[$s]}]}
    check "${VIP[$s]} (default/$s): arping answered by ${OWNER[$s]} ($want) alone, got '${ARPED[$s]}'" \
        test "${ARPED[$s]}" == "$want"
    got=$(python3 "$HELPER" replies "$WORK/cap-start.txt" "${VIP[$s]}")
    check "${VIP[$s]} (default/$s): tcpdump saw replies from $want alone, got '$got'" test "$got" == "$want"
done

# The owner of $MOVE loses its ready endpoint: the next candidate takes the VIP, alone.
gone=${OWNER[$MOVE]}
rest=$(tr ' ' '\n' <<<"${READY[$MOVE]}" | grep -vx "$gone" | paste -sd' ')
# shellcheck disable=SC2086 # node names separated by spaces
next=$(python3 "$HELPER" owner "default/$MOVE" $rest)
echo "lab: default/$MOVE: $gone's endpoint turns not ready; next candidate among $rest: $next (${FO_MAC[$next]})"
fo_capture_start "$WORK/cap-move.txt"
fo_arping_start "${VIP[$MOVE]}"
sleep 0.5
since=$(date +%s.%N)
helper endpoints "$API" "$NODES_ARG" "$(svcs_arg)" "$MOVE" "${rest// /+}"
READY[$MOVE]=$rest
OWNER[$MOVE]=$next
check "all three /status show $next as the owner of default/$MOVE" wait_status 5 "${FO_NODES[@]}"
sleep 1
fo_arping_stop
fo_capture_stop
line=$(python3 "$HELPER" moved "$WORK/cap-move.txt" "${VIP[$MOVE]}" "$since" "${FO_MAC[$next]}")
echo "lab: ${VIP[$MOVE]} after the update: $line"
took=$(sed -n 's/.*takeover=\([0-9.]*\|none\) .*/\1/p' <<<"$line")
check "${VIP[$MOVE]}: first answered by $next within 5 s of the update (took $took s)" \
    awk -v t="$took" 'BEGIN { exit !(t != "none" && t <= 5) }'
check "${VIP[$MOVE]}: no other MAC answered after $next's first reply" grep -q '^takeover=[0-9.]* others_after=0$' <<<"$line"
for s in "${SVCS[@]}"; do
    want=${FO_MAC[${OWNER[$s]}]}
    got=$(fo_arp_macs "${VIP[$s]}")
    check "${VIP[$s]} (default/$s): answered by ${OWNER[$s]} ($want) alone after the update, got '$got'" \
        test "$got" == "$want"
done

# The whole run, from the fake's request counts.
counts=$(helper stats "$API")
echo "lab: fake API server: $counts"
check "no speaker watched EndpointSlices" grep -q ' slice_watches=0 ' <<<"$counts"
check "no EndpointSlices request after the $probes probe(s) at start" test "$(slices)" -eq "$probes"
check "the speakers watch v1 Endpoints" awk -v c="$counts" 'BEGIN { split(c, f, "endpoints_watches="); exit !(f[2] + 0 >= 3) }'

summary
