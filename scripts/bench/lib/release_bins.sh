# shellcheck shell=bash
# Sets SPEAKER and FAKE to the release speaker and fake-apiserver: SPEAKER_BIN / FAKE_API_BIN
# when given (prebuilt, e.g. a before/after pair), else built here (CARGO_TARGET_DIR as for
# cargo). Needs ROOT, the checkout.
release_bins() {
    local out=${CARGO_TARGET_DIR:-$ROOT/target}/release
    if [[ -n ${SPEAKER_BIN:-} ]]; then
        SPEAKER=$SPEAKER_BIN
    else
        (cd "$ROOT" && cargo build -q --release --locked -p speaker --bin speaker)
        SPEAKER=$out/speaker
    fi
    if [[ -n ${FAKE_API_BIN:-} ]]; then
        FAKE=$FAKE_API_BIN
    else
        (cd "$ROOT" && cargo build -q --release --locked -p fake-apiserver --bin fake-apiserver)
        FAKE=$out/fake-apiserver
    fi
}
