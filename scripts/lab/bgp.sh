#!/usr/bin/env bash
# BGP interop lab: our speaker (speaker/examples/bgp_peer, i.e. speaker::bgp::BgpSpeaker) in
# one network namespace against BIRD 2, GoBGP and FRR, each in its own namespace with a
# generated config (scripts/lab/lib/bgp_env.sh has the layout). Per daemon, three sessions:
# iBGP over IPv4, eBGP over IPv6, eBGP over IPv4 from a source address with TCP-MD5. Checks,
# reading each daemon's own RIB (birdc / gobgp -j / vtysh json):
#   * all sessions establish (both sides agree);
#   * IPv4 and IPv6 routes arrive on every session with the expected AS_PATH, NEXT_HOP,
#     LOCAL_PREF (iBGP) and COMMUNITIES — IPv6 in MP_REACH over IPv4 and IPv6 sessions;
#   * withdrawals reach every router, and re-announcements too;
#   * a restarted router gets its sessions back and the full RIB again;
#   * a frozen router (SIGSTOP) is dropped by us within hold time (9 s) + 1 s, and
#     recovers after SIGCONT;
#   * on SIGTERM the speaker closes every session with a Cease NOTIFICATION and exits.
# Needs root; otherwise prints SKIP and exits 0. Traffic stays in the namespaces it creates
# (prefix bgplab-), removed on exit. Bounded: a watchdog ends it after 420 s.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/lab/bgp.sh needs root (network namespaces, routing daemons); not run"
    exit 0
fi
if ! ip netns add bgplab-probe 2>/dev/null; then
    echo "SKIP: scripts/lab/bgp.sh cannot create network namespaces here; not run"
    exit 0
fi
ip netns del bgplab-probe

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=bgplab
WORK=$(mktemp -d /tmp/bgplab.XXXXXX)
HOLD=9
PASSED=0
FAILED=0
# shellcheck source=lib/bgp_env.sh
source "$ROOT/scripts/lab/lib/bgp_env.sh"

cleanup() {
    set +e
    [[ -n ${SPEAKER_PID:-} ]] && kill "$SPEAKER_PID" 2>/dev/null
    # Ending the sleep ends the watchdog: its `&&` chain stops there.
    [[ -n ${WATCHDOG:-} ]] && pkill -P "$WATCHDOG" sleep 2>/dev/null
    lab_cleanup
    wait 2>/dev/null
    [[ -n ${BGPLAB_KEEP:-} ]] && echo "lab: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "lab: interrupted"; exit 1' INT TERM
( sleep 420 && echo "lab: watchdog expired" && kill -TERM $$ ) 2>/dev/null &
WATCHDOG=$!

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

lab_install
echo "lab: building speaker/examples/bgp_peer"
(cd "$ROOT" && cargo build -q -p speaker --example bgp_peer)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/bgp_peer

DAEMONS=(bird gobgp frr)
declare -A NUM=([bird]=1 [gobgp]=2 [frr]=3)
# Session kinds: i4 = iBGP over IPv4, e6 = eBGP (AS 65001) over IPv6, m4 = eBGP (AS 65002)
# over IPv4 from 10.X.0.11 with TCP-MD5.
KINDS=(i4 e6 m4)
declare -A BIRD_PROTO=([i4]=s_ibgp4 [e6]=s_ebgp6 [m4]=s_md5)

# The address a daemon knows the session's far end (us) by.
neighbor_of() {
    local x=${NUM[$1]}
    case $2 in i4) echo "10.$x.0.1" ;; e6) echo "fd0$x::1" ;; m4) echo "10.$x.0.11" ;; esac
}
# Our `peer` log/metric label of that session.
label_of() {
    local x=${NUM[$1]}
    case $2 in i4) echo "10.$x.0.2:179" ;; e6) echo "[fd0$x::2]:179" ;; m4) echo "10.$x.0.12:179" ;; esac
}

start_daemon() {
    case $1 in
        bird) bird_start ;;
        gobgp) gobgp_start ;;
        frr) frr_start ;;
    esac
}

