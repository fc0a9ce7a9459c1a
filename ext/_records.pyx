# cython: language_level=3
"""Private kernels: record framing of Google's ndjson and binary files.

``_scan_ndjson`` finds, in each line, the value spans of the keys a drawing
record has (the drawing itself is parsed later by ``_parse``); ``_parse_bin``
decodes Google's binary format. Both check every read against the end of the
buffer and report problems as status codes (``ext/_status.pxd``), mapped to
messages in ``rasterfast.errors.STATUS_ERRORS``.
"""

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp

import numpy as np

# Field slots of _scan_ndjson's spans, in the order of rasterfast.readers.NDJSON_FIELDS.
cdef enum:
    F_WORD = 0
    F_COUNTRY = 1
    F_TIMESTAMP = 2
    F_RECOGNIZED = 3
    F_KEY_ID = 4
    F_DRAWING = 5
    N_FIELDS = 6

# Status codes: ext/_status.pxd (OK, J_* per ndjson line, B_* for .bin records).
from _status cimport (
    OK, J_NOT_OBJECT, J_BAD_KEY, J_EXPECT_COLON, J_BAD_VALUE, J_EXPECT_COMMA, J_TRUNCATED,
    J_TRAILING, J_TOO_DEEP, J_NO_DRAWING, J_BLANK, J_BAD_STRING, J_DRAWING_NOT_ARRAY,
    B_INCOMPLETE, B_BAD_RECOGNIZED, B_NO_STROKES, B_EMPTY_STROKE, B_TOO_MANY_POINTS,
    B_BAD_COUNTRY)

cdef enum:
    MAX_DEPTH = 64        # nesting a line may have (a drawing has 3 levels)


cdef inline const uint8_t* _ws(const uint8_t* p, const uint8_t* end) noexcept nogil:
    while p < end and (p[0] == 32 or p[0] == 9 or p[0] == 13 or p[0] == 10):
        p += 1
    return p


cdef inline int _utf8_len(const uint8_t* p, const uint8_t* end) noexcept nogil:
    """Length of the well-formed UTF-8 sequence at p (a byte >= 0x80), or 0.

    Well-formed as in Unicode Table 3-7 (what Python's strict decoder accepts): no
    overlong forms, no surrogates, nothing above U+10FFFF.
    """
    cdef uint8_t c = p[0], lo = 0x80, hi = 0xBF
    cdef int n, k
    if 0xC2 <= c <= 0xDF:
        n = 2
    elif 0xE0 <= c <= 0xEF:
        n = 3
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
    elif 0xF0 <= c <= 0xF4:
        n = 4
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
    else:
        return 0
    if end - p < n or not lo <= p[1] <= hi:
        return 0
    for k in range(2, n):
        if not 0x80 <= p[k] <= 0xBF:
            return 0
    return n


cdef inline int _hex4(const uint8_t* p) noexcept nogil:
    """The value of four hex digits at p, or -1."""
    cdef int v = 0, k, d
    for k in range(4):
        d = p[k]
        if 48 <= d <= 57:
            d -= 48
        elif 97 <= d <= 102:
            d -= 87
        elif 65 <= d <= 70:
            d -= 55
        else:
            return -1
        v = v * 16 + d
    return v


cdef inline const uint8_t* _string_end(const uint8_t* p, const uint8_t* end,
                                       bint* escaped, int* status) noexcept nogil:
    """p is just past an opening quote; return the closing quote, or NULL with status set.

    Checks what ``json.loads`` of UTF-8 bytes checks: no control character, only the
    escapes of RFC 8259 section 7, well-formed UTF-8 (J_BAD_STRING otherwise).
    """
    cdef int n
    while p < end:
        if p[0] == 92:  # backslash
            escaped[0] = True
            if end - p < 2:
                break
            if p[1] == 117:  # \uXXXX
                if end - p < 6:
                    break
                if _hex4(p + 2) < 0:
                    status[0] = J_BAD_STRING
                    return NULL
                p += 6
                continue
            if p[1] not in b'"\\/bfnrt':
                status[0] = J_BAD_STRING
                return NULL
            p += 2
            continue
        if p[0] == 34:
            return p
        if p[0] < 32:
            status[0] = J_BAD_STRING
            return NULL
        if p[0] >= 128:
            n = _utf8_len(p, end)
            if n == 0:
                status[0] = J_BAD_STRING
                return NULL
            p += n
            continue
        p += 1
    status[0] = J_TRUNCATED
    return NULL


