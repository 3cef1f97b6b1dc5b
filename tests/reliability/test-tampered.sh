#!/bin/bash
# test-tampered: project files edited with the sqlite3 shell (bad rows, foreign schema) given to every command: TAP on stdout.
#
# Usage: test-tampered.sh PATH/TO/veto
# A project file is untrusted input. Each case edits a copy of a small, valid project (embedded
# and file items, every kind of answer, a campaign, a trained round) the way a person with the
# sqlite3 shell could, then runs every command that reads a project on it. Each must refuse it
# with status 3 and a line naming the project, the table and the row (or the schema object),
# without a crash, a hang or a sanitizer report; `veto check` must list the same problem (status
# 1); `veto merge` must refuse the copy as a source and leave its target as it was; `veto serve`
# must refuse to start on it.
set -u
NAME=tampered
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "$@"
DEADLINE=${RELIABILITY_DEADLINE:-60}

# --- the pristine project ---

P=$T/proj/pristine.veto
mkdir -p "$T/proj/images/a" "$T/proj/images/b" "$T/work"
make_project "$P" 40 8 20 || { echo "Bail out! cannot make the project"; exit 1; }
# Two file items inside the project's folder (2×2 PNGs).
printf '%s' iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAE0lEQVR42mP4z8AARAxcInJABAAYcwJ3KTN4rAAAAABJRU5ErkJggg== \
  | base64 -d >"$T/proj/images/a/red.png"
printf '%s' iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR42mNgYPgPQlwickAEABR3Anf/Mhk+AAAAAElFTkSuQmCC \
  | base64 -d >"$T/proj/images/b/blue.png"
setup ()
{
  "$VETO" "$@" >"$T/out" 2>"$T/err" || { echo "Bail out! setup failed: $* ($(head -c 300 "$T/err"))"; exit 1; }
}
setup import "$P" "$T/proj/images" --split validation
setup campaign create "$P" --name c1 --protocol complementary --per-item 1 --candidates 4 --items 20
setup campaign simulate "$P" --name c1 --annotators 2 --profile uniform --seed 1
setup drive "$P" --answers 6 --kind ordinary --annotator ord --retrain-every 3
setup drive "$P" --answers 4 --kind preference --annotator pref --retrain-every 3
setup train "$P" --epochs 1
checkpoint "$P"
# Row ids the cases edit.
EMB=$(count "$P" "SELECT min(id) FROM items WHERE source = 'embedded'")
FILE=$(count "$P" "SELECT min(id) FROM items WHERE source = 'file'")
COMP=$(count "$P" "SELECT min(id) FROM annotations WHERE kind = 'complementary'")
ORD=$(count "$P" "SELECT min(id) FROM annotations WHERE kind = 'ordinary'")
PREF=$(count "$P" "SELECT min(id) FROM annotations WHERE kind = 'preference'")
CAMP=$(count "$P" "SELECT min(id) FROM campaigns")
note "items: embedded $EMB, file $FILE; answers: complementary $COMP, ordinary $ORD, preference $PREF"
case "$EMB$FILE$COMP$ORD$PREF$CAMP" in
  *'?'*) echo "Bail out! the pristine project lacks a row kind"; exit 1 ;;
esac

# The pristine project passes every command (a check that the cases below fail for their edit).
run check "$P"
tap "veto check: the pristine project is clean (status 0)" \
  "$(crash_note; [ "$RC" -eq 0 ] || echo "status $RC")"

# --- the cases: description, SQL, what the refusal must name [, read] ---
# A case marked "read" is a file item whose path names another file than the one imported: it is
# refused when the file is read (its sha256 differs), and commands that read no image may go on.

CASES=()
case_ ()
{
  CASES+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"${4:-open}")
}
case_ "embedded pixels shorter than width×height×channels" \
  "UPDATE items SET pixels = substr(pixels, 1, 10) WHERE id = $EMB" "items row $EMB"
case_ "embedded pixels longer than width×height×channels" \
  "UPDATE items SET pixels = pixels || pixels WHERE id = $EMB" "items row $EMB"
case_ "pixels that are text, not a blob" \
  "UPDATE items SET pixels = 'abc' WHERE id = $EMB" "items row $EMB"
case_ "channels outside {1, 3}" \
  "UPDATE items SET channels = 2 WHERE id = $EMB" "items row $EMB"
case_ "width beyond the importer's limit" \
  "UPDATE items SET width = 100000, pixels = zeroblob(100000 * height * channels) WHERE id = $EMB" \
  "items row $EMB"
