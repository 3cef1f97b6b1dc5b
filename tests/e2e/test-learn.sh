#!/usr/bin/env bash
# End-to-end tests of training, evaluation and simulation: the veto binary on a generated project.
set -u
VETO=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
failed=0

check() { # description command...
  local what=$1
  shift
  n=$((n + 1))
  if "$@" >"$T/out" 2>"$T/err"; then
    echo "ok $n - $what"
  else
    echo "not ok $n - $what"
    sed 's/^/# /' "$T/err" | head -20
    failed=$((failed + 1))
  fi
}

# Three classes of 4×4 images, each lighting its own third of the pixels, with noise.
/usr/bin/python3 - "$T" <<'PY'
import random, struct, sys
d = sys.argv[1]
rng = random.Random(5)
def write(name, count):
    imgs, labs = bytearray(), bytearray()
    for i in range(count):
        c = i % 3
        labs.append(c)
        for p in range(16):
            v = (170 if p % 3 == c else 60) + rng.randint(-50, 50)
            imgs.append(max(0, min(255, v)))
    open(f"{d}/{name}-images", "wb").write(struct.pack(">IIII", 0x803, count, 4, 4) + imgs)
    open(f"{d}/{name}-labels", "wb").write(struct.pack(">II", 0x801, count) + labs)
write("pool", 600)
write("test", 90)
open(f"{d}/q.txt", "w").write("Transition Matrix tensor([\n [0.02, 0.49, 0.49],\n [0.49, 0.02, 0.49],\n [0.49, 0.49, 0.02]])\n")
open(f"{d}/bad-q.txt", "w").write("0.5 0.5\n0.2 0.3 0.5\n")
# Row 1 gives 0.9 to one class, which 2 shown candidates of 3 cannot: no annotator answers so.
open(f"{d}/skewed.txt", "w").write("0.0 0.5 0.5\n0.1 0.0 0.9\n0.5 0.5 0.0\n")
PY
P=$T/p.veto
"$VETO" init "$P" --classes left,middle,right >/dev/null
"$VETO" import "$P" "$T/pool-images" --labels "$T/pool-labels" >/dev/null
"$VETO" import "$P" "$T/test-images" --labels "$T/test-labels" --split test >/dev/null

json_number() { # key file
  sed -n "s/.*\"$1\" : \([0-9.eE+-]*\).*/\1/p" "$2" | head -1
}
at_least() { # value minimum
  awk -v v="$1" -v m="$2" 'BEGIN { exit !(v + 0 >= m + 0) }'
}

check "train on gold labels" "$VETO" train "$P" --json
cp "$T/out" "$T/train.json"
check "gold accuracy at least 0.95" at_least "$(json_number test_accuracy "$T/train.json")" 0.95
check "train JSON has the documented fields" grep -q '"per_class_accuracy"' "$T/train.json"
check "eval of the saved round" "$VETO" eval "$P" --json
check "eval agrees with train" test "$(json_number test_accuracy "$T/out")" = "$(json_number test_accuracy "$T/train.json")"
check "synthetic CLs through a PyTorch-printed matrix, FWD" "$VETO" train "$P" --no-save --json \
  --supervision synthetic-complementary --q "$T/q.txt" --loss fwd
check "FWD accuracy at least 0.9" at_least "$(json_number test_accuracy "$T/out")" 0.9
check "URE-GA with Ishida et al.'s recipe, MLP" "$VETO" train "$P" --no-save --json \
  --supervision synthetic-complementary --loss ure-ga --recipe ishida2019 --model mlp
cp "$T/out" "$T/recipe.json"
check "the recipe trains on pixels in [0, 1]" grep -q '"features" : "pixels:v1:side=32,std=0"' "$T/recipe.json"
check "the recipe runs 300 epochs" test "$(json_number epochs "$T/recipe.json")" = 300
check "URE-GA accuracy at least 0.9" at_least "$(json_number test_accuracy "$T/recipe.json")" 0.9
check "the recipe on gold labels" "$VETO" train "$P" --no-save --json --recipe ishida2019
cp "$T/out" "$T/recipe-gold.json"
check "the recipe keeps Adam's 300 epochs where L-BFGS would stop early" \
  test "$(json_number epochs "$T/recipe-gold.json")" = 300
