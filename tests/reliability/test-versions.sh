#!/bin/bash
# test-versions: a project written by a newer Veto (user_version 99) is refused by every command and left byte-identical: TAP on stdout.
#
# Usage: test-versions.sh PATH/TO/veto
# (tests/core/test-store.c covers the store's side, including the migration of older files.)
set -u
NAME=versions
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "$@"

mkdir -p proj data
make_project proj/current.veto 30 8 10 || { echo "Bail out! cannot make a project"; exit 1; }
checkpoint proj/current.veto
sqlite3 proj/current.veto "VACUUM INTO 'proj/newer.veto'"
sqlite3 proj/newer.veto 'PRAGMA user_version = 99'
{ idx_header 3 2 8 8; head -c 128 /dev/urandom; } >data/two.idx

# state FILE: its bytes, and any side file that holds something (an empty -wal and a -shm index
# are what SQLite leaves after any read-only look).
state ()
{
  sha256sum <"$1"
  [ -s "$1-wal" ] && echo "a -wal of $(stat -c %s "$1-wal") bytes"
  [ -e "$1-journal" ] && echo "a -journal"
  local bak
  for bak in "$1".v*.bak; do
    [ -e "$bak" ] && echo "a backup ${bak##*/}"
  done
  return 0
}

REFUSED=0
# expect_newer DESC ARGS...: exit 3, a "veto: " line naming newer.veto and saying it is newer,
# the file byte-identical, no backup made.
expect_newer ()
{
  local desc=$1 before after problems=""
  shift
  before=$(state proj/newer.veto)
  run "$@"
  after=$(state proj/newer.veto)
  [ "$RC" -eq 3 ] || problems+="exit status $RC, expected 3"$'\n'
  problems+="$(crash_note)"$'\n'
  grep -q '^veto: .*newer.veto' "$T/err" || problems+="no \"veto: \" line naming newer.veto"$'\n'
  grep -qi 'newer' "$T/err" || problems+="stderr does not say the project is newer"$'\n'
  [ "$before" = "$after" ] || problems+="the file changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]')"$'\n'
  [ "$(sqlite3 -readonly proj/newer.veto 'PRAGMA user_version')" = 99 ] || problems+="user_version is no longer 99"$'\n'
  [ -n "$(printf '%s' "$problems" | sed '/^$/d')" ] || REFUSED=$((REFUSED + 1))
  tap "$desc" "$(printf '%s' "$problems" | sed '/^$/d')"
}

expect_newer "veto info on a user_version 99 project: exit 3, byte-identical" info proj/newer.veto
expect_newer "veto info --json on it: exit 3, byte-identical" info --json proj/newer.veto
expect_newer "veto import into it: exit 3, byte-identical" import proj/newer.veto data/two.idx
expect_newer "veto export of it: exit 3, byte-identical" export proj/newer.veto --format jsonl --out "$T/x.jsonl"
expect_newer "veto train on it: exit 3, byte-identical" train proj/newer.veto --epochs 1
expect_newer "veto eval on it: exit 3, byte-identical" eval proj/newer.veto
if has_subcommand drive; then
  expect_newer "veto drive on it: exit 3, byte-identical" drive proj/newer.veto --answers 3 --kind complementary --acks
else
  skip "veto drive on it" "this veto has no drive command"
fi
# The refusals must not have been a refusal of everything: the current file still works.
run info proj/current.veto
tap "veto info on the same project at user_version 1 exits 0" "$([ "$RC" -eq 0 ] || echo "exit status $RC")"

figure versions_refused "$REFUSED"
finish
