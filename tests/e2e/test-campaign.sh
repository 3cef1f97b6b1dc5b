#!/bin/bash
# End-to-end test of campaigns, merge, stats and dataset exports from the command line: TAP.
#
# Usage: test-campaign.sh PATH/TO/veto
# Three annotators fill copies of one project with simulated answers; the copies merged into a
# fourth must equal one project where the three worked one after another, and merging again
# must add nothing. Fixtures are generated here (printf; no Python).

set -u

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "Bail out! usage: $0 PATH/TO/veto"
  exit 1
fi
VETO=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=$(mktemp -d "${TMPDIR:-/tmp}/veto-e2e-campaign.XXXXXX") \
  || { echo "Bail out! mktemp failed"; exit 1; }
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
mkdir -p proj data exports
export LC_ALL=C.UTF-8 NO_COLOR=1

N=0
FAILED=0

# tap DESC PROBLEMS: one result line; PROBLEMS empty means it passed.
tap ()
{
  N=$((N + 1))
  if [ -z "$2" ]; then
    echo "ok $N - $1"
  else
    FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    printf '%s\n' "$2" | sed '/^$/d; s/^/#   /'
    if [ -s "$T/err" ]; then
      echo "#   stderr was:"
      head -c 2000 "$T/err" | sed 's/^/#     /'
    fi
  fi
}

RC=0
run ()
{
  "$VETO" "$@" >"$T/out" 2>"$T/err" </dev/null
  RC=$?
}

# expect_status DESC STATUS ARGS...: veto ARGS exits with STATUS, without a GLib warning.
expect_status ()
{
  local desc=$1 want=$2 problems=""
  shift 2
  run "$@"
  [ "$RC" -eq "$want" ] || problems+="exit status $RC, expected $want ($*)"$'\n'
  grep -qE -- '-(WARNING|CRITICAL) \*\*' "$T/err" && problems+="a GLib warning on stderr"$'\n'
  tap "$desc" "$problems"
}

# expect_in FILE DESC STRING...: the last command's stdout or stderr holds every STRING.
expect_in ()
{
  local file=$1 desc=$2 text problems=""
  shift 2
  for text in "$@"; do
    grep -qF -- "$text" "$T/$file" || problems+="$file lacks \"$text\""$'\n'
  done
  [ -n "$problems" ] && problems+="$file was: $(head -c 1500 "$T/$file")"
  tap "$desc" "$problems"
}

# json_int FILE KEY: the integer of the first "KEY" : N line of pretty JSON.
json_int ()
{
  sed -n "s/^ *\"$2\" : \\(-\\{0,1\\}[0-9][0-9]*\\),\\{0,1\\}\$/\\1/p" "$1" | head -n 1
}

# expect_json DESC FILE "key=value ...": integers in a JSON output.
expect_json ()
{
  local desc=$1 file=$2 pair key value got problems=""
  for pair in $3; do
    key=${pair%%=*}
    value=${pair#*=}
    got=$(json_int "$file" "$key")
    [ "$got" = "$value" ] || problems+="$key is '$got', expected $value"$'\n'
  done
  tap "$desc" "$problems"
}

# snapshot PROJECT: the file's bytes and what veto reads in it.
snapshot ()
{
  sha256sum <"$1"
  "$VETO" info --json "$1" 2>&1
  "$VETO" campaign show "$1" --json 2>&1
}

bytes ()
{
  local b
  for b in "$@"; do
    # shellcheck disable=SC2059 # the format is the escape that makes the byte
    printf "\\$(printf '%03o' "$b")"
  done
}

be32 ()
{
  bytes $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255))
}

# idx COUNT FIRST IMAGES LABELS: COUNT 4×4 images, each unique through its first pixel
# (FIRST + i), labelled i % 3.
idx ()
{
  local count=$1 first=$2 i j labels=()
  {
    bytes 0 0 8 3
    be32 "$count"
    be32 4
    be32 4
    for ((i = 0; i < count; i++)); do
      bytes $((first + i))
      for ((j = 1; j < 16; j++)); do
        bytes $(((i * j * 7 + j) % 256))
      done
    done
  } >"$3"
  for ((i = 0; i < count; i++)); do
    labels+=($((i % 3)))
  done
  { bytes 0 0 8 1; be32 "$count"; bytes "${labels[@]}"; } >"$4"
}

