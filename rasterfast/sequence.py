"""Drawings as padded stroke-3 / stroke-5 sequences, sketch-rnn's input formats.

:func:`to_stroke3` and :func:`to_stroke5` convert a :class:`~rasterfast.StrokeBatch`
in one GIL-free kernel pass (``ext/_sequence.pyx``); :func:`from_stroke3` is the
inverse (slow, NumPy per drawing: for tests and checks). The convention is exactly
that of sketch-rnn's ``lines_to_strokes`` and ``to_big_strokes`` (magenta,
``magenta/models/sketch_rnn/utils.py``):

* row ``k`` of a drawing is its point ``k`` (strokes end to end);
* ``dx, dy`` = the point minus the previous point, across stroke boundaries; the
  first point minus ``(0, 0)``, i.e. its absolute position (``lines_to_strokes``
  prepends ``[0, 0, 0]`` before differencing);
* stroke-3 ``pen`` = 1 at the last point of every stroke (the pen lifts after it),
  else 0; the last point of a drawing therefore has ``pen = 1``;
* stroke-5 ``(p1, p2, p3) = (1 - pen, pen, 0)`` on points; padding rows are
  ``(0, 0, 0, 0, 1)`` (end of sketch), stroke-3 padding rows ``(0, 0, 0)``. No start
  token: sketch-rnn's ``DataLoader.pad_batch`` prepends ``S0 = (0, 0, 1, 0, 0)`` itself.

Strokes of no points contribute no row. Simplified drawings give exact ``int16``
offsets; raw ones ``float32`` offsets of the raw frame (not scaled or simplified),
each the float32 difference of two stored float32 coordinates.
"""

from __future__ import annotations

import numpy as np

from ._ext._sequence import _to_sequences
from .batch import StrokeBatch
from .errors import Status, status_error

__all__ = ["to_stroke3", "to_stroke5", "from_stroke3", "convert_batch", "FORMATS", "ON_LONG"]

#: Sequence formats and their row widths.
FORMATS = {"stroke3": 3, "stroke5": 5}
#: What to do with a drawing of more than ``max_len`` points.
ON_LONG = ("raise", "truncate")

def _raise(status: int, pos: int, batch: StrokeBatch, max_len: int) -> None:
    """Raise the kernel's status (the context its message needs: rasterfast.errors)."""
    context = {}
    if status == Status.E_SEQUENCE_LONG:
        context = {"key_id": int(batch.key_id[pos]), "max_len": max_len,
                   "points": int(batch.points_per_drawing()[pos])}
    raise status_error(status, pos, caller=__name__, **context)


def convert_batch(batch, width: int, max_len, on_long: str, dtype, out=None):
    """``(rows, lengths, cut)``: ``batch`` as padded stroke-3 (``width`` 3) or stroke-5 rows.

    The checked core of :func:`to_stroke3` and :func:`to_stroke5` (and of the sequence
    datasets, which pass ``out`` to fill a buffer they own); ``cut`` marks the drawings
    ``on_long="truncate"`` shortened. Arguments as for :func:`to_stroke3`.
    """
    if not isinstance(batch, StrokeBatch):
        raise TypeError(f"batch must be a StrokeBatch, got {type(batch).__name__}")
    if on_long not in ON_LONG:
        raise ValueError(f"on_long must be one of {ON_LONG}, got {on_long!r}")
    default = np.int16 if batch.kind == "simplified" else np.float32
    dtype = np.dtype(default if dtype is None else dtype)
    if dtype not in (np.dtype(np.int16), np.dtype(np.float32)):
        raise ValueError(f"dtype must be int16 or float32, got {dtype}")
    if dtype == np.int16 and batch.kind == "raw":
        raise ValueError("dtype=int16 needs simplified drawings: raw offsets are float32 "
                         "(simplify the batch first, or use dtype=float32)")
    if max_len is None:
        ppd = batch.points_per_drawing()
        max_len = int(ppd.max()) if len(ppd) else 0
    elif isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1 or None (the longest drawing), "
                         f"got {max_len!r}")
    n = len(batch)
    max_len = int(max_len)
    if out is None:
        out = np.empty((n, max_len, width), dtype)
    elif out.shape != (n, max_len, width) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {dtype} array of shape "
                         f"{(n, max_len, width)}, got {out.dtype} {out.shape}")
    lengths = np.empty(n, np.int64)
    cut = np.empty(n, np.uint8)
    coords = np.dtype(np.int16 if batch.kind == "simplified" else np.float32)
    status, pos = _to_sequences(np.ascontiguousarray(batch.x, coords),
                                np.ascontiguousarray(batch.y, coords),
                                np.ascontiguousarray(batch.stroke_offsets, np.int64),
                                np.ascontiguousarray(batch.drawing_offsets, np.int64),
                                on_long == "truncate", out, lengths, cut)
    if status:
        _raise(status, pos, batch, max_len)
    return out, lengths, cut.view(bool)


