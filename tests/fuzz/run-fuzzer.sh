#!/bin/bash
# run-fuzzer: runs one libFuzzer target for SECONDS on a copy of its seed corpus and reports in TAP.
# Usage: run-fuzzer.sh TARGET SEEDDIR SECONDS [LIBFUZZER-FLAG...]
# Crash inputs are kept as NAME-crash-* (or -leak-, -oom-, -timeout-) in the current folder
# (meson runs it in the build folder); the full libFuzzer log is NAME.log beside them.
set -u

if [ $# -lt 3 ]; then
  echo "usage: $0 TARGET SEEDDIR SECONDS [LIBFUZZER-FLAG...]" >&2
  exit 2
fi
target=$1 seeds=$2 seconds=$3
shift 3
# meson may name the target relative to the current folder, without a slash.
[[ $target == */* ]] || target=./$target
name=$(basename "$target")
out=$PWD
log="$out/$name.log"

echo "1..1"
if [ ! -x "$target" ] || [ ! -d "$seeds" ]; then
  echo "not ok 1 - $name: no such target or seed folder"
  exit 1
fi

# libFuzzer writes the inputs it finds into its first corpus folder: give it a copy, so that the
# seeds in the source tree stay as they are.
corpus=$(mktemp -d "$out/$name-corpus.XXXXXX") || exit 1
trap 'rm -rf "$corpus"' EXIT
cp -R "$seeds/." "$corpus/"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$out/$name-" "$@" "$corpus" "$seeds" >"$log" 2>&1
status=$?

runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
[ -n "$runs" ] || runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[ -n "$runs" ] || runs=0
crashes=$(grep -c '^artifact_prefix=.*Test unit written to' "$log")
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)

if [ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]; then
  echo "ok 1 - $name $seconds s, $runs runs, 0 crashes"
  [ -n "$last" ] && echo "# $last"
  exit 0
fi
[ "$crashes" -gt 0 ] || crashes=1
echo "not ok 1 - $name $seconds s, $runs runs, $crashes crashes (exit status $status)"
grep -E 'Test unit written to|^==[0-9]+==ERROR|^SUMMARY|invariant broken' "$log" | sed 's/^/# /'
echo "# full log: $log"
exit 1
