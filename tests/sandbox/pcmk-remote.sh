#!/bin/bash
# PID 1 of one pacemaker_remote node (tests/common/remote.rs starts it under
# `unshare --pid --fork --mount --net --uts --ipc --propagation private`).
#   pcmk-remote.sh NODE_DIR NAME ADDR/PREFIX REMOTED [VIA]
# NODE_DIR holds remoted.env (NUL-separated NAME=VALUE: the whole environment of
# pacemaker-remoted, and so of every agent it runs) and providers. The node waits for the
# harness to move its end of a veth pair in as eth0 (fixed MAC, set by the harness), puts
# ADDR on it and, with VIA, routes the harness's service network (10.78.0.0/24: the Nova
# simulator) through VIA. REMOTED is pacemaker-remoted unpacked from Debian's .deb (the
# package conflicts with pacemaker, so it is never installed). Only SIGKILL ends this.
set -euo pipefail
DIR=$1 NAME=$2 ADDR=$3 REMOTED=$4 VIA=${5:-}
say() { printf '%s %s: %s\n' "$(date +%T.%3N)" "$NAME" "$*"; }

hostname "$NAME"
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
for d in lib-pacemaker log-pacemaker home; do mkdir -p "$DIR/$d"; done
mount --bind "$DIR/lib-pacemaker" /var/lib/pacemaker
mount --bind "$DIR/log-pacemaker" /var/log/pacemaker
install -d -m 0750 -o hacluster -g haclient /var/lib/pacemaker /run/crm
install -d -m 0770 -o hacluster -g haclient /var/log/pacemaker
install -d -m 1755 /run/resource-agents

# shellcheck source=lib-node.sh
source "${BASH_SOURCE[0]%/*}/lib-node.sh"
mount_ocf_providers "$DIR"

ip link set lo up
for _ in $(seq 500); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.02; done
ip addr add "$ADDR" dev eth0
ip link set eth0 up
if [[ -n $VIA ]]; then ip route add 10.78.0.0/24 via "$VIA"; fi

mapfile -d '' -t env <"$DIR/remoted.env"
env -i "${env[@]}" "$REMOTED" >>"$DIR/remoted.out" 2>&1 </dev/null &
say "pacemaker-remoted started"

trap '' TERM INT HUP
while :; do
  wait || true
  sleep 3600 &
done