check "model selection on held-out CLs alone" "$VETO" train "$P" --no-save --json \
  --supervision synthetic-complementary --loss ure-ga --model mlp --hidden 16 --epochs 30 \
  --select lr=1e-7,1e-2 --holdout 0.3
cp "$T/out" "$T/select.json"
check "the held-out URE 0-1 risk chose the rate that learns" \
  grep -q '"chosen" : "lr=1e-2"' "$T/select.json"
check "the selection names its criterion" grep -q '"criterion" : "ure-01"' "$T/select.json"
check "every setting's held-out score and test accuracy are reported" \
  test "$(grep -c '"held_out_score"' "$T/select.json")" = 2
check "the chosen setting's model at least 0.9" \
  at_least "$(json_number test_accuracy "$T/select.json")" 0.9
check "an accuracy estimate from the held-out CLs" grep -q '"estimated_from" : "cls"' \
  "$T/select.json"
check "a refit of the chosen setting on every item" "$VETO" train "$P" --no-save --json \
  --supervision synthetic-complementary --loss ure-ga --model mlp --hidden 16 --epochs 30 \
  --select lr=1e-7,1e-2 --holdout 0.3 --refit
cp "$T/out" "$T/refit.json"
check "the refit trains on all 600 pool items" test "$(json_number train_size "$T/refit.json")" = 600
check "the refit runs the epochs the held-out CLs chose" \
  test "$(json_number epochs "$T/refit.json")" = "$(json_number best_epoch "$T/refit.json")"
check "the refit model at least 0.9" at_least "$(json_number test_accuracy "$T/refit.json")" 0.9
check "selection on the last epoch's held-out score" "$VETO" train "$P" --no-save --json \
  --supervision synthetic-complementary --loss ure-ga --model mlp --hidden 16 --epochs 12 \
  --select lr=1e-7,1e-2 --holdout 0.3 --keep last
cp "$T/out" "$T/last.json"
check "--keep last runs every epoch of every setting" \
  test "$(grep -c '"best_epoch" : 12' "$T/last.json")" = 3
check "each setting's held-out score is its last epoch's" /usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["selection"]
assert all(c["held_out_score"] == c["epoch_scores"][-1] for c in s["candidates"])
assert s["chosen"] == "lr=1e-2"' "$T/last.json"
check "a refit of a weight average" "$VETO" train "$P" --no-save --json \
  --supervision synthetic-complementary --loss ure-ga --model mlp --hidden 16 --epochs 30 \
  --select lr=1e-7,1e-2 --holdout 0.3 --average 5 --refit
cp "$T/out" "$T/average.json"
check "the averaged refit repeats the whole schedule on all 600 items" \
  test "$(json_number epochs "$T/average.json")/$(json_number train_size "$T/average.json")" \
  = 30/600
check "the refit keeps the mean of its last 5 epochs" \
  test "$(json_number averaged_epochs "$T/average.json")" = 5
check "the averaged refit at least 0.9" \
  at_least "$(json_number test_accuracy "$T/average.json")" 0.9
check "a selection by 3-fold cross-validation" "$VETO" train "$P" --no-save --json \
  --supervision synthetic-complementary --loss ure-ga --model mlp --hidden 16 --epochs 12 \
  --select lr=1e-7,1e-2 --folds 3 --average 3 --refit
cp "$T/out" "$T/folds.json"
check "each setting is scored by the mean of its 3 folds, every CL held out once" \
  /usr/bin/python3 -c '
import json, math, sys
d = json.load(open(sys.argv[1]))
s = d["selection"]
assert s["folds"] == 3 and s["holdout"] == 0 and s["chosen"] == "lr=1e-2", s
for c in s["candidates"]:
    f = c["fold_scores"]
    m = sum(f) / 3
    assert len(f) == 3 and abs(c["held_out_score"] - m) < 1e-12, c
    assert abs(c["held_out_se"] - math.sqrt(sum((x - m) ** 2 for x in f) / 2 / 3)) < 1e-12, c
    assert len(c["epoch_scores"]) == 3 * 12
