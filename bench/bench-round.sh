#!/usr/bin/env bash
# Benchmark: one active round at 1,000 labels on the 60,000-item Fashion-MNIST pool (retrain,
# rescore, pick a margin batch of 100), Veto (from scratch, and warm-started from the round
# before as the loop does) against scikit-learn + numpy on the same labels.
set -euo pipefail
# shellcheck source=prepare.sh
. "$(dirname "$0")/prepare.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
DISPLAY= WAYLAND_DISPLAY= "$build"/app/veto demo --project "$work/fm.veto" >/dev/null
"$build"/app/veto train "$work/fm.veto" --epochs 1 --no-save >/dev/null 2>&1 || true
"$build"/app/veto train "$work/fm.veto" --epochs 1 >/dev/null   # caches the pixel features
"$build"/bench/bench-round "$work/fm.veto" "$work/indices.txt" | tee "$work/veto.txt"

/usr/bin/python3 - /usr/share/datasets/fashion-mnist "$work/indices.txt" "$work/veto.txt" <<'PY'
import gzip, re, sys, time, warnings
import numpy as np
from sklearn.linear_model import LogisticRegression
warnings.filterwarnings("ignore")
data, indices, veto = sys.argv[1:4]
def idx(name, offset):
    with gzip.open(f"{data}/{name}") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
y = idx("train-labels-idx1-ubyte.gz", 8)
x = (x - x.mean(0)) / (x.std(0) + 1e-6)
labeled = np.loadtxt(indices, dtype=int)
mask = np.ones(len(x), bool); mask[labeled] = False
times = []
for r in range(5):
    t0 = time.perf_counter()
    clf = LogisticRegression(max_iter=100).fit(x[labeled], y[labeled])
    p = clf.predict_proba(x)
    top2 = np.sort(p, 1)[:, -2:]
    margin = np.where(mask, top2[:, 1] - top2[:, 0], np.inf)
    batch = np.argsort(margin)[:100]
    times.append((time.perf_counter() - t0) * 1e3)
sk = float(np.median(times))
cold, warm = (float(t) for t in re.findall(r"total ([0-9.]+) ms", open(veto).read()))
print(f"scikit-learn + numpy round (median of 5): {sk:.1f} ms")
print(f"ratio scikit-learn / veto: {sk / cold:.1f}x from scratch, "
      f"{sk / warm:.1f}x warm-started as in the loop")
PY
