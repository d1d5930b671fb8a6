#!/usr/bin/env python3
"""NovaEvacuate against what the old agent runs, on the same Nova simulator.

200 instances on 4 failed compute hosts (forced down, disabled, evacuate=yes), 20 ms of
simulated latency per response, 1 s per rebuild. Measured per run, runs interleaved:
- ocfbox: ONE `NovaEvacuate monitor` (the production path: OCF environment, attrd_updater,
  Keystone, Nova); "all accepted" = the newest evacuation migration's creation, "all done" =
  the monitor's exit (it sets evacuate=no only once every migration is done);
- anchor: stock fence-agents `fence_evacuate -o off` per host, one after another (what the old
  NovaEvacuate does); "all accepted" = the newest migration's creation, "all done" = when a
  poll of the simulator (every 20 ms) first sees every migration done.
attrd is a small stand-in (bench/attrd_updater.sh, one file per node): the bench measures
the Nova side, and both sides would pay the same attrd. The bound for ocfbox:
ceil(N / concurrency) x latency + the fixed requests on the critical path x latency.

Usage: nova_evacuate.py OCFBOX_BIN [RUNS]   (prints a markdown table)
"""
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import measure  # noqa: E402  (the posix_spawn spawner, for the monitor's own peak RSS)

PY = "/usr/bin/python3"
HOSTS_FAILED = 4
PER_HOST = 50
HEALTHY = 8
LATENCY_MS = 20
REBUILD_S = 1.0
CONCURRENCY = 16
PASSWORD = "bench-admin-pw"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def control(sock, method, path, body=None):
    c = UnixHTTP(sock)
    data = json.dumps(body) if body is not None else None
    c.request(method, "/_sim/" + path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"sim control {method} {path}: {r.status} {text[:200]}")
    return json.loads(text) if text else None


def server_id(h, i):
    return "%08x-0000-4000-8000-%012x" % (h, i)


def state():
    services = [{"host": "controller-0", "binary": "nova-scheduler"},
                {"host": "controller-0", "binary": "nova-conductor"}]
    servers = []
    for h in range(HOSTS_FAILED):
        host = f"compute-{h}"
        services.append({"host": host, "binary": "nova-compute", "status": "disabled",
                         "forced_down": True, "alive": False})
        for i in range(PER_HOST):
            servers.append({"id": server_id(h, i), "name": f"{host}-vm-{i}", "host": host,
                            "tenant_id": "p-admin", "user_id": "u-admin", "flavor_id": "1",
                            "image_id": None})
    for h in range(HOSTS_FAILED, HOSTS_FAILED + HEALTHY):
        services.append({"host": f"compute-{h}", "binary": "nova-compute"})
    return {
        "regions": ["RegionOne"],
        "domains": [{"id": "default", "name": "Default"}],
        "projects": [{"id": "p-admin", "name": "admin", "domain_id": "default"}],
        "users": [{"id": "u-admin", "name": "admin", "domain_id": "default",
                   "password": PASSWORD, "roles": {"p-admin": ["admin", "member", "reader"]}}],
        "application_credentials": [],
        "services": services,
        "flavors": [{"id": "1", "name": "m1.small", "vcpus": 1, "ram": 512, "disk": 1}],
        "images": [],
        "servers": servers,
        "migrations": [],
    }


def migrations(sock):
    return [m for m in control(sock, "GET", "state")["migrations"]
            if m.get("migration_type") == "evacuation"]


def parse_created(m):
    # the control API's state keeps the raw epoch floats
    return float(m.get("created"))