best = min(s["candidates"], key=lambda c: c["held_out_score"])
assert best["setting"] == s["chosen"]
assert d["held_out"] == 600 and d["validation_score"] == best["held_out_score"]
assert d["train_size"] == 600 and d["epochs"] == 12 and d["averaged_epochs"] == 3, d
assert d["test_accuracy"] >= 0.9' "$T/folds.json"
check "the text output gives each fold mean and its standard error" "$VETO" train "$P" \
  --no-save --supervision synthetic-complementary --model mlp --hidden 16 --epochs 5 \
  --select lr=1e-7,1e-2 --folds 3 --keep last --refit
cp "$T/out" "$T/folds.txt"
check "the text names the folds and the standard error" \
  grep -q "the mean over 3 folds (each CL held out once, 600 in all" "$T/folds.txt"
check "the text has a fold mean ± SE column" grep -q "fold mean ± SE" "$T/folds.txt"
for bad in "--folds 1" "--folds 3 --holdout 0.2" "--folds 3 --supervision gold" "--folds 21"; do
  n=$((n + 1))
  "$VETO" train "$P" --no-save --supervision synthetic-complementary --select lr=1e-2 --refit \
    $bad >/dev/null 2>&1
  if [ $? -eq 2 ]; then echo "ok $n - train $bad is a usage error"
  else echo "not ok $n - train $bad is a usage error"; failed=$((failed + 1)); fi
done
n=$((n + 1))
"$VETO" train "$P" --no-save --supervision synthetic-complementary --select lr=1e-2 --folds 3 \
  >/dev/null 2>&1
if [ $? -eq 2 ]; then echo "ok $n - --folds without --refit is a usage error"
else echo "not ok $n - --folds without --refit is a usage error"; failed=$((failed + 1)); fi
check "the text output shows the choice" "$VETO" train "$P" --no-save \
  --supervision synthetic-complementary --model mlp --hidden 16 --epochs 5 \
  --select lr=1e-7,1e-2 --select hidden=8 --criterion scel
cp "$T/out" "$T/select.txt"
check "the text names the setting chosen and the criterion" \
  grep -q "Chose lr=1e-2 hidden=8 by the held-out CLs' SCEL" "$T/select.txt"
for bad in "--recipe bogus" "--schedule bogus" "--select bogus=1" "--select lr=abc" \
  "--select model=tree" "--criterion bogus" "--holdout 1.5" "--refit" "--keep bogus" \
  "--keep best --average 3" "--average -1"; do
  n=$((n + 1))
  "$VETO" train "$P" --no-save $bad >/dev/null 2>&1
  if [ $? -eq 2 ]; then echo "ok $n - train $bad is a usage error"
  else echo "not ok $n - train $bad is a usage error"; failed=$((failed + 1)); fi
done

n=$((n + 1))
if "$VETO" train "$P" --no-save --supervision synthetic-complementary --q "$T/bad-q.txt" 2>"$T/err"; then
  echo "not ok $n - a non-square matrix is refused"; failed=$((failed + 1))
elif grep -q "bad-q.txt" "$T/err"; then echo "ok $n - a non-square matrix is refused, naming the file"
else echo "not ok $n - the message names the matrix file"; failed=$((failed + 1)); fi

n=$((n + 1))
"$VETO" simulate "$P" --out "$T/s" --strategy bogus >/dev/null 2>&1
if [ $? -eq 2 ]; then echo "ok $n - an unknown strategy is a usage error"
else echo "not ok $n - an unknown strategy is a usage error"; failed=$((failed + 1)); fi

n=$((n + 1))
"$VETO" simulate "$P" --scratch -q --mode complementary --shown 2 --budget 40 --batch 20 \
  --init 20 --seeds 1 --annotator "biased:$T/skewed.txt" --out "$T/s-skewed" >/dev/null 2>"$T/err"
if [ $? -eq 1 ] && grep -q "skewed.txt: row 1" "$T/err"; then
  echo "ok $n - a profile no choice model reproduces is refused (exit 1), naming the row"
else echo "not ok $n - a profile no choice model reproduces is refused (exit 1), naming the row"
  sed 's/^/# /' "$T/err"; failed=$((failed + 1)); fi

