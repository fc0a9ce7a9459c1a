# cython: language_level=3
"""Private kernel: drawing text (the ``drawing`` field of Quick, Draw! files) to flat columns.

One call parses many drawings, without the GIL and without a Python object per
drawing: texts held end to end in one byte buffer (``_parse``: the readers,
Arrow arrays) or a tuple of ASCII str / bytes read in place (``_parse_items``),
both through the one loop ``_parse_loop``. The grammar is the JSON subset
that the files use, and nothing else::

    drawing := ws '[' ws stroke (ws ',' ws stroke)* ws ']' ws
    stroke  := '[' ws list ws ',' ws list (ws ',' ws list)? ws ']'   (x, y[, t])
    list    := '[' ws number (ws ',' ws number)* ws ']'
    ws      := (' ' | '\t' | '\n' | '\r')*

Numbers follow JSON's grammar (``-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?``).
Simplified drawings take integers 0-255 in two lists per stroke; raw drawings
take any finite number for x and y (stored as float32, rounded once from the
exact decimal like ``float32(json.loads(text))``) and integer milliseconds that
fit int32 for t, in three lists per stroke.

Every write goes through a capacity check; every problem becomes a status code
(``E_*`` of ``_status.pxd``, ``rasterfast.errors.STATUS_ERRORS``), never a crash.

References
----------
W. D. Clinger, "How to read floating point numbers accurately", PLDI 1990:
the exact fast path (mantissa <= 2**53, power of ten <= 1e22).
"""

from libc.stdint cimport int16_t, int32_t, int64_t, uint64_t, uint8_t, uintptr_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from libc.math cimport fabs, nextafterf, isinf, HUGE_VALF

import numpy as np

# Status codes: ext/_status.pxd (rasterfast.errors.STATUS_ERRORS turns them into messages).
from _status cimport (
    OK, E_EXPECT_DRAWING, E_EXPECT_STROKE, E_EXPECT_LIST, E_EXPECT_NUMBER, E_EXPECT_LIST_SEP,
    E_EXPECT_STROKE_SEP, E_EXPECT_DRAWING_SEP, E_TRAILING, E_TRUNCATED, E_EMPTY_STROKE,
    E_LENGTH_MISMATCH, E_TOO_FEW_LISTS, E_TOO_MANY_LISTS, E_NOT_INTEGER, E_OUT_OF_RANGE,
    E_TOO_LARGE, E_NONFINITE, E_EMPTY_DRAWING, E_TOO_MANY_POINTS, E_TOO_MANY_STROKES, E_NULL,
    E_BAD_NUMBER, E_CAPACITY)

cdef int MAX_NUMBER_CHARS = 400

cdef extern from *:
    """
    /* strtod in the "C" locale whatever LC_NUMERIC the process has set: JSON's
       decimal point is always '.', and plain strtod stops at it under de_DE
       (issue 16). One locale object, made when the module is imported. */
    #include <locale.h>
    #include <stdlib.h>
    #if defined(_WIN32)
    static _locale_t rf_c_numeric;
    static int rf_c_numeric_init(void) {
        rf_c_numeric = _create_locale(LC_NUMERIC, "C");
        return rf_c_numeric != NULL;
    }
    static double rf_strtod_c(const char* s) { return _strtod_l(s, NULL, rf_c_numeric); }
    #else
    #if defined(__APPLE__)
    #include <xlocale.h>
    #endif
    static locale_t rf_c_numeric;
    static int rf_c_numeric_init(void) {
        rf_c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        return rf_c_numeric != (locale_t)0;
    }
    static double rf_strtod_c(const char* s) { return strtod_l(s, NULL, rf_c_numeric); }
    #endif
    """
    int rf_c_numeric_init() noexcept nogil
    double rf_strtod_c(const char* s) noexcept nogil

if not rf_c_numeric_init():
    raise MemoryError("cannot create the C locale that numbers are read in")

# Exact powers of ten representable as doubles (Clinger's fast path).
cdef double[23] POW10
cdef int _k
POW10[0] = 1.0
for _k in range(1, 23):
    POW10[_k] = POW10[_k - 1] * 10.0


cdef struct Cursor:
    const uint8_t* start   # first byte of this drawing's text
    const uint8_t* p
    const uint8_t* end
    int64_t detail1
    int64_t detail2
    int64_t detail3


cdef inline void _skip_ws(Cursor* c) noexcept nogil:
    while c.p < c.end and (c.p[0] == 32 or c.p[0] == 9 or c.p[0] == 10 or c.p[0] == 13):
        c.p += 1


