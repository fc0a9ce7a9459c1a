"""Slow pure-NumPy reference of stroke-3 / stroke-5, one drawing at a time.

Written from sketch-rnn's ``lines_to_strokes`` and ``to_big_strokes`` (magenta,
``magenta/models/sketch_rnn/utils.py``) as their docstrings and code describe them,
independently of ``ext/_sequence.pyx``: a list of points per drawing, then
``numpy.diff`` against a leading ``(0, 0)``.
"""

from __future__ import annotations

import numpy as np


def stroke3(strokes) -> np.ndarray:
    """``strokes``: list of ``(2, n)`` arrays; returns ``(points, 3)`` (float64)."""
    rows = [[0.0, 0.0, 0.0]]
    for s in strokes:
        n = s.shape[1]
        for k in range(n):
            rows.append([float(s[0, k]), float(s[1, k]), 1.0 if k == n - 1 else 0.0])
    rows = np.array(rows, np.float64)
    rows[1:, :2] -= rows[:-1, :2]
    return rows[1:]


def stroke5(strokes, max_len: int) -> np.ndarray:
    """``to_big_strokes``: stroke-5 padded to ``max_len`` rows with ``(0, 0, 0, 0, 1)``."""
    s3 = stroke3(strokes)
    out = np.zeros((max_len, 5))
    n = len(s3)
    out[:n, :2] = s3[:, :2]
    out[:n, 3] = s3[:, 2]
    out[:n, 2] = 1 - out[:n, 3]
    out[n:, 4] = 1
    return out