# The same check guards the other simulated annotators: drive's and campaign simulate's.
cp "$P" "$T/p-profile.veto"
before=$(sha256sum <"$T/p-profile.veto")
for how in "drive --answers 5 --shown 2 --profile biased:$T/skewed.txt" \
           "campaign simulate --name c2 --annotators 2 --profile biased:$T/skewed.txt"; do
  n=$((n + 1))
  [ "${how%% *}" = campaign ] && { "$VETO" campaign create "$T/p-profile.veto" --name c2 \
    --protocol complementary --per-item 1 --candidates 2 --items 20 >/dev/null;
    before=$(sha256sum <"$T/p-profile.veto"); }
  # shellcheck disable=SC2086 # the command's words
  set -- $how
  if [ "$1" = campaign ]; then sub=("$1" "$2"); shift 2; else sub=("$1"); shift; fi
  "$VETO" "${sub[@]}" "$T/p-profile.veto" "$@" >/dev/null 2>"$T/err"
  rc=$?
  if [ $rc -eq 1 ] && grep -q "skewed.txt: row 1" "$T/err" \
     && [ "$(sha256sum <"$T/p-profile.veto")" = "$before" ]; then
    echo "ok $n - ${sub[*]}: a profile no choice model reproduces is refused (exit 1), naming the row, no answer written"
  else echo "not ok $n - ${sub[*]}: a profile no choice model reproduces is refused (exit $rc), naming the row, no answer written"
    sed 's/^/# /' "$T/err"; failed=$((failed + 1)); fi
done

"$VETO" info "$P" --json >"$T/info-before"
check "simulate --scratch, two strategies, two seeds" "$VETO" simulate "$P" --scratch -q \
  --out "$T/sim" --budget 60 --batch 20 --init 20 --seeds 2 --strategy margin,random --target 0.5
check "curve.csv has a row per round, strategy and seed" test "$(wc -l <"$T/sim/curve.csv")" -eq 13
check "summary.json gives each strategy's final accuracy" grep -q '"final_accuracy"' "$T/sim/summary.json"
check "curve.png is a PNG" sh -c "head -c 8 '$T/sim/curve.png' | od -An -c | grep -q 'P   N   G'"
check "simulate --seeds 2-2 runs seed 2 alone, as the two-seed run did" "$VETO" simulate "$P" \
  --scratch -q --out "$T/sim-seed2" --budget 60 --batch 20 --init 20 --seeds 2-2 --strategy margin
check "… the same curve, row for row, and summary.json lists the seed" sh -c \
  "grep '^margin,2,' '$T/sim/curve.csv' | cut -d, -f1-5 >'$T/seed2-of-two' \
   && tail -n +2 '$T/sim-seed2/curve.csv' | cut -d, -f1-5 | cmp -s - '$T/seed2-of-two' \
   && [ -s '$T/seed2-of-two' ] && tr -d ' \n' <'$T/sim-seed2/summary.json' | grep -q '\"seed_list\":\\[2\\]'"
for bad in 3-2 0 2-x; do
  "$VETO" simulate "$P" --scratch -q --out "$T/sim-bad" --seeds "$bad" >/dev/null 2>"$T/seeds-err"
  check "--seeds $bad is refused as usage (exit 2, naming --seeds)" \
    sh -c "[ $? -eq 2 ] && grep -q -- '--seeds' '$T/seeds-err'"
done
"$VETO" info "$P" --json >"$T/info-after"
check "--scratch leaves the project as it was" cmp -s "$T/info-before" "$T/info-after"

# --scratch on a project written by the previous schema: the copy is migrated, the file is not.
cp "$P" "$T/v1.veto"
sqlite3 "$T/v1.veto" "DROP TABLE tokens; DROP TABLE leases; DROP INDEX annotations_answer_uid;
  DROP INDEX annotations_campaign; ALTER TABLE annotations DROP COLUMN answer_uid;
  PRAGMA user_version = 1"
sha256sum <"$T/v1.veto" >"$T/v1-before"
check "simulate --scratch on a schema-1 project" "$VETO" simulate "$T/v1.veto" --scratch -q \
  --mode ordinary --out "$T/sim-v1" --budget 40 --batch 20 --init 20 --seeds 1
