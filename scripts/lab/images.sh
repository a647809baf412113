#!/usr/bin/env bash
# Image lab (issue #23): builds the two OCI images with scripts/build-images.sh and runs them
# under a real OCI runtime (runc, Debian package; crun 1.8.1 refuses hosts with cgroup v1 plus a
# cgroup2 mount holding a controller, as this one), configured as manifests/metallb.yaml runs them:
#   * controller: uid/gid 65534, every capability dropped, read-only root filesystem, no new
#     privileges, its own network namespace;
#   * speaker: root with CAP_NET_RAW only (bounding, effective, permitted), read-only root, no new
#     privileges, in the network namespace $P-node that stands in for the host network
#     (hostNetwork: true).
# Each image is unpacked from its OCI archive with umoci into a bundle whose config.json is then
# set as above. Checks, for both images: `--help` exits 0; `check-config` of a mounted valid file
# (testdata/config/valid/layer2-docs.yaml) exits 0 and of an invalid one
# (testdata/config/invalid/bad-selector.yaml) exits 1 printing upstream's error; the controller,
# run with the manifest's args against the fake API server, serves /metrics as uid 65534 with no
# capabilities on a read-only root; the speaker, with the v0.12.1 DaemonSet's env and args
# against the fake API server (over TLS, socat, with the cluster CA in the kubeconfig as a
# service account has it; a `config` ConfigMap with a layer2 pool, one Node, its speaker
# pod, a LoadBalancer Service whose only ready endpoint is on this node), answers ARP for the
# service's IP to arping in the client namespace with the node interface's MAC, and nobody else
# does; its process has CapEff = CapBnd = NET_RAW, NoNewPrivs and a read-only root.
#
# Binaries: IMAGES_BIN_DIR when set (e.g. dist/ from scripts/build-release.sh). Otherwise the
# release build that scripts/link-order.sh --check leaves (scripts/build-release.sh in
# ${LINK_ORDER_TARGET_DIR:-target/link-order}, same flags plus `-C strip=none`; a no-op cargo run
# after it), stripped here with `strip`: the test command builds no other release.
# Prints PASS/FAIL lines and "N passed, M failed"; exits 1 on any failure. Needs root; otherwise
# prints SKIP and exits 0. Namespaces $P-*, containers, bundles and processes (by PID) are removed
# on exit. A watchdog ends the run after 180 s (after the builds).
# Environment: IMAGES_KEEP=1 keeps the work dir (kept on failure); FAKE_API_BIN as for the labs.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: scripts/lab/images.sh needs root (network namespaces, an OCI runtime); not run"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib/lab.sh
source "$ROOT/scripts/lab/lib/lab.sh"
P=imglab-$$
WORK=$(mktemp -d /tmp/imglab.XXXXXX)
STATE=$WORK/runc
API_PID=
CAPTURE_PID=
declare -A RUN_PID=()
NODE_MAC=02:00:00:00:05:11
CLIENT_MAC=02:00:00:00:05:0c
NODE_IP=192.168.80.11
CLIENT_IP=192.168.80.2
API=$CLIENT_IP:6080
TLS_PORT=6443
TLS_PID=
VIP=192.168.80.100
VALID=testdata/config/valid/layer2-docs.yaml
INVALID=testdata/config/invalid/bad-selector.yaml

rt() { runc --root "$STATE" "$@"; }

cleanup() {
    local rc=$? id
    trap '' INT TERM
    set +e
    lab_stop_watchdog
    for id in "${!RUN_PID[@]}"; do
        rt kill "$id" KILL 2>/dev/null
        kill "${RUN_PID[$id]}" 2>/dev/null
        wait "${RUN_PID[$id]}" 2>/dev/null
        rt delete -f "$id" 2>/dev/null
    done
    [[ -n $CAPTURE_PID ]] && kill "$CAPTURE_PID" 2>/dev/null && wait "$CAPTURE_PID" 2>/dev/null
    [[ -n $TLS_PID ]] && kill "$TLS_PID" 2>/dev/null && wait "$TLS_PID" 2>/dev/null
    [[ -n $API_PID ]] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
    ip netns del "$P-node" 2>/dev/null
    ip netns del "$P-client" 2>/dev/null
    if [[ -z $SUMMARY_DONE ]]; then
        fail "the lab stopped early (exit status $rc)"
        summary
    fi
    ((FAILED == 0)) || IMAGES_KEEP=1
    if [[ -n ${IMAGES_KEEP:-} ]]; then echo "lab: kept $WORK"; else rm -rf "$WORK"; fi
    ((FAILED == 0)) || exit 1
}
trap cleanup EXIT
trap 'echo "lab: interrupted"; exit 1' INT TERM

