#!/usr/bin/env bash
# Benchmark: exec round trips. On one running rig, M sequential POST /api/rigs/{id}/exec
# {"cmd":["true"]} over one keep-alive connection, against M runs of bwrap (bubblewrap)
# cold-starting /bin/true with all namespaces on the same template rootfs.
#
# Usage: bench/rig_exec.sh [M]       (as root on Debian 12; installs bubblewrap, curl if missing)
#
# Environment:
#   M              exec round trips (default 500); a positional argument wins
#   WARMUP         uncounted execs (and bwrap runs) first (default 10)
#   RIGD_BIN       the built rigd (default <repo>/build/src/rigd/rigd); this script builds nothing
#   TEMPLATES_DIR  rig templates (default /var/cache/rigs/templates; needs base/rootfs)
#
# Output: a summary table on stdout, and bench/results/rig_exec.json.
# Exit status: 0 done; 2 an answer was not 2xx or an exec failed (details and the rigd log tail on
# stderr; the numbers are not valid); 1 set-up failure. Timing is never asserted.
set -euo pipefail

NAME=rig_exec
M=${1:-${M:-500}}
WARMUP=${WARMUP:-10}
[[ $M =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: M must be a positive integer" >&2; exit 1; }
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "$NAME: WARMUP must be a non-negative integer" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- prerequisites --------------------------------------------------------------------------------

check_rig_prereqs bwrap bubblewrap

# --- rigd -----------------------------------------------------------------------------------------

setup_rig_run
start_rig_rigd
BWRAP_VERSION=$(bwrap --version | awk '{ print $NF }')

# --- measure --------------------------------------------------------------------------------------

META=$(bench_meta bwrap "$BWRAP_VERSION")
log "$M execs in one rig (and $M bwrap runs) against rigd $RIGD_VERSION at $RIGD_URL"
run_helper exec --m "$M" --warmup "$WARMUP"
