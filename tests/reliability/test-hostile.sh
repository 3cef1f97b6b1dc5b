#!/bin/bash
# test-hostile: feeds every file of the hostile corpus (make-hostile.sh) and a seeded batch of its mutants to veto: TAP on stdout.
#
# Usage: test-hostile.sh PATH/TO/veto
# Every corpus case must be refused: no crash (status < 128, no sanitizer report, no GLib
# critical, no hang), a non-zero status (1 for a bad input, 3 for a file given as the project),
# a "veto: " line naming the file, and the project exactly as it was (its bytes after a
# checkpoint, `veto info --json`, integrity and the files beside it). A mutant may also be
# accepted (a mutation can leave a file valid); when refused, the same rules hold.
# HOSTILE_SEED and HOSTILE_UNSEEN choose the mutants (default: seed 20261129, 80 of them).
set -u
NAME=hostile
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "$@"
# A hostile input must be dealt with quickly; only the 10 MB cases take a few seconds.
DEADLINE=${RELIABILITY_DEADLINE:-20}
SEED=${HOSTILE_SEED:-20261129}
UNSEEN=${HOSTILE_UNSEEN:-80}

# --- the victim project and the good files the cases are paired with ---

P=$T/proj/victim.veto
PRISTINE=$T/pristine.veto
GOOD=$T/good
mkdir -p "$T/proj" "$GOOD"
make_project "$P" 40 8 20 || { echo "Bail out! cannot make the victim project"; exit 1; }
# Train once so that the pixel features are cached: a refused --q or npy:FILE must then leave
# the file as it is.
"$VETO" train "$P" --epochs 1 >/dev/null 2>&1 || { echo "Bail out! cannot train the victim project"; exit 1; }
checkpoint "$P"
cp "$P" "$PRISTINE"
{ idx_header 3 3 2 2; bytes 1 2 3 4 5 6 7 8 9 10 11 12; } >"$GOOD/three.idx"
BASE=$(snapshot "$P")

"$HERE/make-hostile.sh" "$T/corpus" "$VETO" || { echo "Bail out! make-hostile.sh failed"; exit 1; }
"$HERE/make-hostile.sh" --unseen "$SEED" "$UNSEEN" "$T/corpus" "$T/unseen" \
  || { echo "Bail out! make-hostile.sh --unseen failed"; exit 1; }
note "corpus: $(wc -l <"$T/corpus/cases.tsv") cases; unseen: $UNSEEN mutants, seed $SEED"

# --- figures ---

TRIED=0
CRASHES=0
HANGS=0
CHANGED=0
UNNAMED=0
WRONG_STATUS=0
ACCEPTED=0

# file_state PATH: what a file given as the project looks like from outside.
file_state ()
{
  local p=$1
  if [ -L "$p" ]; then
    echo "symlink to $(readlink "$p")"
  elif [ -p "$p" ]; then
    echo "fifo"
  elif [ -f "$p" ]; then
    sha256sum <"$p"
  else
    echo "other: $(stat -c %F "$p" 2>&1)"
  fi
  # Any read-only open of a WAL-mode file leaves an empty -wal and a -shm index beside it (SQLite
  # does so for `veto info` on a good project too): only a -wal holding pages, or a rollback
  # journal, means something was written.
  [ -s "$p-wal" ] && echo "left beside it: $(basename "$p")-wal of $(stat -c %s "$p-wal") bytes"
  [ -e "$p-journal" ] && echo "left beside it: $(basename "$p")-journal"
  return 0
}

# restore: puts the pristine victim back (after an accepted mutant or a failed check).
restore ()
{
  rm -f "$P" "$P-wal" "$P-shm" "$P-journal"
  cp "$PRISTINE" "$P"
}

