"""Raw -> time3 128 px build, this tree's code against an older checkout, side by side.

Issue 12's target "raw -> time3 128 px: >= 3x today's rate per core" is judged on the
ratio of drawings per CPU-second of this tree to that of the code the issue was filed
against (commit 5d5c99e, the parent of c01f95f, the first commit of issue 12's work).

Run from the repository root::

    git worktree add --detach /tmp/rf-old 5d5c99e
    (cd /tmp/rf-old && python setup.py -q build_ext --inplace)
    python -m bench.bench_raw_build --old /tmp/rf-old [--n 100000] [--repeats 3]

Each build runs in a fresh process with ``PYTHONPATH`` set to its tree, one worker on
Dask's threads scheduler (everything in that process, so its ``getrusage`` CPU seconds,
user + system of every thread, are the build's), on the same input: ``--n`` raw
synthetic drawings (``rasterfast synth --raw``, per-word Kaggle CSVs, cached under
``--work``, made by this tree). Runs are interleaved (old, new, old, new, ...) so that
load from other processes falls on both alike; each side's best of ``--repeats`` is
reported (the best wall and the best CPU seconds, each over the repeats). Prints a
Markdown table, with what 3x would leave per 100k drawings next to what hashing the images
(the manifest's sha256, measured in the same run) costs alone, and writes it to
bench/RESULTS.md (``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._results import write_section  # noqa: E402

# Only options both versions' build() take: the older one had no scheduler "local"
# and no timing in the manifest, so wall and CPU are measured here, around the call.
_CODE = """
import json, resource, sys, time
from rasterfast.pipeline import build
out, recipe, size, source = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ru0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
m = build([source], out, recipe, size=size, workers=1, scheduler="threads", progress=False,
          val_fraction=0.02)
dt = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
import rasterfast
print(json.dumps({"seconds": dt, "drawings": sum(m.count(s) for s in m.splits),
                  "cpu": (ru.ru_utime + ru.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
                  "module": rasterfast.__file__}))
"""


def synth_raw(work: Path, n: int) -> Path:
    """``n`` raw drawings as per-word Kaggle CSVs, made once (bench_build's cache)."""
    folder = work / f"synth_raw_{n}"
    if (folder / ".done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "rasterfast.cli", "synth", "--out", str(folder),
                    "--n", str(n), "--format", "kaggle-csv", "--raw", "--seed", "1"],
                   check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    (folder / ".done").write_text("")
    return folder


def run_build(tree: Path, source: Path, out: Path, recipe: str, size: int) -> dict:
    """One build by the code of ``tree`` in a fresh process; its seconds, CPU, drawings."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _CODE, str(out), recipe, str(size),
                           str(source)], capture_output=True, text=True, env=env,
                          cwd=str(tree))
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode:
        raise RuntimeError(f"{tree}: {proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result["module"].startswith(str(tree)):
        raise RuntimeError(f"{tree}: imported rasterfast from {result['module']}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="worktree of the older code, kernels "
                        "built in place")
    parser.add_argument("--new", default=str(ROOT), help="worktree of the newer code "
                        "(default: this one)")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--recipe", default="time3")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--work", default="/tmp/rasterfast-bench-build")
    parser.add_argument("--old-name", default="5d5c99e",
                        help="what --old is, for the table (default: the commit issue 12 "
                             "was filed against)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    source = synth_raw(work, args.n)
    trees = {"old": Path(args.old).resolve(), "new": Path(args.new).resolve()}
    runs: dict = {name: [] for name in trees}
    for rep in range(args.repeats):
        for name, tree in trees.items():
            r = run_build(tree, source, work / f"out_raw_{name}", args.recipe, args.size)
            runs[name].append(r)
            print(f"# {name} run {rep + 1}: {r['drawings']:,} drawings, wall {r['seconds']:.1f} s,"
                  f" CPU {r['cpu']:.1f} s", file=sys.stderr, flush=True)
    best = {name: (min(r["seconds"] for r in rs), min(r["cpu"] for r in rs), rs[0]["drawings"])
            for name, rs in runs.items()}
    if best["old"][2] != best["new"][2]:
        raise RuntimeError(f"drawings differ: {best}")
    n = best["new"][2]
    lines = [f"raw -> {args.recipe} {args.size} px, {n:,} drawings, 1 worker (threads), "
             f"best of {args.repeats} interleaved, old = {args.old_name}\n",
             "| code | wall s | CPU s | drawings/s (wall) | drawings per CPU-s |",
             "|---|---:|---:|---:|---:|"]
    for name in trees:
        wall, cpu, _ = best[name]
        lines.append(f"| {name} | {wall:.1f} | {cpu:.1f} | {n / wall:,.0f} | {n / cpu:,.0f} |")
    lines.append(f"\nnew / old: wall **{best['old'][0] / best['new'][0]:.2f}x**, per CPU-s "
                 f"**{best['old'][1] / best['new'][1]:.2f}x**")
    channels = {"time3": 3, "gray": 1}.get(args.recipe, 3)
    image_bytes = n * channels * args.size * args.size
    rate = _sha256_rate()
    lines.append(f"\n3x the old rate per CPU-s leaves {best['old'][1] / 3 * 1e5 / n:.1f} CPU-s per "
                 f"100k drawings for everything. Hashing the images alone (sha256, which the "
                 f"manifest records for every file; {rate / 1e9:.2f} GB/s here, in the same run) "
                 f"takes {image_bytes / rate * 1e5 / n:.1f} CPU-s per 100k "
                 f"({image_bytes / n / 1e3:.0f} KB of images a drawing).")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section("raw_build", text)
    return 0


def _sha256_rate(size: int = 256 << 20) -> float:
    """Bytes per CPU-second of hashlib's sha256 on this machine, in 1 MiB updates."""
    import hashlib
    import time

    import numpy as np

    data = np.random.default_rng(0).integers(0, 256, size, np.uint8)
    h = hashlib.sha256()
    t0 = time.process_time()
    for i in range(0, size, 1 << 20):
        h.update(data[i:i + (1 << 20)])
    return size / (time.process_time() - t0)


if __name__ == "__main__":
    sys.exit(main())
