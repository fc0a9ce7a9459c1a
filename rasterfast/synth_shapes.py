"""Procedural doodle templates for :func:`rasterfast.synth`: a few dozen recognisable words.

Each word is a list of strokes in a unit box (x right, y down, as on a
screen), drawn in the order people usually draw them. A stroke is a polyline
(``curve=False``: its corners are kept by the simplified output) or a densely
sampled curve (``curve=True``: resampled to a few points), drawn with
probability ``p``. Strokes of ``variant`` v belong to one way of drawing the
word (a square as one closed line or as four lines); every drawing picks one
variant, and strokes with ``variant=-1`` belong to all of them.

:func:`compile_template` flattens a word into the tables that the vectorised
generator in :mod:`rasterfast.synth_gen` reads: every drawing of a batch uses
the same tables, which is what lets one NumPy pass draw thousands of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Stroke", "Template", "WORDS", "compile_template", "DETAIL_POOL"]


@dataclass(frozen=True)
class Stroke:
    """One stroke of a word template."""

    points: tuple              # ((x, y), ...) in the unit box
    curve: bool = False
    p: float = 1.0
    variant: int = -1
    free: bool = False         # a detail stroke: placed anywhere, at a random size


def _arc(cx, cy, rx, ry, a0=0.0, a1=360.0, n=48):
    a = np.radians(np.linspace(a0, a1, n))
    return tuple(zip(cx + rx * np.cos(a), cy + ry * np.sin(a), strict=True))


def C(points, p=1.0, variant=-1) -> Stroke:
    """A curve stroke."""
    return Stroke(tuple(map(tuple, points)), True, p, variant)


def L(*xy, p=1.0, variant=-1, closed=False) -> Stroke:
    """A polyline stroke through ``x0, y0, x1, y1, ...``."""
    pts = [(xy[i], xy[i + 1]) for i in range(0, len(xy), 2)]
    if closed:
        pts.append(pts[0])
    return Stroke(tuple(pts), False, p, variant)


def circle(cx, cy, r, p=1.0, variant=-1, start=-90.0, sweep=370.0, ry=None):
    """A (slightly overdrawn) circle or ellipse."""
    return C(_arc(cx, cy, r, r if ry is None else ry, start, start + sweep), p, variant)


def _polygon(cx, cy, r, k, rot=-90.0):
    a = np.radians(rot + 360.0 * np.arange(k + 1) / k)
    return [v for pt in zip(cx + r * np.cos(a), cy + r * np.sin(a), strict=True) for v in pt]


def _star(cx, cy, r1, r2, k=5):
    a = np.radians(-90.0 + 180.0 * np.arange(2 * k + 1) / k)
    r = np.where(np.arange(2 * k + 1) % 2 == 0, r1, r2)
    return [v for pt in zip(cx + r * np.cos(a), cy + r * np.sin(a), strict=True) for v in pt]


def _wave(x0, x1, y, amp, cycles, n=40):
    x = np.linspace(x0, x1, n)
    return tuple(zip(x, y + amp * np.sin(np.linspace(0, 2 * np.pi * cycles, n)), strict=True))


def _cloud(cx, cy, w, h, bumps=6):
    """A bumpy closed outline: arcs around an ellipse."""
    pts = []
    for i in range(bumps):
        a0, a1 = 2 * np.pi * i / bumps, 2 * np.pi * (i + 1) / bumps
        mx, my = cx + w * np.cos((a0 + a1) / 2), cy + h * np.sin((a0 + a1) / 2)
        r = 0.55 * np.hypot(w * (np.cos(a1) - np.cos(a0)), h * (np.sin(a1) - np.sin(a0)))
        base = np.degrees((a0 + a1) / 2)
        pts.extend(_arc(mx, my, r, r, base - 100, base + 100, 12))
    pts.append(pts[0])
    return pts


def _rays(cx, cy, r0, r1, k, p, rot=0.0):
    out = []
    for i in range(k):
        a = np.radians(rot + 360.0 * i / k)
        out.append(L(cx + r0 * np.cos(a), cy + r0 * np.sin(a),
                     cx + r1 * np.cos(a), cy + r1 * np.sin(a), p=p))
    return out


WORDS: dict[str, list[Stroke]] = {
    "circle": [circle(.5, .5, .45, sweep=365), C(_arc(.5, .5, .44, .44, 265, 290, 6), p=.1)],
    "square": [L(.05, .05, .95, .05, .95, .95, .05, .95, .05, .05, variant=0),
               L(.05, .05, .95, .05, variant=1), L(.95, .05, .95, .95, variant=1),
               L(.95, .95, .05, .95, variant=1), L(.05, .95, .05, .05, variant=1)],
    "triangle": [L(.5, .05, .95, .9, .05, .9, .5, .05, variant=0),
                 L(.5, .05, .95, .9, variant=1), L(.95, .9, .05, .9, variant=1),
                 L(.05, .9, .5, .05, variant=1)],
    "star": [L(*_star(.5, .52, .48, .2), variant=0),
             L(.2, .95, .5, .05, .8, .95, .05, .38, .95, .38, .2, .95, variant=1)],
    "house": [L(.15, .45, .15, .95, .85, .95, .85, .45, .15, .45),
              L(.08, .5, .5, .08, .92, .5), L(.42, .95, .42, .7, .58, .7, .58, .95, p=.7),
              L(.22, .55, .35, .55, .35, .66, .22, .66, .22, .55, p=.5),
              L(.68, .25, .68, .12, .76, .12, .76, .33, p=.3)],
    "sun": [circle(.5, .5, .22), *_rays(.5, .5, .28, .46, 8, .92),
            *_rays(.5, .5, .28, .4, 4, .3, rot=22.5),
            C(_arc(.5, .52, .1, .07, 20, 160, 12), p=.2)],
    "cloud": [C(_cloud(.5, .5, .38, .22), variant=0),
              C(_cloud(.5, .5, .38, .22)[:40], variant=1),
              C(_cloud(.5, .5, .38, .22)[39:], variant=1)],
    "smiley face": [circle(.5, .5, .45), circle(.35, .38, .04, sweep=360),
                    circle(.65, .38, .04, sweep=360), C(_arc(.5, .52, .24, .2, 20, 160, 24)),
                    L(.5, .45, .48, .55, .52, .55, p=.2)],
    "fish": [C(_arc(.45, .5, .35, .22, 200, 520, 40)), L(.78, .5, .98, .3, .98, .7, .78, .5),
             circle(.22, .45, .03, sweep=360, p=.8),
             C(_arc(.45, .28, .12, .08, 200, 340, 10), p=.4),
             C(_arc(.3, .5, .06, .15, -70, 70, 10), p=.4), circle(.05, .2, .03, p=.2)],
    "tree": [L(.42, .95, .42, .6), L(.58, .95, .58, .6), C(_cloud(.5, .35, .38, .28, 7)),
             L(.5, .7, .3, .55, p=.3), L(.2, .95, .8, .95, p=.3)],
    "flower": [circle(.5, .35, .1), *[C(_arc(.5 + .2 * np.cos(a), .35 + .2 * np.sin(a), .11, .11,
                                          0, 360, 20), p=.95)
                                     for a in np.radians(np.arange(0, 360, 72) - 90)],
               L(.5, .55, .5, .98), C(_arc(.6, .78, .1, .05, 160, 380, 14), p=.6),
               C(_arc(.4, .84, .1, .05, -20, 200, 14), p=.5)],
    "moon": [C([*_arc(.5, .5, .45, .45, 100, 330, 30),
                *_arc(.62, .42, .34, .34, 300, 120, 30)[1:]]),
             circle(.35, .45, .04, p=.15)],
    "mountain": [L(.02, .95, .3, .3, .45, .6, .65, .1, .98, .95),
                 L(.55, .3, .62, .36, .68, .3, .72, .34, p=.4), L(.02, .95, .98, .95, p=.3)],
    "envelope": [L(.05, .2, .95, .2, .95, .8, .05, .8, .05, .2), L(.05, .2, .5, .55, .95, .2)],
    "diamond": [L(.5, .05, .95, .4, .5, .95, .05, .4, .5, .05),
                L(.05, .4, .95, .4, p=.6), L(.3, .4, .5, .95, .7, .4, p=.4),
                L(.3, .4, .4, .05, p=.3), L(.7, .4, .6, .05, p=.3)],
    "hexagon": [L(*_polygon(.5, .5, .46, 6, 0), variant=0),
                L(*_polygon(.5, .5, .46, 6, 0)[:8], variant=1),
                L(*_polygon(.5, .5, .46, 6, 0)[6:], variant=1)],
    "octagon": [L(*_polygon(.5, .5, .46, 8, 22.5), variant=0),
                L(*_polygon(.5, .5, .46, 8, 22.5)[:10], variant=1),
                L(*_polygon(.5, .5, .46, 8, 22.5)[8:], variant=1)],
    "line": [L(.05, .5, .95, .5)],
    "zigzag": [L(.02, .7, .18, .3, .34, .7, .5, .3, .66, .7, .82, .3, .98, .7)],
    "squiggle": [C(_wave(.02, .98, .5, .2, 3.5, 60))],
    "cup": [L(.15, .2, .22, .9, .72, .9, .8, .2), C(_arc(.47, .2, .33, .06, 0, 360, 24), p=.6),
            C(_arc(.8, .5, .15, .17, -90, 90, 16), p=.9),
            C(_wave(.35, .6, .08, .03, 1, 10), p=.2)],
    "umbrella": [C([*_arc(.5, .5, .45, .4, 180, 360, 30)]),
                 C([pt for i in range(4)
                    for pt in _arc(.16 + .225 * i, .5, .113, .06, 0, 180, 8)][::-1]),
                 L(.5, .5, .5, .88), C(_arc(.43, .88, .07, .07, 0, 180, 10), p=.8)],
    "ladder": [L(.3, .02, .3, .98), L(.7, .02, .7, .98),
               *[L(.3, y, .7, y, p=.9) for y in (.15, .32, .49, .66, .83)]],
    "fence": [*[L(x, .95, x, .2, x + .05, .1, x + .1, .2, x + .1, .95, p=.95)
                for x in (.05, .3, .55, .8)],
              L(.0, .4, 1., .4), L(.0, .75, 1., .75)],
    "snowman": [circle(.5, .72, .26), circle(.5, .35, .16), circle(.45, .3, .02, p=.8),
                circle(.55, .3, .02, p=.8), L(.25, .6, .05, .45, p=.6), L(.75, .6, .95, .45, p=.6),
                circle(.5, .65, .02, p=.4), circle(.5, .78, .02, p=.4)],
    "apple": [C([*_arc(.36, .55, .3, .4, 270, 90, 24), *_arc(.64, .55, .3, .4, 90, -90, 24)]),
              L(.5, .2, .53, .05),
              C([*_arc(.62, .1, .1, .05, 180, 360, 8), *_arc(.62, .1, .1, .05, 0, 180, 8)], p=.6)],
    "ice cream": [L(.25, .45, .5, .98, .75, .45), C(_arc(.5, .45, .27, .3, 180, 360, 24)),
                  L(.25, .45, .75, .45, p=.6), L(.35, .55, .6, .75, p=.4),
                  L(.65, .55, .4, .75, p=.4),
                  circle(.5, .1, .05, p=.3)],
    "lollipop": [circle(.5, .3, .25), L(.5, .55, .5, .98),
                 C([(.5 + r * np.cos(a), .3 + r * np.sin(a))
                    for a, r in zip(np.linspace(0, 5 * np.pi, 40), np.linspace(0, .22, 40),
                                    strict=True)], p=.5)],
    "table": [L(.02, .3, .98, .3, .98, .4, .02, .4, .02, .3, variant=0),
              L(.02, .35, .98, .35, variant=1), L(.1, .4, .1, .95), L(.9, .4, .9, .95),
              L(.3, .4, .3, .8, p=.3), L(.7, .4, .7, .8, p=.3)],
    "eye": [C(_arc(.5, .75, .5, .5, 215, 325, 20)), C(_arc(.5, .25, .5, .5, 35, 145, 20)),
            circle(.5, .5, .14), circle(.5, .5, .05, p=.7),
            *[L(x, .32 - .04 * (1 - abs(x - .5) * 3), x + (x - .5) * .2, .2, p=.4)
              for x in (.3, .4, .5, .6, .7)]],
    "donut": [circle(.5, .5, .45), circle(.5, .5, .16),
              *[L(.5 + .3 * np.cos(a), .5 + .3 * np.sin(a),
                  .52 + .3 * np.cos(a), .46 + .3 * np.sin(a), p=.45)
                for a in np.radians(np.arange(0, 360, 45))]],
    "wheel": [circle(.5, .5, .46), circle(.5, .5, .08, p=.8),
              *_rays(.5, .5, .08, .46, 8, .8), circle(.5, .5, .38, p=.4)],
    "clock": [circle(.5, .5, .46), L(.5, .5, .5, .2), L(.5, .5, .7, .55),
              *[L(.5 + .4 * np.cos(a), .5 + .4 * np.sin(a),
                  .5 + .44 * np.cos(a), .5 + .44 * np.sin(a), p=.35)
                for a in np.radians(np.arange(0, 360, 30))]],
    "t-shirt": [L(.38, .05, .1, .15, .0, .4, .18, .45, .2, .95, .8, .95, .82, .45, 1., .4,
                  .9, .15, .62, .05),
                C(_arc(.5, .05, .12, .1, 0, 180, 12)), L(.2, .42, .22, .2, p=.2),
                L(.8, .42, .78, .2, p=.2)],
    "sailboat": [L(.05, .7, .95, .7, .8, .9, .2, .9, .05, .7), L(.5, .7, .5, .05),
                 L(.5, .08, .88, .62, .5, .62), L(.47, .12, .15, .62, .47, .62, p=.6),
                 C(_wave(.0, 1., .97, .02, 3, 24), p=.4)],
    "rain": [C(_cloud(.5, .25, .38, .18)),
             *[L(x, y, x - .04, y + .14, p=.85)
               for x, y in ((.25, .5), (.45, .55), (.65, .5), (.8, .6), (.3, .75), (.55, .8),
                            (.75, .8))]],
    "lightning": [L(.6, .02, .25, .55, .5, .55, .3, .98, .78, .4, .52, .4, .75, .02, .6, .02,
                    variant=0),
                  L(.6, .02, .3, .5, .55, .5, .35, .98, variant=1)],
    "stairs": [L(.02, .98, .02, .8, .22, .8, .22, .6, .42, .6, .42, .4, .62, .4, .62, .2, .82, .2,
                 .82, .02, .98, .02), L(.02, .98, .98, .98, .98, .02, p=.4)],
    "candle": [L(.35, .35, .35, .98, .65, .98, .65, .35, .35, .35), L(.5, .35, .5, .25),
               C([*_arc(.5, .17, .07, .12, 90, 250, 10), *_arc(.5, .17, .07, .12, 290, 450, 10)]),
               C(_arc(.5, .35, .15, .04, 0, 180, 10), p=.3)],
    "key": [circle(.22, .5, .18), L(.4, .5, .98, .5), L(.85, .5, .85, .65, p=.9),
            L(.72, .5, .72, .62, p=.8), circle(.22, .5, .06, p=.3)],
}


# Small generic marks that people add to any drawing (shading, dots, scribbles):
# drawn at a random place and size; the number per drawing has a long tail.
DETAIL_POOL: list[Stroke] = [
    Stroke(((-.5, 0.), (.5, 0.)), False, free=True),
    Stroke(((-.5, -.3), (0., .4), (.5, -.3)), False, free=True),
    Stroke(tuple(_arc(0., 0., .5, .5, 0, 360, 16)), True, free=True),
    Stroke(((0., 0.), (.02, .03)), False, free=True),
    Stroke(((-.5, .3), (-.2, -.3), (.1, .3), (.4, -.3)), False, free=True),
    Stroke(tuple(_arc(0., .3, .5, .5, 200, 340, 10)), True, free=True),
    Stroke(((0., -.5), (0., .5)), False, free=True),
    Stroke(tuple(_wave(-.5, .5, 0., .15, 1.5, 16)), True, free=True),
]


@dataclass(frozen=True)
class Template:
    """A word's strokes flattened into tables (K template strokes, V vertices in all).

    ``g`` is each vertex's place on one global parameter axis: stroke ``k``
    runs over ``[k, k + 1)`` by arc length, so one ``np.interp`` samples any
    mix of strokes at once.
    """

    word: str
    g: np.ndarray            # (V,) increasing
    vx: np.ndarray           # (V,)
    vy: np.ndarray
    vstart: np.ndarray       # (K + 1,) vertex offsets
    length: np.ndarray       # (K,) arc length in unit-box units
    curve: np.ndarray        # (K,) bool
    p: np.ndarray            # (K,)
    variant: np.ndarray      # (K,) int, -1 = every variant
    free: np.ndarray         # (K,) bool
    cx: np.ndarray           # (K,) stroke centre (0 for free strokes)
    cy: np.ndarray
    n_variants: int
    n_base: int              # strokes before the detail pool
    # Pieces: the spans between kept vertices (every segment of a polyline, the
    # whole of a curve) plus one end piece per stroke for its last point.
    pstart: np.ndarray       # (K + 1,) piece offsets
    pu0: np.ndarray          # piece start / end, as a fraction of the stroke's length
    pu1: np.ndarray
    plen: np.ndarray         # piece length in unit-box units (0 for end pieces)


def compile_template(word: str, n_details: int = 40) -> Template:
    """Flatten ``WORDS[word]`` plus ``n_details`` detail strokes into a :class:`Template`."""
    strokes = list(WORDS[word]) + [DETAIL_POOL[i % len(DETAIL_POOL)] for i in range(n_details)]
    gs, xs, ys, vstart, length, cx, cy = [], [], [], [0], [], [], []
    pstart, pu0, pu1, plen = [0], [], [], []
    for k, s in enumerate(strokes):
        pts = np.asarray(s.points, np.float64).reshape(-1, 2)
        keep = np.ones(len(pts), bool)
        keep[1:] = np.any(np.diff(pts, axis=0) != 0, axis=1)   # np.interp needs increasing g
        pts = pts[keep]
        seg = np.hypot(*np.diff(pts, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        total = cum[-1]
        u = cum / total if total > 0 else np.zeros(len(pts))
        gs.append(k + u * 0.999)
        xs.append(pts[:, 0])
        ys.append(pts[:, 1])
        vstart.append(vstart[-1] + len(pts))
        length.append(total)
        if s.curve and len(pts) > 1:
            pu0.append(0.0)
            pu1.append(1.0)
            plen.append(total)
        else:
            pu0.extend(u[:-1])
            pu1.extend(u[1:])
            plen.extend(seg)
        pu0.append(u[-1])
        pu1.append(u[-1])
        plen.append(0.0)
        pstart.append(len(pu0))
        c = (0.0, 0.0) if s.free else (pts[:, 0].mean(), pts[:, 1].mean())
        cx.append(c[0])
        cy.append(c[1])
    variants = [s.variant for s in strokes]
    return Template(
        word=word, g=np.concatenate(gs), vx=np.concatenate(xs), vy=np.concatenate(ys),
        vstart=np.asarray(vstart, np.int64), length=np.asarray(length),
        curve=np.array([s.curve for s in strokes]), p=np.array([s.p for s in strokes]),
        variant=np.asarray(variants, np.int64), free=np.array([s.free for s in strokes]),
        cx=np.asarray(cx), cy=np.asarray(cy), n_variants=max(max(variants) + 1, 1),
        n_base=len(WORDS[word]), pstart=np.asarray(pstart, np.int64), pu0=np.asarray(pu0),
        pu1=np.asarray(pu1), plen=np.asarray(plen),
    )
