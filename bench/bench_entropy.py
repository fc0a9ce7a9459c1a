"""Sketch entropy of rendered shards: rasterfast.sketch_entropy vs numpy bincount.

Run from the repository root: ``python -m bench.bench_entropy [--repeat 5] [--no-write]``.

The images are real drawings of the sample rendered with the ``gray`` (1
channel) and ``order3`` (3 channels) recipes at 64 and 128 px, as a build
holds them. Contenders, one core, same images, same run, best of
``--repeat``:

- numpy per image: ``np.bincount(img.ravel(), minlength=256)`` and the
  entropy of the histogram (what a user writes; the Kaggle kernel did the same
  with ``np.histogram``);
- numpy batched: one ``bincount`` over all images with a per-image offset,
  then the entropy of all histograms at once (the fastest numpy we know);
- ``rasterfast.sketch_entropy``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import DATA  # noqa: E402
from bench._results import write_section  # noqa: E402
from rasterfast import StrokeBatch  # noqa: E402
from rasterfast.entropy import sketch_entropy  # noqa: E402
from rasterfast.recipe import Recipe  # noqa: E402
from rasterfast.render import render  # noqa: E402


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _h(counts, m):
    p = counts / m
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=-1)


def numpy_per_image(images):
    rows = images.reshape(len(images), -1)
    return np.array([_h(np.bincount(r, minlength=256), r.size) for r in rows], np.float32)


def numpy_batched(images):
    n = len(images)
    rows = images.reshape(n, -1)
    keys = rows + (np.arange(n, dtype=np.int64) * 256)[:, None]
    counts = np.bincount(keys.ravel(), minlength=256 * n).reshape(n, 256)
    return _h(counts, rows.shape[1]).astype(np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    drawings = []
    for path in sorted((DATA / "ndjson" / "simplified").iterdir()):
        drawings += [json.loads(line)["drawing"] for line in path.read_text().splitlines()[:6]]
    batch = StrokeBatch.from_lists(drawings, "simplified")
    lines = [f"Sketch entropy of {len(batch):,} real drawings rendered as a build holds them, one "
             f"core, best of {args.repeat}; images/s.", "",
             "| images | numpy bincount per image | numpy bincount batched | rasterfast | "
             "vs per image | vs batched |", "|---|---:|---:|---:|---:|---:|"]
    for preset in ("gray", "order3"):
        for size in (64, 128):
            images = render(batch, Recipe.preset(preset, size=size))
            n = len(images)
            t_loop, a = best_of(lambda images=images: numpy_per_image(images), args.repeat)
            t_vec, b = best_of(lambda images=images: numpy_batched(images), args.repeat)
            t_rf, c = best_of(lambda images=images: sketch_entropy(images), args.repeat)
            np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(c, b, rtol=1e-5, atol=1e-6)
            shape = "x".join(map(str, images.shape[1:]))
            lines.append(f"| {preset} {shape} | {n / t_loop:,.0f} | {n / t_vec:,.0f} | "
                         f"{n / t_rf:,.0f} | {t_loop / t_rf:.1f}x | {t_vec / t_rf:.1f}x |")
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_section("entropy", md)


if __name__ == "__main__":
    main()
