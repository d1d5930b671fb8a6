#!/usr/bin/env bash
# OpenStack instance HA: ocfbox's NovaEvacuate (one monitor) against stock fence_evacuate run
# per host one after another (what ocf:openstack:NovaEvacuate runs), on the same Nova
# simulator; see bench/nova_evacuate.py. BENCH_NOVA_RUNS (default 3) runs each.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${OCFBOX_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/ocfbox}
[[ -x /usr/sbin/fence_evacuate ]] || { echo "bench/nova_evacuate.sh needs fence-agents (fence_evacuate)" >&2; exit 1; }
exec /usr/bin/python3 bench/nova_evacuate.py "$BIN" "${BENCH_NOVA_RUNS:-3}"
