#!/usr/bin/env bash
# The whole speaker at scale, for BENCHMARKS.md (issue #4): RSS and CPU of the release `speaker`
# binary owning N Layer 2 services, idle, after /metrics and /status scrapes, and while a client
# sends 1 000 ARP requests/s round-robin over the N IPs. The API server is
# `speaker/examples/scale_api.rs` in its own process: real list JSON paged by
# `limit`/`continue`, quiet watches, Event POSTs accepted. Each service has one ready endpoint
# on node1, the only Ready speaker pod (memberlist off), so node1 owns every IP. Two network
# namespaces joined by a veth pair (client ↔ node); no traffic leaves them.
# Needs root; otherwise prints SKIP and exits 0.
# TLS=1 puts socat in front of the mock, terminating TLS with a throw-away CA as the API server
# would: the speaker then talks HTTPS, as in a cluster.
# Usage: [SPEAKER_BIN=path] [SMAPS_OUT=file] [DROP_CACHES=1] [TLS=1] scripts/bench/speaker.sh [SERVICES (default 1000)] [LOAD_SECONDS (default 20)] [RUNS (default 3)]
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/bench/speaker.sh needs root (network namespaces and raw sockets); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SERVICES=${1:-1000}
LOAD_SECS=${2:-20}
RUNS=${3:-3}
P=spkbench
WORK=$(mktemp -d /tmp/spkbench.XXXXXX)
NODE_MAC=02:00:00:00:03:01
CLIENT_MAC=02:00:00:00:03:0c
PID=
API=
TLS_PROXY=

cleanup() {
    set +e
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    [[ -n $API ]] && kill "$API" 2>/dev/null && wait "$API" 2>/dev/null
    [[ -n $TLS_PROXY ]] && kill "$TLS_PROXY" 2>/dev/null && wait "$TLS_PROXY" 2>/dev/null
    ip netns del "$P-client" 2>/dev/null
    ip netns del "$P-node" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in python3 curl ${TLS:+socat openssl}; do
    command -v "$tool" >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 curl socat openssl >/dev/null
    }
done

# The API mock is built on its own: an example pulls in dev-dependency features (tokio's
# test-util), and building it in the same cargo run would give the speaker those too.
(cd "$ROOT" && cargo build -q --release --locked -p speaker --example scale_api)
OUT=${CARGO_TARGET_DIR:-$ROOT/target}/release
# The speaker measured is the one the image ships: scripts/build-release.sh's cargo run, whose
# feature set, target directory and symbol names (speaker/link-order.txt) are those of the release.
# SPEAKER_BIN=path measures another build (an older commit, another profile) against the same API.
if [[ -n ${SPEAKER_BIN:-} ]]; then
    SPEAKER=$SPEAKER_BIN
else
    CARGO_TERM_QUIET=true DIST_DIR="$WORK/dist" bash "$ROOT/scripts/build-release.sh" >/dev/null
    SPEAKER=$WORK/dist/speaker
fi
API_URL=http://127.0.0.1:6080
CLUSTER_CA=
if [[ -n ${TLS:-} ]]; then
    # A CA and a serving certificate for 127.0.0.1, as kubeadm would issue for the API server.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
        -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=kube-apiserver \
        -keyout "$WORK/api.key" -out "$WORK/api.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$WORK/api.ext"
    openssl x509 -req -in "$WORK/api.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial \
        -days 1 -extfile "$WORK/api.ext" -out "$WORK/api.crt" 2>/dev/null
    cat "$WORK/api.crt" "$WORK/api.key" >"$WORK/api.pem"
    API_URL=https://127.0.0.1:6443
    CLUSTER_CA="certificate-authority-data: $(base64 -w0 "$WORK/ca.crt"), "
fi
cat >"$WORK/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- {name: bench, cluster: {${CLUSTER_CA}server: "$API_URL"}}
contexts:
- {name: bench, context: {cluster: bench, user: bench, namespace: metallb-system}}
current-context: bench
users:
- {name: bench, user: {}}
KC

ip netns add "$P-client"
ip netns add "$P-node"
ip link add eth0 netns "$P-client" address "$CLIENT_MAC" type veth peer name eth0 netns "$P-node" address "$NODE_MAC"
ip -n "$P-client" addr add 192.168.78.2/24 dev eth0
ip -n "$P-node" addr add 192.168.78.11/24 dev eth0
for ns in client node; do ip -n "$P-$ns" link set lo up; ip -n "$P-$ns" link set eth0 up; done

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
in_node() { ip netns exec "$P-node" "$@"; }
hz=$(getconf CLK_TCK)
for f in ready idle idle_anon idle_file scraped scraped_anon loaded cpu; do : >"$WORK/$f"; done

