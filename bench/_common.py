"""What the benchmarks share: where the real sample is, its drawing strings, best-of timing."""

from __future__ import annotations

import csv
import gzip
import os
import time
from pathlib import Path

#: The real Quick, Draw! sample (``RASTERFAST_DATA``, default ``../shared/data/quickdraw``).
DATA = Path(os.environ.get("RASTERFAST_DATA",
                           Path(__file__).resolve().parent.parent.parent / "shared/data/quickdraw"))


def kaggle_strings(kind: str) -> list[str]:
    """The ``drawing`` column of every Kaggle train CSV of the sample, in file order."""
    folder = DATA / "kaggle" / ("train_simplified" if kind == "simplified" else "train_raw")
    out = []
    for path in sorted(folder.iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="") as fh:
            out.extend(row["drawing"] for row in csv.DictReader(fh))
    return out


def best_of(fn, repeat: int) -> float:
    """The shortest of ``repeat`` wall-clock timings of ``fn()``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
