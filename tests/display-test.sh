#!/usr/bin/env bash
# Runs one test that opens a display: its own Xvfb, no GL, and a clear verdict on leaks no module owns.
#
# Usage: display-test.sh PROGRAM [ARGS...]   (TAP from PROGRAM passes through on stdout)
# GTK 4.8 initialises GL at start-up even with the cairo renderer; the GL driver it loads is
# unloaded at exit, and a leak inside it cannot be named or suppressed, so the tests run with
# GL disabled. Leak detection stays on: if a leak report still names no module, the run fails
# with a message pointing at the environment (tests/lsan-unnamed.sh) instead of at our code.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "Bail out! usage: $0 PROGRAM [ARGS...]"; exit 1; }

export GDK_DEBUG=${GDK_DEBUG:+$GDK_DEBUG,}gl-disable
export GSK_RENDERER=cairo GTK_A11Y=none NO_AT_BRIDGE=1

err=$(mktemp "${TMPDIR:-/tmp}/veto-display-test.XXXXXX") || { echo "Bail out! mktemp"; exit 1; }
trap 'rm -f "$err"' EXIT
xvfb-run -a -s '-screen 0 1280x800x24' "$@" 2>"$err"
status=$?
cat "$err" >&2
if [ $status -ne 0 ] && "$here/lsan-unnamed.sh" "$err"; then
  echo "Bail out! a leak report names no module: see the ENVIRONMENT lines above"
fi
exit $status
