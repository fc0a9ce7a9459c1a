# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (off; on with
# RASTERFAST_BOUNDSCHECK=1): a directive in this header would override that switch.
# distutils: extra_compile_args = -ffp-contract=off
"""Private kernel: Google's raw-to-simplified procedure for many drawings, GIL released.

For each drawing of a raw batch (float32 x/y, optional int32 t):

1. align: subtract the drawing's minimum x and y;
2. scale uniformly: ``v * 255 / e`` with ``e = max(width, height)`` (in that
   order of operations, float64);
3. resample each stroke at every whole multiple ``k * spacing`` of its arc
   length: the point is ``p * (1 - u) + q * u`` with ``u = (k * spacing - c) / L``
   on the segment ``p -> q`` of length ``L = sqrt(dx*dx + dy*dy)`` that starts
   at arc length ``c`` (the running sum of the segment lengths, zero-length
   segments skipped); the stroke's last point is added when the last sample
   is not it, so a stroke has at least two points (a one-point stroke gives two);
4. Ramer-Douglas-Peucker with the distance ``|d x (a - p)| / |d|`` to the line
   through the chord ``a -> b`` (``d = b - a``), ``|d| = sqrt(fma(dx, dx, dy*dy))``,
   the first point of largest distance splitting when it is ``> epsilon``; a
   chord whose ends coincide uses the distance to ``a``, ``sqrt(fma(ex, ex, ey*ey))``;
5. round half to even (``rint``) to int16 0-255.

These arithmetic details are not decoration: with them the 7,853 real
(raw, simplified) pairs of the test sample are reproduced exactly. Ties in
step 4 are common (resampled points on a raw segment parallel to the chord
are equidistant) and only this exact float64 arithmetic breaks them the way
Google's files do; it matches numpy elementwise code for the resampling and
the Python ``rdp`` package (``np.linalg.norm`` through a BLAS ``ddot`` that
uses FMA) for step 4. ``-ffp-contract=off`` keeps compilers from fusing any
other multiply-add, which would change those ties.

Times: the time of a resampled point is ``tp + (tq - tp) * u`` rounded half
to even, with the same ``u`` as its coordinates; it lies between the times of
the segment's ends, is monotone where the input is, and the first and last
points keep their input times exactly (a stroke that ends on repeated
points ends with the last of their times).

Memory per call: the resampled points of one stroke at a time (growable
scratch), the RDP stack, and the output. A stroke that would resample to
more than ``max_points`` points is a per-drawing error instead of a memory
hog (raw coordinates can be huge, but after scaling a segment is at most
``255 * sqrt(2)`` long, so the count is bounded by ``361 * points / spacing``).
Work: O(resampled points * kept points) per stroke at worst, O(n log n) typical.

References
----------
U. Ramer, "An iterative procedure for the polygonal approximation of plane
curves", Computer Graphics and Image Processing 1(3), 1972.
D. Douglas, T. Peucker, "Algorithms for the reduction of the number of points
required to represent a digitized line or its caricature", Cartographica
10(2), 1973.
The Quick, Draw! dataset README (github.com/googlecreativelab/quickdraw-dataset),
"Preprocessing": the four steps above, epsilon 2.0.
"""

from libc.math cimport sqrt, fma, rint, floor, fabs, isfinite
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t
from libc.stdlib cimport realloc, free

import numpy as np

# Raw coordinates: float32 (the StrokeBatch layout) or float64. Google computed
# from the decimal text, so only float64 input reproduces its files on the
# drawings whose coordinates float32 cannot hold (about 9% of real raw ones).
ctypedef fused coord_t:
    float
    double

# Status codes: ext/_status.pxd (rasterfast.errors.STATUS_ERRORS turns them into messages).
# Per drawing: E_TOO_LONG (detail: stroke of the drawing), E_NONFINITE_POINT (detail: point);
# whole call: E_LENGTHS, E_OFFSETS, E_NOMEM.
from _status cimport OK, E_TOO_LONG, E_NONFINITE_POINT, E_LENGTHS, E_OFFSETS, E_NOMEM