need=()
command -v runc >/dev/null || need+=(runc)
command -v umoci >/dev/null || need+=(umoci)
command -v arping >/dev/null || need+=(arping)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
command -v python3 >/dev/null || need+=(python3)
command -v strip >/dev/null || need+=(binutils)
command -v socat >/dev/null || need+=(socat)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! ip netns add "$P-probe" 2>/dev/null; then
    fail "cannot create network namespaces as root"
    exit 1
fi
ip netns del "$P-probe"

# --- binaries and images ------------------------------------------------------------------
cd "$ROOT"
mkdir -p "$WORK/bin"
if [[ -z ${IMAGES_BIN_DIR:-} ]]; then
    echo "lab: the release binaries of scripts/link-order.sh (no-op when it has run), stripped"
    CARGO_TARGET_DIR=${LINK_ORDER_TARGET_DIR:-$ROOT/target/link-order} \
        CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C strip=none" CARGO_TERM_QUIET=true \
        DIST_DIR="$WORK/dist" bash scripts/build-release.sh >/dev/null
    for bin in controller speaker; do strip --strip-all -o "$WORK/bin/$bin" "$WORK/dist/$bin"; done
    IMAGES_BIN_DIR=$WORK/bin
fi
if [[ -n ${FAKE_API_BIN:-} ]]; then
    cp "$FAKE_API_BIN" "$WORK/fake-apiserver"
else
    cargo build -q --release --locked -p fake-apiserver --bin fake-apiserver
    cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/fake-apiserver" "$WORK/fake-apiserver"
fi
echo "lab: building the images"
IMAGES_BIN_DIR=$IMAGES_BIN_DIR IMAGES_OUT=$WORK/images bash scripts/build-images.sh | sed 's/^/lab: /'
( sleep 180 >/dev/null 2>&1; echo "lab: watchdog expired"; kill -TERM $$ ) &
WATCHDOG=$!

# The references built are those the manifests, the kustomize overlay and the chart install.
appversion=$(sed -n 's/^appVersion: *//p' charts/metallb/Chart.yaml)
for name in controller speaker; do
    ref=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])' \
        <(tar -xOf "$WORK/images/$name.oci.tar" index.json))
    check "$name: the archive is tagged $ref, as manifests/metallb.yaml names it" \
        grep -qx "        image: $ref" manifests/metallb.yaml
    check "$name: ... as the chart installs it (repository ${ref%:*}, appVersion $appversion)" \
        test "${ref%:*}:$appversion" == "$ref" -a "$(grep -c "repository: ${ref%:*}$" charts/metallb/values.yaml)" -eq 1
    tag=$(grep -A1 -x -- "- name: ${ref%:*}" testdata/kustomize/kustomization.yaml | sed -n 's/^  newTag: //p')
    check "$name: ... and the kustomize overlay pins it (newTag ${tag:-none})" test "${ref%:*}:$tag" == "$ref"
done

# bundle NAME: unpacks target image NAME into $WORK/NAME-bundle (umoci, from the OCI archive).
bundle() {
    local name=$1 layout=$WORK/$1-layout
    mkdir -p "$layout"
    tar -C "$layout" -xf "$WORK/images/$name.oci.tar"
    umoci unpack --image "$layout:ghcr.io/metallb-rs/$name:v0.1.0" "$WORK/$name-bundle" >/dev/null
}