def to_stroke3(batch: StrokeBatch, max_len: int | None = None, *, on_long: str = "raise",
               dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """Drawings as padded stroke-3 rows ``(dx, dy, pen_lift)``, sketch-rnn's data format.

    Parameters
    ----------
    batch : StrokeBatch
        Simplified or raw drawings.
    max_len : int, optional
        Rows per drawing (the padded length). Default: the most points of any drawing.
    on_long : {"raise", "truncate"}
        A drawing of more than ``max_len`` points raises ``ValueError`` (default), or
        keeps its first ``max_len`` points, the last of them with ``pen_lift = 1``.
    dtype : int16 or float32, optional
        Default int16 for simplified drawings (exact), float32 for raw ones.

    Returns
    -------
    sequences : ndarray, shape (N, max_len, 3)
        Row ``k`` of drawing ``i`` is its point ``k``: the offset from the previous
        point (the first point's from ``(0, 0)``) and 1 if a stroke ends there.
        Padding rows are zeros.
    lengths : ndarray of int64, shape (N,)
        Rows that are points (``min(points, max_len)``).

    Raises
    ------
    TypeError
        ``batch`` is not a StrokeBatch.
    ValueError
        A drawing longer than ``max_len`` (with ``on_long="raise"``), a bad argument,
        int16 for raw drawings, broken offsets.

    See Also
    --------
    to_stroke5, from_stroke3

    Notes
    -----
    The convention of sketch-rnn's ``lines_to_strokes`` (see :mod:`rasterfast.sequence`).
    One GIL-free pass, so threads may convert batches in parallel.

    Examples
    --------
    >>> from rasterfast import StrokeBatch, to_stroke3
    >>> b = StrokeBatch.from_lists([[[[10, 12, 15], [20, 20, 18]], [[0], [0]]]], "simplified")
    >>> seq, lengths = to_stroke3(b, max_len=5)
    >>> seq[0]
    array([[ 10,  20,   0],
           [  2,   0,   0],
           [  3,  -2,   1],
           [-15, -18,   1],
           [  0,   0,   0]], dtype=int16)
    >>> lengths
    array([4])
    """
    seq, lengths, _ = convert_batch(batch, 3, max_len, on_long, dtype)
    return seq, lengths


def to_stroke5(batch: StrokeBatch, max_len: int | None = None, *, on_long: str = "raise",
               dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """Drawings as padded stroke-5 rows ``(dx, dy, p1, p2, p3)``, sketch-rnn's model input.

    Parameters
    ----------
    batch, max_len, on_long, dtype
        As :func:`to_stroke3`.

    Returns
    -------
    sequences : ndarray, shape (N, max_len, 5)
        ``dx, dy`` as stroke-3; ``(p1, p2, p3) = (1 - pen_lift, pen_lift, 0)`` on points,
        padding rows ``(0, 0, 0, 0, 1)``: sketch-rnn's ``to_big_strokes`` (no start
        token; a drawing of exactly ``max_len`` points has no end-of-sketch row).
    lengths : ndarray of int64, shape (N,)

    Raises
    ------
    TypeError, ValueError
        As :func:`to_stroke3`.

    See Also
    --------
    to_stroke3

    Examples
    --------
    >>> from rasterfast import StrokeBatch, to_stroke5
    >>> b = StrokeBatch.from_lists([[[[10, 12], [20, 20]], [[0], [0]]]], "simplified")
    >>> seq, lengths = to_stroke5(b, max_len=4)
    >>> seq[0]
    array([[ 10,  20,   1,   0,   0],
           [  2,   0,   0,   1,   0],
           [-12, -20,   0,   1,   0],
           [  0,   0,   0,   0,   1]], dtype=int16)
    """
    seq, lengths, _ = convert_batch(batch, 5, max_len, on_long, dtype)
    return seq, lengths


def from_stroke3(seq: np.ndarray, length: int | None = None) -> list[np.ndarray]:
    """One drawing's stroke-3 rows back to strokes of absolute points (``strokes_to_lines``).

    Parameters
    ----------
    seq : array_like, shape (n, 3) or (n, 5)
        One drawing's rows (stroke-5 rows use ``p2`` as the pen lift).
    length : int, optional
        Rows that are points (default: all).

    Returns
    -------
    list of ndarray, each shape (2, points)
        The strokes, as :meth:`StrokeBatch.drawing` gives them (cumulative sums of the
        offsets, in the offsets' dtype; a last stroke without a pen lift is kept).

    Examples
    --------
    >>> from rasterfast import from_stroke3
    >>> [s.tolist() for s in from_stroke3([[10, 20, 0], [2, 0, 1], [-12, -20, 1]])]
    [[[10, 12], [20, 20]], [[0], [0]]]
    """
    seq = np.asarray(seq)
    if seq.ndim != 2 or seq.shape[1] not in (3, 5):
        raise ValueError(f"seq must have shape (n, 3) or (n, 5), got {seq.shape}")
    if length is not None:
        seq = seq[:length]
    pen = seq[:, 3] if seq.shape[1] == 5 else seq[:, 2]
    xy = np.cumsum(seq[:, :2], axis=0, dtype=seq.dtype)
    ends = np.flatnonzero(pen == 1) + 1
    if not len(ends) or ends[-1] != len(seq):
        ends = np.append(ends, len(seq))
    starts = np.concatenate([[0], ends[:-1]])
    return [xy[a:b].T.copy() for a, b in zip(starts, ends, strict=True) if b > a]
