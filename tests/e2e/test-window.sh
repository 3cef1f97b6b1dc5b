#!/usr/bin/env bash
# End-to-end test of the window: the real `veto` under Xvfb, answered by key presses (xdotool),
# the project read back with `veto export`, and a screenshot of each view kept. TAP on stdout.
#
# Usage: test-window.sh PATH/TO/veto SCREENSHOT_DIR   (under tests/display-test.sh, which sets DISPLAY)
# GSETTINGS_SCHEMA_DIR must name the folder of the compiled schema.
set -u

if [ $# -ne 2 ] || [ ! -x "$1" ]; then
  echo "Bail out! usage: $0 PATH/TO/veto SCREENSHOT_DIR"
  exit 1
fi
HERE=$(cd "$(dirname "$0")" && pwd)
VETO=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SHOTS=$2
mkdir -p "$SHOTS"
SHOTS=$(cd "$SHOTS" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/veto-e2e-window.XXXXXX") || { echo "Bail out! mktemp"; exit 1; }
APP_PID=""
cleanup ()
{
  [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

for tool in xdotool import python3 gsettings; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool is not installed"
    exit 0
  fi
done
if [ -z "${DISPLAY:-}" ]; then
  echo "1..0 # SKIP no display (run it through tests/display-test.sh)"
  exit 0
fi

# Settings live in a key file of this test's own, so every run starts the same.
export XDG_CONFIG_HOME=$T/config XDG_DATA_HOME=$T/data GSETTINGS_BACKEND=keyfile
export LC_ALL=C.UTF-8 GTK_A11Y=none NO_AT_BRIDGE=1
export GSK_RENDERER=${GSK_RENDERER:-cairo}
SCHEMA=io.github.veto.Veto

N=0
FAILED=0
tap () # DESCRIPTION PROBLEMS (empty: passed)
{
  N=$((N + 1))
  if [ -z "$2" ]; then
    echo "ok $N - $1"
  else
    FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    printf '%s\n' "$2" | sed '/^$/d; s/^/#   /'
    [ -s "$T/app.log" ] && sed 's/^/#   app: /' "$T/app.log" | head -20
    # A leak no module owns is the machine's (an unloaded driver), not Veto's: say so.
    [ -s "$T/app.log" ] && "$HERE/../lsan-unnamed.sh" "$T/app.log"
  fi
}

# --- the fixture: 28×28 images in ten classes (Fashion-MNIST's first ones when installed) ---

FMNIST=/usr/share/datasets/fashion-mnist
/usr/bin/python3 - "$T" "$FMNIST" <<'PY'
import gzip, math, os, random, struct, sys
out, fmnist = sys.argv[1], sys.argv[2]
def write(name, images, labels):
    with open(f"{out}/{name}-images", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(labels), 28, 28) + bytes(images))
    with open(f"{out}/{name}-labels", "wb") as f:
        f.write(struct.pack(">II", 0x801, len(labels)) + bytes(labels))
def real(kind, n):
    images = gzip.open(f"{fmnist}/{kind}-images-idx3-ubyte.gz").read()[16:16 + n * 784]
    labels = gzip.open(f"{fmnist}/{kind}-labels-idx1-ubyte.gz").read()[8:8 + n]
    return images, labels
def drawn(n, seed):
    # A blob per class at its own place on a clock face, with noise.
    rng, images, labels = random.Random(seed), bytearray(), bytearray()
    for i in range(n):
        c = i % 10
        cx, cy = 14 + 8 * math.cos(c * 0.628), 14 + 8 * math.sin(c * 0.628)
        for y in range(28):
            for x in range(28):
                v = 230 * math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 18) + rng.randint(0, 25)
                images.append(min(255, int(v)))
        labels.append(c)
    return images, labels
if os.path.exists(f"{fmnist}/train-images-idx3-ubyte.gz"):
    write("pool", *real("train", 300))
    write("test", *real("t10k", 100))
else:
    write("pool", *drawn(300, 1))
    write("test", *drawn(100, 2))
PY
CLASSES="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
P=$T/wardrobe.veto
problems=""
"$VETO" init "$P" --classes "$CLASSES" >/dev/null 2>"$T/err" || problems+="init failed: $(cat "$T/err")"$'\n'
"$VETO" import "$P" "$T/pool-images" --labels "$T/pool-labels" >/dev/null 2>"$T/err" \
  || problems+="import failed: $(cat "$T/err")"$'\n'
"$VETO" import "$P" "$T/test-images" --labels "$T/test-labels" --split test >/dev/null 2>"$T/err" \
  || problems+="import of the test split failed: $(cat "$T/err")"$'\n'
tap "a ten-class fixture project" "$problems"
[ -z "$problems" ] || { echo "1..$N"; exit 1; }

settings () # MODE
{
  gsettings set $SCHEMA annotator "e2e annotator"
  gsettings set $SCHEMA mode "$1"
  gsettings set $SCHEMA window-width 1280
  gsettings set $SCHEMA window-height 800
  gsettings set $SCHEMA window-maximized false
}

# launch [ARGS...]: starts veto, waits for its window and gives it the keyboard; WINDOW is its id.
WINDOW=""
launch ()
{
  : >"$T/app.log"
  "$VETO" "$@" >"$T/app.log" 2>&1 &
  APP_PID=$!
  WINDOW=$(timeout 30 xdotool search --sync --onlyvisible --name "Veto" 2>/dev/null | head -1)
  [ -n "$WINDOW" ] || return 1
  sleep 1.5
  xdotool windowfocus --sync "$WINDOW" 2>/dev/null
  xdotool mousemove --window "$WINDOW" 400 400
  return 0
}

# quit: Ctrl+Q, then waits for the process; its status is in APP_STATUS.
APP_STATUS=0
quit ()
{
  xdotool key ctrl+q
  for _ in $(seq 100); do
    kill -0 "$APP_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$APP_PID" 2>/dev/null; then
    kill "$APP_PID"
    APP_STATUS=124
  else
    wait "$APP_PID"
    APP_STATUS=$?
  fi
  APP_PID=""
}

shoot () # NAME
{
  sleep 0.8
  import -window root "$SHOTS/$1.png" 2>/dev/null
}

# --- twenty answers of each kind, by keys, then one undone ---

# keys_for MODE: the twenty keys pressed, one a line.
keys_for ()
{
  for i in $(seq 0 19); do
    case $1 in
      complementary) echo $((i % 4 + 1)) ;;
      ordinary) echo $(((i + 1) % 10)) ;;
      preference) case $((i % 3)) in 0) echo Left ;; 1) echo Right ;; 2) echo equal ;; esac ;;
    esac
  done
}

