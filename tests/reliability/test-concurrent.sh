#!/bin/bash
# test-concurrent: two processes on one project (drive + drive, drive + import, import + drive, drive + long import): both work or one says "in use", and no answer is lost: TAP on stdout.
#
# Usage: test-concurrent.sh PATH/TO/veto
# Every process must end by itself (exit 0, or exit 3 with a "veto: " line naming the project
# and saying it is in use), every "ack ID" must be a row, and the rows added must be exactly the
# answers acknowledged (a refused answer is not written).
set -u
NAME=concurrent
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "$@"

if ! has_subcommand drive; then
  skip "two processes on one project" "this veto has no drive command"
  figure concurrent_pairs 0
  finish
  exit
fi

mkdir -p proj data
P=$T/proj/shared.veto
make_project "$P" 600 28 100 || { echo "Bail out! cannot make the project"; exit 1; }
random_idx 20000 28 >data/big.idx
random_idx 20000 28 >data/big2.idx

# Drives answer at a person's pace when this veto can, so that the two processes overlap.
PACE=()
"$VETO" drive --help 2>/dev/null | grep -q -- '--pace' && PACE=(--pace 10)

# overlap WHO PID: says when PID (the first process) had already ended as the second started.
overlap ()
{
  kill -0 "$2" 2>/dev/null || echo "$1 had already ended when the second process started: nothing overlapped"
}

PAIRS=0
ACKED=0
FOUND=0
BUSY=0

# outcome OUT ERR STATUS WHO: what is wrong with how one process ended, or nothing.
outcome ()
{
  local err=$2 status=$3 who=$4
  crash_note "$status" "$err" | sed "s/^/$who: /"
  if [ "$status" -eq 3 ]; then
    grep -q '^veto: .*shared.veto' "$err" || echo "$who: exit 3 without a \"veto: \" line naming shared.veto"
    grep -qi 'in use\|busy\|locked' "$err" || echo "$who: exit 3 but stderr does not say the project is in use"
  elif [ "$status" -ne 0 ] && [ "$status" -lt 124 ]; then
    echo "$who: exit status $status: $(head -c 300 "$err")"
  fi
}

# count_busy STATUS...: counts the processes that ended with "in use" (exit 3).
count_busy ()
{
  local s
  for s in "$@"; do
    [ "$s" -ne 3 ] || BUSY=$((BUSY + 1))
  done
}