# Number of Established sessions as the daemon sees them.
established() {
    case $1 in
        bird) birdc_ show protocols 2>/dev/null | grep -c ' Established' || true ;;
        gobgp) gobgp_ neighbor 2>/dev/null | grep -c ' Establ ' || true ;;
        frr) vtysh_ -c 'show bgp summary json' 2>/dev/null |
            jq '[.ipv4Unicast.peers[] | select(.state == "Established")] | length' 2>/dev/null || echo 0 ;;
    esac
}
all_established() { [[ $(established "$1") == 3 ]]; }

# One normalised line for PREFIX as learnt over session KIND by DAEMON:
#   "as=<path> nh=<first next hop> lp=<local pref or -> c=<communities a:b, sorted>"
# or nothing if the daemon has no such path.
route_of() {
    local daemon=$1 kind=$2 prefix=$3 neigh fam
    neigh=$(neighbor_of "$daemon" "$kind")
    [[ $prefix == *:* ]] && fam=ipv6 || fam=ipv4
    case $daemon in
        bird)
            birdc_ show route "$prefix" protocol "${BIRD_PROTO[$kind]}" all 2>/dev/null | awk '
                /BGP.as_path:/    { sub(/.*BGP.as_path: ?/, ""); as = $0; seen = 1 }
                /BGP.next_hop:/   { nh = $2 }
                /BGP.local_pref:/ { lp = $2 }
                /BGP.community:/  { sub(/.*BGP.community: /, ""); gsub(/[()]/, ""); gsub(/,/, ":"); c = $0 }
                END { if (seen) printf "as=%s nh=%s lp=%s c=%s\n", as, nh, (lp == "" ? "-" : lp), c }'
            ;;
        gobgp)
            gobgp_ global rib -a "$fam" -j 2>/dev/null | jq -r --arg p "$prefix" --arg n "$neigh" '
                (.[$p] // [])[] | select(.["neighbor-ip"] == $n) | .attrs as $a
                | ([$a[] | select(.type == 2) | .as_paths[]?.asns[]] | map(tostring) | join(" ")) as $path
                | ([$a[] | select(.type == 3 or .type == 14) | .nexthop][0]) as $nh
                | ([$a[] | select(.type == 5) | .value][0] // "-") as $lp
                | ([$a[] | select(.type == 8) | .communities[]] | sort
                   | map("\(. / 65536 | floor):\(. % 65536)") | join(" ")) as $c
                | "as=\($path) nh=\($nh) lp=\($lp) c=\($c)"'
            ;;
        frr)
            vtysh_ -c "show bgp $fam unicast $prefix json" 2>/dev/null | jq -r --arg n "$neigh" '
                (.paths // [])[] | select(.peer.peerId == $n)
                | (if .aspath.string == "Local" then "" else .aspath.string end) as $path
                | "as=\($path) nh=\(.nexthops[0].ip) lp=\(.locPrf // "-") c=\(.community.string // "")"'
            ;;
    esac
}

ROUTES_FULL=(
    "198.51.100.10/32,lp=150,c=64512:200,c=64512:100"
    "198.51.100.0/24"
    "2001:db8:5::10/128,lp=150,c=64512:100"
    "2001:db8:5::/64"
)
PREFIXES=(198.51.100.10/32 198.51.100.0/24 2001:db8:5::10/128 2001:db8:5::/64)

# What route_of must print for PREFIX over KIND at DAEMON.
expected_route() {
    local daemon=$1 kind=$2 prefix=$3 x=${NUM[$1]} path nh lp c
    case $kind in i4) path="" ;; e6) path=65001 ;; m4) path=65002 ;; esac
    if [[ $prefix == *:* ]]; then
        nh="fd0$x::1"
    elif [[ $kind == m4 ]]; then
        nh="10.$x.0.11"
    else
        nh="10.$x.0.1" # over IPv6 too: the IPv4 address of the interface owning fd0X::1
    fi
    case $prefix in
        198.51.100.10/32) lp=150 c="64512:100 64512:200" ;;
        2001:db8:5::10/128) lp=150 c="64512:100" ;;
        *) lp=0 c="" ;;
    esac
    if [[ $kind != i4 ]]; then
        # No LOCAL_PREF is sent on eBGP; BIRD shows its import default, the others nothing.
        [[ $daemon == bird ]] && lp=100 || lp=-
    fi
    echo "as=$path nh=$nh lp=$lp c=$c"
}

