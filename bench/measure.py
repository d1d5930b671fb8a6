#!/usr/bin/env python3
"""Run commands side by side and report medians of wall time and peak RSS.

Usage: measure.py [--runs N] [--warmup N] [--env K=V ...] --label NAME -- CMD ... [--label NAME -- CMD ...]
Prints one JSON object per command: {"label", "runs", "median_ms", "p10_ms", "p90_ms",
"median_rss_kib", "exit_codes"}. Runs are interleaved (A B A B ...) so a busy moment of the
machine hits every command alike; each run is one fork+exec measured with wait4, so the
numbers carry no shell or tool overhead of their own.
"""
import json
import os
import statistics
import sys
import time


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


def run_once(cmd, env):
    devnull = os.open(os.devnull, os.O_RDWR)
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(devnull, 0); os.dup2(devnull, 1); os.dup2(devnull, 2)
        try:
            os.execvpe(cmd[0], cmd, env)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - t0
    os.close(devnull)
    return elapsed * 1000.0, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main():
    runs, warmup, extra_env, cmds = parse(sys.argv[1:])
    env = dict(os.environ)
    env.update(extra_env)
    results = {label: ([], [], set()) for label, _ in cmds}
    for _ in range(warmup):
        for _, cmd in cmds:
            run_once(cmd, env)
    for _ in range(runs):
        for label, cmd in cmds:
            ms, rss, code = run_once(cmd, env)
            results[label][0].append(ms)
            results[label][1].append(rss)
            results[label][2].add(code)
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