cdef inline int _expect(Cursor* c, uint8_t ch, int code) noexcept nogil:
    """Consume ``ch`` after whitespace, or return ``code`` (E_TRUNCATED at the end)."""
    _skip_ws(c)
    if c.p >= c.end:
        return E_TRUNCATED
    if c.p[0] != ch:
        c.detail1 = c.p[0]
        return code
    c.p += 1
    return OK


cdef inline bint _is_digit(uint8_t ch) noexcept nogil:
    return 48 <= ch <= 57


cdef inline int _scan_number(Cursor* c, uint64_t* mantissa, int64_t* exp10, bint* exact,
                             bint* negative, bint* integral) noexcept nogil:
    """Read one JSON number: up to 19 significant digits in ``mantissa``, value =
    mantissa * 10**exp10; ``exact`` is false when non-zero digits were dropped.

    Works on local copies and stores the results once at the end: stores
    through the out-pointers inside the digit loops would be reloaded at every
    digit (they may alias the cursor), which halved the speed."""
    cdef const uint8_t* p = c.p
    cdef const uint8_t* end = c.end
    cdef const uint8_t* begin = p
    cdef int ndigits = 0
    cdef int64_t e = 0, ev = 0
    cdef uint64_t m = 0
    cdef bint eneg = False, ex = True, integ = True, neg = False
    cdef int status = OK
    # Fast path: a plain unsigned integer of up to 18 digits (all simplified
    # coordinates, all times).
    while p < end and _is_digit(p[0]) and ndigits < 18:
        m = m * 10 + (p[0] - 48)
        ndigits += 1
        p += 1
    if ndigits and not (ndigits > 1 and begin[0] == 48) and (
            p >= end or not (_is_digit(p[0]) or p[0] == 46 or p[0] == 101 or p[0] == 69)):
        c.p = p
        mantissa[0] = m
        exp10[0] = 0
        exact[0] = True
        negative[0] = False
        integral[0] = True
        return OK
    p = begin
    m = 0
    ndigits = 0
    if p < end and p[0] == 45:  # '-'
        neg = True
        p += 1
    if p >= end:
        c.p = p
        return E_TRUNCATED
    if not _is_digit(p[0]):
        c.p = begin
        # NaN, Infinity, -Infinity: JSON has no such numbers; say so plainly.
        if p[0] == 78 or p[0] == 73 or p[0] == 110 or p[0] == 105:
            return E_NONFINITE
        c.detail1 = p[0]
        return E_EXPECT_NUMBER if not neg else E_BAD_NUMBER
    if p[0] == 48:  # a leading 0 stands alone
        p += 1
        if p < end and _is_digit(p[0]):
            c.p = begin
            return E_BAD_NUMBER
    else:
        while p < end and _is_digit(p[0]):
            if ndigits < 19:
                m = m * 10 + (p[0] - 48)
                ndigits += 1
            else:
                e += 1
                if p[0] != 48:
                    ex = False
            p += 1
    if p < end and p[0] == 46:  # '.'
        integ = False
        p += 1
        if p >= end or not _is_digit(p[0]):
            c.p = p
            return E_BAD_NUMBER if p < end else E_TRUNCATED
        while p < end and _is_digit(p[0]):
            if ndigits < 19 and not (m == 0 and p[0] == 48):
                m = m * 10 + (p[0] - 48)
                ndigits += 1
                e -= 1
            elif m == 0:
                e -= 1          # leading zeros of the fraction: only move the point
            elif p[0] != 48:
                ex = False
            p += 1
    if p < end and (p[0] == 101 or p[0] == 69):  # 'e' 'E'
        integ = False
        p += 1
        if p < end and (p[0] == 43 or p[0] == 45):
            eneg = p[0] == 45
            p += 1
        if p >= end or not _is_digit(p[0]):
            c.p = p
            return E_BAD_NUMBER if p < end else E_TRUNCATED
        while p < end and _is_digit(p[0]):
            if ev < 100000:
                ev = ev * 10 + (p[0] - 48)
            p += 1
        e += -ev if eneg else ev
    c.p = p
    if p - begin > MAX_NUMBER_CHARS:
        c.p = begin
        return E_BAD_NUMBER
    mantissa[0] = m
    exp10[0] = e
    exact[0] = ex
    negative[0] = neg
    integral[0] = integ
    return OK