# spec NAME ID ARG...: writes $WORK/NAME-bundle/config.json for one run: the image's process
# with ARGs, as the manifest runs NAME (see the header), testdata/config mounted read-only at
# /testdata, the fake's kubeconfig at /kubeconfig, and $WORK/NAME.env's lines as environment.
spec() {
    local name=$1; shift
    python3 - "$WORK/$name-bundle/config.json" "$name" "/var/run/netns/$P-node" \
        "$ROOT/testdata/config" "$WORK/kubeconfig" "$WORK/$name.env" "$@" <<'EOF'
import json, os, sys
path, name, netns, testdata, kubeconfig, envfile, *args = sys.argv[1:]
c = json.load(open(path + ".orig" if os.path.exists(path + ".orig") else path))
if not os.path.exists(path + ".orig"):
    json.dump(c, open(path + ".orig", "w"))
p = c["process"]
p["terminal"] = False
p["args"] = ["/" + name] + args
p["noNewPrivileges"] = True  # allowPrivilegeEscalation: false
if os.path.exists(envfile):
    p["env"] += [l.strip() for l in open(envfile) if l.strip()]
if name == "controller":
    p["user"] = {"uid": 65534, "gid": 65534}  # runAsUser: 65534, runAsNonRoot
    caps = []  # drop: [all]
else:
    p["user"] = {"uid": 0, "gid": 0}
    caps = ["CAP_NET_RAW"]  # add: [NET_RAW], drop: [ALL]
p["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps,
                     "inheritable": [], "ambient": []}
c["root"]["readonly"] = True  # readOnlyRootFilesystem: true
c["hostname"] = name
c["mounts"] += [
    {"destination": "/testdata", "type": "bind", "source": testdata,
     "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]},
]
if os.path.exists(kubeconfig):
    c["mounts"].append({"destination": "/kubeconfig", "type": "bind", "source": kubeconfig,
                        "options": ["bind", "ro", "nosuid", "nodev", "noexec"]})
ns = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
if name == "speaker":
    ns.append({"type": "network", "path": netns})  # hostNetwork: true
else:
    ns.append({"type": "network"})
c["linux"]["namespaces"] = ns
json.dump(c, open(path, "w"), indent=1)
EOF
}

# run_once NAME ID OUT ARG...: runs the container to completion; its exit status is returned.
run_once() {
    local name=$1 id=$2 out=$3 rc=0; shift 3
    spec "$name" "$@"
    rt run --bundle "$WORK/$name-bundle" "$id" >"$out" 2>&1 </dev/null || rc=$?
    rt delete -f "$id" 2>/dev/null || true
    return "$rc"
}

# start NAME ID ARG...: runs the container in the background ($RUN_PID[ID] = runc's PID).
start() {
    local name=$1 id=$2; shift 2
    spec "$name" "$@"
    rt run --bundle "$WORK/$name-bundle" "$id" >"$WORK/$id.log" 2>&1 </dev/null &
    RUN_PID[$id]=$!
}

# The container's init PID once running (empty after 10 s).
cpid() {
    local _ pid
    for _ in $(seq 100); do
        pid=$(rt state "$1" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["pid"] if d["status"] == "running" else "")' 2>/dev/null || true)
        [[ -n $pid && $pid != 0 ]] && { echo "$pid"; return 0; }
        sleep 0.1
    done
}

field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
rootfs_ro() { awk '$5 == "/" { print $6 }' "/proc/$1/mountinfo" | grep -q '^ro\b'; }
# "uid gid CapEff CapBnd CapPrm NoNewPrivs" of PID.
creds() {
    echo "$(field "$1" Uid) $(field "$1" Gid) $(field "$1" CapEff) $(field "$1" CapBnd) $(field "$1" CapPrm) $(field "$1" NoNewPrivs)"
}

# --- topology: the node (host network of the speaker) and a client ------------------------
ip netns add "$P-node"
ip netns add "$P-client"
ip link add eth0 netns "$P-client" address "$CLIENT_MAC" type veth peer name eth0 netns "$P-node" address "$NODE_MAC"
ip -n "$P-client" addr add "$CLIENT_IP/24" dev eth0
ip -n "$P-node" addr add "$NODE_IP/24" dev eth0
for ns in client node; do ip -n "$P-$ns" link set lo up; ip -n "$P-$ns" link set eth0 up; done

bundle controller
bundle speaker

# --- --help and check-config, in both images ----------------------------------------------
want_error=$(cat "${INVALID%.yaml}.error")
for name in controller speaker; do
    check "$name: --help exits 0" run_once "$name" "$P-$name-help" "$WORK/$name-help.out" --help
    check "$name: --help prints the usage" grep -q "^Usage: $name" "$WORK/$name-help.out"
    check "$name: check-config /$VALID exits 0" \
        run_once "$name" "$P-$name-valid" "$WORK/$name-valid.out" check-config "/${VALID/testdata\/config/testdata}"
    rc=0
    run_once "$name" "$P-$name-invalid" "$WORK/$name-invalid.out" check-config "/${INVALID/testdata\/config/testdata}" || rc=$?
    check "$name: check-config of an invalid file exits 1 (got $rc)" test "$rc" -eq 1
    check "$name: ... printing upstream's error '$want_error'" grep -qF "$want_error" "$WORK/$name-invalid.out"
done

# --- against the fake API server ----------------------------------------------------------
python3 scripts/bench/lib/failover_api.py objects "node1=$NODE_IP" "$VIP" >"$WORK/objects.ndjson"
ip netns exec "$P-client" "$WORK/fake-apiserver" --addr "$API" --objects "$WORK/objects.ndjson" \
    --kubeconfig-out "$WORK/kubeconfig.plain" >"$WORK/api.out" 2>"$WORK/api.err" &
API_PID=$!
for _ in $(seq 100); do [[ -s $WORK/api.out ]] && break; sleep 0.05; done
check "the fake API server listens on $API" test -s "$WORK/api.out"
# TLS in front of it (socat), with a throw-away cluster CA in the kubeconfig, as in a cluster
# (the service account's ca.crt): the images carry no CA bundle, and the binaries load the
# system's roots only for a kubeconfig without a CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=imglab-ca \
    -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=kube-apiserver \
    -keyout "$WORK/api.key" -out "$WORK/api.csr" 2>/dev/null
printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$CLIENT_IP" >"$WORK/api.ext"
openssl x509 -req -in "$WORK/api.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial \
    -days 1 -extfile "$WORK/api.ext" -out "$WORK/api.crt" 2>/dev/null
cat "$WORK/api.crt" "$WORK/api.key" >"$WORK/api.pem"
ip netns exec "$P-client" socat "OPENSSL-LISTEN:$TLS_PORT,bind=$CLIENT_IP,reuseaddr,fork,cert=$WORK/api.pem,verify=0" \
    "TCP:$API" 2>/dev/null &
TLS_PID=$!
for _ in $(seq 100); do ip netns exec "$P-client" bash -c "</dev/tcp/$CLIENT_IP/$TLS_PORT" 2>/dev/null && break; sleep 0.05; done
cat >"$WORK/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- {name: lab, cluster: {certificate-authority-data: $(base64 -w0 "$WORK/ca.crt"), server: "https://$CLIENT_IP:$TLS_PORT"}}
contexts:
- {name: lab, context: {cluster: lab, user: lab, namespace: metallb-system}}
current-context: lab
users:
- {name: lab, user: {}}
KC
chmod 0644 "$WORK/kubeconfig"

# The speaker: the v0.12.1 DaemonSet's env (fieldRefs resolved) and args; KUBECONFIG and
# METALLB_NAMESPACE stand in for the service account's mount.
printf '%s\n' METALLB_NODE_NAME=node1 "METALLB_HOST=$NODE_IP" "METALLB_ML_BIND_ADDR=$NODE_IP" \
    METALLB_ML_LABELS=app=metallb,component=speaker METALLB_ML_SECRET_KEY=imagelab-secret \
    METALLB_NAMESPACE=metallb-system KUBECONFIG=/kubeconfig >"$WORK/speaker.env"
start speaker "$P-speaker" --port=7472 --config=config --log-level=info
spid=$(cpid "$P-speaker")
check "speaker: the container runs (pid ${spid:-none})" test -n "$spid"
if [[ -n $spid ]]; then
    c=$(creds "$spid")
    echo "lab: speaker uid gid CapEff CapBnd CapPrm NoNewPrivs: $c"
    check "speaker: root with CAP_NET_RAW only (CapEff = CapBnd = CapPrm = 0x2000) and NoNewPrivs" \
        test "$c" == "0 0 0000000000002000 0000000000002000 0000000000002000 1"
    check "speaker: read-only root filesystem" rootfs_ro "$spid"
    check "speaker: in the node's network namespace" \
        test "$(readlink "/proc/$spid/ns/net")" == "$(ip netns exec "$P-node" readlink /proc/self/ns/net)"
fi

# arping from the client until the VIP is answered (the speaker needs its first sync).
macs=
for _ in $(seq 40); do
    macs=$(ip netns exec "$P-client" timeout 5 arping -i eth0 -c 1 -W 0.5 "$VIP" 2>/dev/null |
        grep -o 'from [0-9a-f:]\{17\}' | cut -d' ' -f2 | sort -u | paste -sd' ' || true)
    [[ -n $macs ]] && break
    sleep 0.5
done
check "speaker: $VIP answered to arping with the node interface's MAC $NODE_MAC (got '$macs')" \
    test "$macs" == "$NODE_MAC"
ip netns exec "$P-client" tcpdump -i eth0 -n -e -l -U --immediate-mode arp >"$WORK/cap.txt" 2>"$WORK/cap.err" &
CAPTURE_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$WORK/cap.err" 2>/dev/null && break; sleep 0.02; done
ip netns exec "$P-client" timeout 10 arping -i eth0 -c 3 -W 0.2 "$VIP" >/dev/null 2>&1 || true
sleep 0.2
kill "$CAPTURE_PID" 2>/dev/null; wait "$CAPTURE_PID" 2>/dev/null || true; CAPTURE_PID=
repliers=$(grep "Reply $VIP is-at" "$WORK/cap.txt" | awk '{ print $2 }' | sort -u | paste -sd' ' || true)
check "speaker: tcpdump saw replies for $VIP from $NODE_MAC alone (got '$repliers')" test "$repliers" == "$NODE_MAC"
check "speaker: still running" test -d "/proc/${spid:-none}"

# The controller: the Deployment's args, as uid 65534 without capabilities. Its network is its
# own namespace, which cannot reach the fake; so it runs in the client's (where the fake is) by
# joining it for this check only.
printf '%s\n' METALLB_ML_SECRET_NAME=memberlist METALLB_DEPLOYMENT=controller \
    METALLB_NAMESPACE=metallb-system KUBECONFIG=/kubeconfig >"$WORK/controller.env"
spec controller --port=7472 --config=config --log-level=info
python3 - "$WORK/controller-bundle/config.json" "/var/run/netns/$P-client" <<'EOF'
import json, sys
path, netns = sys.argv[1:]
c = json.load(open(path))
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"] + \
    [{"type": "network", "path": netns}]
json.dump(c, open(path, "w"), indent=1)
EOF
rt run --bundle "$WORK/controller-bundle" "$P-controller" >"$WORK/$P-controller.log" 2>&1 </dev/null &
RUN_PID[$P-controller]=$!
cpidc=$(cpid "$P-controller")
check "controller: the container runs (pid ${cpidc:-none})" test -n "$cpidc"
if [[ -n $cpidc ]]; then
    c=$(creds "$cpidc")
    echo "lab: controller uid gid CapEff CapBnd CapPrm NoNewPrivs: $c"
    check "controller: uid/gid 65534, no capabilities at all, NoNewPrivs" \
        test "$c" == "65534 65534 0000000000000000 0000000000000000 0000000000000000 1"
    check "controller: read-only root filesystem" rootfs_ro "$cpidc"
fi
metrics() {
    ip netns exec "$P-client" python3 -c '
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:7472/metrics", timeout=1).read().decode()
sys.exit(0 if "metallb_" in body else 1)' 2>/dev/null
}
ok=
for _ in $(seq 50); do metrics && { ok=1; break; }; sleep 0.2; done
check "controller: serves /metrics (metallb_ series) on :7472" test -n "$ok"
check "controller: still running" test -d "/proc/${cpidc:-none}"

summary
