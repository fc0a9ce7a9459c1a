# cython: language_level=3, cdivision=True
# (bounds and wraparound checks are set by setup.py: off, or on with RASTERFAST_BOUNDSCHECK=1)
"""Private kernel: thick polylines drawn directly at the output size, GIL released.

Every segment is a capsule: the points within ``r`` of it (a band with round
caps; consecutive segments give round joins). A capsule is convex, so each row
holds one interval of it; the interval is the union of the band's (bounded by
two lines parallel to the segment and two perpendicular to it, all linear in
the row, set up once per segment) and the caps' (one square root in the rows
near an endpoint). The cost is a few operations per row plus the bytes written,
whatever the coordinates: a segment from -1e6 to +1e6 costs the rows of the
canvas.

Without antialiasing a pixel is inked when its centre lies within ``r`` of the
segment. With it, its coverage is ``clip(r + 1/2 - d, 0, 1)`` for ``d`` the
distance of its centre to the segment: pixels inside the interval at ``r - 1/2``
are fully covered, the distance is computed only on the fringe (no
supersampling). Antialiased "paint" lays each stroke over what was there before
it with the largest coverage any of its segments gives (per-pixel scratch
remembers the stroke, its coverage and the values under it), so joints are not
darkened by being drawn twice.

Values: the segment from point p to p+1 is drawn in ``intensity[:, p]``; a
one-point stroke is a dot in its point's values; a stroke's end cap is drawn
again in its last point's values where those differ.

References
----------
J. D. Foley et al., *Computer Graphics: Principles and Practice*, 2nd ed.,
§3.9 (thick primitives), §3.17 (antialiasing: unweighted area sampling, here
approximated by the distance to the centre line).
"""

from libc.math cimport sqrt, isfinite, INFINITY, NAN
from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

from _status cimport OK, E_SHAPE
from _rastercommon cimport (COMPOSE_PAINT, COMPOSE_MAX, _fill_bytes, _max_bytes,
                            _same_values, _check_drawing)



cdef struct Lines:
    # the band's interval in row y: [max(a0 + y*s0, a1 + y*s1), min(b0 + y*s0, b1 + y*s1)]
    # for rows ylo..yhi; s0 for the lines across the segment's ends, s1 along its sides
    double a0, b0, s0, a1, b1, s1, ylo, yhi


cdef struct Capsule:
    double x0, y0, x1, y1     # endpoints, output pixel frame (pixel centres at integers)
    double dx, dy, len2, inv_len2
    bint cap0, cap1           # include the disk around p0 / p1


cdef struct DirectCtx:
    uint8_t* out              # channel c, row y, column x at out[c * cstride + y * rstride + x]
    Py_ssize_t cstride, rstride
    int size, channels, compose
    bint antialias
    double radius
    # per-pixel scratch for antialiased "paint": the stroke that last touched the
    # pixel, the largest coverage it gave, and the values before that stroke
    int64_t* tag
    uint8_t* cov
    uint8_t* base             # channel c of pixel k at base[c * size * size + k]
    int64_t stroke_id
    uint8_t values[256]       # the values being drawn, per channel
    uint64_t words[256]       # each value repeated in the 8 bytes of a word (solid paint)
    # the largest offset (in channel 0's plane) at which a short span may be written as
    # a masked 8-byte read-modify-write in every channel (``_paint_span``); -1: never
    Py_ssize_t short_limit


cdef inline void _capsule_set(Capsule* c, double x0, double y0, double x1, double y1,
                              bint cap0, bint cap1) noexcept nogil:
    c.x0 = x0
    c.y0 = y0
    c.x1 = x1
    c.y1 = y1
    c.dx = x1 - x0
    c.dy = y1 - y0
    c.len2 = c.dx * c.dx + c.dy * c.dy
    # a zero-length segment is its disk, whichever cap was asked for
    c.cap0 = cap0 or c.len2 == 0.0
    c.cap1 = cap1 and c.len2 > 0.0


