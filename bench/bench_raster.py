"""Rasterising real simplified drawings: rasterfast vs the Beluga pipeline users run.

Baseline (what Kaggle notebooks do, per drawing): ``json.loads`` of the drawing
text, ``cv2.line(img, p, q, colour, 6)`` per segment on a 256x256 canvas, then
``cv2.resize(img, (S, S))``; colour 255 for ``gray``, ``255 - min(i, 10) * 13``
for stroke i in ``beluga``. rasterfast: ``parse_drawings`` of the same texts,
then ``render(batch, Recipe.preset(name, size=S))``, one call for all drawings.

One core (cv2.setNumThreads(1); the kernels are single-threaded), same texts,
same run; each figure is the best of several repeats, interleaved, because the
machine is shared. Run from the repository root::

    python -m bench.bench_raster [--quick]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import DATA, best_of  # noqa: E402
from bench._results import write_section  # noqa: E402

#: (recipe preset, size, target speed-up of parse + render over the baseline, antialias)
ROWS = [
    ("gray", 64, 50.0, None),
    ("gray", 256, 12.0, None),
    ("beluga", 64, 8.0, None),
    ("beluga", 224, None, None),
    ("gray", 64, None, True),        # antialiased variant, for information
]
# The time3 row (raw strings, 128 px, >= 20x vs json + cv2 of the same encoding) is measured
# by bench/bench_time3.py (the encoders' benchmark), which owns that baseline.


def load_texts(limit: int) -> list[str]:
    """The ``drawing`` column of the Kaggle simplified train CSVs, as strings."""
    csv.field_size_limit(1 << 30)
    texts: list[str] = []
    for f in sorted((DATA / "kaggle" / "train_simplified").glob("*.csv")):
        with open(f, encoding="utf-8", newline="") as fh:
            texts.extend(row["drawing"] for row in csv.DictReader(fh))
    return texts[:limit]


def baseline(texts: list[str], size: int, beluga: bool, out: np.ndarray | None = None
             ) -> np.ndarray:
    """json.loads + cv2.line per segment at 256 px + cv2.resize, per drawing."""
    import cv2

    if out is None:
        out = np.empty((len(texts), size, size), np.uint8)
    for n, text in enumerate(texts):
        img = np.zeros((256, 256), np.uint8)
        for i, (xs, ys) in enumerate(json.loads(text)):
            colour = 255 - min(i, 10) * 13 if beluga else 255
            for p in range(len(xs) - 1):
                cv2.line(img, (xs[p], ys[p]), (xs[p + 1], ys[p + 1]), colour, 6)
        out[n] = img if size == 256 else cv2.resize(img, (size, size))
    return out



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer drawings and repeats")
    args = parser.parse_args(argv)

    import cv2

    from rasterfast import parse_drawings
    from rasterfast.recipe import Recipe
    from rasterfast.render import render

    cv2.setNumThreads(1)
    n_base, n_rf, repeats = (300, 1000, 3) if args.quick else (1500, 6000, 5)
    texts = load_texts(n_rf)
    base_texts = texts[:n_base]
    t_parse = best_of(lambda: parse_drawings(texts, "simplified"), repeats)
    batch = parse_drawings(texts, "simplified")
    rows = []
    for name, size, target, aa in ROWS:
        recipe = Recipe.preset(name, size=size)
        if aa is not None:
            recipe = recipe.replace(antialias=aa)
        # both write into output arrays allocated (and faulted in) once, outside the timing
        out = np.zeros((len(batch), *recipe.shape), np.uint8)
        base_out = np.zeros((len(base_texts), size, size), np.uint8)
        t_base = t_render = float("inf")
        for _ in range(repeats):   # interleaved, so both see the same machine load
            t = time.perf_counter()
            baseline(base_texts, size, name == "beluga", base_out)
            t_base = min(t_base, time.perf_counter() - t)
            t = time.perf_counter()
            render(batch, recipe, out=out)
            t_render = min(t_render, time.perf_counter() - t)
        if name == "beluga":       # the same pixels as the baseline, or the row means nothing
            same = np.array_equal(render(batch.take(np.arange(n_base)), recipe)[:, 0],
                                  baseline(base_texts, size, True))
        else:
            same = None
        base_rate = n_base / t_base
        render_rate = len(batch) / t_render
        total_rate = len(batch) / (t_render + t_parse)
        rows.append((name + (" (antialiased)" if aa else ""), size, base_rate, render_rate,
                     total_rate, total_rate / base_rate, render_rate / base_rate, target, same))

    lines = [
        f"Real simplified drawings (Kaggle CSV `drawing` strings, {len(texts)} for rasterfast, "
        f"{n_base} for the baseline); one core; best of {repeats} interleaved repeats.",
        f"Parsing (`parse_drawings`) alone: {len(texts) / t_parse:,.0f} drawings/s, included in "
        "the parse + render column.",
        "",
        "| recipe | size | baseline json+cv2 (drawings/s) | render only | parse + render | "
        "speed-up (parse + render) | speed-up (render only) | target | identical to baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, size, base, rend, tot, up, up_render, target, same in rows:
        tgt = "" if target is None else f">= {target:g}x: " + ("met" if up >= target else "NOT met")
        ident = "" if same is None else ("yes" if same else "NO")
        lines.append(f"| {name} | {size} | {base:,.0f} | {rend:,.0f} | {tot:,.0f} | {up:.1f}x | "
                     f"{up_render:.1f}x | {tgt} | {ident} |")
    md = "\n".join(lines)
    print(md)
    write_section("raster", md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
