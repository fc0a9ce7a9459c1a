# cython: language_level=3
# (bounds and wraparound checks are set by setup.py: off, or on with RASTERFAST_BOUNDSCHECK=1)
"""Private kernel: gather drawings scattered over several stroke shards into one batch.

The gather of a StrokeDataset batch: drawing ``rows[i]`` of shard ``shards[i]``
becomes drawing ``i`` of a flat StrokeBatch (points end to end, stroke offsets
rebased), one ``memcpy`` per column and drawing, without the GIL. Two passes:
:func:`_stroke_sizes` reads each drawing's stroke and point counts (the caller
sizes the outputs from them), :func:`_stroke_copy` copies.

The shards are memory-mapped files (``rasterfast/store/README.md``); their
addresses come from the caller, which keeps the maps alive for the call. Every
offset read from a shard is checked against the shard's counts before it is
used, so a tampered file gives a status, never a read out of bounds.
"""

from libc.math cimport isfinite
from libc.stdint cimport int16_t, int64_t, uint64_t, uint8_t
from libc.string cimport memcpy

# Status codes: ext/_status.pxd (detail: position in rows). E_STORE_ROW: a shard or row
# outside its bounds; E_STORE_OFFSETS: a shard's offsets out of range or decreasing;
# E_SHAPE: outputs too small for the sizes (a caller bug).
from _status cimport OK, E_STORE_ROW, E_STORE_OFFSETS, E_SHAPE

import numpy as np


cdef inline int _span(const uint64_t *drawing_offsets, const uint64_t *stroke_offsets,
                      const int64_t *n_drawings, const int64_t *n_strokes,
                      const int64_t *n_points, Py_ssize_t k, int64_t m, int64_t r,
                      int64_t *s0, int64_t *s1, int64_t *p0, int64_t *p1) noexcept nogil:
    """The strokes ``[s0, s1)`` and points ``[p0, p1)`` of drawing ``r`` of shard ``m``.

    Every value is checked against the shard's counts before it is used as an index;
    returns OK, E_STORE_ROW (shard or row out of range, or an unmapped shard) or E_STORE_OFFSETS.
    """
    cdef const int64_t *do
    cdef const int64_t *so
    if m < 0 or m >= k or drawing_offsets[m] == 0 or stroke_offsets[m] == 0:
        return E_STORE_ROW
    if r < 0 or r >= n_drawings[m]:
        return E_STORE_ROW
    do = <const int64_t *>drawing_offsets[m]
    so = <const int64_t *>stroke_offsets[m]
    s0[0] = do[r]
    s1[0] = do[r + 1]
    if s0[0] < 0 or s1[0] < s0[0] or s1[0] > n_strokes[m]:
        return E_STORE_OFFSETS
    p0[0] = so[s0[0]]
    p1[0] = so[s1[0]]
    if p0[0] < 0 or p1[0] < p0[0] or p1[0] > n_points[m]:
        return E_STORE_OFFSETS
    return OK


def _stroke_sizes(const uint64_t[::1] drawing_offsets, const uint64_t[::1] stroke_offsets,
                  const int64_t[::1] n_drawings, const int64_t[::1] n_strokes,
                  const int64_t[::1] n_points, const int64_t[::1] shards,
                  const int64_t[::1] rows, int64_t[::1] out_strokes, int64_t[::1] out_points):
    """Strokes and points of drawing ``rows[i]`` of shard ``shards[i]``, for every ``i``.

    Shard ``m`` has ``n_drawings[m]`` drawings, ``n_strokes[m]`` strokes and
    ``n_points[m]`` points; ``drawing_offsets[m]`` / ``stroke_offsets[m]`` are the
    addresses of its int64 offset arrays (``n + 1`` values each). Returns
    ``(status, position)``; on a bad status nothing after ``position`` was read.
    """
    cdef Py_ssize_t n = rows.shape[0], k = drawing_offsets.shape[0], i
    cdef int64_t s0, s1, p0, p1
    cdef int status = OK
    cdef Py_ssize_t pos = -1
    if shards.shape[0] != n or out_strokes.shape[0] != n or out_points.shape[0] != n or \
            stroke_offsets.shape[0] != k or n_drawings.shape[0] != k or \
            n_strokes.shape[0] != k or n_points.shape[0] != k:
        return E_SHAPE, -1
    if n and not k:
        return E_STORE_ROW, 0
    with nogil:
        for i in range(n):
            status = _span(&drawing_offsets[0], &stroke_offsets[0], &n_drawings[0],
                           &n_strokes[0], &n_points[0], k, shards[i], rows[i], &s0, &s1,
                           &p0, &p1)
            if status != OK:
                pos = i
                break
            out_strokes[i] = s1 - s0
            out_points[i] = p1 - p0
    return status, pos


