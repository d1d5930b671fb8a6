#!/usr/bin/env bash
# The dispatcher and runtime cost: ocfbox meta-data and a monitor of a stopped resource,
# against Debian's bash ocf:heartbeat:Dummy (the anchor) and a Rust binary that only prints
# the same meta-data from a static string (the floor). Goals: >= 4x faster than Dummy,
# within 1.2x of the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/target/release/ocfbox
DUMMY=/usr/lib/ocf/resource.d/heartbeat/Dummy
RUNS=${BENCH_RUNS:-300}
work=$(mktemp -d /tmp/ocfbox-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The monitored agent: one whose stopped-state monitor needs no peer. ganesha_nfsd looks
# at a symlink; anything else falls back to the first agent's probe.
agent=${BENCH_MONITOR_AGENT:-}
if [[ -z $agent ]]; then
  if "$BIN" list | awk '{print $1}' | grep -qx ganesha_nfsd; then agent=ganesha_nfsd
  else agent=$("$BIN" list | awk 'NR==1{print $1}'); fi
fi
ln -s "$BIN" "$work/$agent"

# The floor: the same bytes, printed by a Rust program that does nothing else.
"$work/$agent" meta-data >"$work/static.xml"
cat >"$work/floor.rs" <<RS
fn main() { use std::io::Write; let _ = std::io::stdout().write_all(include_bytes!("$work/static.xml")); }
RS
rustc -O -C strip=symbols -o "$work/static-print" "$work/floor.rs"

export OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=bench OCF_RESKEY_CRM_meta_timeout=20000
export OCF_RESKEY_CRM_meta_interval=10000
export OCF_RESKEY_state="$work/dummy.state"          # Dummy: no state file = stopped
export OCF_RESKEY_ha_vol_mnt="$work/shared"           # ganesha_nfsd: nothing linked here
export HA_LOGFACILITY=none HA_LOGFILE="$work/agents.log"
# Pacemaker always names the node; without it an agent would ask crm_node (a process).
export OCF_RESKEY_CRM_meta_on_node=bench-node

python3 bench/measure.py --runs "$RUNS" \
  --label "ocfbox $agent meta-data" -- "$work/$agent" meta-data \
  --label "bash Dummy meta-data" -- "$DUMMY" meta-data \
  --label "static Rust print (floor)" -- "$work/static-print" \
  >"$work/meta.jsonl"
python3 bench/table.py "meta-data (median of $RUNS runs each)" "ocfbox $agent meta-data" <"$work/meta.jsonl"

python3 bench/measure.py --runs "$RUNS" \
  --label "ocfbox $agent monitor (stopped)" -- "$work/$agent" monitor \
  --label "bash Dummy monitor (stopped)" -- "$DUMMY" monitor \
  >"$work/mon.jsonl"
python3 bench/table.py "monitor of a stopped resource (median of $RUNS runs each)" "ocfbox $agent monitor (stopped)" <"$work/mon.jsonl"