ctypedef struct Scratch:
    # resampled points of the current stroke
    double* rx
    double* ry
    double* rt          # times unrounded: rint only for the kept points
    double* cb          # RDP: cross products of the current chord
    int64_t cap_r
    # RDP stack of (a, b) pairs
    int64_t* stack
    int64_t cap_s
    # output points
    int16_t* ox
    int16_t* oy
    int32_t* ot
    int64_t n_o
    int64_t cap_o


cdef inline int64_t _capacity(int64_t cap, int64_t need, int64_t first) noexcept nogil:
    """The capacity after doubling ``cap`` (from ``first``) until ``need`` fits."""
    while cap < need:
        cap = cap * 2 if cap > 0 else first
    return cap


cdef inline int _resize(void** buf, int64_t cap, size_t item) noexcept nogil:
    """``realloc`` ``*buf`` to ``cap`` items of ``item`` bytes; OK, or E_NOMEM (buf kept)."""
    cdef void* p = realloc(buf[0], <size_t>cap * item)
    if p == NULL:
        return E_NOMEM
    buf[0] = p
    return OK


cdef int _grow_r(Scratch* s, int64_t need, bint timed) noexcept nogil:
    """Make room for ``need`` resampled points; 0 on success, E_NOMEM."""
    cdef int64_t cap
    if need <= s.cap_r:
        return OK
    cap = _capacity(s.cap_r, need, 1024)
    if (_resize(<void**>&s.rx, cap, sizeof(double)) or _resize(<void**>&s.ry, cap, sizeof(double))
            or (timed and _resize(<void**>&s.rt, cap, sizeof(double)))
            or _resize(<void**>&s.cb, cap, sizeof(double))):
        return E_NOMEM
    s.cap_r = cap
    return OK


cdef int _grow_s(Scratch* s, int64_t need) noexcept nogil:
    """Make room for ``need`` entries of the RDP stack."""
    cdef int64_t cap
    if need <= s.cap_s:
        return OK
    cap = _capacity(s.cap_s, need, 256)
    if _resize(<void**>&s.stack, cap, sizeof(int64_t)):
        return E_NOMEM
    s.cap_s = cap
    return OK


cdef int _grow_o(Scratch* s, int64_t need, bint timed) noexcept nogil:
    """Make room for ``need`` output points."""
    cdef int64_t cap
    if need <= s.cap_o:
        return OK
    cap = _capacity(s.cap_o, need, 4096)
    if (_resize(<void**>&s.ox, cap, sizeof(int16_t)) or _resize(<void**>&s.oy, cap, sizeof(int16_t))
            or (timed and _resize(<void**>&s.ot, cap, sizeof(int32_t)))):
        return E_NOMEM
    s.cap_o = cap
    return OK


cdef inline int16_t _coord(double v) noexcept nogil:
    """Round half to even into 0-255 (the clamp only guards against ulp overshoot)."""
    v = rint(v)
    if v < 0.0:
        return 0
    if v > 255.0:
        return 255
    return <int16_t>v


