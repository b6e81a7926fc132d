#!/usr/bin/env bash
# Static checks: clang-format (no diff allowed) and cppcheck (no finding allowed).
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
files=$(git ls-files '*.c' '*.h')
bad=$(echo "$files" | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
if [ "${bad:-0}" -gt 0 ]; then
  echo "clang-format: $bad line(s) differ; run: git ls-files '*.c' '*.h' | xargs clang-format -i"
  echo "$files" | xargs clang-format --dry-run 2>&1 | grep 'warning:' | head -20
  rc=1
fi
out=$(cppcheck --quiet --enable=warning,performance,portability --std=c11 --error-exitcode=1 \
  -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -I src --library=scripts/cppcheck/jansson.cfg \
  --suppress=missingIncludeSystem --inline-suppr src tests/unit tests/fuzz 2>&1) || rc=1
[ -n "$out" ] && echo "$out"
[ $rc -eq 0 ] && echo "lint: clang-format and cppcheck clean"
exit $rc
