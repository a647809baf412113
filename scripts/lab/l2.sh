#!/usr/bin/env bash
# Layer 2 lab: a client and three "nodes" in network namespaces on one bridge, each node
# running speaker/examples/l2_announce. Checks, from the client, with real tools:
#   * each VIP (IPv4 with arping, IPv6 with ndisc6) is answered by the node that wins the
#     Layer 2 election (docs/layer2.md#election), and by nobody else; an unannounced IP is
#     answered by nobody;
#   * when the owner stops and another node takes over, the client's neighbour entries move
#     to the new MAC from the gratuitous packets alone (the client sends no request).
# Needs root; otherwise prints SKIP and exits 0. All traffic stays inside the namespaces it
# creates (prefix l2lab-), which are removed on exit. Bounded: a watchdog ends it after 300 s.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/lab/l2.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi
if ! ip netns add l2lab-probe 2>/dev/null; then
    echo "SKIP: scripts/lab/l2.sh cannot create network namespaces here; not run"
    exit 0
fi
ip netns del l2lab-probe

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=l2lab
WORK=$(mktemp -d /tmp/l2lab.XXXXXX)
NODES=(node1 node2 node3)
declare -A MAC=([client]=02:00:00:00:00:0c [node1]=02:00:00:00:01:01 [node2]=02:00:00:00:01:02 [node3]=02:00:00:00:01:03)
declare -A HOST=([client]=2 [node1]=11 [node2]=12 [node3]=13)
VIPS4=(192.168.77.100 192.168.77.101 192.168.77.102 192.168.77.103 192.168.77.104 192.168.77.105)
VIPS6=(fd77::100 fd77::101 fd77::102 fd77::103 fd77::104 fd77::105)
declare -A PIDS=()
PASSED=0
FAILED=0