cdef inline void _band_lines(const Capsule* c, double rho, Lines* l) noexcept nogil:
    """Set up the band's row intervals at distance rho (empty when the segment is a point)."""
    cdef double length, k, half
    l.a0 = -INFINITY
    l.b0 = INFINITY
    l.s0 = 0.0
    l.a1 = -INFINITY
    l.b1 = INFINITY
    l.s1 = 0.0
    if c.len2 == 0.0:
        l.ylo = 1.0
        l.yhi = -1.0
        return
    l.ylo = c.y0 - rho if c.y0 < c.y1 else c.y1 - rho
    l.yhi = c.y1 + rho if c.y0 < c.y1 else c.y0 + rho
    length = sqrt(c.len2)
    # across the ends: 0 <= (q - p0) . d <= |d|^2
    if c.dx != 0.0:
        k = -c.dy / c.dx
        l.s0 = k
        if c.dx > 0.0:
            l.a0 = c.x0 - c.y0 * k
            l.b0 = l.a0 + c.len2 / c.dx
        else:
            l.b0 = c.x0 - c.y0 * k
            l.a0 = l.b0 + c.len2 / c.dx
    else:
        l.ylo = c.y0 if c.y0 < c.y1 else c.y1
        l.yhi = c.y1 if c.y0 < c.y1 else c.y0
    # along the sides: |(q - p0) x d| <= rho |d|
    if c.dy != 0.0:
        k = c.dx / c.dy
        half = rho * length / (c.dy if c.dy > 0.0 else -c.dy)
        l.s1 = k
        l.a1 = c.x0 - c.y0 * k - half
        l.b1 = c.x0 - c.y0 * k + half
    else:
        l.ylo = c.y0 - rho
        l.yhi = c.y0 + rho


cdef inline bint _row(const Capsule* c, const Lines* l, double rho, double y,
                      double* lo, double* hi) noexcept nogil:
    """The x-interval of row y within rho of the capsule; False when empty."""
    cdef double a = INFINITY, b = -INFINITY, u, v, e
    if l.ylo <= y <= l.yhi:
        a = l.a0 + y * l.s0
        u = l.a1 + y * l.s1
        if u > a:
            a = u
        b = l.b0 + y * l.s0
        v = l.b1 + y * l.s1
        if v < b:
            b = v
        if a > b:
            a = INFINITY
            b = -INFINITY
    if c.cap0:
        u = y - c.y0
        e = rho * rho - u * u
        if e >= 0.0:
            e = sqrt(e)
            if c.x0 - e < a:
                a = c.x0 - e
            if c.x0 + e > b:
                b = c.x0 + e
    if c.cap1:
        u = y - c.y1
        e = rho * rho - u * u
        if e >= 0.0:
            e = sqrt(e)
            if c.x1 - e < a:
                a = c.x1 - e
            if c.x1 + e > b:
                b = c.x1 + e
    lo[0] = a
    hi[0] = b
    return a <= b


cdef inline double _capsule_dist(const Capsule* c, double px, double py) noexcept nogil:
    """Distance of (px, py) to the segment."""
    cdef double qx = px - c.x0, qy = py - c.y0, t = 0.0
    if c.len2 > 0.0:
        t = (qx * c.dx + qy * c.dy) * c.inv_len2
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
    qx -= t * c.dx
    qy -= t * c.dy
    return sqrt(qx * qx + qy * qy)


