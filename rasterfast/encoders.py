"""Channel encoders: the value every segment of a drawing is drawn in, per channel.

:func:`encode` gives, for a :class:`~rasterfast.batch.StrokeBatch` and a list
of channel names, ``uint8 [C, P]``: channel ``c``'s value of the segment that
starts at point ``p``. A stroke's last point holds the value of a one-point
stroke (a dot) and of the stroke's end cap. The work is one call of the Cython
kernel ``rasterfast._ext._encode`` with the GIL released, no Python per
drawing. :class:`rasterfast.Recipe` calls it for :func:`rasterfast.render`.

The channels
------------
In drawing ``d`` of ``k`` strokes, stroke ``i`` (0-based) of ``n`` points,
point ``m`` (0-based) of that stroke; ``round`` rounds halves up:

==================  ======  ============================================================
channel             needs   value of the segment starting at point ``m`` of stroke ``i``
==================  ======  ============================================================
``ink``             --      ``255``
``stroke_order``    --      ``255 - min(i, 10) * 13`` (the Kaggle "Beluga" baseline)
``stroke_index``    --      ``max(1, round(255 * (i + 1) / k))``: linear over the drawing
``point_progress``  --      ``max(1, round(255 * (m + 1) / n))``: linear along the stroke
``time``            ``t``   ``max(1, round(255 * (t - tmin) / (tmax - tmin)))``, with
                            ``tmin``/``tmax`` the drawing's smallest and largest time;
                            ``255`` when they are equal
``stroke_time``     ``t``   ``clip(round(duration_ms / 25), 1, 255)``, ``duration_ms``
                            ``= max(0, t_last - t_first)`` of the stroke
``pause``           ``t``   ``clip(round(pause_ms / 12), 1, 255)``, ``pause_ms =
                            max(0, t_first - t_last of the previous stroke)``; 0 for
                            the first stroke
``stroke_count``    ``t``   ``min(255, 8 * k)``
==================  ======  ============================================================

Rules shared by all channels:

- **0 is the background.** Every drawn segment gets at least 1, so that a
  stroke exists in every channel (a segment drawn in 0 would vanish); the
  scaled channels clip at 1 from below and 255 from above.
- **Times are taken as they are.** Raw ``t`` is in milliseconds, need not start
  at 0, and is not always increasing (5 of 46,200 strokes in the sample go
  back in time): durations and pauses below 0 count as 0, and ``time`` uses
  the drawing's smallest and largest ``t``, not its first and last.
- Channels marked ``t`` need times: a raw batch, or a simplified one that
  kept them (``rasterfast.simplify`` carries them). Asking for them on a batch
  without times is a ``ValueError``.

The normalisers come from the real sample (9,570 raw drawings, 46,200 strokes,
``/work/shared/data/quickdraw/ndjson/raw``): stroke durations have percentiles
p50 584 ms, p95 3,599 ms, p99 6,397 ms, so 25 ms per level saturates at
6,375 ms (about p99); pauses between strokes p50 439 ms, p95 1,514 ms,
p99 3,097 ms, so 12 ms per level saturates at 3,060 ms (about p99); strokes per
drawing p50 4, p99 19, p99.9 31, so 8 levels per stroke saturate at 32
strokes. The first stroke starts at t = 0-4 ms in every sample drawing, which
is why the first stroke's pause is 0 rather than its ``t_first``.

``stroke_count`` needs no times in principle; it is grouped with the time
channels because it belongs to the raw-data encodings (``time3``) and is
normalised against raw strokes, which simplification can merge or drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ._ext import _encode as _kernel
from .batch import StrokeBatch
from .errors import status_error

__all__ = ["encode", "CHANNELS", "Channel", "STROKE_TIME_MS", "PAUSE_MS", "STROKE_COUNT_STEP"]

#: Milliseconds of stroke duration per level of ``stroke_time`` (255 at 6,375 ms).
STROKE_TIME_MS = 25
#: Milliseconds of pause per level of ``pause`` (255 at 3,060 ms).
PAUSE_MS = 12
#: Levels per stroke of ``stroke_count`` (255 from 32 strokes on).
STROKE_COUNT_STEP = 8


class Channel(NamedTuple):
    """One channel encoder: its kernel code, whether it needs times, and what it shows."""

    code: int
    needs_time: bool
    description: str


#: Every channel by name; the codes are those of ext/_encode.pyx.
CHANNELS: dict[str, Channel] = {
    "ink": Channel(0, False, "255 on every segment"),
    "stroke_order": Channel(1, False, "255 - min(i, 10) * 13 for stroke i (Kaggle Beluga)"),
    "stroke_index": Channel(2, False, "max(1, round(255 * (i + 1) / k)), stroke i of k"),
    "point_progress": Channel(3, False, "max(1, round(255 * (m + 1) / n)), point m of n"),
    "time": Channel(4, True, "max(1, round(255 * (t - tmin) / (tmax - tmin))) over the drawing"),
    "stroke_time": Channel(5, True, f"clip(round(duration_ms / {STROKE_TIME_MS}), 1, 255) "
                                    "of the stroke"),
    "pause": Channel(6, True, f"clip(round(pause_ms / {PAUSE_MS}), 1, 255) before the stroke "
                              "(0 for the first)"),
    "stroke_count": Channel(7, True, f"min(255, {STROKE_COUNT_STEP} * strokes in the drawing)"),
}

def check_channels(channels) -> tuple[str, ...]:
    """Return ``channels`` as a tuple of known channel names; raise if it is not one.

    Raises
    ------
    TypeError
        ``channels`` is a string (a common slip for a one-name list) or holds
        something other than strings.
    ValueError
        No channels, or an unknown name (the message lists the valid ones).
    """
    if isinstance(channels, (str, bytes)):
        raise TypeError(f"channels must be a sequence of channel names, got the string "
                        f"{channels!r}; write ({channels!r},)")
    try:
        names = tuple(channels)
    except TypeError:
        raise TypeError(f"channels must be a sequence of channel names, got "
                        f"{type(channels).__name__}") from None
    if not names:
        raise ValueError("channels must name at least one channel, got none")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"channel names must be str, got {type(name).__name__} {name!r}")
        if name not in CHANNELS:
            raise ValueError(f"unknown channel {name!r}; valid channels: {', '.join(CHANNELS)}")
    return names


def encode(batch: StrokeBatch, channels: Sequence[str]) -> np.ndarray:
    """Each segment's value in each channel: uint8 ``[C, P]``.

    Parameters
    ----------
    batch : StrokeBatch
        The drawings, after any geometry step (simplification keeps ``t``).
    channels : sequence of str
        Names from :data:`CHANNELS` (see the module docstring for each value).

    Returns
    -------
    ndarray of uint8, shape (len(channels), batch.num_points)
        Row ``c``, column ``p``: channel ``c``'s value of the segment that starts
        at point ``p``; at a stroke's last point, the value of its end (and of
        a one-point stroke). Every drawn value is 1-255.

    Raises
    ------
    TypeError
        ``batch`` is not a StrokeBatch, or ``channels`` is not a list of names.
    ValueError
        An unknown channel, a time channel on a batch without times, or
        inconsistent offsets.

    Examples
    --------
    Two strokes of 3 and 1 points:

    >>> from rasterfast import StrokeBatch
    >>> b = StrokeBatch.from_lists([[[[0, 5, 9], [0, 5, 9]], [[3], [3]]]], "simplified")
    >>> encode(b, ["ink", "stroke_order", "stroke_index", "point_progress"])
    array([[255, 255, 255, 255],
           [255, 255, 255, 242],
           [128, 128, 128, 255],
           [ 85, 170, 255, 255]], dtype=uint8)
    """
    if not isinstance(batch, StrokeBatch):
        raise TypeError(f"batch must be a StrokeBatch, got {type(batch).__name__}")
    names = check_channels(channels)
    timed = [n for n in names if CHANNELS[n].needs_time]
    if timed and batch.num_points and not batch.has_time:
        raise ValueError(f"channels {timed} need times (t): raw drawings, or simplified ones "
                         f"that kept them; this {batch.kind} batch has none")
    codes = np.array([CHANNELS[n].code for n in names], np.int32)
    t = np.ascontiguousarray(batch.t, np.int32) if timed else np.zeros(0, np.int32)
    so = np.ascontiguousarray(batch.stroke_offsets, np.int64)
    do = np.ascontiguousarray(batch.drawing_offsets, np.int64)
    # zeros, not empty: points outside every stroke (inconsistent offsets) stay defined
    out = np.zeros((len(names), batch.num_points), np.uint8)
    status, detail = _kernel._encode(codes, t, so, do, out, STROKE_TIME_MS, PAUSE_MS,
                                     STROKE_COUNT_STEP)
    if status:
        raise status_error(status, detail, caller=__name__)
    return out
