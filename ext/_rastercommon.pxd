# cython: language_level=3
"""Helpers shared by the raster kernels (_raster.pyx, _rastercv.pyx): inline, so no runtime import."""

from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

# Status codes: ext/_status.pxd (rasterfast.errors.STATUS_ERRORS turns them into exceptions).
from _status cimport OK, E_DRAWING_OFFSETS, E_STROKE_OFFSETS

cdef enum:
    COMPOSE_PAINT = 0
    COMPOSE_MAX = 1


cdef inline void _fill_bytes(uint8_t* p, Py_ssize_t n, uint8_t v) noexcept nogil:
    """p[0:n] = v. Short runs (most spans of a doodle) use a few overlapping word
    stores instead of a call to memset, which costs more than the run itself."""
    cdef uint64_t w = v
    cdef Py_ssize_t i = 0
    if n > 64:
        memset(p, v, <size_t>n)
        return
    w |= w << 8
    w |= w << 16
    w |= w << 32
    if n >= 8:
        while i + 8 < n:
            memcpy(p + i, &w, 8)
            i += 8
        memcpy(p + n - 8, &w, 8)
    elif n >= 4:
        memcpy(p, &w, 4)
        memcpy(p + n - 4, &w, 4)
    elif n >= 2:
        memcpy(p, &w, 2)
        memcpy(p + n - 2, &w, 2)
    elif n == 1:
        p[0] = v


cdef inline void _max_bytes(uint8_t* p, Py_ssize_t n, uint8_t v) noexcept nogil:
    """p[0:n] = max(p[0:n], v)."""
    cdef Py_ssize_t i
    for i in range(n):
        if p[i] < v:
            p[i] = v


cdef inline bint _same_values(const uint8_t[:, ::1] intensity, Py_ssize_t p, Py_ssize_t q) noexcept nogil:
    """Whether points p and q carry the same value in every channel."""
    cdef Py_ssize_t c
    for c in range(intensity.shape[0]):
        if intensity[c, p] != intensity[c, q]:
            return False
    return True


cdef inline int _check_drawing(int64_t s0, int64_t s1, const int64_t[::1] stroke_offsets,
                               Py_ssize_t n_points, Py_ssize_t i, int64_t* detail) noexcept nogil:
    """Check that drawing i (strokes s0..s1) and its points lie inside the columns."""
    cdef int64_t j
    cdef Py_ssize_t n_strokes = stroke_offsets.shape[0] - 1
    if s0 < 0 or s1 < s0 or s1 > n_strokes:
        detail[0] = i
        return E_DRAWING_OFFSETS
    for j in range(s0, s1):
        if stroke_offsets[j] < 0 or stroke_offsets[j + 1] < stroke_offsets[j] \
                or stroke_offsets[j + 1] > n_points:
            detail[0] = j
            return E_STROKE_OFFSETS
    return OK
