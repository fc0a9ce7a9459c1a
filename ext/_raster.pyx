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

from _rastercommon cimport (OK, E_SHAPE, COMPOSE_PAINT, COMPOSE_MAX, _fill_bytes, _max_bytes,
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


cdef inline void _capsule_set(Capsule* c, double x0, double y0, double x1, double y1,
                              bint cap0, bint cap1) noexcept nogil:
    c.x0 = x0
    c.y0 = y0
    c.x1 = x1
    c.y1 = y1
    c.dx = x1 - x0
    c.dy = y1 - y0
    c.len2 = c.dx * c.dx + c.dy * c.dy
    c.inv_len2 = 1.0 / c.len2 if c.len2 > 0.0 else 0.0
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


cdef void _paint_solid(DirectCtx* g, Py_ssize_t off, Py_ssize_t n) noexcept nogil:
    """Paint ``n`` bytes at offset ``off`` of every channel in the current values.

    The channels share the length, so the choice of stores is made once per row
    rather than once per channel (``_fill_bytes``), with the words ready made.
    """
    cdef Py_ssize_t ch, i
    cdef uint8_t* p
    if n > 64:
        for ch in range(g.channels):
            memset(g.out + ch * g.cstride + off, g.values[ch], <size_t>n)
    elif n >= 8:
        for ch in range(g.channels):
            p = g.out + ch * g.cstride + off
            i = 0
            while i + 8 < n:
                memcpy(p + i, &g.words[ch], 8)
                i += 8
            memcpy(p + n - 8, &g.words[ch], 8)
    elif n >= 4:
        for ch in range(g.channels):
            p = g.out + ch * g.cstride + off
            memcpy(p, &g.words[ch], 4)
            memcpy(p + n - 4, &g.words[ch], 4)
    elif n >= 2:
        for ch in range(g.channels):
            p = g.out + ch * g.cstride + off
            memcpy(p, &g.words[ch], 2)
            memcpy(p + n - 2, &g.words[ch], 2)
    else:
        for ch in range(g.channels):
            g.out[ch * g.cstride + off] = g.values[ch]


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


cdef void _draw_capsule(DirectCtx* g, const Capsule* c) noexcept nogil:
    cdef double r = g.radius, rho, lo, hi, ilo, ihi, d
    cdef Py_ssize_t S = g.size, y, y0, y1, x, xa, xb, ia, ib, ch
    cdef int a
    cdef Lines outer, inner
    cdef bint has_inner
    if not (isfinite(c.x0) and isfinite(c.y0) and isfinite(c.x1) and isfinite(c.y1)):
        return
    rho = r + 0.5 if g.antialias else r
    _band_lines(c, rho, &outer)
    has_inner = g.antialias and r > 0.5
    if has_inner:                     # only antialiasing reads the inner band
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
        if not g.antialias:
            if g.compose == COMPOSE_PAINT:
                if g.channels == 1:
                    _fill_bytes(g.out + y * g.rstride + xa, xb - xa + 1, g.values[0])
                else:
                    _paint_solid(g, y * g.rstride + xa, xb - xa + 1)
                continue
            for ch in range(g.channels):
                _max_bytes(g.out + ch * g.cstride + y * g.rstride + xa, xb - xa + 1,
                           g.values[ch])
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
    cdef Py_ssize_t ch
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
        for p in range(p0, p1 - 1):
            _set_values(g, intensity, p)
            # the end disk is left to the next segment when that draws it in the same values
            _capsule_set(&cap, scale * xs[p] + bx, scale * ys[p] + by,
                         scale * xs[p + 1] + bx, scale * ys[p + 1] + by, True,
                         p + 1 == p1 - 1 or not _same_values(intensity, p, p + 1))
            _draw_capsule(g, &cap)
        if not _same_values(intensity, p1 - 2, p1 - 1):
            _set_values(g, intensity, p1 - 1)
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
