#!/usr/bin/env bash
# Make sure the programs the test suite drives are on this machine: real Pacemaker,
# Corosync, systemd, D-Bus, NFS-Ganesha, resource-agents (ocf-tester, the DTD and RNG),
# xmllint, iproute2, hyperfine; man-db/groff (man page test), pcs (pcs examples), rpm,
# lintian, dpkg-dev and binutils (package tests); for the Nova simulator and its fidelity checks Debian's
# /usr/bin/python3 (not a pyenv shim earlier on PATH), openssl, python3-novaclient,
# python3-openstackclient, python3-keystoneclient (fence-agents only suggests it) and
# fence-agents. As root, missing Debian packages are installed with apt;
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
  "/usr/bin/python3 python3"
  "/usr/bin/nova python3-novaclient"
  "/usr/bin/openstack python3-openstackclient"
  "/usr/lib/python3/dist-packages/keystoneclient/__init__.py python3-keystoneclient"
  "/usr/lib/python3/dist-packages/yaml/__init__.py python3-yaml"
  "/usr/sbin/fence_compute fence-agents"
  "/usr/sbin/fence_evacuate fence-agents"
  "openssl openssl"
  "crm crmsh"
  "man man-db"
  "lexgrog man-db"
  "groff groff-base"
  "pcs pcs"
  "rpmbuild rpm"
  "lintian lintian"
  "dpkg-deb dpkg"
  "dpkg-shlibdeps dpkg-dev"
  "strip binutils"
)

missing=()
for entry in "${need[@]}"; do
  thing=${entry% *}; pkg=${entry#* }
  if [[ $thing == /* ]]; then [[ -e $thing ]] && continue
  else command -v "$thing" >/dev/null 2>&1 && continue; fi
  [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done

# pacemaker-remote conflicts with pacemaker (installing it removes pacemaker): never
# install it. Its one binary, pacemaker-remoted, shares pacemaker's libraries, so the
# harness (tests/common/remote.rs) runs it from the unpacked .deb of the SAME version.
remote_cache=/var/cache/ocfbox-tests/pacemaker-remote
fetch_pacemaker_remote() {
  local ver dir tmp
  ver=$(dpkg-query -W -f='${Version}' pacemaker 2>/dev/null) || return 0
  dir=$remote_cache/$ver
  [[ -x $dir/usr/sbin/pacemaker-remoted ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing $dir/usr/sbin/pacemaker-remoted: run this script as root" >&2
    exit 1
  fi
  tmp=$(mktemp -d)
  # apt-get download writes to the current directory, as _apt if it can
  chmod 0755 "$tmp"
  (cd "$tmp" && apt-get download -qq "pacemaker-remote=$ver" >/dev/null 2>&1) || {
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq "pacemaker-remote=$ver")
  }
  mkdir -p "$dir"
  dpkg-deb -x "$tmp"/pacemaker-remote_*.deb "$dir"
  rm -rf "$tmp"
  echo "unpacked pacemaker-remote $ver into $dir (not installed)" >&2
}

if [[ ${#missing[@]} -eq 0 ]]; then
  fetch_pacemaker_remote
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
fetch_pacemaker_remote