cleanup() {
    set +e
    for node in "${!PIDS[@]}"; do kill "${PIDS[$node]}" 2>/dev/null; done
    [[ -n ${CAPTURE_PID:-} ]] && kill "$CAPTURE_PID" 2>/dev/null
    [[ -n ${WATCHDOG:-} ]] && pkill -P "$WATCHDOG" 2>/dev/null && kill "$WATCHDOG" 2>/dev/null
    wait 2>/dev/null
    for ns in client "${NODES[@]}" br; do ip netns del "$P-$ns" 2>/dev/null; done
    [[ -n ${L2LAB_KEEP:-} ]] && echo "lab: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "lab: interrupted"; exit 1' INT TERM
( sleep 300 >/dev/null 2>&1; echo "lab: watchdog expired"; kill -TERM $$ ) &
WATCHDOG=$!

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

need=()
command -v arping >/dev/null || need+=(arping)
command -v ndisc6 >/dev/null || need+=(ndisc6)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ping >/dev/null || need+=(iputils-ping)
command -v ip >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "lab: building speaker/examples/l2_announce"
(cd "$ROOT" && cargo build -q -p speaker --example l2_announce)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/l2_announce

# --- topology -------------------------------------------------------------------------
ip netns add "$P-br"
in_ns br ip link add br0 type bridge mcast_snooping 0
in_ns br ip link set br0 up
for ns in client "${NODES[@]}"; do
    ip netns add "$P-$ns"
    # No DAD: addresses are usable at once, the lab stays short and deterministic.
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip link add eth0 netns "$P-$ns" address "${MAC[$ns]}" type veth peer name "v-$ns" netns "$P-br"
    in_ns br ip link set "v-$ns" master br0 up
    in_ns "$ns" ip link set lo up
    in_ns "$ns" ip addr add "192.168.77.${HOST[$ns]}/24" dev eth0
    in_ns "$ns" ip addr add "fd77::${HOST[$ns]}/64" dev eth0
    in_ns "$ns" ip link set eth0 up
done

# --- helpers --------------------------------------------------------------------------
# The Layer 2 owner (docs/layer2.md#election) among the given nodes, computed with sha256sum,
# independently of the Rust code.
owner_of() {
    local key=$1; shift
    for node in "$@"; do
        printf '%s %s\n' "$(printf '%s#%s' "$node" "$key" | sha256sum | cut -d' ' -f1)" "$node"
    done | sort | head -n1 | cut -d' ' -f2
}

start_announcer() {
    local node=$1 candidates=$2
    # Not through in_ns: `ip netns exec` execs the binary, so $! is the announcer itself.
    ip netns exec "$P-$node" "$BIN" --node "$node" --candidates "$candidates" "${VIPS4[@]}" "${VIPS6[@]}" \
        >"$WORK/$node.out" 2>"$WORK/$node.err" &
    PIDS[$node]=$!
    for _ in $(seq 100); do
        grep -q '^ready' "$WORK/$node.out" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "announcer on $node did not become ready:"; cat "$WORK/$node.err"; return 1
}

stop_announcer() {
    local node=$1
    kill -TERM "${PIDS[$node]}"
    wait "${PIDS[$node]}" || true
    unset "PIDS[$node]"
}

# MACs answering ARP for $1, sorted and unique.
arp_macs() {
    in_ns client timeout 10 arping -i eth0 -c 3 -W 0.2 "$1" 2>/dev/null |
        grep -o 'from [0-9a-f:]\{17\}' | cut -d' ' -f2 | sort -u | tr '\n' ' ' | sed 's/ $//' || true
}

# Starts tcpdump in the client namespace writing to $1 with filter $2; sets CAPTURE_PID.
capture_start() {
    ip netns exec "$P-client" tcpdump -i eth0 -n -U --immediate-mode -w "$1" "$2" 2>"$1.err" &
    CAPTURE_PID=$!
    for _ in $(seq 100); do
        grep -q 'listening on' "$1.err" 2>/dev/null && return 0
        sleep 0.02
    done
}

capture_stop() {
    sleep 0.2
    kill "$CAPTURE_PID" 2>/dev/null
    wait "$CAPTURE_PID" 2>/dev/null || true
    CAPTURE_PID=
}

# MACs that answered a solicitation for $1 with an NA to the client. ndisc6 sends the
# solicitations; the answers are read from a capture, because ndisc6 only accepts adverts
# whose IPv6 source is the target itself, and ours come from the node's link-local (as
# upstream's do); the client's kernel accepts them (checked by the failover test below).
ndp_macs() {
    local pcap=$WORK/ndp-$1.pcap
    capture_start "$pcap" 'icmp6 and ip6[40] == 136'
    in_ns client timeout 10 ndisc6 -n -r 2 -w 300 "$1" eth0 >/dev/null 2>&1 || true
    capture_stop
    tcpdump -e -n -r "$pcap" 2>/dev/null | grep "tgt is $1," |
        awk -v me="${MAC[client]}," '$4 == me { print $2 }' | sort -u | tr '\n' ' ' | sed 's/ $//' || true
}

neigh_mac() {
    in_ns client ip neigh show "$1" dev eth0 | grep -o 'lladdr [0-9a-f:]\{17\}' | cut -d' ' -f2 || true
}

check_answers() {
    local label=$1; shift
    local candidates=("$@")
    for vip in "${VIPS4[@]}"; do
        local want=${MAC[$(owner_of "$vip" "${candidates[@]}")]} got
        got=$(arp_macs "$vip")
        [[ $got == "$want" ]] && pass "$label ARP $vip answered by $want only" ||
            fail "$label ARP $vip: want $want, got '${got}'"
    done
    for vip in "${VIPS6[@]}"; do
        local want=${MAC[$(owner_of "$vip" "${candidates[@]}")]} got
        got=$(ndp_macs "$vip")
        [[ $got == "$want" ]] && pass "$label NDP $vip answered by $want only" ||
            fail "$label NDP $vip: want $want, got '${got}'"
    done
}

# --- 1: every VIP answered by its elected node only ------------------------------------
ALL=$(IFS=,; echo "${NODES[*]}")
for node in "${NODES[@]}"; do start_announcer "$node" "$ALL"; done
for node in "${NODES[@]}"; do echo "lab: $node $(head -n1 "$WORK/$node.out")"; done
check_answers "3 nodes:" "${NODES[@]}"

got=$(arp_macs 192.168.77.200)
[[ -z $got ]] && pass "unannounced 192.168.77.200 answered by nobody" || fail "192.168.77.200 answered by '$got'"
got=$(ndp_macs fd77::200)
[[ -z $got ]] && pass "unannounced fd77::200 answered by nobody" || fail "fd77::200 answered by '$got'"

# --- 2: failover moves the client's neighbour entries by gratuitous packets alone ------
# The owner of the first IPv6 VIP; with these names it owns IPv4 VIPs too.
GONE=$(owner_of "${VIPS6[0]}" "${NODES[@]}")
REST=()
for node in "${NODES[@]}"; do [[ $node != "$GONE" ]] && REST+=("$node"); done
MOVED=()
for vip in "${VIPS4[@]}" "${VIPS6[@]}"; do
    [[ $(owner_of "$vip" "${NODES[@]}") == "$GONE" ]] && MOVED+=("$vip")
done
echo "lab: stopping $GONE, which owns ${MOVED[*]}"

# Let the client's kernel learn the current owners the normal way (its ping gets no echo
# reply, the VIPs are not configured anywhere, but resolution completes).
for vip in "${MOVED[@]}"; do in_ns client ping -c1 -W1 "$vip" >/dev/null 2>&1 || true; done
for vip in "${MOVED[@]}"; do
    got=$(neigh_mac "$vip")
    [[ $got == "${MAC[$GONE]}" ]] && pass "client learnt $vip at $got before failover" ||
        fail "client neighbour entry for $vip before failover: '$got'"
done
sleep 1.2 # past the neighbour LOCKTIME (1 s), so an update may override the entry

capture_start "$WORK/client-out.pcap" 'arp or (icmp6 and ip6[40] == 135)'
stop_announcer "$GONE"
REST_CSV=$(IFS=,; echo "${REST[*]}")
for node in "${REST[@]}"; do stop_announcer "$node"; start_announcer "$node" "$REST_CSV"; done
sleep 2
for vip in "${MOVED[@]}"; do
    want=${MAC[$(owner_of "$vip" "${REST[@]}")]}
    got=$(neigh_mac "$vip")
    [[ $got == "$want" ]] && pass "client entry for $vip moved to $want without asking" ||
        fail "client entry for $vip after failover: want $want, got '$got'"
done
capture_stop
# Only what the client sent: the source MAC is the client's.
asked=$(tcpdump -e -n -r "$WORK/client-out.pcap" 2>/dev/null | awk -v me="${MAC[client]}" '$2 == me' | wc -l)
[[ $asked -eq 0 ]] && pass "client sent no ARP request or NS during failover" ||
    fail "client sent $asked ARP/NS packets during failover"

check_answers "after failover:" "${REST[@]}"

echo "l2 lab: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
