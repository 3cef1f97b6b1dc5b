#!/bin/bash
# test-sigkill: kills `veto drive` and `veto import` with SIGKILL at random moments and checks that nothing acknowledged is lost: TAP on stdout.
#
# Usage: test-sigkill.sh PATH/TO/veto
# Drive trials (SIGKILL_TRIALS, default 50): `veto drive P --answers 200 --kind K
# --retrain-every 5 --acks` on one project that every trial reuses (so each trial also recovers
# from the previous kill), killed after a random 0.05-2 s (less when a whole run is quicker), or
# (one trial in three) right after a burst of answers that starts a retrain. Every id printed as "ack ID" must be a row of
# annotations; the file must pass PRAGMA integrity_check and `veto info` must open it.
# Import trials (SIGKILL_IMPORT_TRIALS, default 10): `veto import` of a 20000-image IDX killed at
# a random moment: the project holds all of that import or none of it.
# SIGKILL_SEED makes the moments reproducible (default 4242).
set -u
NAME=sigkill
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "$@"
SEED=${SIGKILL_SEED:-4242}
TRIALS=${SIGKILL_TRIALS:-50}
IMPORT_TRIALS=${SIGKILL_IMPORT_TRIALS:-10}
ANSWERS=200
RETRAIN_EVERY=5
RANDOM=$SEED
note "seed $SEED"

KILL_MAX_MS=2000
PACE=""
"$VETO" drive --help 2>/dev/null | grep -q -- '--pace' && PACE=10
ACKED_TOTAL=0
FOUND_TOTAL=0
LOST_TOTAL=0
CRASHES=0
DRIVE_TRIALS_RUN=0
KILLED_MID=0

# acks OUT: the acknowledged ids in OUT, one a line (a last line cut by the kill is left out).
acks ()
{
  local out=$1
  if [ -s "$out" ] && [ "$(tail -c 1 "$out" | od -An -tx1 | tr -d ' ')" != 0a ]; then
    sed '$d' "$out"
  else
    cat "$out"
  fi | sed -n 's/^ack \([0-9][0-9]*\)$/\1/p'
}

# ack_count OUT: how many complete ack lines OUT holds so far.
ack_count ()
{
  grep -c '^ack [0-9][0-9]*$' "$1" 2>/dev/null
}

# check_project DESC PROJECT: after a kill, veto opens the project and SQLite finds it whole.
# veto goes first, so that it is veto's own recovery of the WAL that is checked.
check_project ()
{
  local desc=$1 p=$2 problems="" ok
  run info --json "$p"
  if [ "$RC" -ne 0 ]; then
    problems+="veto info exits $RC after the kill: $(head -c 300 "$T/err")"$'\n'
    is_crash && problems+="$(crash_note)"$'\n'
  fi
  ok=$(integrity "$p")
  [ "$ok" = ok ] || problems+="PRAGMA integrity_check: $ok"$'\n'
  [ -z "$problems" ] || CRASHES=$((CRASHES + 1))
  ERR_FILE=/dev/null tap "$desc" "$problems"
}

# kill_at_random PID OUT MODE: SIGKILL after a random 0.05-2 s (MODE random), or right after the
# ack that completes a burst of RETRAIN_EVERY answers, which starts a retrain (MODE retrain).
# Sets KILLED_AT to what was waited for.
kill_at_random ()
{
  local pid=$1 out=$2 mode=$3 target waited=0
  if [ "$mode" = retrain ]; then
    target=$((RETRAIN_EVERY * (1 + RANDOM % 12)))
    # Poll every 5 ms for the burst's last ack; give up after 60 s.
    while [ "$(ack_count "$out")" -lt "$target" ] && kill -0 "$pid" 2>/dev/null \
        && [ "$waited" -lt 12000 ]; do
      sleep 0.005
      waited=$((waited + 1))
    done
    sleep_random 0 40
    KILLED_AT="after ack $target (+0-40 ms)"
  else
    sleep_random 50 "$KILL_MAX_MS"
    KILLED_AT="after a random pause"
  fi
  kill -KILL "$pid" 2>/dev/null
}

# ======================================================================================
# 1. veto drive, killed
# ======================================================================================