case_ "width of zero" "UPDATE items SET width = 0 WHERE id = $EMB" "items row $EMB"
case_ "a split that does not exist" "UPDATE items SET split = 'train' WHERE id = $EMB" \
  "items row $EMB"
case_ "a gold class that does not exist" \
  "UPDATE items SET gold_class_id = 999 WHERE id = $EMB" "items row $EMB"
case_ "a file path leaving the project's folder" \
  "UPDATE items SET path = '../../../../../../../../etc/passwd' WHERE id = $FILE" "items row $FILE" read
case_ "a file path naming another image of the project" \
  "UPDATE items SET path = (SELECT path FROM items WHERE id = $FILE + 1) WHERE id = $FILE" \
  "items row $FILE" read
ln -s /etc/passwd "$T/proj/images/a/link.png"
case_ "a file path through a symbolic link out of the folder" \
  "UPDATE items SET path = replace(path, 'red.png', 'link.png') WHERE id = $FILE" \
  "items row $FILE" read
case_ "an absolute file path" \
  "UPDATE items SET path = '/etc/passwd' WHERE id = $FILE" "items row $FILE"
case_ "a file item whose path is NULL" \
  "UPDATE items SET path = NULL WHERE id = $FILE" "items row $FILE"
case_ "a sha256 that is not a hex digest" \
  "UPDATE items SET sha256 = 'xyz' WHERE id = $EMB" "items row $EMB"
case_ "an answer whose class does not exist" \
  "UPDATE annotations SET answer_class_id = 999 WHERE id = $COMP" "annotations row $COMP"
case_ "the class of answers deleted" \
  "DELETE FROM classes WHERE id = (SELECT answer_class_id FROM annotations WHERE id = $ORD)" \
  "row"
case_ "an ordinary answer without a class" \
  "UPDATE annotations SET answer_class_id = NULL WHERE id = $ORD" "annotations row $ORD"
case_ "an answer about an item that does not exist" \
  "UPDATE annotations SET item_id = 99999 WHERE id = $ORD" "annotations row $ORD"
case_ "an answer by an annotator that does not exist" \
  "UPDATE annotations SET annotator_id = 99999 WHERE id = $ORD" "annotations row $ORD"
case_ "a kind of answer that does not exist" \
  "UPDATE annotations SET kind = 'magic' WHERE id = $ORD" "annotations row $ORD"
case_ "a malformed question JSON" \
  "UPDATE annotations SET question = '{\"kind\": \"complementary\", ' WHERE id = $COMP" \
  "annotations row $COMP"
case_ "a question JSON of another kind than its row" \
  "UPDATE annotations SET question = replace(question, 'complementary', 'ordinary') WHERE id = $COMP" \
  "annotations row $COMP"
case_ "a question JSON about another item" \
  "UPDATE annotations SET item_id = (SELECT max(id) FROM items) WHERE id = $COMP" \
  "annotations row $COMP"
case_ "a candidate class that does not exist" \
  "UPDATE annotation_candidates SET class_id = 999 WHERE annotation_id = $COMP AND position = (SELECT min(position) FROM annotation_candidates WHERE annotation_id = $COMP AND class_id <> (SELECT answer_class_id FROM annotations WHERE id = $COMP))" \
  "annotation_candidates row"
case_ "a complementary answer that was not among the candidates" \
  "DELETE FROM annotation_candidates WHERE annotation_id = $COMP AND class_id = (SELECT answer_class_id FROM annotations WHERE id = $COMP)" \
  "annotations row $COMP"
case_ "a preference whose right item does not exist" \
  "UPDATE annotations SET right_item_id = 99999 WHERE id = $PREF" "annotations row $PREF"
case_ "a preference with an unknown side" \
  "UPDATE annotations SET preferred = 'up' WHERE id = $PREF" "annotations row $PREF"
case_ "a campaign asking for 0 answers per item" \
  "UPDATE campaigns SET answers_per_item = 0 WHERE id = $CAMP" "campaigns row $CAMP"
case_ "a campaign showing more candidates than there are classes" \
  "UPDATE campaigns SET n_candidates = 50 WHERE id = $CAMP" "campaigns row $CAMP"
case_ "a campaign item that does not exist" \
  "UPDATE campaign_items SET item_id = 99999 WHERE rowid = (SELECT min(rowid) FROM campaign_items)" \
  "campaign_items row"
case_ "a trigger Veto did not create" \
  "CREATE TRIGGER wipe AFTER INSERT ON annotations BEGIN DELETE FROM items; END" "trigger"
case_ "a view Veto did not create" \
  "CREATE VIEW everything AS SELECT * FROM items" "view"