def _stroke_copy(const uint64_t[::1] drawing_offsets, const uint64_t[::1] stroke_offsets,
                 const uint64_t[::1] xs, const uint64_t[::1] ys, const uint64_t[::1] ts,
                 const int64_t[::1] n_drawings, const int64_t[::1] n_strokes,
                 const int64_t[::1] n_points, Py_ssize_t coord_bytes,
                 const int64_t[::1] shards, const int64_t[::1] rows,
                 const int64_t[::1] out_drawing_offsets, int64_t[::1] out_stroke_offsets,
                 uint8_t[::1] ox, uint8_t[::1] oy, uint8_t[::1] ot):
    """Copy drawing ``rows[i]`` of shard ``shards[i]`` to drawing ``i`` of the outputs.

    ``out_drawing_offsets`` (``n + 1`` cumulative stroke counts, from
    :func:`_stroke_sizes`) says where each drawing's strokes go. ``ox``/``oy``
    take ``coord_bytes`` per point; ``ot`` 4 bytes per point, and is filled only
    when it is not empty (every shard then has times: ``ts[m]`` non-zero).
    Returns ``(status, position)``.
    """
    cdef Py_ssize_t n = rows.shape[0], k = drawing_offsets.shape[0], i
    cdef Py_ssize_t out_strokes = out_stroke_offsets.shape[0] - 1
    cdef Py_ssize_t out_points = ox.shape[0] // coord_bytes if coord_bytes > 0 else 0
    cdef bint times = ot.shape[0] > 0
    cdef int64_t m, s0, s1, p0, p1, j, q = 0, base
    cdef int status = OK
    cdef Py_ssize_t pos = -1
    cdef const int64_t *so
    if shards.shape[0] != n or out_drawing_offsets.shape[0] != n + 1 or \
            stroke_offsets.shape[0] != k or xs.shape[0] != k or ys.shape[0] != k or \
            ts.shape[0] != k or n_drawings.shape[0] != k or n_strokes.shape[0] != k or \
            n_points.shape[0] != k or coord_bytes not in (2, 4) or \
            oy.shape[0] != ox.shape[0] or (times and ot.shape[0] != 4 * out_points) or \
            out_strokes < 0:
        return E_SHAPE, -1
    if n and not k:
        return E_STORE_ROW, 0
    with nogil:
        for i in range(n):
            m = shards[i]
            if m < 0 or m >= k or xs[m] == 0 or ys[m] == 0 or (times and ts[m] == 0):
                status, pos = E_STORE_ROW, i
                break
            status = _span(&drawing_offsets[0], &stroke_offsets[0], &n_drawings[0],
                           &n_strokes[0], &n_points[0], k, m, rows[i], &s0, &s1, &p0, &p1)
            if status != OK:
                pos = i
                break
            so = <const int64_t *>stroke_offsets[m]
            base = out_drawing_offsets[i]
            if base < 0 or out_drawing_offsets[i + 1] - base != s1 - s0 or \
                    out_drawing_offsets[i + 1] > out_strokes or q + (p1 - p0) > out_points:
                status, pos = E_SHAPE, i
                break
            for j in range(s1 - s0):
                # a stroke that starts outside its drawing's points is a tampered file
                if so[s0 + j] < p0 or so[s0 + j] > p1:
                    status, pos = E_STORE_OFFSETS, i
                    break
                out_stroke_offsets[base + j] = so[s0 + j] - p0 + q
            if status != OK:
                break
            if p1 > p0:
                memcpy(&ox[q * coord_bytes], <const uint8_t *>xs[m] + p0 * coord_bytes,
                       (p1 - p0) * coord_bytes)
                memcpy(&oy[q * coord_bytes], <const uint8_t *>ys[m] + p0 * coord_bytes,
                       (p1 - p0) * coord_bytes)
                if times:
                    memcpy(&ot[q * 4], <const uint8_t *>ts[m] + p0 * 4, (p1 - p0) * 4)
            q += p1 - p0
        if status == OK:
            if q != out_points:
                status, pos = E_SHAPE, n
            else:
                out_stroke_offsets[out_strokes] = q
    return status, pos


