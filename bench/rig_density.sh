#!/usr/bin/env bash
# Benchmark: idle rig density. Creates K idle rigs (memory_mb MEMORY_MB each), waits until all
# run, and measures the host memory each costs outside its workload: the PSS (smaps_rollup) of
# every rig-shim process and every process in the rigs' cgroups (PID 1, the exec zygote, ...)
# divided by K, the drop of MemAvailable divided by K, the rigs' cgroup memory (kernel part
# included) and the host's slab/stack/page-table growth. Then deletes every rig and checks that
# no rig-shim, cgroup, loop device or rig directory is left.
#
# Usage: bench/rig_density.sh [K]    (as root on Debian 12; installs curl if missing)
#
# Environment:
#   K              idle rigs (default 200); a positional argument wins
#   MEMORY_MB      memory_mb of each rig (default 64, the smallest allowed)
#   SETTLE         seconds to let the host settle before the first and after the last create
#                  (default 3)
#   WINDOW         seconds over which the rigs' idle CPU use is measured (default 5)
#   RIGD_BIN       the built rigd (default <repo>/build/src/rigd/rigd); this script builds nothing
#   TEMPLATES_DIR  rig templates (default /var/cache/rigs/templates; needs base/rootfs)
#
# Output: a summary table on stdout, and bench/results/rig_density.json.
# Exit status: 0 done; 2 an answer was not 2xx, or something was left on the host after the
# deletes (details and the rigd log tail on stderr); 1 set-up failure. Nothing is asserted about
# the figures.
set -euo pipefail

NAME=rig_density
K=${1:-${K:-200}}
MEMORY_MB=${MEMORY_MB:-64}
SETTLE=${SETTLE:-3}
WINDOW=${WINDOW:-5}
[[ $K =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: K must be a positive integer" >&2; exit 1; }
[[ $MEMORY_MB =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: MEMORY_MB must be a positive integer" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- prerequisites --------------------------------------------------------------------------------

check_rig_prereqs

# --- rigd -----------------------------------------------------------------------------------------

setup_rig_run
start_rig_rigd --quota-project-rigs $((K + 10)) --quota-project-memory-mb $(((K + 10) * MEMORY_MB))

# --- measure --------------------------------------------------------------------------------------

META=$(bench_meta)
log "creating $K idle rigs (memory_mb $MEMORY_MB) on rigd $RIGD_VERSION at $RIGD_URL"
run_helper density --k "$K" --memory-mb "$MEMORY_MB" \
	--settle "$SETTLE" --window "$WINDOW" --rigd-pid "$RIGD_PID"
