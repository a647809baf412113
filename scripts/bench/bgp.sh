#!/usr/bin/env bash
# BGP speaker figures (BENCHMARKS.md "## BGP speaker"), in network namespaces:
#   * 10 000 /32 routes from our speaker (release build of speaker/examples/bgp_peer) to a
#     GoBGP receiver R: time from Established to all 10 000 in R's Adj-RIB-In, and the number
#     of UPDATE messages R received;
#   * the same 10 000 routes injected into a second gobgpd S (MRT file, `gobgp mrt inject`)
#     and sent by S to the same R over the same link, measured the same way;
#   * withdrawal of all 10 000, for both senders;
#   * our speaker's RSS with 3 sessions × 10 000 routes.
# Times come from R's own event streams (`gobgp monitor neighbor` for ESTABLISHED, `gobgp
# monitor adj-in` for each route), stamped on arrival by a Perl filter; RUNS rounds of each,
# medians reported. Needs root. Namespaces: bgpbench-node (our speaker and S, which share the
# link) and bgpbench-gobgp (R). Bounded by a 600 s watchdog.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/bench/bgp.sh needs root (network namespaces); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=bgpbench
WORK=$(mktemp -d /tmp/bgpbench.XXXXXX)
N=${ROUTES:-10000}
RUNS=${RUNS:-5}
# shellcheck source=../lab/lib/bgp_env.sh
source "$ROOT/scripts/lab/lib/bgp_env.sh"

