#!/bin/bash
# A REAL nfs-ganesha (ganesha.nfsd, NFSv4 only) owning org.ganesha.nfsd on a PRIVATE D-Bus
# system bus, for tests/common/ganesha.rs and tests/ganesha-cluster.sh.
#
#   ganesha.sh init DIR [GRACE [LEASE]]  PID 1 of a standalone sandbox (started by the harness under
#                                  `unshare --pid --fork --kill-child --mount-proc --mount --net`):
#                                  private /run, lo up, bus + ganesha, then stays as init.
#   ganesha.sh bus DIR             start the private bus (dbus-daemon) in the background
#   ganesha.sh ganesha DIR         (re)start ganesha.nfsd in the background, wait until its
#                                  admin interface answers on the bus
#   ganesha.sh kill-ganesha DIR    SIGKILL ganesha.nfsd (a crash), by the PID in its pid file
#   ganesha.sh config DIR          only write DIR/ganesha.conf (for a ganesha run by systemd)
#
# `bus` and `ganesha` also run inside a Pacemaker node's namespaces (one ganesha per node):
# what they start belongs to that PID namespace and dies with it.
# Knobs (environment): GANESHA_PIDFILE (default /run/ganesha/ganesha.pid: /run must be
# private), GANESHA_GRACE_PERIOD (default 10), GANESHA_LEASE_LIFETIME (default 5),
# GANESHA_LOGLEVEL (default NIV_EVENT), GANESHA_RECOVERY_ROOT (default DIR/recov; a node's
# /var/lib/nfs/ganesha stand-in, shared through ganesha_nfsd's link, for ganesha-ha.sh's layout).
# Files in DIR: dbus/system_bus_socket, dbus-system.conf, dbus.log, ganesha.conf,
# ganesha.log, ganesha.out, recov/ (RecoveryRoot), export/, ready (after init).
set -euo pipefail
CMD=${1:?usage: ganesha.sh init|bus|ganesha|kill-ganesha DIR}
DIR=${2:?usage: ganesha.sh $CMD DIR}
PIDFILE=${GANESHA_PIDFILE:-/run/ganesha/ganesha.pid}
if [[ $CMD == init ]]; then
  GANESHA_GRACE_PERIOD=${3:-${GANESHA_GRACE_PERIOD:-10}}
  GANESHA_LEASE_LIFETIME=${4:-${GANESHA_LEASE_LIFETIME:-5}}
fi
BUS_SOCK=$DIR/dbus/system_bus_socket
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BUS_SOCK
say() { printf '%s ganesha-sandbox: %s\n' "$(date +%T.%3N)" "$*" >&2; }
alive() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; [[ ${s:0:1} != Z ]]; }