cdef int64_t _resample(Scratch* s, const coord_t* x, const coord_t* y, const int32_t* t,
                       int64_t n, double mx, double my, double ext, double spacing,
                       int64_t max_points, bint timed) noexcept nogil:
    """Steps 2-3 for one stroke of n >= 1 points into s.rx/ry/rt.

    Returns the number of resampled points (>= 2), or -E_TOO_LONG / -E_NOMEM.
    """
    cdef double px, py, qx, qy, dx, dy, L, c = 0.0, end, u, target, kmax_d
    cdef double pt = 0.0, qt = 0.0
    cdef int64_t i, k = 1, kmax, m = 0, count
    cdef bint flat = ext == 0.0
    if _grow_r(s, 2, timed) != OK:
        return -E_NOMEM
    # A drawing of one repeated point has no extent: it stays at 0 (Google's
    # formula would divide 0 by 0).
    px = 0.0 if flat else ((<double>x[0]) - mx) * 255.0 / ext
    py = 0.0 if flat else ((<double>y[0]) - my) * 255.0 / ext
    if timed:
        pt = <double>t[0]
        s.rt[0] = pt
    s.rx[0] = px
    s.ry[0] = py
    m = 1
    for i in range(1, n):
        qx = 0.0 if flat else ((<double>x[i]) - mx) * 255.0 / ext
        qy = 0.0 if flat else ((<double>y[i]) - my) * 255.0 / ext
        if timed:
            qt = <double>t[i]
        dx = qx - px
        dy = qy - py
        L = sqrt(dx * dx + dy * dy)
        if L > 0.0:
            end = c + L
            # The samples on this segment are k, k + 1, ... while k * spacing <= end.
            kmax_d = floor(end) if spacing == 1.0 else floor(end / spacing)
            if kmax_d - <double>k + <double>m + 2.0 > <double>max_points:
                return -E_TOO_LONG
            kmax = <int64_t>kmax_d
            # floor(end / spacing) can be one off the exact test; settle it with the test itself
            while (<double>(kmax + 1)) * spacing <= end:
                kmax += 1
            while kmax >= k and (<double>kmax) * spacing > end:
                kmax -= 1
            count = kmax - k + 1
            if count > 0:
                if m + count + 1 > max_points:
                    return -E_TOO_LONG
                if m + count + 1 > s.cap_r and _grow_r(s, m + count + 1, timed) != OK:
                    return -E_NOMEM
                while k <= kmax:
                    target = (<double>k) * spacing
                    u = (target - c) / L
                    s.rx[m] = px * (1.0 - u) + qx * u
                    s.ry[m] = py * (1.0 - u) + qy * u
                    if timed:
                        # p + (q - p) * u: between the two times and monotone in u
                        s.rt[m] = pt + (qt - pt) * u
                    m += 1
                    k += 1
            c = end
        px = qx
        py = qy
        pt = qt
    # the stroke's last point, unless the last sample is it (always for one point)
    if m == 1 or s.rx[m - 1] != px or s.ry[m - 1] != py:
        if _grow_r(s, m + 1, timed) != OK:
            return -E_NOMEM
        s.rx[m] = px
        s.ry[m] = py
        if timed:
            s.rt[m] = <double>t[n - 1]
        m += 1
    elif timed:
        # The last sample is the last point, reached earlier when the stroke
        # ends with repeated points: it gets the stroke's last time.
        s.rt[m - 1] = <double>t[n - 1]
    return m


cdef int _emit(Scratch* s, int64_t i, bint timed) noexcept nogil:
    if _grow_o(s, s.n_o + 1, timed) != OK:
        return E_NOMEM
    s.ox[s.n_o] = _coord(s.rx[i])
    s.oy[s.n_o] = _coord(s.ry[i])
    if timed:
        s.ot[s.n_o] = <int32_t>rint(s.rt[i])
    s.n_o += 1
    return OK


