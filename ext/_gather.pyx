# cython: language_level=3
"""Private kernel: copy rows scattered over several memory maps into one output array.

The gather of a ShardDataset batch: row ``rows[i]`` of map ``maps[i]`` goes to
``out[i]``, one ``memcpy`` each, without the GIL (prefetch threads run it in
parallel), with the next rows' first bytes prefetched to hide the latency of a
random read from the page cache (a TLB miss and a cache miss per row).

Addresses come from the caller, which keeps the arrays alive for the call; every
index is checked against its bound before any byte is copied.

References
----------
U. Drepper, "What every programmer should know about memory", 2007, section 6.3.2
(software prefetching).
"""

from libc.stdint cimport int64_t, uint64_t, uint8_t
from libc.string cimport memcpy

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define RF_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 0)
    #else
    #define RF_PREFETCH(p) ((void)0)
    #endif
    """
    void RF_PREFETCH(const void *p) noexcept nogil

# How many rows ahead to prefetch: far enough to cover a miss, near enough to stay in L1.
cdef enum:
    AHEAD = 4


def _gather(const uint64_t[::1] bases, const int64_t[::1] counts, const int64_t[::1] maps,
            const int64_t[::1] rows, uint8_t[:, ::1] out):
    """Copy ``rows[i]`` of map ``maps[i]`` into ``out[i]``; return -1, or the first bad ``i``.

    Map ``m`` holds ``counts[m]`` rows of ``out.shape[1]`` bytes at address ``bases[m]``.
    Nothing is copied when an index is out of range.
    """
    cdef Py_ssize_t n = rows.shape[0], k = bases.shape[0], i
    cdef Py_ssize_t row_bytes = out.shape[1]
    cdef int64_t m, r
    cdef Py_ssize_t bad = -1
    if maps.shape[0] != n or out.shape[0] != n or counts.shape[0] != k:
        raise ValueError(f"shape mismatch: {maps.shape[0]} maps, {n} rows, {out.shape[0]} "
                         f"outputs, {k} bases, {counts.shape[0]} counts")
    with nogil:
        for i in range(n):  # all checks first: a bad index copies nothing
            m = maps[i]
            if m < 0 or m >= k or rows[i] < 0 or rows[i] >= counts[m] or bases[m] == 0:
                bad = i
                break
        if bad < 0:
            for i in range(n):
                if i + AHEAD < n:
                    RF_PREFETCH(<const uint8_t *>bases[maps[i + AHEAD]]
                                + rows[i + AHEAD] * row_bytes)
                memcpy(&out[i, 0], <const uint8_t *>bases[maps[i]] + rows[i] * row_bytes,
                       row_bytes)
    return bad
