#!/usr/bin/env bash
# Layer 2 failover of the release `speaker` with memberlist, fast API server vs slow API server
# (issue #17). Whole processes: three release speakers (the product binary, upstream v0.12.1's
# DaemonSet env: METALLB_NODE_NAME, METALLB_HOST, METALLB_ML_BIND_ADDR, METALLB_ML_LABELS,
# METALLB_ML_SECRET_KEY; no METALLB_ML_FAST, so memberlist runs its default timers — the fast
# ones, every member being a metallb-rs speaker — unless ML_FAST=true|false is set) in network
# namespaces on one bridge, host-network style (each namespace's only interface is on the bridge),
# plus a client namespace, which also runs the fake API server (fake-apiserver) on the bridge.
# The fake holds the cluster (scripts/bench/lib/failover_api.py objects): the `config` ConfigMap
# with one layer2 pool of four VIPs, three Nodes, three Ready speaker pods (podIP = the node's
# bridge IP, which memberlist joins), and per VIP a LoadBalancer Service (externalTrafficPolicy
# Cluster, status.loadBalancer.ingress set) with ready endpoints on all three nodes.
#
# Per profile — API writes answered at once ("fast"), and every create, update and patch answered
# after SLOW_MS ms ("slow", default 2000, set through the fake's POST /_fake/latency) — RUNS
# runs (default 5), rotating over the VIPs. The same three speakers keep running across runs
# and profiles; each run:
#   1. the VIP's owner is read from the speakers' GET /status (:7472), which must agree with
#      the Layer 2 owner (docs/layer2.md#election) computed here independently, and with the
#      only MAC answering ARP;
#   2. the client sends a broadcast who-has for the VIP every 20 ms (arping -W 0.02) and
#      tcpdump on its interface timestamps requests and replies; the owner gets SIGKILL;
#   3. figure: time from the kill to the first reply from another node's MAC ("none" when no
#      other MAC answers within SURVIVOR_WAIT s, default 20; left out of the median). Also reported:
#      replies from any third MAC after that one (other_macs_after, must be 0), and, once the
#      survivors' /status agree, the MACs answering ARP for the VIP (must be the new owner's
#      alone: settled=ok);
#      loop_stale_on: survivors whose memberlist dropped the killed node while their decision
#      loop (/status "members") still counts it live, i.e. missed the membership change;
#   4. the killed speaker is restarted, and the run ends when all three /status agree (three
#      members, the expected owners) and each VIP is answered by its owner's MAC alone, twice,
#      1 s apart; if they do not agree within 10 s, all three are restarted (restart=all on
#      the run's line), up to 6 times.
# Printed: every run, the median and max per profile, the slow/fast ratio of the medians, and
# the Event POSTs the fake received per profile (the slow path was exercised: the new owner
# posts a nodeAssigned Event, which takes SLOW_MS to be answered). API_PROFILES="fast" runs the
# fast-API profile only (e.g. 50 consecutive kill/restart cycles: API_PROFILES=fast … 50).
#
# STRESS_SECS=N (default 0) then runs the stress check of issue #19 with all three speakers up
# and no kill: N s with stress-ng in every node namespace (one CPU worker per CPU each, so 3×
# as many hogs as CPUs) and STRESS_LOSS % (default 5) of the frames the bridge forwards dropped
# (per frame and output port, nftables; scripts/lab/lib/failover_env.sh), while the client asks
# for every VIP every 100 ms. Counted: false failovers as the client sees them (a reply from a
# MAC but the owner's, or a second without the owner's reply), membership changes the
# speakers logged ("node event - forcing sync"), and suspect members seen in /status samples
# taken every 2 s (accusations that were refuted). Goal: 0 and 0.
#
# STARTUPS=N (default 0) runs cold start-ups instead of the kills (issue #19, "a second
# symptom": a VIP unanswered for 30 s after a start-up, then answered by two nodes), with a
# v0.10.3 install's settings: the speakers get v0.10.3's DaemonSet args (--port=7472
# --config=config, no --log-level, so the election key is the service's namespace/name:
# docs/layer2.md#election-keys-per-release) and its env (plus METALLB_NAMESPACE, which stands
# for the service account's namespace file), and the Services have externalTrafficPolicy Local,
# the I-th with ready endpoints on the nodes of the I-th entry of STARTUP_EPSETS (default
# "node2;node1+node3;node1+node2+node3;node3"). Each start-up, alternately "assigned" (the
# statuses already hold the VIPs) and "late" (the statuses are empty and written, as the
# controller assigns them, once all three speakers answer /status):
#   1. all three speakers are stopped (SIGTERM), the client captures ARP and asks for every VIP
#      every 50 ms (one arping per VIP) from before the start;
#   2. all three are started at once; "up" is when all three /status answer;
#   3. after STARTUP_OBSERVE s (default 10) from up/assignment, per VIP: time from the start to
#      the first reply, the MACs that answered; failures: two MACs, a reply from a node without
#      a ready endpoint or from another node than the owner (key namespace/name among the
#      endpoint nodes), no reply, or a silence over 2 s after up/assignment.
# Printed: every start-up's per-VIP line, then RESULT lines per variant.
#
# Needs root; otherwise prints SKIP and exits 0. Nothing leaves the namespaces (prefix
# foapi-$$-), which are removed on exit with every process started (by PID). A watchdog ends the
# run after FOBENCH_TIMEOUT s (default 150 × RUNS + 120, counted after the builds).
# Usage: [STARTUPS=N [STARTUP_EPSETS=…] [STARTUP_OBSERVE=…]] [API_PROFILES=…] [STRESS_SECS=… [STRESS_LOSS=…]] scripts/bench/failover-api.sh [RUNS (5)] [SLOW_MS (2000)]
# Environment: FOBENCH_KEEP=1 keeps the work dir (speaker and API logs, captures);
# SPEAKER_BIN / FAKE_API_BIN use prebuilt binaries; ML_FAST=false|true passes METALLB_ML_FAST (false: upstream's timers);
# CARGO_TARGET_DIR as for cargo.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/bench/failover-api.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-5}
SLOW_MS=${2:-2000}
P=foapi-$$
WORK=$(mktemp -d /tmp/foapi.XXXXXX)
VIPS=(192.168.79.100 192.168.79.101 192.168.79.102 192.168.79.103)
HELPER=$ROOT/scripts/bench/lib/failover_api.py
# How long the survivors get to agree after the kill (memberlist's default timers take ~5 s).
SURVIVOR_WAIT=${SURVIVOR_WAIT:-20}
# Which API profiles run the kills: "fast slow" (default), or one of them.
API_PROFILES=${API_PROFILES:-fast slow}
# After the kills: STRESS_SECS s (default 0: none) of saturated CPUs and STRESS_LOSS % loss.
STRESS_SECS=${STRESS_SECS:-0}
STRESS_LOSS=${STRESS_LOSS:-5}
STARTUPS=${STARTUPS:-0}
STARTUP_EPSETS=${STARTUP_EPSETS:-node2;node1+node3;node1+node2+node3;node3}
STARTUP_OBSERVE=${STARTUP_OBSERVE:-10}
WATCHDOG=
# shellcheck source=../lab/lib/failover_env.sh
source "$ROOT/scripts/lab/lib/failover_env.sh"

