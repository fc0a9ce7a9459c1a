"""Slow pure-Python reference of :func:`rasterfast.augment`, one drawing at a time.

Written from the steps in ``ext/_augment.pyx``'s docstring: Python ints for
SplitMix64, Python floats (float64) and ``math`` (the same libm) for the rest,
lists per stroke. Only ``fma`` of the RDP chord length is borrowed
(``reference_simplify._fma``, exact with fractions).
"""

from __future__ import annotations

import math

import numpy as np
from reference_simplify import _fma

MASK = (1 << 64) - 1
SALT_GEOM = 0xA0761D6478BD642F
SALT_STROKE = 0xE7037ED1A0B428DB
SALT_POINT = 0x8EBC6AF09C88C6E3
SALT_TIME = 0x589965CC75374CC3


def mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class Stream:
    def __init__(self, seed: int, salt: int):
        self.state = mix(seed ^ salt)

    def unif(self) -> float:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        return (mix(self.state) >> 11) * (1.0 / 9007199254740992.0)

    def bell(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = mix(self.state)
        s = sum((z >> sh) & 0xFFFF for sh in (0, 16, 32, 48))
        return (float(s) + 2.0 - 131072.0) * (1.7320508075688772 / 65536.0)


def seeds(key_ids, seed: int, epoch: int) -> list[int]:
    """The per-drawing stream seeds, as rasterfast.augment.drawing_seeds."""
    s = mix(seed ^ 0x2545F4914F6CDD1D)
    s = mix(s ^ mix((epoch + 0x9FB21C651E98DF25) & MASK))
    return [mix(int(k) ^ s) for k in key_ids]


def rdp_keep(xs, ys, eps):
    """Indices RDP keeps, recursive: split at the first point of largest cross product with
    the chord (squared distance to its start when its ends coincide) when the distance,
    cross / chord length, is > eps."""
    n = len(xs)
    keep = {0, n - 1}

    def rec(a, b):
        if b - a < 2:
            return
        dx, dy = xs[b] - xs[a], ys[b] - ys[a]
        L = math.sqrt(_fma(dx, dx, dy * dy))
        best, key = -1, 0.0
        for i in range(a + 1, b):
            ex, ey = xs[i] - xs[a], ys[i] - ys[a]
            k = _fma(ex, ex, ey * ey) if L == 0.0 else abs(dx * ey - dy * ex)
            if k > key:
                best, key = i, k
        dmax = math.sqrt(key) if L == 0.0 else key / L
        if best >= 0 and dmax > eps:
            keep.add(best)
            rec(a, best)
            rec(best, b)

    rec(0, n - 1)
    return sorted(keep)


def augment_drawing(strokes, kind, seed, aug):
    """One drawing (list of (2|3, n) arrays) augmented; returns a list of (2|3, m) lists.

    ``aug`` is a rasterfast.Augment (only its fields are read).
    """
    g = Stream(seed, SALT_GEOM)
    ss = Stream(seed, SALT_STROKE)
    ps = Stream(seed, SALT_POINT)
    ts = Stream(seed, SALT_TIME)
    u = [g.unif() for _ in range(10)]
    u_sx, u_sy, u_rot, u_sh, u_tx, u_ty, u_flip, u_keep, u_k, u_eps = u
    ns = len(strokes)
    if ns == 0:
        return []
    timed = strokes[0].shape[0] == 3
    k = ns
    if ns > 1 and u_keep < aug.keep_first:
        lo = max(1, math.ceil(aug.keep_first_min * ns))
        hi = ns - 1
        lo = min(lo, hi)
        k = min(hi, lo + int(u_k * (hi - lo + 1)))
    kept = []
    for j in range(k):
        if aug.stroke_drop > 0 and ss.unif() < aug.stroke_drop:
            continue
        kept.append(j)
    if not kept:
        kept = [min(k - 1, int(ss.unif() * k))]
    if kind == "simplified":
        cx = cy = 127.5
        unit = 1.0
    else:
        allx = np.concatenate([s[0] for s in strokes]).astype(np.float64)
        ally = np.concatenate([s[1] for s in strokes]).astype(np.float64)
        cx = 0.5 * (float(allx.min()) + float(allx.max()))
        cy = 0.5 * (float(ally.min()) + float(ally.max()))
        unit = max(float(allx.max() - allx.min()), float(ally.max() - ally.min())) / 255.0
        unit = unit or 1.0
    sx = 1.0 + aug.scale * (2.0 * u_sx - 1.0)
    sy = 1.0 + aug.scale * (2.0 * u_sy - 1.0)
    if u_flip < aug.flip:
        sx = -sx
    th = math.radians(aug.rotation) * (2.0 * u_rot - 1.0)
    sh = aug.shear * (2.0 * u_sh - 1.0)
    ct, st = math.cos(th), math.sin(th)
    m00, m01 = ct * sx, (ct * sh - st) * sy
    m10, m11 = st * sx, (st * sh + ct) * sy
    ex = cx - (m00 * cx + m01 * cy) + aug.translate * 255.0 * unit * (2.0 * u_tx - 1.0)
    ey = cy - (m10 * cx + m11 * cy) + aug.translate * 255.0 * unit * (2.0 * u_ty - 1.0)
    sd = aug.jitter * unit
    out = []   # per stroke: lists of x, y, source time
    for j in kept:
        s = strokes[j]
        n = s.shape[1]
        xs, ys, tt = [], [], []
        for p in range(n):
            if aug.point_drop > 0 and 0 < p < n - 1 and ps.unif() < aug.point_drop:
                continue
            vx, vy = float(s[0, p]), float(s[1, p])
            wx = m00 * vx + m01 * vy + ex
            wy = m10 * vx + m11 * vy + ey
            if sd > 0:
                wx += sd * ps.bell()
                wy += sd * ps.bell()
            xs.append(wx)
            ys.append(wy)
            tt.append(float(s[2, p]) if timed else 0.0)
        out.append([xs, ys, tt])
    if kind == "simplified":
        allx = [v for s in out for v in s[0]]
        ally = [v for s in out for v in s[1]]
        if allx:
            mnx, mxx, mny, mxy = min(allx), max(allx), min(ally), max(ally)
            f = max(mxx - mnx, mxy - mny)
            if f > 255.0:
                f = 255.0 / f
                cx, cy = 0.5 * (mnx + mxx), 0.5 * (mny + mxy)
                for s in out:
                    s[0] = [cx + (v - cx) * f for v in s[0]]
                    s[1] = [cy + (v - cy) * f for v in s[1]]
                mnx, mxx = cx + (mnx - cx) * f, cx + (mxx - cx) * f
                mny, mxy = cy + (mny - cy) * f, cy + (mxy - cy) * f
            gx = -mnx if mnx < 0 else (255.0 - mxx if mxx > 255.0 else 0.0)
            gy = -mny if mny < 0 else (255.0 - mxy if mxy > 255.0 else 0.0)
            for s in out:
                s[0] = [v + gx for v in s[0]]
                s[1] = [v + gy for v in s[1]]
    if aug.epsilon > 0:
        eps = aug.epsilon * u_eps * unit
        for s in out:
            if s[0]:
                keep = rdp_keep(s[0], s[1], eps)
                s[:] = [[c[i] for i in keep] for c in s]
    if timed:
        w = math.log1p(aug.time_warp)
        first, prev_in, prev_out = True, 0.0, 0.0
        for s in out:
            if not s[0]:
                continue
            fd = fp = 1.0
            if aug.time_warp > 0:
                fd = math.exp(w * (2.0 * ts.unif() - 1.0))
                fp = math.exp(w * (2.0 * ts.unif() - 1.0))
            t0, t1 = s[2][0], s[2][-1]
            start = t0 if first else prev_out + (t0 - prev_in) * fp
            first = False
            s[2] = [float(np.rint(start + (v - t0) * fd)) for v in s[2]]
            prev_in, prev_out = t1, start + (t1 - t0) * fd
    result = []
    for s in out:
        if kind == "simplified":
            cols = [[int(min(255.0, max(0.0, np.rint(v)))) for v in s[0]],
                    [int(min(255.0, max(0.0, np.rint(v)))) for v in s[1]]]
        else:
            cols = [[float(np.float32(v)) for v in s[0]], [float(np.float32(v)) for v in s[1]]]
        if timed:
            cols.append([int(v) for v in s[2]])
        result.append(cols)
    return result