cdef extern from *:
    """
    #include <string.h>
    static inline uint64_t rf_load64(const uint8_t* p) { uint64_t w; memcpy(&w, p, 8); return w; }
    static inline int rf_ctz64(uint64_t w) { return __builtin_ctzll(w); }
    static inline int rf_little_endian(void) { const uint16_t one = 1; return *(const uint8_t*)&one; }
    #define RF_HI 0xF0F0F0F0F0F0F0F0ULL
    #define RF_ZEROS 0x3030303030303030ULL
    #define RF_SIXES 0x0606060606060606ULL
    #define RF_MASK1 0x000000FF000000FFULL
    """
    const uint64_t RF_HI, RF_ZEROS, RF_SIXES, RF_MASK1
    uint64_t rf_load64(const uint8_t* p) noexcept nogil
    int rf_ctz64(uint64_t w) noexcept nogil
    int rf_little_endian() noexcept nogil

cdef bint LITTLE_ENDIAN = rf_little_endian()


cdef inline bint _scan_uint_swar(Cursor* c, uint64_t* value) noexcept nogil:
    """Read a plain unsigned integer of 1-7 digits eight bytes at a time.

    Returns False (consuming nothing) when the text does not allow it: fewer
    than 8 bytes left, no digit, 8 or more digits, a leading zero, or a
    fraction or exponent after the digits. Then the general scanner decides.

    Byte k of the little-endian word is the k-th character. A byte is a digit
    when its high nibble is 3 and adding 6 keeps it so. Subtracting '0' from
    every byte only borrows upwards, into bytes past the digits, which the
    shift discards; the shift also puts zeros (leading zeros of the number) in
    the low bytes, so the 8-digit multiply-and-add reduction applies.

    References
    ----------
    D. Lemire, "Fast float parsing in practice", 2021 (parsing eight digits
    with three multiplications).
    """
    cdef uint64_t w, nd, v
    cdef int n
    cdef uint8_t after
    if not LITTLE_ENDIAN or c.end - c.p < 8:
        return False
    w = rf_load64(c.p)
    nd = ((w & RF_HI) ^ RF_ZEROS) | (((w + RF_SIXES) & RF_HI) ^ RF_ZEROS)
    if nd == 0:
        return False
    n = rf_ctz64(nd) >> 3
    if n == 0 or (n > 1 and c.p[0] == 48):
        return False
    after = c.p[n]
    if after == 46 or after == 101 or after == 69:
        return False
    v = (w - RF_ZEROS) << (8 * (8 - n))
    v = v * 10 + (v >> 8)
    v = (((v & RF_MASK1) * (100 + (<uint64_t>1000000 << 32))
          + ((v >> 16) & RF_MASK1) * (1 + (<uint64_t>10000 << 32))) >> 32)
    value[0] = v
    c.p += n
    return True


cdef uint64_t[9] POW10_U
POW10_U[0] = 1
for _k in range(1, 9):
    POW10_U[_k] = POW10_U[_k - 1] * 10


cdef inline int _digits8(uint64_t w, uint64_t* value) noexcept nogil:
    """How many of the 8 characters in ``w`` (little-endian) are leading digits, with
    their value in ``value``; the same byte tricks as ``_scan_uint_swar``."""
    cdef uint64_t nd = ((w & RF_HI) ^ RF_ZEROS) | (((w + RF_SIXES) & RF_HI) ^ RF_ZEROS)
    cdef uint64_t v
    cdef int n = 8 if nd == 0 else rf_ctz64(nd) >> 3
    if n == 0:
        value[0] = 0
        return 0
    v = (w - RF_ZEROS) << (8 * (8 - n))
    v = v * 10 + (v >> 8)
    v = (((v & RF_MASK1) * (100 + (<uint64_t>1000000 << 32))
          + ((v >> 16) & RF_MASK1) * (1 + (<uint64_t>10000 << 32))) >> 32)
    value[0] = v
    return n