check "--scratch leaves the schema-1 project byte-identical, with no backup beside it" \
  sh -c "sha256sum <'$T/v1.veto' | cmp -s - '$T/v1-before' && ! ls '$T'/v1.veto.v*.bak 2>/dev/null"
check "drive upgrades a schema-1 project (a backup beside it) and answers" \
  sh -c "'$VETO' drive '$T/v1.veto' --answers 5 --kind ordinary >/dev/null && ls '$T'/v1.veto.v1.bak >/dev/null \
         && [ \$(sqlite3 '$T/v1.veto' 'PRAGMA user_version') -ge 2 ] \
         && [ \$(sqlite3 '$T/v1.veto' \"SELECT count(*) FROM annotations a JOIN annotators n ON n.id = a.annotator_id WHERE n.name = 'veto-drive'\") -eq 5 ]"

# --scratch on a project of image files: the copy reads them from the project's own folder.
/usr/bin/python3 - "$T/files" <<'PY'
import os, struct, sys, zlib
def png(path, grey):
    raw = b"".join(b"\0" + bytes([grey] * 4) for _ in range(4))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0))
    open(path, "wb").write(data + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for split, shift in (("pool", 0), ("test", 20)):
    for c, base in (("dark", 30), ("light", 200)):
        os.makedirs(f"{sys.argv[1]}/{split}/{c}", exist_ok=True)
        for i in range(12):
            png(f"{sys.argv[1]}/{split}/{c}/{i}.png", base + shift + i)
PY
"$VETO" init "$T/files/f.veto" --classes dark,light >/dev/null
"$VETO" import "$T/files/f.veto" "$T/files/pool" >/dev/null
"$VETO" import "$T/files/f.veto" "$T/files/test" --split test >/dev/null
mkdir "$T/tmp"
check "simulate --scratch on a project of image files" env TMPDIR="$T/tmp" "$VETO" simulate \
  "$T/files/f.veto" --scratch -q --mode ordinary --out "$T/sim-files" --budget 12 --batch 4 \
  --init 4 --seeds 1
check "the scratch copy is gone afterwards" test -z "$(ls -A "$T/tmp")"

for mode in complementary preference agcd distill; do
  extra=""
  [ "$mode" = agcd ] && extra="--novel 1 --strategy agcd,random"
  [ "$mode" = distill ] && extra="--strategy distill,margin,random"
  check "simulate --mode $mode" "$VETO" simulate "$P" --scratch -q --mode "$mode" \
    --out "$T/sim-$mode" --budget 60 --batch 20 --init 20 --seeds 1 $extra
  check "simulate --mode $mode wrote its curve" test -s "$T/sim-$mode/curve.png"
done
check "agcd reports novel coverage" grep -q '"novel_coverage"' "$T/sim-agcd/summary.json"
check "agcd's curve has each round's novel ratio and uniformity" \
  grep -q 'novel_coverage,novel_ratio,novel_uniformity,seconds' "$T/sim-agcd/curve.csv"
check "the second round reports the first batch's novel ratio, in [0, 1]" \
  awk -F, 'NR == 3 && $1 == "agcd" { found = ($10 != "" && $10 >= 0 && $10 <= 1) } END { exit !found }' \
  "$T/sim-agcd/curve.csv"

for model in estimated anchors oracle uniform; do
  check "simulate --mode complementary --annotator-model $model" "$VETO" simulate "$P" --scratch \
    -q --mode complementary --annotator-model "$model" --anchors 0.25 --budget 60 --batch 20 \
    --init 20 --seeds 1 --strategy margin --out "$T/sim-model-$model"
done
# 50 anchors: the fit (10 per class) starts at 120 answers, and from then `estimated` refines
# it by EM over every answer with cross-fitted classifiers; `anchors` keeps the anchors' fit.
for model in anchors estimated; do
  check "simulate --annotator-model $model with enough anchors to fit" "$VETO" simulate "$P" \
    --scratch -q --mode complementary --annotator "biased:$T/q.txt" --annotator-model "$model" \
    --anchors 0.25 --budget 200 --batch 40 --init 40 --seeds 1 --strategy margin \
    --out "$T/sim-fit-$model"
done
# same_model_until N A.csv B.csv: B's annotator_error is A's in every round before N answers,
# and differs in one from N on.
same_model_until() {
  awk -F, -v n="$1" 'FNR == 1 { f++ } f == 1 && FNR > 1 { a[$4] = $8 }
    f == 2 && FNR > 1 { if ($4 < n && $8 != a[$4]) bad = 1; if ($4 >= n && $8 != a[$4]) moved = 1 }
    END { exit bad || !moved }' "$2" "$3"
}
check "the estimated model is the anchors' fit until 120 answers, and refines it after" \
  same_model_until 120 "$T/sim-fit-anchors/curve.csv" "$T/sim-fit-estimated/curve.csv"
# Short of the anchors' fit (none, or 15 of the 30 it needs): the uniform model until 200
# answers, then (`estimated`) the uniform model refined by the same EM; `anchors` keeps the
# uniform model throughout.
for rate in 0 0.05; do
  for model in anchors estimated; do
    check "simulate --annotator-model $model --anchors $rate" "$VETO" simulate "$P" --scratch -q \
      --mode complementary --annotator "biased:$T/q.txt" --annotator-model "$model" \
      --anchors "$rate" --budget 300 --batch 50 --init 50 --seeds 1 --strategy margin \
      --out "$T/sim-em-$rate-$model"
  done
  check "with --anchors $rate the estimated model is uniform until 200 answers, learned by EM after" \
    same_model_until 200 "$T/sim-em-$rate-anchors/curve.csv" "$T/sim-em-$rate-estimated/curve.csv"
done
check "the oracle model is the simulated annotator's own: annotator_error 0 every round" \
  awk -F, 'NR == 1 { ok = ($8 == "annotator_error") } NR > 1 && $8 != 0 { ok = 0 } END { exit !ok }' \
  "$T/sim-model-oracle/curve.csv"
check "--annotator-model must be one of four" sh -c \
  "'$VETO' simulate '$P' --scratch -q --mode complementary --annotator-model psychic --out '$T/x'; test \$? -eq 2"
check "simulate --holdout 0.2 estimates the accuracy from held-out answers" "$VETO" simulate "$P" \
  --scratch -q --mode complementary --holdout 0.2 --budget 100 --batch 20 --init 20 --seeds 1 \
  --strategy margin --out "$T/sim-holdout"
check "curve.csv has estimated_accuracy and the criterion that chose the model" \
  grep -q '^margin,1,5,100,[0-9.]*,[0-9.][0-9.]*,answers,' "$T/sim-holdout/curve.csv"
check "summary.json has final_estimated_accuracy" \
  grep -q '"final_estimated_accuracy"' "$T/sim-holdout/summary.json"
check "simulate --holdout 0.2 --anchors 0.5 holds the anchors out too" "$VETO" simulate "$P" \
  --scratch -q --mode complementary --holdout 0.2 --anchors 0.5 --budget 100 --batch 20 \
  --init 20 --seeds 1 --strategy margin --out "$T/sim-holdout-anchors"
check "...and estimates from their gold labels: inside its interval, within 0.2 of the test accuracy" \
  awk -F, 'END { ok = ($11 == "anchors" && $9 <= $6 && $6 <= $10 && ($6 - $5)^2 < 0.04); exit !ok }' \
  "$T/sim-holdout-anchors/curve.csv"
check "summary.json says what the estimate came from" \
  grep -q '"estimated_from" : "anchors"' "$T/sim-holdout-anchors/summary.json"
check "without --holdout no estimate, and the criterion is none" \
  grep -q '^margin,1,3,60,[0-9.]*,,none,' "$T/sim-model-estimated/curve.csv"
cp "$P" "$T/anchors.veto"
check "simulate with --anchors 0.5 records answers" "$VETO" simulate "$T/anchors.veto" -q \
  --mode complementary --anchors 0.5 --budget 100 --batch 20 --init 20 --seeds 1 \
  --strategy margin --out "$T/sim-anchors"
anchors=$(/usr/bin/python3 -c "import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute(\"SELECT COUNT(*) FROM annotations WHERE strategy = 'anchor'\").fetchone()[0])" "$T/anchors.veto")
check "about half of the 100 answers were gold anchors ($anchors)" test "$anchors" -ge 35 -a "$anchors" -le 65

# The information strategy may ask an item again, so its budget may exceed the pool (600 items);
# the gold anchors are drawn from the items never asked, and a batch may take the last of those
# (a run then drew its anchors from none, for ever, until stop 24).
cp "$P" "$T/again.veto"
check "simulate --strategy information spends 900 answers on 600 pool items, a quarter anchors" \
  timeout 300 "$VETO" simulate "$T/again.veto" -q --mode complementary --anchors 0.25 \
  --budget 900 --batch 100 --init 100 --seeds 1 --strategy information --out "$T/sim-again"
check "… every answer recorded, items asked again, each anchor on an item not asked before" \
  /usr/bin/python3 - "$T/again.veto" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT item_id, strategy FROM annotations ORDER BY id").fetchall()
seen, fresh_anchors, anchors = set(), 0, 0
for item, strategy in rows:
    if strategy == "anchor":
        anchors += 1
        fresh_anchors += item not in seen
    seen.add(item)
again = len(rows) - len(seen)
print(f"# {len(rows)} answers on {len(seen)} items ({again} asked again), {anchors} anchors")
sys.exit(0 if len(rows) == 900 and again > 0 and 150 <= anchors <= 300
         and fresh_anchors == anchors else 1)
PY

# Whether PROJECT holds 1,800 answers that ask each of the 600 pool items three times, in three
# passes of 600 distinct items, the second time without the class named the first time (of 3
# classes, 2 shown; an informative set, so not simulate's gold anchors, half of which get uniform
# sets); with ERRFILE, also that its run said it ran out of questions.
three_passes () {
  /usr/bin/python3 - "$@" <<'PY'
import collections, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT id, item_id, answer_class_id, strategy IS 'anchor' FROM annotations "
                  "ORDER BY id").fetchall()
items = [item for (_, item, _, _) in rows]
passes = [items[k * 600:(k + 1) * 600] for k in range(3)]
shown = collections.defaultdict(set)
for annotation, cls in db.execute("SELECT annotation_id, class_id FROM annotation_candidates"):
    shown[annotation].add(cls)
named, reshown = {}, 0
for annotation, item, answer, anchor in rows:
    if item in named and named[item] is not None:
        reshown += not anchor and named[item] in shown[annotation]
        named[item] = None
    elif item not in named:
        named[item] = answer
said = open(sys.argv[2]).read() if len(sys.argv) > 2 else "ran out"
print(f"{len(items)} answers on {len(set(items))} items, {reshown} second questions showing "
      f"the class named the first time; {said.strip()}", file=sys.stderr)
sys.exit(0 if len(items) == 1800 and all(len(set(p)) == 600 for p in passes)
         and reshown == 0 and "ran out" in said else 1)
PY
}

