# cython: language_level=3
# (bounds and wraparound checks are set by setup.py: off, or on with RASTERFAST_BOUNDSCHECK=1)
# distutils: extra_compile_args = -O3 -ffp-contract=off
"""Private kernel: random stroke augmentation of many drawings, GIL released.

Per drawing ``i`` (``rasterfast/augment.py`` documents the parameters):

1. keep only the first ``k`` strokes (with probability ``keep_first``, ``k``
   uniform in ``[ceil(keep_first_min * S), S - 1]``, at least 1);
2. drop each of those strokes with probability ``stroke_drop``; when every one
   is dropped, one of them (uniformly) is kept: a drawing never loses all;
3. drop each interior point of a kept stroke with probability ``point_drop``
   (a stroke's first and last points stay);
4. the affine ``p' = R(theta) Sh(shear) diag(+-sx, sy) (p - c) + c + T`` plus
   Gaussian jitter per point, in units of the 0-255 frame (``c``: the frame's
   centre for simplified drawings, the drawing's box centre for raw ones, whose
   unit is ``max(width, height) / 255``);
5. simplified drawings only: fitted back into the frame, never clipped (a
   drawing wider than 255 is shrunk about its box centre, then shifted inside);
6. Ramer-Douglas-Peucker per stroke at ``epsilon = U(0, 1) * epsilon_max``;
7. coordinates out (simplified: ``rint`` to int16, clamped to 0-255 against
   ulp overshoot; raw: float32); times, when there are any, warped: each
   stroke's duration and the pause before it multiplied by independent
   factors ``(1 + w) ** U(-1, 1)``, the first kept stroke starting at its own
   time (float64 throughout, ``rint`` at the end).

The random numbers of drawing ``i`` come from SplitMix64 streams seeded by
``seeds[i]`` (the caller hashes ``(seed, epoch, key_id)`` into it): the same
drawing gets the same augmentation whatever batch, thread or process it is
in. Four streams (geometry, strokes, points, times) are seeded from
``seeds[i]`` with different salts; the geometry stream always gives the same
ten draws, so switching one point-level option does not move the affine.

``-ffp-contract=off``: no fused multiply-adds but the explicit ``fma`` of the
RDP chord length, so that the slow reference (tests/reference_augment.py, plain
float64 Python) gives the same bits on every machine.

Outputs never hold more points or strokes than the input: the caller
allocates them at the input's sizes and trims them to the counts returned.

RDP is not shared with ``_simplify.pyx``: that one works on its resampling
scratch, with exact-arithmetic tie rules to reproduce Google's files; this one
marks kept points of strokes already in place. The rule: split at the first
point of largest cross product ``|d x (p - a)|`` with the chord ``a -> b``
(``d = b - a``; the squared distance to ``a`` when the chord's ends coincide)
when that distance, ``cross / |d|``, is ``> epsilon``; comparing cross products
spares a division per point.

References
----------
S. Vigna, "splitmix64.c" (public domain): the generator.
P. Hall, "The distribution of means for samples of size N drawn from a
population in which the variate takes values between 0 and 1", Biometrika
19, 1927 (Irwin-Hall): the jitter's bell.
U. Ramer (1972); D. Douglas, T. Peucker (1973): the simplification.
D. Ha, D. Eck, "A Neural Representation of Sketch Drawings" (sketch-rnn),
ICLR 2018: random scale per axis and point dropping.
"""

from libc.math cimport sqrt, fma, ceil, fabs, isfinite, cos, sin, exp, log1p
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint64_t

ctypedef fused coord_t:
    int16_t
    float

# Status codes: ext/_status.pxd (rasterfast.errors.STATUS_ERRORS turns them into exceptions).
from _status cimport (OK, E_SHAPE, E_DRAWING_OFFSETS, E_STROKE_OFFSETS, E_NONFINITE_POINT,
                      E_TIME_RANGE)

# Parameter vector layout (rasterfast/augment.py::_params writes it in this order).
cdef enum:
    P_SCALE = 0
    P_ROTATION = 1      # radians
    P_SHEAR = 2
    P_TRANSLATE = 3     # fraction of the 255 frame
    P_FLIP = 4
    P_JITTER = 5        # 256-px units
    P_POINT_DROP = 6
    P_STROKE_DROP = 7
    P_KEEP_FIRST = 8
    P_KEEP_FIRST_MIN = 9
    P_EPSILON = 10      # 256-px units
    P_TIME_WARP = 11
    N_PARAMS = 12

