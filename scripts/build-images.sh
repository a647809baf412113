#!/usr/bin/env bash
# Builds the two images, ghcr.io/metallb-rs/controller:v0.1.0 and ghcr.io/metallb-rs/speaker:v0.1.0
# (MIGRATION.md, manifests/metallb.yaml, charts/metallb), without a container daemon, as OCI
# archives: target/images/controller.oci.tar and target/images/speaker.oci.tar. Push one with
#   skopeo copy oci-archive:target/images/speaker.oci.tar docker://registry.example/metallb-rs/speaker:v0.1.0
#
# Tool: umoci (Debian package, installed here when missing): it writes an OCI image layout
# directly, needs no daemon, no storage driver and no base image, and takes file metadata from
# the staged tree, so mtimes and ownership are ours to fix. The archive is the layout in a tar
# written by GNU tar with sorted names and fixed mtimes. (buildah would need its storage under
# /var/lib/containers with the vfs driver, a full copy per step, for the same one-layer result.)
#
# Each image is one layer FROM scratch: the release binary (scripts/build-release.sh: glibc,
# dynamically linked, DT_RELR, so glibc >= 2.36), exactly the shared libraries `ldd` names and the
# dynamic loader, copied from this Debian system (with their copyright files), /etc/passwd and
# /etc/group with root and nobody (65534), /etc/nsswitch.conf (hosts: files dns), and the
# binary's SBOM (CycloneDX JSON from `cargo tree` + Cargo.lock + dpkg, scripts/lib/sbom.py) at
# /usr/share/doc/metallb-rs/<name>.cdx.json. No CA bundle: kube-rs (rustls) trusts the CA of the
# kubeconfig or of the ServiceAccount mount only; webpki roots are not compiled in.
# Entrypoints /controller (user 65534:65534) and /speaker (root: its manifest grants NET_RAW
# only, which a non-root user would lose), as upstream's images and the manifests expect.
#
# Reproducible: the same commit gives the same digests. Every mtime, the config's `created` and
# the history's are SOURCE_DATE_EPOCH (default: the commit time of HEAD); entries are sorted;
# owner 0:0. Labels org.opencontainers.image.{source,version,revision,licenses,created,title}.
#
# Environment: IMAGES_BIN_DIR (directory with the controller and speaker binaries to ship;
# default: run scripts/build-release.sh and take its dist/), IMAGES_OUT (default
# target/images), IMAGE_REGISTRY (default ghcr.io/metallb-rs), IMAGE_TAG (default v + the
# workspace version), IMAGE_SOURCE (default https://github.com/metallb-rs/metallb-rs),
# SOURCE_DATE_EPOCH.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export LC_ALL=C TZ=UTC

need=()
command -v umoci >/dev/null || need+=(umoci)
command -v python3 >/dev/null || need+=(python3)
command -v ldd >/dev/null || need+=(libc-bin)
if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "build-images: missing ${need[*]} (apt-get install -y ${need[*]})" >&2
        exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
