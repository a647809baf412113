#!/bin/sh
# Interoperability of our memberlist with HashiCorp's Go memberlist, on loopback only.
#
# Go peers are built from Debian's golang-github-hashicorp-memberlist-dev (GOPATH mode, no
# network) and configured as MetalLB's speaker configures memberlist; Rust peers run
# speaker/examples/memberlist-node.rs (the speaker's tokio shell around common::memberlist).
# For plaintext and for encryption (MetalLB key derivation) the script checks that:
#   1. a Go node joins a Rust node, a Rust node joins that Go node, a second Go node joins the
#      second Rust node, and all four list the same four members;
#   2. a killed (SIGKILL) Go node is reported dead by the Rust nodes and the other Go node;
#   3. a killed Rust node is reported dead by the Go node;
#   4. a Rust node leaving gracefully (SIGTERM) disappears from the Go node's list (at once
#      when the leave broadcast arrives; by failure detection otherwise);
# and, with encryption, that a Rust node with the wrong secret cannot join. Then, for the
# timers (docs/memberlist.md#timers), with the speaker's default (no --ml-fast):
#   5. two Rust nodes alone run the fast timers; a Go node joining switches both to
#      upstream's; once the Go node is killed and declared dead, both are fast again.
# Every process is started here and stopped by PID; each wait is bounded.
#
# Needs: apt-get install -y golang-go golang-github-hashicorp-memberlist-dev; cargo.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ ! -d /usr/share/gocode/src/github.com/hashicorp/memberlist ] || ! command -v go >/dev/null; then
    echo "memberlist-interop: SKIP: needs golang-go and golang-github-hashicorp-memberlist-dev" >&2
    exit 0
fi

echo "building Go peer (memberlist $(dpkg-query -W -f '${Version}' golang-github-hashicorp-memberlist-dev 2>/dev/null || echo '?'))"
mkdir -p "$work/src/peer"
cp "$repo/scripts/memberlist-interop/peer.go" "$work/src/peer/"
(cd "$work/src/peer" && GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOCACHE="$work/cache" go build -o "$work/go-peer" .)
echo "building Rust peer"
(cd "$repo" && cargo build -q -p speaker --example memberlist-node)
target=${CARGO_TARGET_DIR:-$repo/target}
rust_peer="$target/debug/examples/memberlist-node"

