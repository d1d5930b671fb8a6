#!/bin/bash
# PID 1 of one Pacemaker cluster node (tests/common/pacemaker/mod.rs starts it under
# `unshare --pid --fork --mount --net --uts --propagation private`).
#   pcmk-node.sh NODE_DIR NAME [ADDR]
# NODE_DIR holds what the harness wrote: corosync.conf, cib-seed.xml, pacemakerd.env
# (NUL-separated NAME=VALUE, the whole environment of pacemakerd and so of every agent),
# providers (lines "PROVIDER<TAB>HOST_DIR"). With ADDR, the node waits for the harness
# to move its end of a veth pair in as eth0, and puts ADDR/24 on it; without, only lo.
# Only SIGKILL from the host ends this; every process of the node dies with it.
set -euo pipefail
DIR=$1 NAME=$2 ADDR=${3:-}
say() { printf '%s %s: %s\n' "$(date +%T.%3N)" "$NAME" "$*"; }

hostname "$NAME"
# Private runtime state: /run (crm, resource-agents state files) and /dev/shm (libqb's
# shared-memory IPC rings). libqb's sockets are abstract, i.e. per network namespace,
# so the CLI tools run in this node talk to this node's daemons only.
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
for d in lib-pacemaker lib-corosync log-pacemaker log-crmsh home; do
  mkdir -p "$DIR/$d"
done
mount --bind "$DIR/lib-pacemaker" /var/lib/pacemaker
mount --bind "$DIR/lib-corosync" /var/lib/corosync
mount --bind "$DIR/log-pacemaker" /var/log/pacemaker
# crmsh logs to /var/log/crmsh/crmsh.log: keep that in the node dir too
if [[ -d /var/log/crmsh ]]; then mount --bind "$DIR/log-crmsh" /var/log/crmsh; fi
install -d -m 0750 -o hacluster -g haclient /var/lib/pacemaker /var/lib/pacemaker/cib \
  /var/lib/pacemaker/pengine /var/lib/pacemaker/cores /var/lib/pacemaker/blackbox /run/crm
install -d -m 0770 -o hacluster -g haclient /var/log/pacemaker
install -d -m 1755 /run/resource-agents

# shellcheck source=lib-node.sh
source "${BASH_SOURCE[0]%/*}/lib-node.sh"
mount_ocf_providers "$DIR"
overlay_sbin "$DIR"

ip link set lo up
if [[ -n $ADDR ]]; then
  for _ in $(seq 500); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.02; done
  ip addr add "$ADDR/24" dev eth0
  ip link set eth0 up
fi

# Seed the CIB on first start only: a restarted node keeps its CIB, like a real one.
if [[ ! -e /var/lib/pacemaker/cib/cib.xml ]]; then
  install -m 0600 -o hacluster -g haclient "$DIR/cib-seed.xml" /var/lib/pacemaker/cib/cib.xml
fi

corosync -f -c "$DIR/corosync.conf" >>"$DIR/corosync.out" 2>&1 </dev/null &
say "corosync started"
for _ in $(seq 1000); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.02; done
corosync-cfgtool -s >/dev/null 2>&1 || say "corosync not answering yet; starting pacemakerd anyway"

mapfile -d '' -t pcmk_env <"$DIR/pacemakerd.env"
env -i "${pcmk_env[@]}" pacemakerd >>"$DIR/pacemakerd.out" 2>&1 </dev/null &
say "pacemakerd started"

# PID 1 of the namespace: stay alive, reap orphans.
trap '' TERM INT HUP
while :; do
  wait || true
  sleep 3600 &
done
