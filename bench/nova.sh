#!/usr/bin/env bash
# OpenStack client: ocfbox's Keystone/Nova client (src/openstack, through the small program
# examples/nova_client.rs: the calls NovaEvacuate makes, no hidden subcommand in the binary)
# against Debian's python3-novaclient, both on the same Nova simulator (tests/nova-sim) with
# 20 ms latency per request. Every run is one process from start to exit: authenticate,
# then
#   list      — the servers of a host with 1,000 servers, all tenants, all pages;
#   evacuate  — list a fenced host's 200 servers and evacuate every one (the simulator is
#               reset before each run, untimed, so each starts from the same state).
# novaclient does what fence_evacuate does (one process, microversion 2.11, serial
# evacuate calls); ocfbox is shown serial too, so the table separates start-up/parsing from
# the bounded parallelism. BENCH_NOVA_RUNS (default 7) runs per command.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${BENCH_NOVA_RUNS:-7}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PY=/usr/bin/python3
[[ -x $PY ]] && $PY -c 'import novaclient, keystoneauth1, yaml' 2>/dev/null ||
  { echo "bench/nova.sh needs /usr/bin/python3 with python3-novaclient and python3-yaml" >&2; exit 1; }
cargo build --release --quiet --example nova_client
CLIENT=$TARGET/release/examples/nova_client
work=$(mktemp -d /tmp/ocfbox-bench-nova.XXXXXX)
sim_pid=""
cleanup() {
  local rc=$?
  [[ -n $sim_pid ]] && { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; }
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# ------------------------------------------------------------ the simulator ---
$PY - "$work/state.json" <<'PY'
import json, sys
servers = []
def add(host, n):
    for i in range(n):
        servers.append({"id": "%08x-0000-4000-8000-%012x" % (len(servers), i), "name": "%s-vm%d" % (host, i),
                        "host": host, "tenant_id": "p-admin", "vm_state": "active",
                        "flavor_id": "1", "image_id": "img-1"})
add("compute-0", 1000)
add("compute-1", 200)
state = {
    "regions": ["RegionOne"],
    "domains": [{"id": "default", "name": "Default"}],
    "projects": [{"id": "p-admin", "name": "admin", "domain_id": "default"}],
    "users": [{"id": "u-admin", "name": "admin", "domain_id": "default", "password": "bench-pw-5e1",
               "roles": {"p-admin": ["admin", "member", "reader"]}}],
    "services": [{"host": "controller-0", "binary": "nova-scheduler"}]
      + [{"host": "compute-%d" % i, "binary": "nova-compute"} for i in (0, 2, 3, 4, 5)]
      + [{"host": "compute-1", "binary": "nova-compute", "alive": False, "forced_down": True,
          "status": "disabled", "disabled_reason": "bench"}],
    "flavors": [{"id": "1", "name": "m1.small", "vcpus": 1, "ram": 512, "disk": 1}],
    "images": [{"id": "img-1", "name": "cirros", "tags": [], "properties": {}}],
    "servers": servers, "migrations": [],
}
json.dump(state, open(sys.argv[1], "w"))
PY
$PY tests/nova-sim/novasim.py --state "$work/state.json" --port-file "$work/port" \
  --latency-ms 20 --rebuild-time 0.2 --parent-pid $$ >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 500); do [[ -s $work/port ]] && break; sleep 0.02; done
[[ -s $work/port ]] || { echo "nova simulator did not start:" >&2; cat "$work/sim.log" >&2; exit 1; }
BASE=http://127.0.0.1:$(cat "$work/port")

# Credentials as operators keep them: clouds.yaml, the password in a 0600 secure.yaml.
cat >"$work/clouds.yaml" <<EOF
clouds:
  bench:
    auth:
      auth_url: $BASE/identity
      username: admin
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: internal
EOF
printf 'clouds:\n  bench:\n    auth:\n      password: bench-pw-5e1\n' >"$work/secure.yaml"
chmod 0600 "$work/secure.yaml"
export OS_CLIENT_CONFIG_FILE=$work/clouds.yaml OS_CLIENT_SECURE_FILE=$work/secure.yaml

