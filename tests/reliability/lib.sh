# lib.sh: what the reliability scripts share (sourced): TAP, running veto with a deadline, project snapshots, fixtures, figures.
# shellcheck shell=bash
#
# A script sources it after setting NAME (its short name), with the veto binary as "$1":
#   NAME=sigkill; . "$(dirname "$0")/lib.sh" "$@"
# It gets $VETO (absolute), a work folder $T (removed at exit), `cd $T`, and the helpers below.
# Figures for the suite's report go to $RELIABILITY_FIGURES/NAME.figures (key=value lines).

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "Bail out! usage: $0 PATH/TO/veto"
  exit 1
fi
VETO=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/veto-reliability-$NAME.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
export LC_ALL=C.UTF-8 NO_COLOR=1
# Same sanitizer settings as tools/run-tests, unless the caller chose others.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERE/../lsan.supp}
# Each command gets this long before it counts as hung (sanitizers make veto slower).
DEADLINE=${RELIABILITY_DEADLINE:-60}

# --- cleanup: processes we started, mounts we made, then the work folder ---

CHILD_PIDS=()
MOUNTS=()
cleanup ()
{
  local pid m
  for pid in "${CHILD_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for m in "${MOUNTS[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  cd / && rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1

need ()
{
  command -v "$1" >/dev/null 2>&1 || { echo "Bail out! $NAME needs $1"; exit 1; }
}
need sqlite3
need timeout
need sha256sum

# --- TAP ---

N=0
FAILED=0
# Where tap shows the last command's stderr from, when it failed.
ERR_FILE=$T/err

# tap DESC PROBLEMS: one result line; PROBLEMS empty means it passed.
tap ()
{
  N=$((N + 1))
  if [ -z "$2" ]; then
    echo "ok $N - $1"
  else
    FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    printf '%s\n' "$2" | sed '/^$/d; s/^/#   /' | head -n 40
    if [ -s "$ERR_FILE" ]; then
      echo "#   stderr was:"
      head -c 1500 "$ERR_FILE" | sed 's/^/#     /'
    fi
  fi
}

skip ()
{
  N=$((N + 1))
  echo "ok $N - $1 # SKIP $2"
}

note ()
{
  echo "# $*"
}

finish ()
{
  echo "1..$N"
  [ "$FAILED" -eq 0 ]
}

# --- figures for report.sh ---

FIGURES=${RELIABILITY_FIGURES:-$T/figures}
mkdir -p "$FIGURES"
: >"$FIGURES/$NAME.figures"
# figure KEY VALUE: records one figure (the last value of a key wins).
figure ()
{
  echo "$1=$2" >>"$FIGURES/$NAME.figures"
}

# --- running veto ---

RC=0
RAN_DEADLINE=$DEADLINE
# run ARGS...: veto with a deadline ($DEADLINE seconds; `DEADLINE=5 run ...` for one command);
# stdout in $T/out, stderr in $T/err, status in $RC. A hung veto is killed (status 124, or 137
# when it ignored TERM).
run ()
{
  RAN_DEADLINE=$DEADLINE
  timeout -k 5 "$DEADLINE" "$VETO" "$@" >"$T/out" 2>"$T/err" </dev/null
  RC=$?
}

# crash_note [STATUS] [STDERR-FILE]: says what is wrong with how veto ended, or nothing: a signal,
# a hang, a sanitizer report or a GLib critical are all crashes for these tests.
crash_note ()
{
  local rc=${1:-$RC} err=${2:-$T/err}
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "HUNG: still running after $RAN_DEADLINE s (killed)"
  elif [ "$rc" -ge 128 ]; then
    echo "CRASH: status $rc (signal $((rc - 128)))"
  fi
  if grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|UndefinedBehaviorSanitizer' "$err" 2>/dev/null; then
    echo "SANITIZER: $(grep -m1 -E 'Sanitizer|runtime error:' "$err")"
  fi
  if grep -qE -- '-(CRITICAL|ERROR) \*\*|-WARNING \*\*' "$err" 2>/dev/null; then
    echo "GLIB: $(grep -m1 -E -- '-(CRITICAL|ERROR|WARNING) \*\*' "$err")"
  fi
}

# is_crash: the last run crashed or hung (see crash_note).
is_crash ()
{
  [ -n "$(crash_note "$RC" "$T/err")" ]
}

# --- projects ---

# checkpoint PROJECT: folds any WAL into the file, so that its bytes say everything.
checkpoint ()
{
  [ -f "$1" ] && sqlite3 "$1" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null 2>&1
  return 0
}

# snapshot PROJECT: everything observable about a project: its bytes after a checkpoint, what
# `veto info --json` says, its integrity and the files beside it.
snapshot ()
{
  local p=$1 side
  if [ ! -e "$p" ]; then
    echo "absent"
    return
  fi
  checkpoint "$p"
  sha256sum <"$p" 2>&1
  timeout -k 5 "$DEADLINE" "$VETO" info --json "$p" 2>&1
  echo "info status $?"
  sqlite3 -readonly "$p" 'PRAGMA integrity_check' 2>&1
  for side in "$p"-*; do
    [ -e "$side" ] && echo "beside it: ${side##*/}"
  done
}

# diff_snapshots BEFORE AFTER: nothing when equal, else the first lines of a diff.
diff_snapshots ()
{
  [ "$1" = "$2" ] && return
  echo "the project changed:"
  diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | head -n 12
}

# count PROJECT SQL: one number from the project (read-only), or "?" when it cannot be read.
count ()
{
  local v
  v=$(sqlite3 -readonly "$1" "$2" 2>/dev/null) || v="?"
  echo "${v:-?}"
}

# integrity PROJECT: "ok" or what SQLite says is wrong.
integrity ()
{
  sqlite3 -readonly "$1" 'PRAGMA integrity_check' 2>&1 | head -n 5 | paste -sd' ' -
}

# --- fixtures (printf, head, gzip: no Python) ---

# bytes B...: the bytes of the given decimal values.
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

le16 ()
{
  bytes $(($1 & 255)) $(($1 >> 8 & 255))
}

le32 ()
{
  bytes $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}

# idx_header NDIMS DIM...: an IDX header of unsigned bytes.
idx_header ()
{
  local ndims=$1 d
  shift
  bytes 0 0 8 "$ndims"
  for d in "$@"; do be32 "$d"; done
}

# random_idx COUNT SIDE: COUNT random SIDE×SIDE images (IDX3); every image differs.
random_idx ()
{
  idx_header 3 "$1" "$2" "$2"
  head -c $(($1 * $2 * $2)) /dev/urandom
}

# random_labels COUNT CLASSES: an IDX1 labels file of COUNT random labels below CLASSES.
random_labels ()
{
  local i map=""
  for ((i = 0; i < 256; i++)); do
    map+="\\$(printf '%03o' $((i % $2)))"
  done
  idx_header 1 "$1"
  head -c "$1" /dev/urandom | tr '\000-\377' "$map"
}

# make_project PATH ITEMS SIDE [TEST-ITEMS]: a project with 10 classes, ITEMS random pool images
# of SIDE×SIDE with gold labels (and TEST-ITEMS test images).
make_project ()
{
  local p=$1 n=$2 side=$3 test=${4:-0} d
  d=$(mktemp -d "$T/fixture.XXXXXX")
  random_idx "$n" "$side" >"$d/images.idx"
  random_labels "$n" 10 >"$d/labels.idx"
  "$VETO" init "$p" --classes c0,c1,c2,c3,c4,c5,c6,c7,c8,c9 >/dev/null || return 1
  "$VETO" import "$p" "$d/images.idx" --labels "$d/labels.idx" >/dev/null || return 1
  if [ "$test" -gt 0 ]; then
    random_idx "$test" "$side" >"$d/test.idx"
    random_labels "$test" 10 >"$d/test-labels.idx"
    "$VETO" import "$p" "$d/test.idx" --labels "$d/test-labels.idx" --split test >/dev/null || return 1
  fi
  rm -rf "$d"
}

# --- child processes ---

# spawn OUT ERR ARGS...: veto in the background; its pid in $SPAWNED (killed at exit if still there).
SPAWNED=""
spawn ()
{
  local out=$1 err=$2
  shift 2
  "$VETO" "$@" >"$out" 2>"$err" </dev/null &
  SPAWNED=$!
  CHILD_PIDS+=("$SPAWNED")
}

# reap PID: waits for it; its status in $RC.
reap ()
{
  wait "$1" 2>/dev/null
  RC=$?
}

# sleep_random MIN_MS MAX_MS: a random pause between the two (uses $RANDOM: seed it).
sleep_random ()
{
  local ms=$(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

# has_subcommand NAME: this veto knows `veto NAME`.
has_subcommand ()
{
  "$VETO" "$1" --help >/dev/null 2>&1
}