for run in $(seq "$RUNS"); do
    # Started without a shell function in between, so that $! is the process itself.
    ip netns exec "$P-node" "$OUT/examples/scale_api" --services "$SERVICES" --addr 127.0.0.1:6080 >"$WORK/api" 2>&1 &
    API=$!
    for _ in $(seq 100); do grep -q '^serving' "$WORK/api" && break; sleep 0.05; done
    if [[ -n ${TLS:-} ]]; then
        ip netns exec "$P-node" socat OPENSSL-LISTEN:6443,bind=127.0.0.1,reuseaddr,fork,cert="$WORK/api.pem",verify=0 \
            TCP:127.0.0.1:6080 2>/dev/null &
        TLS_PROXY=$!
        for _ in $(seq 100); do in_node bash -c '</dev/tcp/127.0.0.1/6443' 2>/dev/null && break; sleep 0.05; done
    fi
    # DROP_CACHES=1 starts from an empty page cache, as after a node reboot: the binary's pages
    # are then read in by the kernel's readahead instead of being left cached by the build.
    if [[ -n ${DROP_CACHES:-} ]]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
    t_start=$(date +%s.%N)
    ip netns exec "$P-node" env METALLB_NODE_NAME=node1 METALLB_NAMESPACE=metallb-system \
        METALLB_ML_LABELS="app=metallb,component=speaker" \
        "$SPEAKER" --kubeconfig "$WORK/kubeconfig" --port 7472 >"$WORK/log" 2>&1 &
    PID=$!
    for _ in $(seq 1200); do
        (($(grep -c '"serviceAnnounced"' "$WORK/log") >= SERVICES)) && break
        sleep 0.05
    done
    (($(grep -c '"serviceAnnounced"' "$WORK/log") >= SERVICES)) || { echo "run $run: not all announced"; tail -5 "$WORK/log"; exit 1; }
    t_ready=$(date +%s.%N)
    # The gratuitous bursts (5 rounds, 1.1 s apart) end before the idle figure is taken.
    sleep 7
    idle=$(kib VmRSS); idle_anon=$(kib RssAnon); idle_file=$(kib RssFile)
    # SMAPS_OUT=file keeps the idle mappings of the last run, to see where the resident pages are.
    [[ -n ${SMAPS_OUT:-} ]] && cp "/proc/$PID/smaps" "$SMAPS_OUT"
    # As Prometheus (every 30 s) and an operator would: the peaks must not stay resident.
    for _ in 1 2 3; do
        in_node curl -sf http://127.0.0.1:7472/metrics >"$WORK/metrics"
        in_node curl -sf http://127.0.0.1:7472/status >/dev/null
    done
    series=$(grep -c '^metallb_speaker_announced{' "$WORK/metrics")
    ((series == SERVICES)) || { echo "run $run: $series announced series, want $SERVICES" >&2; exit 1; }
    scraped=$(kib VmRSS); scraped_anon=$(kib RssAnon)
    # The flood goes round-robin over all N IPs: every service is answered by the real responder.
    t0=$(ticks)
    sent=$(ip netns exec "$P-client" python3 "$ROOT/scripts/bench/lib/arp_flood.py" 1000 "$LOAD_SECS" "$CLIENT_MAC" "$SERVICES")
    sleep 0.2
    t1=$(ticks)
    loaded=$(kib VmRSS)
    answered=$(in_node curl -sf http://127.0.0.1:7472/metrics | awk '/^metallb_layer2_responses_sent\{/ { n += $2 } END { print n + 0 }')
    kill -TERM "$PID"
    rc=0; wait "$PID" || rc=$?
    ((rc == 0)) || { echo "run $run: speaker exited with status $rc"; grep -v '"serviceAnnounced"' "$WORK/log" | tail -8; exit 1; }
    PID=
    kill "$API"; wait "$API" 2>/dev/null || true
    API=
    if [[ -n $TLS_PROXY ]]; then kill "$TLS_PROXY"; wait "$TLS_PROXY" 2>/dev/null || true; TLS_PROXY=; fi
    if ((answered < sent)); then
        echo "run $run: only $answered of $sent requests answered" >&2
        exit 1
    fi
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$LOAD_SECS" 'BEGIN { printf "%.2f", 100 * d / hz / s }')
    ready=$(awk -v a="$t_start" -v b="$t_ready" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
    echo "run $run: $SERVICES announced in ${ready} ms; RSS idle ${idle} KiB (anon ${idle_anon}, file ${idle_file}), after 3 scrapes ${scraped} KiB (anon ${scraped_anon}), after load ${loaded} KiB; CPU ${cpu} % of one core at 1 000 req/s (${sent} sent, ${answered} answered)"
    for f in ready idle idle_anon idle_file scraped scraped_anon loaded cpu; do echo "${!f}" >>"$WORK/$f"; done
done

echo "== $SPEAKER, $SERVICES Layer 2 services owned, API over ${API_URL%%:*}, $RUNS runs (medians)"
echo "start → all announced: $(median <"$WORK/ready") ms"
echo "RSS idle: $(median <"$WORK/idle") KiB (anon $(median <"$WORK/idle_anon"), file-backed $(median <"$WORK/idle_file"))"
echo "RSS after 3 × (/metrics + /status): $(median <"$WORK/scraped") KiB (anon $(median <"$WORK/scraped_anon"))"
echo "RSS after ${LOAD_SECS} s at 1 000 ARP req/s: $(median <"$WORK/loaded") KiB"
echo "CPU at 1 000 ARP req/s: $(median <"$WORK/cpu") % of one core"
