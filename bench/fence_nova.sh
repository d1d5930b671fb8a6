#!/usr/bin/env bash
# OpenStack instance HA: ocfbox's fence_nova `off` against stock fence-agents fence_compute
# `off` (record_only, what the TripleO recipe runs in the fencing topology) on the same Nova
# simulator; see bench/fence_nova.py. BENCH_FENCE_RUNS (default 15) runs each.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${OCFBOX_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/ocfbox}
[[ -x /usr/sbin/fence_compute ]] || { echo "bench/fence_nova.sh needs fence-agents (fence_compute)" >&2; exit 1; }
exec /usr/bin/python3 bench/fence_nova.py "$BIN" "${BENCH_FENCE_RUNS:-15}"
