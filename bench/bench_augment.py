"""Stroke augmentation: StrokeDataset with ``augment=`` vs plain on-the-fly rendering, one thread.

The same stroke store of real sample drawings as bench_stroke (the Kaggle-layout train
CSVs, parsed once, repeated), read by ``StrokeDataset(threads=1)`` a shuffled batch of
256 at a time: gather, (augment), render, all in the loop. Per recipe and size: plain,
``Augment()`` (the default: scale, point drop, first strokes), and a heavy config (every
geometric augmentation, stroke drop and RDP; time warp on raw drawings). Same run,
interleaved best of ``--repeat``; the target is at most 30% over plain (issue 14). Also
the augmentation kernel alone (``rasterfast.augment`` on gathered batches). Run from the
repository root::

    python -m bench.bench_augment [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import kaggle_strings  # noqa: E402
from bench._results import write_section  # noqa: E402
from bench.bench_stroke import SHARD, epoch_rate, make_store  # noqa: E402

#: (recipe preset, size, input kind)
ROWS = [("gray", 64, "simplified"), ("gray", 128, "simplified"), ("beluga", 64, "simplified"),
        ("time3", 64, "raw"), ("time3", 128, "raw")]
TARGET = 0.30


def configs(kind):
    from rasterfast import Augment

    heavy = Augment(scale=0.2, rotation=10, shear=0.2, translate=0.1, flip=0.0, jitter=1.0,
                    point_drop=0.1, stroke_drop=0.1, keep_first=0.1, epsilon=3.0,
                    time_warp=0.5 if kind == "raw" else 0.0)
    return {"default": Augment(), "heavy": heavy}


def kernel_rate(store, kind, aug, limit: int) -> float:
    """Drawings per second of ``rasterfast.augment`` alone on gathered batches of 256."""
    import numpy as np

    from rasterfast import augment
    from rasterfast.format import Reader

    strokes = Reader(store).strokes("train")
    batches = [strokes.gather(np.arange(i, i + 256)) for i in range(0, limit, 256)]
    t0 = time.perf_counter()
    n = 0
    for b in batches:
        augment(b, aug, seed=0, epoch=1)
        n += len(b)
    return n / (time.perf_counter() - t0)


def run(args) -> str:
    from rasterfast import Recipe, StrokeDataset

    kinds = {kind for _, _, kind in ROWS}
    texts = {k: kaggle_strings(k) for k in kinds}
    if args.quick:
        texts = {k: v[:600] for k, v in texts.items()}
    tmp = Path(tempfile.mkdtemp(prefix="bench-augment-"))
    stores = {kind: make_store(tmp, kind, t, args.drawings) for kind, t in texts.items()}
    klines = ["| input | Augment() (drawings/s) | heavy (drawings/s) |", "|---|---|---|"]
    krate = {}
    for kind in sorted(kinds):
        cfg = configs(kind)
        krate[kind] = {k: max(kernel_rate(stores[kind], kind, a, args.limit)
                              for _ in range(args.repeat)) for k, a in cfg.items()}
        klines.append(f"| {kind} | {krate[kind]['default']:,.0f} | "
                      f"{krate[kind]['heavy']:,.0f} |")
        print(klines[-1], flush=True)
    lines = ["| recipe | plain (drawings/s) | augment=Augment() (drawings/s) | cost | "
             "heavy (drawings/s) | cost | kernel alone / plain: Augment(), heavy | target |",
             "|---|---|---|---|---|---|---|---|"]
    for name, size, kind in ROWS:
        recipe = Recipe.preset(name, size=size)
        cfg = configs(kind)
        sets = {"plain": StrokeDataset(stores[kind], recipe, batch_size=256, threads=1)}
        for label, aug in cfg.items():
            sets[label] = StrokeDataset(stores[kind], recipe, batch_size=256, threads=1,
                                        augment=aug)
        best = dict.fromkeys(sets, 0.0)
        for ds in sets.values():         # warm-up: page cache, per-thread caches and scratch
            epoch_rate(ds, min(args.limit, 5_000))
        labels = list(sets)
        for rep in range(args.repeat):  # interleaved: the machine's load weighs on all alike
            for label in labels[rep % 3:] + labels[:rep % 3]:   # each goes first in turn
                ds = sets[label]
                ds.set_epoch(rep + 1)
                best[label] = max(best[label], epoch_rate(ds, args.limit))
        cost = {k: best["plain"] / best[k] - 1.0 for k in cfg}
        lines.append(f"| {name} {size} px | {best['plain']:,.0f} | {best['default']:,.0f} | "
                     f"{cost['default']:+.0%} | {best['heavy']:,.0f} | {cost['heavy']:+.0%} | "
                     f"{best['plain'] / krate[kind]['default']:.0%}, "
                     f"{best['plain'] / krate[kind]['heavy']:.0%} | <= +{TARGET:.0%} |")
        print(lines[-1], flush=True)
    heavy = configs("raw")["heavy"]
    body = ["Real sample drawings (Kaggle-layout train CSVs: 6,880 simplified, 8,390 raw) "
            f"parsed once and repeated into a {args.drawings:,}-drawing stroke store "
            f"(shards of {SHARD}); `StrokeDataset(threads=1)`, shuffled batches of 256, best "
            f"of {args.repeat} interleaved passes (after a warm-up, each set first in turn) of "
            f"{args.limit:,} drawings each; cost = "
            "plain rate / augmented rate - 1 (negative: the augmented batches drew faster, as "
            "dropped points and strokes leave less to draw); kernel alone / plain: the time of "
            "`rasterfast.augment` alone per drawing over the plain time per drawing, the cost "
            "without that saving. Heavy: "
            f"`{ {k: v for k, v in heavy.get_config().items() if k not in ('id', 'version')} }` "
            "(time_warp on raw only).", "", *lines, "",
            "The augmentation kernel alone (`rasterfast.augment`, gathered batches of 256, "
            "one thread):", "", *klines]
    if args.note:
        body += ["", args.note]
    return "\n".join(body)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no RESULTS.md")
    parser.add_argument("--drawings", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=50_000,
                        help="drawings read per timed pass")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--note", default="", help="a line added under the tables (e.g. load)")
    args = parser.parse_args(argv)
    if args.quick:
        args.drawings, args.limit, args.repeat = 5_000, 2_000, 1
    body = run(args)
    if not args.quick:
        write_section("augment", body)


if __name__ == "__main__":
    main()