cdef inline bint _scan_decimal_swar(Cursor* c, uint64_t* mantissa, int64_t* exp10,
                                    bint* negative, bint* integral) noexcept nogil:
    """Read a plain decimal (``-?digits(.digits)?``, at most 19 digits in all, no
    exponent) eight characters at a time: the raw coordinates, which JavaScript
    printed as up to 17 significant digits (``33.507999420166016``).

    Gives exactly the mantissa and exponent ``_scan_number`` gives for such a
    number (no digit dropped, so the value is exact). Returns False, consuming
    nothing, for anything else (fewer than 8 bytes left at a word, a leading
    zero, 8 or more integer digits, more than 19 digits, an exponent, a '.'
    without digits): the general scanner then reads it or reports the error.
    """
    cdef const uint8_t* p = c.p
    cdef const uint8_t* end = c.end
    cdef uint64_t m, v
    cdef int n, total, nfrac = 0
    cdef bint neg = False
    if not LITTLE_ENDIAN:
        return False
    if p < end and p[0] == 45:           # '-'
        neg = True
        p += 1
    if end - p < 8:
        return False
    n = _digits8(rf_load64(p), &m)
    if n == 0 or n == 8 or (n > 1 and p[0] == 48):
        return False
    total = n
    p += n                               # inside the word just read: no bound check needed
    if p[0] == 46:                       # '.'
        p += 1
        while True:
            if end - p < 8:
                return False
            n = _digits8(rf_load64(p), &v)
            if n == 0:
                if nfrac == 0:
                    return False
                break
            total += n
            if total > 19:
                return False
            m = m * POW10_U[n] + v
            nfrac += n
            p += n
            if n < 8:
                break
    if p < end and (p[0] == 101 or p[0] == 69):  # 'e' 'E'
        return False
    c.p = p
    mantissa[0] = m
    exp10[0] = -nfrac
    negative[0] = neg
    integral[0] = nfrac == 0
    return True


cdef inline bint _int_list_fast(Cursor* c, int16_t* o16, int32_t* o32, bint times,
                                int64_t base, int64_t limit, int64_t* k_out) noexcept nogil:
    """Read a list of plain unsigned integers up to its ']' (simplified
    coordinates, or times when ``times``), with the cursor in a register.

    Stops *before* anything it does not handle (a negative or long number, a
    value out of range, the capacity ``limit`` of ``base + k``, an unexpected
    separator, the last 8 bytes of the text) and returns False with ``k_out``
    values stored; the general loop then resumes at that number and reports
    any error with its exact message. Returns True when it consumed the ']'.
    """
    cdef const uint8_t* p = c.p
    cdef const uint8_t* end = c.end
    cdef const uint8_t* q
    cdef int64_t k = 0
    cdef uint64_t w, nd, v
    cdef int n
    cdef uint8_t after
    while end - p >= 8:
        w = rf_load64(p)
        nd = ((w & RF_HI) ^ RF_ZEROS) | (((w + RF_SIXES) & RF_HI) ^ RF_ZEROS)
        if nd == 0 or not LITTLE_ENDIAN:
            break
        n = rf_ctz64(nd) >> 3
        if n == 0 or (n > 1 and p[0] == 48) or base + k >= limit:
            break
        after = p[n]
        q = p + n
        if after == 32:                       # "12 , 3": find the separator
            while q < end and (q[0] == 32 or q[0] == 9 or q[0] == 10 or q[0] == 13):
                q += 1
            if q >= end:
                break
            after = q[0]
        if after != 44 and after != 93:
            break
        v = (w - RF_ZEROS) << (8 * (8 - n))
        v = v * 10 + (v >> 8)
        v = (((v & RF_MASK1) * (100 + (<uint64_t>1000000 << 32))
              + ((v >> 16) & RF_MASK1) * (1 + (<uint64_t>10000 << 32))) >> 32)
        if times:
            o32[base + k] = <int32_t>v        # at most 7 digits: fits
        else:
            if v > 255:
                break
            o16[base + k] = <int16_t>v
        k += 1
        p = q + 1
        if after == 93:
            c.p = p
            k_out[0] = k
            return True
        while p < end and (p[0] == 32 or p[0] == 9 or p[0] == 10 or p[0] == 13):
            p += 1
    c.p = p
    k_out[0] = k
    return False


cdef inline bint _near_float32_tie(double d) noexcept nogil:
    """Whether d lies so close to a midpoint between two float32 values that an
    error of a few double ulps could change its rounding to float32.

    In float32's normal range a midpoint is a double whose 29 low mantissa bits
    (those float32 lacks) are 1 followed by zeros: d is near one when its low
    bits are within 64 double ulps of that pattern (the fast path errs by at
    most 2). Integer operations only; elsewhere the general test decides.
    """
    cdef uint64_t bits
    cdef int64_t low
    cdef double a = fabs(d)
    if 1.1754943508222875e-38 <= a < 3.4028234663852886e+38:
        memcpy(&bits, &d, 8)
        low = <int64_t>(bits & 0x1FFFFFFF) - 0x10000000
        return -64 <= low <= 64
    return _near_float32_tie_general(d)