cdef inline const uint8_t* _scalar_end(const uint8_t* p, const uint8_t* end) noexcept nogil:
    """The end of a JSON number or literal (true, false, null) at p, or NULL.

    Numbers follow RFC 8259 section 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    """
    cdef const uint8_t* q = p
    if end - p >= 4 and (memcmp(p, b"true", 4) == 0 or memcmp(p, b"null", 4) == 0):
        return p + 4
    if end - p >= 5 and memcmp(p, b"false", 5) == 0:
        return p + 5
    if q < end and q[0] == 45:
        q += 1
    if q >= end or not 48 <= q[0] <= 57:
        return NULL
    if q[0] == 48:
        q += 1
    else:
        while q < end and 48 <= q[0] <= 57:
            q += 1
    if q < end and q[0] == 46:
        q += 1
        if q >= end or not 48 <= q[0] <= 57:
            return NULL
        while q < end and 48 <= q[0] <= 57:
            q += 1
    if q < end and (q[0] == 101 or q[0] == 69):
        q += 1
        if q < end and (q[0] == 43 or q[0] == 45):
            q += 1
        if q >= end or not 48 <= q[0] <= 57:
            return NULL
        while q < end and 48 <= q[0] <= 57:
            q += 1
    return q


cdef const uint8_t* _key_colon(const uint8_t* p, const uint8_t* end, int* status,
                               const uint8_t** fail) noexcept nogil:
    """A quoted key and its ':' at p (inside an object value); the value start or NULL."""
    cdef bint esc = False
    cdef const uint8_t* q
    if p >= end:
        status[0] = J_TRUNCATED
        fail[0] = p
        return NULL
    if p[0] != 34:
        status[0] = J_BAD_KEY
        fail[0] = p
        return NULL
    q = _string_end(p + 1, end, &esc, status)
    if q == NULL:
        fail[0] = p
        return NULL
    p = _ws(q + 1, end)
    if p >= end or p[0] != 58:
        status[0] = J_EXPECT_COLON if p < end else J_TRUNCATED
        fail[0] = p
        return NULL
    return _ws(p + 1, end)


cdef const uint8_t* _skip_value(const uint8_t* p, const uint8_t* end, int* status,
                                bint* escaped, const uint8_t** fail) noexcept nogil:
    """Check and skip one JSON value at p: the byte after it, or NULL with status and
    ``fail`` (where the problem is) set.

    Validates all of JSON's grammar (strings, numbers, literals, nesting up to
    MAX_DEPTH) with an explicit stack, so that no line is accepted that ``json.loads``
    refuses and no nesting exhausts the C stack. ``escaped`` is set when a top-level
    string holds a backslash escape.
    """
    cdef uint8_t stack[MAX_DEPTH]
    cdef int depth = 0
    cdef bint esc
    cdef const uint8_t* q
    while True:
        # a value is expected at p
        p = _ws(p, end)
        if p >= end:
            status[0] = J_TRUNCATED
            fail[0] = p
            return NULL
        if p[0] == 34:
            esc = False
            q = _string_end(p + 1, end, &esc, status)
            if q == NULL:
                fail[0] = p
                return NULL
            if depth == 0 and esc:
                escaped[0] = True
            p = q + 1
        elif p[0] == 91 or p[0] == 123:
            if depth == MAX_DEPTH:
                status[0] = J_TOO_DEEP
                fail[0] = p
                return NULL
            stack[depth] = p[0]
            depth += 1
            p = _ws(p + 1, end)
            if p < end and p[0] == stack[depth - 1] + 2:   # [] or {}: ']' is '[' + 2
                p += 1
                depth -= 1
            elif stack[depth - 1] == 123:
                p = _key_colon(p, end, status, fail)
                if p == NULL:
                    return NULL
                continue
            else:
                continue
        else:
            q = _scalar_end(p, end)
            if q == NULL:
                status[0] = J_BAD_VALUE
                fail[0] = p
                return NULL
            p = q
        # after a value: close containers, or a ',' and the next value
        while depth > 0:
            p = _ws(p, end)
            if p >= end:
                status[0] = J_TRUNCATED
                fail[0] = p
                return NULL
            if p[0] == stack[depth - 1] + 2:
                p += 1
                depth -= 1
                continue
            if p[0] != 44:
                status[0] = J_EXPECT_COMMA
                fail[0] = p
                return NULL
            p = _ws(p + 1, end)
            if stack[depth - 1] == 123:
                p = _key_colon(p, end, status, fail)
                if p == NULL:
                    return NULL
            break
        if depth == 0:
            return p


