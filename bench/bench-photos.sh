#!/usr/bin/env bash
# Benchmark: 2,000 ordinary 1024×768 JPEG photos in class folders: `veto import` + pixel features, against Pillow's draft() decode of the same files in the same run.
# Usage: bench/bench-photos.sh [OTHER_VETO...]   (each OTHER_VETO, e.g. an older build, is timed the same way)
set -euo pipefail
# shellcheck source=prepare.sh
. "$(dirname "$0")/prepare.sh"
vetos=("$PWD/$build/app/veto")
for other in "$@"; do
  vetos+=("$(cd "$(dirname "$other")" && pwd)/$(basename "$other")")
done

# The photos are made once and kept: smooth random scenes (a coarse colour field, finer
# texture, a little noise), tinted per class, saved at JPEG quality 85 (about 80 KB each).
cache="${TMPDIR:-/tmp}/veto-bench-photos"
photos="$cache/photos"
if [ ! -f "$cache/complete" ]; then
  rm -rf "$photos"
  mkdir -p "$photos"
  /usr/bin/python3 - "$photos" 2000 <<'PY'
import os, sys
import numpy as np
from PIL import Image
out, n, classes = sys.argv[1], int(sys.argv[2]), 10
rng = np.random.default_rng(13)
for c in range(classes):
    os.makedirs(f"{out}/class{c:02d}", exist_ok=True)
tint = rng.uniform(0.6, 1.4, (classes, 3))
for i in range(n):
    c = i % classes
    low = rng.uniform(0, 255, (6, 8, 3)) * tint[c]
    img = Image.fromarray(np.clip(low, 0, 255).astype(np.uint8)).resize((1024, 768), Image.BICUBIC)
    mid = Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).resize((1024, 768), Image.BILINEAR)
    img = Image.blend(img, mid, 0.15)
    a = np.asarray(img, dtype=np.int16) + rng.integers(-1, 2, (768, 1024, 1), dtype=np.int16)
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(
        f"{out}/class{c:02d}/img{i:05d}.jpg", quality=85)
PY
  touch "$cache/complete"
fi
echo "photos: $(find -L "$photos" -name '*.jpg' | wc -l) files, $(du -shL "$photos" | cut -f1) in $photos"
cat "$photos"/*/*.jpg >/dev/null   # every run starts from the page cache

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now () { date +%s.%N; }

# Pillow: draft() asks libjpeg for its DCT scaling (here 1/8: 128×96), then the decode; one
# core, no hashing, nothing stored. The floor Veto's import + features is held against.
pil=$(/usr/bin/python3 - "$photos" <<'PY'
import glob, sys, time
from PIL import Image
files = sorted(glob.glob(f"{sys.argv[1]}/*/*.jpg"))
t0 = time.perf_counter()
for f in files:
    with Image.open(f) as im:
        im.draft("RGB", (32, 24))
        im.load()
print(f"{time.perf_counter() - t0:.3f}")
PY
)
printf 'Pillow draft() decode of 2,000 photos (1 core): %.2f s (%.0f photos/s)\n' "$pil" \
  "$(echo "2000 / $pil" | bc -l)"

for veto in "${vetos[@]}"; do
  project="$work/photos-$RANDOM.veto"
  "$veto" init "$project" >/dev/null
  t0=$(now)
  "$veto" import "$project" "$photos" >/dev/null 2>&1
  t1=$(now)
  "$veto" train "$project" --features pixels --json >"$work/train.json" 2>/dev/null
  features=$(sed -n 's/.*"features_seconds" *: *\([0-9.e-]*\).*/\1/p' "$work/train.json")
  import=$(echo "$t1 - $t0" | bc -l)
  total=$(echo "$import + $features" | bc -l)
  printf '%s\n  import %.2f s, pixel features %.2f s, together %.2f s (%.0f photos/s); %.2fx the Pillow decode\n' \
    "$veto" "$import" "$features" "$total" "$(echo "2000 / $total" | bc -l)" \
    "$(echo "$total / $pil" | bc -l)"
  echo "$total" >>"$work/totals"
  "$veto" info "$project" | sed -n 's/^ *items */  items: /p'
done
if [ "${#vetos[@]}" -gt 1 ]; then
  first=$(sed -n 1p "$work/totals")
  for ((i = 2; i <= ${#vetos[@]}; i++)); do
    printf 'speed-up of %s over %s: %.1fx\n' "${vetos[0]}" "${vetos[i - 1]}" \
      "$(echo "$(sed -n "${i}p" "$work/totals") / $first" | bc -l)"
  done
fi
