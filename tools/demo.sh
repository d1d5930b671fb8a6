#!/usr/bin/env bash
# make demo [ACT=1|2|3]: ocfbox's agents doing real work in real clusters (Pacemaker +
# Corosync in namespaces, real systemd managers, real ganesha.nfsd, the Nova simulator),
# in three acts. Each act is a scenario of the test suite (the same harness: every process
# it starts is ended by PID, also when it fails), run with its output shown and narrated.
# With OCFBOX_DEMO set they print crm_mon at each step; KEEP=1 leaves each act's cluster up
# at its end (how to enter each node is printed) until you remove the file it names.
set -uo pipefail
# The scenarios print crm_mon (and the simulator's view) at each step when this is set.
export OCFBOX_DEMO=1
cd "$(dirname "$0")/.."
act=${ACT:-all}
# KEEP=1: each act's cluster stays up at its end (the act says how to enter its nodes)
# until its keep file is removed; then it is ended like any other.
if [[ -n ${KEEP:-} && ${KEEP} != 0 ]]; then
  export OCFBOX_DEMO_KEEP=1
fi
[[ $(id -u) -eq 0 ]] || { echo "make demo: run as root (namespaces, systemd, Pacemaker)" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$@"; }

say "building ocfbox and the test harness (cargo test --no-run)"
t0=$(date +%s)
cargo test --locked --test tests --no-run 2>&1 | grep -E '^(error|warning: unused)' && exit 1
note "built in $(( $(date +%s) - t0 )) s"

run_act() {
  local n=$1 title=$2; shift 2
  local filters=() started rc=0
  say "Act $n: $title"
  while [[ $1 != -- ]]; do note "$1"; shift; done
  shift
  filters=("$@")
  started=$(date +%s)
  for f in "${filters[@]}"; do
    note "running $f"
    cargo test --locked --test tests -- --exact "$f" --nocapture --test-threads=1 2>&1 |
      grep --line-buffered -vE '^\s*$|^running [0-9]+ test|^test result|^\s+Finished|^\s+Running' | sed -u 's/^/   | /'
    if [[ ${PIPESTATUS[0]} -ne 0 ]]; then
      rc=1
      say "Act $n FAILED in $f (its output above says where); its processes were ended"
      break
    fi
  done
  [[ $rc -eq 0 ]] && note "act $n done in $(( $(date +%s) - started )) s"
  return $rc
}

fail=0
if [[ $act == all || $act == 1 ]]; then
  run_act 1 "a web service run by systemd, checked for real" \
    "SystemdService starts a unit through systemd (D-Bus, waiting for the job), Pacemaker" \
    "monitors it every 2 s. We kill its process: the monitor says not running, Pacemaker" \
    "restarts it through the agent and counts a failure. Then a service that hangs with its" \
    "process alive (its unit still 'active') and one that answers 500: the health check" \
    "reports both as failed, which a unit-state check would never see." -- \
    systemd_service::pacemaker_recovers_a_killed_service_through_the_agent \
    systemd_service::health_checks_catch_a_running_service_that_answers_500_or_hangs || fail=1
fi
if [[ $fail -eq 0 && ( $act == all || $act == 2 ) ]]; then
  run_act 2 "NFS-Ganesha HA on three nodes" \
    "Three Pacemaker nodes, each with its own ganesha.nfsd, laid out as glusterfs' ganesha-ha.sh" \
    "did (ganesha_nfsd, ganesha_mon, ganesha_grace clones, one VIP per node). We crash node2's" \
    "ganesha.nfsd: the survivors enter NFS grace BEFORE node2's VIP moves to one of them, then" \
    "it restarts and the VIP fails back. The timeline (seconds after the crash) is printed." -- \
    ganesha_cluster::survivors_enter_grace_before_the_failed_nodes_vip_moves_and_it_fails_back || fail=1
fi
if [[ $fail -eq 0 && ( $act == all || $act == 3 ) ]]; then
  run_act 3 "OpenStack compute-node HA" \
    "Two controllers and two compute nodes on pacemaker_remote, a Nova simulator. We crash" \
    "compute-1: it is fenced (power, then fence_nova tells Nova), NovaEvacuate rebuilds its" \
    "instances on compute-2 and follows each migration to done, the node rejoins and NovaCompute" \
    "starts nova-compute only when every evacuation is over. Timeline in ms after the crash." -- \
    compute_ha::scenario_a_fencing_topology_power_and_fence_nova || fail=1
fi
if [[ $fail -eq 0 ]]; then
  say "demo done in $(( $(date +%s) - t0 )) s; every cluster and process it started has been ended"
fi
exit $fail
