#!/usr/bin/env bash
# The leak guard of the display tests: canned LeakSanitizer reports classified, and a real leak in an unloaded module named as the environment's.
#
# Usage: test-lsan-guard.sh TESTS_DIR [DLCLOSE_LEAK MODULE.so]   (TAP on stdout)
# The second part runs only in a build with AddressSanitizer, where the program is built.
set -u
tests=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/veto-lsan-guard.XXXXXX") || { echo "Bail out! mktemp"; exit 1; }
trap 'rm -rf "$T"' EXIT
N=0
FAILED=0
tap () # DESCRIPTION PROBLEM (empty: passed)
{
  N=$((N + 1))
  if [ -z "$2" ]; then echo "ok $N - $1"; else FAILED=$((FAILED + 1)); echo "not ok $N - $1"; echo "#   $2"; fi
}

allocator='    #0 0x7fa2a18b78d5 in __interceptor_realloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:85'
report () # FILE FRAME... : one direct leak with those frames after the allocator
{
  local file=$1
  shift
  { echo '==1==ERROR: LeakSanitizer: detected memory leaks'; echo
    echo 'Direct leak of 128 byte(s) in 1 object(s) allocated from:'; echo "$allocator"
    local i=1
    for frame in "$@"; do echo "    #$i 0x7fa28fabfed5 $frame"; i=$((i + 1)); done
    echo; } >>"$file"
}

report "$T/unnamed" ' (<unknown module>)'
"$tests/lsan-unnamed.sh" "$T/unnamed" >"$T/out"
status=$?
tap "a leak whose only frame is an unknown module is the environment's" \
  "$([ $status -eq 0 ] || echo "exit $status")$(grep -q 'ENVIRONMENT, NOT VETO' "$T/out" || echo ' no explanation printed')"

report "$T/ours" 'in veto_store_open ../core/veto-store.c:120' ' (<unknown module>)'
"$tests/lsan-unnamed.sh" "$T/ours" >/dev/null
status=$?
tap "a leak allocated by our code (an unknown frame above it) is not blamed on the environment" "$([ $status -eq 1 ] || echo "exit $status instead of 1")"

report "$T/library" ' (/lib/x86_64-linux-gnu/libfontconfig.so.1+0x2a1f3)'
"$tests/lsan-unnamed.sh" "$T/library" >/dev/null
status=$?
tap "a leak in a named library is not blamed on the environment" "$([ $status -eq 1 ] || echo "exit $status instead of 1")"

cp "$T/ours" "$T/mixed"
report "$T/mixed" ' (<unknown module>)' ' (<unknown module>)'
"$tests/lsan-unnamed.sh" "$T/mixed" >"$T/out"
tap "one unnamed leak among named ones is found and counted" \
  "$(grep -q 'reported 1 leak' "$T/out" || echo "not counted once: $(head -1 "$T/out")")"

printf 'ok 1 - nothing leaked\n' >"$T/clean"
"$tests/lsan-unnamed.sh" "$T/clean" >/dev/null
status=$?
tap "a report without leaks finds nothing" "$([ $status -eq 1 ] || echo "exit $status instead of 1")"

if [ $# -eq 3 ]; then
  # The real thing: a module that allocates and is unloaded before LeakSanitizer runs.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$tests/display-test.sh" "$2" "$3" >"$T/out" 2>"$T/err"
  status=$?
  problem=""
  [ $status -ne 0 ] || problem="the program passed: LeakSanitizer did not see the leak"
  grep -q '^Bail out! a leak report names no module' "$T/out" || problem="$problem; no Bail out! naming the environment"
  grep -q '^# ENVIRONMENT, NOT VETO' "$T/out" || problem="$problem; no ENVIRONMENT explanation"
  tap "display-test.sh fails a run whose leak is in an unloaded module, naming the environment" "${problem#; }"
fi

echo "1..$N"
[ $FAILED -eq 0 ]
