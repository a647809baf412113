# syntax=docker/dockerfile:1
#
# The two metallb-rs images, drop-in replacements for quay.io/metallb/{controller,speaker}:
#
#   docker build --target controller -t ghcr.io/metallb-rs/controller:v0.1.0 .
#   docker build --target speaker    -t ghcr.io/metallb-rs/speaker:v0.1.0 .
#
# The build stage runs scripts/build-release.sh, which writes dist/controller and dist/speaker
# (glibc, stripped). The runtime stages are distroless/cc on Debian 12: the glibc the binaries
# were linked against in the Debian 12 build stage, CA certificates, no shell, no package manager.
# Entrypoints /controller and /speaker are upstream's paths.
#
# Without a Docker daemon, scripts/build-images.sh builds the same two images FROM scratch (the
# binaries, the glibc libraries they link, passwd/group, an SBOM) as reproducible OCI archives;
# that is what scripts/lab/images.sh runs under runc and MIGRATION.md tells how to push.

# The exact toolchain speaker/link-order.txt was generated with: symbol names carry a hash of the
# rustc version, and names the linker does not find are laid out as if unlisted.
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    bash scripts/build-release.sh

# The controller needs no privileges: non-root (nobody, as the manifests' runAsUser 65534).
FROM gcr.io/distroless/cc-debian12:nonroot AS controller
COPY --from=build /src/dist/controller /controller
USER 65534:65534
ENTRYPOINT ["/controller"]

# The speaker runs as root with only CAP_NET_RAW (granted by the DaemonSet's securityContext) for
# ARP/NDP raw sockets, as upstream's speaker does; a non-root user would lose that capability.
# distroless publishes its root variant only as `latest`: pin it by digest when releasing.
# hadolint ignore=DL3007
FROM gcr.io/distroless/cc-debian12:latest AS speaker
COPY --from=build /src/dist/speaker /speaker
ENTRYPOINT ["/speaker"]
