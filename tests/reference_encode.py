"""Slow pure-Python references for the channel encoders and sketch entropy.

Written from the formulas in rasterfast/encoders.py's docstring, not from the
kernel: one drawing at a time, from the nested lists ``json.loads`` gives.
"""

import math

import numpy as np

STROKE_TIME_MS, PAUSE_MS, COUNT_STEP = 25, 12, 8


def _round(x):
    """Round halves up (x >= 0), exactly for rationals given as a fraction pair."""
    num, den = x
    return math.floor(num / den + 0.5) if den else 0


def _level(num, den):
    return min(255, max(1, _round((num, den))))


def encode_drawing(strokes, channel):
    """Values of one drawing's points (a list) for ``channel``; strokes are [x, y(, t)] lists."""
    k = len(strokes)
    times = [t for s in strokes for t in (s[2] if len(s) > 2 else [])]
    tmin, tmax = (min(times), max(times)) if times else (0, 0)
    out = []
    prev_end = None
    for i, s in enumerate(strokes):
        n = len(s[0])
        t = s[2] if len(s) > 2 else None
        for m in range(n):
            if channel == "ink":
                v = 255
            elif channel == "stroke_order":
                v = 255 - min(i, 10) * 13
            elif channel == "stroke_index":
                v = _level(255 * (i + 1), k)
            elif channel == "point_progress":
                v = _level(255 * (m + 1), n)
            elif channel == "time":
                v = _level(255 * (t[m] - tmin), tmax - tmin) if tmax > tmin else 255
            elif channel == "stroke_time":
                v = _level(max(0, t[-1] - t[0]), STROKE_TIME_MS)
            elif channel == "pause":
                v = _level(0 if prev_end is None else max(0, t[0] - prev_end), PAUSE_MS)
            elif channel == "stroke_count":
                v = min(255, COUNT_STEP * k)
            else:
                raise ValueError(channel)
            out.append(v)
        if t is not None:
            prev_end = t[-1]
    return out


def encode_lists(drawings, channels):
    """uint8 [C, P] for drawings given as nested lists."""
    rows = [[v for d in drawings for v in encode_drawing(d, c)] for c in channels]
    return np.array(rows, np.uint8).reshape(len(channels), -1)


def entropy(images):
    """Shannon entropy (bits) of each row's 256-bin histogram, with numpy bincount."""
    images = np.asarray(images)
    out = np.zeros(len(images), np.float64)
    for i, img in enumerate(images.reshape(len(images), -1)):
        if img.size == 0:
            continue
        p = np.bincount(img, minlength=256) / img.size
        p = p[p > 0]
        out[i] = float(-(p * np.log2(p)).sum())
    return out
