#!/usr/bin/env python3
"""Prints the sharing table of docs/task5-embedding-objectives.md from the runs of
scripts/run-embedding-objective-experiments (runs/sharing/*/report.json, stsb-test.json and
runs/experiments.log). Standard library only.

    python3 scripts/sharing_table.py
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = ["sts", "trec", "wnut", "trec_wnut", "sts_trec_wnut"]
LABELS = {"sts": "STS-B alone", "trec": "TREC alone", "wnut": "WNUT-16 alone",
          "trec_wnut": "TREC + WNUT-16", "sts_trec_wnut": "STS-B + TREC + WNUT-16"}


def main() -> int:
    log = (ROOT / "runs" / "experiments.log").read_text() if (ROOT / "runs" / "experiments.log").exists() else ""
    print("| run | STS-B test spearman (trained task) | TREC test accuracy / macro-F1 | WNUT-16 test entity F1 "
          "| STS-B test spearman of best/ (embedding) | train s | wall s |")
    print("|---|---|---|---|---|---|---|")
    for run in RUNS:
        d = ROOT / "runs" / "sharing" / run
        if not (d / "report.json").exists():
            print(f"| {LABELS[run]} | (not run) |||||")
            continue
        r = json.loads((d / "report.json").read_text())
        t = r["tasks"]
        sts = f"{t['stsb']['spearman_cosine']:.4f}" if "stsb" in t else "–"
        trec = f"{t['trec']['accuracy']:.4f} / {t['trec']['macro_f1']:.4f}" if "trec" in t else "–"
        wnut = f"{t['wnut16']['entity_f1']:.4f}" if "wnut16" in t else "–"
        emb = json.loads((d / "stsb-test.json").read_text())["spearman_cosine"] if (d / "stsb-test.json").exists() else float("nan")
        train = sum(r["run"]["epoch_train_seconds"])
        m = re.search(rf"sharing/{run}: wall ([0-9.]+) s", log)
        wall = m.group(1) if m else "?"
        print(f"| {LABELS[run]} | {sts} | {trec} | {wnut} | {emb:.4f} | {train:.0f} | {wall} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
