#!/bin/sh
# Runs every libFuzzer target for SECONDS (default 30) each.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# Configures and builds the fuzz build dir if needed (CC=clang, -Dfuzz=true; $FUZZ_BUILD_DIR,
# default build-fuzz at the repository root). Each target runs on a temporary copy of its corpus
# (where libFuzzer adds new inputs) plus the checked-in corpus read-only, so the repository is not
# touched. Exits non-zero if any target crashed; crash inputs are kept under
# $FUZZ_BUILD_DIR/fuzz-artifacts/<target>/ and their paths printed. To keep a reproducer that
# comes from src/, copy it into tests/fuzz/corpus/<target>/: the replay test then fails until
# the bug is fixed.
set -eu

secs=${1:-30}
[ $# -gt 0 ] && shift
case $secs in
'' | *[!0-9]*)
        echo "usage: $0 [SECONDS] [TARGET...]" >&2
        exit 2
        ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
all_targets="fuzz_route fuzz_json_body fuzz_authn fuzz_rfc3339 fuzz_query fuzz_rigcred fuzz_ptyctl fuzz_dnsanswer fuzz_router"
targets=${*:-$all_targets}

if [ ! -f "$build/build.ninja" ]; then
        # The project's warning flags include gcc-only ones (-Wno-format-truncation) that clang
        # refuses under -Werror unless told to ignore unknown warning options.
        CC=clang meson setup "$build" "$root" -Dfuzz=true -Dc_args=-Wno-unknown-warning-option
fi
ninja_targets=
for t in $targets; do
        ninja_targets="$ninja_targets tests/fuzz/$t"
done
# shellcheck disable=SC2086 # word splitting of the target list is intended
ninja -C "$build" $ninja_targets

work=$(mktemp -d "${TMPDIR:-/tmp}/rigs-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

failed=0
summary=
for t in $targets; do
        seeds=$root/tests/fuzz/corpus/$t
        artifacts=$build/fuzz-artifacts/$t
        mkdir -p "$work/$t" "$artifacts"
        cp -R "$seeds/." "$work/$t/"
        # The positional parameters carry the optional dictionary argument.
        set --
        [ -f "$root/tests/fuzz/$t.dict" ] && set -- "-dict=$root/tests/fuzz/$t.dict"
        echo "== $t: ${secs}s"
        status=0
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" \
                "$work/$t" "$seeds" >"$work/$t.log" 2>&1 || status=$?
        tail -n 25 "$work/$t.log"
        if [ "$status" -ne 0 ]; then
                failed=1
                crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$t.log" | tail -n 1)
                cp "$work/$t.log" "$artifacts/last-run.log"
                summary="$summary
$t: FAILED (exit $status) ${crash:+input: $crash }log: $artifacts/last-run.log"
        else
                new=$(find "$work/$t" -type f | wc -l)
                summary="$summary
$t: ok (corpus grew to $new inputs)"
        fi
done

echo
echo "== summary${summary}"
exit $failed