drive_trials ()
{
  local p=$T/drive/answers.veto trial kind mode out err acked found lost before after missing
  local problems status started full_ms limit
  local -a pace
  mkdir -p "$T/drive"
  make_project "$p" 2000 16 200 || { tap "make the drive project" "make_project failed"; return; }
  # How long a whole run takes here (on a copy, warm): the kills must land inside runs, not
  # after them, so the 0.05-2 s window shrinks to 90% of that when a run is quicker.
  cp "$p" "$T/drive/timing.veto"
  run drive "$T/drive/timing.veto" --answers "$ANSWERS" --retrain-every "$RETRAIN_EVERY" --acks \
    --annotator warm-up
  started=$(date +%s%N)
  run drive "$T/drive/timing.veto" --answers "$ANSWERS" --retrain-every "$RETRAIN_EVERY" --acks \
    --annotator timing
  full_ms=$((($(date +%s%N) - started) / 1000000))
  KILL_MAX_MS=$((full_ms * 9 / 10))
  [ "$KILL_MAX_MS" -le 2000 ] || KILL_MAX_MS=2000
  [ "$KILL_MAX_MS" -ge 100 ] || KILL_MAX_MS=100
  note "a run of $ANSWERS answers takes $full_ms ms (status $RC): kills fall 50-$KILL_MAX_MS ms in"
  for ((trial = 1; trial <= TRIALS; trial++)); do
    case $((trial % 5)) in
      3) kind=ordinary ;;
      4) kind=preference ;;
      *) kind=complementary ;;
    esac
    mode=random
    [ $((trial % 3)) -eq 0 ] && mode=retrain
    # Every other trial answers at a person's pace (10 ms, iterating the main context as the
    # window does), so that rounds are delivered and recorded while answers keep coming.
    pace=()
    limit=$KILL_MAX_MS
    if [ -n "$PACE" ] && [ $((trial % 2)) -eq 0 ]; then
      pace=(--pace "$PACE")
      limit=2000
    fi
    out=$T/drive/out.$trial
    err=$T/drive/err.$trial
    before=$(count "$p" 'SELECT count(*) FROM annotations')
    # A new annotator each trial: the engine never asks an annotator the same item twice, so
    # the pool stays fresh for every trial.
    spawn "$out" "$err" drive "$p" --answers "$ANSWERS" --kind "$kind" \
      --retrain-every "$RETRAIN_EVERY" --acks --annotator "trial-$trial" "${pace[@]}"
    KILL_MAX_MS=$limit kill_at_random "$SPAWNED" "$out" "$mode"
    reap "$SPAWNED"
    status=$RC
    DRIVE_TRIALS_RUN=$((DRIVE_TRIALS_RUN + 1))
    problems=""
    # 137 is our SIGKILL; 0 means it had finished its answers first. Anything else is a failure
    # of its own.
    if [ "$status" -ne 137 ] && [ "$status" -ne 0 ]; then
      problems+="veto drive ended by itself with status $status before the kill"$'\n'
      CRASHES=$((CRASHES + 1))
    fi
    problems+="$(crash_note 0 "$err")"
    check_project "trial $trial ($kind, killed $KILLED_AT): veto info opens the project, integrity ok" "$p"
    acks "$out" | sort >"$T/drive/acked"
    sqlite3 "$p" 'SELECT id FROM annotations' 2>/dev/null | sort >"$T/drive/rows"
    acked=$(wc -l <"$T/drive/acked")
    missing=$(comm -23 "$T/drive/acked" "$T/drive/rows")
    lost=$(printf '%s' "$missing" | grep -c .)
    found=$((acked - lost))
    after=$(wc -l <"$T/drive/rows")
    ACKED_TOTAL=$((ACKED_TOTAL + acked))
    FOUND_TOTAL=$((FOUND_TOTAL + found))
    LOST_TOTAL=$((LOST_TOTAL + lost))
    [ "$lost" -eq 0 ] || problems+="$lost acknowledged answers are not in the file: $(echo "$missing" | tr '\n' ' ' | head -c 200)"$'\n'
    # Each answer is committed before its ack: at most the one being acknowledged at the kill
    # may be in the file without an ack.
    if [ "$before" != "?" ] && [ $((after - before)) -lt "$acked" ]; then
      problems+="$acked acks but only $((after - before)) new rows"$'\n'
    fi
    if [ "$before" != "?" ] && [ $((after - before)) -gt $((acked + 1)) ]; then
      problems+="$((after - before)) new rows for $acked acks: answers were committed without an ack"$'\n'
    fi
    [ "$status" -ne 137 ] || KILLED_MID=$((KILLED_MID + 1))
    ERR_FILE=$err tap "trial $trial ($kind${pace[*]:+, paced}): $acked acked, $found found, $((after - before)) new rows (status $status)" \
      "$(printf '%s' "$problems" | sed '/^$/d')"
  done
  note "$KILLED_MID of $TRIALS runs were killed before their last answer"
  note "rounds recorded in the project (retrains delivered during the trials): $(count "$p" 'SELECT count(*) FROM rounds')"
  figure sigkill_rounds "$(count "$p" 'SELECT count(*) FROM rounds')"
  # A run in which no trial saw an ack would prove nothing.
  if [ "$ACKED_TOTAL" -gt 0 ]; then
    tap "the kills landed while answers were being acknowledged ($ACKED_TOTAL acks in $TRIALS trials)" ""
  else
    tap "the kills landed while answers were being acknowledged" \
      "no ack was seen in any trial: is stdout flushed after each ack?"
  fi
}