cleanup() {
    trap '' INT TERM
    set +e
    if [[ -n $WATCHDOG ]]; then
        local sleeper
        sleeper=$(pgrep -P "$WATCHDOG")
        kill "$WATCHDOG" 2>/dev/null
        # shellcheck disable=SC2086 # one PID per line
        [[ -n $sleeper ]] && kill $sleeper 2>/dev/null
    fi
    fo_probe_all_stop
    fo_stress_stop
    fo_cleanup # speakers (FO_PID), arping, tcpdump, the fake API server, then the namespaces
    if [[ -n ${FOBENCH_KEEP:-} ]]; then echo "bench: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted"; exit 1' INT TERM

fo_install
command -v curl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; }

fo_build_release "$ROOT"
SPEAKER=$WORK/bin/speaker

( sleep "${FOBENCH_TIMEOUT:-$((150 * RUNS + 120 + STRESS_SECS + (STARTUP_OBSERVE + 30) * STARTUPS))}" >/dev/null 2>&1; echo "bench: watchdog expired"; kill -TERM $$ ) &
WATCHDOG=$!

fo_topology
API=$FO_API
VIPS_ARG=$(IFS=,; echo "${VIPS[*]}")
if ((STARTUPS > 0)); then
    python3 "$HELPER" startup-objects "$(fo_nodes_arg "${FO_NODES[@]}")" "$VIPS_ARG" "$STARTUP_EPSETS" yes >"$WORK/objects.ndjson"
