# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (off; on with
# RASTERFAST_BOUNDSCHECK=1): a directive in this header would override that switch.
"""Private kernel: Shannon entropy of each image's value histogram, GIL released.

For an image of ``m`` values with ``c_v`` of them equal to ``v``,
``H = -sum_v (c_v / m) log2(c_v / m) = log2(m) - (1 / m) sum_v c_v log2(c_v)``
bits. Doodles are mostly background: eight pixels at a time are read as one
word, and a word of zeros adds 8 to the count of 0 at once. Other words are
counted into four interleaved histograms, summed at the end, so that a pixel
need not wait for the previous increment of the same counter.

References
----------
C. E. Shannon, "A Mathematical Theory of Communication", Bell System
Technical Journal 27 (1948). The Kaggle Quick, Draw! "sketch entropy" kernel
uses this score to find outlier drawings.
"""

from libc.math cimport log2
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcpy, memset

from _status cimport OK, E_SHAPE


def _sketch_entropy(const uint8_t[:, ::1] images, float[::1] out):
    """``out[i]`` = entropy in bits of row ``i``'s 256-bin value histogram; return a status.

    E_SHAPE: ``out`` is not one value per row. Rows must hold fewer
    than 2**32 values (the counters are 32-bit; the wrapper checks).
    """
    cdef Py_ssize_t n = images.shape[0]
    cdef Py_ssize_t m = images.shape[1]
    cdef Py_ssize_t i, q, m8
    cdef uint64_t word
    cdef uint32_t zeros
    cdef int v, nonzero
    cdef uint32_t hist[4][256]
    cdef int64_t cnt
    cdef double acc, logm
    cdef const uint8_t* px
    if out.shape[0] != n:
        return E_SHAPE
    m8 = m - m % 8
    logm = log2(<double>m) if m > 0 else 0.0
    with nogil:
        for i in range(n):
            memset(&hist[0][0], 0, sizeof(hist))
            if m == 0:
                out[i] = 0.0
                continue
            px = &images[i, 0]
            zeros = 0
            q = 0
            while q < m8:
                memcpy(&word, px + q, 8)
                if word == 0:
                    zeros += 8
                else:
                    hist[0][px[q]] += 1
                    hist[1][px[q + 1]] += 1
                    hist[2][px[q + 2]] += 1
                    hist[3][px[q + 3]] += 1
                    hist[0][px[q + 4]] += 1
                    hist[1][px[q + 5]] += 1
                    hist[2][px[q + 6]] += 1
                    hist[3][px[q + 7]] += 1
                q += 8
            while q < m:
                hist[0][px[q]] += 1
                q += 1
            hist[1][0] += zeros
            acc = 0.0
            nonzero = 0
            for v in range(256):
                cnt = <int64_t>hist[0][v] + hist[1][v] + hist[2][v] + hist[3][v]
                if cnt > 0:
                    nonzero += 1
                    acc += cnt * log2(<double>cnt)
            # one value: exactly 0 (the formula leaves a rounding residue)
            out[i] = <float>(logm - acc / m) if nonzero > 1 else 0.0
    return OK