if has_subcommand drive; then
  drive_trials
else
  skip "veto drive, killed at random ($TRIALS trials)" "this veto has no drive command"
fi

# ======================================================================================
# 2. veto import, killed: all of the import or none of it
# ======================================================================================

IMPORT_PARTIAL=0
IMPORT_NONE=0
IMPORT_ALL=0
import_trials ()
{
  local base=$T/import/base.veto p=$T/import/p.veto trial items0 imports0 items imports status
  local started elapsed_ms full_ms problems n=20000
  mkdir -p "$T/import"
  make_project "$base" 50 28 || { tap "make the import project" "make_project failed"; return; }
  random_idx "$n" 28 >"$T/import/big.idx"
  random_labels "$n" 10 >"$T/import/big-labels.idx"
  checkpoint "$base"
  items0=$(count "$base" 'SELECT count(*) FROM items')
  imports0=$(count "$base" 'SELECT count(*) FROM imports')
  # How long a whole import takes here, so that the kills fall inside it.
  cp "$base" "$p"
  started=$(date +%s%N)
  run import "$p" "$T/import/big.idx" --labels "$T/import/big-labels.idx"
  full_ms=$((($(date +%s%N) - started) / 1000000))
  if [ "$RC" -ne 0 ]; then
    tap "a whole import of $n images succeeds (to time it)" "exit status $RC"
    return
  fi
  note "a whole import of $n images takes $full_ms ms"
  for ((trial = 1; trial <= IMPORT_TRIALS; trial++)); do
    rm -f "$p" "$p-wal" "$p-shm"
    cp "$base" "$p"
    spawn "$T/import/out" "$T/import/err" import "$p" "$T/import/big.idx" \
      --labels "$T/import/big-labels.idx"
    started=$(date +%s%N)
    # Up to a little past the time a whole import takes: some kills land in the commit.
    sleep_random 50 $((full_ms * 11 / 10 > 60 ? full_ms * 11 / 10 : 60))
    kill -KILL "$SPAWNED" 2>/dev/null
    reap "$SPAWNED"
    status=$RC
    elapsed_ms=$((($(date +%s%N) - started) / 1000000))
    check_project "import trial $trial (killed after $elapsed_ms ms): veto info opens the project, integrity ok" "$p"
    items=$(count "$p" 'SELECT count(*) FROM items')
    imports=$(count "$p" 'SELECT count(*) FROM imports')
    problems=""
    if [ "$items" = "$items0" ] && [ "$imports" = "$imports0" ]; then
      IMPORT_NONE=$((IMPORT_NONE + 1))
    elif [ "$items" = $((items0 + n)) ] && [ "$imports" = $((imports0 + 1)) ]; then
      IMPORT_ALL=$((IMPORT_ALL + 1))
      [ "$(count "$p" 'SELECT n_items FROM imports ORDER BY id DESC LIMIT 1')" = "$n" ] \
        || problems+="the import's row does not record $n items"$'\n'
    else
      IMPORT_PARTIAL=$((IMPORT_PARTIAL + 1))
      problems+="$items items and $imports imports: neither none ($items0, $imports0) nor all ($((items0 + n)), $((imports0 + 1))) of the import"$'\n'
    fi
    if [ "$status" -ne 137 ] && [ "$status" -ne 0 ]; then
      problems+="veto import ended by itself with status $status"$'\n'
      CRASHES=$((CRASHES + 1))
    fi
    ERR_FILE=$T/import/err tap "import trial $trial: the project holds all or none of the import ($items items, status $status)" \
      "$(printf '%s' "$problems" | sed '/^$/d')"
  done
  note "import kills: $IMPORT_NONE left none, $IMPORT_ALL left all, $IMPORT_PARTIAL left part"
}

import_trials

figure sigkill_trials "$DRIVE_TRIALS_RUN"
figure sigkill_killed_mid_run "$KILLED_MID"
figure sigkill_acked "$ACKED_TOTAL"
figure sigkill_found "$FOUND_TOTAL"
figure sigkill_lost "$LOST_TOTAL"
figure sigkill_crashes "$CRASHES"
figure sigkill_import_trials "$IMPORT_TRIALS"
figure sigkill_import_partial "$IMPORT_PARTIAL"
figure sigkill_import_none "$IMPORT_NONE"
figure sigkill_import_all "$IMPORT_ALL"
note "drive trials: $DRIVE_TRIALS_RUN; answers acknowledged: $ACKED_TOTAL; found: $FOUND_TOTAL;" \
  "lost: $LOST_TOTAL; crashes or unreadable projects: $CRASHES;" \
  "import trials: $IMPORT_TRIALS (none $IMPORT_NONE, all $IMPORT_ALL, partial $IMPORT_PARTIAL)"
finish