cdef uint64_t _SALT_GEOM = 0xA0761D6478BD642FULL
cdef uint64_t _SALT_STROKE = 0xE7037ED1A0B428DBULL
cdef uint64_t _SALT_POINT = 0x8EBC6AF09C88C6E3ULL
cdef uint64_t _SALT_TIME = 0x589965CC75374CC3ULL


cdef inline uint64_t _mix(uint64_t z) noexcept nogil:
    """SplitMix64's finaliser (Vigna); a bijection with good avalanche."""
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t _next(uint64_t* state) noexcept nogil:
    """The next SplitMix64 output of ``state``."""
    state[0] += 0x9E3779B97F4A7C15ULL
    return _mix(state[0])


cdef inline double _unif(uint64_t* state) noexcept nogil:
    """Uniform in [0, 1), 53 bits."""
    # through int64: one instruction (uint64 -> double is a branchy sequence on x86-64)
    return <double>(<int64_t>(_next(state) >> 11)) * (1.0 / 9007199254740992.0)


cdef inline uint64_t _threshold(double p) noexcept nogil:
    """``t`` with ``(z >> 11) < t`` exactly when ``_unif`` would give ``u < p`` (0 <= p <= 1).

    ``u = (z >> 11) * 2^-53`` is exact, so ``u < p`` iff ``(z >> 11) < p * 2^53`` iff
    ``(z >> 11) < ceil(p * 2^53)``: a per-point coin without a conversion to double.
    """
    return <uint64_t>ceil(p * 9007199254740992.0)


cdef inline double _rint(double v) noexcept nogil:
    """``rint(v)`` (round half to even) for ``|v| < 2^51``, without a libm call.

    Adding and subtracting 1.5 * 2^52 leaves the nearest integer in round-to-nearest-even
    mode (IEEE default; -ffp-contract=off and no -ffast-math keep the two operations).
    """
    cdef double r = v + 6755399441055744.0
    return r - 6755399441055744.0


cdef inline double _bell(uint64_t* state) noexcept nogil:
    """About a standard normal: the sum of four 16-bit uniforms of one draw, centred and
    scaled to variance 1 (Irwin-Hall, bounded by +-2 sqrt 3).

    Box-Muller (a log, a square root, a sine and a cosine per pair) cost ~95 ns a point
    here, five times the rest of the kernel; jitter needs a bell shape, not exact tails.
    """
    cdef uint64_t z = _next(state)
    cdef double s = <double>((z & 0xFFFF) + ((z >> 16) & 0xFFFF) + ((z >> 32) & 0xFFFF)
                             + (z >> 48))
    # each 16-bit value + 0.5 is uniform on (0, 65536): mean 32768, variance 65536^2 / 12
    return (s + 2.0 - 131072.0) * (1.7320508075688772 / 65536.0)


cdef void _rdp(const double* wx, const double* wy, int64_t n, double epsilon,
               uint8_t* mark, int64_t* stack) noexcept nogil:
    """Mark (1) the points of one stroke ``wx/wy[0:n]`` that RDP at ``epsilon`` keeps.

    ``stack`` holds at least ``2 * n + 4`` entries: every pushed pair is a
    sub-chord of two of ``n`` points, and a pair is pushed only by splitting
    at a point not yet split at (at most ``n - 2`` splits, two pairs each,
    one popped first).
    """
    cdef int64_t a, b, i, idx, top
    cdef double ax, ay, dx, dy, ex, ey, L, d, dmax
    for i in range(n):
        mark[i] = 0
    mark[0] = 1
    mark[n - 1] = 1
    if n < 3:
        return
    stack[0] = 0
    stack[1] = n - 1
    top = 2
    while top > 0:
        top -= 2
        a = stack[top]
        b = stack[top + 1]
        if b - a < 2:
            continue
        ax = wx[a]
        ay = wy[a]
        dx = wx[b] - ax
        dy = wy[b] - ay
        L = sqrt(fma(dx, dx, dy * dy))
        idx = -1
        dmax = 0.0
        # The largest distance is the largest cross product |d x (p - a)| (distance
        # times L): no division per point. Ties go to the first such point.
        if L == 0.0:
            for i in range(a + 1, b):
                ex = wx[i] - ax
                ey = wy[i] - ay
                d = fma(ex, ex, ey * ey)
                if d > dmax:
                    dmax = d
                    idx = i
            dmax = sqrt(dmax)
        else:
            for i in range(a + 1, b):
                d = fabs(dx * (wy[i] - ay) - dy * (wx[i] - ax))
                if d > dmax:
                    dmax = d
                    idx = i
            dmax = dmax / L
        if idx >= 0 and dmax > epsilon:
            mark[idx] = 1
            stack[top] = idx
            stack[top + 1] = b
            stack[top + 2] = a
            stack[top + 3] = idx
            top += 4


