# Shared by scripts/lab/failover.sh and scripts/bench/failover.sh (sourced, not run): a client
# and three "nodes" in network namespaces on one bridge (namespace $P-br), each node running
# speaker/examples/l2_member (memberlist + election + Layer 2 announcer of the speaker).
# Callers set P (namespace prefix), WORK (scratch dir), BIN (the l2_member binary) and VIPS,
# and call fo_cleanup on exit. All traffic stays inside these namespaces.
#
# The release speaker against the fake API server (scripts/bench/failover-api.sh,
# scripts/lab/rbac-v083.sh): fo_build_release, then fo_api_start; fo_cleanup stops the server.
#
# Addresses: client 192.168.79.2, nodeN 192.168.79.1N (memberlist on port 7946), and
# fd79::2 / fd79::1N. IPv6 VIPs are announced and drained but not probed (arping is IPv4).

# sort and comparisons in byte order, as the Rust side sorts.
export LC_ALL=C

# This folder: its python helpers (arp_text.py reads the captures) are imported from here.
FO_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

FO_NODES=(node1 node2 node3)
declare -A FO_MAC=([client]=02:00:00:00:03:0c [node1]=02:00:00:00:03:01 [node2]=02:00:00:00:03:02 [node3]=02:00:00:00:03:03)
declare -A FO_HOST=([client]=2 [node1]=11 [node2]=12 [node3]=13)
declare -A FO_PID=()
FO_CLIENT_IP=192.168.79.2
FO_CAPTURE_PID=
FO_ARPING_PID=
FO_API_PID=
FO_API=192.168.79.2:6080
# l2_member's memberlist timers flag; empty: the speaker's default (fast among our speakers).
FO_FAST=
FO_EXTRA=

fo_node_ip() { echo "192.168.79.${FO_HOST[$1]}"; }
# fo_nodes_arg NODE...: "node1=192.168.79.11,…", as the python helpers take them.
fo_nodes_arg() { local n; for n in "$@"; do printf '%s=%s,' "$n" "$(fo_node_ip "$n")"; done; }

fo_in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

