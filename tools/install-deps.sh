#!/usr/bin/env bash
# Make sure the programs the test suite drives are on this machine: real Pacemaker,
# Corosync, systemd, D-Bus, NFS-Ganesha, resource-agents (ocf-tester, the DTD and RNG),
# xmllint, iproute2, hyperfine. As root, missing Debian packages are installed with apt;
# otherwise the script names what is missing and fails, so no test silently skips.
set -euo pipefail

# command-or-file  package
need=(
  "pacemakerd pacemaker"
  "crm_mon pacemaker-cli-utils"
  "corosync corosync"
  "ocf-tester resource-agents"
  "/usr/share/resource-agents/ra-api-1.dtd resource-agents"
  "/usr/lib/ocf/resource.d/heartbeat/IPaddr2 resource-agents"
  "xmllint libxml2-utils"
  "dbus-daemon dbus"
  "dbus-send dbus"
  "busctl systemd"
  "/lib/systemd/systemd systemd"
  "ganesha.nfsd nfs-ganesha"
  "/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so nfs-ganesha-vfs"
  "/usr/lib/x86_64-linux-gnu/ganesha/libfsalmem.so nfs-ganesha-mem"
  "ip iproute2"
  "unshare util-linux"
  "setpriv util-linux"
  "hyperfine hyperfine"
  "python3 python3"
  "crm crmsh"
  "pcs pcs"
)

missing=()
for entry in "${need[@]}"; do
  thing=${entry% *}; pkg=${entry#* }
  if [[ $thing == /* ]]; then [[ -e $thing ]] && continue
  else command -v "$thing" >/dev/null 2>&1 && continue; fi
  [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "run 'make test' as root (it installs them), or: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No recommends: pacemaker's pull in fence-agents and a desktop keyring whose user units
# would start inside the systemd test sandbox.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}" >&2
