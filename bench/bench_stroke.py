"""On-the-fly rendering: StrokeDataset batches vs the Kaggle per-sample pipeline, same recipe.

rasterfast: a stroke store of real sample drawings (the Kaggle-layout train CSVs, parsed
once, replicated to fill the store), read by ``StrokeDataset(threads=1 | 2)`` a shuffled
batch of 256 at a time: gather from the memory-mapped ``.strokes`` files and render, all
in the loop. Baseline, per drawing: ``json.loads`` of the drawing text and ``cv2.line``
(plus ``cv2.resize`` for the 256-px recipes), the same code as bench_raster (gray, beluga)
and bench_time3 (time3). One core (cv2.setNumThreads(1)), same drawings, same run,
interleaved best of ``--repeat``.

Also: bytes per drawing of a ``--no-images`` build of the real sample, and the peak RSS of
a process that reads a whole epoch of 1M and 4M drawings (a subprocess each). Run from the
repository root::

    python -m bench.bench_stroke [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import DATA, kaggle_strings  # noqa: E402
from bench._results import write_section  # noqa: E402

#: (recipe preset, size, input kind, target drawings/s of one thread)
ROWS = [("gray", 64, "simplified", 150_000), ("beluga", 64, "simplified", 35_000),
        ("time3", 128, "raw", 35_000)]
SHARD = 8192


def make_store(root: Path, kind: str, texts: list[str], n: int) -> Path:
    """A strokes-only shard directory of ``n`` drawings: the parsed ``texts`` repeated."""
    from rasterfast import parse_drawings
    from rasterfast.format import Writer

    base = parse_drawings(texts, kind=kind)
    if kind == "raw":
        base.t = base.t.astype(np.int32, copy=False)
    else:
        base.t = np.zeros(0, np.int32)   # what a simplified build stores
    base.word = np.full(len(base), "doodle", object)
    out = root / f"{kind}-{n}"
    w = Writer(out, {"bench": kind}, ["doodle"], channels=1, size=64, seed=0,
               parts=("strokes",), strokes={"kind": kind, "times": kind == "raw"})
    for i, lo in enumerate(range(0, n, SHARD)):
        idx = np.arange(lo, min(n, lo + SHARD)) % len(base)
        part = base.take(idx)
        with w.shard("train", i, len(part)) as sh:
            sh.set_strokes(part)
            sh.set_meta(part)
    w.finish()
    return out


def epoch_rate(ds, limit: int) -> float:
    """Drawings per second reading batches of ``ds`` until ``limit`` drawings."""
    n, t0 = 0, time.perf_counter()
    for batch in ds:
        n += len(batch["labels"])
        if n >= limit:
            break
    return n / (time.perf_counter() - t0)


def baseline_rate(name: str, size: int, texts: list[str]) -> float:
    import cv2

    cv2.setNumThreads(1)
    if name == "time3":
        from bench import bench_time3

        assert bench_time3.SIZE == size
        out = np.empty((len(texts), 3, size, size), np.uint8)
        t0 = time.perf_counter()
        bench_time3.baseline(texts, out)
    else:
        from bench.bench_raster import baseline

        out = np.empty((len(texts), size, size), np.uint8)
        t0 = time.perf_counter()
        baseline(texts, size, beluga=name == "beluga", out=out)
    return len(texts) / (time.perf_counter() - t0)


def store_bytes(root: Path) -> str:
    """Bytes per drawing of --no-images builds of the real sample (no replication)."""
    from rasterfast.format import Reader
    from rasterfast.pipeline import build

    lines = ["| build (real sample, --no-images) | drawings | .strokes B/drawing | "
             "+ labels + meta B/drawing | 64 px gray image | 128 px 3 ch image |",
             "|---|---|---|---|---|---|"]
    kaggle = DATA / "kaggle"
    for label, inputs, recipe in (
            ("simplified CSVs, gray", [kaggle / "train_simplified", kaggle / "test_simplified.csv"],
             "gray"),
            ("raw CSVs, time3", [kaggle / "train_raw", kaggle / "test_raw.csv.gz"], "time3")):
        out = root / f"bytes-{recipe}"
        build(inputs, out, recipe, progress=False, images=False)
        m = Reader(out).manifest
        n = sum(m.count(s) for s in m.splits)
        strokes = sum(sh.strokes.size for s in m.splits for sh in m.shards(s))
        total = sum(fe.size for s in m.splits for sh in m.shards(s) for fe in sh.files)
        lines.append(f"| {label} | {n:,} | {strokes / n:,.0f} | {total / n:,.0f} | 4,096 | "
                     f"49,152 |")
    return "\n".join(lines)


def _status() -> dict:
    """This process's memory figures from /proc/self/status, in MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024
    return out


