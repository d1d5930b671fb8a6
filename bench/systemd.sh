#!/usr/bin/env bash
# SystemdService against the systemd tools it replaces, on a REAL systemd (systemd --user,
# in the same sandbox the tests use: tests/sandbox/systemd.sh, private PID/mount/cgroup/
# net namespaces, its API on a private bus). Root required.
#
#   start: SystemdService start of a Type=notify unit, against blocking
#          `systemctl --user start` (the physical limit: queue the job, wait for it) and
#          start-then-poll-every-2-s (Pacemaker <= 3.0.0's follow-up monitors, and shell
#          agents). Goal: <= +5 ms median over systemctl start. Measured twice: with the
#          drop-in already in place (back-to-back starts), and after the agent's own stop
#          removed it (the cluster's stop/start cycle: the start writes it and reloads).
#   monitor of an active unit at OCF_CHECK_LEVEL 0: goal <= 3 ms median, against
#          `systemctl --user is-active` and the bash ocf:heartbeat:Dummy monitor.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${BENCH_RUNS:-300}
START_RUNS=${BENCH_START_RUNS:-100}
POLL_RUNS=${BENCH_POLL_RUNS:-5}
DUMMY=/usr/lib/ocf/resource.d/heartbeat/Dummy

[[ $(id -u) == 0 ]] || { echo "bench/systemd.sh needs root (namespaces, cgroups)" >&2; exit 1; }
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/ocfbox

