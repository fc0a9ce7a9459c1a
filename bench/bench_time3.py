"""The ``time3`` recipe at 128 px from raw drawing strings: rasterfast vs json.loads + cv2.

Run from the repository root: ``python -m bench.bench_time3 [--quick] [--repeat 3] [--no-write]``.

All contenders get the same real raw drawing strings (the ``drawing`` column
of the sample's Kaggle ``train_raw`` CSVs, read beforehand), on one core, in
the same run; each figure is the best of ``--repeat`` runs, interleaved,
because this machine is shared and noisy.

- rasterfast: ``parse_drawings(texts, kind="raw")``, then
  ``render(batch, Recipe.preset("time3", size=128), out=out)`` (encoders + rasteriser).

Every contender writes into an output array of its own, allocated (and faulted in)
once before timing, as a build reuses its chunk buffer.
- baseline, the way the Kaggle kernels draw: per drawing ``json.loads``, the
  same encoding in Python (pause before each stroke, its draw time, the
  number of strokes, with rasterfast's normalisers), the bounding box fitted
  into 0-255 with numpy, then ``cv2.line`` per segment in the stroke's
  (pause, time, count) colour on a 128x128x3 canvas (thickness 3 = 6 of 256
  px) and a transpose to channels-first.
- the same with ``cv2.polylines`` per stroke (the fastest pure-OpenCV way:
  time3's values are constant per stroke).

The baselines draw directly at 128 px (cheaper than 256 px + resize) with
OpenCV's integer line geometry, so their pixels differ from rasterfast's
subpixel capsules at stroke edges: the table gives the IoU of the inked
pixels and, on the pixels both ink, the share whose three values are equal
(the encoding itself).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._results import write_section  # noqa: E402
from rasterfast.encoders import PAUSE_MS, STROKE_COUNT_STEP, STROKE_TIME_MS  # noqa: E402
from rasterfast.recipe import Recipe  # noqa: E402

DATA = Path(os.environ.get("RASTERFAST_DATA",
                           Path(__file__).resolve().parent.parent.parent / "shared/data/quickdraw"))
SIZE = 128
cv2.setNumThreads(1)


def load_strings(limit: int | None) -> list[str]:
    """The drawing column of every Kaggle train_raw CSV of the sample."""
    out = []
    for path in sorted((DATA / "kaggle" / "train_raw").iterdir()):
        with gzip.open(path, "rt", newline="") as fh:
            out.extend(row["drawing"] for row in csv.DictReader(fh))
    return out[:limit] if limit else out


def best_of(fns: dict, repeat: int):
    """Best time and last result of each function, the runs interleaved so that the
    load of this shared machine weighs on every contender alike."""
    best, results = dict.fromkeys(fns, float("inf")), {}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best, results


def _level(v, step):
    return min(255, max(1, (2 * max(0, v) + step) // (2 * step)))


def _baseline_one(text, img, polylines):
    strokes = json.loads(text)
    x = np.concatenate([np.asarray(s[0], np.float64) for s in strokes])
    y = np.concatenate([np.asarray(s[1], np.float64) for s in strokes])
    x0, y0 = x.min(), y.min()
    extent = max(x.max() - x0, y.max() - y0)
    k = 255.0 / extent if extent > 0 else 1.0
    # the 0-255 frame, then the 128-px frame (pixel centres at integers)
    f = SIZE / 256.0
    b = 0.5 * f - 0.5
    xs = np.rint((x - x0) * k * f + b).astype(np.int32)
    ys = np.rint((y - y0) * k * f + b).astype(np.int32)
    count = min(255, STROKE_COUNT_STEP * len(strokes))
    prev_end, start = None, 0
    for s in strokes:
        t = s[2]
        n = len(t)
        pause = 0 if prev_end is None else t[0] - prev_end
        colour = (_level(pause, PAUSE_MS), _level(t[-1] - t[0], STROKE_TIME_MS), count)
        prev_end = t[-1]
        px, py = xs[start:start + n], ys[start:start + n]
        if polylines:
            pts = np.stack([px, py], axis=1).reshape(-1, 1, 2)
            cv2.polylines(img, [pts], False, colour, 3)
        else:
            if n == 1:
                cv2.line(img, (int(px[0]), int(py[0])), (int(px[0]), int(py[0])), colour, 3)
            for i in range(n - 1):
                cv2.line(img, (int(px[i]), int(py[i])), (int(px[i + 1]), int(py[i + 1])),
                         colour, 3)
        start += n


def baseline(texts, out, polylines=False):
    img = np.empty((SIZE, SIZE, 3), np.uint8)
    for i, text in enumerate(texts):
        img[:] = 0
        _baseline_one(text, img, polylines)
        out[i] = img.transpose(2, 0, 1)
    return out


def rasterfast_time3(texts, recipe, out):
    from rasterfast import parse_drawings
    from rasterfast.render import render

    return render(parse_drawings(texts, kind="raw"), recipe, out=out)


def agreement(a, b):
    """(ink IoU, share of the pixels both inked whose three values are equal)."""
    ia, ib = a.any(axis=1), b.any(axis=1)
    both = ia & ib
    return both.sum() / max(1, (ia | ib).sum()), ((a == b).all(axis=1) & both).sum() / max(
        1, both.sum())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 drawings, 2 repeats")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args(argv)
    repeat = 2 if args.quick else args.repeat
    texts = load_strings(1000 if args.quick else None)
    recipe = Recipe.preset("time3", size=SIZE)
    n = len(texts)
    from rasterfast import parse_drawings

    n_points = parse_drawings(texts, kind="raw").num_points

    # every contender writes into its own output array, allocated once: the page faults
    # of a fresh multi-hundred-MB array each run would be timed otherwise (the same for
    # all; rasterfast went from 53.7 to 34.6 us per drawing), where a build reuses one
    # chunk buffer
    outs = {k: np.zeros((n, 3, SIZE, SIZE), np.uint8) for k in ("rf", "line", "poly")}
    t, img = best_of({"rf": lambda: rasterfast_time3(texts, recipe, outs["rf"]),
                      "line": lambda: baseline(texts, outs["line"]),
                      "poly": lambda: baseline(texts, outs["poly"], polylines=True)}, repeat)
    t_rf, t_line, t_poly = t["rf"], t["line"], t["poly"]
    img_rf, img_line, img_poly = img["rf"], img["line"], img["poly"]

    rows = [
        ("json.loads + cv2.line per segment (Kaggle style)", t_line, agreement(img_line, img_rf)),
        ("json.loads + cv2.polylines per stroke", t_poly, agreement(img_poly, img_rf)),
        ("rasterfast parse_drawings + render(time3)", t_rf, (1.0, 1.0)),
    ]
    lines = [f"time3 recipe (pause, stroke time, stroke count) at {SIZE} px from {n:,} real raw "
             f"drawing strings ({n_points / n:.0f} points per drawing), one core, best of "
             f"{repeat} interleaved runs.", "",
             "| pipeline | drawings/s | rasterfast speed-up | ink IoU vs rasterfast | "
             "equal values where both ink |", "|---|---:|---:|---:|---:|"]
    for name, t, agree in rows:
        lines.append(f"| {name} | {n / t:,.0f} | {t / t_rf:.1f}x | {agree[0]:.1%} | "
                     f"{agree[1]:.1%} |")
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_section("time3", md)


if __name__ == "__main__":
    main()
