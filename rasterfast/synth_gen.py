"""Vectorised doodle generation for :func:`rasterfast.synth`: NumPy over whole batches.

:func:`generate` draws ``n`` doodles of one word template at once (no Python
loop over drawings, strokes or points); :func:`perturb` makes new drawings out
of real ones. Both return flat columns ``(x, y, t, stroke_offsets,
drawing_offsets)`` in the :class:`~rasterfast.batch.StrokeBatch` layout.

How a doodle is drawn
---------------------
1. Pick the strokes: a variant of the word, each stroke with its probability,
   plus a long-tailed number of small detail marks.
2. Place points: every piece of a stroke (a polyline segment, a whole curve)
   gets a start point and a random number of points inside it, at jittered
   positions along its length; simplified output needs few (Google's RDP step
   leaves ~8 per stroke), raw output one every ~7 px.
3. Sample the template there (one ``np.interp`` over all strokes), then move
   each stroke a little (offset, scale, a low-frequency wobble), and each
   drawing (rotation, shear, aspect).
4. Simplified: align to the top-left and scale to a maximum of 255, round.
   Raw: scale to a drawing size in screen pixels, place it on a canvas, add
   tremor, and time every point (per-point intervals, pauses between strokes).
"""

from __future__ import annotations

import numpy as np

from .batch import ranges
from .synth_shapes import Template

__all__ = ["generate", "perturb"]

# -- statistics of the real data (shared/data/quickdraw sample; see synth.py) -----
_STEP_PX = 8.5            # median distance between raw points (tuned: real median 7.1)
_DT_MEDIAN, _DT_SIGMA = 16.0, 0.6            # ms between raw points of a stroke
_HESITATE = 0.04          # share of intervals 3-10x longer (the long right tail)
_PAUSE_MEDIAN, _PAUSE_SIGMA = 440.0, 0.85    # ms between strokes
_GAME_MS = 20_000         # Quick, Draw! gives 20 s per drawing
_FLOAT_SHARE = 0.24       # raw drawings with non-integral coordinates (3 decimals)
_START_NONZERO = 0.045    # raw drawings whose first time is not 0 (1-4 ms)


def _stroke_points(tpl: Template, tid: np.ndarray, scale: np.ndarray, size_px: np.ndarray | None,
                   rng: np.random.Generator):
    """Parameters ``u`` (0-1 along the stroke) of every point, and points per stroke."""
    S = len(tid)
    ps = tpl.pstart[tid]
    pc = tpl.pstart[tid + 1] - ps
    pieces = ranges(ps, pc)
    plen = tpl.plen[pieces] * np.repeat(scale, pc)
    curve = np.repeat(tpl.curve[tid], pc)
    if size_px is None:
        # simplified: RDP keeps ~13 points per unit of curve and a few on
        # hand-drawn "straight" segments
        lam = np.where(curve, 13.0 * plen * rng.lognormal(0.0, 0.35, len(pieces)) - 1.0,
                       4.0 * plen)
        m = np.where(curve, np.maximum(np.rint(lam), 1), rng.poisson(np.maximum(lam, 0.0)))
    else:
        px = plen * np.repeat(size_px, pc)
        m = np.rint(px / (_STEP_PX * rng.lognormal(0.0, 0.5, len(pieces))) - 1.0)
        m = np.maximum(m, 0)
    u0 = tpl.pu0[pieces]
    du = tpl.pu1[pieces] - u0
    m = np.where(du == 0, 0, m).astype(np.int64)      # end pieces: their one point
    npp = 1 + m
    P = int(npp.sum())
    first = np.zeros(len(pieces) + 1, np.int64)
    np.cumsum(npp, out=first[1:])
    # point i of a piece sits at (i - 0.5 + jitter) / m of it; i = 0 at its start
    i = np.arange(P, dtype=np.float64) - np.repeat(first[:-1], npp)
    i += rng.uniform(-0.85, -0.15, P)
    np.maximum(i, 0.0, out=i)
    u = np.repeat(u0, npp) + np.repeat(du / np.maximum(m, 1), npp) * i
    per_stroke = np.add.reduceat(npp, _offsets(pc)[:-1]) if S else np.zeros(0, np.int64)
    return u, per_stroke.astype(np.int64)


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _bbox(x, y, so, do):
    """Per-drawing min and max of x and y (every drawing has a point)."""
    starts = so[do[:-1]]
    return (np.minimum.reduceat(x, starts), np.maximum.reduceat(x, starts),
            np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts))