else
    python3 "$HELPER" objects "$(fo_nodes_arg "${FO_NODES[@]}")" "$VIPS_ARG" >"$WORK/objects.ndjson"
fi

fo_api_start "$WORK/objects.ndjson" || exit 1
api() { ip netns exec "$P-client" curl -sf --max-time 5 "$@"; }

# The DaemonSet's secret: the controller writes 128 random bytes, base64; the speaker keys
# memberlist with the first 16 bytes.
SECRET=$(head -c 128 /dev/urandom | base64 -w0)

# The speaker's args: upstream v0.12.1's DaemonSet, or v0.10.3's (no --log-level) for STARTUPS.
SPK_ARGS=(--port=7472 --config=config --log-level=info)
((STARTUPS > 0)) && SPK_ARGS=(--port=7472 --config=config)

# spk_start NODE: the release speaker in the node's namespace, with the DaemonSet's env.
spk_start() {
    local node=$1 ip
    ip=$(fo_node_ip "$node")
    # Not through a function: `ip netns exec` execs env, which execs the speaker: $! is it.
    ip netns exec "$P-$node" env METALLB_NODE_NAME="$node" METALLB_HOST="$ip" \
        METALLB_ML_BIND_ADDR="$ip" METALLB_ML_LABELS="app=metallb,component=speaker" \
        METALLB_ML_SECRET_KEY="$SECRET" METALLB_NAMESPACE=metallb-system ${ML_FAST:+METALLB_ML_FAST=$ML_FAST} \
        "$SPEAKER" "${SPK_ARGS[@]}" --kubeconfig "$WORK/kubeconfig" \
        >>"$WORK/$node.log" 2>&1 &
    # shellcheck disable=SC2004 # an associative array: the key must be expanded
    FO_PID[$node]=$!
}

# spk_state NODE...: "ok" once the listed (running) speakers agree as they must when exactly
# they are alive; otherwise what differs.
spk_state() { ip netns exec "$P-client" python3 "$HELPER" state "$(fo_nodes_arg "$@")" "$VIPS_ARG"; }

# wait_state SECONDS NODE...: polls every 100 ms.
wait_state() {
    local secs=$1 end s; shift
    end=$(($(date +%s) + secs))
    while (($(date +%s) < end)); do
        s=$(spk_state "$@")
        [[ $s == ok ]] && return 0
        sleep 0.1
    done
    echo "bench: no agreement among $* after $secs s: $s" >&2
    ip netns exec "$P-client" python3 "$HELPER" members "$(fo_nodes_arg "$@")" | sed 's/^/bench:   /' >&2
    return 1
}

# vips_answered_alone NODE...: each VIP is answered by its owner's MAC (among NODE...) alone.
vips_answered_alone() {
    local vip got want
    for vip in "${VIPS[@]}"; do
        want=${FO_MAC[$(fo_owner_of "$vip" "$@")]}
        got=$(fo_arp_macs "$vip")
        [[ $got == "$want" ]] || { echo "bench: $vip answered by '$got', want $want" >&2; return 1; }
    done
}

# settle NODE...: agreement, then every VIP answered by its owner alone twice, 1 s apart.
settle() {
    local _
    for _ in $(seq 10); do
        wait_state 10 "$@" || return 1
        vips_answered_alone "$@" && sleep 1 && [[ $(spk_state "$@") == ok ]] && vips_answered_alone "$@" && return 0
        sleep 1
    done
    return 1
}

others() { local n; for n in "${FO_NODES[@]}"; do [[ $n != "$1" ]] && echo "$n"; done; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
event_posts() { api "http://$API/_fake/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"].get("create events", 0))'; }

# restart_all: every speaker killed and started afresh until they agree, up to 6 times (a stuck
# state must not leak into the next run; see loop_stale_on).
restart_all() {
    local node _
    for _ in $(seq 6); do
        for node in "${FO_NODES[@]}"; do
            [[ -n ${FO_PID[$node]:-} ]] && fo_stop "$node" KILL
        done
        for node in "${FO_NODES[@]}"; do spk_start "$node"; done
        settle "${FO_NODES[@]}" && return 0
        echo "bench: fresh start did not agree, again" >&2
    done
    return 1
}