# Poll (bounded) until "$@" succeeds; fails after $1 tries of 20 ms.
until_ok() {
  local tries=$1; shift
  for ((i = 0; i < tries; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.02; done
  return 1
}

start_bus() {
  mkdir -p "$DIR/dbus"
  chmod 0755 "$DIR" "$DIR/dbus" # non-root clients reach the socket; the bus policy refuses them
  rm -f "$BUS_SOCK"
  # A system bus with Debian's default policy (deny owning names and method calls) plus
  # ganesha's own policy: root only, exactly as on a real host.
  cat >"$DIR/dbus-system.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$BUS_SOCK</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
    <allow own="org.ganesha.nfsd"/>
    <allow send_destination="org.ganesha.nfsd"/>
  </policy>
</busconfig>
EOF
  setsid dbus-daemon --config-file="$DIR/dbus-system.conf" --nofork --nopidfile \
    </dev/null >>"$DIR/dbus.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$DIR/dbus.pid"
  until_ok 500 dbus-send --system --print-reply --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.GetId ||
    { say "dbus-daemon did not come up"; cat "$DIR/dbus.log" >&2; exit 71; }
  say "bus up at $BUS_SOCK (pid $pid)"
}

write_config() {
  mkdir -p "$DIR/recov" "$DIR/export" "$DIR/ccache" "$(dirname "$PIDFILE")"
  # NFSv4 only, no NLM/RQUOTA/UDP: nothing needs rpcbind. RecoveryBackend fs under DIR, so
  # a test seeds reclaim records (RecoveryRoot/<key>/v4recov/<client>) to keep grace up.
  cat >"$DIR/ganesha.conf" <<EOF
NFS_CORE_PARAM {
    Protocols = 4;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
    NFS_Port = 2049;
}
NFSv4 {
    RecoveryBackend = fs;
    RecoveryRoot = ${GANESHA_RECOVERY_ROOT:-$DIR/recov};
    Grace_Period = ${GANESHA_GRACE_PERIOD:-10};
    Lease_Lifetime = ${GANESHA_LEASE_LIFETIME:-5};
}
NFS_KRB5 {
    Active_krb5 = false;
    CCacheDir = $DIR/ccache;
}
EXPORT {
    Export_Id = 1;
    Path = $DIR/export;
    Pseudo = /export;
    Protocols = 4;
    Access_Type = RW;
    Squash = No_Root_Squash;
    FSAL { Name = VFS; }
}
EOF
}

start_ganesha() {
  [[ -S $BUS_SOCK ]] || { say "no bus at $BUS_SOCK: run 'ganesha.sh bus' first"; exit 70; }
  if [[ -s $PIDFILE ]] && alive "$(cat "$PIDFILE")" &&
    [[ $(cat "/proc/$(cat "$PIDFILE")/comm" 2>/dev/null) == ganesha.nfsd ]]; then
    say "ganesha.nfsd already runs (pid $(cat "$PIDFILE"))"
    return 0
  fi
  [[ -f $DIR/ganesha.conf ]] || write_config
  # -F: foreground, so it stays our (or init's) child and $! is its PID.
  setsid ganesha.nfsd -F -f "$DIR/ganesha.conf" -L "$DIR/ganesha.log" -p "$PIDFILE" \
    -N "${GANESHA_LOGLEVEL:-NIV_EVENT}" </dev/null >>"$DIR/ganesha.out" 2>&1 &
  local pid=$!
  for ((i = 0; i < 1000; i++)); do
    dbus-send --system --print-reply --dest=org.ganesha.nfsd /org/ganesha/nfsd/admin \
      org.ganesha.nfsd.admin.get_grace >/dev/null 2>&1 && break
    alive "$pid" || { say "ganesha.nfsd exited during start-up"; tail -30 "$DIR/ganesha.log" >&2; exit 72; }
    sleep 0.02
  done
  ((i < 1000)) || { say "ganesha.nfsd's admin interface never answered"; exit 73; }
  say "ganesha.nfsd pid $pid answers on the bus (pid file $PIDFILE)"
}

case $CMD in
init)
  ip link set lo up
  # getaddrinfo(AI_ADDRCONFIG) in ganesha's config parser ignores 127.0.0.1 alone.
  ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
  # Private /run: ganesha's defaults (/run/ganesha), the agents' state files
  # (/run/resource-agents) and /run/dbus stay inside the sandbox.
  mount -t tmpfs -o mode=0755,size=16m tmpfs /run
  install -d -m 1755 /run/resource-agents
  install -d -m 0755 /run/dbus
  start_bus
  # Clients that ignore DBUS_SYSTEM_BUS_ADDRESS still reach the private bus, never a host one.
  ln -sf "$BUS_SOCK" /run/dbus/system_bus_socket
  write_config
  start_ganesha
  : >"$DIR/ready"
  # PID 1 of the namespace: stay alive, reap orphans; only SIGKILL from the host ends it.
  trap '' TERM INT HUP
  while :; do
    wait || true
    sleep 3600 &
  done
  ;;
bus) start_bus ;;
config) write_config ;;
ganesha) start_ganesha ;;
kill-ganesha)
  pid=$(cat "$PIDFILE")
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == ganesha.nfsd ]] || { say "pid $pid is not ganesha.nfsd"; exit 1; }
  kill -KILL "$pid"
  until_ok 500 bash -c "! [ -e /proc/$pid/stat ] || grep -q ') Z' /proc/$pid/stat"
  say "killed ganesha.nfsd pid $pid"
  ;;
*) say "unknown command $CMD"; exit 64 ;;
esac
