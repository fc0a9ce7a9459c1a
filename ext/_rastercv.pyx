# cython: language_level=3, cdivision=True
# (bounds and wraparound checks are set by setup.py: off, or on with RASTERFAST_BOUNDSCHECK=1)
"""Private kernel: OpenCV-exact thick lines at 256 px and INTER_LINEAR resize, GIL released.

Reproduces, pixel for pixel, what the Kaggle "Beluga" baseline computes:
``cv2.line(img, p, q, value, thickness)`` (``LINE_8``) per segment on a
256x256 uint8 canvas, later segments over earlier ones, then
``cv2.resize(img, (S, S))`` (``INTER_LINEAR``). The rules below were measured
on OpenCV 4.14 / 5.0 with random segments of every direction and length, near,
across and far outside the borders, thicknesses 2-64 (``tests/test_render_opencv.py``
checks them against OpenCV):

* the integer segment is first clipped (Cohen-Sutherland, crossings
  interpolated in double and truncated) to the canvas grown by ``thickness``
  on every side;
* its band is a quadrilateral in 16.16 fixed point, the endpoints moved by
  ``round_half_even(w * unit normal)`` with ``w = thickness / 2`` (odd
  thicknesses: ``(thickness + 1) / 2``);
* the band is filled row by row: two chains of edges leave the topmost corner;
  an edge becomes active on the row where the previous one ended, starts at
  its first corner's x (not at the row's crossing) and moves by its slope
  rounded to 16.16 per row; row ends round half up; the scan stops on the first
  row where a chain runs out of corners;
* its four edges are also drawn as one-pixel 16.16 lines, each clipped to the
  canvas first: the major coordinate steps from the rounded start, the minor
  one by the truncated fixed-point slope from ``start + 1/2``; the rounded end
  point is set too;
* the caps are filled disks of radius ``(thickness + 1) // 2``: the pixels with
  ``dx*dx + dy*dy <= r*r``;
* ``INTER_LINEAR`` for uint8 uses 11-bit weights of the float32 source position
  and rounds the vertical pass as ``((w0*(h0>>4))>>16) + ((w1*(h1>>4))>>16) + 2) >> 2``;
  the tables come from ``rasterfast.render._linear_tables``.

All pieces of one segment (and of consecutive segments in the same values)
paint the same values, so they are gathered as one x-interval per row where
they touch, and written once; a piece that does not touch its row's interval
is written at once (the union is not always one interval: a cap's tip next to
an outline pixel). Rows the resize never reads are not written; the columns
written per row are tracked, so that clearing the canvas and resizing skip the
empty parts of a doodle.

References
----------
J. D. Foley et al., *Computer Graphics: Principles and Practice*, 2nd ed.,
§3.2 (Cohen-Sutherland clipping), §3.6 (scan-converting polygons).
OpenCV documentation, "Drawing Functions" (``line``) and "Geometric Image
Transformations" (``resize``, ``INTER_LINEAR``).
"""

from libc.math cimport sqrt, lrint
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset

from _status cimport OK, E_SHAPE
from _rastercommon cimport (COMPOSE_PAINT, _fill_bytes, _max_bytes, _same_values,
                            _check_drawing)
from _cvresize cimport RESIZE_AVG2X2, RESIZE_COPY, Resize, _resize, _resize_setup

import numpy as np

cdef enum:
    XY_SHIFT = 16
    XY_ONE = 65536
    XY_HALF = 32768
    MAX_THICKNESS = 64       # caps radius <= 32; the disk table holds 2 * 32 + 1 rows


cdef struct CvCtx:
    uint8_t* canvas           # channel c, row y, column x at canvas[c * cstride + y * rstride + x]
    Py_ssize_t cstride, rstride
    int height, width
    int channels, compose, thickness, radius
    const uint8_t* rowmask    # rows read afterwards; others are never written
    int32_t* lo               # pending interval of row y: lo[y]..hi[y] (empty: lo > hi)
    int32_t* hi
    int ymin, ymax            # rows with a pending interval lie in ymin..ymax
    int32_t* lo2              # recording a shape: a second interval per row (else unused)
    int32_t* hi2
    bint recording, overflow  # recording: set when a row needs a third interval
    int32_t* dlo              # columns written in row y since the canvas was clean
    int32_t* dhi
    int dymin, dymax
    int32_t half[2 * 32 + 1]  # the caps: half[k + radius] = largest h with h*h + k*k <= r*r
    uint8_t values[256]       # the values being drawn, per channel


cdef void _paint_channels(CvCtx* g, Py_ssize_t y, Py_ssize_t xa, Py_ssize_t xb) noexcept nogil:
    """Columns xa..xb (inside the canvas) of row y in every channel, paint or max."""
    cdef Py_ssize_t ch
    cdef uint8_t* p
    for ch in range(g.channels):
        p = g.canvas + ch * g.cstride + y * g.rstride + xa
        if g.compose == COMPOSE_PAINT:
            _fill_bytes(p, xb - xa + 1, g.values[ch])
        else:
            _max_bytes(p, xb - xa + 1, g.values[ch])