license=$(sed -n '/^\[workspace.package\]/,/^\[/s/^license = "\(.*\)"/\1/p' Cargo.toml)
registry=${IMAGE_REGISTRY:-ghcr.io/metallb-rs}
tag=${IMAGE_TAG:-v$version}
source_url=${IMAGE_SOURCE:-https://github.com/metallb-rs/metallb-rs}
revision=$(git rev-parse HEAD)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
out=${IMAGES_OUT:-target/images}
bins=(controller speaker)

if [[ -z ${IMAGES_BIN_DIR:-} ]]; then
    bash scripts/build-release.sh
    IMAGES_BIN_DIR=${DIST_DIR:-dist}
fi
for bin in "${bins[@]}"; do
    [[ -x $IMAGES_BIN_DIR/$bin ]] || { echo "build-images: no $IMAGES_BIN_DIR/$bin" >&2; exit 1; }
done

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/build-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The Debian package owning FILE (dpkg knows /lib/... or /usr/lib/... depending on the package),
# as package=version.
deb_of() {
    local f=$1 pkg
    pkg=$(dpkg -S "$f" 2>/dev/null || dpkg -S "$(readlink -f "$f")" 2>/dev/null || true)
    pkg=${pkg%%:*}
    [[ -n $pkg ]] || return 0
    echo "$pkg=$(dpkg-query -W -f '${Version}' "$pkg:amd64" 2>/dev/null || dpkg-query -W -f '${Version}' "$pkg")"
}

stage() {
    local bin=$1 rootfs=$2 lib debs=() d
    mkdir -p "$rootfs/etc" "$rootfs/usr/share/doc/metallb-rs"
    install -m 0755 "$IMAGES_BIN_DIR/$bin" "$rootfs/$bin"
    # Exactly the libraries the loader resolves, at the paths it resolves them to, and the
    # loader at the binary's PT_INTERP path.
    while read -r lib; do
        mkdir -p "$rootfs$(dirname "$lib")"
        install -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
        d=$(deb_of "$lib")
        [[ -n $d ]] && debs+=("$d")
    done < <(ldd "$IMAGES_BIN_DIR/$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
    mapfile -t debs < <(printf '%s\n' "${debs[@]}" | sort -u)
    for d in "${debs[@]}"; do
        if [[ -f /usr/share/doc/${d%%=*}/copyright ]]; then
            mkdir -p "$rootfs/usr/share/doc/${d%%=*}"
            install -m 0644 "/usr/share/doc/${d%%=*}/copyright" "$rootfs/usr/share/doc/${d%%=*}/copyright"
        fi
    done
    printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
        'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' >"$rootfs/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$rootfs/etc/group"
    printf '%s\n' 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
    chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
    cargo tree --locked --offline -q -p "$bin" -e normal --target x86_64-unknown-linux-gnu \
        --prefix none -f '{p}|{l}|{r}' >"$work/$bin.tree"
    python3 scripts/lib/sbom.py "$bin" "$version" "$revision" "$source_url" "$epoch" \
        "$work/$bin.tree" Cargo.lock "${debs[@]}" >"$rootfs/usr/share/doc/metallb-rs/$bin.cdx.json"
    chmod 0644 "$rootfs/usr/share/doc/metallb-rs/$bin.cdx.json"
    find "$rootfs" -type d -exec chmod 0755 {} +
    chown -R 0:0 "$rootfs" 2>/dev/null || true
    find "$rootfs" -exec touch -h -d "@$epoch" {} +
}

printf '%-11s %-44s %12s %12s  %s\n' image reference compressed uncompressed digest >"$work/sizes"
for bin in "${bins[@]}"; do
    ref=$registry/$bin:$tag
    layout=$work/$bin-layout
    bundle=$work/$bin-bundle

    # An empty image, unpacked; the staged tree becomes its one layer (umoci repack: sorted
    # entries, metadata from the files; `umoci insert` of 0.4.7 leaves the layer's tar unpadded).
    umoci init --layout "$layout"
    umoci new --image "$layout:build"
    umoci unpack --image "$layout:build" "$bundle" >/dev/null
    stage "$bin" "$bundle/rootfs"
    umoci repack --image "$layout:build" --history.created "$created" \
        --history.created_by "scripts/build-images.sh ($bin)" "$bundle"
    cfg=(--created "$created" --history.created "$created" --os linux --architecture amd64
        --config.entrypoint "/$bin"
        --config.label "org.opencontainers.image.source=$source_url"
        --config.label "org.opencontainers.image.version=$tag"
        --config.label "org.opencontainers.image.revision=$revision"
        --config.label "org.opencontainers.image.licenses=$license"
        --config.label "org.opencontainers.image.created=$created"
        --config.label "org.opencontainers.image.title=metallb-rs $bin"
        --manifest.annotation "org.opencontainers.image.source=$source_url"
        --manifest.annotation "org.opencontainers.image.version=$tag"
        --manifest.annotation "org.opencontainers.image.revision=$revision"
        --manifest.annotation "org.opencontainers.image.licenses=$license"
        --manifest.annotation "org.opencontainers.image.created=$created")
    [[ $bin == controller ]] && cfg+=(--config.user 65534:65534)
    umoci config --image "$layout:build" "${cfg[@]}" --tag "$ref"
    umoci rm --image "$layout:build"
    umoci gc --layout "$layout"

    # index.json: the reference as org.opencontainers.image.ref.name (what umoci tagged) and as
    # io.containerd.image.name, so `ctr images import` and `docker load` name it too.
    python3 - "$layout/index.json" "$ref" <<'EOF'
import json, sys
path, ref = sys.argv[1], sys.argv[2]
index = json.load(open(path))
for m in index["manifests"]:
    m.setdefault("annotations", {})["io.containerd.image.name"] = ref
json.dump(index, open(path, "w"), sort_keys=True, separators=(",", ":"))
EOF
    find "$layout" -exec touch -h -d "@$epoch" {} +
    tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu \
        -C "$layout" -cf "$out/$bin.oci.tar.tmp" oci-layout index.json blobs
    mv "$out/$bin.oci.tar.tmp" "$out/$bin.oci.tar"

    manifest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$layout/index.json")
    layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' \
        "$layout/blobs/sha256/${manifest#sha256:}")
    compressed=$(stat -c %s "$layout/blobs/sha256/${layer#sha256:}")
    uncompressed=$(gzip -dc "$layout/blobs/sha256/${layer#sha256:}" | wc -c)
    echo "$manifest" >"$out/$bin.digest"
    printf '%-11s %-44s %12s %12s  %s\n' "$bin" "$ref" "$compressed" "$uncompressed" "$manifest" >>"$work/sizes"
done

echo
echo "images ($out, SOURCE_DATE_EPOCH=$epoch, revision $revision):"
cat "$work/sizes"
cp "$work/sizes" "$out/sizes.txt"