def rss_child(path: str, recipe: str, size: int) -> None:
    """In a subprocess: read one whole epoch; print the memory figures as JSON.

    RssAnon is the process's own memory (buffers, arrays); RssFile the pages of the
    memory-mapped stroke files that are resident, which the kernel can drop at will
    (page cache), so it grows with the store read, not with the process's needs.
    """
    from rasterfast import StrokeDataset

    ds = StrokeDataset(path, recipe, size=size, batch_size=256, threads=1)
    start = _status()
    anon = []
    n, t0 = 0, time.perf_counter()
    for i, batch in enumerate(ds):
        n += len(batch["labels"])
        if i % 200 == 0:
            anon.append(_status()["RssAnon"])
    end = _status()
    print(json.dumps({"drawings": n, "seconds": time.perf_counter() - t0,
                      "anon_start": start["RssAnon"], "anon_max": max(anon + [end["RssAnon"]]),
                      "anon_mid": anon[len(anon) // 2], "file_end": end["RssFile"],
                      "hwm": end["VmHWM"]}))


def rss(root: Path, texts: list[str], sizes: list[int]) -> str:
    lines = ["| drawings in the epoch | RssAnon after opening (MB) | RssAnon mid-epoch / "
             "max (MB) | RssFile at the end (MB) | VmHWM (MB) | epoch drawings/s |",
             "|---|---|---|---|---|---|"]
    for n in sizes:
        path = make_store(root, "simplified", texts, n)
        got = subprocess.run([sys.executable, "-m", "bench.bench_stroke", "--rss-child",
                              str(path)], check=True, capture_output=True, text=True, cwd=ROOT)
        r = json.loads(got.stdout.strip().splitlines()[-1])
        lines.append(f"| {r['drawings']:,} | {r['anon_start']:,.0f} | {r['anon_mid']:,.0f} / "
                     f"{r['anon_max']:,.0f} | {r['file_end']:,.0f} | {r['hwm']:,.0f} | "
                     f"{r['drawings'] / r['seconds']:,.0f} |")
        shutil.rmtree(path)
    return "\n".join(lines)


def run(args) -> str:
    texts = {"simplified": kaggle_strings("simplified"), "raw": kaggle_strings("raw")}
    if args.quick:
        texts = {k: v[:600] for k, v in texts.items()}
    tmp = Path(tempfile.mkdtemp(prefix="bench-stroke-"))
    try:
        return _run(args, texts, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args, texts, tmp: Path) -> str:
    from rasterfast import Recipe, StrokeDataset

    stores = {kind: make_store(tmp, kind, t, args.drawings) for kind, t in texts.items()}
    lines = ["| recipe | rasterfast 1 thread (drawings/s) | target | Kaggle per-sample "
             "json+cv2 (drawings/s) | ratio | 2 threads (drawings/s) | 2 threads / 1 |",
             "|---|---|---|---|---|---|---|"]
    for name, size, kind, target in ROWS:
        recipe = Recipe.preset(name, size=size)
        one = StrokeDataset(stores[kind], recipe, batch_size=256, threads=1)
        two = StrokeDataset(stores[kind], recipe, batch_size=256, threads=2)
        sample = texts[kind][:args.baseline]
        best = {"one": 0.0, "two": 0.0, "base": 0.0}
        for rep in range(args.repeat):  # interleaved: the machine's load weighs on all alike
            for ds in (one, two):
                ds.set_epoch(rep)
            best["one"] = max(best["one"], epoch_rate(one, args.limit))
            best["two"] = max(best["two"], epoch_rate(two, args.limit))
            best["base"] = max(best["base"], baseline_rate(name, size, sample))
        lines.append(f"| {name} {size} px | {best['one']:,.0f} | {target:,} | "
                     f"{best['base']:,.0f} | {best['one'] / best['base']:.1f}x | "
                     f"{best['two']:,.0f} | {best['two'] / best['one']:.2f}x |")
        print(lines[-1], flush=True)
    body = ["Real sample drawings (Kaggle-layout train CSVs: 6,880 simplified, 8,390 raw) "
            f"parsed once and repeated into a {args.drawings:,}-drawing stroke store "
            f"(shards of {SHARD}); shuffled batches of 256, best of {args.repeat} passes "
            f"of {args.limit:,} drawings. Baseline: the first {args.baseline:,} drawing "
            "strings, one at a time.", "", *lines, ""]
    body.append(store_bytes(tmp))
    print(body[-1], flush=True)
    if args.rss:
        body += ["", "Memory of a process reading one whole epoch (gray 64, batch 256, 1 thread; "
                 "RssAnon: its own memory; RssFile: resident pages of the mapped stroke "
                 "files, page cache the kernel reclaims at will):", "",
                 rss(tmp, texts["simplified"], args.rss)]
        print(body[-1], flush=True)
    return "\n".join(body)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no RESULTS.md")
    parser.add_argument("--drawings", type=int, default=200_000)
    parser.add_argument("--limit", type=int, default=100_000,
                        help="drawings read per timed pass")
    parser.add_argument("--baseline", type=int, default=3_000,
                        help="drawings of the per-sample baseline per pass")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rss", type=int, nargs="*", default=[1_000_000, 4_000_000])
    parser.add_argument("--rss-child", metavar="STORE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, "gray", 64)
        return
    if args.quick:
        args.drawings, args.limit, args.baseline, args.repeat = 5_000, 2_000, 200, 1
        args.rss = [20_000]
    body = run(args)
    if not args.quick:
        write_section("stroke", body)


if __name__ == "__main__":
    main()
