#!/usr/bin/env bash
# make bench: every bench/*.sh, each printing its own markdown table of ocfbox side by side
# with the agent or tool it replaces (ratios of medians). Expects a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x target/release/ocfbox ]] || cargo build --release
echo "# ocfbox benchmarks ($(date -u +%F), $(nproc) cores, $(uname -r))"
echo "release binary: $(stat -c %s target/release/ocfbox) bytes"
rc=0
# The runtime's own numbers first, then each agent family's.
scripts=(bench/foundation.sh)
for s in bench/*.sh; do
  [[ $s == bench/run.sh || $s == bench/foundation.sh ]] || scripts+=("$s")
done
for script in "${scripts[@]}"; do
  "$script" || { echo "($script failed with $?)"; rc=1; }
done
exit $rc
