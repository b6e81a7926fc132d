#!/usr/bin/env bash
# Runs the whole test suite: C unit tests, fuzz corpus replay, end-to-end tests against a real
# rigd, the same again under ASan+UBSan, and a bounded libFuzzer run of every target.
# FAST=1 skips the sanitizer and fuzzing stages (for quick local iterations).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/deps.sh || exit 1

failed=0
stages_ok=0
stages_failed=0
stage() {
  local name=$1; shift
  echo
  echo "==> $name"
  if "$@"; then
    stages_ok=$((stages_ok + 1))
  else
    echo "!! stage failed: $name"
    stages_failed=$((stages_failed + 1))
    failed=1
  fi
}

build() {
  local dir=$1; shift
  [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null || return 1
  ninja -C "$dir"
}

e2e() {
  local dir=$1
  RIGD_BIN="$ROOT/$dir/src/rigd/rigd" RIG_BIN="$ROOT/$dir/src/rig/rig" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e
}

# The base template (Debian 12 minbase, ~70 s once; cached by recipe hash afterwards).
stage "base template" scripts/build-template.sh "${RIGS_TEMPLATES_DIR:-/var/cache/rigs/templates}"
stage "build (gcc, debugoptimized)" build build
stage "lint (clang-format, cppcheck)" scripts/lint.sh
stage "unit tests and fuzz corpus replay" meson test -C build --print-errorlogs
stage "end-to-end tests" e2e build

if [ "${FAST:-0}" != 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
  build_asan() {
    CC=clang build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
  }
  stage "build (clang, ASan+UBSan)" build_asan
  stage "unit tests under ASan+UBSan" meson test -C build-asan --print-errorlogs
  stage "end-to-end tests under ASan+UBSan" e2e build-asan
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
  stage "bounded fuzzing" tests/fuzz/run.sh "${FUZZ_SECONDS:-20}"
fi

echo
echo "stages: $stages_ok passed, $stages_failed failed"
exit $failed