# --- a project: 40 pool items, 10 test items, gold labels on all ---

idx 40 0 data/pool.idx data/pool-labels.idx
idx 10 100 data/test.idx data/test-labels.idx
idx 1 200 data/extra.idx data/extra-labels.idx
expect_status "init" 0 init proj/base.veto --classes a,b,c
expect_status "import the pool" 0 import proj/base.veto data/pool.idx --labels data/pool-labels.idx
expect_status "import the test split" 0 import proj/base.veto data/test.idx \
  --labels data/test-labels.idx --split test

# --- campaign create / show ---

expect_status "campaign create: complementary, 3 per item, 2 candidates, 30 items, anchors 0.25" 0 \
  campaign create proj/base.veto --name c1 --protocol complementary --per-item 3 --candidates 2 \
  --items 30 --anchors 0.25
expect_in out "campaign create reports 40 items of which 10 anchors" "40 items (10 of them anchors)"
run campaign show proj/base.veto --name c1 --json
cp "$T/out" show.json
expect_json "campaign show --json: 40 items, 10 anchors, nothing answered" show.json \
  "items=40 anchors=10 answers=0 complete_items=0 missing_answers=120 per_item=3 candidates=2"

before=$(snapshot proj/base.veto)
expect_status "campaign create with a name taken: exit 1" 1 \
  campaign create proj/base.veto --name c1 --protocol ordinary --per-item 1
expect_in err "the refusal names the campaign" "c1"
expect_status "campaign create with more items than the pool: exit 1" 1 \
  campaign create proj/base.veto --name big --protocol ordinary --per-item 1 --items 41
tap "refused creates leave the project unchanged" \
  "$([ "$(snapshot proj/base.veto)" = "$before" ] || echo "the project changed")"
expect_status "campaign create without --name: usage" 2 \
  campaign create proj/base.veto --protocol ordinary --per-item 1
expect_status "campaign create --protocol soft: usage" 2 \
  campaign create proj/base.veto --name x --protocol soft --per-item 1
expect_status "campaign create --anchors 1.5: usage" 2 \
  campaign create proj/base.veto --name x --protocol ordinary --per-item 1 --anchors 1.5
expect_status "campaign create --items many: usage" 2 \
  campaign create proj/base.veto --name x --protocol ordinary --per-item 1 --items many
expect_status "campaign without a subcommand: usage" 2 campaign
expect_status "campaign show of an unknown campaign: exit 1" 1 \
  campaign show proj/base.veto --name nope

# --- three annotators on copies, and one project where they work one after another ---

for p in ref alice bob carol target conflict; do
  cp proj/base.veto "proj/$p.veto"
done
seed=1
for who in alice bob carol; do
  expect_status "$who answers her copy (simulated, uniform)" 0 campaign simulate "proj/$who.veto" \
    --name c1 --annotators 1 --profile uniform --seed $seed --prefix "$who"
  expect_in out "$who gives 40 answers" "gave 40 answers"
  expect_status "$who answers in the shared project" 0 campaign simulate proj/ref.veto \
    --name c1 --annotators 1 --profile uniform --seed $seed --prefix "$who"
  seed=$((seed + 1))
done
run campaign show proj/ref.veto --name c1 --json
cp "$T/out" ref-show.json
expect_json "the shared project: every item answered exactly 3 times" ref-show.json \
  "answers=120 complete_items=40 over_covered_items=0 missing_answers=0"
expect_status "a fourth annotator finds nothing left" 0 campaign simulate proj/ref.veto \
  --name c1 --annotators 1 --profile uniform --prefix dave
expect_in out "the fourth annotator gives no answer" "gave 0 answers"