cdef bint _near_float32_tie_general(double d) noexcept nogil:
    """``_near_float32_tie`` outside float32's normal range: measured on the float32 grid."""
    cdef float f = <float>d
    cdef double fd = <double>f
    cdef float nb
    if d == fd:
        return False
    nb = nextafterf(f, HUGE_VALF if d > fd else -HUGE_VALF)
    return fabs(d - (fd + <double>nb) * 0.5) <= fabs(d) * 1e-14


cdef int _to_float32(Cursor* c, const uint8_t* begin, uint64_t m, int64_t e, bint exact,
                     bint negative, float* out) noexcept nogil:
    """float32 of the decimal m * 10**e, rounded like float32(float(text))."""
    cdef double d
    cdef char[401] buf
    cdef Py_ssize_t n
    cdef bint fast = False
    if m == 0:
        d = 0.0
        fast = True
    elif -22 <= e <= 22:
        d = <double>m
        if e >= 0:
            d = d * POW10[e]
        else:
            d = d / POW10[-e]
        # exact when m fits 53 bits and nothing was dropped (one rounding);
        # otherwise at most ~2 ulps off: good unless next to a float32 tie.
        fast = (exact and m <= (<uint64_t>1 << 53)) or not _near_float32_tie(d)
    if not fast:
        n = c.p - begin
        if n > MAX_NUMBER_CHARS:
            return E_BAD_NUMBER
        memcpy(buf, begin, n)
        buf[n] = 0
        d = fabs(rf_strtod_c(buf))
    if negative:
        d = -d
    out[0] = <float>d
    if isinf(out[0]):
        return E_TOO_LARGE
    return OK


