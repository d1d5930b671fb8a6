#!/bin/bash
# Stand-in for attrd_updater in bench/nova_evacuate.py: one file per node under
# $BENCH_ATTRD_DIR; answers the calls NovaEvacuate, fence_nova and fence_compute make (-Q -A --output-as=xml,
# -p -U -N).
dir=${BENCH_ATTRD_DIR:?}
mkdir -p "$dir"
query=0 value="" node=""
while [[ $# -gt 0 ]]; do
  case $1 in
    -Q|--query) query=1 ;;
    # as in attrd_updater, the last command flag wins (fence_compute passes -Q ... -U yes)
    -U|--update) query=0; value=$2; shift ;;
    -N|--node) node=$2; shift ;;
    *) ;;
  esac
  shift
done
if [[ $query == 1 ]]; then
  echo '<pacemaker-result api-version="2.25" request="attrd_updater">'
  for f in "$dir"/*; do
    [[ -e $f ]] || continue
    printf '  <attribute name="evacuate" value="%s" host="%s"/>\n' "$(cat "$f")" "${f##*/}"
  done
  echo '  <status code="0" message="OK"/>'
  echo '</pacemaker-result>'
else
  printf '%s' "$value" >"$dir/$node"
fi
