#!/bin/sh
# Checks one translation: valid for msgfmt, and every string of POTFILES translated (none fuzzy).
# Usage: check-po.sh SOURCE_ROOT LANG
set -eu
root=$1
lang=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
grep -v '^#' po/POTFILES | grep -v '^$' >"$tmp/files"
xgettext --from-code=UTF-8 --add-comments --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
  --keyword=NC_:1c,2 --keyword=g_dngettext:2,3 --keyword=ngettext:1,2 --keyword=g_dpgettext2:2c,3 \
  --files-from="$tmp/files" --output="$tmp/veto.pot"
msgfmt --check --output-file=/dev/null "po/$lang.po"
msgcmp "po/$lang.po" "$tmp/veto.pot"
if msgattrib --only-fuzzy --no-obsolete "po/$lang.po" | grep -q '^msgid'; then
  echo "po/$lang.po has fuzzy translations" >&2
  exit 1
fi
echo "po/$lang.po translates every string"