cdef int _parse_drawing(Cursor* c, bint raw, int64_t max_points, int64_t max_strokes,
                        int16_t* xs, int16_t* ys, float* xf, float* yf, int32_t* ts,
                        int64_t* np_, int64_t point_cap,
                        int64_t* stroke_offsets, int64_t* ns, int64_t stroke_cap) noexcept nogil:
    """Parse one drawing, appending its points and strokes; return a status code.

    On failure the caller rolls ``np_`` and ``ns`` back to their values at entry."""
    cdef int status, li, nlists = 3 if raw else 2
    cdef int64_t p0 = np_[0], s0 = ns[0], k, nx, pos
    cdef uint64_t m
    cdef int64_t e
    cdef bint exact, negative, integral
    cdef float fv
    cdef const uint8_t* begin
    status = _expect(c, 91, E_EXPECT_DRAWING)
    if status:
        return status
    _skip_ws(c)
    if c.p < c.end and c.p[0] == 93:
        return E_EMPTY_DRAWING
    while True:                                   # strokes
        status = _expect(c, 91, E_EXPECT_STROKE)
        if status:
            return status
        nx = 0
        li = 0
        while True:                               # coordinate lists of the stroke
            if li >= nlists:
                return E_TOO_MANY_LISTS
            status = _expect(c, 91, E_EXPECT_LIST)
            if status:
                return status
            k = 0
            _skip_ws(c)
            if c.p < c.end and c.p[0] == 93:      # an empty list
                c.p += 1
            elif (li == 2 or not raw) and _int_list_fast(
                    c, xs if li == 0 else ys, ts, li == 2,
                    np_[0], (min(point_cap, p0 + max_points) if li == 0 else np_[0] + nx), &k):
                pass                              # read to its ']' by the fast path
            else:
                while True:                       # numbers of the list (general path)
                    _skip_ws(c)
                    begin = c.p
                    if raw and li < 2:
                        # raw x, y: decimals eight characters at a time, else the general way
                        if _scan_decimal_swar(c, &m, &e, &negative, &integral):
                            exact = True
                        else:
                            status = _scan_number(c, &m, &e, &exact, &negative, &integral)
                            if status:
                                return status
                    elif not _scan_uint_swar(c, &m):
                        status = _scan_number(c, &m, &e, &exact, &negative, &integral)
                        if status:
                            return status
                    else:
                        e = 0
                        negative = False
                        integral = True
                    pos = np_[0] + k
                    if li == 0:
                        if pos - p0 >= max_points:
                            c.detail1 = max_points
                            return E_TOO_MANY_POINTS
                        if pos >= point_cap:
                            return E_CAPACITY
                    elif k >= nx:
                        c.detail1 = li
                        c.detail2 = k + 1
                        c.detail3 = nx
                        return E_LENGTH_MISMATCH
                    if raw and li < 2:
                        status = _to_float32(c, begin, m, e, exact, negative, &fv)
                        if status:
                            c.detail1 = li
                            c.p = begin
                            return status
                        if li == 0:
                            xf[pos] = fv
                        else:
                            yf[pos] = fv
                    else:
                        if not integral:
                            c.detail1 = li
                            c.p = begin
                            return E_NOT_INTEGER
                        if raw:                   # t: int32 milliseconds
                            if e != 0 or m > (<uint64_t>2147483647 + negative):
                                c.detail1 = li
                                c.p = begin
                                return E_TOO_LARGE
                            ts[pos] = <int32_t>(-<int64_t>m) if negative else <int32_t>m
                        else:                     # simplified: 0-255
                            if e != 0 or m > 255 or (negative and m != 0):
                                c.detail1 = li
                                c.p = begin
                                return E_OUT_OF_RANGE
                            if li == 0:
                                xs[pos] = <int16_t>m
                            else:
                                ys[pos] = <int16_t>m
                    k += 1
                    _skip_ws(c)
                    if c.p >= c.end:
                        return E_TRUNCATED
                    if c.p[0] == 93:
                        c.p += 1
                        break
                    if c.p[0] != 44:
                        c.detail1 = c.p[0]
                        return E_EXPECT_LIST_SEP
                    c.p += 1
            if li == 0:
                nx = k
                if nx == 0:
                    return E_EMPTY_STROKE
            elif k != nx:
                c.detail1 = li
                c.detail2 = k
                c.detail3 = nx
                return E_LENGTH_MISMATCH
            li += 1
            _skip_ws(c)
            if c.p >= c.end:
                return E_TRUNCATED
            if c.p[0] == 93:
                c.p += 1
                break
            if c.p[0] != 44:
                c.detail1 = c.p[0]
                return E_EXPECT_STROKE_SEP
            c.p += 1
        if li < nlists:
            c.detail1 = li
            return E_TOO_FEW_LISTS
        if ns[0] - s0 >= max_strokes:
            c.detail1 = max_strokes
            return E_TOO_MANY_STROKES
        if ns[0] + 1 >= stroke_cap:
            return E_CAPACITY
        np_[0] += nx
        ns[0] += 1
        stroke_offsets[ns[0]] = np_[0]
        _skip_ws(c)
        if c.p >= c.end:
            return E_TRUNCATED
        if c.p[0] == 93:
            c.p += 1
            break
        if c.p[0] != 44:
            c.detail1 = c.p[0]
            return E_EXPECT_DRAWING_SEP
        c.p += 1
    _skip_ws(c)
    if c.p < c.end:
        c.detail1 = c.p[0]
        return E_TRAILING
    return OK


# -- the drawing loop, shared by every input form ---------------------------------------------

cdef extern from "Python.h":
    # CPython's own accessors (macros): the text of a compact ASCII str is its
    # bytes, one per character, right after the object header; a bytes object's
    # text is its buffer. Only called on objects checked to be of that kind.
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    const void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    const char* PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_WRITABLE, PyBUF_ANY_CONTIGUOUS
from cpython.unicode cimport PyUnicode_Check
from cpython.bytes cimport PyBytes_Check

# Where an empty text "begins" when there is no byte to point at (an empty
# data buffer): never read, since such a text's end is its start.
cdef uint8_t[1] _NO_TEXT


cdef struct Points:
    # The point columns, written only by _parse_drawing behind its capacity checks.
    int16_t* xs
    int16_t* ys
    float* xf
    float* yf
    int32_t* ts
    int64_t point_cap
    int64_t stroke_cap


cdef struct Counts:
    int64_t npts
    int64_t nstr
    int64_t nkept
    int64_t nerr


cdef void* _address(object arr) except NULL:
    """The first byte of a fresh, contiguous, writeable array.

    The buffer is released at once: the arrays are shrunk in place with
    ``ndarray.resize`` after parsing, which must not happen while anything holds
    an export of their memory. The arrays themselves stay alive in the caller."""
    cdef Py_buffer view
    cdef void* p
    PyObject_GetBuffer(arr, &view, PyBUF_WRITABLE | PyBUF_ANY_CONTIGUOUS)
    p = view.buf
    PyBuffer_Release(&view)
    return p