def _locate(const int64_t[::1] offsets, const int64_t[::1] rows, int64_t[::1] files,
            int64_t[::1] local, int64_t[::1] index):
    """Where each of ``rows`` lies: its file, its row in that file, and the files read.

    File ``m`` holds rows ``[offsets[m], offsets[m + 1])`` (``offsets`` non-decreasing,
    from 0). For every ``i``: ``local[i]`` is row ``rows[i]``'s row in its file and
    ``index[i]`` the position of its file in ``files``, which receives the distinct
    files in order of first appearance. Returns ``(status, count)``: OK and the number
    of distinct files, or E_STORE_ROW and the position of a row outside ``[0, offsets[-1])``.
    """
    cdef Py_ssize_t n = rows.shape[0], k = offsets.shape[0] - 1, i, j
    cdef Py_ssize_t lo, hi, mid, w = 0, last = -1
    cdef int64_t r, m
    cdef Py_ssize_t bad = -1
    if k < 0 or files.shape[0] < n or local.shape[0] != n or index.shape[0] != n:
        return E_SHAPE, -1
    with nogil:
        for i in range(n):
            r = rows[i]
            if k == 0 or r < 0 or r >= offsets[k]:
                bad = i
                break
            # the last file m with offsets[m] <= r (empty files are skipped by side=right)
            lo, hi = 0, k
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offsets[mid] <= r:
                    lo = mid
                else:
                    hi = mid
            m = lo
            local[i] = r - offsets[m]
            # a batch reads few files, mostly in runs: the previous one, then a scan
            if last >= 0 and files[last] == m:
                index[i] = last
                continue
            for j in range(w):
                if files[j] == m:
                    break
            else:
                j = w
                files[w] = m
                w += 1
            index[i] = j
            last = j
    if bad >= 0:
        return E_STORE_ROW, bad
    return OK, w


def _stroke_gather(const uint64_t[:, ::1] addr, const int64_t[:, ::1] sizes,
                   Py_ssize_t coord_bytes, bint times, const int64_t[::1] shards,
                   const int64_t[::1] rows):
    """Gather drawing ``rows[i]`` of shard ``shards[i]`` as drawing ``i``: both passes.

    ``addr`` is ``[5, k]``: per shard the addresses of its drawing offsets, stroke
    offsets, x, y and t (0 for t when the shard keeps no times); ``sizes`` is
    ``[3, k]``: its drawings, strokes and points. Sizes the batch
    (:func:`_stroke_sizes`), allocates it, and copies (:func:`_stroke_copy`), the two
    passes without the GIL. Returns ``(status, position, x, y, t, stroke_offsets,
    drawing_offsets)``: ``x``, ``y`` as raw bytes (``coord_bytes`` a point; the caller
    views them in the coordinate type), ``t`` int32 (empty without ``times``); the
    arrays are None on a bad status.
    """
    cdef Py_ssize_t n = rows.shape[0], k = addr.shape[1], i
    cdef int status
    cdef Py_ssize_t pos
    cdef int64_t total_strokes = 0, total_points = 0
    if addr.shape[0] != 5 or sizes.shape[0] != 3 or sizes.shape[1] != k or \
            shards.shape[0] != n or coord_bytes not in (2, 4):
        return E_SHAPE, -1, None, None, None, None, None
    strokes = np.empty(n, np.int64)
    points = np.empty(n, np.int64)
    status, pos = _stroke_sizes(addr[0], addr[1], sizes[0], sizes[1], sizes[2], shards, rows,
                                strokes, points)
    if status != OK:
        return status, pos, None, None, None, None, None
    cdef int64_t[::1] s_view = strokes, p_view = points
    do = np.empty(n + 1, np.int64)
    cdef int64_t[::1] do_view = do
    do_view[0] = 0
    for i in range(n):
        total_strokes += s_view[i]
        total_points += p_view[i]
        do_view[i + 1] = total_strokes
    x = np.empty(total_points * coord_bytes, np.uint8)
    y = np.empty(total_points * coord_bytes, np.uint8)
    t = np.empty(total_points * 4 if times else 0, np.uint8)
    so = np.empty(total_strokes + 1, np.int64)
    status, pos = _stroke_copy(addr[0], addr[1], addr[2], addr[3], addr[4], sizes[0], sizes[1],
                               sizes[2], coord_bytes, shards, rows, do, so, x, y, t)
    if status != OK:
        return status, pos, None, None, None, None, None
    return OK, -1, x, y, t.view(np.int32), so, do


def _first_out_of_range(const int16_t[::1] x, const int16_t[::1] y, int lo, int hi):
    """The first point ``i`` with ``x[i]`` or ``y[i]`` outside ``[lo, hi]``, or -1."""
    cdef Py_ssize_t n = x.shape[0], i, bad = -1
    if y.shape[0] != n:
        return -2
    with nogil:
        for i in range(n):
            if x[i] < lo or x[i] > hi or y[i] < lo or y[i] > hi:
                bad = i
                break
    return bad


def _first_not_finite(const float[::1] x, const float[::1] y):
    """The first point ``i`` with ``x[i]`` or ``y[i]`` NaN or infinite, or -1."""
    cdef Py_ssize_t n = x.shape[0], i, bad = -1
    if y.shape[0] != n:
        return -2
    with nogil:
        for i in range(n):
            if not (isfinite(x[i]) and isfinite(y[i])):
                bad = i
                break
    return bad