cdef inline void _put_aa(DirectCtx* g, Py_ssize_t y, Py_ssize_t x, int a) noexcept nogil:
    """Write coverage a (1-255) of the current values at (x, y), inside the canvas."""
    cdef Py_ssize_t k, ch, off = y * g.rstride + x
    cdef uint8_t* p
    cdef int v, b
    if g.compose == COMPOSE_MAX:
        for ch in range(g.channels):
            p = g.out + ch * g.cstride + off
            v = g.values[ch]
            if a < 255:
                v = (v * a + 127) // 255
            if v > p[0]:
                p[0] = <uint8_t>v
        return
    k = y * g.size + x
    if g.tag[k] != g.stroke_id:
        g.tag[k] = g.stroke_id
        g.cov[k] = 0
        for ch in range(g.channels):
            g.base[ch * g.size * g.size + k] = g.out[ch * g.cstride + off]
    if a <= g.cov[k]:
        return
    g.cov[k] = <uint8_t>a
    for ch in range(g.channels):
        b = g.base[ch * g.size * g.size + k]
        g.out[ch * g.cstride + off] = <uint8_t>((b * (255 - a) + g.values[ch] * a + 127) // 255)


cdef inline void _set_values(DirectCtx* g, const uint8_t[:, ::1] intensity, int64_t p) noexcept nogil:
    """Draw in point p's values from now on."""
    cdef Py_ssize_t ch
    for ch in range(g.channels):
        g.values[ch] = intensity[ch, p]
        g.words[ch] = <uint64_t>intensity[ch, p] * <uint64_t>0x0101010101010101


cdef inline Py_ssize_t _first(double lo, Py_ssize_t n) noexcept nogil:
    """ceil(lo) clamped to [0, n] (lo may be infinite)."""
    cdef Py_ssize_t t
    if lo <= 0.0:
        return 0
    if lo >= <double>n:
        return n
    # ceil of a positive double below n: truncation plus one unless integral (no libm call)
    t = <Py_ssize_t>lo
    return t + (<double>t < lo)


cdef inline Py_ssize_t _last(double hi, Py_ssize_t n) noexcept nogil:
    """floor(hi) clamped to [-1, n - 1] (hi may be infinite)."""
    if hi < 0.0:
        return -1
    if hi >= <double>(n - 1):
        return n - 1
    return <Py_ssize_t>hi             # hi >= 0 here: truncation is floor


# SHORT_MASK[n]: the first n bytes 0xff, as a word read from memory (so it is right on
# either byte order); the masked store of a span of n <= 8 bytes.
cdef uint64_t[9] SHORT_MASK
cdef uint8_t[8] _mask_bytes
cdef int _n, _b
for _n in range(9):
    for _b in range(8):
        _mask_bytes[_b] = 0xff if _b < _n else 0
    memcpy(&SHORT_MASK[_n], _mask_bytes, 8)


cdef inline void _paint_span(DirectCtx* g, Py_ssize_t off, Py_ssize_t n) noexcept nogil:
    """Solid paint of bytes off..off+n-1 (n >= 1) of every channel's plane.

    The spans of a doodle are mostly 1-8 bytes of varying length, where the size
    dispatch of ``_fill_bytes`` mispredicts a branch per row. A span of at most
    8 bytes is one masked read-modify-write of 8 bytes per channel instead, when
    the image is one dense block and the word ends inside it (``off <=
    g.short_limit``): the bytes past the span are written back unchanged, and
    they are this image's own pixels, drawn by this thread only. 8-16 bytes are
    two overlapping word stores. The choice is made once for all channels.
    """
    cdef uint8_t* p = g.out + off
    cdef uint64_t w, m
    cdef Py_ssize_t ch
    if n <= 8 and off <= g.short_limit:
        m = SHORT_MASK[n]
        for ch in range(g.channels):
            memcpy(&w, p, 8)
            w = (w & ~m) | (g.words[ch] & m)
            memcpy(p, &w, 8)
            p += g.cstride
    elif 8 <= n <= 16:
        for ch in range(g.channels):
            memcpy(p, &g.words[ch], 8)
            memcpy(p + n - 8, &g.words[ch], 8)
            p += g.cstride
    else:
        for ch in range(g.channels):
            _fill_bytes(p, n, g.values[ch])
            p += g.cstride


cdef inline Py_ssize_t _ceil_in(double lo, Py_ssize_t n) noexcept nogil:
    """ceil(lo) clamped to [0, n], as ``_first``, without branches (lo not NaN)."""
    cdef Py_ssize_t t
    lo = lo if lo > 0.0 else 0.0
    lo = lo if lo < <double>n else <double>n
    t = <Py_ssize_t>lo
    return t + (<double>t < lo)


cdef inline Py_ssize_t _floor_in(double hi, Py_ssize_t n) noexcept nogil:
    """floor(hi) clamped to [-1, n - 1], as ``_last``, without branches (hi not NaN)."""
    cdef Py_ssize_t t
    hi = hi if hi < <double>(n - 1) else <double>(n - 1)
    hi = hi if hi > -1.0 else -1.0
    t = <Py_ssize_t>hi
    return t - (<double>t > hi)


cdef inline void _disk_row(double cx, double cy, double r, double yd, double* a,
                           double* b) noexcept nogil:
    """Widen [a, b] to the x-interval of row yd within r of (cx, cy), if it has one
    (the arithmetic of ``_row``'s caps, selected rather than branched)."""
    cdef double u = yd - cy, e = r * r - u * u, lo, hi
    cdef bint inside = e >= 0.0
    e = sqrt(e if inside else 0.0)
    lo = cx - e if inside else INFINITY
    hi = cx + e if inside else -INFINITY
    a[0] = lo if lo < a[0] else a[0]
    b[0] = hi if hi > b[0] else b[0]


cdef void _draw_capsule_solid(DirectCtx* g, const Capsule* c) noexcept nogil:
    """The capsule without antialiasing: the pixels whose centre lies within r.

    The same row intervals as ``_row`` with the same arithmetic (so the same
    pixels), arranged for speed: the rows of the band and of the two caps are
    found once per segment as integer ranges (``y >= ylo`` for an integer y is
    ``y >= ceil(ylo)``), so that a row only evaluates the pieces that can reach
    it; a cap's test ``r*r - u*u >= 0`` is still made in each of its rows, over
    a range one row wider than it can reach, so that rounding decides as before.
    """
    cdef double r = g.radius, a, b, u, v
    cdef Py_ssize_t S = g.size, y, ya, yb, ba, bb, c0a, c0b, c1a, c1b, xa, xb, n, ch, off
    cdef Lines l
    cdef double yd
    cdef bint empty
    if not (isfinite(c.x0) and isfinite(c.y0) and isfinite(c.x1) and isfinite(c.y1)):
        return
    _band_lines(c, r, &l)
    ya = _ceil_in((c.y0 if c.y0 < c.y1 else c.y1) - r, S)
    yb = _floor_in((c.y1 if c.y0 < c.y1 else c.y0) + r, S)
    ba = _ceil_in(l.ylo, S)
    bb = _floor_in(l.yhi, S)
    c0a, c0b = 1, 0
    if c.cap0:
        c0a = _ceil_in(c.y0 - r - 1.0, S)
        c0b = _floor_in(c.y0 + r + 1.0, S)
    c1a, c1b = 1, 0
    if c.cap1:
        c1a = _ceil_in(c.y1 - r - 1.0, S)
        c1b = _floor_in(c.y1 + r + 1.0, S)
    # the row body selects rather than branches (minsd/maxsd/cmov): which piece of the
    # capsule bounds a row changes from row to row and would mispredict
    for y in range(ya, yb + 1):
        yd = <double>y
        a = INFINITY
        b = -INFINITY
        if ba <= y <= bb:
            a = l.a0 + yd * l.s0
            u = l.a1 + yd * l.s1
            a = u if u > a else a
            b = l.b0 + yd * l.s0
            v = l.b1 + yd * l.s1
            b = v if v < b else b
            empty = a > b
            a = INFINITY if empty else a
            b = -INFINITY if empty else b
        if c0a <= y <= c0b:
            _disk_row(c.x0, c.y0, r, yd, &a, &b)
        if c1a <= y <= c1b:
            _disk_row(c.x1, c.y1, r, yd, &a, &b)
        if not a <= b:
            continue
        xa = _ceil_in(a, S)
        xb = _floor_in(b, S)
        if xa > xb:
            continue
        n = xb - xa + 1
        off = y * g.rstride + xa
        if g.compose == COMPOSE_PAINT:
            _paint_span(g, off, n)
        else:
            for ch in range(g.channels):
                _max_bytes(g.out + ch * g.cstride + off, n, g.values[ch])


cdef void _draw_capsule(DirectCtx* g, Capsule* c) noexcept nogil:
    cdef double r = g.radius, rho, lo, hi, ilo, ihi, d
    cdef Py_ssize_t S = g.size, y, y0, y1, x, xa, xb, ia, ib, ch
    cdef int a
    cdef Lines outer, inner
    cdef bint has_inner
    if not g.antialias:
        _draw_capsule_solid(g, c)
        return
    if not (isfinite(c.x0) and isfinite(c.y0) and isfinite(c.x1) and isfinite(c.y1)):
        return
    # only the fringe distances of antialiasing divide by the length
    c.inv_len2 = 1.0 / c.len2 if c.len2 > 0.0 else 0.0
    rho = r + 0.5
    _band_lines(c, rho, &outer)
    has_inner = r > 0.5
    if has_inner:
        _band_lines(c, r - 0.5, &inner)
    y0 = _first((c.y0 if c.y0 < c.y1 else c.y1) - rho, S)
    y1 = _last((c.y1 if c.y0 < c.y1 else c.y0) + rho, S)
    for y in range(y0, y1 + 1):
        if not _row(c, &outer, rho, <double>y, &lo, &hi):
            continue
        xa = _first(lo, S)
        xb = _last(hi, S)
        if xa > xb:
            continue
        ia = 1
        ib = 0
        if has_inner and _row(c, &inner, r - 0.5, <double>y, &ilo, &ihi):
            ia = _first(ilo, S)
            ib = _last(ihi, S)
        for x in range(xa, xb + 1):
            if ia <= x <= ib:
                a = 255
            else:
                d = r + 0.5 - _capsule_dist(c, <double>x, <double>y)
                if d <= 0.0:
                    continue
                a = 255 if d >= 1.0 else <int>(d * 255.0 + 0.5)
                if a == 0:
                    continue
            _put_aa(g, y, x, a)


ctypedef fused coord_t:
    int16_t
    float


cdef void _direct_drawing(DirectCtx* g, const coord_t[::1] xs, const coord_t[::1] ys,
                          double scale, double bx, double by,
                          const int64_t[::1] stroke_offsets, int64_t s0, int64_t s1,
                          const uint8_t[:, ::1] intensity) noexcept nogil:
    """Strokes s0..s1; point p lands at (scale * xs[p] + bx, scale * ys[p] + by)."""
    cdef int64_t j, p, p0, p1
    cdef Capsule cap
    cdef double xa, ya, xb, yb
    cdef bint same
    for j in range(s0, s1):
        p0 = stroke_offsets[j]
        p1 = stroke_offsets[j + 1]
        if p1 <= p0:
            continue
        g.stroke_id = j
        if p1 - p0 == 1:
            _set_values(g, intensity, p0)
            _capsule_set(&cap, scale * xs[p0] + bx, scale * ys[p0] + by,
                         scale * xs[p0] + bx, scale * ys[p0] + by, True, True)
            _draw_capsule(g, &cap)
            continue
        # each point's frame position is computed once (it ends one segment and starts
        # the next); the values are set again only where they change
        xa = scale * xs[p0] + bx
        ya = scale * ys[p0] + by
        _set_values(g, intensity, p0)
        for p in range(p0, p1 - 1):
            xb = scale * xs[p + 1] + bx
            yb = scale * ys[p + 1] + by
            same = _same_values(intensity, p, p + 1)
            # the end disk is left to the next segment when that draws it in the same values
            _capsule_set(&cap, xa, ya, xb, yb, True, p + 1 == p1 - 1 or not same)
            _draw_capsule(g, &cap)
            if not same:
                _set_values(g, intensity, p + 1)
            xa = xb
            ya = yb
        if not _same_values(intensity, p1 - 2, p1 - 1):
            _capsule_set(&cap, scale * xs[p1 - 1] + bx, scale * ys[p1 - 1] + by,
                         scale * xs[p1 - 1] + bx, scale * ys[p1 - 1] + by, True, True)
            _draw_capsule(g, &cap)


def _render_direct(const coord_t[::1] xs, const coord_t[::1] ys, const double[:, ::1] affine,
                   const int64_t[::1] stroke_offsets, const int64_t[::1] drawing_offsets,
                   const uint8_t[:, ::1] intensity, uint8_t[:, :, :, ::1] out,
                   double radius, bint antialias, int compose,
                   int64_t[::1] tag, uint8_t[::1] cov, uint8_t[::1] base):
    """Draw every drawing as capsules of ``radius`` px into ``out`` (each image cleared first).

    ``xs``, ``ys``: point coordinates; drawing i's point p lands at
    ``(a * xs[p] + bx, a * ys[p] + by)`` of the output pixel frame (pixel
    centres at integers) with ``a, bx, by = affine[i]``. ``intensity[c, p]``:
    channel c's value of the segment starting at point p. ``out``: [N, C, S, S].
    ``tag``/``cov``/``base``: scratch for antialiased paint (sizes S*S, S*S,
    C*S*S; ``tag`` filled with -1), else may be empty. Returns ``(status, detail)``.
    """
    cdef Py_ssize_t n = drawing_offsets.shape[0] - 1, i, c, y, C = out.shape[1], S = out.shape[2]
    cdef DirectCtx g
    cdef int status = OK
    cdef int64_t detail = -1
    cdef bint dense
    if (n < 0 or out.shape[0] != n or out.shape[3] != S or C > 256
            or affine.shape[0] != n or affine.shape[1] != 3
            or intensity.shape[0] != C or intensity.shape[1] != xs.shape[0]
            or ys.shape[0] != xs.shape[0] or stroke_offsets.shape[0] < 1
            or not (radius >= 0.0) or compose not in (COMPOSE_PAINT, COMPOSE_MAX)
            or (antialias and compose == COMPOSE_PAINT
                and (tag.shape[0] < S * S or cov.shape[0] < S * S or base.shape[0] < C * S * S))):
        return E_SHAPE, -1
    if n == 0 or C == 0 or S == 0:
        return OK, -1
    g.cstride = out.strides[1]
    g.rstride = out.strides[2]
    # one image is one block of C * S * S bytes: cleared with one memset
    dense = g.rstride == S and g.cstride == S * S
    g.size = <int>S
    g.channels = <int>C
    g.compose = compose
    g.antialias = antialias
    g.radius = radius
    g.tag = &tag[0] if tag.shape[0] else NULL
    g.cov = &cov[0] if cov.shape[0] else NULL
    g.base = &base[0] if base.shape[0] else NULL
    # an 8-byte word at offset o of channel C-1 ends inside the image when
    # (C - 1) * S * S + o + 8 <= C * S * S
    g.short_limit = S * S - 8 if dense else -1
    with nogil:
        for i in range(n):
            status = _check_drawing(drawing_offsets[i], drawing_offsets[i + 1], stroke_offsets,
                                    xs.shape[0], i, &detail)
            if status != OK:
                break
            g.out = &out[i, 0, 0, 0]
            if dense:
                memset(g.out, 0, <size_t>(C * S * S))
            else:
                for c in range(C):
                    for y in range(S):
                        memset(&out[i, c, y, 0], 0, <size_t>S)
            _direct_drawing(&g, xs, ys, affine[i, 0], affine[i, 1], affine[i, 2], stroke_offsets,
                            drawing_offsets[i], drawing_offsets[i + 1], intensity)
    return status, detail


def _bbox_fit(const coord_t[::1] xs, const coord_t[::1] ys, const int64_t[::1] stroke_offsets,
              const int64_t[::1] drawing_offsets, double[:, ::1] fit):
    """Per drawing ``(x0, y0, k)``: its bounding box corner and ``255 / extent``.

    ``extent`` is the larger side of the box; ``k`` is 1 for a drawing with no
    points or a zero extent. A NaN coordinate makes the drawing's box NaN (as a
    numpy reduction would: that axis's corner is NaN and k is 1). One pass over the points, GIL released. Returns
    ``(status, detail)``.
    """
    cdef Py_ssize_t n = drawing_offsets.shape[0] - 1, i
    cdef int64_t p, p0, p1, detail = -1
    cdef double x0, x1, y0, y1, v, w, extent
    cdef bint nanx, nany
    cdef int status = OK
    if (n < 0 or fit.shape[0] != n or fit.shape[1] != 3 or ys.shape[0] != xs.shape[0]
            or stroke_offsets.shape[0] < 1):
        return E_SHAPE, -1
    with nogil:
        for i in range(n):
            status = _check_drawing(drawing_offsets[i], drawing_offsets[i + 1], stroke_offsets,
                                    xs.shape[0], i, &detail)
            if status != OK:
                break
            p0 = stroke_offsets[drawing_offsets[i]]
            p1 = stroke_offsets[drawing_offsets[i + 1]]
            fit[i, 0] = 0.0
            fit[i, 1] = 0.0
            fit[i, 2] = 1.0
            if p1 <= p0:
                continue
            x0 = x1 = <double>xs[p0]
            y0 = y1 = <double>ys[p0]
            nanx = False
            nany = False
            for p in range(p0, p1):
                v = <double>xs[p]
                w = <double>ys[p]
                nanx = nanx | (v != v)
                nany = nany | (w != w)
                x0 = v if v < x0 else x0
                x1 = v if v > x1 else x1
                y0 = w if w < y0 else y0
                y1 = w if w > y1 else y1
            if nanx:
                x0 = NAN
            if nany:
                y0 = NAN
            extent = x1 - x0 if x1 - x0 > y1 - y0 else y1 - y0
            if nanx or nany:
                extent = NAN
            fit[i, 0] = x0
            fit[i, 1] = y0
            fit[i, 2] = 255.0 / extent if extent > 0.0 else 1.0
    return status, detail
