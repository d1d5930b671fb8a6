#!/bin/bash
# PID 1 of the "switch" of a multi-node test cluster (tests/common/pacemaker/mod.rs starts it
# under `unshare --pid --fork --net`): a network namespace with bridge br0. The harness
# plugs one veth per node into br0. Only SIGKILL from the host ends this.
set -euo pipefail
ip link set lo up
# A fixed MAC: a bridge otherwise takes its ports' lowest, which changes when a node's
# veth goes (a crash), and every neighbour cache then black-holes the service address
# on br0 (the simulator) for ~30 s.
ip link add br0 address 02:77:00:00:00:fe type bridge
ip link set br0 up
trap '' TERM INT HUP
while :; do sleep 3600; done