cdef void _paint(CvCtx* g, Py_ssize_t y, Py_ssize_t xa, Py_ssize_t xb) noexcept nogil:
    """Write the current values to columns xa..xb of row y (clipped to the canvas), if read."""
    if y < 0 or y >= g.height or not g.rowmask[y]:
        return
    if xa < 0:
        xa = 0
    if xb > g.width - 1:
        xb = g.width - 1
    if xa > xb:
        return
    if g.channels == 1 and g.compose == COMPOSE_PAINT:
        _fill_bytes(g.canvas + y * g.rstride + xa, xb - xa + 1, g.values[0])
    else:
        _paint_channels(g, y, xa, xb)
    if xa < g.dlo[y]:
        g.dlo[y] = <int32_t>xa
    if xb > g.dhi[y]:
        g.dhi[y] = <int32_t>xb
    if y < g.dymin:
        g.dymin = <int>y
    if y > g.dymax:
        g.dymax = <int>y


cdef inline void _span(CvCtx* g, int64_t y, int64_t xa, int64_t xb) noexcept nogil:
    """Columns xa..xb of row y belong to what is being drawn.

    Kept small so that it inlines: the rows of a segment lie in the range its
    caller declared (``_pending_rows``); clipping to the canvas and the rows
    that are not read are left to ``_paint``.
    """
    cdef int32_t lo, hi
    if <uint64_t>y >= <uint64_t>g.height:
        return
    lo = g.lo[y]
    hi = g.hi[y]
    if lo > hi:
        g.lo[y] = <int32_t>xa
        g.hi[y] = <int32_t>xb
    elif xa <= hi + 1 and xb >= lo - 1:
        if xa < lo:
            g.lo[y] = <int32_t>xa
        if xb > hi:
            g.hi[y] = <int32_t>xb
    elif g.recording:
        _record_apart(g, y, xa, xb)
    else:
        _paint(g, y, xa, xb)


cdef void _record_apart(CvCtx* g, int64_t y, int64_t xa, int64_t xb) noexcept nogil:
    """A span apart from its row's interval while recording a shape: the second interval."""
    cdef int32_t lo = g.lo2[y], hi = g.hi2[y]
    if lo > hi:
        g.lo2[y] = <int32_t>xa
        g.hi2[y] = <int32_t>xb
    elif xa <= hi + 1 and xb >= lo - 1:
        if xa < lo:
            g.lo2[y] = <int32_t>xa
        if xb > hi:
            g.hi2[y] = <int32_t>xb
    else:
        g.overflow = True


cdef inline void _pending_rows(CvCtx* g, int64_t ya, int64_t yb) noexcept nogil:
    """Rows ya..yb may get pending intervals (clipped to the canvas)."""
    if ya < 0:
        ya = 0
    if yb > g.height - 1:
        yb = g.height - 1
    if ya < g.ymin:
        g.ymin = <int>ya
    if yb > g.ymax:
        g.ymax = <int>yb


cdef void _flush(CvCtx* g) noexcept nogil:
    """Write the pending intervals and empty them."""
    cdef Py_ssize_t y
    for y in range(g.ymin, g.ymax + 1):
        if g.lo[y] <= g.hi[y]:
            _paint(g, y, g.lo[y], g.hi[y])
            g.lo[y] = 1 << 30
            g.hi[y] = -(1 << 30)
    g.ymin = g.height
    g.ymax = -1


cdef inline void _set_values(CvCtx* g, const uint8_t[:, ::1] intensity, Py_ssize_t p) noexcept nogil:
    """Draw in point p's values from now on (writing what is pending if they change)."""
    cdef Py_ssize_t ch
    cdef bint same = True
    for ch in range(g.channels):
        if g.values[ch] != intensity[ch, p]:
            same = False
            break
    if same:
        return
    _flush(g)
    for ch in range(g.channels):
        g.values[ch] = intensity[ch, p]


cdef bint _clip_fixed(int64_t width, int64_t height, int64_t* x1, int64_t* y1,
                      int64_t* x2, int64_t* y2) noexcept nogil:
    """Cohen-Sutherland clip of a segment to [0, width-1] x [0, height-1]; False when outside.

    The crossing is interpolated in double and truncated to an integer, first
    against the top/bottom edges and then against the left/right ones; the
    second endpoint's crossing uses the first one already moved.
    """
    cdef int64_t right = width - 1, bottom = height - 1, a
    cdef int c1, c2
    c1 = (x1[0] < 0) + (x1[0] > right) * 2 + (y1[0] < 0) * 4 + (y1[0] > bottom) * 8
    c2 = (x2[0] < 0) + (x2[0] > right) * 2 + (y2[0] < 0) * 4 + (y2[0] > bottom) * 8
    if (c1 & c2) == 0 and (c1 | c2) != 0:
        if c1 & 12:
            a = 0 if c1 < 8 else bottom
            x1[0] += <int64_t>((<double>(a - y1[0])) * (x2[0] - x1[0]) / (y2[0] - y1[0]))
            y1[0] = a
            c1 = (x1[0] < 0) + (x1[0] > right) * 2
        if c2 & 12:
            a = 0 if c2 < 8 else bottom
            x2[0] += <int64_t>((<double>(a - y2[0])) * (x2[0] - x1[0]) / (y2[0] - y1[0]))
            y2[0] = a
            c2 = (x2[0] < 0) + (x2[0] > right) * 2
        if (c1 & c2) == 0 and (c1 | c2) != 0:
            if c1:
                a = 0 if c1 == 1 else right
                y1[0] += <int64_t>((<double>(a - x1[0])) * (y2[0] - y1[0]) / (x2[0] - x1[0]))
                x1[0] = a
                c1 = 0
            if c2:
                a = 0 if c2 == 1 else right
                y2[0] += <int64_t>((<double>(a - x2[0])) * (y2[0] - y1[0]) / (x2[0] - x1[0]))
                x2[0] = a
                c2 = 0
    return (c1 | c2) == 0