# --- merge ---

expect_status "merge three copies" 0 merge proj/target.veto proj/alice.veto proj/bob.veto \
  proj/carol.veto
expect_in out "merge reports 120 answers added" "120 added, 0 already there" "3 annotators"
run campaign show proj/target.veto --name c1 --json
grep -v '_at"' "$T/out" >target-show.json
grep -v '_at"' ref-show.json >ref-show-untimed.json
tap "the merged project covers the campaign as the shared one does" \
  "$(diff ref-show-untimed.json target-show.json)"
run stats proj/target.veto --campaign c1 --json
grep -v seconds "$T/out" >target-stats.json
run stats proj/ref.veto --campaign c1 --json
grep -v seconds "$T/out" >ref-stats.json
tap "stats of the merged project equal the shared one's (same answers)" \
  "$(diff ref-stats.json target-stats.json)"
info_before=$("$VETO" info --json proj/target.veto)
expect_status "merge the same copies again" 0 merge proj/target.veto proj/alice.veto \
  proj/bob.veto proj/carol.veto
expect_in out "merging again adds nothing" "0 added, 120 already there"
tap "the twice-merged project holds the same answers" \
  "$([ "$("$VETO" info --json proj/target.veto)" = "$info_before" ] || echo "info changed")"
expect_status "merge a project into itself: exit 1" 1 merge proj/target.veto proj/target.veto

# A copy that answered an item the target does not have: refused, the target untouched.
expect_status "import an extra item into one copy" 0 import proj/conflict.veto data/extra.idx \
  --labels data/extra-labels.idx
expect_status "a campaign over every item of that copy" 0 campaign create proj/conflict.veto \
  --name c2 --protocol complementary --per-item 1 --candidates 2 --items all
expect_status "its annotator answers them all" 0 campaign simulate proj/conflict.veto --name c2 \
  --annotators 1 --profile uniform --prefix erin
before=$(snapshot proj/target.veto)
expect_status "merging it is refused: exit 1" 1 merge proj/target.veto proj/conflict.veto
expect_in err "the conflict is listed" "conflict:" "no such item" "nothing was merged"
tap "the refused merge leaves the target unchanged" \
  "$([ "$(snapshot proj/target.veto)" = "$before" ] || echo "the target changed")"

# --- stats ---

run stats proj/target.veto --campaign c1 --json
cp "$T/out" stats.json
problems=""
for key in noise_rate overall per_annotator transition_matrix counts probabilities alice-1 \
  noise_rate_anchors choice_model names_truth_when_shown weights own pull_towards_pooled; do
  grep -q "\"$key\"" stats.json || problems+="no \"$key\""$'\n'
done
grep -q krippendorff stats.json && problems+="krippendorff_alpha without ordinary answers"$'\n'
tap "stats --json: noise rates (overall, per annotator), T with counts and probabilities, the pooled and each annotator's choice model" \
  "$problems"
expect_json "stats --json counts 120 answers, 30 of them on anchors" stats.json \
  "answers=120 answers_on_gold=120 answers_on_anchors=30"
expect_in out "a uniform annotator never names the gold class" '"overall" : 0.0,'
expect_status "stats of an unknown campaign: exit 1" 1 stats proj/target.veto --campaign nope

# The candidate-aware loss, train's default for answers, fits the annotators' choice model to
# the anchors' answers.
expect_status "train on the answers, candidate-aware loss" 0 train proj/target.veto \
  --supervision answers --no-save --json
cp "$T/out" train.json
expect_in out "answers train with the candidate-aware loss unless --loss says otherwise" \
  '"loss" : "candidate"'
expect_json "train fits the annotator model to the 30 answers on anchors" train.json \
  "annotator_model_anchor_answers=30"
# FWD takes its Q from that model (the sets were uniform).
expect_status "train on the answers, FWD" 0 train proj/target.veto --supervision answers \
  --loss fwd --no-save --json
