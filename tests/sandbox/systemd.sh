#!/bin/bash
# PID 1 of a systemd sandbox (tests/common/systemd.rs starts it under
# `unshare --cgroup --pid --fork --mount --uts [--net] --propagation private`).
# Runs a real `systemd --user` (systemd 252) whose API is on a private D-Bus bus.
#   systemd.sh BASE PRIVATE_NET(0|1) LOG_LEVEL
# (re-runs itself as `systemd.sh --manager BASE LOG_LEVEL` under script(1), see below)
# BASE/xdg is XDG_RUNTIME_DIR: the bus socket is BASE/xdg/bus, unit files go to
# BASE/xdg/systemd/user/. Only SIGKILL from the host ends this; everything dies with it.
set -euo pipefail
if [[ $1 == --manager ]]; then
  # second stage, on script(1)'s pty: make it the console, then become the manager with
  # a clean environment (the user manager hands its own to every unit), HOME inside BASE
  # (no ~/.config/systemd of the host), and no generators (slow, and they read the host)
  BASE=$2 LOG_LEVEL=$3
  stty -onlcr 2>/dev/null || true
  mount --bind "$(tty)" /dev/console
  exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME="$BASE/home" \
    XDG_RUNTIME_DIR="$BASE/xdg" \
    SYSTEMD_GENERATOR_PATH="$BASE/empty" SYSTEMD_ENVIRONMENT_GENERATOR_PATH="$BASE/empty" \
    /lib/systemd/systemd --user --unit=ocfbox-sandbox.target --log-target=console \
    --log-level="$LOG_LEVEL"
fi
BASE=$1 PRIVATE_NET=$2 LOG_LEVEL=${3:-info}
say() { printf '%s systemd-sandbox: %s\n' "$(date +%T.%3N)" "$*"; }

# systemd --user refuses to run unless /run/systemd/system exists ("not booted with
# systemd"): give it a private /run where it does.
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/system /run/systemd/user.conf.d
# units' output to the console (see script(1) below), not to a journal that isn't there
printf '[Manager]\nDefaultStandardOutput=tty\n' >/run/systemd/user.conf.d/ocfbox-sandbox.conf
# The cgroup namespace is rooted at this sandbox's own cgroup2 directory: mounted here,
# systemd sees a whole unified hierarchy of its own and cannot touch the host's cgroups
# (run as root without this, it moves every host process into its init.scope).
mount -t cgroup2 cgroup2 /sys/fs/cgroup
[[ $PRIVATE_NET == 1 ]] && ip link set lo up

export XDG_RUNTIME_DIR=$BASE/xdg
install -d -m 0700 "$XDG_RUNTIME_DIR" "$XDG_RUNTIME_DIR/systemd" "$BASE/home" "$BASE/empty"
install -d -m 0755 "$XDG_RUNTIME_DIR/systemd/user"
units=$XDG_RUNTIME_DIR/systemd/user
# systemd 252 exposes its API on the bus only while the dbus.socket and dbus.service
# units run, so the bus is one of its own units (these override the host's).
cat >"$units/dbus.socket" <<'EOF'
[Unit]
Description=sandbox D-Bus socket
[Socket]
ListenStream=%t/bus
EOF
cat >"$units/dbus.service" <<'EOF'
[Unit]
Description=sandbox D-Bus bus
Requires=dbus.socket
[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/bin/dbus-daemon --session --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only
EOF
# Our own default target: the host's sockets.target.wants (gpg-agent, ...) stay off.
cat >"$units/ocfbox-sandbox.target" <<'EOF'
[Unit]
Description=ocfbox test sandbox
Wants=dbus.socket dbus.service
AllowIsolate=yes
EOF

# The manager (not PID 1) logs to /dev/console, and only if that is a terminal. So it
# runs under script(1), whose pty is bind-mounted over /dev/console: the manager's log
# and the units' output land in BASE/systemd.log.
script -q -f -c "$(printf '%q ' bash "$0" --manager "$BASE" "$LOG_LEVEL")" "$BASE/systemd.log" \
  </dev/null >/dev/null &
say "systemd --user started under script(1) (pid $! in the sandbox)"

# PID 1 of the namespace: stay alive, reap orphans.
trap '' TERM INT HUP
while :; do
  wait || true
  sleep 3600 &
done