# wait_first_ack OUT PID: until OUT holds an ack (or the process is gone, or 60 s pass).
wait_first_ack ()
{
  local i
  for ((i = 0; i < 6000; i++)); do
    grep -q '^ack ' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# finish_within PID SECONDS: waits for PID, killing it if it is still running after SECONDS
# (status 124 then, counted as a hang).
finish_within ()
{
  local pid=$1 i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    RC=124
    return
  fi
  reap "$pid"
}

# check_pair DESC ROWS-BEFORE ITEMS-BEFORE EXPECTED-NEW-ITEMS OUT...: every ack is a row and the
# new rows are exactly the acks; items grew by EXPECTED-NEW-ITEMS (or 0 when that import said
# "in use": pass "" then).
check_pair ()
{
  local desc=$1 rows0=$2 items0=$3 new_items=$4 acked rows missing problems=""
  shift 4
  cat "$@" | sed -n 's/^ack \([0-9][0-9]*\)$/\1/p' | sort >"$T/acked"
  sqlite3 "$P" 'SELECT id FROM annotations' | sort >"$T/rows"
  acked=$(wc -l <"$T/acked")
  rows=$(($(wc -l <"$T/rows") - rows0))
  missing=$(comm -23 "$T/acked" "$T/rows")
  [ -z "$missing" ] || problems+="acked but not in the file: $(echo "$missing" | tr '\n' ' ' | head -c 200)"$'\n'
  [ "$(sort -u "$T/acked" | wc -l)" -eq "$acked" ] || problems+="the same id was acked twice"$'\n'
  [ "$rows" -eq "$acked" ] || problems+="$acked answers acked but $rows rows added"$'\n'
  if [ -n "$new_items" ]; then
    [ "$(count "$P" 'SELECT count(*) FROM items')" = $((items0 + new_items)) ] \
      || problems+="items: $(count "$P" 'SELECT count(*) FROM items'), expected $((items0 + new_items))"$'\n'
  fi
  [ "$(integrity "$P")" = ok ] || problems+="integrity: $(integrity "$P")"$'\n'
  ACKED=$((ACKED + acked))
  FOUND=$((FOUND + acked - $(printf '%s' "$missing" | grep -c .)))
  PAIRS=$((PAIRS + 1))
  ERR_FILE=/dev/null tap "$desc: $acked acked, $rows rows added" "$(printf '%s' "$problems" | sed '/^$/d')"
}

state ()
{
  ROWS0=$(count "$P" 'SELECT count(*) FROM annotations')
  ITEMS0=$(count "$P" 'SELECT count(*) FROM items')
}

# --- 1. a second drive while one runs ---
state
spawn "$T/d1.out" "$T/d1.err" drive "$P" --answers 150 --kind complementary --retrain-every 5 --acks \
  --annotator first "${PACE[@]}"
d1=$SPAWNED
wait_first_ack "$T/d1.out" "$d1"
spawn "$T/d2.out" "$T/d2.err" drive "$P" --answers 150 --kind ordinary --retrain-every 5 --acks \
  --annotator second "${PACE[@]}"
d2=$SPAWNED
o=$(overlap "the first drive" "$d1")
finish_within "$d1" 300
s1=$RC
finish_within "$d2" 300
s2=$RC
count_busy "$s1" "$s2"
tap "two veto drive at once: each ends by itself, works or says \"in use\" (status $s1, $s2)" \
  "$(echo "$o"; outcome "$T/d1.out" "$T/d1.err" "$s1" "first drive"; outcome "$T/d2.out" "$T/d2.err" "$s2" "second drive")"
check_pair "two veto drive at once: no answer lost" "$ROWS0" "$ITEMS0" 0 "$T/d1.out" "$T/d2.out"

# --- 2. an import while drive runs ---
state
spawn "$T/d.out" "$T/d.err" drive "$P" --answers 150 --kind complementary --retrain-every 5 --acks \
  --annotator third --latency "$T/latency" "${PACE[@]}"
d=$SPAWNED
wait_first_ack "$T/d.out" "$d"
spawn "$T/i.out" "$T/i.err" import "$P" "$T/data/big.idx"
i=$SPAWNED
o=$(overlap "the drive" "$d")
finish_within "$i" 300
si=$RC
finish_within "$d" 300
sd=$RC
count_busy "$si" "$sd"
tap "veto import while veto drive runs: each ends by itself, works or says \"in use\" (drive $sd, import $si)" \
  "$(echo "$o"; outcome "$T/d.out" "$T/d.err" "$sd" "drive"; outcome "$T/i.out" "$T/i.err" "$si" "import")"
note "the drive's answer latency while the import held the write lock: $(grep -m1 '^latency' "$T/d.out")"
check_pair "veto import while veto drive runs: no answer lost, the import whole or refused" \
  "$ROWS0" "$ITEMS0" "$([ "$si" -eq 0 ] && echo 20000 || echo 0)" "$T/d.out"

# --- 3. drive started while a big import holds the write lock ---
state
spawn "$T/i2.out" "$T/i2.err" import "$P" "$T/data/big2.idx"
i2=$SPAWNED
sleep 0.2
spawn "$T/d3.out" "$T/d3.err" drive "$P" --answers 50 --kind preference --retrain-every 5 --acks \
  --annotator fourth "${PACE[@]}"
d3=$SPAWNED
o=$(overlap "the import" "$i2")
finish_within "$i2" 300
si2=$RC
finish_within "$d3" 300
sd3=$RC
count_busy "$si2" "$sd3"
tap "veto drive started during a big import: each ends by itself, works or says \"in use\" (import $si2, drive $sd3)" \
  "$(echo "$o"; outcome "$T/i2.out" "$T/i2.err" "$si2" "import"; outcome "$T/d3.out" "$T/d3.err" "$sd3" "drive")"
check_pair "veto drive started during a big import: no answer lost, the import whole or refused" \
  "$ROWS0" "$ITEMS0" "$([ "$si2" -eq 0 ] && echo 20000 || echo 0)" "$T/d3.out"

# --- 4. an import longer than the busy timeout (5 s) while drive runs ---
# The drive's next commit then waits out the timeout: it must fail cleanly ("in use"), lose
# nothing, and the import must be whole.
state
random_idx 90000 28 >data/huge.idx
spawn "$T/d4.out" "$T/d4.err" drive "$P" --answers 2000 --kind complementary --retrain-every 5 --acks \
  --annotator fifth "${PACE[@]}"
d4=$SPAWNED
wait_first_ack "$T/d4.out" "$d4"
spawn "$T/i4.out" "$T/i4.err" import "$P" "$T/data/huge.idx"
i4=$SPAWNED
o=$(overlap "the drive" "$d4")
finish_within "$i4" 300
si4=$RC
finish_within "$d4" 300
sd4=$RC
count_busy "$si4" "$sd4"
tap "a 90000-image import while veto drive runs: each ends by itself, works or says \"in use\" (drive $sd4, import $si4)" \
  "$(echo "$o"; outcome "$T/d4.out" "$T/d4.err" "$sd4" "drive"; outcome "$T/i4.out" "$T/i4.err" "$si4" "import")"
check_pair "a 90000-image import while veto drive runs: no answer lost, the import whole or refused" \
  "$ROWS0" "$ITEMS0" "$([ "$si4" -eq 0 ] && echo 90000 || echo 0)" "$T/d4.out"

run info "$P"
tap "veto info opens the project afterwards" "$([ "$RC" -eq 0 ] || echo "exit status $RC")"

figure concurrent_pairs "$PAIRS"
figure concurrent_acked "$ACKED"
figure concurrent_found "$FOUND"
figure concurrent_in_use "$BUSY"
note "pairs: $PAIRS; answers acknowledged: $ACKED; found: $FOUND; refused as in use: $BUSY"
finish