# Checks every prefix of $@ on every session of DAEMON; prints the mismatches.
rib_matches() {
    local daemon=$1 kind prefix got want bad=0; shift
    for kind in "${KINDS[@]}"; do
        for prefix in "$@"; do
            got=$(route_of "$daemon" "$kind" "$prefix")
            want=$(expected_route "$daemon" "$kind" "$prefix")
            if [[ $got != "$want" ]]; then
                [[ -n ${VERBOSE:-} ]] && echo "  $daemon $kind $prefix: got '$got', want '$want'"
                bad=1
            fi
        done
    done
    return $bad
}

# True when none of the prefixes in $@ is known from any of our sessions at DAEMON.
rib_lacks() {
    local daemon=$1 kind prefix; shift
    for kind in "${KINDS[@]}"; do
        for prefix in "$@"; do
            [[ -z $(route_of "$daemon" "$kind" "$prefix") ]] || return 1
        done
    done
}

# Our log lines for event $1 on session label $2 (fixed strings: IPv6 labels have brackets).
event_lines() { grep -F "\"event\":\"$1\"" "$WORK/speaker.out" | grep -F "\"peer\":\"$2\"" || true; }
count_events() { event_lines "$1" "$2" | grep -c . || true; }

write_routes() { printf '%s\n' "$@" >"$WORK/routes"; }

# --- start ---------------------------------------------------------------------------------
lab_topology
bird_config
gobgp_config
frr_config
for d in "${DAEMONS[@]}"; do start_daemon "$d"; done
wait_for 15 "bird control socket" birdc_ show status
wait_for 15 "gobgpd API" gobgp_ global
wait_for 15 "FRR bgpd" vtysh_ -c 'show bgp summary json'

write_routes "${ROUTES_FULL[@]}"
# shellcheck disable=SC2046 # word splitting of the peer list is intended
ip netns exec "$P-node" "$BIN" --node node1 --hold-time "${HOLD}s" $(lab_peer_args) \
    --routes-file "$WORK/routes" >"$WORK/speaker.out" 2>"$WORK/speaker.err" &
SPEAKER_PID=$!

# --- 1. sessions ---------------------------------------------------------------------------
for d in "${DAEMONS[@]}"; do
    if wait_for 30 "$d sessions" all_established "$d"; then
        pass "$d: iBGP/IPv4, eBGP/IPv6 and eBGP/IPv4+MD5 sessions Established"
    else
        fail "$d: only $(established "$d") of 3 sessions Established"
    fi
    for kind in "${KINDS[@]}"; do
        label=$(label_of "$d" "$kind")
        if ((0 == $(count_events sessionUp "$label"))); then fail "no sessionUp logged for $label"; fi
    done
done

# --- 2. routes and attributes ----------------------------------------------------------------
for d in "${DAEMONS[@]}"; do
    if wait_for 15 "$d routes" rib_matches "$d" "${PREFIXES[@]}"; then
        pass "$d: 2 IPv4 + 2 IPv6 routes on each session with expected AS_PATH, NEXT_HOP, LOCAL_PREF, COMMUNITIES"
    else
        VERBOSE=1 rib_matches "$d" "${PREFIXES[@]}" || true
        fail "$d: routes or attributes differ"
    fi
done

# --- 3. withdrawal and re-announcement -----------------------------------------------------
write_routes "198.51.100.0/24" "2001:db8:5::/64"
kill -HUP "$SPEAKER_PID"
for d in "${DAEMONS[@]}"; do
    if wait_for 10 "$d withdrawals" rib_lacks "$d" 198.51.100.10/32 2001:db8:5::10/128 &&
        rib_matches "$d" 198.51.100.0/24 2001:db8:5::/64; then
        pass "$d: IPv4 and IPv6 withdrawals reached the router, other routes kept"
    else
        fail "$d: withdrawal not seen"
    fi
done
write_routes "${ROUTES_FULL[@]}"
kill -HUP "$SPEAKER_PID"
for d in "${DAEMONS[@]}"; do
    if wait_for 10 "$d re-announcement" rib_matches "$d" "${PREFIXES[@]}"; then
        pass "$d: re-announced routes arrived"
    else
        fail "$d: re-announcement not seen"
    fi
