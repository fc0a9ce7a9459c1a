"""Peak memory of `rasterfast build` per stage, as the input grows and as its files shrink.

Run from the repository root: ``python -m bench.bench_build_memory [--n 1000000] [--big 4]``.

What a worker holds grows with two things (docs/design.md, "Memory per worker"): an
ingest task holds one flush of its input (min(rows, 200k) drawings), and a render task
the buckets its drawings come from, which the default makes bigger where inputs are many
and small (so that each flush's groups hold ~1000 drawings). This benchmark builds, one
worker on Dask's threads scheduler (every task in the build's process, so the process's
RSS is the worker's), 64 px gray, from ``rasterfast synth`` simplified drawings:

1. ``--n`` drawings in 40 per-word CSVs (bench_build's input);
2. ``--big`` times as many in 40 CSVs (rows per file x ``--big``: bench_build's big input);
3. the same drawings cut into 40 x ``--big`` CSVs of the first build's rows per file
   (the buckets grow instead);
4. as 3 with ``--bucket-size`` set to the first build's bucket rows: memory held level,
   paid for in smaller groups (more CPU).

A thread samples the build process's RSS every 50 ms; each stage's peak is the largest
sample inside its wall time (from the manifest's timing). CPU: the tasks' own thread CPU
seconds per stage. The process's RSS includes ~250 MB of libraries and kept heap.
Inputs are cached under ``--work`` (shared with bench_build).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._results import write_section  # noqa: E402
from bench.bench_build import synth_input  # noqa: E402

_CODE = """
import json, shutil, sys, threading, time
from rasterfast.pipeline import build

def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0

if __name__ == "__main__":
    source, out, bucket = sys.argv[1], sys.argv[2], int(sys.argv[3]) or None
    samples, stop = [], threading.Event()
    t0 = time.perf_counter()

    def sample():
        while not stop.is_set():
            samples.append((time.perf_counter() - t0, rss_mb()))
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    m = build([source], out, "gray", size=64, workers=1, scheduler="threads",
              progress=False, val_fraction=0.02, bucket_size=bucket)
    stop.set()
    t = m.extra["timing"]
    at, peaks = t.get("startup_s", 0.0), {}
    for stage, wall in t["stages_s"].items():
        peaks[stage] = max((r for s, r in samples if at <= s < at + wall), default=0.0)
        at += wall
    print(json.dumps({"drawings": sum(m.count(s) for s in m.splits), "peaks": peaks,
                      "cpu": t["tasks_cpu_s"], "tasks": t["tasks"], "wall": t["wall_s"]}))
    shutil.rmtree(out, ignore_errors=True)
"""


def cut_input(folder: Path, pieces: int) -> Path:
    """``folder``'s CSVs each cut into ``pieces`` CSVs of consecutive rows (made once)."""
    out = folder.with_name(f"{folder.name}_cut{pieces}")
    if (out / ".done").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(folder.glob("*.csv")):
        head, *rows = f.read_bytes().splitlines(keepends=True)   # no field holds a newline
        step = -(-len(rows) // pieces)
        for i in range(pieces):
            part = rows[i * step:(i + 1) * step]
            (out / f"{f.stem}_{i}.csv").write_bytes(b"".join([head, *part]))
    (out / ".done").write_text("")
    return out


def run(source: Path, out: Path, bucket_size: int = 0) -> dict:
    """One build in a fresh process: drawings, per-stage peak RSS MB, task CPU-s, tasks."""
    script = out.parent / "_bench_build_memory_run.py"
    script.write_text(_CODE)
    proc = subprocess.run([sys.executable, str(script), str(source), str(out), str(bucket_size)],
                          capture_output=True, text=True,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=4, metavar="K")
    parser.add_argument("--work", default="/tmp/rasterfast-bench-build")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.big < 2:
        parser.error("--big must be 2 or more")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    small, big = synth_input(work, args.n), synth_input(work, args.big * args.n)
    files = len(list(small.glob("*.csv")))
    cut = cut_input(big, args.big)
    first = run(small, work / "mem_out")
    same_buckets = first["drawings"] // max(1, first["tasks"]["plan"])  # a plan task a bucket
    builds = [
        (f"{args.n:,} in {files} inputs of {args.n // files:,} rows", "default", first),
        (f"{args.big * args.n:,} in {files} inputs of {args.big * args.n // files:,} rows",
         "default", run(big, work / "mem_out")),
        (f"{args.big * args.n:,} in {files * args.big} inputs of {args.n // files:,} rows",
         "default", run(cut, work / "mem_out")),
        (f"{args.big * args.n:,} in {files * args.big} inputs of {args.n // files:,} rows",
         f"{same_buckets:,}", run(cut, work / "mem_out", same_buckets)),
    ]
    lines = ["| drawings and inputs | --bucket-size | buckets | ingest peak MB | plan peak MB "
             "| render peak MB | ingest CPU s | plan CPU s | render CPU s | task CPU s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, bucket, r in builds:
        p, c = r["peaks"], r["cpu"]
        lines.append(f"| {name} | {bucket} | {r['tasks']['plan']} | {p['ingest']:,.0f} | "
                     f"{p['plan']:,.0f} | {p['render']:,.0f} | {c['ingest']:.1f} | "
                     f"{c['plan']:.1f} | {c['render']:.1f} | {sum(c.values()):.1f} |")
    body = (
        "Peak RSS of the build process per stage, one worker on threads (the process is the "
        "worker), 64 px gray, synthetic simplified drawings; ~250 MB of each figure is the "
        "libraries and the kept heap. An ingest task holds one flush of its input (up to 200k "
        "rows); a render task the buckets its drawings come from (one per plan task), which the "
        "default makes bigger where inputs are small, for groups of ~1000 drawings. The last "
        "row holds the buckets at the first build's size: its groups are smaller, and cost "
        "CPU.\n\n" + "\n".join(lines) + "\n")
    print(body)
    if not args.no_write:
        write_section("build_memory", body, title="Build memory per stage",
                      script="bench_build_memory.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