cdef int _rdp(Scratch* s, int64_t m, double epsilon, bint timed) noexcept nogil:
    """Step 4 on s.rx/ry[0:m], emitting the kept points in order; OK or E_NOMEM."""
    cdef int64_t a, b, i, idx, top = 0
    cdef double ax, ay, dx, dy, ex, ey, L, cr, cmax, thr, d, dmax
    cdef const double* rx = s.rx
    cdef const double* ry = s.ry
    cdef double* cb = s.cb
    if _emit(s, 0, timed) != OK:
        return E_NOMEM
    if m < 2:
        return OK
    if _grow_s(s, 2) != OK:
        return E_NOMEM
    s.stack[0] = 0
    s.stack[1] = m - 1
    top = 2
    # Depth first, left part first: the points come out in order.
    while top > 0:
        top -= 2
        a = s.stack[top]
        b = s.stack[top + 1]
        idx = -1
        dmax = 0.0
        if b - a >= 2:
            ax = rx[a]
            ay = ry[a]
            dx = rx[b] - ax
            dy = ry[b] - ay
            if dx == 0.0 and dy == 0.0:
                for i in range(a + 1, b):
                    ex = rx[i] - ax
                    ey = ry[i] - ay
                    d = sqrt(fma(ex, ex, ey * ey))
                    if d > dmax:
                        dmax = d
                        idx = i
            else:
                L = sqrt(fma(dx, dx, dy * dy))
                # The distance is cross / L, and the first point of largest
                # distance wins. Division is monotone, so the largest cross
                # product gives the largest distance, without dividing in the
                # loop (a division per point makes it latency-bound)...
                cmax = 0.0
                for i in range(a + 1, b):
                    cr = fabs(dx * (ay - ry[i]) - dy * (ax - rx[i]))
                    cb[i] = cr
                    if cr > cmax:
                        cmax = cr
                        idx = i
                if idx >= 0:
                    dmax = cmax / L
                    # ...but rounding can give an earlier, slightly smaller cross
                    # product the same quotient: such a one is within 2^-52
                    # (relative) of the largest, so look only at those.
                    thr = cmax - cmax * 1.7763568394002505e-15  # 2^-49
                    for i in range(a + 1, idx):
                        if cb[i] >= thr and cb[i] / L == dmax:
                            idx = i
                            break
        if idx >= 0 and dmax > epsilon:
            if _grow_s(s, top + 4) != OK:
                return E_NOMEM
            s.stack[top] = idx
            s.stack[top + 1] = b
            s.stack[top + 2] = a
            s.stack[top + 3] = idx
            top += 4
        else:
            if _emit(s, b, timed) != OK:
                return E_NOMEM
    return OK