port=17946
start_go() { # name ip secret [join]
    "$work/go-peer" --name "$1" --bind "$2:$port" --secret "$3" ${4:+--join "$4:$port"} >"$work/$1.log" 2>&1 &
    pids="$pids $!"
    eval "pid_$(echo "$1" | tr - _)=$!"
}
start_rust() { # name ip secret [join]
    "$rust_peer" --name "$1" --bind "$2:$port" --secret "$3" ${4:+--join "$4:$port"} >"$work/$1.log" 2>&1 &
    pids="$pids $!"
    eval "pid_$(echo "$1" | tr - _)=$!"
}
# Waits (at most 5 s) until a node prints its first member list, i.e. it is listening.
wait_up() {
    i=0
    while [ -z "$(members_of "$1")" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
pid_of() { eval "echo \$pid_$(echo "$1" | tr - _)"; }
# Last timers line of a node: fast or upstream.
timers_of() { grep '^TIMERS ' "$work/$1.log" 2>/dev/null | tail -n 1 | cut -d' ' -f2; }
# wait_timers <seconds> <expected> <node>...
wait_timers() {
    limit=$1 expected=$2
    shift 2
    start=$(date +%s%N)
    while :; do
        ok=1
        for n in "$@"; do [ "$(timers_of "$n")" = "$expected" ] || ok=0; done
        elapsed_ms=$((($(date +%s%N) - start) / 1000000))
        if [ $ok = 1 ]; then
            printf '  ok   %-50s %3d.%01d s\n' "$* run $expected timers" $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
            return 0
        fi
        if [ "$elapsed_ms" -gt $((limit * 1000)) ]; then
            printf '  FAIL %-50s after %s s\n' "$* run $expected timers" "$limit"
            for n in "$@"; do echo "    $n: $(timers_of "$n")"; done
            failures=$((failures + 1))
            return 0
        fi
        sleep 0.1
    done
}
# Last member list a node printed.
members_of() { grep '^MEMBERS ' "$work/$1.log" 2>/dev/null | tail -n 1 | cut -d' ' -f2; }
# wait_members <seconds> <expected> <node>...: until every node's list equals <expected>.
wait_members() {
    limit=$1 expected=$2
    shift 2
    start=$(date +%s%N)
    while :; do
        ok=1
        for n in "$@"; do [ "$(members_of "$n")" = "$expected" ] || ok=0; done
        elapsed_ms=$((($(date +%s%N) - start) / 1000000))
        if [ $ok = 1 ]; then
            printf '  ok   %-50s %3d.%01d s\n' "$* see $expected" $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
            return 0
        fi
        if [ "$elapsed_ms" -gt $((limit * 1000)) ]; then
            printf '  FAIL %-50s after %s s\n' "$* see $expected" "$limit"
            for n in "$@"; do echo "    $n: $(members_of "$n")"; done
            failures=$((failures + 1))
            return 0
        fi
        sleep 0.1
    done
}
stop() { # signal name
    kill -"$1" "$(pid_of "$2")" 2>/dev/null || true
}

failures=0
for secret in "" "metallb-interop-secret"; do
    mode=${secret:+encrypted}
    echo "== ${mode:-plaintext}"
    start_rust rust-1 127.0.0.21 "$secret"
    wait_up rust-1
    start_go go-1 127.0.0.22 "$secret" 127.0.0.21
    wait_up go-1
    start_rust rust-2 127.0.0.23 "$secret" 127.0.0.22
    wait_up rust-2
    start_go go-2 127.0.0.24 "$secret" 127.0.0.23
    wait_members 15 go-1,go-2,rust-1,rust-2 rust-1 go-1 rust-2 go-2

    if [ -n "$secret" ]; then
        start_rust rust-x 127.0.0.25 "wrong-secret" 127.0.0.22
        sleep 3
        if grep -q '^JOIN-FAILED' "$work/rust-x.log" && [ "$(members_of rust-x)" = rust-x ] &&
            [ "$(members_of go-1)" = go-1,go-2,rust-1,rust-2 ]; then
            echo "  ok   rust-x with the wrong secret cannot join"
        else
            echo "  FAIL rust-x with the wrong secret: $(cat "$work/rust-x.log" | tr '\n' ' ')"
            failures=$((failures + 1))
        fi
        stop 9 rust-x
    fi

    stop 9 go-1
    wait_members 20 go-2,rust-1,rust-2 rust-1 rust-2 go-2
    stop 9 rust-2
    wait_members 20 go-2,rust-1 rust-1 go-2
    stop TERM rust-1
    # A graceful leave shows within ~0 s (the time is printed). The limit covers the case
    # where the leave broadcast is lost on a loaded machine (as it can be for Go speakers
    # too, whose Leave also waits only 1 s): failure detection then removes the node.
    wait_members 20 go-2 go-2
    stop TERM go-2
    sleep 1.2
    for n in rust-1 rust-2 go-1 go-2; do cp "$work/$n.log" "$work/$n.${mode:-plaintext}.log"; done
done

echo "== timers"
start_rust rust-a 127.0.0.31 ""
wait_up rust-a
start_rust rust-b 127.0.0.32 "" 127.0.0.31
wait_members 10 rust-a,rust-b rust-a rust-b
wait_timers 5 fast rust-a rust-b
start_go go-x 127.0.0.33 "" 127.0.0.31
wait_members 10 go-x,rust-a,rust-b rust-a rust-b go-x
wait_timers 5 upstream rust-a rust-b
stop 9 go-x
wait_members 20 rust-a,rust-b rust-a rust-b
wait_timers 5 fast rust-a rust-b
stop 9 rust-a
stop 9 rust-b

if [ "$failures" -gt 0 ]; then
    echo "memberlist-interop: $failures check(s) failed; logs:"
    for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done
    exit 1
fi
echo "memberlist-interop: all checks passed"
