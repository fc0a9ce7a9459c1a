"""Slow references for the raster kernels: pure NumPy capsules, and OpenCV's Beluga pipeline.

``capsules`` draws like ``rasterize(method="direct")`` by measuring the
distance of every pixel centre to every segment (no row intervals, no skipped
caps), so it shares nothing with the kernel but the definition. ``beluga_cv2``
is what Kaggle users run: ``cv2.line`` per segment at 256 px, ``cv2.resize``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

csv.field_size_limit(1 << 30)


def segment_distance(px, py, x0, y0, x1, y1):
    """Distance of the points (px, py) to the segment (x0, y0)-(x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    qx, qy = px - x0, py - y0
    len2 = dx * dx + dy * dy
    t = np.clip((qx * dx + qy * dy) / len2, 0.0, 1.0) if len2 > 0 else np.zeros_like(px)
    return np.hypot(qx - t * dx, qy - t * dy)


def capsules(strokes, values, size, line_width, antialias=False, compose="paint"):
    """Draw one drawing like ``rasterize(method="direct")``; returns (image, distance-to-edge).

    ``strokes``: list of (xs, ys) in the 0-255 frame; ``values``: per stroke a
    ``(C, n)`` array, one column per point (segment p in column p, a one-point
    stroke and the end cap in the last column). The second result holds, per
    pixel, the smallest ``|d - r|`` over all pieces drawn: where it is tiny the
    pixel sits on an edge and rounding may decide either way.
    """
    k = size / 256.0
    r = line_width * k / 2.0
    C = values[0].shape[0] if values else 1
    img = np.zeros((C, size, size), np.float64)
    edge = np.full((size, size), np.inf)
    py, px = np.mgrid[0:size, 0:size].astype(np.float64)

    def piece(x0, y0, x1, y1, v, acc):
        d = segment_distance(px, py, x0, y0, x1, y1)
        np.minimum(edge, np.abs(d - r), out=edge)
        if antialias:
            np.minimum(edge, np.abs(d - (r + 0.5)), out=edge)
            np.minimum(edge, np.abs(d - (r - 0.5)), out=edge)
            ai = np.floor(np.clip(r + 0.5 - d, 0.0, 1.0) * 255.0 + 0.5)
        else:
            ai = np.where(d <= r, 255.0, 0.0)
        if compose == "max":
            vv = np.floor((v[:, None, None] * ai + 127.0) / 255.0)
            np.maximum(img, vv, out=img)
        else:
            acc.append((ai, v))

    for (xs, ys), vals in zip(strokes, values, strict=True):
        X = (np.asarray(xs, np.float64) + 0.5) * k - 0.5
        Y = (np.asarray(ys, np.float64) + 0.5) * k - 0.5
        acc = []
        if len(X) == 1:
            piece(X[0], Y[0], X[0], Y[0], vals[:, 0].astype(np.float64), acc)
        for p in range(len(X) - 1):
            piece(X[p], Y[p], X[p + 1], Y[p + 1], vals[:, p].astype(np.float64), acc)
        if len(X) > 1 and not np.array_equal(vals[:, -1], vals[:, -2]):
            piece(X[-1], Y[-1], X[-1], Y[-1], vals[:, -1].astype(np.float64), acc)
        if compose == "paint" and acc:
            if antialias:
                # the stroke lays, per pixel, the largest coverage any of its pieces gives
                # (the first piece that reached it) over what was under it
                best = np.zeros((size, size))
                val = np.zeros((C, size, size))
                for ai, v in acc:
                    better = ai > best
                    best = np.where(better, ai, best)
                    val = np.where(better[None], v[:, None, None], val)
                img = np.floor((img * (255.0 - best) + val * best + 127.0) / 255.0)
            else:
                for ai, v in acc:
                    img = np.where(ai[None] > 0, v[:, None, None], img)
    return img.astype(np.uint8), edge


def beluga_cv2(strokes, size, thickness=6):
    """The Kaggle baseline: cv2.line per segment at 256 px, colour by stroke, cv2.resize."""
    import cv2

    img = np.zeros((256, 256), np.uint8)
    for i, (xs, ys) in enumerate(strokes):
        colour = 255 - min(i, 10) * 13
        for p in range(len(xs) - 1):
            cv2.line(img, (int(xs[p]), int(ys[p])), (int(xs[p + 1]), int(ys[p + 1])), colour,
                     thickness)
        if len(xs) == 1:
            cv2.line(img, (int(xs[0]), int(ys[0])), (int(xs[0]), int(ys[0])), colour, thickness)
    return img if size == 256 else cv2.resize(img, (size, size))


def stroke_order_values(batch):
    """Beluga's per-point values: stroke i of a drawing in ``255 - min(i, 10) * 13``."""
    per_stroke = np.arange(batch.num_strokes) - np.repeat(batch.drawing_offsets[:-1],
                                                          np.diff(batch.drawing_offsets))
    v = (255 - np.minimum(per_stroke, 10) * 13).astype(np.uint8)
    return np.repeat(v, np.diff(batch.stroke_offsets))[None].copy()


def load_simplified(data_dir: Path, source: str) -> list:
    """Every simplified drawing of the sample as json lists: ``"ndjson"`` or ``"kaggle"`` files."""
    data_dir = Path(data_dir)
    out = []
    if source == "ndjson":
        for f in sorted((data_dir / "ndjson" / "simplified").glob("*.ndjson")):
            with open(f, encoding="utf-8") as fh:
                out.extend(json.loads(line)["drawing"] for line in fh if line.strip())
    elif source == "kaggle":
        kaggle = data_dir / "kaggle"
        files = sorted((kaggle / "train_simplified").glob("*.csv"))
        files.append(kaggle / "test_simplified.csv")
        for f in files:
            with open(f, encoding="utf-8", newline="") as fh:
                out.extend(json.loads(row["drawing"]) for row in csv.DictReader(fh))
    else:
        raise ValueError(f"source must be 'ndjson' or 'kaggle', got {source!r}")
    return out