done

# --- 4. router restart ---------------------------------------------------------------------
for d in "${DAEMONS[@]}"; do
    kill "${DAEMON_PID[$d]}"
    wait "${DAEMON_PID[$d]}" 2>/dev/null || true
    start_daemon "$d"
    t0=$SECONDS
    if wait_for 60 "$d sessions after restart" all_established "$d" &&
        wait_for 15 "$d RIB after restart" rib_matches "$d" "${PREFIXES[@]}"; then
        pass "$d: restarted; 3 sessions back and the full RIB re-sent in $((SECONDS - t0)) s"
    else
        fail "$d: not recovered after restart"
    fi
done

# --- 5. frozen routers -----------------------------------------------------------------------
declare -A DOWNS_BEFORE=()
for d in "${DAEMONS[@]}"; do
    for kind in "${KINDS[@]}"; do
        label=$(label_of "$d" "$kind")
        DOWNS_BEFORE[$label]=$(count_events sessionDown "$label")
    done
done
frozen_at=$(date +%s.%N)
for d in "${DAEMONS[@]}"; do kill -STOP "${DAEMON_PID[$d]}"; done
all_dropped() {
    local d kind label
    for d in "${DAEMONS[@]}"; do
        for kind in "${KINDS[@]}"; do
            label=$(label_of "$d" "$kind")
            (($(count_events sessionDown "$label") > ${DOWNS_BEFORE[$label]})) || return 1
        done
    done
}
wait_for $((HOLD + 5)) "hold timer expiry" all_dropped || true
for d in "${DAEMONS[@]}"; do
    worst=""
    for kind in "${KINDS[@]}"; do
        label=$(label_of "$d" "$kind")
        line=$(event_lines sessionDown "$label" | tail -n1)
        ts=$(sed -n 's/.*"ts":"\([^"]*\)".*/\1/p' <<<"$line")
        if [[ -z $ts || $line != *"hold timer expired"* ]] ||
            (($(count_events sessionDown "$label") <= ${DOWNS_BEFORE[$label]})); then
            worst=never
            break
        fi
        after=$(awk -v a="$(date -d "$ts" +%s.%N)" -v b="$frozen_at" 'BEGIN { printf "%.3f", a - b }')
        if [[ -z $worst ]] || awk -v a="$after" -v b="$worst" 'BEGIN { exit !(a > b) }'; then
            worst=$after
        fi
    done
    if [[ $worst != never ]] && awk -v w="$worst" -v h="$HOLD" 'BEGIN { exit !(w <= h + 1) }'; then
        pass "$d: frozen router dropped (hold timer expired) on all 3 sessions within $worst s of SIGSTOP (hold $HOLD s)"
    else
        fail "$d: frozen router not dropped within $((HOLD + 1)) s (${worst:-?})"
    fi
done
for d in "${DAEMONS[@]}"; do kill -CONT "${DAEMON_PID[$d]}"; done
for d in "${DAEMONS[@]}"; do
    if wait_for 60 "$d sessions after thaw" all_established "$d" &&
        wait_for 15 "$d RIB after thaw" rib_matches "$d" "${PREFIXES[@]}"; then
        pass "$d: sessions and RIB back after SIGCONT"
    else
        fail "$d: not recovered after SIGCONT"
    fi
done

# --- 6. shutdown -----------------------------------------------------------------------------
kill -TERM "$SPEAKER_PID"
t0=$SECONDS
if wait "$SPEAKER_PID"; then
    SPEAKER_PID=
    if birdc_ show protocols all s_ibgp4 2>/dev/null | grep -q 'Received: Administrative shutdown' &&
        wait_for 5 "sessions closed" bash -c "! ip netns exec $P-gobgp gobgp neighbor | grep -q ' Establ '"; then
        pass "speaker exited in $((SECONDS - t0)) s after SIGTERM; routers got a Cease (administrative shutdown)"
    else
        fail "routers did not see an administrative shutdown"
    fi
else
    SPEAKER_PID=
    fail "speaker exited with an error after SIGTERM"
fi

echo "lab: $PASSED passed, $FAILED failed"
((FAILED == 0))