cp "$T/out" train-fwd.json
expect_json "FWD fits the annotator model to the 30 answers on anchors" train-fwd.json \
  "annotator_model_anchor_answers=30"
expect_in out "FWD reports the Q it took from the model" '"q_used"'
# stats --anchors-only reads what train fitted its model to: the 30 answers on anchors.
run stats proj/target.veto --anchors-only --json
cp "$T/out" stats-anchors.json
expect_json "stats --anchors-only reads the 30 answers on anchors train fits to" stats-anchors.json \
  "answers=30 answers_on_gold=30 answers_on_anchors=30"
expect_in out "stats --anchors-only says so and prints the pooled choice model" \
  '"anchors_only" : true' '"choice_model"' '"weights"'
expect_status "stats --anchors-only with --campaign: usage" 2 stats proj/target.veto \
  --anchors-only --campaign c1

# The learner's own pooled model: train saves it in its round (the round's metrics are its
# --json), and stats prints the latest round's beside the anchors' fit; a copy whose round lies
# about it is refused, naming the project and the round.
cp proj/target.veto proj/learner.veto
expect_status "train saves a round" 0 train proj/learner.veto --supervision answers --json
expect_in out "train's JSON carries the pooled annotator model its loss used" \
  '"annotator_model" : ['
round=$(sqlite3 proj/learner.veto "SELECT max(version) FROM rounds")
expect_status "stats --json of a project with a trained round" 0 stats proj/learner.veto --json
expect_in out "stats --json gives that round's model" '"learner_model" : {' \
  "\"round\" : $round"
expect_status "stats of a project with a trained round" 0 stats proj/learner.veto
expect_in out "stats prints the learner's pooled model" \
  "the learner's pooled model in round $round"
expect_status "stats of a campaign leaves the learner out" 0 stats proj/learner.veto \
  --campaign c1 --json
expect_in out "… (its learner_model is null)" '"learner_model" : null'
# A round that kept a person's own model (the engine's and train's do once someone has 25 anchor
# answers; here written into the round): stats prints it under that person.
who=$(sqlite3 proj/learner.veto "SELECT min(annotator_id) FROM annotations")
sqlite3 proj/learner.veto "UPDATE rounds SET metrics = json_set (metrics,
  '$.own_annotator_models', json ('[{\"annotator_id\": $who, \"weights\": [[0.01, 2, 1],
  [1, 0.01, 2], [2, 1, 0.01]]}]')) WHERE version = $round"
expect_status "stats with a person's own model in the round" 0 stats proj/learner.veto --json
expect_in out "… in learner_model's own list" '"own" : [' "\"annotator_id\" : $who"
expect_status "stats text with a person's own model" 0 stats proj/learner.veto
expect_in out "… printed under that person" "the learner's model of them in round $round"
sqlite3 proj/learner.veto "UPDATE rounds SET metrics = json_set (metrics,
  '$.own_annotator_models', json ('[{\"annotator_id\": $who, \"weights\": [[1, 2], [2, 1]]}]'))
  WHERE version = $round"
expect_status "stats refuses an own model that is not K×K" 3 stats proj/learner.veto
expect_in err "… naming the project and the round" \
  "learner.veto: round $round's own_annotator_models"
# A smaller square model is from before classes were added: none is shown, nothing refused.
sqlite3 proj/learner.veto "UPDATE rounds SET metrics = json_set (metrics, '$.annotator_model',
  json ('[[1, 2], [3, 4]]')) WHERE version = $round"
expect_status "stats of a round from before classes were added" 0 stats proj/learner.veto --json
expect_in out "… shows no learner's model" '"learner_model" : null'
sqlite3 proj/learner.veto "UPDATE rounds SET metrics = json_set (metrics, '$.annotator_model',
  json ('[[1, 2, 3], [3, 4, 5], [0, 1, 2]]')) WHERE version = $round"
expect_status "stats refuses a round whose annotator model has a weight of 0" 3 stats \
  proj/learner.veto
expect_in err "… naming the project and the round" "learner.veto: round $round's annotator_model"