fo_install() {
    local need=()
    command -v arping >/dev/null || need+=(arping)
    command -v tcpdump >/dev/null || need+=(tcpdump)
    command -v ip >/dev/null || need+=(iproute2)
    command -v python3 >/dev/null || need+=(python3)
    if ((${#need[@]})); then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

fo_topology() {
    ip netns add "$P-br"
    fo_in_ns br ip link add br0 type bridge
    fo_in_ns br ip link set br0 up
    local ns
    for ns in client "${FO_NODES[@]}"; do
        ip netns add "$P-$ns"
        fo_in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
        ip link add eth0 netns "$P-$ns" address "${FO_MAC[$ns]}" type veth peer name "v-$ns" netns "$P-br"
        fo_in_ns br ip link set "v-$ns" master br0 up
        fo_in_ns "$ns" ip link set lo up
        fo_in_ns "$ns" ip addr add "192.168.79.${FO_HOST[$ns]}/24" dev eth0
        fo_in_ns "$ns" ip addr add "fd79::${FO_HOST[$ns]}/64" dev eth0
        fo_in_ns "$ns" ip link set eth0 up
    done
}

fo_cleanup() {
    set +e
    local node
    for node in "${!FO_PID[@]}"; do kill -KILL "${FO_PID[$node]}" 2>/dev/null; done
    [[ -n $FO_ARPING_PID ]] && kill "$FO_ARPING_PID" 2>/dev/null
    [[ -n $FO_CAPTURE_PID ]] && kill "$FO_CAPTURE_PID" 2>/dev/null
    [[ -n $FO_API_PID ]] && kill "$FO_API_PID" 2>/dev/null
    wait 2>/dev/null
    for node in client "${FO_NODES[@]}" br; do ip netns del "$P-$node" 2>/dev/null; done
}

# fo_build_release ROOT: the release `speaker` and `fake-apiserver` into $WORK/bin (or copies of
# SPEAKER_BIN / FAKE_API_BIN when set). Two cargo runs: the fake's dependencies' features must
# not leak into the speaker's build. The binaries are copied out at once (a shared target dir
# may be rebuilt by someone else).
fo_build_release() {
    local root=$1 out=${CARGO_TARGET_DIR:-$1/target}/release
    mkdir -p "$WORK/bin"
    if [[ -n ${SPEAKER_BIN:-} ]]; then
        cp "$SPEAKER_BIN" "$WORK/bin/speaker"
    else
        (cd "$root" && cargo build -q --release --locked -p speaker --bin speaker)
        cp "$out/speaker" "$WORK/bin/speaker"
    fi
    if [[ -n ${FAKE_API_BIN:-} ]]; then
        cp "$FAKE_API_BIN" "$WORK/bin/fake-apiserver"
    else
        (cd "$root" && cargo build -q --release --locked -p fake-apiserver --bin fake-apiserver)
        cp "$out/fake-apiserver" "$WORK/bin/fake-apiserver"
    fi
}

# fo_api_start OBJECTS [FLAG...]: $WORK/bin/fake-apiserver on the client's bridge address
# ($FO_API) holding OBJECTS, writing $WORK/kubeconfig; returns once it listens (1 if it
# does not start within 5 s). Logs in $WORK/api.out and api.err.
fo_api_start() {
    local objects=$1 _; shift
    # Not through fo_in_ns: `ip netns exec` execs the server, so $! is the server itself.
    ip netns exec "$P-client" "$WORK/bin/fake-apiserver" --addr "$FO_API" --objects "$objects" \
        --kubeconfig-out "$WORK/kubeconfig" "$@" >"$WORK/api.out" 2>"$WORK/api.err" &
    FO_API_PID=$!
    for _ in $(seq 100); do [[ -s $WORK/api.out ]] && return 0; sleep 0.05; done
    echo "fake API server did not start: $(cat "$WORK/api.err")" >&2
    return 1
}

# The Layer 2 owner (docs/layer2.md#election) among the given nodes, computed with sha256sum,
# independently of the Rust code.
fo_owner_of() {
    local key=$1 node; shift
    for node in "$@"; do
        printf '%s %s\n' "$(printf '%s#%s' "$node" "$key" | sha256sum | cut -d' ' -f1)" "$node"
    done | sort | head -n1 | cut -d' ' -f2
}

# fo_start NODE: starts l2_member in the node's namespace, joining the other nodes.
fo_start() {
    local node=$1 peers=() other
    for other in "${FO_NODES[@]}"; do
        [[ $other != "$node" ]] && peers+=(--join "192.168.79.${FO_HOST[$other]}:7946")
    done
    # Not through fo_in_ns: `ip netns exec` execs the binary, so $! is the member itself.
    ip netns exec "$P-$node" "$BIN" --node "$node" --bind "192.168.79.${FO_HOST[$node]}:7946" \
        "${peers[@]}" $FO_FAST $FO_EXTRA "${VIPS[@]}" >>"$WORK/$node.out" 2>>"$WORK/$node.err" &
    FO_PID[$node]=$!
}

# fo_stop NODE SIGNAL: signals the member and reaps it.
fo_stop() {
    local node=$1 sig=$2
    kill "-$sig" "${FO_PID[$node]}" 2>/dev/null
    wait "${FO_PID[$node]}" 2>/dev/null || true
    unset "FO_PID[$node]"
}

# The last STATE line of a node, without its timestamp: "members=... owned=...".
fo_state() { { grep '^STATE ' "$WORK/$1.out" 2>/dev/null || true; } | tail -n1 | cut -d' ' -f3-; }

# The state every running node must reach when exactly the given nodes are members. Every
# command returns 0: this runs under errexit and pipefail in a process substitution.
fo_expect() {
    local members owned vip n
    members=$(printf '%s\n' "$@" | sort | paste -sd,)
    for n in "$@"; do
        owned=$(for vip in "${VIPS[@]}"; do
            if [[ $(fo_owner_of "$vip" "$@") == "$n" ]]; then echo "$vip"; fi
        done | sort | paste -sd,)
        echo "$n members=$members owned=$owned"
    done
}

# Whether every node listed has reached the state of fo_expect over the same list. The
# expectation is computed once per call of fo_wait_converged (it forks sha256sum a lot).
fo_converged() {
    local expected
    expected=$(fo_expect "$@")
    fo_matches "$expected" "$#"
}

# fo_matches EXPECTED COUNT: every "node state" line of EXPECTED holds, and there are COUNT.
fo_matches() {
    local node want seen=0
    while read -r node want; do
        [[ $(fo_state "$node") == "$want" ]] || return 1
        seen=$((seen + 1))
    done <<<"$1"
    ((seen == $2))
}

# fo_wait_converged SECONDS NODE...: polls every 50 ms.
fo_wait_converged() {
    local secs=$1; shift
    local end=$((SECONDS + secs)) expected
    expected=$(fo_expect "$@")
    while ((SECONDS < end)); do
        fo_matches "$expected" "$#" && return 0
        sleep 0.05
    done
    return 1
}

# MACs answering ARP for $1 from the client, sorted and unique.
fo_arp_macs() {
    fo_in_ns client timeout 10 arping -i eth0 -c 3 -W 0.2 "$1" 2>/dev/null |
        grep -o 'from [0-9a-f:]\{17\}' | cut -d' ' -f2 | sort -u | paste -sd' ' || true
}

# Starts a capture of ARP on the client's interface into $1 (text, kernel timestamps).
fo_capture_start() {
    ip netns exec "$P-client" tcpdump -i eth0 -n -e -tt -l -U --immediate-mode arp >"$1" 2>"$1.err" &
    FO_CAPTURE_PID=$!
    local i
    for i in $(seq 100); do
        grep -q 'listening on' "$1.err" 2>/dev/null && return 0
        sleep 0.02
    done
}

fo_capture_stop() {
    sleep 0.1
    kill "$FO_CAPTURE_PID" 2>/dev/null
    wait "$FO_CAPTURE_PID" 2>/dev/null || true
    FO_CAPTURE_PID=
}

# The client asks for VIP $1 every 20 ms (broadcast requests) until fo_arping_stop.
fo_arping_start() {
    ip netns exec "$P-client" arping -i eth0 -W 0.02 "$1" >/dev/null 2>&1 &
    FO_ARPING_PID=$!
}

fo_arping_stop() {
    kill "$FO_ARPING_PID" 2>/dev/null
    wait "$FO_ARPING_PID" 2>/dev/null || true
    FO_ARPING_PID=
}

# fo_analyse CAPTURE VIP SINCE OLD_MAC NEW_MAC: from the capture of the client's interface,
# prints "takeover=<s from SINCE to the first reply from NEW_MAC> unanswered=<requests after
# SINCE with no reply before the next request> flips=<replies from OLD_MAC after it>
# requests=<requests after SINCE>".
fo_analyse() {
    python3 - "$FO_LIB" "$@" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from arp_text import arp_frames
from fake_cluster import CLIENT_MAC as client
path, vip, since, old, new = sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5], sys.argv[6]
events = []  # (ts, kind, mac)
for ts, kind, ip, src, dst in arp_frames(path):
    if ip != vip:
        continue
    if kind == "req" and src == client or kind == "rep" and dst == client:
        events.append((ts, kind, src))
events.sort()
first_new = next((ts for ts, k, m in events if k == "rep" and m == new and ts >= since), None)
reqs = [ts for ts, k, _ in events if k == "req" and ts >= since]
reps = [ts for ts, k, _ in events if k == "rep"]
unanswered = 0
# The last request is left out: its answer may fall after the capture stopped.
for t, nxt in zip(reqs, reqs[1:]):
    if not any(t <= ts < nxt for ts in reps):
        unanswered += 1
flips = sum(1 for ts, k, m in events if k == "rep" and m == old and first_new is not None and ts > first_new)
took = "none" if first_new is None else f"{first_new - since:.3f}"
print(f"takeover={took} unanswered={unanswered} flips={flips} requests={len(reqs)}")
EOF
}

# --- Stress: saturated CPUs and a lossy bridge (issue #19) ---------------------------------
FO_STRESS_PIDS=()
FO_PROBE_PIDS=()

fo_install_stress() {
    command -v stress-ng >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null; }
    command -v nft >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null; }
}

# fo_stress_start SECONDS LOSS_PERCENT: in every node namespace, stress-ng with one CPU worker
# per CPU of the machine (so three times as many hogs as CPUs), and the bridge dropping
# LOSS_PERCENT % of the frames it forwards, drawn per frame and output port (what netem on
# each bridge port would do; netem is not in every kernel, nftables' bridge family is).
fo_stress_start() {
    local secs=$1 loss=$2 ns
    fo_in_ns br nft add table bridge lossy
    fo_in_ns br nft add chain bridge lossy frames '{ type filter hook forward priority 0; }'
    fo_in_ns br nft add rule bridge lossy frames numgen random mod 100 "<" "$loss" counter drop
    fo_in_ns br nft add rule bridge lossy frames counter
    for ns in "${FO_NODES[@]}"; do
        # Not through fo_in_ns: `ip netns exec` execs stress-ng, so $! is stress-ng itself.
        ip netns exec "$P-$ns" stress-ng --cpu "$(nproc)" --timeout "${secs}s" -q >/dev/null 2>&1 &
        FO_STRESS_PIDS+=($!)
    done
}

# Stops stress-ng (by PID, it exits by itself after its timeout) and removes the loss; sets
# FO_LOSS_COUNTS to "dropped=N forwarded=M" (frames) when the loss was in place.
FO_LOSS_COUNTS=
fo_stress_stop() {
    local pid counts
    for pid in "${FO_STRESS_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    FO_STRESS_PIDS=()
    counts=$(fo_in_ns br nft list table bridge lossy 2>/dev/null | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | paste -sd' ')
    fo_in_ns br nft delete table bridge lossy 2>/dev/null || true
    if [[ -n $counts ]]; then
        # shellcheck disable=SC2086 # two numbers
        set -- $counts
        FO_LOSS_COUNTS="dropped=$1 forwarded=$2"
    fi
}

# fo_probe_all_start INTERVAL VIP...: the client asks for every VIP every INTERVAL seconds,
# one arping per VIP (broadcast requests), until fo_probe_all_stop.
fo_probe_all_start() {
    local interval=$1 vip; shift
    for vip in "$@"; do
        ip netns exec "$P-client" arping -i eth0 -W "$interval" "$vip" >/dev/null 2>&1 &
        FO_PROBE_PIDS+=($!)
    done
}

fo_probe_all_stop() {
    local pid
    for pid in "${FO_PROBE_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    FO_PROBE_PIDS=()
}

# fo_false_failovers CAPTURE SINCE UNTIL GAP VIP=MAC...: from the client's capture, per VIP:
# requests, replies, replies from any MAC but the owner's ("wrong"), and the longest time
# without any reply from the owner. A false failover is an episode of wrong replies (replies
# less than GAP s apart count as one), or a silence of GAP s or more (the owner lost: with
# a request every 0.1 s and a few % of loss, ten in a row unanswered by chance is
# negligible). Prints one line per VIP, then "false_failovers=N".
fo_false_failovers() {
    python3 - "$FO_LIB" "$@" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
from arp_text import arp_frames
from fake_cluster import CLIENT_MAC as client
path, since, until, gap = sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
owners = dict(a.split("=", 1) for a in sys.argv[6:])
reqs = {v: [] for v in owners}
reps = {v: [] for v in owners}
for ts, kind, vip, src, dst in arp_frames(path):
    if not since <= ts <= until or vip not in owners:
        continue
    if kind == "req" and src == client:
        reqs[vip].append(ts)
    elif kind == "rep" and dst == client:
        reps[vip].append((ts, src))
total = 0
for vip, owner in owners.items():
    wrong = sorted(ts for ts, mac in reps[vip] if mac != owner)
    episodes = 0
    last = None
    for ts in wrong:
        if last is None or ts - last >= gap:
            episodes += 1
        last = ts
    good = [since] + sorted(ts for ts, mac in reps[vip] if mac == owner) + [until]
    silence = max(b - a for a, b in zip(good, good[1:]))
    lost = sum(1 for a, b in zip(good, good[1:]) if b - a >= gap)
    answered = sum(1 for ts, mac in reps[vip] if mac == owner)
    total += episodes + lost
    macs = sorted({mac for _, mac in reps[vip]})
    print(f"vip={vip} owner={owner} requests={len(reqs[vip])} owner_replies={answered} "
          f"wrong_replies={len(wrong)} wrong_episodes={episodes} longest_silence={silence:.2f}s "
          f"owner_lost={lost} macs={','.join(macs)}")
print(f"false_failovers={total}")
PYEOF
}