def _augment(const coord_t[::1] x, const coord_t[::1] y, const int32_t[::1] t,
             const int64_t[::1] stroke_offsets, const int64_t[::1] drawing_offsets,
             const uint64_t[::1] seeds, const double[::1] params, bint fit_frame,
             coord_t[::1] ox, coord_t[::1] oy, int32_t[::1] ot,
             int64_t[::1] out_stroke_offsets, int64_t[::1] out_drawing_offsets,
             double[::1] wx, double[::1] wy, int64_t[::1] src, uint8_t[::1] mark,
             int64_t[::1] stack, uint8_t[::1] skeep):
    """Augment every drawing; see the module docstring for the steps.

    ``t`` is empty (no times) or as long as ``x``, and ``ot`` as long as
    ``t``. The outputs ``ox``/``oy``/``ot`` and the work arrays ``wx``,
    ``wy``, ``src``, ``mark`` hold at least one entry per input point,
    ``stack`` ``2 * points + 4``, ``out_stroke_offsets`` ``strokes + 1``,
    ``out_drawing_offsets`` ``drawings + 1``, ``skeep`` one per stroke,
    ``seeds`` one per drawing, ``params`` the 12 values of the layout above.
    With ``fit_frame`` (simplified drawings) the output is fitted into 0-255.

    Returns ``(status, detail, points, strokes)``: the output counts when
    ``status`` is OK.
    """
    cdef int64_t P = x.shape[0], S = stroke_offsets.shape[0] - 1
    cdef int64_t N = drawing_offsets.shape[0] - 1
    cdef bint timed = t.shape[0] > 0
    cdef int status = OK
    cdef int64_t detail = -1
    cdef int64_t i, j, p, q, s0, s1, ns, k, lo, hi, nk, a, b, m = 0, m0, m2, n_so = 0, so0
    cdef uint64_t gs, ss, ps, ts
    cdef double u_sx, u_sy, u_rot, u_sh, u_tx, u_ty, u_flip, u_keep, u_k, u_eps
    cdef double sx, sy, th, sh, ct, st, m00, m01, m10, m11, ex_, ey_, cx, cy, unit, sd
    cdef double vx, vy, mnx, mny, mxx, mxy, f, gx, gy, eps, v
    cdef double wlog, fd, fp, start_in, end_in, start_out, prev_end_in = 0.0
    cdef double prev_end_out = 0.0
    cdef double scale, rotation, shear, translate, flip, jitter, point_drop, stroke_drop
    cdef double keep_first, keep_first_min, epsilon_max, time_warp
    cdef bint drop_pts, first
    cdef uint64_t pd_thr, sd_thr
    if (y.shape[0] != P or (timed and t.shape[0] != P) or ot.shape[0] != t.shape[0]
            or S < 0 or N < 0 or ox.shape[0] < P or oy.shape[0] < P
            or wx.shape[0] < P or wy.shape[0] < P or src.shape[0] < P or mark.shape[0] < P
            or stack.shape[0] < 2 * P + 4 or out_stroke_offsets.shape[0] < S + 1
            or out_drawing_offsets.shape[0] < N + 1 or skeep.shape[0] < S
            or seeds.shape[0] < N or params.shape[0] != N_PARAMS):
        return E_SHAPE, -1, 0, 0
    scale = params[P_SCALE]
    rotation = params[P_ROTATION]
    shear = params[P_SHEAR]
    translate = params[P_TRANSLATE]
    flip = params[P_FLIP]
    jitter = params[P_JITTER]
    point_drop = params[P_POINT_DROP]
    stroke_drop = params[P_STROKE_DROP]
    keep_first = params[P_KEEP_FIRST]
    keep_first_min = params[P_KEEP_FIRST_MIN]
    epsilon_max = params[P_EPSILON]
    time_warp = params[P_TIME_WARP]
    wlog = log1p(time_warp)
    drop_pts = point_drop > 0.0
    pd_thr = _threshold(point_drop)
    sd_thr = _threshold(stroke_drop)
    with nogil:
        # Offsets checked once, so that the loop below can trust them.
        if drawing_offsets[0] != 0 or drawing_offsets[N] != S:
            status = E_DRAWING_OFFSETS
        if status == OK and (stroke_offsets[0] != 0 or stroke_offsets[S] != P):
            status = E_STROKE_OFFSETS
        if status == OK:
            for i in range(N):
                if drawing_offsets[i] > drawing_offsets[i + 1]:
                    status = E_DRAWING_OFFSETS
                    detail = i
                    break
        if status == OK:
            for j in range(S):
                if stroke_offsets[j] > stroke_offsets[j + 1]:
                    status = E_STROKE_OFFSETS
                    detail = j
                    break
        out_drawing_offsets[0] = 0
        out_stroke_offsets[0] = 0
        for i in range(N):
            if status != OK:
                break
            s0 = drawing_offsets[i]
            s1 = drawing_offsets[i + 1]
            ns = s1 - s0
            gs = _mix(seeds[i] ^ _SALT_GEOM)
            ss = _mix(seeds[i] ^ _SALT_STROKE)
            ps = _mix(seeds[i] ^ _SALT_POINT)
            ts = _mix(seeds[i] ^ _SALT_TIME)
            # the geometry stream: always these ten draws, in this order
            u_sx = _unif(&gs)
            u_sy = _unif(&gs)
            u_rot = _unif(&gs)
            u_sh = _unif(&gs)
            u_tx = _unif(&gs)
            u_ty = _unif(&gs)
            u_flip = _unif(&gs)
            u_keep = _unif(&gs)
            u_k = _unif(&gs)
            u_eps = _unif(&gs)
            if ns == 0:
                out_drawing_offsets[i + 1] = n_so
                continue
            # 1-2. which strokes stay
            k = ns
            if ns > 1 and u_keep < keep_first:
                lo = <int64_t>ceil(keep_first_min * <double>ns)
                hi = ns - 1
                if lo < 1:
                    lo = 1
                if lo > hi:
                    lo = hi
                k = lo + <int64_t>(u_k * <double>(hi - lo + 1))
                if k > hi:
                    k = hi
            nk = 0
            for j in range(ns):
                skeep[s0 + j] = 0
            for j in range(k):
                if stroke_drop > 0.0 and (_next(&ss) >> 11) < sd_thr:
                    continue
                skeep[s0 + j] = 1
                nk += 1
            if nk == 0:
                j = <int64_t>(_unif(&ss) * <double>k)
                if j >= k:
                    j = k - 1
                skeep[s0 + j] = 1
            # 4. the affine, in units of the 0-255 frame
            if fit_frame:
                cx = 127.5
                cy = 127.5
                unit = 1.0
            else:
                mnx = 0.0
                mny = 0.0
                mxx = 0.0
                mxy = 0.0
                for p in range(stroke_offsets[s0], stroke_offsets[s1]):
                    vx = <double>x[p]
                    vy = <double>y[p]
                    if not (isfinite(vx) and isfinite(vy)):
                        status = E_NONFINITE_POINT
                        detail = p
                        break
                    if p == stroke_offsets[s0] or vx < mnx:
                        mnx = vx
                    if p == stroke_offsets[s0] or vy < mny:
                        mny = vy
                    if p == stroke_offsets[s0] or vx > mxx:
                        mxx = vx
                    if p == stroke_offsets[s0] or vy > mxy:
                        mxy = vy
                if status != OK:
                    break
                cx = 0.5 * (mnx + mxx)
                cy = 0.5 * (mny + mxy)
                unit = (mxx - mnx if mxx - mnx > mxy - mny else mxy - mny) / 255.0
                if unit == 0.0:
                    unit = 1.0
            sx = 1.0 + scale * (2.0 * u_sx - 1.0)
            sy = 1.0 + scale * (2.0 * u_sy - 1.0)
            if u_flip < flip:
                sx = -sx
            th = rotation * (2.0 * u_rot - 1.0)
            sh = shear * (2.0 * u_sh - 1.0)
            ct = cos(th)
            st = sin(th)
            # R(th) Sh(sh) diag(sx, sy); p' = M p + e with e = c - M c + T
            m00 = ct * sx
            m01 = (ct * sh - st) * sy
            m10 = st * sx
            m11 = (st * sh + ct) * sy
            ex_ = cx - (m00 * cx + m01 * cy) + translate * 255.0 * unit * (2.0 * u_tx - 1.0)
            ey_ = cy - (m10 * cx + m11 * cy) + translate * 255.0 * unit * (2.0 * u_ty - 1.0)
            sd = jitter * unit
            # 3-4. the kept points, transformed, into wx/wy[m0:m]
            m0 = m
            so0 = n_so
            for j in range(s0, s1):
                if not skeep[j]:
                    continue
                a = stroke_offsets[j]
                b = stroke_offsets[j + 1]
                for p in range(a, b):
                    if drop_pts and a < p < b - 1 and (_next(&ps) >> 11) < pd_thr:
                        continue
                    vx = <double>x[p]
                    vy = <double>y[p]
                    wx[m] = m00 * vx + m01 * vy + ex_
                    wy[m] = m10 * vx + m11 * vy + ey_
                    if sd > 0.0:
                        wx[m] += sd * _bell(&ps)
                        wy[m] += sd * _bell(&ps)
                    src[m] = p
                    m += 1
                n_so += 1
                out_stroke_offsets[n_so] = m
            # 5. back into the frame, shape kept
            if fit_frame and m > m0:
                mnx = wx[m0]
                mxx = wx[m0]
                mny = wy[m0]
                mxy = wy[m0]
                for q in range(m0, m):
                    if wx[q] < mnx:
                        mnx = wx[q]
                    if wx[q] > mxx:
                        mxx = wx[q]
                    if wy[q] < mny:
                        mny = wy[q]
                    if wy[q] > mxy:
                        mxy = wy[q]
                f = mxx - mnx if mxx - mnx > mxy - mny else mxy - mny
                if f > 255.0:
                    f = 255.0 / f
                    cx = 0.5 * (mnx + mxx)
                    cy = 0.5 * (mny + mxy)
                    for q in range(m0, m):
                        wx[q] = cx + (wx[q] - cx) * f
                        wy[q] = cy + (wy[q] - cy) * f
                    mnx = cx + (mnx - cx) * f
                    mxx = cx + (mxx - cx) * f
                    mny = cy + (mny - cy) * f
                    mxy = cy + (mxy - cy) * f
                gx = -mnx if mnx < 0.0 else (255.0 - mxx if mxx > 255.0 else 0.0)
                gy = -mny if mny < 0.0 else (255.0 - mxy if mxy > 255.0 else 0.0)
                if gx != 0.0 or gy != 0.0:
                    for q in range(m0, m):
                        wx[q] += gx
                        wy[q] += gy
            # 6. RDP at a random epsilon, kept points moved down in place
            if epsilon_max > 0.0:
                eps = epsilon_max * u_eps * unit
                m2 = m0
                for j in range(so0, n_so):
                    a = out_stroke_offsets[j]
                    b = out_stroke_offsets[j + 1]
                    out_stroke_offsets[j] = m2
                    if b - a >= 3:      # shorter strokes keep every point
                        _rdp(&wx[a], &wy[a], b - a, eps, &mark[a], &stack[0])
                    for q in range(a, b):
                        if b - a < 3 or mark[q]:
                            wx[m2] = wx[q]
                            wy[m2] = wy[q]
                            src[m2] = src[q]
                            m2 += 1
                out_stroke_offsets[n_so] = m2
                m = m2
            # 7. coordinates and times out
            for q in range(m0, m):
                if coord_t is int16_t:
                    # fitted into 0-255 above: within range of _rint
                    v = _rint(wx[q])
                    ox[q] = <int16_t>(0.0 if v < 0.0 else (255.0 if v > 255.0 else v))
                    v = _rint(wy[q])
                    oy[q] = <int16_t>(0.0 if v < 0.0 else (255.0 if v > 255.0 else v))
                else:
                    ox[q] = <float>wx[q]
                    oy[q] = <float>wy[q]
            if timed:
                first = True
                for j in range(so0, n_so):
                    a = out_stroke_offsets[j]
                    b = out_stroke_offsets[j + 1]
                    if b <= a:
                        continue
                    fd = 1.0
                    fp = 1.0
                    if time_warp > 0.0:
                        fd = exp(wlog * (2.0 * _unif(&ts) - 1.0))
                        fp = exp(wlog * (2.0 * _unif(&ts) - 1.0))
                    start_in = <double>t[src[a]]
                    end_in = <double>t[src[b - 1]]
                    if first:
                        start_out = start_in
                        first = False
                    else:
                        start_out = prev_end_out + (start_in - prev_end_in) * fp
                    for q in range(a, b):
                        v = start_out + (<double>t[src[q]] - start_in) * fd
                        if not (-2147483648.0 <= v <= 2147483647.0):
                            status = E_TIME_RANGE
                            detail = i
                            break
                        ot[q] = <int32_t>_rint(v)
                    if status != OK:
                        break
                    prev_end_in = end_in
                    prev_end_out = start_out + (end_in - start_in) * fd
                if status != OK:
                    break
            out_drawing_offsets[i + 1] = n_so
    if status != OK:
        return status, detail, 0, 0
    return OK, detail, m, n_so
