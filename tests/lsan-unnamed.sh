#!/usr/bin/env bash
# Tells a leak that no module can be blamed for (a library unloaded before exit) from one of ours.
#
# Usage: lsan-unnamed.sh REPORT
# Exits 0 and explains on stdout, as TAP comment lines, when REPORT (a test's stderr) holds a
# LeakSanitizer leak allocated from "<unknown module>" (the frame that called the allocator names
# no module); exits 1 when it holds none. Such a leak comes from code that was dlclose()d before LeakSanitizer ran (on Debian
# 12, Mesa's GL driver swrast_dri.so when GTK initialises GL), so it says nothing of Veto's code.
set -u
[ $# -eq 1 ] && [ -r "$1" ] || { echo "usage: $0 REPORT" >&2; exit 2; }

count=$(awk '
  /(Direct|Indirect) leak of/ { in_block = 1; next }
  in_block && /^[[:space:]]*#[0-9]+ / {
    # The allocator itself (frame #0, inside the sanitizer runtime) names nothing of interest;
    # the frame that called it is the code that allocated.
    if ($0 ~ /libsanitizer|__interceptor_|lib[al]san\.so/) next
    if ($0 ~ /<unknown module>/) n++
    in_block = 0
    next
  }
  END { print n + 0 }' "$1")

[ "$count" -gt 0 ] || exit 1
cat <<MSG
# ENVIRONMENT, NOT VETO: LeakSanitizer reported $count leak(s) allocated by code that names no module.
# The memory was allocated by a library that was unloaded (dlclose) before the leak check ran,
# so neither a suppression nor our code can be matched to it. On Debian 12 this is Mesa's GL
# driver (swrast_dri.so, package libgl1-mesa-dri) when GTK initialises GL at start-up.
# Display tests must run without GL: tests/display-test.sh sets GDK_DEBUG=gl-disable. Find what
# else loads a driver with LD_DEBUG=files, and keep leak detection on.
MSG
exit 0