cdef inline int _field_of(const uint8_t* k, Py_ssize_t n) noexcept nogil:
    if n == 4 and memcmp(k, b"word", 4) == 0:
        return F_WORD
    if n == 11 and memcmp(k, b"countrycode", 11) == 0:
        return F_COUNTRY
    if n == 9 and memcmp(k, b"timestamp", 9) == 0:
        return F_TIMESTAMP
    if n == 10 and memcmp(k, b"recognized", 10) == 0:
        return F_RECOGNIZED
    if n == 6 and memcmp(k, b"key_id", 6) == 0:
        return F_KEY_ID
    if n == 7 and memcmp(k, b"drawing", 7) == 0:
        return F_DRAWING
    return -1


cdef int _field_of_escaped(const uint8_t* k, Py_ssize_t n) noexcept nogil:
    """_field_of of a key that holds escapes (``"dr\\u0061wing"`` is ``drawing``)."""
    cdef uint8_t buf[12]
    cdef Py_ssize_t i = 0, m = 0
    cdef int c
    while i < n:
        if m == 12:
            return -1
        c = k[i]
        if c == 92:
            c = k[i + 1]          # _string_end checked every escape
            if c == 117:
                c = _hex4(k + i + 2)
                i += 6
            else:
                c = (8 if c == 98 else 12 if c == 102 else 10 if c == 110 else
                     13 if c == 114 else 9 if c == 116 else c)    # \b \f \n \r \t
                i += 2
            if c >= 128:
                return -1
        else:
            i += 1
        buf[m] = <uint8_t>c
        m += 1
    return _field_of(buf, m)