# --- exports ---

expect_status "export climage" 0 export proj/target.veto --format climage --campaign c1 \
  --out exports/climage
expect_in out "export climage reports 40 items with 120 CLs" "40 items with 120 complementary"
problems=""
for f in dataset.jsonl images.npy cl_labels.npy candidates.npy ord_labels.npy classes.txt; do
  [ -s "exports/climage/$f" ] || problems+="no $f"$'\n'
done
head -c 128 exports/climage/images.npy | grep -qF "'shape': (40, 4, 4, 1)" \
  || problems+="images.npy is not 40×4×4×1"$'\n'
head -c 128 exports/climage/cl_labels.npy | grep -qF "'shape': (40, 3)" \
  || problems+="cl_labels.npy is not 40×3"$'\n'
head -c 128 exports/climage/candidates.npy | grep -qF "'shape': (40, 3, 2)" \
  || problems+="candidates.npy is not 40×3×2"$'\n'
head -c 128 exports/climage/ord_labels.npy | grep -qF "'descr': '<i8'" \
  || problems+="ord_labels.npy is not int64"$'\n'
[ "$(wc -l <exports/climage/dataset.jsonl)" -eq 40 ] \
  || problems+="dataset.jsonl is not 40 lines"$'\n'
[ "$(tr '\n' , <exports/climage/classes.txt)" = "a,b,c," ] || problems+="classes.txt"$'\n'
tap "the climage folder holds the arrays with their shapes, 40 JSON lines and the classes" \
  "$problems"

expect_status "an ordinary campaign over the test split" 0 campaign create proj/target.veto \
  --name c3 --protocol ordinary --per-item 3 --items test
expect_status "three noisy ordinary annotators fill it" 0 campaign simulate proj/target.veto \
  --name c3 --annotators 3 --profile ordinary:noise=0.3 --seed 5
run stats proj/target.veto --campaign c3 --json
expect_in out "stats of ordinary answers give Krippendorff's alpha" '"krippendorff_alpha"'
expect_status "export imagefolder" 0 export proj/target.veto --format imagefolder --campaign c3 \
  --out exports/folder
written=$(find exports/folder -name '*.png' | wc -l)
skipped=$(sed -n 's/.*(\([0-9]*\) items without a majority.*/\1/p' "$T/out")
others=$(find exports/folder -mindepth 1 -maxdepth 1 ! -name a ! -name b ! -name c)
problems=""
[ "$((written + skipped))" -eq 10 ] && [ "$written" -gt 0 ] \
  || problems+="$written written, $skipped skipped of 10"$'\n'
[ -z "$others" ] || problems+="not a class folder: $others"$'\n'
tap "imagefolder writes one PNG per item with a majority, in class folders" "$problems"
expect_status "export climage of an ordinary campaign: exit 1" 1 export proj/target.veto \
  --format climage --campaign c3 --out exports/none
expect_status "export --campaign with csv: usage" 2 export proj/target.veto --format csv \
  --campaign c1 --out exports/x.csv

# --- close ---

expect_status "campaign close" 0 campaign close proj/target.veto --name c3
expect_status "closing it again: exit 1" 1 campaign close proj/target.veto --name c3
expect_status "a closed campaign is not simulated: exit 1" 1 campaign simulate proj/target.veto \
  --name c3 --annotators 1 --profile ordinary
run campaign show proj/target.veto --name c3
expect_in out "campaign show says closed" "closed"

for cmd in "campaign create" "campaign show" "campaign close" "campaign simulate" merge stats; do
  # shellcheck disable=SC2086 # the subcommand is two words
  run $cmd --help
  problems=""
  [ "$RC" -eq 0 ] || problems+="exit status $RC"$'\n'
  grep -q "Exit status" "$T/out" || problems+="stdout lacks \"Exit status\""$'\n'
  tap "veto $cmd --help documents the exit status" "$problems"
done

echo "1..$N"
[ "$FAILED" -eq 0 ]