def _simplify(const coord_t[::1] x, const coord_t[::1] y, const int32_t[::1] t,
              const int64_t[::1] stroke_offsets, const int64_t[::1] drawing_offsets,
              double epsilon, double spacing, int64_t max_points):
    """Simplify every drawing; see the module docstring for the procedure.

    ``t`` is empty (no times) or as long as ``x``. Returns ``(status, x, y, t,
    stroke_offsets, drawing_status, drawing_detail)``: ``status`` is OK or a
    whole-call error (the arrays are then empty); the output points are int16
    (int32 times, empty without input times) with stroke offsets [S + 1]
    aligned with the input strokes. A drawing whose ``drawing_status`` is not
    OK has all its strokes empty; ``drawing_detail`` says where.
    """
    cdef int64_t P = x.shape[0], S = stroke_offsets.shape[0] - 1
    cdef int64_t N = drawing_offsets.shape[0] - 1
    cdef bint timed = t.shape[0] > 0
    cdef int64_t i, j, p, p0, p1, s0, s1, m, o_start, bad
    cdef double mx, my, Mx, My, vx, vy, ext
    cdef int status = OK, st
    cdef Scratch sc
    cdef uint8_t[::1] dstat
    cdef int64_t[::1] ddet
    cdef int64_t[::1] out_so
    if y.shape[0] != P or (timed and t.shape[0] != P) or S < 0 or N < 0:
        return E_LENGTHS, None, None, None, None, None, None
    dstat = np.zeros(N, np.uint8)
    ddet = np.zeros(N, np.int64)
    out_so = np.zeros(S + 1, np.int64)
    sc.rx = NULL
    sc.ry = NULL
    sc.rt = NULL
    sc.cb = NULL
    sc.cap_r = 0
    sc.stack = NULL
    sc.cap_s = 0
    sc.ox = NULL
    sc.oy = NULL
    sc.ot = NULL
    sc.n_o = 0
    sc.cap_o = 0
    try:
        with nogil:
            # Offsets checked once, so that the loop below can trust them.
            if drawing_offsets[0] != 0 or drawing_offsets[N] != S:
                status = E_OFFSETS
            if status == OK and (stroke_offsets[0] != 0 or stroke_offsets[S] != P):
                status = E_OFFSETS
            for i in range(N):
                if status != OK or drawing_offsets[i] > drawing_offsets[i + 1]:
                    status = E_OFFSETS
                    break
            for j in range(S):
                if status != OK or stroke_offsets[j] > stroke_offsets[j + 1]:
                    status = E_OFFSETS
                    break
            if status == OK:
                # about one output point per input point (Google's simplified
                # drawings have a quarter of the raw points); grows when needed
                status = _grow_o(&sc, P + 2 * S + 16, timed)
            for i in range(N):
                if status != OK:
                    break
                s0 = drawing_offsets[i]
                s1 = drawing_offsets[i + 1]
                o_start = sc.n_o
                mx = 0.0
                my = 0.0
                Mx = 0.0
                My = 0.0
                bad = -1
                p0 = stroke_offsets[s0]
                p1 = stroke_offsets[s1]
                for p in range(p0, p1):
                    vx = <double>x[p]
                    vy = <double>y[p]
                    if not (isfinite(vx) and isfinite(vy)):
                        bad = p
                        break
                    if p == p0 or vx < mx:
                        mx = vx
                    if p == p0 or vy < my:
                        my = vy
                    if p == p0 or vx > Mx:
                        Mx = vx
                    if p == p0 or vy > My:
                        My = vy
                if bad >= 0:
                    dstat[i] = E_NONFINITE_POINT
                    ddet[i] = bad
                    for j in range(s0, s1):
                        out_so[j + 1] = sc.n_o
                    continue
                ext = Mx - mx if Mx - mx > My - my else My - my
                for j in range(s0, s1):
                    p0 = stroke_offsets[j]
                    p1 = stroke_offsets[j + 1]
                    if p1 > p0:
                        m = _resample(&sc, &x[p0], &y[p0], &t[p0] if timed else NULL,
                                      p1 - p0, mx, my, ext, spacing, max_points, timed)
                        if m < 0:
                            st = <int>(-m)
                            if st == E_NOMEM:
                                status = E_NOMEM
                                break
                            dstat[i] = st
                            ddet[i] = j - s0
                            break
                        st = _rdp(&sc, m, epsilon, timed)
                        if st != OK:
                            status = st
                            break
                    out_so[j + 1] = sc.n_o
                if status != OK:
                    break
                if dstat[i] != OK:
                    # a rejected drawing keeps its strokes, with no points
                    sc.n_o = o_start
                    for j in range(s0, s1):
                        out_so[j + 1] = o_start
        if status != OK:
            return status, None, None, None, None, None, None
        ox = np.empty(sc.n_o, np.int16)
        oy = np.empty(sc.n_o, np.int16)
        ot = np.empty(sc.n_o if timed else 0, np.int32)
        if sc.n_o > 0:
            _copy_out(&sc, ox, oy, ot, timed)
        return OK, ox, oy, ot, np.asarray(out_so), np.asarray(dstat), np.asarray(ddet)
    finally:
        free(sc.rx)
        free(sc.ry)
        free(sc.rt)
        free(sc.cb)
        free(sc.stack)
        free(sc.ox)
        free(sc.oy)
        free(sc.ot)


cdef void _copy_out(Scratch* s, int16_t[::1] ox, int16_t[::1] oy, int32_t[::1] ot,
                    bint timed) noexcept:
    cdef int64_t i, n = s.n_o
    # the arrays were made with n elements each (ot with n when timed)
    for i in range(n):
        ox[i] = s.ox[i]
        oy[i] = s.oy[i]
    if timed:
        for i in range(n):
            ot[i] = s.ot[i]
