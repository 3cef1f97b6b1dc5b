# prepare.sh: sourced by the benchmarks: moves to the repository's top, installs what they need and builds Veto in $VETO_BUILD (default build), which it names in $build.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install-deps --with-python
build="${VETO_BUILD:-build}"
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
