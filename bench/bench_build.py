"""End-to-end build: `rasterfast build` vs the Kaggle pipeline users ran, on the same input.

Run from the repository root: ``python -m bench.bench_build [--n 1000000] [--no-write]``.

Input: ``--n`` simplified drawings from ``rasterfast synth`` (per-word Kaggle CSVs), made
once and cached under ``--work``.

Contenders, one core each, same input, same run:
- baseline (the "shuffle-csvs" kernel most competitors forked): pandas reads every
  per-word CSV and deals its rows at random into 100 files; each file is read back,
  shuffled, and every row is drawn the Beluga way (json.loads, cv2.line per segment at
  256 px, cv2.resize to 64) into one uint8 array saved with np.save;
- rasterfast: `rasterfast build --recipe gray --size 64 --workers 1`, then with 2 workers
  (``--workers W``: W; bench/device_build.sh runs 16 on a lent 16-core machine).

and 1 vs 2 workers at ``--n`` and ``--big`` times as many (default 4M), in the same run;
with ``--raw N``, raw drawings to time3 128 px and to gray 64 px (simplified at ingest).

Peak memory is the maximum RSS of every process that ran tasks (the build's own with 1
worker, on threads; each LocalCluster worker with 2), for 10% of the input, all of it, and
``--big`` times as much (``rasterfast synth`` makes 40 files, so their rows grow with the
input: an ingest task holds one flush, up to 200k rows; see ``build(task_size=...)`` for
what else a worker holds and how it grows). CPU seconds
(user + system, all threads, worker processes included) are reported next to wall time:
"per core" means per CPU-second. Per stage, the tasks' CPU seconds give how busy the
workers were, a measure of parallel efficiency that a loaded machine disturbs less than
wall-clock speed-ups.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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


def synth_raw(work: Path, n: int) -> Path:
    """``n`` raw drawings (screen coordinates and times), per-word Kaggle CSVs, cached."""
    folder = work / f"synth_raw_{n}"
    if (folder / ".done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "rasterfast.cli", "synth", "--out", str(folder),
                    "--n", str(n), "--format", "kaggle-csv", "--raw", "--seed", "1"],
                   check=True)
    (folder / ".done").write_text("")
    return folder


def machine_cpu() -> dict:
    """Core-seconds the whole machine has spent so far (/proc/stat): busy (user, nice,
    system, irq, softirq, steal), idle and iowait. Empty where there is no /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:9]]
    except OSError:
        return {}
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return {"busy": (user + nice + system + irq + softirq + steal) / hz, "idle": idle / hz,
            "iowait": iowait / hz}


def disk_write_rate(work: Path, size: int = 4 << 30) -> float:
    """MB/s of ``dd`` writing ``size`` bytes of zeros with fdatasync into ``work``."""
    target = work / "_dd_test"
    try:
        proc = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M",
                               f"count={size >> 20}", "conv=fdatasync"],
                              capture_output=True, text=True, check=True)
    finally:
        target.unlink(missing_ok=True)
    seconds = float(re.search(r"([0-9.]+) s,", proc.stderr).group(1))
    return size / seconds / 1e6


