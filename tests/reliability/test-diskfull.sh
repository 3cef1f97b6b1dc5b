#!/bin/bash
# test-diskfull: a project on a tiny file system that fills up: veto refuses clearly, keeps what it had, and carries on once space is freed: TAP on stdout.
#
# Usage: test-diskfull.sh PATH/TO/veto
# The file system is a 2 MB tmpfs mounted here (or a loop-mounted 4 MB ext4 image when tmpfs
# cannot be mounted); without either (no root, no CAP_SYS_ADMIN) every check is skipped: SQLite's
# max_page_count is per connection, so faking a full disk from outside would need a hook in
# veto itself.
set -u
NAME=diskfull
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "$@"

SMALL=$T/small
mkdir -p "$SMALL"
FS=""
# make_small_fs: mounts a tiny file system on $SMALL; $FS says which, empty when none.
make_small_fs ()
{
  if mount -t tmpfs -o size=2m,mode=0755 veto-diskfull "$SMALL" 2>/dev/null; then
    MOUNTS+=("$SMALL")
    FS="tmpfs of 2 MB"
    return
  fi
  if command -v mkfs.ext4 >/dev/null 2>&1 \
      && dd if=/dev/zero of="$T/ext4.img" bs=1M count=4 status=none 2>/dev/null \
      && mkfs.ext4 -q -F -m 0 "$T/ext4.img" >/dev/null 2>&1 \
      && mount -o loop "$T/ext4.img" "$SMALL" 2>/dev/null; then
    MOUNTS+=("$SMALL")
    FS="loop-mounted ext4 of 4 MB"
  fi
}

# free_kb: the space left on the small file system, in KiB.
free_kb ()
{
  df -Pk "$SMALL" | awk 'NR == 2 { print $4 }'
}

# fill_leaving KB: a filler file takes all the space but about KB KiB.
fill_leaving ()
{
  rm -f "$SMALL/filler"
  dd if=/dev/zero of="$SMALL/filler" bs=4k status=none 2>/dev/null
  sync
  truncate -s "$(($(stat -c %s "$SMALL/filler") - $1 * 1024))" "$SMALL/filler" 2>/dev/null
  sync
}

unfill ()
{
  rm -f "$SMALL/filler"
  sync
}

make_small_fs
if [ -z "$FS" ]; then
  for what in "import refused on a full disk" "answer refused on a full disk" \
      "work continues once space is freed"; do
    skip "$what" "cannot mount a small file system here (not root?)"
  done
  figure diskfull_checks 0
  finish
  exit
fi
note "small file system: $FS, $(free_kb) KiB free"

P=$SMALL/full.veto
make_project "$P" 200 8 || { echo "Bail out! cannot make a project on the small file system"; exit 1; }
checkpoint "$P"
ITEMS0=$(count "$P" 'SELECT count(*) FROM items')
# 3000 images of 8x8 (192 KB of pixels): more than is left, less than the whole file system.
random_idx 3000 8 >"$T/more.idx"
random_labels 3000 10 >"$T/more-labels.idx"

# expect_full DESC: the last command failed as a full disk should: exit 3, a "veto: " line
# naming the project and saying the disk is full, no crash.
expect_full ()
{
  local problems=""
  [ "$RC" -eq 3 ] || problems+="exit status $RC, expected 3"$'\n'
  problems+="$(crash_note)"$'\n'
  grep -q "^veto: .*full.veto" "$T/err" || problems+="no \"veto: \" line naming full.veto"$'\n'
  grep -qi "full" "$T/err" || problems+="stderr does not say the disk is full"$'\n'
  tap "$1" "$(printf '%s' "$problems" | sed '/^$/d')"
}

CHECKS=0
# --- import on a full disk ---

before=$(snapshot "$P")
fill_leaving 64
note "filled: $(free_kb) KiB free"
run import "$P" "$T/more.idx" --labels "$T/more-labels.idx"
expect_full "import with 64 KiB free: refused as disk full, naming the project"
CHECKS=$((CHECKS + 1))
unfill
after=$(snapshot "$P")
tap "the refused import left the project as it was (bytes, info, integrity)" "$(diff_snapshots "$before" "$after")"
tap "the earlier items are intact ($(count "$P" 'SELECT count(*) FROM items') of $ITEMS0)" \
  "$([ "$(count "$P" 'SELECT count(*) FROM items')" = "$ITEMS0" ] || echo "items changed")"

