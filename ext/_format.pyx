# cython: language_level=3
"""Private kernel: StrokeBatch columns to drawing text, as the Quick, Draw! files print it.

One call writes many drawings end to end into one byte buffer, without the GIL
and without a Python object per drawing or per number. The grammar written::

    drawing := '[' stroke (SEP stroke)* ']'
    stroke  := '[' list SEP list (SEP list)? ']'        (x, y[, t])
    list    := '[' number (SEP number)* ']'
    SEP     := ', '   (Kaggle CSV style)   |   ','   (Google ndjson style)

Numbers:

* int16 coordinates (simplified) and int32 times: decimal integers, ``-`` for
  negatives.
* float32 coordinates (raw): a value that is integral and below 1e16 in
  magnitude prints as an integer (``413``, as the raw files print it); ``-0.0``
  prints as ``-0.0``, keeping its sign; any other value prints as Python's
  ``repr(float(value))``: the shortest decimal that reads back as the same
  *double* (``414.48199462890625``, ``365.4259948730469``), fixed notation for
  decimal exponents -4..15, else ``1.5e-07`` / ``1e+16`` (a sign and at least
  two exponent digits). This is how Google's raw files print the float32 values
  of their drawings, and ``float32(json.loads(text))`` gives back the value
  exactly. NaN and infinities have no JSON spelling: they are an error.

An optional prefix and suffix per drawing (row metadata) are copied around
each drawing's text, so that whole CSV or ndjson rows come out of one pass.

Every drawing is checked against a worst-case size bound before any byte of it
is written (numbers are at most 24 characters, separators 2); a drawing that
would not fit ends the call with ``E_FULL``, and the caller continues in a new
buffer. Bad offsets become status codes (``ext/_status.pxd``), mapped to
exceptions in ``rasterfast.errors.STATUS_ERRORS``, never a crash.

References
----------
D. M. Gay, "Correctly rounded binary-decimal and decimal-binary conversions",
AT&T Numerical Analysis Manuscript 90-10, 1990: the shortest round-trip
digits that Python's ``repr(float)`` prints (mode 0 of ``dtoa``). Here they are
found by exact integer arithmetic on the float32's decimal expansion: a float32
``m * 2**k`` (m < 2**24) is ``N * 10**min(k, 0)`` with ``N`` exact in 128 bits
for all but the tiniest values, and a candidate reads back as the same double
when it lies within half a double ulp of it.
"""

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdio cimport snprintf
from libc.stdlib cimport strtod
from libc.string cimport memcpy
from libc.math cimport floor, fabs, frexp, isfinite, signbit

import numpy as np

# 128-bit unsigned integers: GCC and Clang have them on every 64-bit target;
# elsewhere (MSVC) the fast path is off and every value takes the
# snprintf/strtod fallback, which gives the same text (see _shortest_fallback).
cdef extern from *:
    """
    #if defined(__SIZEOF_INT128__)
    typedef unsigned __int128 rf_u128;
    #define RF_HAVE_U128 1
    #else
    typedef unsigned long long rf_u128;
    #define RF_HAVE_U128 0
    #endif
    """
    ctypedef unsigned long long rf_u128
    const int RF_HAVE_U128

# Status codes: ext/_status.pxd (rasterfast.errors.STATUS_ERRORS turns them into exceptions).
from _status cimport (OK, E_FULL, E_NONFINITE_POINT, E_STROKE_OFFSETS, E_DRAWING_OFFSETS,
                      E_AFFIX_OFFSETS, E_LENGTHS)

# Widest number texts: "-1.2345678901234567e-38" is 23 characters.
cdef enum:
    FLOAT_WIDTH = 24
    INT16_WIDTH = 6         # "-32768"
    INT32_WIDTH = 11        # "-2147483648"

# Off without 128-bit integers; tests switch it off to check the fallback alone.
cdef bint _no_fast_path = not RF_HAVE_U128

cdef rf_u128[39] P10
cdef rf_u128[45] P5
cdef int _i
P10[0] = 1
for _i in range(1, 39):
    P10[_i] = P10[_i - 1] * 10
