#!/bin/bash
# report: the reliability suite's figures (written by each test-*.sh) as one table and TAP lines, run after the other tests.
#
# Usage: report.sh [FIGURES-DIR]   (default: $RELIABILITY_FIGURES)
set -u
dir=${1:-${RELIABILITY_FIGURES:-}}
N=0
FAILED=0

# get KEY: the figure's last value, or empty.
get ()
{
  cat "$dir"/*.figures 2>/dev/null | sed -n "s/^$1=//p" | tail -n 1
}

tap ()
{
  N=$((N + 1))
  if [ -z "$2" ]; then
    echo "ok $N - $1"
  else
    FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    echo "#   $2"
  fi
}

# line DESC KEY...: a TAP line for one test's figures; SKIP when the test wrote none.
# check KEY WANT: a figure that must equal WANT.
PROBLEMS=""
check ()
{
  local v
  v=$(get "$1")
  [ -z "$v" ] || [ "$v" = "$2" ] || PROBLEMS+="$1 is $v, expected $2; "
}
line ()
{
  local desc=$1 name=$2
  if [ ! -s "$dir/$name.figures" ]; then
    N=$((N + 1))
    echo "ok $N - $desc # SKIP test-$name.sh wrote no figures (not run?)"
    PROBLEMS=""
    return
  fi
  tap "$desc" "$PROBLEMS"
  PROBLEMS=""
}

if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "1..0 # SKIP no figures folder"
  exit 0
fi

# --- the table ---
v () { local x; x=$(get "$1"); echo "${x:--}"; }
cat <<TABLE
# ---------------------------------------------------------------------------
# Veto reliability report ("Nothing lost")
# crash safety (SIGKILL)   drive trials $(v sigkill_trials) ($(v sigkill_killed_mid_run) killed mid-run), answers acknowledged $(v sigkill_acked),
#                          found $(v sigkill_found), lost $(v sigkill_lost), crashes/unreadable $(v sigkill_crashes)
#                          retrains recorded meanwhile $(v sigkill_rounds)
#                          import kills $(v sigkill_import_trials): left none $(v sigkill_import_none),
#                          all $(v sigkill_import_all), partial $(v sigkill_import_partial)
# disk full                file system: $(v diskfull_fs); refusals checked $(v diskfull_checks)
# two processes            pairs $(v concurrent_pairs), acknowledged $(v concurrent_acked),
#                          found $(v concurrent_found), refused as in use $(v concurrent_in_use)
# hostile input            tried $(v hostile_tried) ($(v hostile_corpus) corpus + $(v hostile_unseen) unseen),
#                          crashes $(v hostile_crashes), hangs $(v hostile_hangs), projects changed $(v hostile_changed),
#                          not named $(v hostile_unnamed), wrong status $(v hostile_wrong_status),
#                          mutants accepted $(v hostile_unseen_accepted)
# versions                 commands refusing a newer project untouched $(v versions_refused)
# ---------------------------------------------------------------------------
TABLE

check sigkill_lost 0
check sigkill_crashes 0
check sigkill_import_partial 0
[ "$(get sigkill_acked)" = "$(get sigkill_found)" ] || PROBLEMS+="acked $(get sigkill_acked) != found $(get sigkill_found); "
line "crash safety: every acknowledged answer survives SIGKILL, imports are all or nothing" sigkill
line "disk full: refusals checked" diskfull
[ "$(get concurrent_acked)" = "$(get concurrent_found)" ] || PROBLEMS+="acked $(get concurrent_acked) != found $(get concurrent_found); "
line "two processes: no answer lost" concurrent
check hostile_crashes 0
check hostile_hangs 0
check hostile_changed 0
check hostile_unnamed 0
check hostile_wrong_status 0
line "hostile input: no crash, refused, named, project unchanged" hostile
line "versions: a newer project is refused untouched" versions
echo "1..$N"
[ "$FAILED" -eq 0 ]
