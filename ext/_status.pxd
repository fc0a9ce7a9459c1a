# cython: language_level=3
"""The status codes of every kernel: one enum, so that no two kernels give one number two meanings.

A kernel returns ``OK`` or one of these; ``rasterfast.errors.STATUS_ERRORS`` is the
one place that turns them into exceptions and messages, and ``_status.pyx`` gives
Python the same names (``rasterfast._ext._status.Status``). The values are numbered
in order from 0 with nothing skipped, so that ``_status.pyx`` can check that it
names every one (``N_STATUSES``); add a status anywhere in the list, name it in
``_status.pyx`` and give it an entry in ``STATUS_ERRORS`` (tests/test_errors.py checks
both). ``detail`` is the second value most kernels return.
"""

cdef enum:
    OK                      # done (also: a good line or record of the readers)
    # A StrokeBatch whose columns do not fit together (see StrokeBatch.validate()).
    E_DRAWING_OFFSETS       # drawing_offsets out of range or decreasing (detail: drawing)
    E_STROKE_OFFSETS        # stroke_offsets out of range or decreasing (detail: stroke)
    E_OFFSETS               # a drawing's stroke or drawing offsets are broken (detail: drawing)
    E_LENGTHS               # x, y, t and the offsets disagree in length
    E_INDEX                 # a drawing index outside the batch (detail: position in the indices)
    # Values that an operation cannot take.
    E_NONFINITE_POINT       # a NaN or infinite coordinate (detail: point of the batch)
    E_TIME_RANGE            # augment: a warped time outside int32 (detail: drawing)
    E_SEQUENCE_LONG         # to_stroke3/5: more points than the sequence length (detail: drawing)
    E_SEQUENCE_INT16        # to_stroke3/5: an offset outside int16 (detail: drawing)
    E_TOO_LONG              # simplify, per drawing: a stroke resamples to more than max_points
                            # (detail: stroke of the drawing)
    E_NOMEM                 # out of memory
    # A stroke-store file that does not hold what its index says (detail: position).
    E_STORE_ROW             # a row outside its file's drawings (or a shard not mapped)
    E_STORE_OFFSETS         # a file's offsets out of range or decreasing
    # Internal: not bad input, a bug in the caller or a state the caller handles.
    E_SHAPE                 # arguments or outputs whose sizes do not fit each other
    E_CHANNEL               # encode: an unknown channel code (detail: the code)
    E_AFFIX_OFFSETS         # format: row prefix/suffix offsets broken (detail: drawing)
    E_FULL                  # format: the output buffer is full (detail: the size bound of the
                            # drawing that did not fit); the caller calls again
    # The drawing parser (_parse.pyx): detail1..3 as noted.
    E_EXPECT_DRAWING        # expected '[' opening the drawing (detail1: byte found)
    E_EXPECT_STROKE         # expected '[' opening a stroke (detail1: byte found)
    E_EXPECT_LIST           # expected '[' opening a coordinate list (detail1: byte found)
    E_EXPECT_NUMBER         # (detail1: byte found)
    E_EXPECT_LIST_SEP       # expected ',' or ']' inside a list (detail1: byte found)
    E_EXPECT_STROKE_SEP     # expected ',' or ']' after a list (detail1: byte found)
    E_EXPECT_DRAWING_SEP    # expected ',' or ']' after a stroke (detail1: byte found)
    E_TRAILING              # (detail1: byte found)
    E_TRUNCATED
    E_EMPTY_STROKE
    E_LENGTH_MISMATCH       # detail1 = list index (1: y, 2: t), detail2 = count, detail3 = x count
    E_TOO_FEW_LISTS         # detail1 = lists found
    E_TOO_MANY_LISTS
    E_NOT_INTEGER           # detail1 = list index
    E_OUT_OF_RANGE          # simplified coordinate outside 0-255 (detail1 = list index)
    E_TOO_LARGE             # detail1 = list index
    E_NONFINITE             # NaN or Infinity in the text
    E_EMPTY_DRAWING
    E_TOO_MANY_POINTS       # detail1 = limit
    E_TOO_MANY_STROKES      # detail1 = limit
    E_NULL
    E_BAD_NUMBER
    E_CAPACITY              # internal: output buffer too small (a bug, not bad input)
    # The ndjson line scanner (_records.pyx): per line.
    J_NOT_OBJECT            # line does not start with '{'
    J_BAD_KEY               # expected a quoted key
    J_EXPECT_COLON
    J_BAD_VALUE
    J_EXPECT_COMMA          # expected ',' or '}'
    J_TRUNCATED
    J_TRAILING
    J_TOO_DEEP
    J_NO_DRAWING
    J_BLANK                 # whitespace only: not a record
    J_BAD_STRING            # control character, bad escape or invalid UTF-8 in a string
    J_DRAWING_NOT_ARRAY     # the 'drawing' value is not a JSON array
    # The .bin decoder (_records.pyx).
    B_INCOMPLETE            # the buffer ends inside the record: read more
    B_BAD_RECOGNIZED        # not 0 or 1: the stream is corrupt (or not this format)
    B_NO_STROKES
    B_EMPTY_STROKE
    B_TOO_MANY_POINTS
    B_BAD_COUNTRY           # a country code byte that is not ASCII
    N_STATUSES              # the count, not a status
