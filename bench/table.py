#!/usr/bin/env python3
"""Render measure.py's JSON lines as a markdown table of ocfbox against its anchors.

Usage: table.py TITLE SUBJECT_LABEL < results.jsonl
Each row is one command; the ratio column is anchor median / subject median (how many
times faster the subject is), so > 1 means ocfbox is faster.
"""
import json
import sys

title, subject = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in sys.stdin if line.strip()]
base = next((r for r in rows if r["label"] == subject), None)
print(f"\n### {title}\n")
print("| command | median ms | p10–p90 ms | median peak RSS KiB | exit codes | speed vs ocfbox |")
print("|---|---:|---:|---:|---|---:|")
for r in rows:
    ratio = ""
    if base and r is not base and base["median_ms"] > 0:
        ratio = f"ocfbox {r['median_ms'] / base['median_ms']:.2f}× faster"
        if r["median_ms"] < base["median_ms"]:
            ratio = f"ocfbox at {base['median_ms'] / r['median_ms']:.2f}× of it"
    print(f"| {r['label']} | {r['median_ms']:.2f} | {r['p10_ms']:.2f}–{r['p90_ms']:.2f} | "
          f"{r['median_rss_kib']} | {','.join(map(str, r['exit_codes']))} | {ratio} |")
