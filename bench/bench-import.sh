#!/bin/bash
# bench-import: times `veto init` + importing all 70,000 Fashion-MNIST images as whole processes (5 runs, median).
# Usage: bench/bench-import.sh [VETO]   (default build/app/veto; RUNS=5, FASHION_MNIST_DIR)
set -euo pipefail

veto=${1:-build/app/veto}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
runs=${RUNS:-5}
classes="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"

[[ -x $veto ]] || { echo "bench-import: $veto is not an executable (give the veto binary as \$1)" >&2; exit 2; }
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz \
         t10k-labels-idx1-ubyte.gz; do
  [[ -r $data/$f ]] || { echo "bench-import: $data/$f is missing (apt install dataset-fashion-mnist)" >&2; exit 2; }
done
veto=$(cd "$(dirname "$veto")" && pwd)/$(basename "$veto")
work=$(mktemp -d "${TMPDIR:-/tmp}/veto-bench-import.XXXXXX")
trap 'rm -rf "$work"' EXIT
project=$work/fashion.veto

# One run: a new project, then the 60,000 training images into the pool and the 10,000 test
# images into the test split, each with its gold labels.
cat >"$work/run.sh" <<EOF
#!/bin/bash
set -e
rm -f "$project" "$project-wal" "$project-shm"
"$veto" init "$project" --classes "$classes" >/dev/null
"$veto" import "$project" "$data/train-images-idx3-ubyte.gz" \\
  --labels "$data/train-labels-idx1-ubyte.gz" >/dev/null 2>&1
"$veto" import "$project" "$data/t10k-images-idx3-ubyte.gz" \\
  --labels "$data/t10k-labels-idx1-ubyte.gz" --split test >/dev/null 2>&1
EOF
chmod +x "$work/run.sh"

echo "veto: $veto"
echo "data: $data"
times=()
if command -v hyperfine >/dev/null; then
  hyperfine --runs "$runs" --warmup 0 --export-json "$work/times.json" "$work/run.sh" >&2
  mapfile -t times < <(tr -d ' \n' <"$work/times.json" | sed 's/.*"times":\[\([^]]*\)\].*/\1/' \
                       | tr ',' '\n')
else
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s.%N)
    "$work/run.sh"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
fi
for ((i = 0; i < ${#times[@]}; i++)); do
  printf 'run %d: %.3f s\n' $((i + 1)) "${times[i]}"
done
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ t[NR] = $1 } END {
  print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }')
printf 'median of %d: %.3f s\n' "${#times[@]}" "$median"

# A fast import that stored nothing would be no result: check the last run's project.
"$veto" info "$project" | sed -n 's/^ *items */items: /p'