case_ "a table Veto did not create" "CREATE TABLE extra (x)" "table"
case_ "an index dropped" "DROP INDEX annotations_item" "index"
case_ "a column missing" "ALTER TABLE annotations DROP COLUMN flagged" "annotations"

# --- the commands every case is given to ---

TARGET=$T/work/target.veto
COMMANDS=(
  "info"
  "info --json"
  "train --epochs 1"
  "train --epochs 1 --supervision answers --features hog"
  "eval"
  "export --format jsonl --out $T/work/x.jsonl"
  "export --format csv --out $T/work/x.csv"
  "export --format climage --out $T/work/climage"
  "export --format imagefolder --out $T/work/folder"
  "stats"
  "stats --campaign c1 --json"
  "campaign show --name c1"
  "simulate --out $T/work/sim --budget 20 --init 10 --batch 10 --seeds 1 --strategy margin"
  "drive --answers 3"
  "serve --listen 127.0.0.1:0"
)

CRASHES=0
TRIED=0
for c in "${CASES[@]}"; do
  IFS=$'\t' read -r desc sql names mode <<<"$c"
  # Beside the pristine project, so that its file items' paths lead to the same images.
  B=$T/proj/bad.veto
  rm -rf "$T/work"/* "$B" "$B"-*
  cp "$P" "$B"
  if ! sqlite3 "$B" "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF; $sql" 2>"$T/err"; then
    tap "$desc: the edit applies" "sqlite3: $(head -c 300 "$T/err")"
    continue
  fi
  checkpoint "$B"
  for cmd in "${COMMANDS[@]}"; do
    # shellcheck disable=SC2086 # the command's words
    set -- $cmd
    sub=$1
    shift
    [ "$sub" = campaign ] && { sub="campaign $1"; shift; }
    # A server of a project it accepts runs until stopped: test-tampered.py in the web suite
    # serves the cases that are refused only when an image is read.
    [ "$sub" = serve ] && [ "$mode" = read ] && continue
    # shellcheck disable=SC2086 # "campaign show" is two words
    run $sub "$B" "$@"
    TRIED=$((TRIED + 1))
    problems=$(crash_note)
    [ -n "$problems" ] && CRASHES=$((CRASHES + 1))
    if [ "$mode" = read ] && [ "$RC" -eq 0 ]; then
      grep -qs 'root:' "$T/out" "$T/work"/*.* "$T/work"/*/* && problems+=$'\n'"another file's bytes were exported"
    else
      [ "$RC" -eq 3 ] || problems+=$'\n'"status $RC, not 3"
      grep -qF "bad.veto" "$T/err" || problems+=$'\n'"the message does not name the project"
      grep -qF "$names" "$T/err" || problems+=$'\n'"the message does not name \"$names\""
    fi
    tap "$desc: $sub $* $([ "$mode" = read ] && echo "reads no other file" || echo "refuses it")" \
      "$problems"
  done
  if [ "$mode" = read ]; then
    # HOG features are not cached yet: every image is read.
    run train "$B" --features hog --epochs 1
    problems=$(crash_note)
    [ "$RC" -eq 3 ] || problems+=$'\n'"status $RC, not 3"
    grep -qF "$names" "$T/err" || problems+=$'\n'"the message does not name \"$names\""
    tap "$desc: train reading the images refuses it" "$problems"
  fi
  run check "$B"
  problems=$(crash_note)
  [ "$RC" -eq 1 ] || problems+=$'\n'"status $RC, not 1"
  grep -qF "$names" "$T/out" || problems+=$'\n'"check does not list \"$names\""
  tap "$desc: check lists it" "$problems"
  cp "$P" "$TARGET"
  checkpoint "$TARGET"
  before=$(snapshot "$TARGET")
  run merge "$TARGET" "$B"
  problems=$(crash_note)
  [ -n "$problems" ] && CRASHES=$((CRASHES + 1))
  if [ "$mode" = read ]; then
    # Merging reads no image: the answers drive gave the copy above are merged.
    [ "$RC" -eq 0 ] || problems+=$'\n'"status $RC, not 0"
    tap "$desc: merge takes its answers" "$problems"
  else
    [ "$RC" -eq 3 ] || problems+=$'\n'"status $RC, not 3"
    grep -qF "$names" "$T/err" || problems+=$'\n'"the message does not name \"$names\""
    problems+=$(diff_snapshots "$before" "$(snapshot "$TARGET")")
    tap "$desc: merge refuses it as a source, target unchanged" "$problems"
  fi
done
figure tampered_cases "${#CASES[@]}"
figure tampered_runs "$TRIED"
figure tampered_crashes "$CRASHES"
note "${#CASES[@]} cases, $TRIED command runs, $CRASHES crashes"
finish