cdef void _edge_line(CvCtx* g, int64_t x1, int64_t y1, int64_t x2, int64_t y2) noexcept nogil:
    """A one-pixel 16.16 line (an edge of a band), clipped to the canvas."""
    cdef int64_t dx, dy, step, n, k, pos, major, row, run
    cdef int64_t right = <int64_t>g.width * XY_ONE - 1, bottom = <int64_t>g.height * XY_ONE - 1
    if not (0 <= x1 <= right and 0 <= x2 <= right and 0 <= y1 <= bottom and 0 <= y2 <= bottom):
        if not _clip_fixed(right + 1, bottom + 1, &x1, &y1, &x2, &y2):
            return
    dx = x2 - x1
    dy = y2 - y1
    if (dx if dx >= 0 else -dx) > (dy if dy >= 0 else -dy):
        if dx < 0:
            x1, x2 = x2, x1
            y1, y2 = y2, y1
            dx = -dx
            dy = -dy
        step = (dy * XY_ONE) // (dx | 1)
        n = (x2 - x1) >> XY_SHIFT
        _span(g, (y2 + XY_HALF) >> XY_SHIFT, (x2 + XY_HALF) >> XY_SHIFT, (x2 + XY_HALF) >> XY_SHIFT)
        major = (x1 + XY_HALF) >> XY_SHIFT
        pos = y1 + XY_HALF
        # consecutive pixels of one row go out as one run
        row = pos >> XY_SHIFT
        run = 0
        for k in range(n + 1):
            if (pos >> XY_SHIFT) != row:
                _span(g, row, major + run, major + k - 1)
                row = pos >> XY_SHIFT
                run = k
            pos += step
        _span(g, row, major + run, major + n)
    else:
        if dy < 0:
            x1, x2 = x2, x1
            y1, y2 = y2, y1
            dx = -dx
            dy = -dy
        step = (dx * XY_ONE) // (dy | 1)
        n = (y2 - y1) >> XY_SHIFT
        _span(g, (y2 + XY_HALF) >> XY_SHIFT, (x2 + XY_HALF) >> XY_SHIFT, (x2 + XY_HALF) >> XY_SHIFT)
        major = (y1 + XY_HALF) >> XY_SHIFT
        pos = x1 + XY_HALF
        for k in range(n + 1):
            _span(g, major + k, pos >> XY_SHIFT, pos >> XY_SHIFT)
            pos += step


cdef void _fill_quad(CvCtx* g, const int64_t* vx, const int64_t* vy) noexcept nogil:
    """Scan-convert a convex quadrilateral (16.16 corners, in order); see the module notes."""
    cdef int64_t ymin = vy[0], ymax = vy[0], xmin = vx[0], xmax = vx[0], y, ty, xl, xr
    cdef int64_t cx[2]
    cdef int64_t cdx[2]
    cdef int64_t cend[2]
    cdef int cidx[2]
    cdef int cdir[2]
    cdef int k, w, i0, i1, imin = 0, budget = 4
    for k in range(1, 4):
        if vy[k] < ymin:
            ymin = vy[k]
            imin = k
        if vy[k] > ymax:
            ymax = vy[k]
        if vx[k] < xmin:
            xmin = vx[k]
        if vx[k] > xmax:
            xmax = vx[k]
    ymin = (ymin + XY_HALF) >> XY_SHIFT
    ymax = (ymax + XY_HALF) >> XY_SHIFT
    xmin = (xmin + XY_HALF) >> XY_SHIFT
    xmax = (xmax + XY_HALF) >> XY_SHIFT
    if xmax < 0 or ymax < 0 or xmin >= g.width or ymin >= g.height:
        return
    if ymax > g.height - 1:
        ymax = g.height - 1
    for w in range(2):
        cidx[w] = imin
        cx[w] = -XY_ONE
        cdx[w] = 0
        cend[w] = ymin
    cdir[0] = 1
    cdir[1] = 3
    y = ymin
    while True:
        for w in range(2):
            if y < cend[w]:
                continue
            i0 = cidx[w]
            i1 = (i0 + cdir[w]) & 3
            while True:
                budget -= 1
                if budget < 0:
                    break
                ty = (vy[i1] + XY_HALF) >> XY_SHIFT
                if ty > y:
                    cend[w] = ty
                    cdx[w] = ((vx[i1] - vx[i0]) * 2 + (ty - y)) // (2 * (ty - y))
                    cx[w] = vx[i0]
                    cidx[w] = i1
                    break
                i0 = i1
                i1 = (i1 + cdir[w]) & 3
        if budget < 0:
            break
        if y >= 0:
            xl, xr = cx[0], cx[1]
            if xl > xr:
                xl, xr = xr, xl
            _span(g, y, (xl + XY_HALF) >> XY_SHIFT, (xr + XY_HALF) >> XY_SHIFT)
        cx[0] += cdx[0]
        cx[1] += cdx[1]
        y += 1
        if y > ymax:
            break


