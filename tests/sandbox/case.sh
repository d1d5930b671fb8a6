#!/bin/bash
# PID 1 of one hardening/fuzz case (tests/common/case.rs starts it under
# `unshare --fork --pid --mount --net --uts --ipc --kill-child --propagation private`, with a
# clean environment). Runs one program of the binary, once, in a world of its own:
#   - / is an overlay of the host's root whose upper layer is on tmpfs: the program may
#     write anywhere, the host never sees it, and every file it wrote outside the scratch
#     mounts (/tmp, /run, /dev) is listed afterwards;
#   - /tmp and /run are fresh tmpfs (no host socket, pid file or bus is reachable), /dev
#     holds only null, zero, full, random, urandom, tty; a fresh /proc; no network but lo;
#   - peers (attrd_updater, crm_node, crm_attribute, cibadmin, crm_resource, the D-Bus
#     system bus, HTTP on 127.0.0.1:8080) are absent, or stand-ins that hang, hang up or
#     answer garbage.
#   case.sh DIR      (DIR: written by case.rs, results go back there)
# DIR/argv: NUL-separated VAR=value... then the program and its arguments (read with
# readarray, so values may hold any byte but NUL); DIR/stdin; DIR/spec: shell variables
# STDOUT STDERR (file|full|closed|gone) PEER (none|hang|hangup|garbage) LIMIT_MS MEM_BYTES
# FIXTURES (words: fifo-tmp, big-tmp, dir-tmp); DIR/setup: sh commands run in the case first.
# Results: DIR/stdout DIR/stderr, DIR/result (rc=, elapsed_us=), DIR/leftovers
# (processes alive after the program ended), DIR/written (paths outside the scratch mounts).
set -uo pipefail
D=$1
HERE=$(dirname "$0")
# shellcheck disable=SC1091
source "$D/spec"
S=$D/s
mkdir -p "$S"
mount -t tmpfs -o mode=0755 tmpfs "$S" || exit 90
mkdir -p "$S/upper" "$S/work" "$S/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$S/upper,workdir=$S/work" "$S/root" || exit 91
R=$S/root
mount -t proc proc /proc || exit 92
mount -t proc proc "$R/proc" || exit 92
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp" || exit 93
mount -t tmpfs -o mode=0755 tmpfs "$R/run" || exit 93
mount -t tmpfs -o mode=0755 tmpfs "$R/dev" || exit 94
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mkdir -p "$R/dev/shm" "$R/run/lock" "$R/tmp/ocfbox-bin" "$R/tmp/peer-bin"

for f in $FIXTURES; do
  case $f in
    fifo-tmp) mkfifo "$R/tmp/fifo" ;;
    big-tmp) head -c 4194304 /dev/zero >"$R/tmp/big" ;;
    dir-tmp) mkdir -p "$R/tmp/dir" ;;
  esac
done

[[ -s $D/setup ]] && { chroot "$R" /bin/sh -c "$(<"$D/setup")" || exit 97; }

# Peers. Stand-ins for Pacemaker's tools come first on PATH when PEER is not none.
if [[ $PEER != none ]]; then
  for tool in attrd_updater crm_node crm_attribute cibadmin crm_resource crm_mon stonith_admin; do
    case $PEER in
      hang) printf '#!/bin/sh\nexec sleep 3600\n' ;;
      hangup) printf '#!/bin/sh\nkill -KILL $$\n' ;;
      garbage) printf '#!/bin/sh\nhead -c 3000 /dev/urandom\nhead -c 300 /dev/urandom >&2\nexit $(( $$ %% 3 ))\n' ;;
    esac >"$R/tmp/peer-bin/$tool"
    chmod 755 "$R/tmp/peer-bin/$tool"
  done
  ip link set lo up 2>/dev/null
  mkdir -p "$R/run/dbus"
  coproc PEERD { exec perl "$HERE/case-peer.pl" "$PEER" "$R/run/dbus/system_bus_socket"; }
  read -r -t 10 -u "${PEERD[0]}" _ready || exit 95
fi

readarray -d '' -t ARGV <"$D/argv"
prog=
for a in "${ARGV[@]}"; do [[ $a == *=* ]] || { prog=${a##*/}; break; }; done
ln -s "$OCFBOX" "$R/tmp/ocfbox-bin/$prog"

case $STDOUT in
  file) exec 4>"$D/stdout" ;; full) exec 4>/dev/full ;; closed) exec 4>&- ;;
  gone) exec 4> >(exec true) ;;
esac
case $STDERR in
  file) exec 5>"$D/stderr" ;; full) exec 5>/dev/full ;; closed) exec 5>&- ;;
  gone) exec 5> >(exec true) ;;
esac
# a reader that has gone: give it the time to go
[[ $STDOUT == gone || $STDERR == gone ]] && sleep 0.05

start=$EPOCHREALTIME
# The program runs under timeout(1), which kills its whole process group at LIMIT_MS (124
# or 137 then); PID 1 here reaps and checks.
(
  cd "$R/tmp" || exit 96
  exec 1>&4 2>&5 4>&- 5>&- 0<"$D/stdin"
  [[ $STDOUT == closed ]] && exec 1>&-
  [[ $STDERR == closed ]] && exec 2>&-
  exec timeout -s KILL "$(printf '%d.%03d' $((LIMIT_MS / 1000)) $((LIMIT_MS % 1000)))" \
    prlimit --as="$MEM_BYTES" -- chroot "$R" /usr/bin/env -i "${ARGV[@]}"
)
rc=$?
end=$EPOCHREALTIME
exec 4>&- 5>&- 2>/dev/null
s_us=$(( ${start%.*} * 1000000 + 10#${start#*.} ))
e_us=$(( ${end%.*} * 1000000 + 10#${end#*.} ))

# Whatever is still alive, apart from this script and the peer stand-in, was left behind.
: >"$D/leftovers"
for p in /proc/[0-9]*; do
  n=${p#/proc/}
  [[ $n == 1 || $n == "${PEERD_PID:-x}" ]] && continue
  [[ -r $p/stat ]] || continue
  st=$(<"$p/stat") 2>/dev/null || continue
  st=${st##*) }
  [[ ${st:0:1} == Z ]] && continue
  comm=$(<"$p/comm") 2>/dev/null
  [[ $comm == perl ]] && continue
  printf '%s %s\n' "$n" "$comm" >>"$D/leftovers"
done
(cd "$S/upper" && find . -mindepth 1 \( -type d -empty -o ! -type d \) -printf '/%P\n') >"$D/written" 2>/dev/null
echo "rc=$rc elapsed_us=$((e_us - s_us))" >"$D/result"
