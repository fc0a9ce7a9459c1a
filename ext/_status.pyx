# cython: language_level=3
# (bounds and wraparound checks are set by setup.py: off, or on with RASTERFAST_BOUNDSCHECK=1)
"""Private: the kernels' status codes (``_status.pxd``) as a Python ``IntEnum``, ``Status``.

``rasterfast.errors.STATUS_ERRORS`` maps each to its exception and message. A
``cpdef enum`` in the ``.pxd`` would do this by itself, but Cython does not read a
``.pxd`` that sits beside the ``.pyx`` under its full module name
(``rasterfast._ext._status``); so the names are listed here once more, and the
import checks the list against ``N_STATUSES``: a status added to the ``.pxd`` and
not here (or named twice) fails the import, not a test much later.
"""

import enum

from _status cimport *

Status = enum.IntEnum("Status", [
    ('OK', OK),
    ('E_DRAWING_OFFSETS', E_DRAWING_OFFSETS),
    ('E_STROKE_OFFSETS', E_STROKE_OFFSETS),
    ('E_OFFSETS', E_OFFSETS),
    ('E_LENGTHS', E_LENGTHS),
    ('E_INDEX', E_INDEX),
    ('E_NONFINITE_POINT', E_NONFINITE_POINT),
    ('E_TIME_RANGE', E_TIME_RANGE),
    ('E_SEQUENCE_LONG', E_SEQUENCE_LONG),
    ('E_SEQUENCE_INT16', E_SEQUENCE_INT16),
    ('E_TOO_LONG', E_TOO_LONG),
    ('E_NOMEM', E_NOMEM),
    ('E_STORE_ROW', E_STORE_ROW),
    ('E_STORE_OFFSETS', E_STORE_OFFSETS),
    ('E_SHAPE', E_SHAPE),
    ('E_CHANNEL', E_CHANNEL),
    ('E_AFFIX_OFFSETS', E_AFFIX_OFFSETS),
    ('E_FULL', E_FULL),
    ('E_EXPECT_DRAWING', E_EXPECT_DRAWING),
    ('E_EXPECT_STROKE', E_EXPECT_STROKE),
    ('E_EXPECT_LIST', E_EXPECT_LIST),
    ('E_EXPECT_NUMBER', E_EXPECT_NUMBER),
    ('E_EXPECT_LIST_SEP', E_EXPECT_LIST_SEP),
    ('E_EXPECT_STROKE_SEP', E_EXPECT_STROKE_SEP),
    ('E_EXPECT_DRAWING_SEP', E_EXPECT_DRAWING_SEP),
    ('E_TRAILING', E_TRAILING),
    ('E_TRUNCATED', E_TRUNCATED),
    ('E_EMPTY_STROKE', E_EMPTY_STROKE),
    ('E_LENGTH_MISMATCH', E_LENGTH_MISMATCH),
    ('E_TOO_FEW_LISTS', E_TOO_FEW_LISTS),
    ('E_TOO_MANY_LISTS', E_TOO_MANY_LISTS),
    ('E_NOT_INTEGER', E_NOT_INTEGER),
    ('E_OUT_OF_RANGE', E_OUT_OF_RANGE),
    ('E_TOO_LARGE', E_TOO_LARGE),
    ('E_NONFINITE', E_NONFINITE),
    ('E_EMPTY_DRAWING', E_EMPTY_DRAWING),
    ('E_TOO_MANY_POINTS', E_TOO_MANY_POINTS),
    ('E_TOO_MANY_STROKES', E_TOO_MANY_STROKES),
    ('E_NULL', E_NULL),
    ('E_BAD_NUMBER', E_BAD_NUMBER),
    ('E_CAPACITY', E_CAPACITY),
    ('J_NOT_OBJECT', J_NOT_OBJECT),
    ('J_BAD_KEY', J_BAD_KEY),
    ('J_EXPECT_COLON', J_EXPECT_COLON),
    ('J_BAD_VALUE', J_BAD_VALUE),
    ('J_EXPECT_COMMA', J_EXPECT_COMMA),
    ('J_TRUNCATED', J_TRUNCATED),
    ('J_TRAILING', J_TRAILING),
    ('J_TOO_DEEP', J_TOO_DEEP),
    ('J_NO_DRAWING', J_NO_DRAWING),
    ('J_BLANK', J_BLANK),
    ('J_BAD_STRING', J_BAD_STRING),
    ('J_DRAWING_NOT_ARRAY', J_DRAWING_NOT_ARRAY),
    ('B_INCOMPLETE', B_INCOMPLETE),
    ('B_BAD_RECOGNIZED', B_BAD_RECOGNIZED),
    ('B_NO_STROKES', B_NO_STROKES),
    ('B_EMPTY_STROKE', B_EMPTY_STROKE),
    ('B_TOO_MANY_POINTS', B_TOO_MANY_POINTS),
    ('B_BAD_COUNTRY', B_BAD_COUNTRY),
], module=__name__)
Status.__doc__ = "A kernel status code (ext/_status.pxd); 0 is OK."

if sorted(Status) != list(range(N_STATUSES)):
    raise ImportError(f"rasterfast._ext._status names {len(Status)} of the {N_STATUSES} "
                      "statuses of ext/_status.pxd: list every one in ext/_status.pyx")
