#!/usr/bin/env bash
# CRD mode lab (issue #24, docs/crd.md#crd-mode): the whole install configured by MetalLB
# v0.13's metallb.io objects instead of the ConfigMap. The fake API server (client namespace)
# serves the objects (scripts/lab/lib/crd_lab.py): a pool `lan` of 192.168.79.100-103 with an
# L2Advertisement, a pool `bgp` of 10.42.0.0/24 with a BGPAdvertisement (localPref 150,
# communities `no-export` through a Community alias and 64512:100), a BGPPeer to GoBGP at
# 192.168.79.254 (iBGP, AS 64512), three Nodes with Ready speaker pods, and two LoadBalancer
# Services without an address, default/web (pool lan) and default/api (pool bgp). The
# controller (client namespace) and three speakers (namespaces node1..3, one bridge) run with
# `--config-source=crd`. Checks:
#   * allocation: the controller gives web an address of lan and api one of bgp;
#   * ARP: web's address is answered by its Layer 2 owner's MAC alone (the owner is the lowest
#     SHA-256(node#ip), computed here);
#   * BGP: GoBGP learns api's /32 from all three nodes, with LOCAL_PREF 150 and communities
#     64512:100 and 65535:65281;
#   * a live change of the BGPAdvertisement (localPref 250) reaches the router;
#   * an unsupported field (L2Advertisement interfaces) is refused: an Event on that object,
#     and the last good config stays (ARP and the routes unchanged).
# Prints PASS/FAIL lines and "N passed, M failed"; exits 1 on any failure. Needs root; otherwise
# prints SKIP and exits 0. Nothing leaves the namespaces it creates (prefix crd-$$-), removed on
# exit with every process it started (by PID). A watchdog ends the run after 180 s (after the
# builds). Environment: CRD_KEEP=1 keeps the work dir (logs; kept on any failure);
# SPEAKER_BIN / CONTROLLER_BIN / FAKE_API_BIN use prebuilt binaries; CARGO_TARGET_DIR as for
# cargo.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/lab/crd.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib/lab.sh
source "$ROOT/scripts/lab/lib/lab.sh"
P=crd-$$
WORK=$(mktemp -d /tmp/crdlab.XXXXXX)
HELPER=$ROOT/scripts/lab/lib/crd_lab.py
# shellcheck source=lib/failover_env.sh
source "$ROOT/scripts/lab/lib/failover_env.sh"
ROUTER=192.168.79.254
ROUTER_MAC=02:00:00:00:03:fe
GOBGP_PID=
CONTROLLER_PID=

cleanup() {
    local rc=$?
    trap '' INT TERM
    set +e
    lab_stop_watchdog
    [[ -n $CONTROLLER_PID ]] && kill "$CONTROLLER_PID" 2>/dev/null
    [[ -n $GOBGP_PID ]] && kill "$GOBGP_PID" 2>/dev/null
    fo_cleanup # speakers (FO_PID), arping, tcpdump, the fake API server, then the namespaces
    ip netns del "$P-router" 2>/dev/null
    if [[ -z $SUMMARY_DONE ]]; then
        fail "the lab stopped early (exit status $rc)"
        summary
    fi
    ((FAILED == 0)) || CRD_KEEP=1
    if [[ -n ${CRD_KEEP:-} ]]; then echo "lab: kept $WORK"; else rm -rf "$WORK"; fi
    ((FAILED == 0)) || exit 1
}
trap cleanup EXIT
trap 'echo "lab: interrupted"; exit 1' INT TERM

fo_install
# shellcheck source=../lib/need.sh
source "$ROOT/scripts/lib/need.sh"
need gobgpd:gobgpd gobgp:gobgpd jq:jq
if ! ip netns add "$P-probe" 2>/dev/null; then
    fail "cannot create network namespaces as root"
    exit 1
fi
ip netns del "$P-probe"

# Debug builds: `cargo test` has built them already in CI. One cargo run per binary, as the
# other labs do, so that one's dependency features do not change another's build.
echo "lab: building controller, speaker and fake-apiserver"
mkdir -p "$WORK/bin"
for pkg in controller speaker fake-apiserver; do
    var=$(tr 'a-z-' 'A-Z_' <<<"$pkg")_BIN
    [[ $pkg == fake-apiserver ]] && var=FAKE_API_BIN
    if [[ -n ${!var:-} ]]; then
        cp "${!var}" "$WORK/bin/$pkg"
    else
        (cd "$ROOT" && cargo build -q --locked -p "$pkg" --bin "$pkg")
        cp "${CARGO_TARGET_DIR:-$ROOT/target}/debug/$pkg" "$WORK/bin/$pkg"
    fi
done
( sleep 180 >/dev/null 2>&1; echo "lab: watchdog expired"; kill -TERM $$ ) &
WATCHDOG=$!

fo_topology
# The router, on the same bridge.
ip netns add "$P-router"
ip link add eth0 netns "$P-router" address "$ROUTER_MAC" type veth peer name v-router netns "$P-br"
fo_in_ns br ip link set v-router master br0 up
ip netns exec "$P-router" ip link set lo up
ip netns exec "$P-router" ip addr add "$ROUTER/24" dev eth0
ip netns exec "$P-router" ip link set eth0 up

API=$FO_API
NODES_ARG=$(fo_nodes_arg "${FO_NODES[@]}")
helper() { ip netns exec "$P-client" python3 "$HELPER" "$@"; }
python3 "$HELPER" objects "$NODES_ARG" "$ROUTER" >"$WORK/objects.ndjson"
fo_api_start "$WORK/objects.ndjson"