def _affine(x, y, dp, rng, n, rot=0.12, shear=0.08, aspect=0.12):
    """Rotate, shear and stretch each drawing about its own centre."""
    th = rng.normal(0.0, rot, n)
    sh = rng.normal(0.0, shear, n)
    sx = np.exp(rng.normal(0.0, aspect, n))
    sy = np.exp(rng.normal(0.0, aspect, n))
    c, s = np.cos(th)[dp], np.sin(th)[dp]
    xr = c * x - s * y
    yr = s * x + c * y
    return sx[dp] * (xr + sh[dp] * yr), sy[dp] * yr


def _simplified(x, y, so, do):
    """Google's first two steps: align to the top-left, scale the larger side to 255."""
    x0, x1, y0, y1 = _bbox(x, y, so, do)
    side = np.maximum(x1 - x0, y1 - y0)
    f = np.where(side > 0, 255.0 / np.where(side > 0, side, 1.0), 0.0)
    dp = np.repeat(np.arange(len(do) - 1), np.diff(so[do]))
    xs = np.clip(np.rint((x - x0[dp]) * f[dp]), 0, 255).astype(np.int16)
    ys = np.clip(np.rint((y - y0[dp]) * f[dp]), 0, 255).astype(np.int16)
    return xs, ys


def _raw_coords(v: np.ndarray, floaty: np.ndarray) -> np.ndarray:
    """Screen coordinates as the raw files have them: integers, or 3 decimals in float32."""
    return np.where(floaty, np.round(v, 3), np.rint(v)).astype(np.float32)


def _times(so, do, rng, n, speed=None):
    """Milliseconds of every point: intervals within strokes, pauses between them."""
    P = int(so[-1])
    S = len(so) - 1
    dp_s = np.repeat(np.arange(n), np.diff(do))
    if speed is None:
        speed = rng.lognormal(0.0, 0.35, n)
    dp = np.repeat(dp_s, np.diff(so))
    inc = rng.lognormal(np.log(_DT_MEDIAN), _DT_SIGMA, P) * speed[dp]
    inc *= np.where(rng.random(P) < _HESITATE, rng.uniform(3.0, 10.0, P), 1.0)
    inc[so[:-1]] = rng.lognormal(np.log(_PAUSE_MEDIAN), _PAUSE_SIGMA, S)
    inc[so[do[:-1]]] = 0.0
    total = np.add.reduceat(inc, so[do[:-1]]) if P else np.zeros(n)
    over = total > _GAME_MS
    fit = np.where(over, rng.uniform(0.7, 0.98, n) * _GAME_MS / np.where(over, total, 1.0), 1.0)
    inc = np.maximum(np.rint(inc * fit[dp]), 0)
    inc[so[:-1]] = np.maximum(inc[so[:-1]], 1)
    inc[so[do[:-1]]] = 0
    cs = np.cumsum(inc.astype(np.int64))
    first = so[do[:-1]]
    start = np.where(rng.random(n) < _START_NONZERO, rng.integers(1, 5, n), 0)
    return (cs - cs[first][dp] + start[dp]).astype(np.int32)