cdef inline void _disk(CvCtx* g, int64_t cx, int64_t cy) noexcept nogil:
    cdef int k
    for k in range(-g.radius, g.radius + 1):
        _span(g, cy + k, cx - g.half[k + g.radius], cx + g.half[k + g.radius])


cdef inline bint _band_offset(CvCtx* g, int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                              int64_t* px, int64_t* py) noexcept nogil:
    """The 16.16 offset from the segment to its band's sides (corners at p +- (px, py));
    False for a zero-length segment, which has no band."""
    cdef double ddx = <double>(x0 - x1), ddy = <double>(y1 - y0), r2 = ddx * ddx + ddy * ddy, r
    if r2 == 0.0:
        return False
    # half the thickness in 16.16; odd thicknesses reach half a pixel further
    r = (<double>(g.thickness * XY_HALF) + (XY_HALF if g.thickness & 1 else 0)) / sqrt(r2)
    px[0] = lrint(ddy * r)
    py[0] = lrint(ddx * r)
    return True


cdef void _cv_segment(CvCtx* g, int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                      bint cap0, bint cap1) noexcept nogil:
    """One cv2.line(..., thickness) in the current values: clip, band, its outline, caps."""
    cdef int64_t px, py, X0, Y0, X1, Y1
    cdef int64_t vx[4]
    cdef int64_t vy[4]
    cdef int k, m = g.thickness
    # the segment is first clipped to the canvas grown by the thickness on every side
    # (measured: no other margin reproduces OpenCV for endpoints far outside)
    if not (-m <= x0 < g.width + m and -m <= x1 < g.width + m
            and -m <= y0 < g.height + m and -m <= y1 < g.height + m):
        x0 += m
        y0 += m
        x1 += m
        y1 += m
        if not _clip_fixed(g.width + 2 * m, g.height + 2 * m, &x0, &y0, &x1, &y1):
            return
        x0 -= m
        y0 -= m
        x1 -= m
        y1 -= m
    # every piece lies within radius + 2 rows of the endpoints (corners round to at most
    # half a pixel past the radius)
    _pending_rows(g, (y0 if y0 < y1 else y1) - g.radius - 2, (y1 if y0 < y1 else y0) + g.radius + 2)
    if _band_offset(g, x0, y0, x1, y1, &px, &py):
        X0 = x0 * XY_ONE
        Y0 = y0 * XY_ONE
        X1 = x1 * XY_ONE
        Y1 = y1 * XY_ONE
        vx[0] = X0 + px
        vy[0] = Y0 + py
        vx[1] = X0 - px
        vy[1] = Y0 - py
        vx[2] = X1 - px
        vy[2] = Y1 - py
        vx[3] = X1 + px
        vy[3] = Y1 + py
        _fill_quad(g, vx, vy)
        for k in range(4):
            _edge_line(g, vx[(k + 3) & 3], vy[(k + 3) & 3], vx[k], vy[k])
    else:
        cap0 = True
    if cap0:
        _disk(g, x0, y0)
    if cap1:
        _disk(g, x1, y1)


cdef enum:
    SHAPE_KEYS = 511 * 511            # (dx, dy) in [-255, 255]^2
    SHAPE_POOL_LIMIT = 1 << 25        # int16 entries (64 MiB): the pool of a one-call cache


cdef struct ShapeCache:
    # The pixels of a segment whose band's edge lines are not clipped depend only on
    # (dx, dy): every quantity of the rules above moves by whole pixels with the
    # endpoints, and what falls outside the canvas is dropped when written (_cv_line). A shape is
    # kept as rows (first row and count relative to p0, then per row up to two
    # intervals relative to x0: lo, hi, lo2, hi2 with lo > hi when empty).
    int32_t* index                    # key -> 1 + offset into pool; 0 unknown; -1 not kept
    int16_t* pool
    Py_ssize_t used, cap
    Py_ssize_t limit                  # int16 entries the pool may hold: past it, shapes
                                      # are drawn uncached (its memory bound)
    int32_t* rec                      # recording rows: lo, hi, lo2, hi2 (4 x height)


cdef void _cache_free(ShapeCache* c) noexcept nogil:
    free(c.index)
    free(c.pool)
    free(c.rec)
    c.index = NULL
    c.pool = NULL
    c.rec = NULL


