#!/usr/bin/env python3
"""fence_nova off against stock fence_compute off, on the same Nova simulator.

What is measured is the time the fencing operation is held by the Nova device: from the
agent's start (options on stdin, as pacemaker-fenced gives them) to its exit, for `off` of
a crashed compute host among 12 (nova-compute down, enabled), with 0 and 20 ms of simulated
latency per response. Before each run the simulator's state is reset, so both agents do the
whole job every time (force down, disable, evacuate=yes). Runs are interleaved.
attrd is bench/attrd_updater.sh (a file per node): both sides pay the same.

Usage: fence_nova.py OCFBOX_BIN [RUNS]   (prints a markdown table)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from nova_evacuate import control, PASSWORD, PY  # noqa: E402  (the same simulator plumbing)

HOSTS = 12
VICTIM = "compute-3"


def state():
    services = [{"host": "controller-0", "binary": "nova-scheduler"},
                {"host": "controller-0", "binary": "nova-conductor"}]
    for h in range(HOSTS):
        s = {"host": f"compute-{h}", "binary": "nova-compute"}
        if s["host"] == VICTIM:
            s["alive"] = False
        services.append(s)
    return {
        "regions": ["RegionOne"],
        "domains": [{"id": "default", "name": "Default"}],
        "projects": [{"id": "p-admin", "name": "admin", "domain_id": "default"}],
        "users": [{"id": "u-admin", "name": "admin", "domain_id": "default",
                   "password": PASSWORD, "roles": {"p-admin": ["admin", "member", "reader"]}}],
        "application_credentials": [], "services": services, "flavors": [], "images": [],
        "servers": [], "migrations": [],
    }


def run_sim(work, latency_ms):
    sock = os.path.join(work, f"control-{latency_ms}.sock")
    st = os.path.join(work, "state.json")
    with open(st, "w") as f:
        import json
        json.dump(state(), f)
    ports = os.path.join(work, f"ports-{latency_ms}")
    sim = subprocess.Popen(
        [PY, os.path.join(ROOT, "tests/nova-sim/novasim.py"), "--state", st, "--port-file", ports,
         "--control-socket", sock, "--latency-ms", str(latency_ms), "--parent-pid", str(os.getpid())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(work, "sim.err"), "a"))
    for _ in range(750):
        if os.path.exists(ports) and os.path.exists(sock):
            break
        time.sleep(0.02)
    port = int(open(ports).read().split()[0])
    return sim, sock, f"http://127.0.0.1:{port}/identity"


def main():
    binary = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    work = tempfile.mkdtemp(prefix="ocfbox-bench-fence.")
    attrd_dir = os.path.join(work, "attrd")
    stub_bin = os.path.join(work, "bin")
    os.mkdir(stub_bin)
    os.symlink(os.path.join(HERE, "attrd_updater.sh"), os.path.join(stub_bin, "attrd_updater"))
    os.symlink(binary, os.path.join(stub_bin, "fence_nova"))
    site = os.path.join(work, "site")
    os.mkdir(site)
    with open(os.path.join(site, "sitecustomize.py"), "w") as f:
        # fence-agents 4.12 calls inspect.getargspec, gone in Python 3.11
        f.write("import inspect\nif not hasattr(inspect, 'getargspec'):\n"
                "    inspect.getargspec = inspect.getfullargspec\n")
    env = {"PATH": f"{stub_bin}:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": work,
           "BENCH_ATTRD_DIR": attrd_dir, "PCMK_service": "pacemaker-fenced"}
    rows = []
    try:
        for latency in (0, 20):
            sim, sock, auth_url = run_sim(work, latency)
            try:
                stdin = (f"action=off\nport={VICTIM}\nnodename={VICTIM}\nauth_url={auth_url}\n"
                         f"login=admin\npasswd={PASSWORD}\ntenant_name=admin\nuser_domain=Default\n"
                         "project_domain=Default\nendpoint_type=publicURL\nregion_name=RegionOne\n"
                         "record_only=1\n")
                agents = {
                    "ocfbox fence_nova off": ([os.path.join(stub_bin, "fence_nova")], env),
                    "fence_compute off (fence-agents 4.12)": (
                        [PY, "/usr/sbin/fence_compute"],
                        dict(env, PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1")),
                }
                times = {k: [] for k in agents}
                codes = {k: set() for k in agents}
                for _ in range(runs):
                    for label, (argv, e) in agents.items():
                        control(sock, "PUT", "state", state())
                        if os.path.isdir(attrd_dir):
                            for f in os.listdir(attrd_dir):
                                os.unlink(os.path.join(attrd_dir, f))
                        t0 = time.perf_counter()
                        p = subprocess.run(argv, input=stdin, env=e, capture_output=True, text=True)
                        times[label].append(time.perf_counter() - t0)
                        codes[label].add(p.returncode)
                        svc = next(s for s in control(sock, "GET", "state")["services"]
                                   if s["host"] == VICTIM and s["binary"] == "nova-compute")
                        marked = open(os.path.join(attrd_dir, VICTIM)).read() if os.path.exists(
                            os.path.join(attrd_dir, VICTIM)) else ""
                        if p.returncode != 0 or not svc.get("forced_down") or marked != "yes":
                            print(f"{label}: rc {p.returncode}, forced_down {svc.get('forced_down')}, "
                                  f"evacuate={marked!r}: {p.stderr[-300:]}", file=sys.stderr)
                for label in agents:
                    rows.append((latency, label, statistics.median(times[label]),
                                 min(times[label]), max(times[label]), sorted(codes[label])))
            finally:
                sim.kill()
                sim.wait()
    finally:
        subprocess.run(["rm", "-rf", work])
    print(f"\n### fence_nova off vs fence_compute off: one crashed host among {HOSTS}, "
          f"options on stdin ({runs} runs each, interleaved, medians)\n")
    print("| latency | agent | median ms | min–max ms | exit codes | ratio |")
    print("|---:|---|---:|---:|---|---:|")
    for latency in (0, 20):
        mine = [r for r in rows if r[0] == latency]
        base = next(r for r in mine if r[1].startswith("ocfbox"))
        for r in mine:
            ratio = "" if r is base else f"ocfbox {r[2] / base[2]:.1f}× faster"
            print(f"| {latency} ms | {r[1]} | {r[2] * 1000:.1f} | {r[3] * 1000:.1f}–{r[4] * 1000:.1f} | "
                  f"{','.join(map(str, r[5]))} | {ratio} |")


if __name__ == "__main__":
    main()