cleanup() {
    set +e
    [[ -n ${SPEAKER_PID:-} ]] && kill "$SPEAKER_PID" 2>/dev/null
    for pid in ${MONITORS:-}; do kill "$pid" 2>/dev/null; done
    [[ -n ${SENDER_PID:-} ]] && kill "$SENDER_PID" 2>/dev/null
    # Ending the sleep ends the watchdog: its `&&` chain stops there.
    [[ -n ${WATCHDOG:-} ]] && pkill -P "$WATCHDOG" sleep 2>/dev/null
    lab_cleanup
    wait 2>/dev/null
    [[ -n ${BGPBENCH_KEEP:-} ]] && echo "bench: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench: interrupted"; exit 1' INT TERM
( sleep 600 && echo "bench: watchdog expired" && kill -TERM $$ ) 2>/dev/null &
WATCHDOG=$!

lab_install
echo "bench: building speaker/examples/bgp_peer (release)"
(cd "$ROOT" && cargo build -q --release -p speaker --example bgp_peer)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bgp_peer

# --- topology: node (10.2.0.1, .11, .31 ours; .21 S) — R (10.2.0.2, .12, .22) -------------
ip netns add "$P-node"
in_ns node ip link set lo up
lab_link gobgp 2
in_ns node ip addr add 10.2.0.21/24 dev to-gobgp
in_ns node ip addr add 10.2.0.31/24 dev to-gobgp
in_ns gobgp ip addr add 10.2.0.22/24 dev eth0

r_neighbor() {
    cat <<EOF
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$1"
    peer-as = $2
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
EOF
}
{
    printf '[global.config]\n  as = %s\n  router-id = "10.2.0.2"\n' "$LAB_ASN"
    r_neighbor 10.2.0.1 65001
    r_neighbor 10.2.0.11 65001
    r_neighbor 10.2.0.31 65001
    r_neighbor 10.2.0.21 65010
} >"$WORK/r.toml"
cat >"$WORK/s.toml" <<EOF
[global.config]
  as = 65010
  router-id = "10.2.0.21"
  local-address-list = ["10.2.0.21"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.2.0.2"
    peer-as = $LAB_ASN
    admin-down = true
  [neighbors.transport.config]
    local-address = "10.2.0.21"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
EOF
ip netns exec "$P-gobgp" gobgpd -t toml -f "$WORK/r.toml" --log-level=warn >"$WORK/r.log" 2>&1 &
DAEMON_PID[gobgp]=$!
ip netns exec "$P-node" gobgpd -t toml -f "$WORK/s.toml" --log-level=warn >"$WORK/s.log" 2>&1 &
SENDER_PID=$!
r_() { in_ns gobgp gobgp "$@"; }
s_() { in_ns node gobgp "$@"; }
wait_for 15 "receiver API" r_ global
wait_for 15 "sender API" s_ global

# The same N routes as `bgp_peer --range 10.100.0.0 N`, as an MRT TABLE_DUMP_V2 file:
# PEER_INDEX_TABLE, then one RIB_IPV4_UNICAST record per /32 with ORIGIN INCOMPLETE, an
# empty AS_PATH and NEXT_HOP 10.2.0.21. `gobgp mrt inject` (3.10) exits before the last few
# hundred paths of its stream are taken, so the file ends with 3000 records repeating the
# first prefixes: only that padding is lost, and re-adding an identical path changes nothing.
perl -e '
    my ($n) = @ARGV; my @nh = (10, 2, 0, 21); my $seq = 0;
    sub rec { my ($sub, $body) = @_; print pack("N n n N", 0, 13, $sub, length $body), $body }
    rec(1, pack("C4 n n C C4 C4 N", @nh, 0, 1, 2, @nh, @nh, 65010));
    my $attrs = pack("C*", 0x40, 1, 1, 2, 0x40, 2, 0, 0x40, 3, 4, @nh);
    for my $i ((0 .. $n - 1), (0 .. 2999)) {
        rec(2, pack("N C N n n N n", $seq++, 32, (10 << 24 | 100 << 16) + $i % $n, 1, 0, 0,
            length $attrs) . $attrs);
    }' "$N" >"$WORK/routes.mrt"

sender_loaded() { [[ $(s_ global rib summary -a ipv4 | grep -o 'Destination: [0-9]*' | cut -d' ' -f2) == "$N" ]]; }
load_sender() {
    s_ mrt inject global "$WORK/routes.mrt" >/dev/null
    wait_for 60 "sender RIB" sender_loaded
}

# R's event streams, each line stamped with the wall clock on arrival; the filter writes
#   est ADDR T | all T (the Nth route) | gone T (the Nth withdrawal)
# into $WORK/stamps.
STAMP='$| = 1; use Time::HiRes qw(time);
    while (<STDIN>) {
        my $t = sprintf "%.6f", time;
        if (/\[NEIGH\] (\S+) fsm: ESTABLISHED/) { print "est $1 $t\n" }
        elsif (/\[ROUTE\]/)    { if (++$r == $ARGV[0]) { print "all $t\n"; $r = 0 } }
        elsif (/\[DELROUTE\]/) { if (++$d == $ARGV[0]) { print "gone $t\n"; $d = 0 } }
    }'
: >"$WORK/stamps"
MONITORS=""
for neighbor in 10.2.0.1 10.2.0.21; do
    (ip netns exec "$P-gobgp" gobgp monitor neighbor "$neighbor" | perl -e "$STAMP" "$N" >>"$WORK/stamps") &
    MONITORS+=" $!"
done
(ip netns exec "$P-gobgp" gobgp monitor adj-in -a ipv4 | perl -e "$STAMP" "$N" >>"$WORK/stamps") &
MONITORS+=" $!"
# Every segment the two senders send R (`-q`: the line ends with the TCP payload length), to
# time on the wire: from the sender's KEEPALIVE answering R's OPEN (R is Established once it
# has it) to the last UPDATE-sized (>= 200 bytes) segment.
ip netns exec "$P-gobgp" tcpdump -i eth0 -n -q -tt -l \
    'tcp port 179 and (src host 10.2.0.1 or src host 10.2.0.21)' >"$WORK/wire.txt" 2>/dev/null &
MONITORS+=" $!"
sleep 1

# Waits until the stamps file has more than $2 lines starting with $1; prints the last value.
next_stamp() {
    local kind=$1 before=$2 end=$((SECONDS + 60))
    while ((SECONDS < end)); do
        if (($(grep -c "^$kind " "$WORK/stamps" || true) > before)); then
            grep "^$kind " "$WORK/stamps" | tail -n1 | awk '{ print $NF }'
            return 0
        fi
        sleep 0.05
    done
    echo "bench: no '$kind' stamp within 60 s" >&2
    return 1
}
count_stamps() { grep -c "^$1 " "$WORK/stamps" || true; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
updates_from() { r_ neighbor "$1" -j | jq '.state.messages.received.update // 0'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Milliseconds from $1's first KEEPALIVE after its OPEN to its last UPDATE-sized segment,
# among its segments captured between $2 - 2 s and $3 + 1 s.
wire_ms() {
    awk -v src="IP $1." -v from="$2" -v to="$3" '
        index($0, src) && $1 >= from - 2 && $1 <= to + 1 {
            if (!open && $NF >= 29 && $NF < 200) open = 1
            else if (open && !ka && $NF == 19) ka = $1
            else if (ka && $NF >= 200) last = $1
        }
        END { if (ka && last) printf "%.1f", (last - ka) * 1000; else print "?" }' "$WORK/wire.txt"
}
r_down() { ! r_ neighbor "$1" | grep -q ' Establ '; }

declare -a OURS_UP=() OURS_WIRE=() OURS_DOWN=() OURS_MSGS=() OURS_WMSGS=()
declare -a GOBGP_UP=() GOBGP_WIRE=() GOBGP_DOWN=() GOBGP_MSGS=() GOBGP_WMSGS=()
load_sender
for run in $(seq "$RUNS"); do
    # Ours: a fresh process with the routes configured before the session comes up.
    est=$(count_stamps est) all=$(count_stamps all) gone=$(count_stamps gone)
    base=$(updates_from 10.2.0.1)
    ip netns exec "$P-node" "$BIN" --node bench --peer "10.2.0.2/$LAB_ASN/65001" --range 10.100.0.0 "$N" \
        >"$WORK/speaker.out" 2>&1 &
    SPEAKER_PID=$!
    t_est=$(next_stamp est "$est")
    t_all=$(next_stamp all "$all")
    OURS_UP+=("$(ms "$t_est" "$t_all")")
    sleep 0.2
    OURS_WIRE+=("$(wire_ms 10.2.0.1 "$t_est" "$t_all")")
    msgs=$(updates_from 10.2.0.1)
    OURS_MSGS+=("$((msgs - base))")
    t0=$(perl -MTime::HiRes=time -e 'printf "%.6f", time')
    kill -USR1 "$SPEAKER_PID"
    t_gone=$(next_stamp gone "$gone")
    OURS_DOWN+=("$(ms "$t0" "$t_gone")")
    OURS_WMSGS+=("$(($(updates_from 10.2.0.1) - msgs))")
    kill "$SPEAKER_PID"
    wait "$SPEAKER_PID" || true
    SPEAKER_PID=
    wait_for 15 "our session closed" r_down 10.2.0.1

    # GoBGP: S already holds the routes; enabling the neighbour starts the session.
    est=$(count_stamps est) all=$(count_stamps all) gone=$(count_stamps gone)
    base=$(updates_from 10.2.0.21)
    s_ neighbor 10.2.0.2 enable >/dev/null
    t_est=$(next_stamp est "$est")
    t_all=$(next_stamp all "$all")
    GOBGP_UP+=("$(ms "$t_est" "$t_all")")
    sleep 0.2
    GOBGP_WIRE+=("$(wire_ms 10.2.0.21 "$t_est" "$t_all")")
    msgs=$(updates_from 10.2.0.21)
    GOBGP_MSGS+=("$((msgs - base))")
    t0=$(perl -MTime::HiRes=time -e 'printf "%.6f", time')
    s_ global rib -a ipv4 del all >/dev/null
    t_gone=$(next_stamp gone "$gone")
    GOBGP_DOWN+=("$(ms "$t0" "$t_gone")")
    GOBGP_WMSGS+=("$(($(updates_from 10.2.0.21) - msgs))")
    s_ neighbor 10.2.0.2 disable >/dev/null
    wait_for 15 "sender session closed" r_down 10.2.0.21
    load_sender
    echo "bench: run $run: ours ${OURS_UP[-1]} ms (on the wire ${OURS_WIRE[-1]} ms," \
        "${OURS_MSGS[-1]} UPDATEs), withdraw ${OURS_DOWN[-1]} ms (${OURS_WMSGS[-1]});" \
        "gobgp ${GOBGP_UP[-1]} ms (wire ${GOBGP_WIRE[-1]} ms, ${GOBGP_MSGS[-1]} UPDATEs)," \
        "withdraw ${GOBGP_DOWN[-1]} ms (${GOBGP_WMSGS[-1]})"
done

# --- RSS: three sessions × N routes --------------------------------------------------------
# The "Accepted" column of R's neighbour table.
accepted() { r_ neighbor | awk -v n="$1" '$1 == n { print $NF }'; }
all_three_loaded() {
    local n
    for n in 10.2.0.1 10.2.0.11 10.2.0.31; do [[ $(accepted "$n") == "$N" ]] || return 1; done
}
ip netns exec "$P-node" "$BIN" --node bench --range 10.100.0.0 "$N" \
    --peer "10.2.0.2/$LAB_ASN/65001" \
    --peer "10.2.0.12/$LAB_ASN/65001,src=10.2.0.11" \
    --peer "10.2.0.22/$LAB_ASN/65001,src=10.2.0.31" >"$WORK/speaker3.out" 2>&1 &
SPEAKER_PID=$!
wait_for 60 "3 × $N routes at the receiver" all_three_loaded
sleep 1
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$SPEAKER_PID/status")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$SPEAKER_PID/status")
kill "$SPEAKER_PID"
wait "$SPEAKER_PID" || true
SPEAKER_PID=

mid() { printf '%s\n' "$@" | median; }
ours=$(mid "${OURS_UP[@]}")
theirs=$(mid "${GOBGP_UP[@]}")
echo
echo "routes=$N runs=$RUNS (medians; all runs: ours ${OURS_UP[*]} | gobgp ${GOBGP_UP[*]})"
echo "announce (Established -> all $N in R's Adj-RIB-In): ours ${ours} ms in $(mid "${OURS_MSGS[@]}") UPDATEs;" \
    "gobgp ${theirs} ms in $(mid "${GOBGP_MSGS[@]}") UPDATEs;" \
    "ratio ours/gobgp $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')"
echo "announce on the wire (sender's KEEPALIVE -> its last UPDATE segment, captured at R): ours $(mid "${OURS_WIRE[@]}") ms;" \
    "gobgp $(mid "${GOBGP_WIRE[@]}") ms"
echo "withdraw: ours $(mid "${OURS_DOWN[@]}") ms in $(mid "${OURS_WMSGS[@]}") UPDATEs; gobgp $(mid "${GOBGP_DOWN[@]}") ms in $(mid "${GOBGP_WMSGS[@]}") UPDATEs"
echo "rss with 3 sessions x $N routes: VmRSS ${rss} KiB, VmHWM ${hwm} KiB"