def _scan_ndjson(const uint8_t[::1] data, const int64_t[::1] starts, const int64_t[::1] ends):
    """Find the value spans of the known keys in each line ``data[starts[i]:ends[i]]``.

    Returns ``(spans, escaped, status, err_offset)``: ``spans`` int64
    ``[n, 6, 2]`` (absolute start, end; -1 when the key is absent; string
    values without their quotes), ``escaped`` uint8 ``[n]`` (bit f set when
    field f holds a backslash escape), ``status`` int32 ``[n]``, and the byte
    offset of a problem within its line.
    """
    cdef Py_ssize_t n = starts.shape[0], nbytes = data.shape[0], i
    if ends.shape[0] != n:
        raise ValueError("starts and ends must have the same length")
    for i in range(n):
        if not 0 <= starts[i] <= ends[i] <= nbytes:
            raise ValueError(f"line {i} spans bytes {starts[i]}:{ends[i]} outside the data")
    spans_arr = np.full((n, N_FIELDS, 2), -1, np.int64)
    escaped_arr = np.zeros(n, np.uint8)
    status_arr = np.zeros(n, np.int32)
    offset_arr = np.zeros(n, np.int64)
    cdef int64_t[:, :, ::1] spans = spans_arr
    cdef uint8_t[::1] escaped = escaped_arr
    cdef int32_t[::1] status = status_arr
    cdef int64_t[::1] err_off = offset_arr
    cdef const uint8_t* base
    cdef const uint8_t* line
    cdef const uint8_t* p
    cdef const uint8_t* end
    cdef const uint8_t* q
    cdef const uint8_t* v
    cdef const uint8_t* fail
    cdef int st, f
    cdef bint esc, drawing_array
    if nbytes == 0:
        for i in range(n):
            status[i] = J_BLANK
        return spans_arr, escaped_arr, status_arr, offset_arr
    base = &data[0]
    with nogil:
        for i in range(n):
            line = base + starts[i]
            end = base + ends[i]
            st = OK
            drawing_array = True
            p = _ws(line, end)
            if p >= end:
                status[i] = J_BLANK
                continue
            if p[0] != 123:
                st = J_NOT_OBJECT
            else:
                p = _ws(p + 1, end)
                if p < end and p[0] == 125:
                    p += 1
                else:
                    while True:
                        if p >= end:
                            st = J_TRUNCATED
                            break
                        if p[0] != 34:
                            st = J_BAD_KEY
                            break
                        esc = False
                        q = _string_end(p + 1, end, &esc, &st)
                        if q == NULL:
                            break
                        f = _field_of_escaped(p + 1, q - p - 1) if esc else _field_of(
                            p + 1, q - p - 1)
                        p = _ws(q + 1, end)
                        if p >= end or p[0] != 58:
                            st = J_EXPECT_COLON if p < end else J_TRUNCATED
                            break
                        p = _ws(p + 1, end)
                        v = p
                        esc = False
                        p = _skip_value(p, end, &st, &esc, &fail)
                        if p == NULL:
                            p = fail
                            break
                        if f >= 0:
                            # a repeated key: the last one counts, as in json.loads
                            escaped[i] &= <uint8_t>~(1 << f)
                            if v[0] == 34:       # a string: keep the inside
                                spans[i, f, 0] = v + 1 - base
                                spans[i, f, 1] = p - 1 - base
                                if esc:
                                    escaped[i] |= <uint8_t>(1 << f)
                            else:
                                spans[i, f, 0] = v - base
                                spans[i, f, 1] = p - base
                            if f == F_DRAWING:
                                drawing_array = v[0] == 91
                        p = _ws(p, end)
                        if p >= end:
                            st = J_TRUNCATED
                            break
                        if p[0] == 125:
                            p += 1
                            break
                        if p[0] != 44:
                            st = J_EXPECT_COMMA
                            break
                        p = _ws(p + 1, end)
                if st == OK:
                    p = _ws(p, end)
                    if p < end:
                        st = J_TRAILING
                    elif spans[i, F_DRAWING, 0] < 0:
                        st = J_NO_DRAWING
                    elif not drawing_array:
                        st = J_DRAWING_NOT_ARRAY
                        p = base + spans[i, F_DRAWING, 0]
            status[i] = st
            err_off[i] = p - line
    return spans_arr, escaped_arr, status_arr, offset_arr