# The window's engine (drive) asks a person about every pool item, then about every item again
# with a new set, three times in all (VETO_SESSIONS_MAX_ASKS), complementary questions only.
cp "$P" "$T/passes.veto"
"$VETO" drive "$T/passes.veto" --kind complementary --shown 2 --answers 1850 --retrain-every 300 \
  >/dev/null 2>"$T/passes-err"
check "drive asks each of the 600 pool items three times, a pass before the next, no class again" \
  three_passes "$T/passes.veto" "$T/passes-err"

# simulate goes round the pool as the window does: margin spends 1,800 answers on the 600 items,
# each asked three times, a pass over all of them before the next; 1,801 are refused. The
# annotator names the truth when shown it 30% of the time, and the loss knows it (oracle), so a
# "not c" leaves c much of its posterior: before stop 25 the informative set showed c again on
# 231 of the 600 second questions.
cp "$P" "$T/sim-passes.veto"
check "simulate --strategy margin spends 1,800 complementary answers on 600 pool items" \
  "$VETO" simulate "$T/sim-passes.veto" -q --mode complementary --shown 2 --anchors 0.05 \
  --annotator noisy:rho=0.3 --annotator-model oracle --budget 1800 --batch 200 --init 200 \
  --seeds 1 --strategy margin --out "$T/sim-passes"
