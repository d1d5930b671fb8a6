#!/usr/bin/env bash
# Build, on this one machine, the 3-node NFS-Ganesha HA cluster that tests/ganesha_cluster.rs
# checks, and leave it running so an operator can watch and poke it:
#
#   tests/ganesha-cluster.sh up [DIR]      build it (default DIR /tmp/ocfbox-ganesha-cluster)
#   tests/ganesha-cluster.sh status        crm_mon on node1, attributes, each ganesha's grace state
#   tests/ganesha-cluster.sh crash I       SIGKILL ganesha.nfsd on node I (watch the failover)
#   tests/ganesha-cluster.sh revive I      start ganesha.nfsd on node I again (watch the fail-back)
#   tests/ganesha-cluster.sh exec I CMD..  run CMD inside node I (e.g. crm_mon, ip addr, crm configure show)
#   tests/ganesha-cluster.sh down          end everything, by PID (DIR and its logs stay)
#
# Each node: its own PID, mount, network and UTS namespaces (tests/sandbox/pcmk-node.sh:
# corosync + pacemakerd, private /run), a private D-Bus system bus and a real ganesha.nfsd
# (tests/sandbox/ganesha.sh), eth0 = 10.77.0.I/24 on a bridge in a "switch" namespace. Nothing
# is added to the host's network, and the host's /var/lib/nfs and /run are never touched.
# Resources, as glusterfs' ganesha-ha.sh laid them out: clones of ganesha_nfsd, ganesha_mon
# and ganesha_grace (notify=true), one IPaddr2 VIP 10.77.0.10I/24 per node located where
# ganesha-active is 1 (home node preferred) and ordered after the grace clone.
# Needs root, pacemaker, corosync, crmsh, resource-agents, nfs-ganesha(-vfs), dbus, iproute2.
# The agents come from OCFBOX_BIN (default target/release/ocfbox, else target/debug/ocfbox).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
STATE=/tmp/ocfbox-ganesha-cluster.dir   # remembers DIR between commands
N=3
say() { printf '%s %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { say "error: $*"; exit 1; }
dir() { [[ -s $STATE ]] || die "no cluster (run: $0 up)"; cat "$STATE"; }
init_pid() { cat "$(dir)/pids/$1" 2>/dev/null || die "no process recorded for $1"; }
in_node() { # in_node I CMD...: inside node I's namespaces
  local i=$1; shift
  HOME="$(dir)/node$i/home" nsenter -t "$(init_pid "node$i")" -p -m -n -u -- "$@"
}
alive() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; [[ ${s:0:1} != Z ]]; }

# Start a namespace's init script in the background, detached from this shell; records
# the host PID of the namespace's init (unshare's only child) under DIR/pids/NAME.
spawn() {
  local name=$1 log=$2; shift 2
  setsid unshare --fork --pid --kill-child "$@" </dev/null >>"$log" 2>&1 &
  local uns=$! child=""
  for _ in $(seq 500); do
    # Until unshare has forked, ps finds no child and exits 1: under `set -e -o pipefail`
    # that must be "not yet", not the end of the script.
    child=""
    read -r child _ < <(ps -o pid= --ppid "$uns" || true) || true
    [[ -n $child ]] && break
    alive "$uns" || die "$name exited at once: $(tail -5 "$log")"
    sleep 0.01
  done
  [[ -n $child ]] || die "$name: unshare never forked"
  echo "$child" >"$D/pids/$name"
}

