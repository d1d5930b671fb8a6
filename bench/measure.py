#!/usr/bin/env python3
"""Run commands side by side and report medians of wall time and peak RSS.

Usage: measure.py [--runs N] [--warmup N] [--env K=V ...] --label NAME -- CMD ... [--label NAME -- CMD ...]
Prints one JSON object per command: {"label", "runs", "median_ms", "p10_ms", "p90_ms",
"median_rss_kib", "exit_codes"}. Runs are interleaved (A B A B ...) so a busy moment of the
machine hits every command alike. Each run is one posix_spawn + wait4 by bench/spawn.c (built
on first use): no shell or tool overhead in the time, and a peak RSS that is the command's
own (a child forked from Python would report Python's high-water mark).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def build_spawner():
    out = os.path.join(tempfile.gettempdir(), f"ocfbox-bench-spawn-{os.getpid()}")
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(HERE, "spawn.c")], check=True)
    return out


def parse(argv):
    runs, warmup, env, cmds = 200, 10, {}, []
    i = 0
    label = None
    while i < len(argv):
        a = argv[i]
        if a == "--runs":
            runs = int(argv[i + 1]); i += 2
        elif a == "--warmup":
            warmup = int(argv[i + 1]); i += 2
        elif a == "--env":
            k, _, v = argv[i + 1].partition("="); env[k] = v; i += 2
        elif a == "--label":
            label = argv[i + 1]; i += 2
        elif a == "--":
            j = i + 1
            while j < len(argv) and argv[j] != "--label":
                j += 1
            cmds.append((label or argv[i + 1], argv[i + 1:j]))
            label = None
            i = j
        else:
            sys.exit(f"measure.py: unexpected argument {a!r}")
    return runs, warmup, env, cmds


def run_once(spawner, cmd, env):
    out = subprocess.run([spawner, *cmd], env=env, capture_output=True, text=True, check=True)
    ns, rss, code = out.stdout.split()
    return int(ns) / 1e6, int(rss), int(code)


def main():
    runs, warmup, extra_env, cmds = parse(sys.argv[1:])
    env = dict(os.environ)
    env.update(extra_env)
    results = {label: ([], [], set()) for label, _ in cmds}
    spawner = build_spawner()
    try:
        for _ in range(warmup):
            for _, cmd in cmds:
                run_once(spawner, cmd, env)
        for _ in range(runs):
            for label, cmd in cmds:
                ms, rss, code = run_once(spawner, cmd, env)
                results[label][0].append(ms)
                results[label][1].append(rss)
                results[label][2].add(code)
    finally:
        os.unlink(spawner)
    for label, _ in cmds:
        times, rss, codes = results[label]
        q = statistics.quantiles(times, n=10)
        print(json.dumps({
            "label": label,
            "runs": runs,
            "median_ms": round(statistics.median(times), 3),
            "p10_ms": round(q[0], 3),
            "p90_ms": round(q[-1], 3),
            "median_rss_kib": int(statistics.median(rss)),
            "exit_codes": sorted(codes),
        }))


if __name__ == "__main__":
    main()
