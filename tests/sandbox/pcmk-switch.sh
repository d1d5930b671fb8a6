#!/bin/bash
# PID 1 of the "switch" of a multi-node test cluster (tests/common/pacemaker/mod.rs starts it
# under `unshare --pid --fork --net`): a network namespace with bridge br0. The harness
# plugs one veth per node into br0. Only SIGKILL from the host ends this.
set -euo pipefail
ip link set lo up
ip link add br0 type bridge
ip link set br0 up
trap '' TERM INT HUP
while :; do sleep 3600; done