# GoBGP: passive iBGP neighbour of each node.
{
    printf '[global.config]\n  as = 64512\n  router-id = "%s"\n' "$ROUTER"
    for n in "${FO_NODES[@]}"; do
        cat <<TOML
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$(fo_node_ip "$n")"
    peer-as = 64512
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
TOML
    done
} >"$WORK/gobgpd.toml"
ip netns exec "$P-router" gobgpd -t toml -f "$WORK/gobgpd.toml" >"$WORK/gobgpd.log" 2>&1 &
GOBGP_PID=$!
gobgp_() { ip netns exec "$P-router" gobgp "$@"; }

# The controller, in CRD mode (Go flag syntax, as manifests write it).
ip netns exec "$P-client" env -i PATH="$PATH" METALLB_NAMESPACE=metallb-system \
    KUBECONFIG="$WORK/kubeconfig" "$WORK/bin/controller" --port=7472 --config=config \
    --log-level=info -config-source=crd >"$WORK/controller.log" 2>&1 &
CONTROLLER_PID=$!

# poll SECONDS COMMAND...: every 0.2 s until COMMAND succeeds.
poll() {
    local end=$((SECONDS + $1)); shift
    while ((SECONDS < end)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
ingress() { helper ingress "$API" "$1"; }
in_range() { python3 -c 'import ipaddress,sys; a=ipaddress.ip_address(sys.argv[1]); sys.exit(not (ipaddress.ip_address(sys.argv[2]) <= a <= ipaddress.ip_address(sys.argv[3])))' "$@"; }
allocated() { [[ -n $(ingress web) && -n $(ingress api) ]]; }

check "allocation: the controller gave web and api an address from the objects' pools" poll 30 allocated
WEB=$(ingress web)
APIIP=$(ingress api)
echo "lab: web=$WEB api=$APIIP"
check "web ($WEB) is in pool lan (192.168.79.100-103)" in_range "$WEB" 192.168.79.100 192.168.79.103
check "api ($APIIP) is in pool bgp (10.42.0.0/24)" in_range "$APIIP" 10.42.0.0 10.42.0.255

# The speakers, in CRD mode (env as the manifests set it; METALLB_CONFIG_SOURCE this time).
for node in "${FO_NODES[@]}"; do
    # Not through a function: `ip netns exec` execs env, which execs the speaker: $! is it.
    ip netns exec "$P-$node" env -i PATH="$PATH" METALLB_NODE_NAME="$node" \
        METALLB_HOST="$(fo_node_ip "$node")" METALLB_NAMESPACE=metallb-system \
        METALLB_CONFIG_SOURCE=crd KUBECONFIG="$WORK/kubeconfig" "$WORK/bin/speaker" \
        --port=7472 --config=config --log-level=info >>"$WORK/$node.log" 2>&1 &
    # shellcheck disable=SC2004 # an associative array: the key must be expanded
    FO_PID[$node]=$!
done

OWNER=$(fo_owner_of "$WEB" "${FO_NODES[@]}")
WANT_MAC=${FO_MAC[$OWNER]}
arp_is_owner() { [[ $(fo_arp_macs "$WEB") == "$WANT_MAC" ]]; }
check "ARP: $WEB answered by its owner $OWNER ($WANT_MAC) alone" poll 30 arp_is_owner

# api's route as GoBGP learnt it from each node: "nh=<next hop> lp=<local pref> c=<sorted>".
routes() {
    gobgp_ global rib -a ipv4 -j 2>/dev/null | jq -r --arg p "$APIIP/32" '
        (.[$p] // [])[] | .attrs as $a
        | ([$a[] | select(.type == 3) | .nexthop][0]) as $nh
        | ([$a[] | select(.type == 5) | .value][0] // "-") as $lp
        | ([$a[] | select(.type == 8) | .communities[]] | sort
           | map("\(. / 65536 | floor):\(. % 65536)") | join(" ")) as $c
        | "nh=\($nh) lp=\($lp) c=\($c)"' | sort
}
expect_routes() {
    local lp=$1 n
    for n in "${FO_NODES[@]}"; do echo "nh=$(fo_node_ip "$n") lp=$lp c=64512:100 65535:65281"; done | sort
}
routes_are() { [[ $(routes) == "$(expect_routes "$1")" ]]; }
check "BGP: GoBGP has $APIIP/32 from all three nodes with LOCAL_PREF 150 and communities 64512:100, 65535:65281" poll 40 routes_are 150
echo "lab: routes: $(routes | paste -sd';')"

# A live change of an object: the new LOCAL_PREF reaches the router.
helper set-localpref "$API" 250
check "BGP: the BGPAdvertisement's localPref 250 reaches GoBGP from all three nodes" poll 20 routes_are 250

# An unsupported field: refused by name, an Event on the object, the last good config stays.
helper set-interfaces "$API" eth0
refused() { helper events "$API" L2Advertisement lan | grep -q 'spec.interfaces: announcing from a subset of the interfaces (interfaces) is not supported by metallb-rs yet'; }
check "an L2Advertisement with interfaces is refused with an Event on it" poll 20 refused
check "the controller logged the refusal naming the object and the field" \
    grep -q 'L2Advertisement \\"lan\\" spec.interfaces' "$WORK/controller.log"
sleep 2
check "ARP: $WEB still answered by $OWNER alone (last good config)" arp_is_owner
check "BGP: routes unchanged (last good config)" routes_are 250
check "no API request was refused or failed" \
    bash -c "! grep -qiE 'forbidden|watch failing' '$WORK/controller.log' '$WORK'/node?.log"

summary