run import "$P" "$T/more.idx" --labels "$T/more-labels.idx"
tap "once space is freed the same import succeeds" \
  "$([ "$RC" -eq 0 ] || echo "exit status $RC"; crash_note)"
tap "and the project holds the earlier items and the new ones" \
  "$([ "$(count "$P" 'SELECT count(*) FROM items')" = $((ITEMS0 + 3000)) ] || echo "items: $(count "$P" 'SELECT count(*) FROM items'), expected $((ITEMS0 + 3000))")"
checkpoint "$P"

# --- answers on a full disk ---

if has_subcommand drive; then
  # The import above can leave the file system so full that its WAL cannot be checkpointed
  # (the project's file must grow first): then nothing had room, not even the drive "with room
  # to spare" (stop 24: one fresh-clone CI run in six, one local run in twelve). The answers
  # get a project of their own.
  rm -f "$P" "$P-wal" "$P-shm"
  make_project "$P" 200 8 || { echo "Bail out! cannot make a project on the small file system"; exit 1; }
  checkpoint "$P"
  # Train and cache features first, with room, so that what fills the disk is the answers.
  run drive "$P" --answers 5 --kind complementary --acks
  tap "veto drive answers with room to spare" "$([ "$RC" -eq 0 ] || echo "exit status $RC"; crash_note)"
  checkpoint "$P"
  rows0=$(count "$P" 'SELECT count(*) FROM annotations')
  # Room for a few answers (each commit appends a few pages to the WAL), then none.
  fill_leaving 200
  note "filled: $(free_kb) KiB free"
  run drive "$P" --answers 2000 --kind complementary --retrain-every 5 --acks
  expect_full "veto drive on a full disk stops with a clear disk-full message"
  CHECKS=$((CHECKS + 1))
  acked=$(sed -n 's/^ack \([0-9][0-9]*\)$/\1/p' "$T/out" | sort)
  n_acked=$(printf '%s' "$acked" | grep -c .)
  unfill
  rows=$(sqlite3 "$P" 'SELECT id FROM annotations' 2>/dev/null | sort)
  missing=$(comm -23 <(printf '%s\n' "$acked" | sed '/^$/d') <(printf '%s\n' "$rows"))
  tap "every answer acknowledged before the disk filled is in the file ($n_acked acked)" \
    "${missing:+not in the file: $(echo "$missing" | tr '\n' ' ' | head -c 200)}"
  tap "the disk filled in the middle of the session (after $n_acked answers), not at its start" \
    "$([ "$n_acked" -ge 2 ] || echo "only $n_acked answers before the refusal")"
  tap "the refused answer was not written: rows grew by exactly the acks" \
    "$([ "$(count "$P" 'SELECT count(*) FROM annotations')" = $((rows0 + n_acked)) ] || echo "rows: $(count "$P" 'SELECT count(*) FROM annotations'), expected $((rows0 + n_acked))")"
  tap "the project is whole after the disk filled" "$([ "$(integrity "$P")" = ok ] || integrity "$P")"
  tap "the earlier answers are intact" \
    "$([ "$(count "$P" 'SELECT count(*) FROM annotations')" -ge "$rows0" ] || echo "fewer rows than before")"
  rows1=$(count "$P" 'SELECT count(*) FROM annotations')
  run drive "$P" --answers 10 --kind complementary --acks
  tap "once space is freed, veto drive answers again (10 acks)" \
    "$([ "$RC" -eq 0 ] || echo "exit status $RC"; crash_note; [ "$(grep -c '^ack ' "$T/out")" -eq 10 ] || echo "$(grep -c '^ack ' "$T/out") acks")"
  tap "and the 10 new answers are in the file" \
    "$([ "$(count "$P" 'SELECT count(*) FROM annotations')" = $((rows1 + 10)) ] || echo "rows: $(count "$P" 'SELECT count(*) FROM annotations'), expected $((rows1 + 10))")"
else
  skip "answers on a full disk" "this veto has no drive command"
fi

figure diskfull_checks "$CHECKS"
figure diskfull_fs "$FS"
finish
