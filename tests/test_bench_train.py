"""bench/bench_train.py smoke run (issue 15): tiny sizes on the CPU; completes and prints
every feeder's share of the compute bound and the overlap check. No timing is asserted."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_train_quick_runs_and_prints_shares():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "bench.bench_train", "--quick", "--no-write",
                           "--device", "cpu"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for px in ("64 px 1 ch", "128 px 3 ch"):
        for feeder in ("(a) on-device", "(b) ShardDataset + ShardLoader(device",
                       "(c) Kaggle per-sample"):
            assert re.search(rf"{re.escape(px)}: {re.escape(feeder)}.*img/s, share of \(a\) "
                             r"\d+%", out), (px, feeder, out)
    assert len(re.findall(r"overlap: threads=[01] .*share \d+%", out)) == 2, out
