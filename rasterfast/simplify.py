"""Raw drawings to Google's simplified form, in the Cython kernel ``rasterfast._ext._simplify``.

The kernel releases the GIL and does no Python work per drawing; this module
validates arguments, turns the kernel's status codes into errors and rejects (their
messages are in ``rasterfast.errors.STATUS_ERRORS``) and carries the per-drawing
columns over.
"""

from __future__ import annotations

import math

import numpy as np

from ._ext import _simplify as _kernel
from .batch import StrokeBatch
from .errors import Reject, check_on_error, status_error, status_reason
from .parse import warn_rejects

__all__ = ["simplify", "DEFAULT_MAX_POINTS"]

#: The most points a stroke may have after resampling (16 bytes of scratch
#: each). A scaled segment is at most 255 * sqrt(2) px long, so real strokes
#: stay far below: the mean drawing resamples to about a thousand points.
DEFAULT_MAX_POINTS = 4_194_304

_PER_DRAWING = ("key_id", "label", "word", "countrycode", "recognized", "timestamp",
                "source_id", "record")

def _positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {need}, got {value!r}")
    return v


def simplify(batch: StrokeBatch, *, epsilon: float = 2.0, spacing: float = 1.0,
             max_points: int = DEFAULT_MAX_POINTS, on_error: str = "raise") -> StrokeBatch:
    """Simplify raw drawings the way Google made its "simplified" Quick, Draw! files.

    Per drawing: align to the top-left corner (minimum 0), scale uniformly so
    that the larger of width and height becomes 255, resample every stroke
    every ``spacing`` px of arc length, simplify every stroke with
    Ramer-Douglas-Peucker (``epsilon`` px), round to integers. With the
    defaults this reproduces Google's simplified drawings exactly on all 7,853
    (raw, simplified) pairs of the real sample (see Notes).

    Parameters
    ----------
    batch : StrokeBatch
        Raw drawings (``kind="raw"``: float32 x/y in the drawing's own frame,
        any sign and size; int32 times ``t``, or none).
    epsilon : float
        RDP tolerance in output pixels (Google: 2.0); 0 keeps every resampled
        point off a straight line.
    spacing : float
        Resampling step in output pixels (Google: 1.0).
    max_points : int
        The most points one stroke may have after resampling; more is an error
        for that drawing (a bound on memory for absurd inputs).
    on_error : {"raise", "warn", "skip"}
        What to do with a drawing that cannot be simplified (a stroke over
        ``max_points``; a NaN or infinite coordinate, which the parser never
        produces): raise ``ValueError``, or leave it out and add a
        :class:`~rasterfast.Reject` to ``rejects`` (``"warn"`` also warns once).

    Returns
    -------
    StrokeBatch
        ``kind="simplified"``: int16 x/y in 0-255, the same drawings in the
        same order (minus skipped ones) with the same strokes, and every
        per-drawing column, ``sources`` and ``rejects`` carried over. When the
        input has times, ``t`` holds the time of every output point (see Notes).

    Raises
    ------
    TypeError
        ``batch`` is not a StrokeBatch, or an argument is not a number.
    ValueError
        ``batch`` is not raw, an argument is out of range, the batch's offsets
        are broken, or (``on_error="raise"``) a drawing cannot be simplified.

    See Also
    --------
    rasterfast.parse_drawings : raw drawing text to a StrokeBatch.

    Notes
    -----
    The exact arithmetic (float64 throughout) is what makes the output match
    Google's files bit for bit, including the many ties of RDP (equidistant
    points on a raw segment parallel to a chord):

    * scaled ``v' = (v - min) * 255 / max(width, height)``; a drawing of one
      repeated point (no extent) maps to 0;
    * a stroke is resampled at arc lengths ``k * spacing``, ``k = 0, 1, ...``,
      the running arc length ``c`` summed segment by segment (segment length
      ``sqrt(dx*dx + dy*dy)``), each sample ``p * (1 - u) + q * u`` with
      ``u = (k * spacing - c) / L``; the last point is added unless the last
      sample is it, so every output stroke has at least 2 points (a one-point
      stroke gives two copies, as in Google's files);
    * RDP splits at the first point of largest distance to the chord's line,
      ``|d x (a - p)| / sqrt(fma(dx, dx, dy*dy))`` (the distance to ``a`` when
      the chord's ends coincide), when it is ``> epsilon``;
    * coordinates are rounded half to even.

    Google computed from the decimal text of its raw files, whose coordinates
    are float64 values; a raw StrokeBatch holds float32, which cannot hold
    about 9% of real raw drawings' coordinates (``459.9000015258789``). On
    those the result can differ (on the sample: 43 of 7,853 drawings, none by
    more than a few pixels); given float64 ``x`` and ``y`` the kernel computes
    from them and reproduces all 7,853.

    Times: a resampled point on the raw segment ``p -> q`` gets
    ``t = tp + (tq - tp) * u``, rounded half to even: its position's share of
    the segment, so time channels can be drawn on simplified geometry. The
    first and last point of a stroke keep their times; times are monotone
    where the input's are.

    The kernel is O(resampled points x kept points) per stroke at worst and
    holds one stroke's resampled points at a time.

    References
    ----------
    Google Creative Lab, The Quick, Draw! Dataset, "Preprocessing"
    (github.com/googlecreativelab/quickdraw-dataset).
    U. Ramer (1972); D. Douglas and T. Peucker (1973).

    Examples
    --------
    >>> from rasterfast import StrokeBatch
    >>> raw = StrokeBatch.from_lists(
    ...     [[[[100, 110, 120], [50, 80, 50], [0, 30, 60]], [[130.5], [60], [90]]]], "raw")
    >>> s = simplify(raw)
    >>> s.kind, s.to_lists(0)
    ('simplified', [[[0, 83, 167], [0, 250, 0], [0, 30, 60]], [[255, 255], [84, 84], [90, 90]]])
    """
    if not isinstance(batch, StrokeBatch):
        raise TypeError(f"batch must be a StrokeBatch, got {type(batch).__name__}")
    if batch.kind != "raw":
        raise ValueError(f"batch must be raw (kind='raw'), got kind={batch.kind!r}; "
                         "simplified drawings are already simplified")
    eps = _positive_float("epsilon", epsilon, allow_zero=True)
    step = _positive_float("spacing", spacing)
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)):
        raise TypeError(f"max_points must be an integer, got {type(max_points).__name__}")
    if max_points < 2:
        raise ValueError(f"max_points must be >= 2 (a stroke has at least 2 points after "
                         f"resampling), got {max_points}")
    check_on_error(on_error)

    # float64 coordinates are used as they are (see Notes); anything else as float32
    cdt = np.float64 if batch.x.dtype == np.float64 and batch.y.dtype == np.float64 else np.float32
    x = np.ascontiguousarray(batch.x, cdt)
    y = np.ascontiguousarray(batch.y, cdt)
    timed = len(batch.t) == len(x) and len(x) > 0
    t = np.ascontiguousarray(batch.t if timed else np.zeros(0, np.int32), np.int32)
    so = np.ascontiguousarray(batch.stroke_offsets, np.int64)
    do = np.ascontiguousarray(batch.drawing_offsets, np.int64)
    status, ox, oy, ot, oso, dstat, ddet = _kernel._simplify(
        x, y, t, so, do, eps, step, int(max_points))
    if status:
        raise status_error(status, caller=__name__)

    per_drawing = {name: getattr(batch, name).copy() for name in _PER_DRAWING}
    out = StrokeBatch(kind="simplified", x=ox, y=oy, t=ot if timed else np.zeros(0, np.int32),
                      stroke_offsets=oso, drawing_offsets=do.copy(), sources=batch.sources,
                      rejects=list(batch.rejects), **per_drawing)
    bad = np.flatnonzero(dstat)
    if len(bad) == 0:
        return out
    rejects = []
    for i in bad.tolist():
        reason = status_reason(dstat[i], ddet[i], batch=batch, drawing=i,
                               max_points=int(max_points))
        source = batch.sources[batch.source_id[i]]
        if on_error == "raise":
            raise ValueError(f"{source}, record {int(batch.record[i])}: {reason}")
        rejects.append(Reject(source, int(batch.record[i]), -1, reason))
    keep = np.ones(len(batch), bool)
    keep[bad] = False
    kept = out.take(np.flatnonzero(keep))
    kept.rejects = list(batch.rejects) + rejects
    warn_rejects(rejects, on_error)
    return kept
