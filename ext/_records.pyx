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
    J_TRAILING, J_TOO_DEEP, J_NO_DRAWING, J_BLANK, B_INCOMPLETE, B_BAD_RECOGNIZED, B_NO_STROKES,
    B_EMPTY_STROKE, B_TOO_MANY_POINTS)

cdef int MAX_DEPTH = 64


cdef inline const uint8_t* _ws(const uint8_t* p, const uint8_t* end) noexcept nogil:
    while p < end and (p[0] == 32 or p[0] == 9 or p[0] == 13 or p[0] == 10):
        p += 1
    return p


cdef inline const uint8_t* _string_end(const uint8_t* p, const uint8_t* end,
                                       bint* escaped) noexcept nogil:
    """p is just past an opening quote; return the closing quote or NULL."""
    while p < end:
        if p[0] == 92:  # backslash: the next byte is escaped
            escaped[0] = True
            p += 2
            continue
        if p[0] == 34:
            return p
        p += 1
    return NULL


cdef const uint8_t* _skip_value(const uint8_t* p, const uint8_t* end, int* status) noexcept nogil:
    """Skip one JSON value starting at p; NULL with status set on failure."""
    cdef int depth = 0
    cdef bint esc = False
    cdef const uint8_t* q
    if p >= end:
        status[0] = J_TRUNCATED
        return NULL
    if p[0] == 34:
        q = _string_end(p + 1, end, &esc)
        if q == NULL:
            status[0] = J_TRUNCATED
        return q + 1 if q != NULL else NULL
    if p[0] != 91 and p[0] != 123:  # number or literal: up to a delimiter
        q = p
        while q < end and q[0] != 44 and q[0] != 125 and q[0] != 93 and not (
                q[0] == 32 or q[0] == 9 or q[0] == 13 or q[0] == 10):
            q += 1
        if q == p:
            status[0] = J_BAD_VALUE
            return NULL
        return q
    while p < end:                   # array or object: match brackets outside strings
        if p[0] == 91 or p[0] == 123:
            depth += 1
            if depth > MAX_DEPTH:
                status[0] = J_TOO_DEEP
                return NULL
        elif p[0] == 93 or p[0] == 125:
            depth -= 1
            if depth == 0:
                return p + 1
        elif p[0] == 34:
            q = _string_end(p + 1, end, &esc)
            if q == NULL:
                break
            p = q
        p += 1
    status[0] = J_TRUNCATED
    return NULL


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
    cdef int st, f
    cdef bint esc
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
                        q = _string_end(p + 1, end, &esc)
                        if q == NULL:
                            st = J_TRUNCATED
                            break
                        f = -1 if esc else _field_of(p + 1, q - p - 1)
                        p = _ws(q + 1, end)
                        if p >= end or p[0] != 58:
                            st = J_EXPECT_COLON if p < end else J_TRUNCATED
                            break
                        p = _ws(p + 1, end)
                        v = p
                        p = _skip_value(p, end, &st)
                        if p == NULL:
                            p = v
                            break
                        if f >= 0:
                            if v[0] == 34:       # a string: keep the inside
                                spans[i, f, 0] = v + 1 - base
                                spans[i, f, 1] = p - 1 - base
                                esc = False
                                _string_end(v + 1, p, &esc)
                                if esc:
                                    escaped[i] |= <uint8_t>(1 << f)
                            else:
                                spans[i, f, 0] = v - base
                                spans[i, f, 1] = p - base
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