check "… each item three times, a pass before the next, no ruled-out class again" three_passes "$T/sim-passes.veto"
"$VETO" simulate "$P" --scratch -q --mode complementary --shown 2 --budget 1801 --batch 200 \
  --init 200 --seeds 1 --strategy margin --out "$T/sim-too-many" >/dev/null 2>"$T/too-many-err"
check "a budget over three passes is refused (exit 1), saying what it needs" \
  sh -c "[ $? -eq 1 ] && grep -q 'needs 601 pool items' '$T/too-many-err'"

# After the first round, half of each batch's anchors get the run's candidate rule (here 2 of the
# 3 classes in proportion to the model's p, so the gold class is nearly always shown) and half
# uniform sets (the gold class shown 2 times in 3).
cp "$P" "$T/anchor-sets.veto"
check "simulate --shown 2 with --anchors 0.5" "$VETO" simulate "$T/anchor-sets.veto" -q \
  --mode complementary --anchors 0.5 --shown 2 --budget 200 --batch 20 --init 20 --seeds 1 \
  --strategy margin --out "$T/sim-anchor-sets"
check "half of the anchors are asked with the run's candidate rule, half with uniform sets" \
  /usr/bin/python3 - "$T/anchor-sets.veto" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
names = dict(db.execute("SELECT id, name FROM classes"))
groups, last = [], None
for id_, question, gold in db.execute(
        "SELECT a.id, a.question, i.gold_class_id FROM annotations a JOIN items i "
        "ON i.id = a.item_id WHERE a.strategy = 'anchor' ORDER BY a.id"):
    if last is None or id_ != last + 1:
        groups.append([])  # the anchors of one batch are consecutive answers
    groups[-1].append(names[gold] in json.loads(question)["candidates"])
    last = id_