cmd_up() {
  [[ $(id -u) == 0 ]] || die "needs root"
  for c in unshare nsenter ip corosync pacemakerd crm_mon crm attrd_updater ganesha.nfsd dbus-daemon; do
    command -v "$c" >/dev/null || die "missing $c (make deps installs the packages)"
  done
  [[ -s $STATE ]] && alive "$(cat "$(cat "$STATE")/pids/switch" 2>/dev/null || echo 0)" &&
    die "a cluster already runs in $(cat "$STATE") ($0 down first)"
  D=${1:-/tmp/ocfbox-ganesha-cluster}
  local bin=${OCFBOX_BIN:-}
  if [[ -z $bin ]]; then
    for b in "$ROOT/target/release/ocfbox" "$ROOT/target/debug/ocfbox"; do [[ -x $b ]] && bin=$b && break; done
  fi
  [[ -x $bin ]] || die "no ocfbox binary (cargo build --release, or set OCFBOX_BIN)"
  rm -rf "$D"
  mkdir -p "$D/pids" "$D/provider/ocfbox" "$D/shared"
  chmod 0755 "$D"
  echo "$D" >"$STATE"
  for a in $("$bin" list | awk '$2 == "ocf" {print $1}'); do ln -s "$bin" "$D/provider/ocfbox/$a"; done

  local nodes=""
  for i in $(seq $N); do
    nodes+="    node {
        name: node$i
        nodeid: $i
        ring0_addr: 10.77.0.$i
    }
"
  done
  for i in $(seq $N); do
    local nd=$D/node$i
    mkdir -p "$nd" "$D/shared/nfs-ganesha/node$i/nfs"
    cat >"$nd/corosync.conf" <<EOF
totem {
    version: 2
    cluster_name: ocfbox-ganesha
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
$nodes}
quorum {
    provider: corosync_votequorum
}
logging {
    to_stderr: no
    to_logfile: yes
    logfile: $nd/corosync.log
    to_syslog: no
    timestamp: on
}
EOF
    cat >"$nd/cib-seed.xml" <<EOF
<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith-enabled" name="stonith-enabled" value="false"/>
        <nvpair id="opt-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="opt-cluster-recheck-interval" name="cluster-recheck-interval" value="30s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/><resources/><constraints/>
  </configuration>
  <status/>
</cib>
EOF
    # pacemakerd's whole environment (NUL separated); every node's bus answers at the same
    # path in its own private /run.
    printf '%s\0' PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      "PCMK_logfile=$nd/pacemaker.log" PCMK_logfacility=none \
      DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket >"$nd/pacemakerd.env"
    printf 'ocfbox\t%s\n' "$D/provider/ocfbox" >"$nd/providers"
  done

  spawn switch "$D/switch.log" --net --mount --mount-proc -- bash "$HERE/sandbox/pcmk-switch.sh"
  for _ in $(seq 500); do nsenter -t "$(init_pid switch)" -n ip link show br0 >/dev/null 2>&1 && break; sleep 0.01; done
  for i in $(seq $N); do
    spawn "node$i" "$D/node$i/script.log" --mount --mount-proc --net --uts --propagation private \
      -- bash "$HERE/sandbox/pcmk-node.sh" "$D/node$i" "node$i" "10.77.0.$i"
    ip link add "gn$i" netns "$(init_pid switch)" type veth peer name eth0 netns "$(init_pid "node$i")"
    nsenter -t "$(init_pid switch)" -n ip link set "gn$i" master br0 up
  done
  say "waiting for node1..node$N to be online"
  local ok=0
  for _ in $(seq 450); do
    if in_node 1 crm_mon -1 2>/dev/null | grep -q "Online: \[ node1 node2 node3 \]"; then ok=1; break; fi
    sleep 0.2
  done
  [[ $ok == 1 ]] || die "cluster did not come up; see $D/node*/pacemaker.log"

  for i in $(seq $N); do
    local g=$D/node$i/ganesha
    mkdir -p "$g"
    in_node "$i" env GANESHA_GRACE_PERIOD=20 bash "$HERE/sandbox/ganesha.sh" bus "$g"
    in_node "$i" sh -c 'mkdir -p /run/dbus /run/var-lib-nfs/statd && ln -sf "$0" /run/dbus/system_bus_socket' "$g/dbus/system_bus_socket"
    in_node "$i" env GANESHA_GRACE_PERIOD=20 bash "$HERE/sandbox/ganesha.sh" ganesha "$g"
    # reclaim records of the other nodes' clients under their VIPs, so a take-over grace lasts
    for j in $(seq $N); do
      [[ $j == "$i" ]] || mkdir -p "$g/recov/10.77.0.10$j/v4recov/10.77.0.20$j-(6:ocfbox)"
    done
  done

  local conf
  conf="primitive nfs_setup ocf:ocfbox:ganesha_nfsd params ha_vol_mnt=$D/shared nfs_dir=/run/var-lib-nfs op monitor interval=30s