work=$(mktemp -d /tmp/ocfbox-bench-systemd.XXXXXX)
chmod 0755 "$work"
cg_root=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
cg=$cg_root$(sed -n 's/^0:://p' /proc/self/cgroup)/ocfbox-bench-$$
unshare_pid=
cleanup() {
  if [[ -n $unshare_pid ]]; then
    # SIGKILL to the namespace's init ends everything in it; unshare exits once it is empty.
    init=$(cat /proc/"$unshare_pid"/task/*/children 2>/dev/null | awk '{print $1}')
    [[ -n $init ]] && kill -KILL "$init" 2>/dev/null || true
    wait "$unshare_pid" 2>/dev/null || true
  fi
  [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$cg"

# The sandbox: PID 1 of fresh namespaces, rooted in our own cgroup (as the tests do it).
setpriv --pdeathsig KILL -- sh -c 'echo $$ >"$0" && exec "$@"' "$cg/cgroup.procs" \
  unshare --fork --pid --kill-child --cgroup --mount --mount-proc --uts --net \
  --propagation private -- bash "$ROOT/tests/sandbox/systemd.sh" "$work" 1 warning \
  >"$work/sandbox.log" 2>&1 &
unshare_pid=$!
bus=unix:path=$work/xdg/bus
for _ in $(seq 1000); do
  busctl --address="$bus" call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetNameOwner s org.freedesktop.systemd1 >/dev/null 2>&1 && break
  sleep 0.01
done
init=$(cat /proc/"$unshare_pid"/task/*/children | awk '{print $1}')

# The Type=notify service: a tiny program that says READY=1 at once and then waits, so
# the numbers are systemd's and the agents', not a shell's or an interpreter's.
cat >"$work/notify.rs" <<'RS'
use std::os::unix::net::UnixDatagram;
fn main() {
    if let Ok(path) = std::env::var("NOTIFY_SOCKET") {
        if let Ok(s) = UnixDatagram::unbound() {
            let _ = s.send_to(b"READY=1", path);
        }
    }
    loop { std::thread::park(); }
}
RS
rustc -O -o "$work/notify-ready" "$work/notify.rs"
# The floor of any agent: a Rust program that starts and exits, nothing else.
echo 'fn main() {}' >"$work/floor.rs"
rustc -O -C strip=symbols -o "$work/rust-floor" "$work/floor.rs"
units=$work/xdg/systemd/user
printf '[Service]\nType=notify\nExecStart=%s\n' "$work/notify-ready" >"$units/bench.service"

mkdir -p "$work/agents"
ln -s "$BIN" "$work/agents/SystemdService"
AGENT=$work/agents/SystemdService

export PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
export DBUS_SESSION_BUS_ADDRESS=$bus DBUS_SYSTEM_BUS_ADDRESS=$bus XDG_RUNTIME_DIR=$work/xdg
export OCFBOX_SYSTEMD_MANAGER=user SYSTEMD_PAGER=cat
export OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=bench OCF_RESKEY_unit=bench
export OCF_RESKEY_CRM_meta_timeout=20000 HA_LOGFACILITY=none HA_LOGFILE=$work/agents.log
# Dummy keeps its state in $HA_RSCTMP/Dummy-<instance>.state (not a parameter ocfbox would
# warn about).
export HA_RSCTMP=$work

# Everything is measured inside the sandbox's mount and PID namespaces, without a per-run
# nsenter: systemctl --user needs the sandbox's /run/systemd/system, and it talks to the
# manager's private socket, which refuses a peer from another PID namespace.
in_sandbox() { nsenter -t "$init" -m -p -- "$@"; }
in_sandbox systemctl --user daemon-reload

# --- start ---------------------------------------------------------------------------
# Interleaved rounds (machine noise hits every row alike); before each timed start the unit
# is stopped, untimed: by systemctl, or for the stop/start-cycle row by the agent, whose
# stop removes the drop-in (so that start writes it again and reloads systemd). Also the
# CPU time systemd and dbus-daemon spend per start (the cost to the node, not only the wait).
cat >"$work/start_measure.py" <<'PY'
import json, os, statistics, subprocess, sys, time
runs, poll_runs, agent = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def pid_of(comm):
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and open(f"/proc/{p}/comm").read().strip() == comm:
                return p
        except OSError:
            pass
def cpu_ms(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / os.sysconf("SC_CLK_TCK")
peers = [pid_of("systemd"), pid_of("dbus-daemon")]
sc = ["systemctl", "--user"]
stop_sc = sc + ["stop", "bench.service"]
variants = [
    ("SystemdService start (drop-in in place)", stop_sc, [agent, "start"], runs),
    ("systemctl --user start (blocking)", stop_sc, sc + ["start", "bench.service"], runs),
    ("SystemdService start after its own stop (writes drop-in, daemon-reload)",
     [agent, "stop"], [agent, "start"], runs),
    ("systemctl start --no-block, poll is-active every 2 s (Pacemaker <= 3.0.0)", stop_sc,
     ["sh", "-c", "systemctl --user start --no-block bench.service; sleep 2; "
                  "until systemctl --user is-active -q bench.service; do sleep 2; done"], poll_runs),
]
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
res = {v[0]: ([], set(), []) for v in variants}
warmup = 3
for i in range(runs + warmup):
    for label, prep, cmd, n in variants:
        if i >= n + warmup:
            continue
        subprocess.run(prep, **quiet)
        before = sum(cpu_ms(p) for p in peers if p)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, **quiet).returncode
        ms = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            res[label][0].append(ms)
            res[label][1].add(rc)
            res[label][2].append(sum(cpu_ms(p) for p in peers if p) - before)
for label, prep, cmd, n in variants:
    t, codes, cpu = res[label]
    q = statistics.quantiles(t, n=10) if len(t) >= 2 else [t[0], t[0]]
    print(json.dumps({"label": label, "runs": len(t), "median_ms": round(statistics.median(t), 3),
                      "p10_ms": round(q[0], 3), "p90_ms": round(q[-1], 3), "median_rss_kib": 0,
                      "exit_codes": sorted(codes), "peer_cpu_ms": round(sum(cpu) / len(cpu), 2)}))
PY
in_sandbox python3 "$work/start_measure.py" "$START_RUNS" "$POLL_RUNS" "$AGENT" >"$work/start.jsonl"
python3 bench/table.py \
  "SystemdService start of a Type=notify unit (median of $START_RUNS interleaved runs, the poll row $POLL_RUNS; peak RSS not measured here)" \
  "SystemdService start (drop-in in place)" <"$work/start.jsonl"
python3 - "$work/start.jsonl" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
sc = rows["systemctl --user start (blocking)"]["median_ms"]
print()
for label in ("SystemdService start (drop-in in place)",
              "SystemdService start after its own stop (writes drop-in, daemon-reload)"):
    d = rows[label]["median_ms"] - sc
    print(f"- {label}: {d:+.2f} ms median over blocking systemctl start (goal <= +5 ms)")
short = {"SystemdService start (drop-in in place)": "SystemdService start",
         "systemctl --user start (blocking)": "systemctl start",
         "SystemdService start after its own stop (writes drop-in, daemon-reload)":
             "SystemdService start after its stop",
         "systemctl start --no-block, poll is-active every 2 s (Pacemaker <= 3.0.0)": "start + 2 s polls"}
print("- CPU time systemd + dbus-daemon spend per start (mean): " + "; ".join(
    f"{short.get(label, label)} {r['peer_cpu_ms']:.1f} ms" for label, r in rows.items()))
PY

# --- monitor of an active unit, depth 0 ------------------------------------------------
in_sandbox systemctl --user start bench.service
touch "$HA_RSCTMP/Dummy-$OCF_RESOURCE_INSTANCE.state"   # Dummy: state file present = running
in_sandbox python3 "$ROOT/bench/measure.py" --runs "$RUNS" \
  --env OCF_CHECK_LEVEL=0 --env OCF_RESKEY_CRM_meta_interval=10000 \
  --label "SystemdService monitor (active, depth 0)" -- "$AGENT" monitor \
  --label "systemctl --user is-active" -- systemctl --user is-active bench.service \
  --label "bash Dummy monitor (running)" -- "$DUMMY" monitor \
  --label "a Rust program that only starts and exits (floor)" -- "$work/rust-floor" \
  >"$work/monitor.jsonl"
python3 bench/table.py "monitor of an active unit at check level 0 (median of $RUNS runs each; goal <= 3 ms)" \
  "SystemdService monitor (active, depth 0)" <"$work/monitor.jsonl"
