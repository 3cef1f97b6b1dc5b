#!/usr/bin/env bash
# Benchmark: a 1,000,000-item pool of 128-d float32 embeddings (`--features npy:FILE`): one active round at 1,000 labels, a simulated run, and peak memory against the matrix's size.
# Usage: bench/bench-bigpool.sh [OTHER_VETO...]   (each OTHER_VETO, e.g. an older build, runs the same simulation)
set -euo pipefail
# shellcheck source=prepare.sh
. "$(dirname "$0")/prepare.sh"
veto="$PWD/$build/app/veto"
work=$(mktemp -d "${TMPDIR:-/tmp}/veto-bench-bigpool.XXXXXX")
trap 'rm -rf "$work"' EXIT
pool=1000000
test=10000

# Embeddings: 10 classes, each a Gaussian around its own centre in 128 dimensions, close enough
# that a linear model is far from perfect. One row per item, pool first, then the test split,
# as the items are imported. The items themselves are 1×1 IDX images: the embeddings carry
# everything.
/usr/bin/python3 - "$work" "$pool" "$test" <<'PY'
import sys
import numpy as np
work, pool, test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(7)
n, d, k = pool + test, 128, 10
y = rng.integers(0, k, n).astype(np.uint8)
centres = rng.normal(0, 0.35, (k, d)).astype(np.float32)
x = rng.standard_normal((n, d), dtype=np.float32)
x += centres[y]
np.save(f"{work}/embeddings.npy", x)
def idx(name, header, body):
    with open(f"{work}/{name}", "wb") as f:
        f.write(bytes(header) + body.tobytes())
for split, rows in (("pool", slice(0, pool)), ("test", slice(pool, n))):
    m = rows.stop - rows.start
    idx(f"{split}-images", [0, 0, 8, 3, *m.to_bytes(4, "big"), 0, 0, 0, 1, 0, 0, 0, 1],
        (np.arange(m) % 251).astype(np.uint8))
    idx(f"{split}-labels", [0, 0, 8, 1, *m.to_bytes(4, "big")], y[rows])
PY
ls -l "$work/embeddings.npy" | awk '{ printf "embeddings.npy: %.0f MB\n", $5 / 1e6 }'
"$veto" init "$work/big.veto" --classes c0,c1,c2,c3,c4,c5,c6,c7,c8,c9 >/dev/null
/usr/bin/time -f "import of the pool's items: %e s" "$veto" import "$work/big.veto" \
  "$work/pool-images" --labels "$work/pool-labels" >/dev/null 2>"$work/time.txt" \
  || { cat "$work/time.txt"; exit 1; }
tail -1 "$work/time.txt"
"$veto" import "$work/big.veto" "$work/test-images" --labels "$work/test-labels" --split test \
  >/dev/null

# One round (retrain at 1,000 labels, rescore the 1,000,000 items, pick 100 by margin), the
# matrix read once and used where it was read.
"$build/bench/bench-round" "$work/big.veto" "$work/indices.txt" "npy:$work/embeddings.npy"

# The loop itself: 100 random answers, then 9 rounds of 100 by margin (on a scratch copy).
for v in "$veto" "$@"; do
  rm -rf "$work/sim"
  /usr/bin/time -f "$v simulate (budget 1,000, margin): %e s, peak resident memory %M KB" \
    "$v" simulate "$work/big.veto" --features "npy:$work/embeddings.npy" --strategy margin \
    --budget 1000 --init 100 --batch 100 --seeds 1 --scratch --out "$work/sim" >/dev/null \
    2>"$work/time.txt" || { cat "$work/time.txt"; exit 1; }
  tail -1 "$work/time.txt"
  sed -n 's/.*"final_accuracy" : \([0-9.]*\).*/  final test accuracy: \1/p' \
    "$work/sim/summary.json" | head -1
done
