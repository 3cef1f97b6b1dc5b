#!/usr/bin/env bash
# Benchmark: answer-to-next-question latency of the engine on Fashion-MNIST while it retrains every 5 answers (target p99 ≤ 16 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${VETO_BUILD:-build}"
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
veto="$build/app/veto"
# The demo project is made once and kept; every run answers on a fresh copy of it.
cache="${TMPDIR:-/tmp}/veto-bench-latency"
mkdir -p "$cache"
[ -f "$cache/fm.veto" ] || DISPLAY= WAYLAND_DISPLAY= $veto demo --project "$cache/fm.veto" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$cache/fm.veto" "$work/fm.veto"

# --pace 20: an answer every 20 ms, so that rounds (a second or so each) keep coming while the
# 500 answers are given, as in a window; without it the run is over before the first model.
$veto drive "$work/fm.veto" --answers 500 --kind complementary --retrain-every 5 --pace 20 \
  --latency "$work/latency.txt"
sort -n "$work/latency.txt" | awk '
  { v[NR] = $1 }
  END {
    p50 = v[int(NR * 0.50 + 0.999999)]; p99 = v[int(NR * 0.99 + 0.999999)]
    printf "answer to next question: p50 %.2f ms, p99 %.2f ms (target p99 <= 16 ms: %s)\n",
           p50 / 1000, p99 / 1000, p99 <= 16000 ? "met" : "MISSED"
  }'