# one_kill RUN: sets LINE to the analysis of one SIGKILL of the owner of the run's VIP.
one_kill() {
    local run=$1 vip gone next rest since macs settled stuck
    vip=${VIPS[$(((run - 1) % ${#VIPS[@]}))]}
    gone=$(fo_owner_of "$vip" "${FO_NODES[@]}")
    mapfile -t rest < <(others "$gone")
    next=$(fo_owner_of "$vip" "${rest[@]}")
    fo_capture_start "$WORK/cap-$PROFILE-$run.txt"
    fo_arping_start "$vip"
    sleep 0.5
    since=$(date +%s.%N)
    kill -KILL "${FO_PID[$gone]}"
    echo "$since SIGKILL" >>"$WORK/$gone.log"
    wait "${FO_PID[$gone]}" 2>/dev/null || true
    unset "FO_PID[$gone]"
    wait_state "$SURVIVOR_WAIT" "${rest[@]}" || true
    sleep 0.5
    fo_arping_stop
    fo_capture_stop
    macs=$(fo_arp_macs "$vip")
    [[ $macs == "${FO_MAC[$next]}" ]] && settled=ok || settled="FAIL(answered by '$macs', want ${FO_MAC[$next]})"
    # Survivors whose memberlist declared the killed node dead but whose decision loop still
    # counts it live (their /status "members").
    stuck=$(ip netns exec "$P-client" python3 "$HELPER" stale "$(fo_nodes_arg "${rest[@]}")" "$gone")
    LINE="$(python3 "$HELPER" analyse "$WORK/cap-$PROFILE-$run.txt" "$vip" "$since" "${FO_MAC[$gone]}") settled=$settled loop_stale_on=$stuck killed=$gone expected_next=$next(${FO_MAC[$next]}) vip=$vip"
    # Back to three members and one stable owner per VIP before the next run; if the restarted
    # speaker and the others do not agree, all three are restarted.
    spk_start "$gone"
    if ! settle "${FO_NODES[@]}"; then
        echo "bench: no stable owners after restarting $gone: restarting all three" >&2
        LINE="$LINE restart=all"
        restart_all || { echo "bench: no stable owners even after restarting all three" >&2; return 1; }
    fi
}

# --- Cold start-ups (STARTUPS=N) ------------------------------------------------------------
# all_up: every node's /status answers.
all_up() {
    local node
    for node in "${FO_NODES[@]}"; do
        api -o /dev/null --max-time 0.5 "http://$(fo_node_ip "$node"):7472/status" || return 1
    done
}

# one_startup N VARIANT: sets LINES to the analysis of one cold start-up of all three speakers.
one_startup() {
    local n=$1 variant=$2 node started up assigned _ cap=$WORK/startup-$1.txt
    for node in "${FO_NODES[@]}"; do
        [[ -n ${FO_PID[$node]:-} ]] && fo_stop "$node" TERM
    done
    ip netns exec "$P-client" python3 "$HELPER" assign "$API" "$VIPS_ARG" "$([[ $variant == late ]] && echo no || echo yes)"
    fo_capture_start "$cap"
    fo_probe_all_start 0.05 "${VIPS[@]}"
    sleep 0.3
    started=$(date +%s.%N)
    for node in "${FO_NODES[@]}"; do
        echo "$started STARTUP $n $variant" >>"$WORK/$node.log"
        spk_start "$node"
    done
    up=
    for _ in $(seq 400); do
        all_up && { up=$(date +%s.%N); break; }
        sleep 0.05
    done
    [[ -n $up ]] || { echo "bench: start-up $n: not all /status answered within 20 s" >&2; up=$(date +%s.%N); }
    assigned=$started
    if [[ $variant == late ]]; then
        ip netns exec "$P-client" python3 "$HELPER" assign "$API" "$VIPS_ARG" yes
        assigned=$(date +%s.%N)
    fi
    sleep "$STARTUP_OBSERVE"
    fo_probe_all_stop
    fo_capture_stop
    local macs=
    for node in "${FO_NODES[@]}"; do macs+="$node=${FO_MAC[$node]},"; done
    LINES=$(python3 "$HELPER" startup-analyse "$cap" "$VIPS_ARG" "$STARTUP_EPSETS" "$macs" "$started" "$up" "$assigned")
    LINES="up=$(awk -v a="$started" -v b="$up" 'BEGIN { printf "%.3f", b - a }') assigned_after=$(awk -v a="$started" -v b="$assigned" 'BEGIN { printf "%.3f", b - a }')
$LINES"
}

if ((STARTUPS > 0)); then
    echo "bench: machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "bench: speaker $(sha256sum "$SPEAKER" | cut -c1-12), cold start-ups: $STARTUPS, v0.10.3 args (${SPK_ARGS[*]}), externalTrafficPolicy Local, endpoints per VIP: $STARTUP_EPSETS, who-has every 50 ms per VIP"
    : >"$WORK/startups.txt"
    for n in $(seq "$STARTUPS"); do
        variant=assigned
        ((n % 2 == 0)) && variant=late
        one_startup "$n" "$variant"
        sed "s/^/bench: start-up $n ($variant): /" <<<"$LINES"
        sed "s/^/$variant /" <<<"$LINES" >>"$WORK/startups.txt"
    done
    for variant in assigned late; do
        python3 - "$WORK/startups.txt" "$variant" <<'PYEOF'
import re, statistics, sys
rows = [l.split(None, 1)[1] for l in open(sys.argv[1]) if l.startswith(sys.argv[2] + " vip=")]
ups = [l for l in open(sys.argv[1]) if l.startswith(sys.argv[2] + " up=")]
if not rows:
    sys.exit(0)
first = [float(m.group(1)) for r in rows for m in [re.search(r"first=([0-9.]+)", r)] if m]
silence = [float(re.search(r"max_silence_after_up=([0-9.]+)", r).group(1)) for r in rows]
up = [float(re.search(r"up=([0-9.]+)", r).group(1)) for r in ups]
fails = sum(r.rstrip().endswith("FAIL") for r in rows)
two = sum("two_macs=yes" in r for r in rows)
noep = sum(not r.count("no_endpoint=0 ") for r in rows)
print("RESULT start-ups (%s): %d start-ups x %d VIPs; all /status up after median %.3f s (max %.3f); "
      "start->first reply median %.3f s, max %.3f s; longest silence after up/assignment max %.3f s; "
      "two MACs: %d, replies from a node without endpoint: %d, failed VIP start-ups: %d"
      % (sys.argv[2], len(ups), len(rows) // max(len(ups), 1), statistics.median(up), max(up),
         statistics.median(first) if first else -1, max(first) if first else -1, max(silence),
         two, noep, fails))
PYEOF
    done
    bad=$(grep -c 'FAIL$' "$WORK/startups.txt" || true)
    echo "RESULT start-up VIPs failed: $bad"
    ((bad == 0))
    exit
fi

echo "bench: machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: speaker $(sha256sum "$SPEAKER" | cut -c1-12), memberlist timers: ${ML_FAST:+METALLB_ML_FAST=$ML_FAST}${ML_FAST:-default (no setting)}, $RUNS runs per profile, slow = ${SLOW_MS} ms on create,update,patch"
for node in "${FO_NODES[@]}"; do spk_start "$node"; done
settle "${FO_NODES[@]}" || restart_all || { echo "bench: the three speakers did not agree"; exit 1; }
ip netns exec "$P-client" python3 "$HELPER" members "$(fo_nodes_arg "${FO_NODES[@]}")" | sed 's/^/bench: memberlist: /'

for PROFILE in $API_PROFILES; do
    ms=0
    [[ $PROFILE == slow ]] && ms=$SLOW_MS
    api -X POST "http://$API/_fake/latency?verbs=create,update,patch&ms=$ms" >/dev/null
    # The latency is in force: an Event POST as the speaker sends it, timed.
    t0=$(date +%s%N)
    api -X POST -H 'Content-Type: application/json' "http://$API/api/v1/namespaces/default/events" \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"probe-$PROFILE\",\"namespace\":\"default\"},\"involvedObject\":{\"kind\":\"Service\",\"namespace\":\"default\",\"name\":\"svc-0\"},\"reason\":\"probe\",\"message\":\"latency probe\",\"type\":\"Normal\"}" >/dev/null
    echo "bench: $PROFILE: an Event POST took $((($(date +%s%N) - t0) / 1000000)) ms"
    posts0=$(event_posts)
    : >"$WORK/kill-$PROFILE.txt"
    for run in $(seq "$RUNS"); do
        one_kill "$run"
        echo "bench: $PROFILE run $run: $LINE"
        echo "$LINE" >>"$WORK/kill-$PROFILE.txt"
    done
    echo "bench: $PROFILE: the speakers POSTed $(($(event_posts) - posts0 - 1)) Events during the runs"
done

# takeover=none (no other MAC answered within SURVIVOR_WAIT s) is listed, and left out of the median.
takeovers() { sed -n 's/.*takeover=\([0-9.]*\|none\) .*/\1/p' "$WORK/kill-$1.txt"; }
bad=0
declare -A MEDIAN=()
for PROFILE in $API_PROFILES; do
    t=$(takeovers "$PROFILE")
    MEDIAN[$PROFILE]=$(grep -v none <<<"$t" | median)
    max=$(grep -v none <<<"$t" | sort -n | tail -n1)
    none=$(grep -c none <<<"$t" || true)
    label="fast API"
    [[ $PROFILE == slow ]] && label="slow API (${SLOW_MS} ms writes)"
    echo "RESULT $label: SIGKILL→first reply from another MAC over $RUNS runs: median ${MEDIAN[$PROFILE]} s, max ${max:-n/a} s (runs with a takeover); no takeover within ${SURVIVOR_WAIT} s: $none of $RUNS; runs: $(paste -sd' ' <<<"$t")"
    bad=$((bad + $(grep -cv 'settled=ok' "$WORK/kill-$PROFILE.txt" || true) + none))
done
if [[ -n ${MEDIAN[fast]:-} && -n ${MEDIAN[slow]:-} ]]; then
    echo "RESULT slow/fast ratio of the medians: $(awk -v s="${MEDIAN[slow]}" -v f="${MEDIAN[fast]}" 'BEGIN { if (f > 0 && s > 0) printf "%.2f", s / f; else print "n/a" }')"
fi
echo "RESULT runs without a takeover, or whose VIP was not answered by the new owner alone after failover: $bad"

# --- Stress: STRESS_SECS of saturated CPUs and 5 % loss, no kill: count false failovers ------
stress_failures=0
if ((STRESS_SECS > 0)); then
    api -X POST "http://$API/_fake/latency?verbs=create,update,patch&ms=0" >/dev/null
    fo_install_stress
    settle "${FO_NODES[@]}" || restart_all || { echo "bench: the three speakers did not agree before the stress run"; exit 1; }
    OWNERS=()
    for vip in "${VIPS[@]}"; do OWNERS+=("$vip=${FO_MAC[$(fo_owner_of "$vip" "${FO_NODES[@]}")]}"); done
    syncs() { local n; for n in "${FO_NODES[@]}"; do grep -c 'node event - forcing sync' "$WORK/$n.log" || true; done | awk '{ s += $1 } END { print s + 0 }'; }
    syncs_before=$(syncs)
    echo "bench: stress: ${STRESS_SECS} s, $(nproc) stress-ng CPU workers in each node namespace, ${STRESS_LOSS}% of bridge frames dropped, who-has for each VIP every 100 ms"
    fo_capture_start "$WORK/stress.txt"
    fo_stress_start "$STRESS_SECS" "$STRESS_LOSS"
    from=$(date +%s.%N)
    fo_probe_all_start 0.1 "${VIPS[@]}"
    # memberlist's own view every 2 s: suspicions raised (and, since no node dies, refuted).
    suspect_seen=0
    end=$(($(date +%s) + STRESS_SECS))
    while (($(date +%s) < end)); do
        s=$(ip netns exec "$P-client" python3 "$HELPER" members "$(fo_nodes_arg "${FO_NODES[@]}")" 2>/dev/null | grep -o '/suspect' | wc -l || true)
        suspect_seen=$((suspect_seen + s))
        sleep 2
    done
    to=$(date +%s.%N)
    fo_probe_all_stop
    fo_stress_stop
    fo_capture_stop
    syncs_during=$(($(syncs) - syncs_before))
    result=$(fo_false_failovers "$WORK/stress.txt" "$from" "$to" 1.0 "${OWNERS[@]}")
    sed 's/^/bench: stress: /' <<<"$result"
    echo "bench: stress: bridge frames $FO_LOSS_COUNTS; suspect members seen in /status samples: $suspect_seen"
    echo "RESULT stress (${STRESS_SECS} s, CPUs saturated, ${STRESS_LOSS}% loss): $(tail -n1 <<<"$result"), membership changes on the speakers: $syncs_during"
    [[ $result == *"false_failovers=0"* && $syncs_during -eq 0 ]] || stress_failures=1
fi
((bad == 0 && stress_failures == 0))
