#!/usr/bin/env bash
# Benchmark: Veto's softmax against scikit-learn's LogisticRegression on standardized Fashion-MNIST
# pixels, in one run: both accuracies, both training times and their ratio; then the pool rescore.
set -euo pipefail
# shellcheck source=prepare.sh
. "$(dirname "$0")/prepare.sh"
veto="$build"/app/veto
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=/usr/share/datasets/fashion-mnist

DISPLAY= WAYLAND_DISPLAY= $veto demo --project "$work/fm.veto" >/dev/null
# The first train computes and caches the features; the timed one below reads the cache.
$veto train "$work/fm.veto" --features pixels --epochs 1 --no-save >/dev/null 2>&1 || true
$veto train "$work/fm.veto" --features pixels --json >"$work/veto.json"

/usr/bin/python3 - "$data" "$work/veto.json" <<'PY'
import gzip, json, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression

data, veto_json = sys.argv[1], sys.argv[2]
def idx(name, offset):
    with gzip.open(f"{data}/{name}") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
xtr = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
ytr = idx("train-labels-idx1-ubyte.gz", 8)
xte = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
yte = idx("t10k-labels-idx1-ubyte.gz", 8)
mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
t0 = time.perf_counter()
clf = LogisticRegression(max_iter=100).fit(xtr, ytr)
sk_seconds = time.perf_counter() - t0
sk_acc = (clf.predict(xte) == yte).mean()
v = json.load(open(veto_json))
print(f"scikit-learn LogisticRegression: accuracy {sk_acc:.4f}, train {sk_seconds:.2f} s")
print(f"veto softmax (pixels):           accuracy {v['test_accuracy']:.4f}, train {v['train_seconds']:.2f} s ({v['epochs']} epochs)")
print(f"speed-up (scikit-learn time / veto time): {sk_seconds / v['train_seconds']:.1f}x")
PY
"$build"/bench/bench-rescore
