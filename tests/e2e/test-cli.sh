#!/bin/bash
# End-to-end test of the `veto` command line (init, import, info, export, demo): TAP on stdout.
#
# Usage: test-cli.sh PATH/TO/veto [cli|demo]   (demo: only the real Fashion-MNIST demo's checks)
# Every fixture is generated here (printf, head, gzip, base64; no Python). Each refused input
# is checked for: the expected exit status, the offending file's name on stderr, and a project
# left exactly as it was (file checksum, `veto info --json`, SQLite integrity check).

set -u

PART=${2:-cli}
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -x "$1" ] || { [ "$PART" != cli ] && [ "$PART" != demo ]; }; then
  echo "Bail out! usage: $0 PATH/TO/veto [cli|demo]"
  exit 1
fi
VETO=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=$(mktemp -d "${TMPDIR:-/tmp}/veto-e2e-cli.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
HOLDER_PID=""
cleanup ()
{
  [ -n "$HOLDER_PID" ] && kill "$HOLDER_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
mkdir -p proj data
export LC_ALL=C.UTF-8 NO_COLOR=1

HAVE_SQLITE3=0
command -v sqlite3 >/dev/null 2>&1 && HAVE_SQLITE3=1
HAVE_GZIP=0
command -v gzip >/dev/null 2>&1 && HAVE_GZIP=1

# --- TAP bookkeeping ---

N=0
FAILED=0

# tap DESC PROBLEMS: one result line; PROBLEMS empty means it passed.
tap ()
{
  N=$((N + 1))
  if [ -z "$2" ]; then
    echo "ok $N - $1"
    # VERBOSE=1 shows what veto said for passing cases too.
    if [ "${VERBOSE:-0}" = 1 ] && [ -s "$T/err" ]; then
      head -c 2000 "$T/err" | sed 's/^/#     /'
    fi
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

skip ()
{
  N=$((N + 1))
  echo "ok $N - $1 # SKIP $2"
}

# --- running veto ---

RC=0
# run ARGS...: runs veto with stdout in $T/out, stderr in $T/err, status in $RC.
run ()
{
  "$VETO" "$@" >"$T/out" 2>"$T/err" </dev/null
  RC=$?
}

# A crash shows as a status above 125 (signal) whatever the command.
crash_note ()
{
  [ "$RC" -gt 125 ] && echo "CRASH: status $RC (signal $((RC - 128)))"
}

# GLib warnings and criticals are bugs (fatal under G_DEBUG=fatal-warnings).
warning_note ()
{
  grep -qE -- '-(WARNING|CRITICAL) \*\*' "$T/err" && echo "a GLib warning or critical on stderr"
}

# --- reading `veto info --json` without jq ---

info_json ()
{
  "$VETO" info --json "$1" 2>&1
}

# json_int JSON_TEXT KEY: the integer of the first "KEY" : N line.
json_int ()
{
  printf '%s\n' "$1" | sed -n "s/^ *\"$2\" : \\(-\\{0,1\\}[0-9][0-9]*\\),\\{0,1\\}\$/\\1/p" | head -n 1
}

# json_classes JSON_TEXT: the class names, comma-separated.
json_classes ()
{
  printf '%s\n' "$1" | awk '
    /"classes" : \[\]/ { exit }
    /"classes" : \[/ { on = 1; next }
    on && /^ *\]/ { exit }
    on { sub(/^ *"/, ""); sub(/",? *$/, ""); print }' | paste -sd, -
}

# expect_counts DESC PROJECT "key=value ..." [CLASSES]: checks info --json counts
# (items, pool, test, validation, with_gold) and, when given, the class list.
expect_counts ()
{
  local desc=$1 project=$2 wanted=$3 classes=${4-} json problems="" pair key value got
  json=$(info_json "$project")
  for pair in $wanted; do
    key=${pair%%=*}
    value=${pair#*=}
    got=$(json_int "$json" "$key")
    [ "$got" = "$value" ] || problems+="info --json: $key is '$got', expected $value"$'\n'
  done
  if [ $# -ge 4 ]; then
    got=$(json_classes "$json")
    [ "$got" = "$classes" ] || problems+="info --json: classes are '$got', expected '$classes'"$'\n'
  fi
  [ -n "$problems" ] && problems+="info --json was: $(printf '%s' "$json" | tr '\n' ' ')"
  : >"$T/err"
  tap "$desc" "$problems"
}

# expect_success DESC ARGS...: veto exits 0.
expect_success ()
{
  local desc=$1
  shift
  run "$@"
  if [ "$RC" -eq 0 ]; then
    tap "$desc" "$(warning_note)"
  else
    tap "$desc" "exit status $RC, expected 0 ($*)"$'\n'"$(crash_note)"
  fi
}

# expect_out DESC STRING... / expect_err DESC STRING...: the last command's stdout (stderr)
# holds every fixed STRING.
expect_in ()
{
  local file=$1 desc=$2 text problems=""
  shift 2
  for text in "$@"; do
    grep -qF -- "$text" "$T/$file" || problems+="$file lacks \"$text\""$'\n'
  done
  [ -n "$problems" ] && problems+="$file was: $(head -c 1000 "$T/$file")"
  tap "$desc" "$problems"
}
expect_out () { expect_in out "$@"; }
expect_err () { expect_in err "$@"; }

# expect_absent DESC PATH...: nothing exists at any PATH (globs allowed).
expect_absent ()
{
  local desc=$1 pattern found=""
  shift
  for pattern in "$@"; do
    # shellcheck disable=SC2086 # the pattern is meant to expand
    found+=$(ls -ld -- $pattern 2>/dev/null)
  done
  tap "$desc" "${found:+left behind: $found}"
}

# snapshot PROJECT: everything observable about a project file, to compare before and after.
snapshot ()
{
  local p=$1
  if [ ! -e "$p" ]; then
    echo "absent"
    return
  fi
  sha256sum <"$p" 2>&1
  "$VETO" info --json "$p" 2>&1
  echo "info status $?"
  if [ "$HAVE_SQLITE3" = 1 ]; then
    sqlite3 -readonly "$p" 'PRAGMA integrity_check' 2>&1
  fi
}

# expect_refused DESC STATUS NAME PROJECT ARGS...: veto ARGS exits with STATUS, names NAME on
# stderr, and leaves PROJECT exactly as it was.
expect_refused ()
{
  local desc=$1 want=$2 name=$3 project=$4 before after problems=""
  shift 4
  before=$(snapshot "$project")
  run "$@"
  after=$(snapshot "$project")
  [ "$RC" -eq "$want" ] || problems+="exit status $RC, expected $want"$'\n'"$(crash_note)"$'\n'
  grep -qF -- "$name" "$T/err" || problems+="stderr does not name '$name'"$'\n'
  problems+="$(warning_note)"$'\n'
  if [ "$before" != "$after" ]; then
    problems+="the project changed:"$'\n'
    problems+=$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -n 20)
  fi
  tap "$desc" "$(printf '%s' "$problems" | sed '/^$/d')"
}

# --- fixture makers ---

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

# idx_images COUNT ROWS COLS: an IDX3 header (pixels are appended by the caller).
idx_images ()
{
  bytes 0 0 8 3
  be32 "$1"
  be32 "$2"
  be32 "$3"
}

# idx_labels LABEL...: a whole IDX1 labels file.
idx_labels ()
{
  bytes 0 0 8 1
  be32 $#
  bytes "$@"
}

# fill COUNT BYTE: COUNT copies of one byte value.
fill ()
{
  head -c "$1" /dev/zero | tr '\0' "\\$(printf '%03o' "$2")"
}

# cifar_record LABEL BYTE: one CIFAR-10 record (label + 3072 pixel bytes).
cifar_record ()
{
  bytes "$1"
  fill 1024 "$2"
  fill 1024 $((($2 + 40) % 256))
  fill 1024 $((($2 + 80) % 256))
}

# Tiny valid 2x2 RGB PNGs, four different colours (made once with Python's zlib; embedded here).
PNG_RED=iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAE0lEQVR42mP4z8AARAxcInJABAAYcwJ3KTN4rAAAAABJRU5ErkJggg==
PNG_GREEN=iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR42mNg+M8AQlwickAEABZ1AneIubxlAAAAAElFTkSuQmCC
PNG_BLUE=iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR42mNgYPgPQlwickAEABR3Anf/Mhk+AAAAAElFTkSuQmCC
PNG_WHITE=iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEUlEQVR42mP4BQYMXCJyQAQAPxAGVaX8DaYAAAAASUVORK5CYII=
# A PNG whose IHDR claims 100000 x 100000 pixels, with a correct CRC (its data is 2x2).
PNG_HUGE=iVBORw0KGgoAAAANSUhEUgABhqAAAYagCAIAAAAnMJyfAAAAEElEQVR42mNgZGIGIgYIBQAArgAZby+zEgAAAABJRU5ErkJggg==

# A valid 10001 x 1 PNG: one pixel wider than the 10000-pixel side limit (529 bytes).
PNG_WIDE=iVBORw0KGgoAAAANSUhEUgAAJxEAAAABCAIAAAAYfkhiAAAB2ElEQVR42u3P10IIAABA0VJoIKFBGoSilCIlGjKTtDSQEpWRCIlUGshsUBSVdjKadhRpWZUyU/aOsqKtfsLjPX9wBAT6D5IaqTxBS89orvniZSvXem3buedQ1InkzJxLhaX3autef2r+0yUkJimrOG7ilOkmppb2Tm7rt+wI3hdxLCHtbP7VmxVVjxveNf5s6+k3cJjc6PGTdA3nLLRZ6rJmo0/A7oNHjiedyr54veRuzbNXH5taOvuIDpZRGKs+WX/mfAu75a4em32D9oYfjU89k3flRnnlo/q3X360/us7YOiIUaqaUw1mm1kvWbF6w1b/XQcOxyZmZF24duvOg6cvP3z73SEoIiEtP0ZNe5rxvEW2jqvWbdoeGBoWHZdyOvdyUdn9h8/ffP7+t1tYfMhwJRUNnRmzFlg5OLt7evuF7I+MOZl+7nxB8e3qJy/ef/3Vzp8/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58/f/78+fPnz58////67wUpB13Ej/wIVAAAAABJRU5ErkJggg==

# png COLOUR PATH
png ()
{
  mkdir -p "$(dirname "$2")"
  printf '%s' "$1" | base64 -d >"$2"
}

# The demo on the real data: built once, then reused as it is. It runs the headless demo (a
# simulation of 3 × 2 × 1,000 answers) twice, which takes minutes under a sanitizer: meson runs it
# as a test of its own (`test-cli.sh VETO demo`), beside the rest.
real_demo_checks ()
{
  local FMNIST=/usr/share/datasets/fashion-mnist
  if [ -r "$FMNIST/train-images-idx3-ubyte.gz" ] && [ -r "$FMNIST/t10k-images-idx3-ubyte.gz" ]; then
    expect_success "demo builds the Fashion-MNIST project" demo --project "$T/proj/real-demo.veto"
    expect_counts "the demo project: 60000 pool + 10000 test, all with gold, 10 named classes" \
      proj/real-demo.veto "items=70000 pool=60000 test=10000 validation=0 with_gold=70000" \
      "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
    before=$(snapshot proj/real-demo.veto)
    run demo --project "$T/proj/real-demo.veto"
    after=$(snapshot proj/real-demo.veto)
    problems=""
    [ "$RC" -eq 0 ] || problems+="exit status $RC $(crash_note)"$'\n'
    grep -q "Building" "$T/out" && problems+="it was built again"$'\n'
    [ "$before" = "$after" ] || problems+="the project changed"$'\n'
    tap "demo run again reuses the project unchanged" "$problems"
  else
    skip "demo builds the Fashion-MNIST project" "dataset-fashion-mnist not installed"
    skip "the demo project: counts" "dataset-fashion-mnist not installed"
    skip "demo run again reuses the project unchanged" "dataset-fashion-mnist not installed"
  fi
}

if [ "$PART" = demo ]; then
  real_demo_checks
  echo "1..$N"
  [ "$FAILED" -eq 0 ]
  exit
fi

# ======================================================================================
# 1. Happy paths
# ======================================================================================

# init with classes
expect_success "init with --classes creates the project" init proj/main.veto --classes 'a, b'
if [ -f proj/main.veto ] && grep -q "2 classes" "$T/out"; then
  tap "init reports 2 classes and the file exists" ""
else
  tap "init reports 2 classes and the file exists" "out: $(cat "$T/out")"
fi
expect_counts "info --json of a new project: no items, classes a,b" proj/main.veto \
  "items=0 pool=0 test=0 validation=0 with_gold=0" "a,b"

# IDX, raw: 3 images of 2x2, labels 0 1 0
{ idx_images 3 2 2; bytes 1 2 3 4 5 6 7 8 9 10 11 12; } >data/three-images.idx
idx_labels 0 1 0 >data/three-labels.idx
expect_success "import raw IDX with --labels" import proj/main.veto data/three-images.idx \
  --labels data/three-labels.idx
expect_out "import raw IDX reports 3 items, all in the pool" "Imported 3 items" ": 3 pool"
expect_counts "info --json after raw IDX: 3 pool items with gold" proj/main.veto \
  "items=3 pool=3 test=0 with_gold=3" "a,b"

# IDX, gzip'd (images and labels), into the test split
if [ "$HAVE_GZIP" = 1 ]; then
  { idx_images 3 2 2; bytes 21 22 23 24 25 26 27 28 29 30 31 32; } | gzip -c >data/gz-images.idx.gz
  idx_labels 1 1 0 | gzip -c >data/gz-labels.idx.gz
  expect_success "import gzip'd IDX with gzip'd --labels into the test split" \
    import proj/main.veto data/gz-images.idx.gz --labels data/gz-labels.idx.gz --split test
  expect_counts "info --json after gzip'd IDX: 3 pool + 3 test" proj/main.veto \
    "items=6 pool=3 test=3 validation=0 with_gold=6" "a,b"
else
  skip "import gzip'd IDX" "gzip not installed"
  skip "info --json after gzip'd IDX" "gzip not installed"
fi

# IDX without labels, into validation, with --format named
{ idx_images 2 2 2; bytes 41 42 43 44 45 46 47 48; } >data/nolabels.idx
expect_success "import IDX without labels, --format idx --split validation" \
  import proj/main.veto data/nolabels.idx --format idx --split validation
if [ "$HAVE_GZIP" = 1 ]; then
  expect_counts "info --json: unlabeled items count in validation, not in with_gold" \
    proj/main.veto "items=8 pool=3 test=3 validation=2 with_gold=6"
else
  expect_counts "info --json: unlabeled items count in validation, not in with_gold" \
    proj/main.veto "items=5 pool=3 test=0 validation=2 with_gold=3"
fi

# CIFAR-10: two records, labels 3 (cat) and 7 (horse), in a project without classes
mkdir -p data/cifar
{ cifar_record 3 10; cifar_record 7 200; } >data/cifar/data_batch_1.bin
expect_success "init a project without classes" init proj/cifar.veto
expect_success "import a CIFAR-10 batch file" import proj/cifar.veto data/cifar/data_batch_1.bin
expect_counts "info --json after CIFAR-10: 2 items, the 10 CIFAR-10 classes" proj/cifar.veto \
  "items=2 pool=2 with_gold=2" \
  "airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck"

# CIFAR-10 detected by size alone (2 x 3073 bytes, neutral name)
mkdir -p data/cifar-plain
cp data/cifar/data_batch_1.bin data/cifar-plain/records.dat
expect_success "init a project for CIFAR detection" init proj/cifar2.veto --classes c0,c1,c2,c3,c4,c5,c6,c7,c8,c9
expect_success "import a CIFAR-10 file detected by its size" import proj/cifar2.veto data/cifar-plain/records.dat
expect_counts "info --json after size-detected CIFAR-10: classes kept" proj/cifar2.veto \
  "items=2 with_gold=2" "c0,c1,c2,c3,c4,c5,c6,c7,c8,c9"

# ImageFolder: class subfolders give gold labels; top-level files are unlabeled; others skipped
png "$PNG_RED" data/tree/cat/red.png
png "$PNG_GREEN" data/tree/cat/green.png
png "$PNG_BLUE" data/tree/dog/blue.png
png "$PNG_WHITE" data/tree/white.png
echo "not an image" >data/tree/notes.txt
expect_success "init a project for an image folder" init proj/folder.veto
expect_success "import an ImageFolder with class subfolders" import proj/folder.veto data/tree
expect_out "ImageFolder import reports 4 items and 1 skipped file" \
  "Imported 4 items" "1 files that are not images skipped"
expect_counts "info --json after ImageFolder: classes from folder names, 3 with gold" \
  proj/folder.veto "items=4 pool=4 with_gold=3" "cat,dog"

# The same folder again: every image is a duplicate by sha256
expect_success "re-import the same folder succeeds" import proj/folder.veto data/tree
expect_out "re-import reports 0 items and 4 duplicates" "Imported 0 items" "4 duplicates skipped"
expect_counts "info --json after re-import: still 4 items" proj/folder.veto \
  "items=4 pool=4 with_gold=3" "cat,dog"

# Flat folder, with a duplicate inside it
png "$PNG_RED" data/flat/a.png
png "$PNG_RED" data/flat/b-same-as-a.png
png "$PNG_BLUE" data/flat/c.png
expect_success "init a project for a flat folder" init proj/flat.veto
expect_success "import a flat folder (with --format folder)" import proj/flat.veto data/flat --format folder
expect_out "flat folder import: 2 items, the identical file skipped" \
  "Imported 2 items" "1 duplicates skipped"
expect_counts "info --json after flat folder: 2 unlabeled items, no classes" proj/flat.veto \
  "items=2 pool=2 with_gold=0" ""

# CSV manifest with quoting, CRLF line ends, a doubled quote, an empty label and a duplicate
png "$PNG_GREEN" "data/manifest/img/a, b.png"
png "$PNG_BLUE" data/manifest/img/x.png
png "$PNG_GREEN" data/manifest/img/dup.png
printf 'path,label,split\r\n"img/a, b.png",cat,pool\r\nimg/x.png,"dog ""big""",test\r\nimg/dup.png,,\r\n' \
  >data/manifest/list.csv
expect_success "init a project for a CSV manifest" init proj/csv.veto
expect_success "import a CSV manifest with quoted fields" import proj/csv.veto data/manifest/list.csv
expect_out "CSV import reports 2 items and 1 duplicate" "Imported 2 items" "1 duplicates skipped"
expect_out "CSV import reports the splits its rows named, not --split's" ": 1 pool, 1 test;"
expect_counts "info --json after CSV: splits and classes from the manifest" proj/csv.veto \
  "items=2 pool=1 test=1 with_gold=2" 'cat,dog \"big\"'

# info without --json
expect_success "info (text) of a project" info proj/main.veto
expect_out "info (text) lists the classes" "classes      2: a, b"

# Export of an empty project
expect_success "init an empty project" init proj/empty.veto
expect_success "export jsonl of an empty project" export proj/empty.veto --format jsonl --out export.jsonl
if [ -f export.jsonl ] && [ ! -s export.jsonl ]; then
  tap "the jsonl export exists and is empty" ""
else
  tap "the jsonl export exists and is empty" "$(ls -l export.jsonl 2>&1)"
fi
expect_success "export csv of an empty project" export proj/empty.veto --format csv --out export.csv
if [ -f export.csv ] && [ "$(wc -l <export.csv)" -eq 1 ] && head -n 1 export.csv | grep -q '^id,kind,item,'; then
  tap "the csv export holds only its header line" ""
else
  tap "the csv export holds only its header line" "export.csv: $(head -c 500 export.csv 2>&1)"
fi
expect_refused "export into a missing folder: exit 1, names the path" 1 no-such-dir/out.csv \
  proj/empty.veto export proj/empty.veto --format csv --out no-such-dir/out.csv
expect_absent "export into a missing folder creates nothing" no-such-dir

# Real data (Debian's dataset-fashion-mnist), when installed
FMNIST=/usr/share/datasets/fashion-mnist
if [ -r "$FMNIST/t10k-images-idx3-ubyte.gz" ] && [ -r "$FMNIST/t10k-labels-idx1-ubyte.gz" ]; then
  expect_success "init a project for Fashion-MNIST" init proj/fmnist.veto
  expect_success "import Fashion-MNIST t10k (real data, gzip'd IDX) with labels" \
    import proj/fmnist.veto "$FMNIST/t10k-images-idx3-ubyte.gz" \
    --labels "$FMNIST/t10k-labels-idx1-ubyte.gz" --split test
  expect_counts "info --json after Fashion-MNIST t10k: 10000 test items, 10 classes" \
    proj/fmnist.veto "items=10000 test=10000 with_gold=10000" "0,1,2,3,4,5,6,7,8,9"
else
  skip "init a project for Fashion-MNIST" "dataset-fashion-mnist not installed"
  skip "import Fashion-MNIST t10k (real data)" "dataset-fashion-mnist not installed"
  skip "info --json after Fashion-MNIST t10k" "dataset-fashion-mnist not installed"
fi

# demo with a data folder that lacks the files: refused, no project left behind
mkdir -p data/empty-dir
run demo --project "$T/proj/demo.veto" --data "$T/data/empty-dir"
problems=""
[ "$RC" -eq 1 ] || problems+="exit status $RC, expected 1 $(crash_note)"$'\n'
grep -qF "train-images-idx3-ubyte.gz" "$T/err" || problems+="stderr does not name train-images-idx3-ubyte.gz"$'\n'
[ ! -e proj/demo.veto ] || problems+="proj/demo.veto was created"$'\n'
tap "demo without its data: exit 1, names the missing file, no project" "$problems"
expect_absent "demo without its data leaves no file behind (no demo.veto.partial)" \
  'proj/demo.veto*'

# ======================================================================================
# 2. Bad input: refused, named, project unchanged
# ======================================================================================

P=proj/victim.veto
"$VETO" init "$P" --classes a,b >/dev/null 2>&1
"$VETO" import "$P" data/three-images.idx --labels data/three-labels.idx >/dev/null 2>&1
expect_counts "the victim project holds 3 items before the bad inputs" "$P" "items=3 with_gold=3" "a,b"

# --- IDX ---
mkdir -p data/bad
{ idx_images 5 2 2; bytes 1 2 3 4 5 6 7 8 9 10 11 12; } >data/bad/claims-five.idx
expect_refused "IDX claiming more images than it holds" 1 claims-five.idx "$P" \
  import "$P" data/bad/claims-five.idx

{ bytes 0 0 8 3; be32 3; bytes 0 0; } >data/bad/short-header.idx
expect_refused "IDX header cut short" 1 short-header.idx "$P" \
  import "$P" data/bad/short-header.idx

{ bytes 0 0 9 3; be32 3; be32 2; be32 2; bytes 1 2 3 4 5 6 7 8 9 10 11 12; } >data/bad/bad-magic.idx
expect_refused "IDX with a bad magic number (--format idx)" 1 bad-magic.idx "$P" \
  import "$P" data/bad/bad-magic.idx --format idx
expect_refused "IDX with a bad magic number (detected)" 1 bad-magic.idx "$P" \
  import "$P" data/bad/bad-magic.idx

{ idx_images 3 100000 2; bytes 1 2 3 4 5 6 7 8 9 10 11 12; } >data/bad/absurd-rows.idx
expect_refused "IDX with absurd dimensions (rows = 100000)" 1 absurd-rows.idx "$P" \
  import "$P" data/bad/absurd-rows.idx

{ idx_images 3 2 2; bytes 1 2 3 4 5 6 7 8 9 10 11 12 99 99; } >data/bad/trailing.idx
expect_refused "IDX with trailing extra bytes" 1 trailing.idx "$P" \
  import "$P" data/bad/trailing.idx

idx_labels 0 1 >data/bad/two-labels.idx
expect_refused "labels file whose count differs from the images'" 1 two-labels.idx "$P" \
  import "$P" data/three-images.idx --labels data/bad/two-labels.idx

idx_labels 0 5 1 >data/bad/label-five.idx
expect_refused "label outside the project's class range" 1 label-five.idx "$P" \
  import "$P" data/three-images.idx --labels data/bad/label-five.idx

expect_refused "missing labels file" 1 no-such-labels.idx "$P" \
  import "$P" data/three-images.idx --labels data/bad/no-such-labels.idx

if [ "$HAVE_GZIP" = 1 ]; then
  { idx_images 100 28 28; head -c 78400 /dev/urandom; } | gzip -c >data/bad/whole.idx.gz
  head -c $(($(wc -c <data/bad/whole.idx.gz) / 2)) data/bad/whole.idx.gz >data/bad/truncated.idx.gz
  expect_refused "truncated gzip IDX" 1 truncated.idx.gz "$P" \
    import "$P" data/bad/truncated.idx.gz
else
  skip "truncated gzip IDX" "gzip not installed"
fi

# --- CIFAR ---
mkdir -p data/bad/cifar-size data/bad/cifar-label
{ cifar_record 1 10; cifar_record 2 20; fill 100 7; } >data/bad/cifar-size/data_batch_1.bin
expect_refused "CIFAR file whose size is not a whole number of records" 1 \
  cifar-size/data_batch_1.bin "$P" import "$P" data/bad/cifar-size/data_batch_1.bin
expect_refused "CIFAR file whose size is not whole (--format cifar10)" 1 \
  cifar-size/data_batch_1.bin "$P" import "$P" data/bad/cifar-size/data_batch_1.bin --format cifar10

{ cifar_record 1 10; cifar_record 10 20; } >data/bad/cifar-label/data_batch_1.bin
expect_refused "CIFAR-10 file with label 10" 1 cifar-label/data_batch_1.bin "$P" \
  import "$P" data/bad/cifar-label/data_batch_1.bin

# --- image folders: a good image first, then the bad one (so rollback is exercised) ---
bad_folder ()
{
  mkdir -p "data/bad/$1"
  png "$PNG_RED" "data/bad/$1/a-good.png"
}

bad_folder corrupt-png
{ printf '\211PNG\r\n\032\n'; head -c 200 /dev/zero | tr '\0' 'x'; } >data/bad/corrupt-png/b-corrupt.png
expect_refused "corrupt PNG (valid signature, garbage after) in a folder" 1 b-corrupt.png "$P" \
  import "$P" data/bad/corrupt-png

bad_folder empty-png
: >data/bad/empty-png/b-empty.png
expect_refused "zero-byte .png in a folder" 1 b-empty.png "$P" import "$P" data/bad/empty-png

bad_folder text-png
echo "I am text, not an image" >data/bad/text-png/b-text.png
expect_refused "text file named .png in a folder" 1 b-text.png "$P" import "$P" data/bad/text-png

bad_folder huge-png
png "$PNG_HUGE" data/bad/huge-png/b-huge.png
expect_refused "PNG whose IHDR claims 100000 x 100000" 1 b-huge.png "$P" import "$P" data/bad/huge-png

bad_folder huge-png-class
png "$PNG_HUGE" data/bad/huge-png-class/someclass/b-huge.png
expect_refused "PNG claiming 100000 x 100000 in a class subfolder (no class left behind)" 1 \
  b-huge.png "$P" import "$P" data/bad/huge-png-class

bad_folder wide-png
png "$PNG_WIDE" data/bad/wide-png/b-wide.png
# (a project of its own, so that a failure here does not spill into the cases after it)
"$VETO" init proj/wide.veto --classes a,b >/dev/null 2>&1
"$VETO" import proj/wide.veto data/three-images.idx >/dev/null 2>&1
expect_refused "valid PNG of 10001 x 1 pixels (over the 10000-pixel side limit)" 1 b-wide.png \
  proj/wide.veto import proj/wide.veto data/bad/wide-png

bad_folder non-utf8
png "$PNG_BLUE" "data/bad/non-utf8/"$'\xff'".png"
# The name cannot be printed as it is; it must appear with a replacement character.
expect_refused "non-UTF-8 file name in a folder" 1 "non-utf8/"$'\xef\xbf\xbd'".png" "$P" \
  import "$P" data/bad/non-utf8

mkdir -p data/bad/no-images
echo "hello" >data/bad/no-images/readme.txt
expect_refused "folder with no image at all" 1 no-images "$P" import "$P" data/bad/no-images

# --- CSV manifests: a good row first, then the bad one ---
mkdir -p data/outside data/bad/csv/img
png "$PNG_WHITE" data/outside/secret.png
png "$PNG_GREEN" data/bad/csv/img/good.png
ln -s ../../../outside/secret.png data/bad/csv/img/link.png

csv_case ()
{
  printf 'path,label,split\nimg/good.png,a,pool\n%s\n' "$2" >"data/bad/csv/$1"
}

csv_case dotdot.csv '../../outside/secret.png,a,pool'
expect_refused "CSV path escaping with ../" 1 dotdot.csv "$P" import "$P" data/bad/csv/dotdot.csv

csv_case absolute.csv "$T/data/outside/secret.png,a,pool"
expect_refused "CSV absolute path" 1 absolute.csv "$P" import "$P" data/bad/csv/absolute.csv

csv_case symlink.csv 'img/link.png,a,pool'
expect_refused "CSV path through a symlink pointing outside" 1 symlink.csv "$P" \
  import "$P" data/bad/csv/symlink.csv

csv_case unclosed.csv '"img/good.png,a,pool'
expect_refused "CSV unclosed quote" 1 unclosed.csv "$P" import "$P" data/bad/csv/unclosed.csv

printf 'file,label,split\nimg/good.png,a,pool\n' >data/bad/csv/no-path-header.csv
expect_refused "CSV without a path column in its header" 1 no-path-header.csv "$P" \
  import "$P" data/bad/csv/no-path-header.csv

csv_case bad-utf8.csv $'img/good.png,caf\xe9,pool'
expect_refused "CSV with invalid UTF-8" 1 bad-utf8.csv "$P" import "$P" data/bad/csv/bad-utf8.csv

csv_case missing-file.csv 'img/nothing-here.png,a,pool'
expect_refused "CSV row naming a missing image" 1 missing-file.csv "$P" \
  import "$P" data/bad/csv/missing-file.csv

csv_case bad-split.csv 'img/good.png,a,training'
expect_refused "CSV row with an unknown split" 1 bad-split.csv "$P" \
  import "$P" data/bad/csv/bad-split.csv

# --- sources that are not a dataset ---
expect_refused "missing source file" 1 no-such-source.idx "$P" \
  import "$P" data/bad/no-such-source.idx

: >data/bad/zero-bytes.idx
expect_refused "zero-byte source" 1 zero-bytes.idx "$P" import "$P" data/bad/zero-bytes.idx

{ printf 'R'; head -c 999 /dev/urandom; } >data/bad/random.bin
expect_refused "unrecognised source (random bytes)" 1 random.bin "$P" import "$P" data/bad/random.bin

{ printf '\223NUMPY\001\000v\000'; printf "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"; printf '%*s\n' 45 ''; head -c 24 /dev/zero; } >data/bad/features.npy
expect_refused "a .npy file given to import" 1 features.npy "$P" import "$P" data/bad/features.npy

# --- projects that cannot be used ---
expect_refused "import into a project that does not exist" 3 no-such-project.veto \
  proj/no-such-project.veto import proj/no-such-project.veto data/three-images.idx
expect_absent "the missing project was not created (nor its -wal/-shm/-journal)" \
  'proj/no-such-project.veto*'
expect_refused "info of a project that does not exist" 3 no-such-project.veto \
  proj/no-such-project.veto info --json proj/no-such-project.veto
expect_refused "export of a project that does not exist" 3 no-such-project.veto \
  proj/no-such-project.veto export proj/no-such-project.veto --format csv --out x.csv
expect_absent "info/export of a missing project create nothing" 'proj/no-such-project.veto*' x.csv

printf 'This is a plain text file, not a database.\n%.0s' $(seq 40) >proj/text.veto
expect_refused "a text file given as the project (import)" 3 text.veto proj/text.veto \
  import proj/text.veto data/three-images.idx
expect_refused "a text file given as the project (info)" 3 text.veto proj/text.veto \
  info proj/text.veto

head -c 100 /dev/zero | tr '\0' 'z' >proj/short.veto
expect_refused "a 100-byte non-SQLite file given as the project" 3 short.veto proj/short.veto \
  import proj/short.veto data/three-images.idx

mkdir -p proj/folder-project.veto
expect_refused "a folder given as the project" 3 folder-project.veto proj/folder-project.veto \
  import proj/folder-project.veto data/three-images.idx

if [ "$HAVE_SQLITE3" = 1 ]; then
  sqlite3 proj/other.db 'CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ("keep me");'
  expect_refused "an SQLite database of another program (import)" 3 other.db proj/other.db \
    import proj/other.db data/three-images.idx
  expect_refused "an SQLite database of another program (info)" 3 other.db proj/other.db \
    info --json proj/other.db
  expect_absent "no -wal/-shm left beside the other program's database" 'proj/other.db-*'

  sqlite3 "$P" "VACUUM INTO 'proj/newer.veto'"
  sqlite3 proj/newer.veto 'PRAGMA user_version = 99'
  expect_refused "a project with a newer user_version (import)" 3 newer.veto proj/newer.veto \
    import proj/newer.veto data/nolabels.idx
  expect_refused "a project with a newer user_version (info)" 3 newer.veto proj/newer.veto \
    info --json proj/newer.veto
  expect_refused "a project with a newer user_version (export)" 3 newer.veto proj/newer.veto \
    export proj/newer.veto --format jsonl --out newer.jsonl
  expect_absent "no export file from a newer project" newer.jsonl

  # A project locked by another process: refused as busy within ~6 s, unchanged.
  mkfifo "$T/holder.in"
  timeout 30 sqlite3 "$P" <"$T/holder.in" >"$T/holder.out" 2>&1 &
  HOLDER_PID=$!
  exec 3>"$T/holder.in"
  echo "BEGIN IMMEDIATE; SELECT 'holding';" >&3
  for _ in $(seq 50); do
    grep -q holding "$T/holder.out" 2>/dev/null && break
    sleep 0.1
  done
  if grep -q holding "$T/holder.out"; then
    before=$(snapshot "$P")
    start=$(date +%s%N)
    run import "$P" data/nolabels.idx
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    echo "ROLLBACK;" >&3
    exec 3>&-
    for _ in $(seq 50); do
      kill -0 "$HOLDER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$HOLDER_PID" 2>/dev/null
    wait "$HOLDER_PID" 2>/dev/null
    HOLDER_PID=""
    after=$(snapshot "$P")
    problems=""
    [ "$RC" -eq 3 ] || problems+="exit status $RC, expected 3 $(crash_note)"$'\n'
    grep -q "in use" "$T/err" || problems+="stderr does not say \"in use\""$'\n'
    grep -qF victim.veto "$T/err" || problems+="stderr does not name victim.veto"$'\n'
    [ "$elapsed_ms" -le 6500 ] || problems+="took $elapsed_ms ms, expected at most ~6 s"$'\n'
    [ "$before" = "$after" ] || problems+="the project changed"$'\n'
    tap "a project locked by another process: exit 3, \"in use\", in $elapsed_ms ms, unchanged" \
      "$problems"
  else
    exec 3>&-
    kill "$HOLDER_PID" 2>/dev/null
    wait "$HOLDER_PID" 2>/dev/null
    HOLDER_PID=""
    tap "a project locked by another process" "the sqlite3 holder never took the lock: $(cat "$T/holder.out")"
  fi
else
  for what in "an SQLite database of another program (import)" \
      "an SQLite database of another program (info)" \
      "no -wal/-shm left beside the other program's database" \
      "a project with a newer user_version (import)" \
      "a project with a newer user_version (info)" \
      "a project with a newer user_version (export)" \
      "no export file from a newer project" \
      "a project locked by another process"; do
    skip "$what" "sqlite3 CLI not installed"
  done
fi

expect_refused "init over an existing project" 3 victim.veto "$P" init "$P" --classes x,y
expect_refused "init over an existing non-project file" 3 text.veto proj/text.veto \
  init proj/text.veto

expect_counts "the victim project still holds its 3 items after every refusal" "$P" \
  "items=3 pool=3 test=0 validation=0 with_gold=3" "a,b"

# ======================================================================================
# 3. Usage
# ======================================================================================

# expect_usage DESC ARGS...: exit 2 and a message on stderr.
expect_usage ()
{
  local desc=$1 problems=""
  shift
  run "$@"
  [ "$RC" -eq 2 ] || problems+="exit status $RC, expected 2 $(crash_note)"$'\n'
  [ -s "$T/err" ] || problems+="nothing on stderr"$'\n'
  tap "$desc" "$problems"
}

expect_usage "unknown command exits 2" frobnicate
expect_err "unknown command is named on stderr" frobnicate
expect_usage "no command exits 2"
expect_usage "import with one argument exits 2" import "$P"
expect_usage "import --split bogus exits 2" import "$P" data/nolabels.idx --split bogus
expect_usage "import --format bogus exits 2" import "$P" data/nolabels.idx --format bogus
expect_usage "import with an unknown option exits 2" import "$P" data/nolabels.idx --nope
expect_usage "export without --out exits 2" export "$P" --format csv
expect_usage "export --format bogus exits 2" export "$P" --format xml --out x.xml
expect_usage "init without PROJECT exits 2" init
expect_usage "info with two projects exits 2" info "$P" "$P"
expect_usage "init with a class named twice exits 2" init proj/twice.veto --classes a,b,a
expect_absent "init with a class named twice leaves no project" 'proj/twice.veto*'
run init proj/empty-class.veto --classes 'a,,b'
problems=""
[ "$RC" -ne 0 ] || problems+="exit status 0"$'\n'
[ "$RC" -le 125 ] || problems+="$(crash_note)"$'\n'
[ ! -e proj/empty-class.veto ] || problems+="proj/empty-class.veto was left behind"$'\n'
tap "init with an empty class name is refused and leaves no project" "$problems"
expect_counts "the victim project is unchanged by usage errors" "$P" "items=3 with_gold=3" "a,b"

for cmd in "" init import info export demo; do
  run $cmd --help
  problems=""
  [ "$RC" -eq 0 ] || problems+="exit status $RC, expected 0 $(crash_note)"$'\n'
  grep -q "Exit status" "$T/out" || problems+="stdout lacks \"Exit status\""$'\n'
  tap "veto ${cmd:+$cmd }--help exits 0 and documents the exit status" "$problems"
done

echo "1..$N"
[ "$FAILED" -eq 0 ]