clone nfs_setup-clone nfs_setup
primitive nfs-mon ocf:ocfbox:ganesha_mon params grace_delay=3 op monitor interval=2s timeout=10s
clone nfs-mon-clone nfs-mon
primitive nfs-grace ocf:ocfbox:ganesha_grace params node_vips=\"node1=10.77.0.101 node2=10.77.0.102 node3=10.77.0.103\" op monitor interval=2s timeout=10s op notify timeout=10s
clone nfs-grace-clone nfs-grace meta notify=true
location nfs-grace-where nfs-grace-clone rule -inf: grace-active ne 1
"
  for n in $(seq $N); do
    local next=$((n % N + 1)) other=$(((n + 1) % N + 1))
    conf+="primitive node$n-cluster_ip-1 ocf:heartbeat:IPaddr2 params ip=10.77.0.10$n cidr_netmask=24 nic=eth0 op monitor interval=5s
location node$n-ip-needs-ganesha node$n-cluster_ip-1 rule -inf: ganesha-active ne 1
location node$n-ip-home node$n-cluster_ip-1 3000: node$n
location node$n-ip-next node$n-cluster_ip-1 2000: node$next
location node$n-ip-other node$n-cluster_ip-1 1000: node$other
order nfs-grace-then-node$n-ip nfs-grace-clone node$n-cluster_ip-1
"
  done
  printf '%scommit\n' "$conf" | in_node 1 crm configure >/dev/null
  say "cluster up in $D; resources are starting. Try:"
  cat >&2 <<EOF
  $0 status
  $0 exec 1 crm_mon            # live view (q to quit)
  $0 crash 2                   # ganesha.nfsd on node2 dies: node1/node3 enter grace, then 10.77.0.102 moves
  $0 revive 2                  # it is back: the VIP fails back to node2
  $0 down
  logs: $D/node*/pacemaker.log (agents log there too), $D/node*/ganesha/ganesha.log
EOF
}

grace_state() {
  local out
  out=$(DBUS_SYSTEM_BUS_ADDRESS="unix:path=$(dir)/node$1/ganesha/dbus/system_bus_socket" \
    dbus-send --system --print-reply --reply-timeout=2000 --dest=org.ganesha.nfsd \
    /org/ganesha/nfsd/admin org.ganesha.nfsd.admin.get_grace 2>/dev/null) || { echo "not answering"; return; }
  grep -q 'boolean true' <<<"$(head -2 <<<"$out")" && echo "IN GRACE" || echo "not in grace"
}

cmd_status() {
  in_node 1 crm_mon -1 -A -r || true
  for i in $(seq $N); do echo "node$i ganesha.nfsd: $(grace_state "$i")"; done
}

cmd_down() {
  local d
  d=$(dir)
  for name in node1 node2 node3 switch; do
    local pid
    pid=$(cat "$d/pids/$name" 2>/dev/null) || continue
    # SIGKILL to the namespace's init: the kernel ends every process of the namespace
    if alive "$pid" && [[ $(cat "/proc/$pid/comm") == bash ]]; then kill -KILL "$pid"; fi
    for _ in $(seq 500); do alive "$pid" || break; sleep 0.01; done
    rm -f "$d/pids/$name"
  done
  rm -f "$STATE"
  say "stopped; logs kept in $d"
}

# Sourced (the harness tests spawn() this way), it only defines the functions.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

case ${1:-} in
up) shift; cmd_up "$@" ;;
status) cmd_status ;;
crash) in_node "${2:?node number}" bash "$HERE/sandbox/ganesha.sh" kill-ganesha "$(dir)/node$2/ganesha" ;;
revive) in_node "${2:?node number}" bash "$HERE/sandbox/ganesha.sh" ganesha "$(dir)/node$2/ganesha" ;;
exec) i=${2:?node number}; shift 2; in_node "$i" "$@" ;;
down) cmd_down ;;
*) sed -n '2,12p' "$0" >&2; exit 64 ;;
esac
