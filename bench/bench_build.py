"""End-to-end build: `rasterfast build` vs the Kaggle pipeline users ran, on the same input.

Run from the repository root: ``python -m bench.bench_build [--n 1000000] [--no-write]``.

Input: ``--n`` simplified drawings from ``rasterfast synth`` (per-word Kaggle CSVs), made
once and cached under ``--work``.

Contenders, one core each, same input, same run:
- baseline (the "shuffle-csvs" kernel most competitors forked): pandas reads every
  per-word CSV and deals its rows at random into 100 files; each file is read back,
  shuffled, and every row is drawn the Beluga way (json.loads, cv2.line per segment at
  256 px, cv2.resize to 64) into one uint8 array saved with np.save;
- rasterfast: `rasterfast build --recipe gray --size 64 --workers 1`, then with 2 workers.

Peak memory is the maximum RSS of the process running the build (a fresh subprocess
each time), for 10% of the input and for all of it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._results import write_section  # noqa: E402


def synth_input(work: Path, n: int) -> Path:
    folder = work / f"synth_{n}"
    if (folder / ".done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rasterfast.cli", "synth", "--out", str(folder),
                    "--n", str(n), "--format", "kaggle-csv", "--seed", "1"], check=True)
    (folder / ".done").write_text(f"{time.perf_counter() - t0:.1f}")
    return folder


def baseline(folder: Path, out: Path, size: int = 64) -> tuple[float, int]:
    """The seed pipeline; returns (seconds, drawings). Runs in this process, one core."""
    import cv2
    import pandas as pd

    shuffled = out / "shuffled"
    shuffled.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    first = [True] * 100
    for f in sorted(folder.glob("*.csv")):
        if f.name.startswith("test"):
            continue
        df = pd.read_csv(f, keep_default_na=False)
        df["cv"] = rng.integers(0, 100, len(df))
        for k, part in df.groupby("cv"):
            part.drop(columns="cv").to_csv(shuffled / f"train_k{k}.csv", mode="a",
                                           header=first[k], index=False)
            first[k] = False
    images, n = [], 0
    for k in range(100):
        path = shuffled / f"train_k{k}.csv"
        if not path.exists():
            continue
        df = pd.read_csv(path, keep_default_na=False).sample(frac=1, random_state=k)
        out_k = np.zeros((len(df), 1, size, size), np.uint8)
        for i, raw in enumerate(df["drawing"].values):
            img = np.zeros((256, 256), np.uint8)
            for t, stroke in enumerate(json.loads(raw)):
                color = 255 - min(t, 10) * 13
                for j in range(len(stroke[0]) - 1):
                    cv2.line(img, (stroke[0][j], stroke[1][j]), (stroke[0][j + 1],
                             stroke[1][j + 1]), color, 6)
            out_k[i, 0] = cv2.resize(img, (size, size))
        images.append(out_k)
        n += len(df)
    np.save(out / "baseline.npy", np.concatenate(images))
    return time.perf_counter() - t0, n


def run_build(folder: Path, out: Path, workers: int, size: int = 64) -> dict:
    """`rasterfast build` in a fresh process; seconds, drawings and peak RSS."""
    shutil.rmtree(out, ignore_errors=True)
    code = f"""
import json, resource, sys, time
from rasterfast.pipeline import build
t0 = time.perf_counter()
m = build([{str(folder)!r}], {str(out)!r}, "gray", size={size}, workers={workers},
          progress=False, val_fraction=0.02)
dt = time.perf_counter() - t0
n = sum(m.count(s) for s in m.splits)
print(json.dumps({{"seconds": dt, "drawings": n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--work", default="/tmp/rasterfast-bench-build")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    folder = synth_input(work, args.n)
    small = synth_input(work, max(1000, args.n // 10))
    r1 = run_build(folder, work / "out1", 1)
    r2 = run_build(folder, work / "out2", 2)
    rs = run_build(small, work / "outs", 1)
    rows = [
        f"| rasterfast build, 1 worker | {r1['drawings']:,} | {r1['seconds']:.1f} | "
        f"{r1['drawings'] / r1['seconds']:,.0f} | {r1['peak_rss_mb']:,.0f} |",
        f"| rasterfast build, 2 workers | {r2['drawings']:,} | {r2['seconds']:.1f} | "
        f"{r2['drawings'] / r2['seconds']:,.0f} | {r2['peak_rss_mb']:,.0f} |",
        f"| rasterfast build, 1 worker, 10% input | {rs['drawings']:,} | {rs['seconds']:.1f} | "
        f"{rs['drawings'] / rs['seconds']:,.0f} | {rs['peak_rss_mb']:,.0f} |",
    ]
    ratio = ""
    if not args.skip_baseline:
        shutil.rmtree(work / "baseline", ignore_errors=True)
        tb, nb = baseline(folder, work / "baseline")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.insert(0, f"| baseline: pandas shuffle to 100 CSVs + Beluga cv2 draw, 1 core | "
                       f"{nb:,} | {tb:.1f} | {nb / tb:,.0f} | {peak:,.0f} |")
        ratio = (f"\nrasterfast (1 worker) is **{(r1['drawings'] / r1['seconds']) / (nb / tb):.1f}x**"
                 f" the baseline's drawings/s per core; 2 workers give "
                 f"**{r1['seconds'] / r2['seconds']:.2f}x** one worker.\n")
    per_core = r1["drawings"] / r1["seconds"]
    bytes_per = (r1["bytes"] / r1["drawings"])
    est_cpu = 50e6 / (per_core * 16)
    est_disk = 50e6 * bytes_per / 1e9
    text = (
        "## Build (`bench/bench_build.py`)\n\n"
        f"{args.n:,} synthetic simplified drawings (`rasterfast synth`, per-word Kaggle CSVs) to "
        "64 px `gray` shards, end to end including the writes; peak RSS of the build process.\n\n"
        "| pipeline | drawings | seconds | drawings/s | peak RSS MB |\n|---|---:|---:|---:|---:|\n"
        + "\n".join(rows) + "\n" + ratio +
        f"\nExtrapolation to Kaggle's 50M drawings on 16 cores, assuming per-core throughput "
        f"scales linearly (the stages share nothing but files): {est_cpu / 60:,.1f} min of CPU "
        f"time; the output is {est_disk:,.0f} GB ({bytes_per:,.0f} bytes per drawing incl. "
        f"the stroke store), so at 1 GB/s of disk writes the disk alone needs "
        f"{est_disk / 60:,.1f} min: the larger of the two bounds the build.\n")
    print(text)
    if not args.no_write:
        write_section("build", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
