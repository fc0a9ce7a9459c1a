# cython: language_level=3
# (bounds and wraparound checks are set by setup.py: off, or on with RASTERFAST_BOUNDSCHECK=1)
"""Private kernel: a StrokeBatch to padded stroke-3 / stroke-5 sequences, GIL released.

One pass over the flat columns (``rasterfast/batch.py``) writes every cell of
``out[B, L, 3 | 5]``: point ``k`` of drawing ``i`` becomes row ``k`` of
``out[i]``, padding rows follow. The convention is sketch-rnn's
(``lines_to_strokes`` and ``to_big_strokes`` of magenta's
``magenta/models/sketch_rnn/utils.py``):

* ``dx, dy``: the point minus the previous point of the drawing, across stroke
  boundaries; the first point minus the origin ``(0, 0)`` (its absolute position);
* stroke-3 ``pen``: 1 at the last point of each stroke, 0 elsewhere;
* stroke-5 ``(p1, p2, p3) = (1 - pen, pen, 0)`` for points, and padding rows
  ``(0, 0, 0, 0, 1)`` (end of sketch); stroke-3 padding rows are ``(0, 0, 0)``.
  No start token (sketch-rnn's ``pad_batch`` adds ``S0`` itself).

A drawing of more than ``L`` points is an error (status ``E_SEQUENCE_LONG``) unless
``truncate``: then its first ``L`` points are kept, the last kept point gets
``pen = 1`` (the cut stroke ends there) and ``cut[i] = 1``.

References
----------
Ha, D. and Eck, D. (2017). A Neural Representation of Sketch Drawings,
section 3.1 (stroke-5). https://arxiv.org/abs/1704.03477
Graves, A. (2013). Generating Sequences With Recurrent Neural Networks
(the offset + pen format, stroke-3). https://arxiv.org/abs/1308.0850
"""

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t

ctypedef fused coord_t:
    int16_t
    float

ctypedef fused out_t:
    int16_t
    float

# Status codes: ext/_status.pxd (detail: the drawing; -1 for E_SHAPE, a caller bug).
from _status cimport OK, E_SHAPE, E_OFFSETS, E_SEQUENCE_LONG, E_SEQUENCE_INT16


def _to_sequences(const coord_t[::1] x, const coord_t[::1] y,
                  const int64_t[::1] stroke_offsets, const int64_t[::1] drawing_offsets,
                  bint truncate, out_t[:, :, ::1] out, int64_t[::1] lengths,
                  uint8_t[::1] cut):
    """Write drawing ``i`` of the batch as stroke-3 (``out.shape[2] == 3``) or stroke-5 rows.

    ``lengths[i]`` gets the rows written for drawing ``i`` (its points, at most
    ``L = out.shape[1]``), ``cut[i]`` 1 when it was truncated. Returns
    ``(status, drawing)``; after a bad status the outputs are partly written.
    """
    cdef Py_ssize_t n = drawing_offsets.shape[0] - 1
    cdef Py_ssize_t L = out.shape[1], C = out.shape[2]
    cdef Py_ssize_t S = stroke_offsets.shape[0] - 1, P = x.shape[0]
    cdef Py_ssize_t i, j, q, k, keep, npts, r
    cdef int64_t s0, s1, p0, p1, a, b
    cdef coord_t px, py
    cdef double dx, dy
    cdef int pen
    cdef bint five = C == 5
    cdef int status = OK
    cdef Py_ssize_t pos = -1
    if n < 0 or S < 0 or y.shape[0] != P or out.shape[0] != n or lengths.shape[0] != n or \
            cut.shape[0] != n or (C != 3 and C != 5):
        return E_SHAPE, -1
    with nogil:
        for i in range(n):
            s0 = drawing_offsets[i]
            s1 = drawing_offsets[i + 1]
            if s0 < 0 or s1 < s0 or s1 > S:
                status, pos = E_OFFSETS, i
                break
            p0 = stroke_offsets[s0]
            p1 = stroke_offsets[s1]
            if p0 < 0 or p1 < p0 or p1 > P:
                status, pos = E_OFFSETS, i
                break
            npts = p1 - p0
            cut[i] = 0
            keep = npts
            if npts > L:
                if not truncate:
                    status, pos = E_SEQUENCE_LONG, i
                    break
                keep = L
                cut[i] = 1
            px = 0
            py = 0
            k = 0
            for j in range(s0, s1):
                if k >= keep:
                    break
                a = stroke_offsets[j]
                b = stroke_offsets[j + 1]
                # every stroke inside its drawing's points: a broken batch gives a
                # status, never a read outside x and y
                if a < p0 or b < a or b > p1:
                    status, pos = E_OFFSETS, i
                    break
                for q in range(a, b):
                    if k >= keep:
                        break
                    if coord_t is float:
                        # float32 minus float32, rounded to float32 (as numpy.diff does)
                        dx = <float>(x[q] - px)
                        dy = <float>(y[q] - py)
                    else:
                        dx = <int32_t>x[q] - <int32_t>px
                        dy = <int32_t>y[q] - <int32_t>py
                    if out_t is int16_t:
                        if dx < -32768 or dx > 32767 or dy < -32768 or dy > 32767:
                            status, pos = E_SEQUENCE_INT16, i
                            break
                    px = x[q]
                    py = y[q]
                    pen = 1 if q == b - 1 else 0
                    out[i, k, 0] = <out_t>dx
                    out[i, k, 1] = <out_t>dy
                    if five:
                        out[i, k, 2] = 1 - pen
                        out[i, k, 3] = pen
                        out[i, k, 4] = 0
                    else:
                        out[i, k, 2] = pen
                    k += 1
                if status != OK:
                    break
            if status != OK:
                break
            if k != keep:   # the strokes did not cover the drawing's points
                status, pos = E_OFFSETS, i
                break
            if cut[i] and keep > 0:
                # the cut stroke ends at the last kept point
                if five:
                    out[i, keep - 1, 2] = 0
                    out[i, keep - 1, 3] = 1
                else:
                    out[i, keep - 1, 2] = 1
            lengths[i] = keep
            for r in range(keep, L):
                out[i, r, 0] = 0
                out[i, r, 1] = 0
                out[i, r, 2] = 0
                if five:
                    out[i, r, 3] = 0
                    out[i, r, 4] = 1
    return status, pos
