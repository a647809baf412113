# shellcheck shell=bash
# need CMD:PACKAGE...: installs the Debian packages whose command is missing (as root, with
# apt-get), or fails naming them. Sourced by scripts that run programs a bare Debian lacks.
need() {
    local pair cmd pkg missing=()
    for pair in "$@"; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        case $cmd in
            # A Python module rather than a command: `python3 -m venv` needs ensurepip.
            py-*) python3 -c "import ${cmd#py-}" 2>/dev/null || missing+=("$pkg") ;;
            *) command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg") ;;
        esac
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "FAIL: missing ${missing[*]}; install them (apt-get install -y ${missing[*]}) or run as root on Debian" >&2
        return 1
    fi
    echo "== installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
