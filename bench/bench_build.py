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
each time), for 10% of the input, all of it, and twice as much: a render task holds one
bucket of the stroke store, whose size is capped (``_BUCKET_BYTES``), so memory grows
with the input until the buckets are full and stays flat after. CPU seconds (user +
system, all threads) are reported next to wall time: "per core" means per CPU-second.
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
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": dt, "drawings": n, "cpu": ru.ru_utime + ru.ru_stime,
                  "peak_rss_mb": ru.ru_maxrss / 1024}}))
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
    parser.add_argument("--no-double", dest="double", action="store_false",
                        help="skip the build of twice the input (memory plateau)")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    folder = synth_input(work, args.n)
    small = synth_input(work, max(1000, args.n // 10))
    big = synth_input(work, 2 * args.n) if args.double else None
    r1 = run_build(folder, work / "out1", 1)
    r2 = run_build(folder, work / "out2", 2)
    rs = run_build(small, work / "outs", 1)
    runs = [("rasterfast build, 1 worker", r1), ("rasterfast build, 2 workers", r2),
            ("rasterfast build, 1 worker, 10% input", rs)]
    if big is not None:
        rb = run_build(big, work / "outb", 1)
        shutil.rmtree(work / "outb", ignore_errors=True)
        runs.append(("rasterfast build, 1 worker, 200% input", rb))
    rows = [f"| {name} | {r['drawings']:,} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
            f"{r['drawings'] / r['seconds']:,.0f} | {r['drawings'] / r['cpu']:,.0f} | "
            f"{r['peak_rss_mb']:,.0f} |" for name, r in runs]
    ratio = ""
    if not args.skip_baseline:
        shutil.rmtree(work / "baseline", ignore_errors=True)
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        tb, nb = baseline(folder, work / "baseline")
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cb = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        peak = ru1.ru_maxrss / 1024
        rows.insert(0, f"| baseline: pandas shuffle to 100 CSVs + Beluga cv2 draw, 1 core | "
                       f"{nb:,} | {tb:.1f} | {cb:.1f} | {nb / tb:,.0f} | {nb / cb:,.0f} | "
                       f"{peak:,.0f} |")
        ratio = (f"\nrasterfast (1 worker) is **{(r1['drawings'] / r1['seconds']) / (nb / tb):.1f}x**"
                 f" the baseline's drawings/s (wall) and "
                 f"**{(r1['drawings'] / r1['cpu']) / (nb / cb):.1f}x** its drawings per "
                 f"CPU-second; 2 workers give **{r1['seconds'] / r2['seconds']:.2f}x** one "
                 f"worker's wall-clock speed.\n")
    per_core = r1["drawings"] / r1["cpu"]
    bytes_per = (r1["bytes"] / r1["drawings"])
    est_cpu = 50e6 / (per_core * 16)
    est_disk = 50e6 * bytes_per / 1e9
    text = (
        f"{args.n:,} synthetic simplified drawings (`rasterfast synth`, per-word Kaggle CSVs) to "
        "64 px `gray` shards, end to end including the writes; peak RSS of the build process.\n\n"
        "| pipeline | drawings | wall s | CPU s | drawings/s (wall) | drawings per CPU-s | "
        "peak RSS MB |\n|---|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows) + "\n" + ratio +
        f"\nExtrapolation to Kaggle's 50M drawings on 16 cores, assuming the 1-worker drawings "
        f"per CPU-second hold on every core (the stages share nothing but files; 2 workers "
        f"on this 2-core machine, shared with the OS, do not show it): {est_cpu / 60:,.1f} min with "
        f"all 16 cores busy; the output is {est_disk:,.0f} GB ({bytes_per:,.0f} bytes per drawing incl. "
        f"the stroke store), so at 1 GB/s of disk writes the disk alone needs "
        f"{est_disk / 60:,.1f} min: the larger of the two bounds the build.\n")
    print(text)
    if not args.no_write:
        write_section("build", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