ruled = [shown for g in groups[1:] for shown in g[:len(g) // 2]]
uniform = [shown for g in groups[1:] for shown in g[len(g) // 2:]]
print(sum(ruled), len(ruled), sum(uniform), len(uniform), file=sys.stderr)
sys.exit(not (len(ruled) >= 30 and sum(ruled) >= 0.95 * len(ruled)
              and sum(uniform) <= 0.85 * len(uniform)))
PY

# drive --lockstep waits for each round: answers 20b to 20b + 19 are all asked by the round that
# saw the first 20b, and a second run from the same seed on a copy asks and answers the same questions.
for r in a b; do
  cp "$P" "$T/lockstep-$r.veto"
  "$VETO" drive "$T/lockstep-$r.veto" --kind complementary --shown 2 --answers 60 \
    --retrain-every 20 --lockstep --seed 2 >/dev/null 2>"$T/err-lockstep-$r"
  sqlite3 "$T/lockstep-$r.veto" "SELECT item_id, answer_class_id, question, model_version,
    strategy FROM annotations ORDER BY id" >"$T/lockstep-$r.txt"
done
check "drive --lockstep: each block of 20 answers asked by one round, a new one per block" \
  test "$(sqlite3 "$T/lockstep-a.veto" "SELECT count(DISTINCT i / 20 || ':' || ifnull(v, '-'))
    || ' ' || count(DISTINCT ifnull(v, '-')) FROM (SELECT row_number() OVER (ORDER BY id) - 1
    AS i, model_version AS v FROM annotations)")" = "3 3"
check "drive --lockstep: the same seed asks and answers the same 60 questions" \
  sh -c "[ \$(wc -l <'$T/lockstep-a.txt') -eq 60 ] && cmp -s '$T/lockstep-a.txt' '$T/lockstep-b.txt'"

check "simulate without --scratch records simulated answers" "$VETO" simulate "$P" -q \
  --out "$T/sim-kept" --budget 40 --batch 20 --init 20 --seeds 1 --strategy random
check "the answers are in the project" grep -q '"ordinary" : 40' <("$VETO" info "$P" --json)

echo "1..$n"
[ "$failed" -eq 0 ]
