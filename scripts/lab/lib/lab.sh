# Shared by the labs: the PASS/FAIL tally, its summary line (`N passed, M failed`, which CI
# reads), and stopping the watchdog. Source after `set -euo pipefail`.
# shellcheck shell=bash

PASSED=0
FAILED=0
SUMMARY_DONE=
WATCHDOG=

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# shellcheck disable=SC2034 # read by the sourcing lab
summary() { SUMMARY_DONE=1; echo "$PASSED passed, $FAILED failed"; }

# Stops the watchdog ($WATCHDOG, a subshell sleeping before it kills the lab) and its sleep.
lab_stop_watchdog() {
    [[ -n $WATCHDOG ]] || return 0
    local sleeper
    sleeper=$(pgrep -P "$WATCHDOG")
    kill "$WATCHDOG" 2>/dev/null
    # shellcheck disable=SC2086 # one PID per line
    [[ -n $sleeper ]] && kill $sleeper 2>/dev/null
    return 0
}