# novaclient as fence_evacuate drives it (keystoneauth session, 2.11, serial evacuate).
cat >"$work/novaclient_bench.py" <<'PY'
import os, sys, yaml
from keystoneauth1 import loading, session
from novaclient import client
what, host = sys.argv[1], sys.argv[2]
cloud = yaml.safe_load(open(os.environ["OS_CLIENT_CONFIG_FILE"]))["clouds"]["bench"]
secure = yaml.safe_load(open(os.environ["OS_CLIENT_SECURE_FILE"]))["clouds"]["bench"]
auth = dict(cloud["auth"], **secure["auth"])
plugin = loading.get_plugin_loader("password").load_from_options(**auth)
nova = client.Client("2.11", session=session.Session(auth=plugin),
                     region_name=cloud["region_name"], endpoint_type="internalURL")
servers = nova.servers.list(search_opts={"all_tenants": 1, "host": host}, limit=-1)
if what == "evacuate":
    for s in servers:
        nova.servers.evacuate(server=s, on_shared_storage=True)
print(len(servers))
PY

# ------------------------------------------------------------ the driver ---
cat >"$work/driver.py" <<'PY'
"""Interleaved runs like measure.py, with an untimed simulator reset before each run of the
evacuation commands; every run must print the expected count."""
import json, statistics, sys, urllib.request
sys.path.insert(0, sys.argv[1])
import measure
base, runs, expect = sys.argv[2], int(sys.argv[3]), sys.argv[4]
cmds, i, argv = [], 0, sys.argv[5:]
while i < len(argv):
    assert argv[i] == "--label"
    j = argv.index("--", i + 2) + 1
    k = j
    while k < len(argv) and argv[k] != "--label":
        k += 1
    cmds.append((argv[i + 1], argv[j:k]))
    i = k
def reset():
    urllib.request.urlopen(urllib.request.Request(base + "/_sim/reset", method="POST", data=b"")).read()
spawner = measure.build_spawner()
times = {label: [] for label, _ in cmds}
rss = {label: [] for label, _ in cmds}
codes = {label: set() for label, _ in cmds}
try:
    for label, cmd in cmds:
        reset()
        import subprocess
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0 or out.stdout.strip() != expect:
            sys.exit(f"{label}: expected {expect}, got rc {out.returncode}: {out.stdout}{out.stderr}")
    for _ in range(runs):
        for label, cmd in cmds:
            reset()
            ms, r, code = measure.run_once(spawner, cmd, None)
            times[label].append(ms); rss[label].append(r); codes[label].add(code)
finally:
    import os
    os.unlink(spawner)
for label, _ in cmds:
    t = sorted(times[label])
    print(json.dumps({"label": label, "runs": runs, "median_ms": round(statistics.median(t), 3),
                      "p10_ms": round(t[max(0, len(t) // 10)], 3),
                      "p90_ms": round(t[min(len(t) - 1, (len(t) * 9) // 10)], 3),
                      "median_rss_kib": int(statistics.median(rss[label])),
                      "exit_codes": sorted(codes[label])}))
PY
run() { $PY "$work/driver.py" "$ROOT/bench" "$BASE" "$@"; }

run "$RUNS" 1000 \
  --label "ocfbox client: list 1,000 servers of a host" -- "$CLIENT" bench list compute-0 \
  --label "novaclient servers.list(all_tenants, host, limit=-1)" -- $PY "$work/novaclient_bench.py" list compute-0 \
  >"$work/list.jsonl"
$PY bench/table.py "OpenStack: list the 1,000 servers of a host (20 ms per request, $RUNS runs)" \
  "ocfbox client: list 1,000 servers of a host" <"$work/list.jsonl"

run "$RUNS" 200 \
  --label "ocfbox client: evacuate 200, 20 in flight" -- "$CLIENT" bench evacuate compute-1 20 \
  --label "ocfbox client: evacuate 200, serial" -- "$CLIENT" bench evacuate compute-1 1 \
  --label "novaclient (fence_evacuate's way): evacuate 200, serial" -- $PY "$work/novaclient_bench.py" evacuate compute-1 \
  >"$work/evac.jsonl"
$PY bench/table.py "OpenStack: evacuate the 200 servers of a fenced host (20 ms per request, $RUNS runs)" \
  "ocfbox client: evacuate 200, 20 in flight" <"$work/evac.jsonl"
