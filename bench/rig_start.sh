#!/usr/bin/env bash
# Benchmark: rig start. Time from POST /api/rigs to the first successful POST /api/rigs/{id}/exec
# {"cmd":["true"]}, for N rigs created one after the other over one keep-alive connection, against
# bwrap (bubblewrap) cold-starting /bin/true with all namespaces on the same template rootfs.
#
# Usage: bench/rig_start.sh [N]      (as root on Debian 12; installs bubblewrap, curl if missing)
#
# Environment:
#   N              rigs to start (default 100); a positional argument wins
#   RIGD_BIN       the built rigd (default <repo>/build/src/rigd/rigd); this script builds nothing
#   TEMPLATES_DIR  rig templates (default /var/cache/rigs/templates; needs base/rootfs)
#
# Output: a summary table on stdout, and bench/results/rig_start.json.
# Exit status: 0 done; 2 an answer was not 2xx or an exec failed (details and the rigd log tail on
# stderr; the numbers are not valid); 1 set-up failure. Timing is never asserted.
set -euo pipefail

NAME=rig_start
N=${1:-${N:-100}}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: N must be a positive integer" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- prerequisites --------------------------------------------------------------------------------

check_rig_prereqs bwrap bubblewrap

# --- rigd -----------------------------------------------------------------------------------------

setup_rig_run
start_rig_rigd --quota-project-rigs $((N + 10))
BWRAP_VERSION=$(bwrap --version | awk '{ print $NF }')

# --- measure --------------------------------------------------------------------------------------

META=$(bench_meta bwrap "$BWRAP_VERSION")
log "starting $N rigs (and $N bwrap runs) against rigd $RIGD_VERSION at $RIGD_URL"
run_helper start --n "$N"
