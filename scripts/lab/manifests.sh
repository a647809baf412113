#!/usr/bin/env bash
# Offline checks of the install surface: renders manifests/ (kustomize) and charts/metallb (Helm's
# Go template engine) and validates every object against the Kubernetes 1.22-1.31 OpenAPI schemas,
# checks cross-object names, RBAC and alerts, and lints the Dockerfile. Needs only PyPI: the tools
# (pinned in manifests-requirements.txt) are installed into a venv outside the clone, so that
# repeated runs (CI clones afresh) reuse it: default $TMPDIR/metallb-rs-manifests-venv, override
# with MANIFESTS_VENV (e.g. .venv/manifests, gitignored). Bounded: 150 s for the install, 140 s for
# the checks. Prints PASS/FAIL per check and exits non-zero on any failure. Does not need root.
set -euo pipefail
cd "$(dirname "$0")/../.."

reqs=scripts/lab/manifests-requirements.txt
venv="$(realpath -m "${MANIFESTS_VENV:-${TMPDIR:-/tmp}/metallb-rs-manifests-venv}")"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "FAIL manifests: $python is missing or older than 3.10 (helm-python-sdk needs >= 3.10)"
    exit 1
fi

# shellcheck source=scripts/lib/need.sh
source scripts/lib/need.sh
need py-ensurepip:python3-venv

stamp="$venv/.requirements.sha256"
want="$(sha256sum "$reqs" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing $(grep -cv '^#' "$reqs") pinned packages from PyPI into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    timeout 150 "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
    echo "$want" > "$stamp"
fi

PATH="$venv/bin:$PATH" timeout 140 "$venv/bin/python" scripts/lab/manifests.py