cdef bint _cache_init(ShapeCache* c, int height, Py_ssize_t limit) noexcept nogil:
    """Allocate, for a pool of at most ``limit`` int16 entries; False (and nothing
    allocated) when memory is short: drawing goes on uncached."""
    cdef int k
    c.index = <int32_t*>calloc(SHAPE_KEYS, sizeof(int32_t))
    c.limit = limit if limit > 0 else 0
    c.cap = (1 << 16) if c.limit > (1 << 16) else (c.limit if c.limit > 0 else 1)
    c.used = 0
    c.pool = <int16_t*>malloc(c.cap * sizeof(int16_t))
    c.rec = <int32_t*>malloc(4 * height * sizeof(int32_t))
    if c.index == NULL or c.pool == NULL or c.rec == NULL:
        _cache_free(c)
        return False
    for k in range(height):
        c.rec[k] = 1 << 30
        c.rec[height + k] = -(1 << 30)
        c.rec[2 * height + k] = 1 << 30
        c.rec[3 * height + k] = -(1 << 30)
    return True


cdef int32_t _cache_build(CvCtx* g, ShapeCache* c, int64_t x0, int64_t y0, int64_t x1,
                          int64_t y1) noexcept nogil:
    """Draw the segment into recording rows and keep its shape; returns its index entry."""
    cdef CvCtx rec = g[0]
    cdef int H = g.height, y, first = -1, last = -1, k
    cdef Py_ssize_t need, off, grow
    cdef int16_t* row
    cdef int16_t* grown
    rec.lo = c.rec
    rec.hi = c.rec + H
    rec.lo2 = c.rec + 2 * H
    rec.hi2 = c.rec + 3 * H
    rec.recording = True
    rec.overflow = False
    rec.ymin = H
    rec.ymax = -1
    _cv_segment(&rec, x0, y0, x1, y1, True, True)
    for y in range(rec.ymin, rec.ymax + 1):
        if rec.lo[y] <= rec.hi[y] or rec.lo2[y] <= rec.hi2[y]:
            if first < 0:
                first = y
            last = y
    need = 2 + 4 * (last - first + 1) if first >= 0 else 2
    if rec.overflow or c.used + need > c.limit:
        off = -2
    else:
        if c.used + need > c.cap:
            grow = 2 * (c.used + need + c.cap)
            grow = grow if grow < c.limit else c.limit
            grown = <int16_t*>realloc(c.pool, grow * sizeof(int16_t))
            if grown != NULL:
                c.pool = grown
                c.cap = grow
        if c.used + need > c.cap:
            off = -2
        else:
            off = c.used
            c.used += need
            c.pool[off] = <int16_t>(first - y0 if first >= 0 else 0)
            c.pool[off + 1] = <int16_t>(last - first + 1 if first >= 0 else 0)
            row = c.pool + off + 2
            for y in range(first, last + 1 if first >= 0 else first):
                # an empty interval is stored as (1, 0): the +-2**30 markers overflow int16
                k = 4 * (y - first)
                row[k] = 1
                row[k + 1] = 0
                row[k + 2] = 1
                row[k + 3] = 0
                if rec.lo[y] <= rec.hi[y]:
                    row[k] = <int16_t>(rec.lo[y] - x0)
                    row[k + 1] = <int16_t>(rec.hi[y] - x0)
                if rec.lo2[y] <= rec.hi2[y]:
                    row[k + 2] = <int16_t>(rec.lo2[y] - x0)
                    row[k + 3] = <int16_t>(rec.hi2[y] - x0)
    for y in range(rec.ymin, rec.ymax + 1):
        rec.lo[y] = 1 << 30
        rec.hi[y] = -(1 << 30)
        rec.lo2[y] = 1 << 30
        rec.hi2[y] = -(1 << 30)
    return <int32_t>(off + 1)


cdef bint _corners_inside(CvCtx* g, int64_t x0, int64_t y0, int64_t x1, int64_t y1) noexcept nogil:
    """Whether the band of segment (x0, y0)-(x1, y1) has its four corners inside the
    canvas, so that none of its edge lines is clipped (the corners as ``_cv_segment``
    computes them). A zero-length segment is a disk: no edge lines at all."""
    cdef int64_t px, py, right, bottom
    if not _band_offset(g, x0, y0, x1, y1, &px, &py):
        return True
    px = px if px >= 0 else -px
    py = py if py >= 0 else -py
    right = <int64_t>g.width * XY_ONE - 1
    bottom = <int64_t>g.height * XY_ONE - 1
    return ((x0 if x0 < x1 else x1) * XY_ONE - px >= 0
            and (x1 if x0 < x1 else x0) * XY_ONE + px <= right
            and (y0 if y0 < y1 else y1) * XY_ONE - py >= 0
            and (y1 if y0 < y1 else y0) * XY_ONE + py <= bottom)


