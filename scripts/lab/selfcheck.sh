#!/usr/bin/env bash
# Node self-check lab (issue #8): a "node" and a "client" namespace on a veth pair. The node
# gets kube-proxy's IPVS dummy interface (kube-ipvs0 holding a LoadBalancer IP) and then:
#   * with arp_ignore/arp_announce at 0 the client's arping gets an answer for the VIP from
#     the node — the real misbehaviour — and speaker/examples/node_check reports strictARP
#     failed, naming eth0;
#   * with arp_ignore=1 and arp_announce=2 (kube-proxy strictARP) nobody answers and the check
#     passes;
#   * a process holding 7946 makes memberlistPort fail; released, it passes;
#   * with eth0 down no interface is usable and layer2Interface fails.
# Needs root; otherwise prints SKIP and exits 0. All traffic stays inside the namespaces it
# creates (prefix sclab-), which are removed on exit. Bounded: a watchdog ends it after 120 s.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/lab/selfcheck.sh needs root (network namespaces); not run"
    exit 0
fi
if ! ip netns add sclab-probe 2>/dev/null; then
    echo "SKIP: scripts/lab/selfcheck.sh cannot create network namespaces here; not run"
    exit 0
fi
ip netns del sclab-probe

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=sclab
WORK=$(mktemp -d /tmp/sclab.XXXXXX)
VIP=192.168.88.240
HOLDER_PID=
PASSED=0
FAILED=0

cleanup() {
    set +e
    [[ -n $HOLDER_PID ]] && kill "$HOLDER_PID" 2>/dev/null
    [[ -n ${WATCHDOG:-} ]] && pkill -P "$WATCHDOG" 2>/dev/null && kill "$WATCHDOG" 2>/dev/null
    wait 2>/dev/null
    for ns in node client; do ip netns del "$P-$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "lab: interrupted"; exit 1' INT TERM
( sleep 120 >/dev/null 2>&1; echo "lab: watchdog expired"; kill -TERM $$ ) &
WATCHDOG=$!

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

need=()
command -v arping >/dev/null || need+=(arping)
command -v python3 >/dev/null || need+=(python3)
command -v ip >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "lab: building speaker/examples/node_check"
(cd "$ROOT" && cargo build -q -p speaker --example node_check)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/node_check

ip netns add "$P-node"
ip netns add "$P-client"
ip link add eth0 netns "$P-node" address 02:00:00:00:88:01 type veth peer name eth0 netns "$P-client" address 02:00:00:00:88:02
in_ns node ip link set lo up
in_ns client ip link set lo up
in_ns node ip addr add 192.168.88.11/24 dev eth0
in_ns client ip addr add 192.168.88.2/24 dev eth0
in_ns node ip link set eth0 up
in_ns client ip link set eth0 up
# What kube-proxy in IPVS mode does: every service IP on an interface that stays down
# (kube-proxy uses a dummy; a bridge stands in where the dummy module is missing). The
# kernel adds local routes for addresses on a down interface, so they are answered for.
in_ns node ip link add kube-ipvs0 type dummy 2>/dev/null || in_ns node ip link add kube-ipvs0 type bridge
in_ns node ip link set kube-ipvs0 arp off
in_ns node ip addr add 10.96.0.1/32 dev kube-ipvs0
in_ns node ip addr add "$VIP/32" dev kube-ipvs0

# check NAME [node_check args…]: prints the finding of check NAME as "ok=<bool> <message>".
check() {
    local name=$1; shift
    in_ns node "$BIN" "$@" >"$WORK/findings.json"
    python3 -c '
import json, sys
for f in json.load(open(sys.argv[1])):
    if f["check"] == sys.argv[2]:
        print("ok=%s %s" % (str(f["ok"]).lower(), f["message"]))
' "$WORK/findings.json" "$name"
}
answers_vip() {
    in_ns client timeout 10 arping -i eth0 -c 2 -W 0.3 "$VIP" >"$WORK/arping.out" 2>&1 || true
    grep -qi 'from 02:00:00:00:88:01' "$WORK/arping.out"
}

in_ns node sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0
in_ns node sysctl -qw net.ipv4.conf.eth0.arp_ignore=0 net.ipv4.conf.eth0.arp_announce=0
if answers_vip; then pass "loose ARP: the node answers ARP for $VIP held on kube-ipvs0"; else fail "expected the node to answer ARP for $VIP: $(cat "$WORK/arping.out")"; fi
got=$(check strictARP)
if [[ $got == ok=false* && $got == *"eth0 (arp_ignore=0, arp_announce=0)"* ]]; then
    pass "strictARP fails and names eth0: ${got#ok=false }"
else
    fail "strictARP with loose sysctls: $got"
fi

in_ns node sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
if answers_vip; then fail "node still answers ARP for $VIP with strict ARP"; else pass "strict ARP: nobody answers for $VIP"; fi
got=$(check strictARP)
if [[ $got == ok=true* ]]; then pass "strictARP passes with arp_ignore=1 arp_announce=2"; else fail "strictARP with strict sysctls: $got"; fi

# memberlist's port held by another process.
ip netns exec "$P-node" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.168.88.11", 7946)); s.listen(1); print("held", flush=True); time.sleep(60)
' >"$WORK/holder.out" &
HOLDER_PID=$!
for _ in $(seq 50); do grep -q held "$WORK/holder.out" 2>/dev/null && break; sleep 0.1; done
got=$(check memberlistPort --memberlist-bind 192.168.88.11:7946)
if [[ $got == ok=false* && $got == *7946* ]]; then pass "memberlistPort fails while 7946 is held: ${got#ok=false }"; else fail "memberlistPort while held: $got"; fi
kill "$HOLDER_PID"; wait "$HOLDER_PID" 2>/dev/null || true; HOLDER_PID=
got=$(check memberlistPort --memberlist-bind 192.168.88.11:7946)
if [[ $got == ok=true* ]]; then pass "memberlistPort passes once 7946 is free"; else fail "memberlistPort when free: $got"; fi

got=$(check layer2Interface)
if [[ $got == ok=true* && $got == *eth0* ]]; then pass "layer2Interface: eth0 usable"; else fail "layer2Interface with eth0 up: $got"; fi
in_ns node ip link set eth0 down
got=$(check layer2Interface)
if [[ $got == ok=false* ]]; then pass "layer2Interface fails with eth0 down"; else fail "layer2Interface with eth0 down: $got"; fi

echo "lab: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
