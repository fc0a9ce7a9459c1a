# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (off; on with
# RASTERFAST_BOUNDSCHECK=1): a directive in this header would override that switch.
"""Private kernel: per-segment channel values of a StrokeBatch, GIL released.

``_encode`` fills ``out[c, p]``, the value of channel ``codes[c]`` for the
segment that starts at point ``p`` (a stroke's last point holds the value of a
one-point stroke and of the stroke's end cap). The channels and their
normalisers are documented in ``rasterfast/encoders.py``; the status codes
(``ext/_status.pxd``) become exceptions in ``rasterfast.errors.STATUS_ERRORS``.

Every drawn value is at least 1: 0 is the background, and a segment in value
0 would not exist in that channel.

References
----------
Kaggle "Quick, Draw! Doodle Recognition Challenge" (2018): the Beluga baseline
kernel (stroke-order intensity ``255 - min(i, 10) * 13``) and the 5th place
write-up (time channels from the raw drawings).
"""

from libc.stdint cimport int32_t, int64_t, uint8_t

# Status codes: ext/_status.pxd (rasterfast.errors.STATUS_ERRORS turns them into exceptions).
from _status cimport OK, E_DRAWING_OFFSETS, E_STROKE_OFFSETS, E_SHAPE, E_CHANNEL

# Channel codes; rasterfast/encoders.py::CHANNELS mirrors them.
cdef enum:
    CH_INK = 0
    CH_STROKE_ORDER = 1
    CH_STROKE_INDEX = 2
    CH_POINT_PROGRESS = 3
    CH_TIME = 4
    CH_STROKE_TIME = 5
    CH_PAUSE = 6
    CH_STROKE_COUNT = 7
    N_CHANNELS = 8


cdef inline uint8_t _level(int64_t num, int64_t den) noexcept nogil:
    """``clip(round_half_up(num / den), 1, 255)`` for ``num >= 0``, ``den > 0``."""
    cdef int64_t v = (2 * num + den) // (2 * den)
    if v < 1:
        return 1
    if v > 255:
        return 255
    return <uint8_t>v


cdef inline void _fill(uint8_t* row, int64_t p0, int64_t p1, uint8_t v) noexcept nogil:
    cdef int64_t p
    for p in range(p0, p1):
        row[p] = v


def _encode(const int32_t[::1] codes, const int32_t[::1] t, const int64_t[::1] stroke_offsets,
            const int64_t[::1] drawing_offsets, uint8_t[:, ::1] out, int64_t stroke_time_ms,
            int64_t pause_ms, int64_t count_step):
    """Fill ``out[c, p]`` with channel ``codes[c]``'s value of point ``p``; return (status, detail).

    ``t`` may be empty when no code needs times. The normalisers are the
    milliseconds per level of ``stroke_time`` and ``pause`` and the levels per
    stroke of ``stroke_count``. Offsets are checked against their bounds
    before any point is read or written.
    """
    cdef Py_ssize_t n_codes = codes.shape[0]
    cdef int64_t n_points = out.shape[1]
    cdef int64_t n_strokes = stroke_offsets.shape[0] - 1
    cdef int64_t n_drawings = drawing_offsets.shape[0] - 1
    cdef int status = OK
    cdef int64_t detail = 0
    cdef bint timed = False
    cdef bint seen
    cdef Py_ssize_t c
    cdef int64_t d, j, j0, j1, p, p0, p1, k, n, tmin, tmax, span, prev_end, v
    cdef uint8_t* row
    cdef int code

    if out.shape[0] != n_codes or n_strokes < 0 or n_drawings < 0:
        return E_SHAPE, 0
    for c in range(n_codes):
        if codes[c] < 0 or codes[c] >= N_CHANNELS:
            return E_CHANNEL, codes[c]
        if codes[c] >= CH_TIME:
            timed = True
    if timed and t.shape[0] != n_points:
        return E_SHAPE, 0

    with nogil:
        for d in range(n_drawings):
            j0 = drawing_offsets[d]
            j1 = drawing_offsets[d + 1]
            if j0 < 0 or j1 < j0 or j1 > n_strokes:
                status = E_DRAWING_OFFSETS
                detail = d
                break
            for j in range(j0, j1):
                p0 = stroke_offsets[j]
                p1 = stroke_offsets[j + 1]
                if p0 < 0 or p1 < p0 or p1 > n_points:
                    status = E_STROKE_OFFSETS
                    detail = j
                    break
            if status != OK:
                break
            k = j1 - j0
            if k == 0 or n_codes == 0 or n_points == 0:
                continue
            tmin = 0
            tmax = 0
            if timed:
                # the drawing's time span, whatever the order of its times
                tmin = t[stroke_offsets[j0]] if stroke_offsets[j1] > stroke_offsets[j0] else 0
                tmax = tmin
                for p in range(stroke_offsets[j0], stroke_offsets[j1]):
                    if t[p] < tmin:
                        tmin = t[p]
                    if t[p] > tmax:
                        tmax = t[p]
            span = tmax - tmin
            for c in range(n_codes):
                code = codes[c]
                row = &out[c, 0]
                prev_end = 0
                seen = False
                for j in range(j0, j1):
                    p0 = stroke_offsets[j]
                    p1 = stroke_offsets[j + 1]
                    if p1 == p0:
                        continue
                    n = p1 - p0
                    if code == CH_INK:
                        _fill(row, p0, p1, 255)
                    elif code == CH_STROKE_ORDER:
                        v = j - j0
                        _fill(row, p0, p1, <uint8_t>(255 - (v if v < 10 else 10) * 13))
                    elif code == CH_STROKE_INDEX:
                        _fill(row, p0, p1, _level(255 * (j - j0 + 1), k))
                    elif code == CH_POINT_PROGRESS:
                        for p in range(p0, p1):
                            row[p] = _level(255 * (p - p0 + 1), n)
                    elif code == CH_TIME:
                        if span > 0:
                            for p in range(p0, p1):
                                row[p] = _level(255 * (t[p] - tmin), span)
                        else:
                            _fill(row, p0, p1, 255)
                    elif code == CH_STROKE_TIME:
                        v = <int64_t>t[p1 - 1] - t[p0]
                        _fill(row, p0, p1, _level(v if v > 0 else 0, stroke_time_ms))
                    elif code == CH_PAUSE:
                        # the first stroke has no pause: t's origin is not the
                        # prompt (real drawings start at t = 0-4 ms)
                        v = (<int64_t>t[p0] - prev_end) if seen else 0
                        _fill(row, p0, p1, _level(v if v > 0 else 0, pause_ms))
                    else:  # CH_STROKE_COUNT
                        v = k * count_step
                        _fill(row, p0, p1, <uint8_t>(v if v < 255 else 255))
                    if timed:
                        prev_end = t[p1 - 1]
                    seen = True
    return status, detail