cdef void _cv_line(CvCtx* g, ShapeCache* c, int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                   bint cap0, bint cap1) noexcept nogil:
    """A segment, through the shape cache wherever its shape is the cached one.

    A shape is recorded with both endpoints at least radius + 1 px inside the canvas
    (the band's corners then lie half a pixel inside, so no edge line is clipped
    and no row is lost). It is the segment's shape at any other place where no edge
    line is clipped either (``_corners_inside``): the caps' and the band's rows
    outside the canvas are dropped, and their columns clipped, when they are
    written, as ``_cv_segment`` does. Near a border (a doodle's bounding box
    touches 0 and 255) such a segment is recorded at a place inside, of the same
    (dx, dy).
    """
    cdef int m = g.radius + 1, r, nr, k
    cdef int64_t key, y, ry0, dx = x1 - x0, dy = y1 - y0, cx0, cy0
    cdef int32_t entry
    cdef const int16_t* row
    cdef bint inside
    if c == NULL or c.index == NULL:
        _cv_segment(g, x0, y0, x1, y1, cap0, cap1)
        return
    inside = (m <= x0 < g.width - m and m <= x1 < g.width - m
              and m <= y0 < g.height - m and m <= y1 < g.height - m)
    # the index holds (dx, dy) in [-255, 255]^2 (the 256-px canvas)
    if (not (-255 <= dx <= 255 and -255 <= dy <= 255)
            or not (inside or _corners_inside(g, x0, y0, x1, y1))):
        _cv_segment(g, x0, y0, x1, y1, cap0, cap1)
        return
    key = (dx + 255) * 511 + (dy + 255)
    entry = c.index[key]
    if entry == 0:
        if inside:
            entry = _cache_build(g, c, x0, y0, x1, y1)
        elif (dx if dx >= 0 else -dx) < g.width - 2 * m and (dy if dy >= 0 else -dy) < g.height - 2 * m:
            # the first endpoint where both lie m px inside
            cx0 = m + (-dx if dx < 0 else 0)
            cy0 = m + (-dy if dy < 0 else 0)
            entry = _cache_build(g, c, cx0, cy0, cx0 + dx, cy0 + dy)
        else:
            _cv_segment(g, x0, y0, x1, y1, cap0, cap1)
            return
        c.index[key] = entry
    if entry < 0:
        _cv_segment(g, x0, y0, x1, y1, cap0, cap1)
        return
    ry0 = c.pool[entry - 1]
    nr = c.pool[entry]
    row = c.pool + entry + 1
    _pending_rows(g, y0 + ry0, y0 + ry0 + nr - 1)
    for r in range(nr):
        y = y0 + ry0 + r
        if <uint64_t>y >= <uint64_t>g.height or not g.rowmask[y]:
            continue
        k = 4 * r
        if row[k] <= row[k + 1]:
            _span(g, y, x0 + row[k], x0 + row[k + 1])
        if row[k + 2] <= row[k + 3]:
            _span(g, y, x0 + row[k + 2], x0 + row[k + 3])


cdef void _cv_drawing(CvCtx* g, ShapeCache* cache, const int16_t[::1] xs, const int16_t[::1] ys,
                      const int64_t[::1] stroke_offsets, int64_t s0, int64_t s1,
                      const uint8_t[:, ::1] intensity) noexcept nogil:
    """Strokes s0..s1: each segment in its start point's values, a stroke's end cap in
    its last point's (drawn only where it differs: the same disk in the same values
    was already drawn by the last segment), a one-point stroke as a dot."""
    cdef int64_t j, p, p0, p1
    for j in range(s0, s1):
        p0 = stroke_offsets[j]
        p1 = stroke_offsets[j + 1]
        if p1 <= p0:
            continue
        if p1 - p0 == 1:
            _set_values(g, intensity, p0)
            _cv_segment(g, xs[p0], ys[p0], xs[p0], ys[p0], True, True)
            continue
        for p in range(p0, p1 - 1):
            _set_values(g, intensity, p)
            # the end disk is left to the next segment when that draws it in the same values
            _cv_line(g, cache, xs[p], ys[p], xs[p + 1], ys[p + 1], True,
                     p + 1 == p1 - 1 or not _same_values(intensity, p, p + 1))
        if not _same_values(intensity, p1 - 2, p1 - 1):
            _set_values(g, intensity, p1 - 1)
            _cv_segment(g, xs[p1 - 1], ys[p1 - 1], xs[p1 - 1], ys[p1 - 1], True, True)
    _flush(g)


