#!/usr/bin/env bash
# Go interop of our memberlist: installs Debian's Go toolchain and hashicorp/memberlist (as
# root), then runs scripts/memberlist-interop.sh (loopback only, bounded). Without root and
# without the packages it prints SKIP with the reason.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -d /usr/share/gocode/src/github.com/hashicorp/memberlist ] || ! command -v go >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: scripts/lab/memberlist.sh needs golang-go and golang-github-hashicorp-memberlist-dev, and root to install them; not run"
        exit 0
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-github-hashicorp-memberlist-dev >/dev/null
fi
exec bash "$root/scripts/memberlist-interop.sh"
