#!/usr/bin/env bash
# NFS-Ganesha HA: the grace call as ocfbox makes it, against the tools and the agent shape it
# replaces, all talking to a REAL ganesha.nfsd on a private system bus (tests/sandbox/ganesha.sh);
# then the failover timeline of the 3-node Pacemaker test (tests/ganesha_cluster.rs).
#
# ocfbox is measured through the path production takes: `ganesha_grace notify` with a
# post-stop notification naming one failed node, i.e. parse the OCF environment, map the node
# to its VIP, connect to the bus, call grace("5:<ip>"), check the answer, log, exit. No hidden
# benchmark subcommand: what is measured is what Pacemaker runs.
# Anchors: dbus-send and busctl making the same call (one process each), and a bash agent of
# the glusterfs ganesha_grace shape (source ocf-shellfuncs, then dbus-send).
# Needs root (namespaces, ganesha). BENCH_RUNS (default 200) calls per command;
# BENCH_GANESHA_CLUSTER=0 skips the 3-node timeline (about 20 s plus a test build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${OCFBOX_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ocfbox}
RUNS=${BENCH_RUNS:-200}
[[ $(id -u) == 0 ]] || { echo "bench/ganesha.sh needs root (namespaces, ganesha.nfsd)" >&2; exit 1; }
work=$(mktemp -d /tmp/ocfbox-bench-ganesha.XXXXXX)
sbx_pid=""
cleanup() {
  local rc=$?
  # unshare --kill-child: killing it by PID ends the namespace's init and so everything in it
  if [[ -n $sbx_pid ]]; then
    kill -KILL "$sbx_pid" 2>/dev/null || true
    wait "$sbx_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# ------------------------------------------------------------ a real ganesha ---
mkdir -p "$work/g"
setpriv --pdeathsig KILL -- unshare --pid --fork --kill-child --mount-proc --mount --net \
  --propagation private -- bash tests/sandbox/ganesha.sh init "$work/g" 10 5 \
  >"$work/sandbox.log" 2>&1 &
sbx_pid=$!
for _ in $(seq 1500); do [[ -e $work/g/ready ]] && break; sleep 0.02; done
[[ -e $work/g/ready ]] || { echo "ganesha sandbox did not come up:" >&2; cat "$work/sandbox.log" >&2; exit 1; }
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/g/dbus/system_bus_socket
KEY=5:10.77.0.102

mkdir -p "$work/agents"
ln -s "$BIN" "$work/agents/ganesha_grace"
# The glusterfs agent's shape, written here: ocf-shellfuncs, then one dbus-send.
cat >"$work/agents/bash_grace" <<'SH'
#!/bin/bash
: ${OCF_FUNCTIONS_DIR=${OCF_ROOT}/lib/heartbeat}
. ${OCF_FUNCTIONS_DIR}/ocf-shellfuncs
case "${OCF_RESKEY_CRM_meta_notify_type}-${OCF_RESKEY_CRM_meta_notify_operation}" in
post-stop|pre-start)
  dbus-send --print-reply --system --dest=org.ganesha.nfsd /org/ganesha/nfsd/admin \
    org.ganesha.nfsd.admin.grace "string:$BENCH_KEY" >/dev/null ||
    ocf_log info "dbus-send grace $BENCH_KEY failed"
  ;;
esac
exit $OCF_SUCCESS
SH
chmod 0755 "$work/agents/bash_grace"

export OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=nfs-grace OCF_RESKEY_CRM_meta_timeout=10000
export OCF_RESKEY_CRM_meta_on_node=node1 OCF_RESKEY_CRM_meta_notify_type=post
export OCF_RESKEY_CRM_meta_notify_operation=stop OCF_RESKEY_CRM_meta_notify_stop_uname=node2
export OCF_RESKEY_CRM_meta_notify_stop_resource=nfs-grace:1
export OCF_RESKEY_node_vips="node1=10.77.0.101 node2=10.77.0.102 node3=10.77.0.103"
export HA_LOGFACILITY=none HA_LOGFILE="$work/agents.log" BENCH_KEY=$KEY

# Every command must really have made the call: check once before measuring.
"$work/agents/ganesha_grace" notify
grep -q "entered grace for failed node node2 (grace \"$KEY\"" "$work/agents.log" ||
  { echo "ocfbox did not enter grace:" >&2; cat "$work/agents.log" >&2; exit 1; }
busctl --system call org.ganesha.nfsd /org/ganesha/nfsd/admin org.ganesha.nfsd.admin grace s "$KEY" |
  grep -q '^bs true' || { echo "busctl did not reach ganesha" >&2; exit 1; }

python3 bench/measure.py --runs "$RUNS" \
  --label "ocfbox ganesha_grace notify (post-stop, 1 node)" -- "$work/agents/ganesha_grace" notify \
  --label "dbus-send --print-reply grace" -- dbus-send --print-reply --system \
      --dest=org.ganesha.nfsd /org/ganesha/nfsd/admin org.ganesha.nfsd.admin.grace "string:$KEY" \
  --label "busctl call grace" -- busctl --system call org.ganesha.nfsd /org/ganesha/nfsd/admin \
      org.ganesha.nfsd.admin grace s "$KEY" \
  --label "bash agent: ocf-shellfuncs + dbus-send (glusterfs shape)" -- "$work/agents/bash_grace" notify \
  >"$work/grace.jsonl"
python3 bench/table.py "ganesha grace over D-Bus, one process per call: connect + call + exit (median of $RUNS runs each, real ganesha.nfsd 4.3)" \
  "ocfbox ganesha_grace notify (post-stop, 1 node)" <"$work/grace.jsonl"
calls=$(grep -c "recovery event 5 nodeid -1 ip 10.77.0.102" "$work/g/ganesha.log" || true)
echo
echo "ganesha.nfsd logged $calls take-over graces for 10.77.0.102 during the run."

# ------------------------------------------------------- the failover timeline ---
[[ ${BENCH_GANESHA_CLUSTER:-1} == 1 ]] || exit 0
echo
echo "### failover timeline (3-node Pacemaker test, ms after ganesha.nfsd on node2 was SIGKILLed)"
echo
timeline=$work/timeline.txt
if ! GANESHA_TIMELINE_FILE=$timeline cargo test --release --quiet --test tests ganesha_cluster:: \
      >"$work/cluster-test.log" 2>&1 || [[ ! -s $timeline ]]; then
  echo "(the 3-node test failed; its output follows)"
  tail -40 "$work/cluster-test.log"
  exit 1
fi
echo "| event | ms after the kill |"
echo "|---|---:|"
tr ' ' '\n' <"$timeline" | grep = | while IFS== read -r k v; do
  case $k in
    kill) d="ganesha.nfsd SIGKILLed on node2" ;;
    grace_active_deleted) d="ganesha_mon on node2 deletes grace-active (death detected; monitor interval 2 s)" ;;
    grace_seen_node1) d="node1's ganesha reports grace (post-stop notify → grace 5:10.77.0.102)" ;;
    grace_seen_node3) d="node3's ganesha reports grace" ;;
    ganesha_active_deleted) d="ganesha-active deleted (grace_delay 3 s later)" ;;
    vip_started_on_*) d="10.77.0.102 started on ${k#vip_started_on_} (IPaddr2 start done)" ;;
    *) d=$k ;;
  esac
  echo "| $d | ${v%ms} |"
done
