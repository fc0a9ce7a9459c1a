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

from libc.stdint cimport int64_t, uint64_t, uint8_t
from libc.string cimport memcpy

# Status codes: ext/_status.pxd (detail: position in rows). E_STORE_ROW: a shard or row
# outside its bounds; E_STORE_OFFSETS: a shard's offsets out of range or decreasing;
# E_SHAPE: outputs too small for the sizes (a caller bug).
from _status cimport OK, E_STORE_ROW, E_STORE_OFFSETS, E_SHAPE


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
