# cython: language_level=3
# (bounds and wraparound checks are set by setup.py: off, or on with RASTERFAST_BOUNDSCHECK=1)
"""Private kernel: ``StrokeBatch.take``, drawings gathered by index, GIL released.

A drawing's points are contiguous, so gathering drawings is one ``memcpy`` per
column and drawing plus its rebased stroke offsets; numpy's fancy indexing
would build an index per point and pay a random read for each. The caller
sizes the outputs (from the offsets, vectorised); every offset read here is
checked against the arrays it indexes before anything is copied.
"""

from libc.stdint cimport int16_t, int32_t, int64_t
from libc.string cimport memcpy

ctypedef fused coord_t:
    int16_t
    float

# Status codes: ext/_status.pxd. E_INDEX: detail = position in idx; E_OFFSETS: detail = drawing;
# E_SHAPE: outputs too small for what the offsets say (a caller bug).
from _status cimport OK, E_INDEX, E_OFFSETS, E_SHAPE


def _take(const coord_t[::1] x, const coord_t[::1] y, const int32_t[::1] t,
          const int64_t[::1] stroke_offsets, const int64_t[::1] drawing_offsets,
          const int64_t[::1] idx, coord_t[::1] ox, coord_t[::1] oy, int32_t[::1] ot,
          int64_t[::1] out_stroke_offsets, const int64_t[::1] out_drawing_offsets):
    """Copy drawings ``idx`` (in order) into ``ox``/``oy``/``ot``/``out_stroke_offsets``.

    ``out_drawing_offsets`` (the caller's cumulative stroke counts of the chosen
    drawings) says where each drawing's strokes go; ``ot`` is copied only when
    ``t`` has a value per point. Returns ``(status, detail)``.
    """
    cdef Py_ssize_t n = idx.shape[0], k
    cdef Py_ssize_t n_draw = drawing_offsets.shape[0] - 1, n_strokes = stroke_offsets.shape[0] - 1
    cdef Py_ssize_t n_points = x.shape[0], n_out_points = ox.shape[0]
    cdef Py_ssize_t n_out_strokes = out_stroke_offsets.shape[0] - 1
    cdef int64_t i, s0, s1, p0, p1, j, q = 0, s_out
    cdef bint timed = t.shape[0] == n_points and ot.shape[0] == n_out_points
    cdef int status = OK
    cdef int64_t detail = -1
    if (y.shape[0] != n_points or oy.shape[0] != n_out_points or n_draw < 0 or n_strokes < 0
            or out_drawing_offsets.shape[0] != n + 1 or n_out_strokes < 0):
        return E_SHAPE, -1
    with nogil:
        out_stroke_offsets[0] = 0
        for k in range(n):
            i = idx[k]
            if i < 0 or i >= n_draw:
                status = E_INDEX
                detail = k
                break
            s0 = drawing_offsets[i]
            s1 = drawing_offsets[i + 1]
            if s0 < 0 or s1 < s0 or s1 > n_strokes:
                status = E_OFFSETS
                detail = i
                break
            p0 = stroke_offsets[s0]
            p1 = stroke_offsets[s1]
            if p0 < 0 or p1 < p0 or p1 > n_points:
                status = E_OFFSETS
                detail = i
                break
            s_out = out_drawing_offsets[k]
            if (s_out < 0 or out_drawing_offsets[k + 1] - s_out != s1 - s0
                    or out_drawing_offsets[k + 1] > n_out_strokes or q + (p1 - p0) > n_out_points):
                status = E_SHAPE
                detail = k
                break
            for j in range(s0, s1):
                if stroke_offsets[j + 1] < stroke_offsets[j] or stroke_offsets[j + 1] > p1:
                    status = E_OFFSETS
                    detail = i
                    break
                out_stroke_offsets[s_out + (j - s0) + 1] = q + (stroke_offsets[j + 1] - p0)
            if status != OK:
                break
            if p1 > p0:
                memcpy(&ox[q], &x[p0], <size_t>(p1 - p0) * sizeof(coord_t))
                memcpy(&oy[q], &y[p0], <size_t>(p1 - p0) * sizeof(coord_t))
                if timed:
                    memcpy(&ot[q], &t[p0], <size_t>(p1 - p0) * sizeof(int32_t))
            q += p1 - p0
    return status, detail
