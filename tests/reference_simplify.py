"""Slow pure-NumPy reference of :func:`rasterfast.simplify`, and test helpers.

Written independently of the kernel from the procedure in its docstring: one
drawing at a time, NumPy arrays per stroke, a plain RDP with a per-point
division. ``fma`` is computed exactly with fractions (NumPy has none).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def _fma(a: float, b: float, c: float) -> float:
    """a * b + c rounded once (Fraction arithmetic is exact, float() rounds to nearest even)."""
    return float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


def resample(sx, sy, st, spacing=1.0):
    """Points of one scaled stroke at arc lengths k * spacing, plus its last point.

    ``st`` (times) may be None. Returns float64 x, y and int64 t (or None).
    """
    sx = np.asarray(sx, np.float64)
    sy = np.asarray(sy, np.float64)
    if len(sx) > 1:
        dx, dy = np.diff(sx), np.diff(sy)
        seg_len = np.sqrt(dx * dx + dy * dy)
        c_end = np.cumsum(seg_len)  # a sequential running sum, like the kernel's
        c_start = np.concatenate([[0.0], c_end[:-1]])
        total = c_end[-1]
        k = np.arange(1, int(np.floor(total / spacing)) + 3, dtype=np.float64)
        targets = k * spacing
        targets = targets[targets <= total]
        seg = np.searchsorted(c_end, targets, side="left")
        u = (targets - c_start[seg]) / seg_len[seg]
        rx = np.concatenate([[sx[0]], sx[seg] * (1.0 - u) + sx[seg + 1] * u])
        ry = np.concatenate([[sy[0]], sy[seg] * (1.0 - u) + sy[seg + 1] * u])
        if st is not None:
            st = np.asarray(st, np.float64)
            rt = np.concatenate([[st[0]], np.rint(st[seg] + (st[seg + 1] - st[seg]) * u)])
    else:
        rx, ry = sx[:1].copy(), sy[:1].copy()
        rt = None if st is None else np.asarray(st[:1], np.float64)
    if len(rx) == 1 or rx[-1] != sx[-1] or ry[-1] != sy[-1]:
        rx = np.append(rx, sx[-1])
        ry = np.append(ry, sy[-1])
        if st is not None:
            rt = np.append(rt, st[-1])
    elif st is not None:  # the last sample is the last point: it ends the stroke's time
        rt[-1] = st[-1]
    return rx, ry, (None if st is None else rt.astype(np.int64))


def rdp(rx, ry, epsilon=2.0):
    """Indices kept by Ramer-Douglas-Peucker: first farthest point, distance to the chord's line."""
    n = len(rx)
    keep = np.zeros(n, bool)
    keep[0] = keep[-1] = True
    todo = [(0, n - 1)]
    while todo:
        a, b = todo.pop()
        if b - a < 2:
            continue
        dx, dy = rx[b] - rx[a], ry[b] - ry[a]
        px, py = rx[a + 1:b], ry[a + 1:b]
        if dx == 0.0 and dy == 0.0:
            ex, ey = px - rx[a], py - ry[a]
            d = np.sqrt([_fma(u, u, v * v) for u, v in zip(ex, ey, strict=True)])
        else:
            length = np.sqrt(_fma(dx, dx, dy * dy))
            d = np.abs(dx * (ry[a] - py) - dy * (rx[a] - px)) / length
        i = int(np.argmax(d))  # the first of equal maxima
        if d[i] > epsilon:
            keep[a + 1 + i] = True
            todo += [(a, a + 1 + i), (a + 1 + i, b)]
    return np.flatnonzero(keep)


def simplify_drawing(strokes, epsilon=2.0, spacing=1.0):
    """One raw drawing (list of (x, y) or (x, y, t) sequences) -> list of (x, y[, t]) int arrays."""
    xs = np.concatenate([np.asarray(s[0], np.float64) for s in strokes])
    ys = np.concatenate([np.asarray(s[1], np.float64) for s in strokes])
    mx, my = xs.min(), ys.min()
    ext = max(xs.max() - mx, ys.max() - my)
    out = []
    for s in strokes:
        x = np.asarray(s[0], np.float64)
        y = np.asarray(s[1], np.float64)
        if ext > 0:
            sx, sy = (x - mx) * 255.0 / ext, (y - my) * 255.0 / ext
        else:
            sx, sy = np.zeros_like(x), np.zeros_like(y)
        rx, ry, rt = resample(sx, sy, s[2] if len(s) > 2 else None, spacing)
        keep = rdp(rx, ry, epsilon)
        res = [np.clip(np.rint(rx[keep]), 0, 255).astype(np.int64),
               np.clip(np.rint(ry[keep]), 0, 255).astype(np.int64)]
        if rt is not None:
            res.append(rt[keep])
        out.append(res)
    return out


def densify(xs, ys, step=0.1):
    """Points along a polyline at most ``step`` apart (its vertices included)."""
    pts = np.stack([np.asarray(xs, np.float64), np.asarray(ys, np.float64)], 1)
    if len(pts) < 2:
        return pts
    parts = [pts[:1]]
    for p, q in zip(pts[:-1], pts[1:], strict=True):
        n = max(1, int(np.ceil(np.hypot(*(q - p)) / step)))
        u = np.arange(1, n + 1)[:, None] / n
        parts.append(p + (q - p) * u)
    return np.concatenate(parts)


def _to_polyline(pts, xs, ys):
    """Distance of each point to the polyline (xs, ys): the nearest of its segments."""
    q = np.stack([np.asarray(xs, np.float64), np.asarray(ys, np.float64)], 1)
    if len(q) == 1:
        return np.hypot(*(pts - q[0]).T)
    p0, d = q[:-1], np.diff(q, axis=0)
    len2 = (d * d).sum(1)
    best = np.full(len(pts), np.inf)
    for start in range(0, len(pts), 4096):  # bounded memory: 4096 points x segments
        w = pts[start:start + 4096, None, :] - p0[None]
        u = np.clip((w * d[None]).sum(-1) / np.where(len2 > 0, len2, 1.0), 0.0, 1.0)
        r = w - u[..., None] * d[None]
        best[start:start + 4096] = np.sqrt((r * r).sum(-1)).min(1)
    return best


def hausdorff(a, b, step=0.1):
    """Symmetric Hausdorff distance between two polylines ((xs, ys) pairs) as curves.

    Each curve is sampled every ``step`` px and measured against the other's
    segments exactly, so the result is within ``step / 2`` of the true value.
    """
    ab = _to_polyline(densify(*a, step=step), *b).max()
    ba = _to_polyline(densify(*b, step=step), *a).max()
    return float(max(ab, ba))


def drawing_hausdorff(mine, theirs, step=0.1):
    """Largest stroke-by-stroke Hausdorff distance of two drawings with the same strokes.

    Drawings with different stroke counts compare all their points as one set.
    """
    if len(mine) != len(theirs):
        a = (np.concatenate([s[0] for s in mine]), np.concatenate([s[1] for s in mine]))
        b = (np.concatenate([s[0] for s in theirs]), np.concatenate([s[1] for s in theirs]))
        return hausdorff(a, b, step)
    return max(hausdorff((m[0], m[1]), (t[0], t[1]), step)
               for m, t in zip(mine, theirs, strict=True))