cdef Counts _parse_loop(const uint64_t[::1] begins, const int64_t[::1] lens,
                        const uint8_t[::1] valid, bint raw, int64_t max_points,
                        int64_t max_strokes, bint stop_on_error, Points pts,
                        int64_t[::1] so, int64_t[::1] do, int64_t[::1] kept,
                        int64_t[:, ::1] err) noexcept:
    """Parse text i = ``lens[i]`` bytes at address ``begins[i]`` for every i with
    ``valid[i]``, GIL released: the one loop behind every input form.

    The callers guarantee that every text stays alive and unchanged during the
    call, and the shapes: ``lens``, ``valid``, ``kept`` and ``err`` have
    ``n = len(begins)`` rows, ``do`` n + 1, ``so`` ``pts.stroke_cap``. Each
    iteration adds at most one row to ``kept`` or to ``err``, so ``nkept`` and
    ``nerr`` stay <= i + 1 <= n and every index below is within its bound (the
    bounds-checked build checks them all, being memoryviews)."""
    cdef Py_ssize_t n = begins.shape[0], i
    cdef int64_t p_mark, s_mark
    cdef int status
    cdef Cursor c
    cdef Counts k
    k.npts = k.nstr = k.nkept = k.nerr = 0
    so[0] = 0
    do[0] = 0
    with nogil:
        for i in range(n):
            c.start = <const uint8_t*><uintptr_t>begins[i]
            c.p = c.start
            c.end = c.start + lens[i]
            c.detail1 = c.detail2 = c.detail3 = 0
            if not valid[i]:
                status = E_NULL
            else:
                p_mark = k.npts
                s_mark = k.nstr
                status = _parse_drawing(&c, raw, max_points, max_strokes, pts.xs, pts.ys,
                                        pts.xf, pts.yf, pts.ts, &k.npts, pts.point_cap,
                                        &so[0], &k.nstr, pts.stroke_cap)
                if status:
                    k.npts = p_mark
                    k.nstr = s_mark
            if status == OK:
                kept[k.nkept] = i
                k.nkept += 1
                do[k.nkept] = k.nstr
            else:
                err[k.nerr, 0] = i
                err[k.nerr, 1] = c.p - c.start
                err[k.nerr, 2] = status
                err[k.nerr, 3] = c.detail1
                err[k.nerr, 4] = c.detail2
                err[k.nerr, 5] = c.detail3
                k.nerr += 1
                if stop_on_error:
                    break
    return k


cdef tuple _parse_texts(begins_arr, lens_arr, valid_arr, int64_t total, int64_t longest,
                        bint raw, int64_t max_points, int64_t max_strokes, bint stop_on_error):
    """Allocate the outputs, run :func:`_parse_loop`, and shrink the outputs to size.

    ``total`` is the byte count of the valid texts, ``longest`` the longest one."""
    cdef Py_ssize_t n = len(begins_arr)
    # Capacities from the grammar. Points kept: a stroke of k points takes at
    # least 4k + 5 bytes ("[[0],[0]]" for k = 1), so <= total / 4. While a bad
    # drawing is being read, before it is rolled back, its x list may hold up
    # to half its bytes ("1,1,1,...") and no more than max_points. Strokes
    # take at least 9 bytes each, kept or not yet rolled back: <= total / 9.
    cdef Points pts
    pts.point_cap = total // 4 + min(longest // 2, max_points) + 16
    pts.stroke_cap = total // 9 + 16
    coord = np.float32 if raw else np.int16
    x_arr = np.empty(pts.point_cap, coord)
    y_arr = np.empty(pts.point_cap, coord)
    t_arr = np.empty(pts.point_cap if raw else 0, np.int32)
    so_arr = np.empty(pts.stroke_cap, np.int64)
    do_arr = np.empty(n + 1, np.int64)
    kept_arr = np.empty(n, np.int64)
    err_arr = np.empty((n, 6), np.int64)
    pts.xs = pts.ys = NULL
    pts.xf = pts.yf = NULL
    pts.ts = NULL
    if raw:
        pts.xf = <float*>_address(x_arr)
        pts.yf = <float*>_address(y_arr)
        pts.ts = <int32_t*>_address(t_arr)
    else:
        pts.xs = <int16_t*>_address(x_arr)
        pts.ys = <int16_t*>_address(y_arr)
    # The memoryviews of the call live only as long as the call.
    cdef Counts k = _parse_loop(begins_arr, lens_arr, valid_arr, raw, max_points, max_strokes,
                                stop_on_error, pts, so_arr, do_arr, kept_arr, err_arr)
    # Shrink in place rather than copy the used part out: realloc, which for
    # big blocks remaps pages (no copy, no fresh page faults) and frees the
    # rest. Safe without refcheck: nothing else has seen these arrays, and no
    # buffer export of them is left.
    x_arr.resize(k.npts, refcheck=False)
    y_arr.resize(k.npts, refcheck=False)
    if raw:
        t_arr.resize(k.npts, refcheck=False)
    so_arr.resize(k.nstr + 1, refcheck=False)
    do_arr.resize(k.nkept + 1, refcheck=False)
    kept_arr.resize(k.nkept, refcheck=False)
    err_arr.resize((k.nerr, 6), refcheck=False)
    return x_arr, y_arr, t_arr, so_arr, do_arr, kept_arr, err_arr