for mode in complementary ordinary preference; do
  settings "$mode"
  if ! launch "$P"; then
    tap "$mode: 20 answers by keys" "no window appeared"
    continue
  fi
  keys_for "$mode" >"$T/keys"
  # shellcheck disable=SC2046
  xdotool key --delay 120 $(cat "$T/keys")
  sleep 0.5
  xdotool key ctrl+z
  # After the "Answer undone" toast has gone.
  sleep 3
  shoot "$mode"
  if [ "$mode" = complementary ]; then
    xdotool key ctrl+comma
    shoot preferences
    xdotool key Escape
    sleep 0.5
  fi
  quit
  problems=""
  [ "$APP_STATUS" -eq 0 ] || problems+="veto exited with status $APP_STATUS"$'\n'
  "$VETO" export "$P" --format jsonl --out "$T/$mode.jsonl" >/dev/null 2>"$T/err" \
    || problems+="export failed: $(cat "$T/err")"$'\n'
  problems+=$(/usr/bin/python3 - "$T/$mode.jsonl" "$mode" "$T/keys" "$CLASSES" <<'PY'
import json, sys
path, mode, keys_path, classes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
keys = open(keys_path).read().split()
rows = [r for r in map(json.loads, open(path)) if r["kind"] == mode]
problems = []
if len(rows) != 20:
    problems.append(f"{len(rows)} {mode} answers, expected 20")
for i, (r, key) in enumerate(zip(rows, keys)):
    if r["annotator"] != "e2e annotator" or r["annotator_kind"] != "human":
        problems.append(f"answer {i}: annotator {r['annotator']!r} ({r['annotator_kind']})")
    if mode == "complementary":
        shown = r["candidates"]
        if len(shown) != 4 or len(set(shown)) != 4 or not set(shown) <= set(classes):
            problems.append(f"answer {i}: candidates {shown}")
        elif r["answer"] != shown[int(key) - 1]:
            problems.append(f"answer {i}: key {key} recorded {r['answer']!r}, shown {shown}")
        if r["question"].get("candidates") != shown:
            problems.append(f"answer {i}: the stored question differs from the candidates")
    elif mode == "ordinary":
        if r["answer"] != classes[(int(key) + 9) % 10]:
            problems.append(f"answer {i}: key {key} recorded {r['answer']!r}")
    else:
        want = {"Left": "left", "Right": "right", "equal": "tie"}[key]
        if r["preferred"] != want or not r["criterion"] or r["right_item"] in (None, r["item"]):
            problems.append(f"answer {i}: key {key} recorded {r['preferred']!r}, "
                            f"criterion {r['criterion']!r}, right item {r['right_item']}")
undone = [i for i, r in enumerate(rows) if r["undone"]]
if undone != [len(rows) - 1]:
    problems.append(f"undone answers {undone}, expected only the last")
print("\n".join(problems))
PY
)
  [ -s "$SHOTS/$mode.png" ] || problems+="no screenshot"$'\n'
  tap "$mode: 20 answers by keys, the last undone by Ctrl+Z, as shown, by the annotator" "$problems"
done

# --- the welcome page, with the project among the recent ones ---

settings complementary
if launch; then
  shoot welcome
  quit
  problems=""
  [ "$APP_STATUS" -eq 0 ] || problems+="veto exited with status $APP_STATUS"$'\n'
  [ -s "$SHOTS/welcome.png" ] || problems+="no screenshot"$'\n'
  tap "veto with no command opens the welcome page; Ctrl+Q quits" "$problems"
else
  tap "veto with no command opens the welcome page; Ctrl+Q quits" "no window appeared"
fi

# --- the project file afterwards ---

problems=""
if command -v sqlite3 >/dev/null 2>&1; then
  counts=$(sqlite3 "$P" "SELECT kind, COUNT(*), SUM(undone) FROM annotations GROUP BY kind ORDER BY kind" 2>&1)
  expected=$'complementary|20|1\nordinary|20|1\npreference|20|1'
  [ "$counts" = "$expected" ] || problems+="sqlite3 counts: $counts"$'\n'
  integrity=$(sqlite3 "$P" "PRAGMA integrity_check" 2>&1)
  [ "$integrity" = ok ] || problems+="integrity: $integrity"$'\n'
  tap "sqlite3 sees 20 answers of each kind, one undone each, and a sound file" "$problems"
else
  echo "ok $((N += 1)) - sqlite3 check # SKIP sqlite3 is not installed"
fi

echo "1..$N"
[ "$FAILED" -eq 0 ]
