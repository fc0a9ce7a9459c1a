"""examples/train.py runs end to end: build, one epoch, val MAP@3, balanced submission."""

import csv
import os
import subprocess
import sys
from collections import Counter
from math import ceil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_train_example(tmp_path):
    out = tmp_path / "ex"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-W", "error", str(ROOT / "examples" / "train.py"),
                           "--out", str(out), "--n", "2000"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "val MAP@3 " in proc.stdout and "balanced: " in proc.stdout
    with open(out / "submission.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out / "input" / "test_solution.csv", newline="") as fh:
        solution = {r["key_id"]: r["word"] for r in csv.DictReader(fh)}
    assert sorted(r["key_id"] for r in rows) == sorted(solution)  # every test drawing once
    top1 = Counter(r["word"].split(" ")[0] for r in rows)
    assert all(len(r["word"].split(" ")) == 3 for r in rows)
    words = {w.replace(" ", "_") for w in solution.values()}
    assert set(top1) <= words
    # balanced: no word is the first guess more often than its share allows (1% tolerance)
    assert max(top1.values()) <= ceil(len(rows) / len(words) * 1.01)