cdef int _cv_setup(CvCtx* g, uint8_t[:, :, ::1] canvas, int thickness, int compose,
                   const uint8_t[::1] rowmask, int32_t[:, ::1] rows) noexcept nogil:
    """Fill g for drawing on ``canvas``; ``rows``: int32 scratch [4, height]."""
    cdef int k, h
    if (thickness < 2 or thickness > MAX_THICKNESS or canvas.shape[0] > 256
            or canvas.shape[0] < 1 or canvas.shape[1] < 1 or canvas.shape[2] < 1
            or rowmask.shape[0] < canvas.shape[1]
            or rows.shape[0] != 4 or rows.shape[1] < canvas.shape[1]):
        return E_SHAPE
    g.canvas = &canvas[0, 0, 0]
    g.cstride = canvas.strides[0]
    g.rstride = canvas.strides[1]
    g.height = <int>canvas.shape[1]
    g.width = <int>canvas.shape[2]
    g.channels = <int>canvas.shape[0]
    g.compose = compose
    g.thickness = thickness
    g.radius = (thickness * XY_HALF + XY_HALF) >> XY_SHIFT
    g.rowmask = &rowmask[0]
    for k in range(-g.radius, g.radius + 1):
        h = 0
        while (h + 1) * (h + 1) + k * k <= g.radius * g.radius:
            h += 1
        g.half[k + g.radius] = h
    g.recording = False
    g.overflow = False
    g.lo2 = NULL
    g.hi2 = NULL
    g.lo = &rows[0, 0]
    g.hi = &rows[1, 0]
    g.dlo = &rows[2, 0]
    g.dhi = &rows[3, 0]
    for k in range(g.height):
        g.lo[k] = 1 << 30
        g.hi[k] = -(1 << 30)
        g.dlo[k] = g.width
        g.dhi[k] = -1
    g.ymin = g.height
    g.ymax = -1
    g.dymin = g.height
    g.dymax = -1
    for k in range(g.channels):
        g.values[k] = 0
    return OK