def run_build(folder: Path, out: Path, workers: int, size: int = 64, recipe: str = "gray",
              scheduler: str = "auto") -> dict:
    """`rasterfast build` in a fresh process: seconds, drawings, the driver's peak RSS, and
    the manifest's timing (per stage: wall, tasks, their CPU; every worker's peak RSS)."""
    shutil.rmtree(out, ignore_errors=True)
    code = f"""
import json, resource, sys, time
from rasterfast.pipeline import build
if __name__ == "__main__":
    t0 = time.perf_counter()
    m = build([{str(folder)!r}], {str(out)!r}, {recipe!r}, size={size}, workers={workers},
              scheduler={scheduler!r}, progress=False, val_fraction=0.02)
    dt = time.perf_counter() - t0
    n = sum(m.count(s) for s in m.splits)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({{"seconds": dt, "drawings": n, "timing": m.extra["timing"],
                      "driver_rss_mb": ru.ru_maxrss / 1024}}))
"""
    script = out.parent / "_bench_build_run.py"
    script.write_text(code)
    before = machine_cpu()
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    after = machine_cpu()
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["machine"] = {k: after[k] - before[k] for k in before}
    result["cpu"] = result["timing"]["cpu_s"]
    result["workers"] = workers
    # 1 worker runs on threads in the driver: its peak is the driver's
    result["peak_rss_mb"] = max(result["timing"]["workers_peak_rss_mb"] or [0.0])
    result["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out, ignore_errors=True)
    return result


def stage_rows(name: str, r: dict) -> list[str]:
    """Per stage: wall, tasks, task CPU-s, drawings/s (wall) and per task-CPU-s, and how
    busy the workers were (task CPU-s / (workers x wall))."""
    t, n, w = r["timing"], r["drawings"], r["workers"]
    rows = []
    for stage, wall in t["stages_s"].items():
        cpu = t["tasks_cpu_s"].get(stage, 0.0)
        tasks = t["tasks"].get(stage, 0)
        busy = cpu / (w * wall) if wall else 0.0
        rows.append(f"| {name} | {stage} | {tasks:,} | {wall:.1f} | {cpu:.1f} | "
                    f"{n / wall if wall else 0:,.0f} | {n / cpu if cpu else 0:,.0f} | "
                    f"{busy:.0%} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--work", default="/tmp/rasterfast-bench-build")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--big", type=int, default=4, metavar="K",
                        help="also build K times the input with 1 and W workers (memory "
                        "plateau, speed-up at scale; default 4: 4M drawings; 0 skips it)")
    parser.add_argument("--raw", type=int, default=100_000, metavar="N",
                        help="raw drawings for the raw -> time3 128 px and raw -> gray 64 px "
                        "builds, 1 and W workers (default 100,000; 0 skips them)")
    parser.add_argument("--workers", type=int, default=2, metavar="W",
                        help="compare 1 worker with W (default 2, this project's 2-core "
                        "machine); W other than 2 writes the section build_<W>workers, so "
                        "the 2-core figures stay (bench/device_build.sh runs W=16)")
    args = parser.parse_args(argv)
    if args.workers < 2:
        parser.error("--workers must be 2 or more (1 worker is always run)")
    W = args.workers
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    folder = synth_input(work, args.n)
    small = synth_input(work, max(1000, args.n // 10))
    big = synth_input(work, args.big * args.n) if args.big else None
    r1 = run_build(folder, work / "out1", 1)
    r2 = run_build(folder, work / "out2", W)
    rs = run_build(small, work / "outs", 1)
    runs = [("rasterfast build, 1 worker", r1), (f"rasterfast build, {W} workers", r2),
            ("rasterfast build, 1 worker, 10% input", rs)]
    if big is not None:
        rb1 = run_build(big, work / "outb1", 1)
        rb2 = run_build(big, work / "outb2", W)
        runs += [(f"rasterfast build, 1 worker, {args.big}x input", rb1),
                 (f"rasterfast build, {W} workers, {args.big}x input", rb2)]
    rows = [f"| {name} | {r['drawings']:,} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
            f"{r['drawings'] / r['seconds']:,.0f} | {r['drawings'] / r['cpu']:,.0f} | "
            f"{r['peak_rss_mb']:,.0f} |" for name, r in runs]
    stages = [row for name, r in runs for row in stage_rows(name.removeprefix(
        "rasterfast build, "), r)]
    speedups = [f"{args.n:,}: **{r1['seconds'] / r2['seconds']:.2f}x**"]
    if big is not None:
        speedups.append(f"{args.big * args.n:,}: **{rb1['seconds'] / rb2['seconds']:.2f}x**")
    raw_rows = []
    if args.raw:
        raw = synth_raw(work, args.raw)
        for recipe, size in (("time3", 128), ("gray", 64)):
            for w in (1, W):
                r = run_build(raw, work / f"outraw_{recipe}{w}", w, size=size, recipe=recipe)
                raw_rows.append(f"| raw -> {recipe} {size} px, {w} worker(s) | "
                                f"{r['drawings']:,} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
                                f"{r['drawings'] / r['seconds']:,.0f} | "
                                f"{r['drawings'] / r['cpu']:,.0f} | {r['peak_rss_mb']:,.0f} |")
                stages += stage_rows(f"raw {recipe} {size}, {w} worker(s)", r)
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
        ratio = (f"\nrasterfast (1 worker) is "
                 f"**{(r1['drawings'] / r1['seconds']) / (nb / tb):.1f}x**"
                 f" the baseline's drawings/s (wall) and "
                 f"**{(r1['drawings'] / r1['cpu']) / (nb / cb):.1f}x** its drawings per "
                 f"CPU-second.\n")
    ratio += f"\n{W} workers vs 1, wall-clock speed-up: {'; '.join(speedups)}.\n"
    pairs = [(f"{args.n:,}", r1, r2)] + ([(f"{args.big * args.n:,}", rb1, rb2)] if big else [])
    if r1.get("machine"):
        cores = os.cpu_count() or 1
        dd = disk_write_rate(work)
        ratio += (
            "\nWhat bounds the speed-up, from the whole machine's CPU counters (/proc/stat, "
            "core-seconds during each build, every process and the kernel's writeback "
            f"included): the {W}-worker build cannot take less than its busy core-s / "
            f"{min(W, cores)} cores, so 1 worker's wall / that is the most it can gain. "
            "Disk in the same "
            f"run: `dd` of 4 GiB with fdatasync {dd:,.0f} MB/s; the render stage wrote "
            "(images) at the rate shown.\n\n"
            "| drawings | workers | wall s | machine busy core-s | idle core-s | iowait "
            "core-s | render stage writes MB/s | of dd's rate | speed-up | most possible |\n"
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for label, a, b in pairs:
            for w, r in ((1, a), (W, b)):
                m = r["machine"]
                render = r["timing"]["stages_s"].get("render", 0.0)
                images = r["drawings"] * 64 * 64
                cap = a["seconds"] / (b["machine"]["busy"] / min(W, cores))
                ratio += (f"| {label} | {w} | {r['seconds']:.1f} | {m['busy']:.1f} | "
                          f"{m['idle']:.1f} | {m['iowait']:.1f} | "
                          f"{images / render / 1e6 if render else 0:,.0f} | "
                          f"{images / render / 1e6 / dd if render else 0:.0%} | "
                          + (f"{a['seconds'] / b['seconds']:.2f}x | {cap:.2f}x |" if w == W
                             else "1.00x | |") + "\n")
    per_core = r1["drawings"] / r1["cpu"]
    bytes_per = (r1["bytes"] / r1["drawings"])
    est_cpu = 50e6 / (per_core * 16)
    est_disk = 50e6 * bytes_per / 1e9
    text = (
        f"{args.n:,} synthetic simplified drawings (`rasterfast synth`, per-word Kaggle CSVs) to "
        "64 px `gray` shards, end to end including the writes. 1 worker runs on threads in "
        f"the build's process; {W} workers are a LocalCluster of {W} processes (the default). CPU "
        "s: the build process's, plus its tasks' in worker processes; peak RSS: the largest "
        "of the processes that ran tasks.\n\n"
        "| pipeline | drawings | wall s | CPU s | drawings/s (wall) | drawings per CPU-s | "
        "peak RSS MB per worker |\n|---|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows + raw_rows) + "\n" + ratio +
        "\nPer stage (tasks' CPU seconds as their threads measure them; busy = task CPU-s / "
        "(workers x stage wall), the share of the workers' time spent in tasks, which does "
        "not depend on other load the way wall-clock speed-ups do):\n\n"
        "| build | stage | tasks | wall s | task CPU s | drawings/s (wall) | drawings per "
        "task CPU-s | busy |\n|---|---|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(stages) + "\n" +
        f"\nExtrapolation to Kaggle's 50M drawings on 16 cores, assuming the 1-worker drawings "
        f"per CPU-second hold on every core (the stages share nothing but files; {W} workers "
        f"on this {os.cpu_count()}-core machine, shared with the OS, do not show it): "
        f"{est_cpu / 60:,.1f} min with all 16 cores busy; the output is {est_disk:,.0f} GB "
        f"({bytes_per:,.0f} bytes per drawing incl. "
        f"the stroke store), so at 1 GB/s of disk writes the disk alone needs "
        f"{est_disk / 60:,.1f} min: the larger of the two bounds the build.\n")
    print(text)
    if not args.no_write:
        if W == 2:
            write_section("build", text)
        else:
            write_section(f"build_{W}workers", text, title=f"Build, 1 vs {W} workers",
                          script="bench_build.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