P5[0] = 1
for _i in range(1, 45):
    P5[_i] = P5[_i - 1] * 5


cdef inline int _write_u64(uint8_t* out, uint64_t v) noexcept nogil:
    """Decimal digits of ``v``; returns the count."""
    cdef uint8_t[20] tmp
    cdef int n = 0, i
    while True:
        tmp[n] = 48 + <uint8_t>(v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    for i in range(n):
        out[i] = tmp[n - 1 - i]
    return n


cdef inline int _write_i64(uint8_t* out, int64_t v) noexcept nogil:
    if v < 0:
        out[0] = 45
        # -(v + 1) + 1 keeps INT64_MIN from overflowing
        return 1 + _write_u64(out + 1, <uint64_t>(-(v + 1)) + 1)
    return _write_u64(out, <uint64_t>v)


cdef inline int _ndigits_u64(uint64_t v) noexcept nogil:
    cdef int n = 1
    while v >= 10:
        v //= 10
        n += 1
    return n


cdef int _shortest_u128(float v, uint64_t* digits, int* e10) noexcept nogil:
    """Shortest round-trip digits of the double ``v`` (a positive float32).

    Sets ``digits`` (no trailing zeros) and ``e10``, the decimal exponent of
    the first digit. Returns 0, or -1 when ``v`` is outside the exact range
    (decimal expansions that do not fit 128 bits: |v| below about 1e-9).
    """
    cdef uint32_t bits, m
    cdef int k, bl, L, p, best_p = -1, asym, e2
    cdef rf_u128 N, unit, lo, hi, dl, dh, cand = 0, best = 0, lim_hi = 0, lim_lo = 0
    cdef bint ok_lo, ok_hi
    memcpy(&bits, &v, 4)
    m = bits & 0x7FFFFF
    if (bits >> 23) & 0xFF:
        m |= 0x800000
        k = <int>((bits >> 23) & 0xFF) - 150
    else:
        k = -149
    if m == 0:
        return -1
    while (m & 1) == 0:
        m >>= 1
        k += 1
    bl = 0
    while (m >> bl) != 0:
        bl += 1
    # A power of two: the double below is half as far as the one above, so the
    # round-trip interval below is half as wide.
    asym = 1 if m == 1 else 0
    # v = N * 10**min(k, 0). A candidate c (same units) reads back as v when
    # |c - N| <= half a double ulp; the double ulp of v is 2**(k + bl - 53).
    if k >= 0:
        e2 = k + bl - 54          # half ulp = 2**e2, an integer for |v| >= 2**54
        if e2 - asym < 0 or bl + k > 127:
            return -1
        N = (<rf_u128>m) << k
        lim_hi = (<rf_u128>1) << e2
        lim_lo = (<rf_u128>1) << (e2 - asym)
    else:
        # half ulp in units of 10**k: 5**-k / 2**(54 - bl); compare
        # |c - N| * 2**(54 - bl) <= 5**-k, which fits 128 bits for -k <= 31.
        if -k > 31:
            return -1
        N = (<rf_u128>m) * P5[-k]
    L = 1
    while L < 39 and N >= P10[L]:
        L += 1
    p = L if L < 17 else 17
    # Round-trip existence is monotone in the number of digits (a p-digit
    # number is also a (p+1)-digit one), so walk down until it fails.
    while p >= 1:
        unit = P10[L - p]
        lo = (N // unit) * unit
        dl = N - lo
        if k >= 0:
            ok_lo = dl <= lim_lo
        else:
            ok_lo = (dl << (54 - bl + asym)) <= P5[-k]
        ok_hi = False
        dh = 0
        if dl != 0:
            hi = lo + unit
            dh = hi - N
            if k >= 0:
                ok_hi = dh <= lim_hi
            else:
                ok_hi = (dh << (54 - bl)) <= P5[-k]
        if ok_lo and ok_hi:
            # the nearer; at an exact tie, the even last digit (Gay's rounding)
            if dl < dh or (dl == dh and ((lo // unit) % 2) == 0):
                cand = lo
            else:
                cand = lo + unit
        elif ok_lo:
            cand = lo
        elif ok_hi:
            cand = lo + unit
        else:
            break
        best_p = p
        best = cand
        p -= 1
    if best_p < 0:
        return -1
    e10[0] = L - 1 + (k if k < 0 else 0)
    best = best // P10[L - best_p]
    if best == P10[best_p]:      # rounded up to the next power of ten
        best = 1
        e10[0] += 1
    while best % 10 == 0:
        best //= 10
    digits[0] = <uint64_t>best
    return 0


cdef bint _reads_back(double d, uint64_t digits, int exp) noexcept nogil:
    """Whether strtod reads ``digits`` x 10**exp as ``d``. No decimal point in
    the text, so the C locale's choice of point does not matter."""
    cdef char[48] buf
    snprintf(buf, 48, "%llue%d", <unsigned long long>digits, exp)
    return strtod(buf, NULL) == d


cdef bint _parse_e(const char* s, uint64_t* digits, int* e10) noexcept nogil:
    """Digits and exponent of snprintf's ``%e`` text ``D[<point>DDD]e[+-]XX``
    (the point is whatever the locale says: any non-digit before the 'e')."""
    cdef int i = 0, ex = 0, sign = 1
    cdef uint64_t dig = 0
    while s[i] != 0 and s[i] != 101:    # 'e'
        if 48 <= s[i] <= 57:
            dig = dig * 10 + <uint64_t>(s[i] - 48)
        i += 1
    if s[i] != 101:
        return False
    i += 1
    if s[i] == 45:
        sign = -1
    if s[i] == 45 or s[i] == 43:
        i += 1
    while 48 <= s[i] <= 57:
        ex = ex * 10 + (s[i] - 48)
        i += 1
    digits[0] = dig
    e10[0] = sign * ex
    return True


cdef int _shortest_fallback(double d, uint64_t* digits, int* e10) noexcept nogil:
    """The same digits by trial: fewer and fewer digits (snprintf's correctly
    rounded ``%e``) while strtod reads them back as ``d``. Slower; for values
    outside the exact range and compilers without 128-bit integers. ``d`` is
    positive and finite."""
    cdef char[48] buf
    cdef uint64_t dig, best, up
    cdef int ex, best_e, p
    cdef bint asym
    cdef int bexp
    # a power of two has a narrower interval below it: the nearest p digits
    # may miss while the next ones up still read back (Gay's shortest takes them)
    asym = frexp(d, &bexp) == 0.5
    snprintf(buf, 48, "%.16e", d)       # 17 digits always read back
    if not _parse_e(buf, &best, &best_e) or best == 0:
        return -1
    for p in range(16, 0, -1):
        snprintf(buf, 48, "%.*e", p - 1, d)
        if not _parse_e(buf, &dig, &ex):
            break
        if _reads_back(d, dig, ex - (p - 1)):
            best = dig
            best_e = ex
            continue
        up = dig + 1
        if asym and _reads_back(d, up, ex - (p - 1)):
            best = up
            best_e = ex
            if up == <uint64_t>P10[p]:      # 9.99 + 1 unit = 10.0
                best_e = ex + 1
            continue
        break
    while best % 10 == 0:
        best //= 10
    digits[0] = best
    e10[0] = best_e
    return 0


cdef int _write_repr(uint8_t* out, bint neg, uint64_t digits, int e10) noexcept nogil:
    """Python's repr layout of ``digits`` x 10**(e10 - ndigits + 1)."""
    cdef uint8_t[20] dg
    cdef int nd = _write_u64(dg, digits)
    cdef int n = 0, i, ae
    if neg:
        out[n] = 45
        n += 1
    if -4 <= e10 < 16:
        if e10 >= 0:
            for i in range(e10 + 1):
                out[n] = dg[i] if i < nd else 48
                n += 1
            out[n] = 46
            n += 1
            if nd > e10 + 1:
                for i in range(e10 + 1, nd):
                    out[n] = dg[i]
                    n += 1
            else:
                out[n] = 48
                n += 1
        else:
            out[n] = 48
            out[n + 1] = 46
            n += 2
            for i in range(-e10 - 1):
                out[n] = 48
                n += 1
            for i in range(nd):
                out[n] = dg[i]
                n += 1
    else:
        out[n] = dg[0]
        n += 1
        if nd > 1:
            out[n] = 46
            n += 1
            for i in range(1, nd):
                out[n] = dg[i]
                n += 1
        out[n] = 101
        out[n + 1] = 45 if e10 < 0 else 43
        n += 2
        ae = -e10 if e10 < 0 else e10
        if ae < 10:
            out[n] = 48
            n += 1
        n += _write_u64(out + n, <uint64_t>ae)
    return n


cdef inline int _write_f32(uint8_t* out, float v) noexcept nogil:
    """One raw coordinate (finite); see the module docstring for the layout."""
    cdef double d = v
    cdef uint64_t digits = 0
    cdef int e10 = 0
    cdef bint neg
    if d == floor(d) and fabs(d) < 1e16:
        if d == 0 and signbit(d):
            memcpy(out, b"-0.0", 4)
            return 4
        return _write_i64(out, <int64_t>d)
    neg = d < 0
    if neg:
        d = -d
        v = -v
    if _no_fast_path or _shortest_u128(v, &digits, &e10) != 0:
        _shortest_fallback(d, &digits, &e10)
    return _write_repr(out, neg, digits, e10)


ctypedef fused coord_t:
    int16_t
    float


def _format(const coord_t[::1] x, const coord_t[::1] y, const int32_t[::1] t,
            const int64_t[::1] stroke_offsets, const int64_t[::1] drawing_offsets,
            bint timed, bint spaced,
            const uint8_t[::1] pre_data, const int64_t[::1] pre_off,
            const uint8_t[::1] suf_data, const int64_t[::1] suf_off,
            Py_ssize_t start, uint8_t[::1] out, int64_t[::1] out_off, int64_t base):
    """Write drawings ``start, start + 1, ...`` into ``out`` until done or full.

    ``pre_off``/``suf_off`` are empty (no prefix / suffix) or N + 1 offsets into
    ``pre_data``/``suf_data``. ``out_off[i + 1]`` gets ``base`` + the end of
    drawing ``i`` in ``out`` (``out_off[start]`` is the caller's).

    Returns ``(status, next_drawing, bytes_written, detail)``.
    """
    cdef Py_ssize_t n = drawing_offsets.shape[0] - 1
    cdef Py_ssize_t n_strokes = stroke_offsets.shape[0] - 1
    cdef Py_ssize_t n_points = x.shape[0]
    cdef Py_ssize_t cap = out.shape[0]
    cdef Py_ssize_t i = start, j, q, p0, p1, s0, s1, a, b, lst, n_lists
    cdef Py_ssize_t pre_n = pre_data.shape[0], suf_n = suf_data.shape[0]
    cdef bint has_pre = pre_off.shape[0] > 0, has_suf = suf_off.shape[0] > 0
    cdef int64_t pa = 0, pb = 0, sa = 0, sb = 0, bound
    cdef int64_t pos = 0, detail = 0
    cdef int status = OK
    cdef int sep_n = 2 if spaced else 1
    cdef int xy_width = FLOAT_WIDTH if coord_t is float else INT16_WIDTH
    cdef uint8_t* o
    cdef coord_t v
    if n < 0 or n_strokes < 0 or y.shape[0] != n_points or (timed and t.shape[0] != n_points) \
            or (has_pre and pre_off.shape[0] != n + 1) or (has_suf and suf_off.shape[0] != n + 1) \
            or start < 0 or start > n or out_off.shape[0] != n + 1:
        return E_LENGTHS, start, 0, 0
    n_lists = 3 if timed else 2
    o = &out[0] if cap > 0 else NULL
    with nogil:
        while i < n:
            s0 = drawing_offsets[i]
            s1 = drawing_offsets[i + 1]
            if s0 < 0 or s1 < s0 or s1 > n_strokes:
                status = E_DRAWING_OFFSETS
                detail = i
                break
            p0 = stroke_offsets[s0]
            p1 = stroke_offsets[s1]
            if p0 < 0 or p1 < p0 or p1 > n_points:
                status = E_STROKE_OFFSETS
                detail = s0
                break
            if has_pre:
                pa = pre_off[i]
                pb = pre_off[i + 1]
                if pa < 0 or pb < pa or pb > pre_n:
                    status = E_AFFIX_OFFSETS
                    detail = i
                    break
            if has_suf:
                sa = suf_off[i]
                sb = suf_off[i + 1]
                if sa < 0 or sb < sa or sb > suf_n:
                    status = E_AFFIX_OFFSETS
                    detail = i
                    break
            # Worst case: 2 brackets per drawing; per stroke 2 brackets, a
            # separator and 3 lists of 2 brackets and a separator; per point a
            # number and a separator in each list. Nothing below writes past it.
            bound = (pb - pa) + (sb - sa) + 2 + (s1 - s0) * 16 \
                + (p1 - p0) * (2 * (xy_width + 2) + (INT32_WIDTH + 2 if timed else 0))
            if pos + bound > cap:
                status = E_FULL
                detail = bound
                break
            if pb > pa:
                memcpy(o + pos, &pre_data[pa], pb - pa)
                pos += pb - pa
            o[pos] = 91     # '['
            pos += 1
            for j in range(s0, s1):
                a = stroke_offsets[j]
                b = stroke_offsets[j + 1]
                # strokes must stay inside the drawing's points, or the bound lies
                if a < p0 or b < a or b > p1:
                    status = E_STROKE_OFFSETS
                    detail = j
                    break
                if j > s0:
                    o[pos] = 44
                    if spaced:
                        o[pos + 1] = 32
                    pos += sep_n
                o[pos] = 91
                pos += 1
                for lst in range(n_lists):
                    if lst:
                        o[pos] = 44
                        if spaced:
                            o[pos + 1] = 32
                        pos += sep_n
                    o[pos] = 91
                    pos += 1
                    for q in range(a, b):
                        if q > a:
                            o[pos] = 44
                            if spaced:
                                o[pos + 1] = 32
                            pos += sep_n
                        if lst == 2:
                            pos += _write_i64(o + pos, t[q])
                        else:
                            v = x[q] if lst == 0 else y[q]
                            if coord_t is float:
                                if not isfinite(v):
                                    status = E_NONFINITE_POINT
                                    detail = q
                                    break
                                pos += _write_f32(o + pos, v)
                            else:
                                pos += _write_i64(o + pos, v)
                    if status != OK:
                        break
                    o[pos] = 93     # ']'
                    pos += 1
                if status != OK:
                    break
                o[pos] = 93
                pos += 1
            if status != OK:
                break
            o[pos] = 93
            pos += 1
            if sb > sa:
                memcpy(o + pos, &suf_data[sa], sb - sa)
                pos += sb - sa
            out_off[i + 1] = base + pos
            i += 1
    return status, i, pos, detail


def _use_fast_path(bint on):
    """Switch the exact 128-bit path on or off (tests); returns whether it is on."""
    global _no_fast_path
    _no_fast_path = not (on and RF_HAVE_U128)
    return not _no_fast_path


def _format_values(const float[::1] values):
    """Each float32 value's text alone (for tests): ``(bytes, offsets[n + 1])``."""
    cdef Py_ssize_t n = values.shape[0], i
    cdef int64_t pos = 0
    cdef int status = OK
    out = np.empty(max(n * FLOAT_WIDTH, 1), np.uint8)
    offsets = np.zeros(n + 1, np.int64)
    cdef uint8_t[::1] ov = out
    cdef int64_t[::1] oo = offsets
    with nogil:
        for i in range(n):
            if not isfinite(values[i]):
                status = E_NONFINITE_POINT
                break
            pos += _write_f32(&ov[pos], values[i])
            oo[i + 1] = pos
    if status != OK:
        raise ValueError(f"value {i} is not finite: {values[i]}")
    return out[:pos].tobytes(), offsets