def _parse(const uint8_t[::1] data, const int64_t[::1] starts, const int64_t[::1] ends,
           const uint8_t[::1] valid, bint raw, int64_t max_points, int64_t max_strokes,
           bint stop_on_error):
    """Parse drawings ``data[starts[i]:ends[i]]`` for every i with ``valid[i]``.

    Returns ``(x, y, t, stroke_offsets, drawing_offsets, kept, errors)`` where
    ``kept`` holds the input index of each parsed drawing and ``errors`` is an
    int64 array ``[n_errors, 6]``: input index, byte offset within the text,
    status code, detail1, detail2, detail3. With ``stop_on_error`` parsing ends
    at the first error. Every array owns its memory.
    """
    cdef Py_ssize_t n = starts.shape[0]
    if ends.shape[0] != n or valid.shape[0] != n:
        raise ValueError("starts, ends and valid must have the same length")
    cdef Py_ssize_t nbytes = data.shape[0]
    cdef Py_ssize_t i
    cdef uintptr_t base = <uintptr_t>&data[0] if nbytes else <uintptr_t>&_NO_TEXT[0]
    begins_arr = np.empty(n, np.uint64)
    lens_arr = np.empty(n, np.int64)
    cdef uint64_t[::1] begins = begins_arr
    cdef int64_t[::1] lens = lens_arr
    cdef int64_t total = 0, longest = 0
    for i in range(n):
        # Checked for every text, valid or not, so that every address below
        # lies within data (the loop reads lens[i] bytes from begins[i]).
        if not 0 <= starts[i] <= ends[i] <= nbytes:
            raise ValueError(f"text {i} spans bytes {starts[i]}:{ends[i]}, outside the data "
                             f"({nbytes} bytes) or reversed")
        begins[i] = base + <uintptr_t>starts[i]
        lens[i] = ends[i] - starts[i]
        if valid[i]:
            total += lens[i]
            longest = max(longest, lens[i])
    return _parse_texts(begins_arr, lens_arr, valid, total, longest, raw, max_points,
                        max_strokes, stop_on_error)


def _parse_items(tuple items, bint raw, int64_t max_points, int64_t max_strokes,
                 bint stop_on_error):
    """:func:`_parse` of a tuple of texts, each read in place from its own object.

    Every item must be a compact ASCII ``str`` (its characters are its bytes)
    or a ``bytes``; otherwise returns None, having parsed nothing, and the
    caller packs the texts the general way. The tuple holds a reference to
    every item for the whole call, and str and bytes are immutable, so the
    addresses stay valid while the GIL is released. Record indices and byte
    offsets are the same as for the texts packed end to end.
    """
    cdef Py_ssize_t n = len(items), i
    begins_arr = np.empty(n, np.uint64)
    lens_arr = np.empty(n, np.int64)
    cdef uint64_t[::1] begins = begins_arr
    cdef int64_t[::1] lens = lens_arr
    cdef int64_t total = 0, longest = 0, size
    cdef object item
    for i in range(n):  # i < n = len(items): in bounds, and a tuple does not change
        item = items[i]
        if PyUnicode_Check(item) and PyUnicode_IS_COMPACT_ASCII(item):
            begins[i] = <uintptr_t>PyUnicode_DATA(item)
            size = PyUnicode_GET_LENGTH(item)
        elif PyBytes_Check(item):
            begins[i] = <uintptr_t>PyBytes_AS_STRING(item)
            size = PyBytes_GET_SIZE(item)
        else:
            return None
        lens[i] = size
        total += size
        longest = max(longest, size)
    return _parse_texts(begins_arr, lens_arr, np.ones(n, np.uint8), total, longest, raw,
                        max_points, max_strokes, stop_on_error)
