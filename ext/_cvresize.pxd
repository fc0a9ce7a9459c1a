# cython: language_level=3
"""cv2.resize(INTER_LINEAR) for uint8 through precomputed tables, for ext/_rastercv.pyx.

Inline, so no runtime import. The tables come from
``rasterfast.render._linear_tables``; the arithmetic is described there and in
``_rastercv.pyx``.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from _status cimport OK, E_SHAPE

cdef enum:
    RESIZE_GENERIC = 0
    RESIZE_AVG2X2 = 1        # every weight 1024 (256 -> 128, 256 -> 64): (a + b + c + d + 2) >> 2
    RESIZE_COPY = 2          # S == 256: drawn straight into the output


cdef struct Resize:
    int S, mode
    const int32_t* xo0        # per output column: source columns and weights (clamped)
    const int32_t* xo1
    const int32_t* xw0
    const int32_t* xw1
    const int32_t* yo0        # per output row: source rows and weights
    const int32_t* yo1
    const int32_t* yw0
    const int32_t* yw1
    const int32_t* xfirst     # per source column c: first output column reading c or later
    const int32_t* xlast      # per source column c: last output column reading c or earlier
    int32_t* h                # scratch: two rows of horizontal sums, S each
    int swar                  # 2 or 4: output column d reads source columns 2d, 2d+1 or
                              # 4d+1, 4d+2 of 256, done 8 source bytes at a time; else 0


cdef inline uint64_t _load8(const uint8_t* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline void _avg_row_swar(const Resize* t, const uint8_t* s0, const uint8_t* s1,
                        uint8_t* d) noexcept nogil:
    """(a + b + c + d + 2) >> 2 of a 2x2 block per output pixel, eight source bytes per step.

    Lanes of 16 (step 2) or 32 bits (step 4) hold the sums; they cannot carry into
    each other (at most 4 * 255 + 2). Little-endian byte order (checked at setup).
    """
    cdef Py_ssize_t k
    cdef uint64_t u, v, x
    cdef uint32_t out4
    cdef uint16_t out2
    if t.swar == 2:
        for k in range(t.S // 4):
            u = _load8(s0 + 8 * k)
            v = _load8(s1 + 8 * k)
            x = ((u & 0x00FF00FF00FF00FFULL) + ((u >> 8) & 0x00FF00FF00FF00FFULL)
                 + (v & 0x00FF00FF00FF00FFULL) + ((v >> 8) & 0x00FF00FF00FF00FFULL)
                 + 0x0002000200020002ULL)
            x = (x >> 2) & 0x00FF00FF00FF00FFULL
            out4 = <uint32_t>((x & 0xFF) | ((x >> 8) & 0xFF00) | ((x >> 16) & 0xFF0000)
                              | ((x >> 24) & 0xFF000000ULL))
            memcpy(d + 4 * k, &out4, 4)
    else:
        for k in range(t.S // 2):
            u = _load8(s0 + 8 * k)
            v = _load8(s1 + 8 * k)
            x = (((u >> 8) & 0x000000FF000000FFULL) + ((u >> 16) & 0x000000FF000000FFULL)
                 + ((v >> 8) & 0x000000FF000000FFULL) + ((v >> 16) & 0x000000FF000000FFULL)
                 + 0x0000000200000002ULL)
            x = (x >> 2) & 0x000000FF000000FFULL
            out2 = <uint16_t>((x & 0xFF) | ((x >> 24) & 0xFF00))
            memcpy(d + 2 * k, &out2, 2)


cdef inline void _resize_row_h(const Resize* t, const uint8_t* src, int32_t* h, Py_ssize_t a,
                        Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t dx
    for dx in range(a, b + 1):
        h[dx] = src[t.xo0[dx]] * t.xw0[dx] + src[t.xo1[dx]] * t.xw1[dx]


cdef inline void _resize(const Resize* t, const uint8_t* src, Py_ssize_t src_step,
                  const int32_t* dlo, const int32_t* dhi, uint8_t* dst,
                  Py_ssize_t dst_step) noexcept nogil:
    """One channel of cv2.resize(INTER_LINEAR) of a canvas that is zero outside the columns
    dlo[y]..dhi[y] of each row y: output pixels that read only zeros are set to 0
    without reading."""
    cdef Py_ssize_t dy, dx, a, b, S = t.S
    cdef int32_t lo, hi, r0, r1
    cdef const uint8_t* s0
    cdef const uint8_t* s1
    cdef uint8_t* d
    cdef int32_t* h0 = t.h
    cdef int32_t* h1 = t.h + S
    cdef int64_t w0, w1
    for dy in range(S):
        r0 = t.yo0[dy]
        r1 = t.yo1[dy]
        w0 = t.yw0[dy]
        w1 = t.yw1[dy]
        d = dst + dy * dst_step
        lo = 1 << 30
        hi = -1
        if w0 != 0 and dlo[r0] <= dhi[r0]:
            lo = dlo[r0]
            hi = dhi[r0]
        if w1 != 0 and dlo[r1] <= dhi[r1]:
            if dlo[r1] < lo:
                lo = dlo[r1]
            if dhi[r1] > hi:
                hi = dhi[r1]
        if lo > hi:
            memset(d, 0, <size_t>S)
            continue
        a = t.xfirst[lo]
        b = t.xlast[hi]
        if a > 0:
            memset(d, 0, <size_t>a)
        if b < S - 1:
            memset(d + b + 1, 0, <size_t>(S - 1 - b))
        s0 = src + r0 * src_step
        s1 = src + r1 * src_step
        if t.mode == RESIZE_AVG2X2 and t.swar:
            _avg_row_swar(t, s0, s1, d)
            continue
        if t.mode == RESIZE_AVG2X2:
            for dx in range(a, b + 1):
                d[dx] = <uint8_t>((s0[t.xo0[dx]] + s0[t.xo1[dx]] + s1[t.xo0[dx]] + s1[t.xo1[dx]]
                                   + 2) >> 2)
            continue
        _resize_row_h(t, s0, h0, a, b)
        if w1 != 0:
            _resize_row_h(t, s1, h1, a, b)
            for dx in range(a, b + 1):
                d[dx] = <uint8_t>((((w0 * (h0[dx] >> 4)) >> 16)
                                   + ((w1 * (h1[dx] >> 4)) >> 16) + 2) >> 2)
        else:
            for dx in range(a, b + 1):
                d[dx] = <uint8_t>((((w0 * (h0[dx] >> 4)) >> 16) + 2) >> 2)


cdef inline int _resize_setup(Resize* t, int S, int mode, const int32_t[:, ::1] xtab,
                       const int32_t[:, ::1] ytab, const int32_t[:, ::1] xinv, int32_t[::1] h,
                       Py_ssize_t height, Py_ssize_t width) noexcept nogil:
    """Check the tables (every offset inside the source, weights 0-2048) and point t at them."""
    cdef Py_ssize_t k, r
    cdef int step, first
    cdef uint32_t probe
    if (S < 1 or xtab.shape[0] != 4 or ytab.shape[0] != 4 or xtab.shape[1] != S
            or ytab.shape[1] != S or xinv.shape[0] != 2 or xinv.shape[1] != width
            or h.shape[0] < 2 * S):
        return E_SHAPE
    for k in range(S):
        for r in range(2):
            if not (0 <= xtab[r, k] < width and 0 <= ytab[r, k] < height):
                return E_SHAPE
            if not (0 <= xtab[r + 2, k] <= 2048 and 0 <= ytab[r + 2, k] <= 2048):
                return E_SHAPE
    for k in range(width):
        if not (0 <= xinv[0, k] <= S and -1 <= xinv[1, k] < S):
            return E_SHAPE
    t.S = S
    t.mode = mode
    t.xo0 = &xtab[0, 0]
    t.xo1 = &xtab[1, 0]
    t.xw0 = &xtab[2, 0]
    t.xw1 = &xtab[3, 0]
    t.yo0 = &ytab[0, 0]
    t.yo1 = &ytab[1, 0]
    t.yw0 = &ytab[2, 0]
    t.yw1 = &ytab[3, 0]
    t.xfirst = &xinv[0, 0]
    t.xlast = &xinv[1, 0]
    t.h = &h[0]
    t.swar = 0
    probe = 1
    if mode == RESIZE_AVG2X2 and width == 256 and (<uint8_t*>&probe)[0] == 1:
        for step in range(2, 5, 2):
            if S * step != 256:
                continue
            first = step // 2 - 1
            t.swar = step
            for k in range(S):
                if xtab[0, k] != step * k + first or xtab[1, k] != step * k + first + 1:
                    t.swar = 0
    return OK