def generate(tpl: Template, n: int, rng: np.random.Generator, raw: bool):
    """``n`` doodles of one word: ``(x, y, t, stroke_offsets, drawing_offsets)``."""
    K = len(tpl.p)
    k = np.arange(K)
    base = k < tpl.n_base
    var = rng.integers(0, tpl.n_variants, n)
    in_variant = (tpl.variant == -1) | (tpl.variant == var[:, None])
    keep = (rng.random((n, K)) < tpl.p) & in_variant & base
    none = ~keep.any(axis=1)
    if none.any():   # every drawing keeps at least its variant's first stroke
        first_ok = np.argmax(in_variant[none] & base, axis=1)
        keep[np.flatnonzero(none), first_ok] = True
    # detail marks: a geometric-like count with a long tail (real p99 ~ 20 strokes)
    n_det = np.minimum(rng.negative_binomial(0.6, 0.25, n), K - tpl.n_base)
    keep |= ~base & ((k - tpl.n_base) < n_det[:, None])
    drw, tid = np.nonzero(keep)
    S = len(tid)
    do = _offsets(keep.sum(axis=1))
    free = tpl.free[tid]
    scale = np.where(free, rng.uniform(0.06, 0.22, S), np.exp(rng.normal(0.0, 0.06, S)))
    size_px = None
    if raw:
        size = np.clip(rng.lognormal(np.log(320.0), 0.45, n), 40.0, 1800.0)
        size_px = size[drw]
    u, per_stroke = _stroke_points(tpl, tid, scale, size_px, rng)
    so = _offsets(per_stroke)
    g = np.repeat(tid, per_stroke) + u * 0.999
    px = np.interp(g, tpl.g, tpl.vx)
    py = np.interp(g, tpl.g, tpl.vy)
    # One affine per stroke: the stroke's own move (scale about its centre,
    # offset) composed with its drawing's (rotation, shear, aspect) about the
    # drawing's centre, so the points see one multiply-add each.
    ox = np.where(free, rng.uniform(0.05, 0.95, S), tpl.cx[tid] + rng.normal(0.0, 0.02, S))
    oy = np.where(free, rng.uniform(0.05, 0.95, S), tpl.cy[tid] + rng.normal(0.0, 0.02, S))
    tx = ox - scale * tpl.cx[tid] - 0.5
    ty = oy - scale * tpl.cy[tid] - 0.5
    th, sh = rng.normal(0.0, 0.12, n)[drw], rng.normal(0.0, 0.08, n)[drw]
    sx, sy = np.exp(rng.normal(0.0, 0.12, (2, n)))[:, drw]
    c, s = np.cos(th), np.sin(th)
    m11, m12, m21, m22 = sx * (c + sh * s), sx * (sh * c - s), sy * s, sy * c
    bow = rng.normal(0.0, 0.03, (2, S))       # a hand-drawn stroke bends a little
    rep = lambda a: np.repeat(a, per_stroke)  # noqa: E731
    b = 4.0 * u * (1.0 - u)
    x = rep(m11 * scale) * px + rep(m12 * scale) * py + rep(m11 * tx + m12 * ty) + rep(bow[0]) * b
    y = rep(m21 * scale) * px + rep(m22 * scale) * py + rep(m21 * tx + m22 * ty) + rep(bow[1]) * b
    if not raw:
        xs, ys = _simplified(x, y, so, do)
        return xs, ys, None, so, do
    x0, x1, y0, y1 = _bbox(x, y, so, do)
    f = size / np.maximum(np.maximum(x1 - x0, y1 - y0), 1e-9)
    left = rng.uniform(10.0, 800.0, n) - np.where(rng.random(n) < 0.03, rng.uniform(5, 60, n), 0)
    top = rng.uniform(5.0, 340.0, n)
    npts = np.diff(so[do])
    dx = np.repeat(left - x0 * f, npts)
    dy = np.repeat(top - y0 * f, npts)
    fp = np.repeat(f, npts)
    tremor = rng.standard_normal((2, len(x)), dtype=np.float32)
    xf = x * fp + dx + 0.6 * tremor[0]
    yf = y * fp + dy + 0.6 * tremor[1]
    floaty = np.repeat(rng.random(n) < _FLOAT_SHARE, npts)
    return _raw_coords(xf, floaty), _raw_coords(yf, floaty), _times(so, do, rng, n), so, do


def perturb(src, rng: np.random.Generator):
    """New drawings from real ones (a StrokeBatch): dropped strokes, an affine, jitter.

    Simplified drawings are re-aligned and re-scaled to 0-255 like Google's;
    raw drawings stay on their canvas, keep their integer or 3-decimal
    coordinates and their times (stretched by up to ~10% per drawing).
    """
    n = len(src)
    so, do = src.stroke_offsets, src.drawing_offsets
    S = src.num_strokes
    keep = rng.random(S) >= 0.08
    keep[do[:-1]] = True                       # never drop a drawing's first stroke
    lens = np.diff(so)
    pmask = np.repeat(keep, lens)
    x = src.x[pmask].astype(np.float64)
    y = src.y[pmask].astype(np.float64)
    new_so = _offsets(lens[keep])
    new_do = _offsets(np.add.reduceat(keep.astype(np.int64), do[:-1]) if n else np.zeros(0))
    x0, x1, y0, y1 = _bbox(x, y, new_so, new_do)
    dp = np.repeat(np.arange(n), np.diff(new_so[new_do]))
    cx, cy = ((x0 + x1) / 2)[dp], ((y0 + y1) / 2)[dp]
    side = np.maximum(np.maximum(x1 - x0, y1 - y0), 1.0)
    jit = rng.normal(0.0, 0.006, (2, len(x))) * side[dp]
    ax, ay = _affine(x - cx, y - cy, dp, rng, n, rot=0.1, shear=0.06, aspect=0.1)
    ax += cx + jit[0]
    ay += cy + jit[1]
    if src.kind == "simplified":
        xs, ys = _simplified(ax, ay, new_so, new_do)
        return xs, ys, None, new_so, new_do
    integral = np.ones(n, bool)
    if len(src.x):
        frac = (src.x != np.round(src.x)) | (src.y != np.round(src.y))
        integral = np.add.reduceat(frac.astype(np.int64), so[do[:-1]]) == 0
    floaty = ~integral[dp]
    t = None
    if src.has_time:
        t0 = src.t[pmask].astype(np.int64)
        first = new_so[new_do[:-1]]
        start = t0[first][dp]
        stretch = rng.lognormal(0.0, 0.05, n)[dp]
        t = (start + np.rint((t0 - start) * stretch)).astype(np.int32)
    return _raw_coords(ax, floaty), _raw_coords(ay, floaty), t, new_so, new_do