def main():
    binary = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = tempfile.mkdtemp(prefix="ocfbox-bench-nova.")
    sock = os.path.join(work, "control.sock")
    st = os.path.join(work, "state.json")
    with open(st, "w") as f:
        json.dump(state(), f)
    ports = os.path.join(work, "ports")
    sim = subprocess.Popen(
        [PY, os.path.join(ROOT, "tests/nova-sim/novasim.py"), "--state", st, "--port-file", ports,
         "--control-socket", sock, "--latency-ms", str(LATENCY_MS), "--rebuild-time", str(REBUILD_S),
         "--parent-pid", str(os.getpid())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "sim.err"), "w"))
    spawner = None
    try:
        for _ in range(750):
            if os.path.exists(ports) and os.path.exists(sock):
                break
            time.sleep(0.02)
        port = int(open(ports).read().split()[0])
        auth_url = f"http://127.0.0.1:{port}/identity"
        spawner = measure.build_spawner()
        agents = os.path.join(work, "agents")
        os.mkdir(agents)
        os.symlink(binary, os.path.join(agents, "NovaEvacuate"))
        attrd_dir = os.path.join(work, "attrd")
        stub_bin = os.path.join(work, "bin")
        os.mkdir(stub_bin)
        os.symlink(os.path.join(HERE, "attrd_updater.sh"), os.path.join(stub_bin, "attrd_updater"))
        site = os.path.join(work, "site")
        os.mkdir(site)
        with open(os.path.join(site, "sitecustomize.py"), "w") as f:
            # fence-agents 4.12 calls inspect.getargspec, gone in Python 3.11
            f.write("import inspect\nif not hasattr(inspect, 'getargspec'):\n"
                    "    inspect.getargspec = inspect.getfullargspec\n")
        # HA_RSCTMP is a tmpfs (/run/resource-agents) in production: so here
        rsctmp = tempfile.mkdtemp(prefix="ocfbox-bench-rsctmp.", dir="/dev/shm")
        base_env = {"PATH": f"{stub_bin}:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                    "HOME": work, "BENCH_ATTRD_DIR": attrd_dir}
        ocf_env = dict(base_env, OCF_ROOT="/usr/lib/ocf", HA_RSCTMP=rsctmp, HA_LOGFACILITY="none",
                       HA_LOGFILE=os.path.join(work, "agent.log"),
                       OCF_RESOURCE_INSTANCE="nova-evacuate",
                       OCF_RESKEY_CRM_meta_timeout="600000", OCF_RESKEY_CRM_meta_interval="10000",
                       OCF_RESKEY_auth_url=auth_url, OCF_RESKEY_username="admin",
                       OCF_RESKEY_password=PASSWORD, OCF_RESKEY_tenant_name="admin",
                       OCF_RESKEY_endpoint_type="publicURL",
                       OCF_RESKEY_concurrency=str(CONCURRENCY))
        fence_input = ("action=off\nplug={plug}\nauth_url=%s\nusername=admin\npassword=%s\n"
                       "tenant_name=admin\nuser_domain=Default\nproject_domain=Default\n"
                       "endpoint_type=publicURL\nregion_name=RegionOne\n") % (auth_url, PASSWORD)
        n = HOSTS_FAILED * PER_HOST
        res = {"ocfbox": {"acc": [], "done": [], "rss": [], "codes": set(), "fixed": []},
               "anchor": {"acc": [], "done": [], "rss": [], "codes": set()}}

        def reset():
            control(sock, "PUT", "state", state())
            control(sock, "DELETE", "requests")
            os.makedirs(attrd_dir, exist_ok=True)
            for f in os.listdir(attrd_dir):
                os.unlink(os.path.join(attrd_dir, f))
            for h in range(HOSTS_FAILED):
                with open(os.path.join(attrd_dir, f"compute-{h}"), "w") as f:
                    f.write("yes")
            subprocess.run(["rm", "-rf", rsctmp], check=True)
            os.makedirs(rsctmp)
            subprocess.run([os.path.join(agents, "NovaEvacuate"), "start"], env=ocf_env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def run_ocfbox():
            reset()
            t0 = time.time()
            out = subprocess.run([spawner, os.path.join(agents, "NovaEvacuate"), "monitor"],
                                 env=ocf_env, capture_output=True, text=True, check=True)
            ns, rss, code = out.stdout.split()
            done = int(ns) / 1e9
            migs = migrations(sock)
            assert len(migs) == n and all(m["status"] == "done" for m in migs), "not all done"
            acc = max(parse_created(m) for m in migs) - t0
            r = res["ocfbox"]
            r["acc"].append(acc)
            r["done"].append(done)
            r["rss"].append(int(rss))
            r["codes"].add(int(code))
            # the fixed requests on the critical path: waves of requests before the first
            # evacuation (requests arriving within half a latency of each other overlap)
            reqs = control(sock, "GET", "requests")["requests"]
            first_evac = min(q["time"] for q in reqs if q["method"] == "POST" and q["path"].endswith("/action"))
            starts = sorted(q["time"] for q in reqs if q["time"] < first_evac)
            if os.environ.get("BENCH_DEBUG"):
                posts = sorted(q["time"] - t0 for q in reqs if q["method"] == "POST" and q["path"].endswith("/action"))
                print("posts", len(posts), round(posts[0], 3), round(posts[-1], 3), file=sys.stderr)
                for q in sorted(reqs, key=lambda q: q["time"])[:20]:
                    print(round(q["time"] - t0, 3), q["method"], q["path"], q.get("query"), file=sys.stderr)
            waves, last = 0, None
            for s in starts:
                if last is None or s - last > LATENCY_MS / 2000:
                    waves += 1
                last = s
            r["fixed"].append(waves)

        def run_anchor():
            reset()
            t0 = time.time()
            peak = 0
            for h in range(HOSTS_FAILED):
                env = dict(base_env, PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1")
                # spawn.c gives the child /dev/null as stdin: options as arguments, as the
                # old NovaEvacuate passes them (password included)
                args = ["-o", "off", "-n", f"compute-{h}", "-k", auth_url, "-l", "admin", "-p", PASSWORD,
                        "-t", "admin", "-u", "Default", "-P", "Default", "-e", "publicURL",
                        "--region-name", "RegionOne"]
                out = subprocess.run([spawner, "/usr/sbin/fence_evacuate", *args], env=env,
                                     capture_output=True, text=True, check=True)
                _, rss, code = out.stdout.split()
                peak = max(peak, int(rss))
                res["anchor"]["codes"].add(int(code))
            while True:
                migs = migrations(sock)
                if len(migs) == n and all(m["status"] == "done" for m in migs):
                    break
                time.sleep(0.02)
            done = time.time() - t0
            acc = max(parse_created(m) for m in migs) - t0
            r = res["anchor"]
            r["acc"].append(acc)
            r["done"].append(done)
            r["rss"].append(peak)

        for _ in range(runs):
            run_ocfbox()
            run_anchor()
    finally:
        if spawner:
            os.unlink(spawner)
        sim.kill()
        sim.wait()
        subprocess.run(["rm", "-rf", work, rsctmp])

    med = {k: {m: statistics.median(v[m]) for m in ("acc", "done", "rss")} for k, v in res.items()}
    fixed = statistics.median(res["ocfbox"]["fixed"])
    bound = math.ceil(n / CONCURRENCY) * LATENCY_MS / 1000 + fixed * LATENCY_MS / 1000
    o, a = med["ocfbox"], med["anchor"]
    print(f"\n### NovaEvacuate: {n} instances on {HOSTS_FAILED} failed hosts, {LATENCY_MS} ms latency, "
          f"{REBUILD_S} s rebuilds, concurrency {CONCURRENCY} ({runs} runs each, medians)\n")
    print("| | all accepted s | all done s | peak RSS KiB | exit codes |")
    print("|---|---:|---:|---:|---|")
    print(f"| ocfbox NovaEvacuate (one monitor) | {o['acc']:.3f} | {o['done']:.3f} | {int(o['rss'])} | "
          f"{','.join(map(str, sorted(res['ocfbox']['codes'])))} |")
    print(f"| fence_evacuate per host, serially | {a['acc']:.3f} | {a['done']:.3f} | {int(a['rss'])} | "
          f"{','.join(map(str, sorted(res['anchor']['codes'])))} |")
    print(f"\nocfbox {a['acc'] / o['acc']:.1f}x faster to all accepted, {a['done'] / o['done']:.1f}x to all done.")
    print(f"Bound: ceil({n}/{CONCURRENCY}) x {LATENCY_MS} ms + {fixed:g} fixed request waves x {LATENCY_MS} ms "
          f"= {bound:.3f} s; ocfbox all-accepted at {o['acc'] / bound:.2f}x of it.")


if __name__ == "__main__":
    main()