def _parse_bin(const uint8_t[::1] data, int64_t max_points, int64_t max_records):
    """Decode complete records of Google's binary format from the start of ``data``.

    Per record, little-endian: key_id u64, countrycode 2 bytes, recognized i8,
    timestamp u32 (seconds), n_strokes u16; per stroke n_points u16, then
    n_points x bytes, then n_points y bytes.

    Returns ``(x, y, stroke_offsets, drawing_offsets, key_id, country, recognized,
    timestamp, consumed, status, bad_record_offset)``: the drawings decoded
    before the first record that is incomplete (``status`` B_INCOMPLETE: the
    caller reads more) or corrupt; ``consumed`` is the byte count of the
    records returned. A record whose strokes are empty or too many points is
    corrupt as well: its length is still known, but a stream that contains one
    is not trustworthy enough to resynchronise on.
    """
    cdef Py_ssize_t nbytes = data.shape[0]
    # A record has at least 17 header bytes, a stroke of k points 2 + 2k bytes.
    cdef int64_t rec_cap = min(nbytes // 19 + 1, max(max_records, 0) + 1)
    cdef int64_t pt_cap = nbytes // 2 + 1, st_cap = nbytes // 4 + 2
    x_arr = np.empty(pt_cap, np.int16)
    y_arr = np.empty(pt_cap, np.int16)
    so_arr = np.empty(st_cap, np.int64)
    do_arr = np.empty(rec_cap + 1, np.int64)
    key_arr = np.empty(rec_cap, np.uint64)
    cc_arr = np.empty((rec_cap, 2), np.uint8)
    rec_arr = np.empty(rec_cap, np.int8)
    ts_arr = np.empty(rec_cap, np.int64)
    cdef int16_t[::1] xs = x_arr, ys = y_arr
    cdef int64_t[::1] so = so_arr, do = do_arr, ts = ts_arr
    cdef uint64_t[::1] key = key_arr
    cdef uint8_t[:, ::1] cc = cc_arr
    cdef int8_t[::1] rec = rec_arr
    cdef int64_t pos = 0, start, nrec = 0, npts = 0, nstr = 0, np0, ns0, j, q, stroke_pts
    cdef uint16_t n_strokes, n_points
    cdef uint64_t kid
    cdef uint32_t stamp
    cdef int status = OK, b
    so[0] = 0
    do[0] = 0
    with nogil:
        while pos < nbytes and nrec < max_records and nrec < rec_cap:
            start = pos
            if nbytes - pos < 17:
                status = B_INCOMPLETE
                break
            kid = 0
            for b in range(8):
                kid |= (<uint64_t>data[pos + b]) << (8 * b)
            stamp = 0
            for b in range(4):
                stamp |= (<uint32_t>data[pos + 11 + b]) << (8 * b)
            if data[pos + 10] > 1:
                status = B_BAD_RECOGNIZED
                break
            if data[pos + 8] > 127 or data[pos + 9] > 127:
                status = B_BAD_COUNTRY
                break
            n_strokes = data[pos + 15] | (data[pos + 16] << 8)
            if n_strokes == 0:
                status = B_NO_STROKES
                break
            np0 = npts
            ns0 = nstr
            q = pos + 17
            for j in range(n_strokes):
                if nbytes - q < 2:
                    status = B_INCOMPLETE
                    break
                n_points = data[q] | (data[q + 1] << 8)
                q += 2
                if n_points == 0:
                    status = B_EMPTY_STROKE
                    break
                if npts - np0 + n_points > max_points:
                    status = B_TOO_MANY_POINTS
                    break
                if nbytes - q < 2 * <int64_t>n_points:
                    status = B_INCOMPLETE
                    break
                if npts + n_points > pt_cap or nstr + 2 > st_cap:
                    status = B_INCOMPLETE   # cannot happen by the bounds above; stay safe
                    break
                for b in range(n_points):
                    xs[npts + b] = data[q + b]
                    ys[npts + b] = data[q + n_points + b]
                q += 2 * <int64_t>n_points
                npts += n_points
                nstr += 1
                so[nstr] = npts
            if status != OK:
                npts = np0
                nstr = ns0
                break
            key[nrec] = kid
            cc[nrec, 0] = data[pos + 8]
            cc[nrec, 1] = data[pos + 9]
            rec[nrec] = <int8_t>data[pos + 10]
            ts[nrec] = stamp
            nrec += 1
            do[nrec] = nstr
            pos = q
    return (x_arr[:npts].copy(), y_arr[:npts].copy(), so_arr[:nstr + 1].copy(),
            do_arr[:nrec + 1].copy(), key_arr[:nrec].copy(), cc_arr[:nrec].copy(),
            rec_arr[:nrec].copy(), ts_arr[:nrec].copy(), pos, status, pos)