# run_case MODE KIND DESCRIPTION SHOWN TARGET SOURCE EXTRA: one case, in MODE strict (it must be
# refused) or lenient (a mutant: it may be accepted). Paths are relative to the current folder.
run_case ()
{
  local mode=$1 kind=$2 desc=$3 shown=$4 source=$6 extra=$7 want=1 problems="" after before=""
  local -a args
  # shellcheck disable=SC2206 # EXTRA is a list of words
  local -a more=($extra)
  case $kind in
    import) args=(import "$P" "$source" "${more[@]}") ;;
    labels) args=(import "$P" "$GOOD/three.idx" --labels "$source") ;;
    npy) args=(train "$P" --features "npy:$source" --epochs 1) ;;
    q) args=(train "$P" --supervision synthetic-complementary --q "$source" --epochs 1) ;;
    project-info) args=(info --json "$source"); want=3 ;;
    project-import) args=(import "$source" "$GOOD/three.idx"); want=3 ;;
    *) tap "$desc" "unknown case kind '$kind'"; return ;;
  esac
  [[ $kind == project-* ]] && before=$(file_state "$source")
  TRIED=$((TRIED + 1))
  # Refusing a FIFO takes no time; waiting on one is the failure to catch.
  if [ -p "$source" ]; then
    DEADLINE=5 run "${args[@]}"
  else
    run "${args[@]}"
  fi
  ERR_FILE=$T/err
  if is_crash; then
    if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
      HANGS=$((HANGS + 1))
    else
      CRASHES=$((CRASHES + 1))
    fi
    problems+="$(crash_note)"$'\n'
  fi
  if [ "$mode" = lenient ] && [ "$RC" -eq 0 ]; then
    ACCEPTED=$((ACCEPTED + 1))
    [[ $kind == project-* ]] || restore
    tap "$desc: accepted" "$problems"
    return
  fi
  if [ "$RC" -ne "$want" ] && ! is_crash; then
    WRONG_STATUS=$((WRONG_STATUS + 1))
    problems+="exit status $RC, expected $want"$'\n'
  fi
  # A mutant may be refused for what its mutation broke, in the file given (a manifest, say)
  # rather than the one the original case is about.
  if [ "$mode" = lenient ] && grep -qF -- "$(basename "$source")" "$T/err"; then
    shown=$(basename "$source")
  fi
  if ! grep -qF -- "$shown" "$T/err" || ! grep -q '^veto: ' "$T/err"; then
    UNNAMED=$((UNNAMED + 1))
    problems+="stderr has no \"veto: \" line naming '$shown'"$'\n'
  fi
  if [[ $kind == project-* ]]; then
    after=$(file_state "$source")
    if [ "$before" != "$after" ]; then
      CHANGED=$((CHANGED + 1))
      problems+="the file changed:"$'\n'"$(diff <(echo "$before") <(echo "$after") | grep '^[<>]')"$'\n'
    fi
  else
    after=$(snapshot "$P")
    if [ "$after" != "$BASE" ]; then
      CHANGED=$((CHANGED + 1))
      problems+="$(diff_snapshots "$BASE" "$after")"$'\n'
      restore
    fi
  fi
  tap "$desc: refused (status $RC)" "$(printf '%s' "$problems" | sed '/^$/d')"
  # VERBOSE=1 shows what veto said for passing cases too.
  [ "${VERBOSE:-0}" = 1 ] && head -c 300 "$T/err" | head -n 2 | sed 's/^/#     /'
  return 0
}

# run_list MODE DIR: every case of DIR/cases.tsv.
run_list ()
{
  local mode=$1 dir=$2 kind desc shown target source extra
  (
    cd "$dir" || exit 1
    while IFS=$'\t' read -r kind desc shown target source extra <&3; do
      run_case "$mode" "$kind" "$desc" "$shown" "$target" "$source" "$extra"
    done 3<cases.tsv
    # The subshell hands its counters back through a file.
    echo "$N $FAILED $TRIED $CRASHES $HANGS $CHANGED $UNNAMED $WRONG_STATUS $ACCEPTED" >"$T/counters"
  )
  read -r N FAILED TRIED CRASHES HANGS CHANGED UNNAMED WRONG_STATUS ACCEPTED <"$T/counters"
}

run_list strict "$T/corpus"
CORPUS_TRIED=$TRIED
run_list lenient "$T/unseen"

# The victim is the one it was at the start, whatever happened.
tap "the victim project is unchanged after $TRIED hostile inputs" \
  "$(diff_snapshots "$BASE" "$(snapshot "$P")")"

figure hostile_corpus "$CORPUS_TRIED"
figure hostile_unseen $((TRIED - CORPUS_TRIED))
figure hostile_tried "$TRIED"
figure hostile_crashes "$CRASHES"
figure hostile_hangs "$HANGS"
figure hostile_changed "$CHANGED"
figure hostile_unnamed "$UNNAMED"
figure hostile_wrong_status "$WRONG_STATUS"
figure hostile_unseen_accepted "$ACCEPTED"
note "hostile inputs tried: $TRIED ($CORPUS_TRIED corpus, $((TRIED - CORPUS_TRIED)) unseen, seed $SEED);" \
  "crashes: $CRASHES; hangs: $HANGS; projects changed: $CHANGED; not named: $UNNAMED;" \
  "wrong status: $WRONG_STATUS; mutants accepted: $ACCEPTED"
finish