cdef class _ShapeStore:
    """A shape cache that outlives one call (segment shapes depend only on the thickness).

    One per thread and thickness (rasterfast.render keeps it in a threading.local):
    a kernel call uses it with the GIL released, so it must not be shared between threads.
    It never holds more than ``max_bytes`` (the key index, 1 MiB, the recording rows and
    the shape pool together; nothing at all when ``max_bytes`` leaves no pool of at least
    128 KiB): once the pool is full, new shapes are drawn without the cache.
    """
    cdef ShapeCache c
    cdef bint ok
    cdef readonly int thickness
    cdef readonly Py_ssize_t max_bytes

    def __cinit__(self, int thickness, Py_ssize_t max_bytes):
        self.thickness = thickness
        self.max_bytes = max_bytes
        fixed = SHAPE_KEYS * sizeof(int32_t) + 4 * 256 * sizeof(int32_t)
        # below the index and recording rows, nothing is allocated: drawing goes uncached
        self.ok = (max_bytes >= fixed + (1 << 17)
                   and _cache_init(&self.c, 256, (max_bytes - fixed) // sizeof(int16_t)))
        if not self.ok:
            self.c.index = NULL

    @property
    def nbytes(self):
        """Bytes allocated now: index, recording rows and the pool's capacity."""
        if not self.ok:
            return 0
        return (SHAPE_KEYS * sizeof(int32_t) + 4 * 256 * sizeof(int32_t)
                + self.c.cap * sizeof(int16_t))

    @property
    def pool_bytes(self):
        """Bytes of the shapes kept so far."""
        return self.c.used * sizeof(int16_t) if self.ok else 0

    def __dealloc__(self):
        if self.ok:
            _cache_free(&self.c)


def _draw_cv(uint8_t[:, :, ::1] canvas, const int16_t[::1] xs, const int16_t[::1] ys,
             const int64_t[::1] stroke_offsets, const uint8_t[:, ::1] intensity,
             int thickness, int compose):
    """Draw all strokes onto ``canvas`` [C, H, W] (not cleared) as ``cv2.line`` would.

    A test hook and building block: every stroke of the columns, in order,
    each segment like ``cv2.line(canvas[c], p, q, intensity[c, p], thickness)``.
    Returns ``(status, detail)``.
    """
    cdef CvCtx g
    cdef int status
    cdef int64_t detail = -1
    cdef int64_t last = stroke_offsets.shape[0] - 1
    cdef uint8_t[::1] rowmask = np.ones(max(canvas.shape[1], 1), np.uint8)
    cdef int32_t[:, ::1] rows = np.empty((4, max(canvas.shape[1], 1)), np.int32)
    if (intensity.shape[0] != canvas.shape[0] or intensity.shape[1] != xs.shape[0]
            or ys.shape[0] != xs.shape[0] or stroke_offsets.shape[0] < 1):
        return E_SHAPE, -1
    status = _cv_setup(&g, canvas, thickness, compose, rowmask, rows)
    if status != OK:
        return status, -1
    with nogil:
        status = _check_drawing(0, last, stroke_offsets, xs.shape[0], 0, &detail)
        if status == OK:
            _cv_drawing(&g, NULL, xs, ys, stroke_offsets, 0, last, intensity)
    return status, detail


def _resize_linear(const uint8_t[:, ::1] src, uint8_t[:, ::1] dst, int mode,
                   const int32_t[:, ::1] xtab, const int32_t[:, ::1] ytab,
                   const int32_t[:, ::1] xinv):
    """Resize one 2-D image with the tables of ``rasterfast.render._linear_tables`` (for tests).

    Returns the status (0 when done).
    """
    cdef Resize t
    cdef Py_ssize_t S = dst.shape[0], y
    cdef int32_t[::1] h = np.empty(2 * max(S, 1), np.int32)
    cdef int32_t[::1] dlo = np.zeros(max(src.shape[0], 1), np.int32)
    cdef int32_t[::1] dhi = np.full(max(src.shape[0], 1), src.shape[1] - 1, np.int32)
    if dst.shape[1] != S or src.shape[0] < 1 or src.shape[1] < 1 or mode == RESIZE_COPY:
        return E_SHAPE
    if _resize_setup(&t, <int>S, mode, xtab, ytab, xinv, h, src.shape[0], src.shape[1]) != OK:
        return E_SHAPE
    with nogil:
        _resize(&t, &src[0, 0], src.strides[0], &dlo[0], &dhi[0], &dst[0, 0], dst.strides[0])
    return OK


def _render_cv256(const int16_t[::1] xs, const int16_t[::1] ys,
                  const int64_t[::1] stroke_offsets, const int64_t[::1] drawing_offsets,
                  const uint8_t[:, ::1] intensity, uint8_t[:, :, :, ::1] out,
                  int thickness, int compose, int mode,
                  const int32_t[:, ::1] xtab, const int32_t[:, ::1] ytab,
                  const int32_t[:, ::1] xinv, const uint8_t[::1] rowmask,
                  uint8_t[:, :, ::1] canvas, _ShapeStore store=None):
    """Draw every drawing like cv2.line at 256 px, then resize like cv2.resize into ``out``.

    ``xs``, ``ys``: integer points of the 256 canvas; ``out``: [N, C, S, S];
    ``mode``/``xtab``/``ytab``/``xinv``/``rowmask``: from
    ``rasterfast.render._linear_tables``; ``canvas``: scratch [C, 256, 256],
    all zero; ``store``: a shape cache kept between calls (of this thickness, used
    by one thread at a time), else one is made for this call. Returns ``(status, detail)``.
    """
    cdef Py_ssize_t n = drawing_offsets.shape[0] - 1, i, c, y, C = out.shape[1], S = out.shape[2]
    cdef CvCtx g
    cdef Resize t
    cdef ShapeCache cache
    cdef ShapeCache* shapes = &cache
    cdef bint cached, own = True
    cdef int status
    cdef int64_t detail = -1
    cdef int32_t[:, ::1] rows = np.empty((4, 256), np.int32)
    cdef int32_t[::1] h = np.empty(2 * max(S, 1), np.int32)
    if (n < 0 or out.shape[0] != n or out.shape[3] != S
            or canvas.shape[0] != C or canvas.shape[1] != 256 or canvas.shape[2] != 256
            or intensity.shape[0] != C or intensity.shape[1] != xs.shape[0]
            or ys.shape[0] != xs.shape[0] or stroke_offsets.shape[0] < 1
            or (mode == RESIZE_COPY and S != 256)):
        return E_SHAPE, -1
    if store is not None and store.thickness != thickness:
        return E_SHAPE, -1
    if n == 0 or C == 0:
        return OK, -1
    if store is not None:
        shapes = &store.c
        own = False
    if _resize_setup(&t, <int>S, mode, xtab, ytab, xinv, h, 256, 256) != OK:
        return E_SHAPE, -1
    status = _cv_setup(&g, canvas, thickness, compose, rowmask, rows)
    if status != OK:
        return status, -1
    with nogil:
        # the shape cache pays for itself once a batch has a few thousand segments
        cached = own and xs.shape[0] >= 4096 and _cache_init(&cache, 256, SHAPE_POOL_LIMIT)
        if own and not cached:
            cache.index = NULL
        for i in range(n):
            status = _check_drawing(drawing_offsets[i], drawing_offsets[i + 1], stroke_offsets,
                                    xs.shape[0], i, &detail)
            if status != OK:
                break
            for c in range(C):
                g.values[c] = 0
            if mode == RESIZE_COPY:
                # draw straight into the output, cleared first
                g.canvas = &out[i, 0, 0, 0]
                g.cstride = out.strides[1]
                g.rstride = out.strides[2]
                for c in range(C):
                    for y in range(256):
                        memset(&out[i, c, y, 0], 0, 256)
            _cv_drawing(&g, shapes, xs, ys, stroke_offsets, drawing_offsets[i],
                        drawing_offsets[i + 1], intensity)
            if mode != RESIZE_COPY:
                for c in range(C):
                    _resize(&t, &canvas[c, 0, 0], canvas.strides[1], g.dlo, g.dhi,
                            &out[i, c, 0, 0], out.strides[2])
            # back to a clean canvas: clear only what was written
            for y in range(g.dymin, g.dymax + 1):
                if g.dlo[y] <= g.dhi[y]:
                    if mode != RESIZE_COPY:
                        for c in range(C):
                            memset(&canvas[c, y, g.dlo[y]], 0, <size_t>(g.dhi[y] - g.dlo[y] + 1))
                    g.dlo[y] = 256
                    g.dhi[y] = -1
            g.dymin = 256
            g.dymax = -1
        if cached:
            _cache_free(&cache)
    return status, detail
