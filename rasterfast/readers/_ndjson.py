"""Google's ndjson, raw and simplified: one JSON object per line, keys by name.

Lines are framed in blocks; the kernel ``_records._scan_ndjson`` finds the
value spans of ``word, countrycode, timestamp, recognized, key_id, drawing``
in every line, the drawing spans go to the parser without copying, and the
other values become text columns for :func:`text_metadata`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from .._ext import _records
from ..batch import StrokeBatch, ranges
from ..errors import InputReadError, Reject, Status, status_reason
from ..parse import detect_kind
from ._meta import ReadContext, assemble, text_metadata
from ._sources import READ_ERRORS, Source, raise_if_broken, read_blocks

__all__ = ["read_ndjson", "NDJSON_FIELDS"]

#: Field slots of the kernel's spans.
NDJSON_FIELDS = ("word", "countrycode", "timestamp", "recognized", "key_id", "drawing")


def _span_strings(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, escaped: np.ndarray):
    """A pyarrow string array of ``buf[starts:ends]``; null where ``starts`` < 0.

    JSON escapes (rare: a word with a quote or non-ASCII text) are decoded row
    by row; everything else is one vectorised gather.
    """
    present = starts >= 0
    lengths = np.where(present, ends - starts, 0)
    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    chars = buf[ranges(starts[present], lengths[present])]
    mask = pa.array(~present)
    arr = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets),
                                           pa.py_buffer(chars.tobytes()))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:  # invalid UTF-8: decode row by row, replacing bad bytes
        arr = pa.array([bytes(buf[s:e]).decode("utf-8", "replace") if s >= 0 else None
                        for s, e in zip(starts, ends)], pa.large_string())
    if escaped.any():
        values = arr.to_pylist()
        for i in np.flatnonzero(escaped):
            try:
                values[i] = json.loads('"' + values[i] + '"')
            except ValueError:
                pass  # keep the raw text; the caller's checks decide
        arr = pa.array(values, pa.large_string())
    return pa.compute.if_else(mask, pa.scalar(None, pa.large_string()), arr)


def read_ndjson(src: Source, ctx: ReadContext) -> Iterator[StrokeBatch]:
    """Yield one StrokeBatch per block of lines of the ndjson ``src``."""
    stream = src.open(lines=True)
    carry = b""
    line_no = 0
    kind = ctx.kind
    try:
        blocks = read_blocks(stream, ctx.block_size)
        while True:
            try:
                block = next(blocks, None)
            except READ_ERRORS as err:
                raise InputReadError(f"unreadable from here on: {err}", src.name, line_no) from err
            if block is None:
                if not carry:
                    raise_if_broken(stream, src.name, line_no)
                    return
                data, carry = carry, b""     # the last line has no newline
            else:
                data = carry + block
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                data, carry = data[: cut + 1], data[cut + 1:]
            buf = np.frombuffer(data, np.uint8)
            newlines = np.flatnonzero(buf == 10)
            ends = newlines if block is not None else np.append(newlines, len(buf))
            starts = np.concatenate([[0], newlines + 1])[: len(ends)].astype(np.int64)
            ends = ends.astype(np.int64)
            spans, escaped, status, err_off = _records._scan_ndjson(buf, starts, ends)
            records_all = np.arange(line_no, line_no + len(starts), dtype=np.int64)
            line_no += len(starts)
            keep = status != Status.J_BLANK          # blank lines are not records
            spans, escaped, status, err_off = spans[keep], escaped[keep], status[keep], err_off[keep]
            records = records_all[keep]
            n = len(records)
            if n == 0:
                continue
            rejects: list[Reject] = []
            for i in np.flatnonzero(status):
                # err_off counts from the start of the line, not of the drawing (what a
                # reject's offset means): it goes into the reason instead
                ctx.reject(rejects, src.name, int(records[i]), -1,
                           status_reason(status[i], byte=int(err_off[i])))
            cols = {}
            for f, name in enumerate(NDJSON_FIELDS[:-1]):
                cols[name] = _span_strings(buf, spans[:, f, 0], spans[:, f, 1],
                                           (escaped >> f) & 1)
            meta, good = text_metadata(cols, n, records, src.name, ctx, rejects)
            good &= status == Status.OK
            d_start, d_end = spans[:, 5, 0].copy(), spans[:, 5, 1].copy()
            valid = (status == Status.OK).astype(np.uint8)
            d_start[~valid.astype(bool)] = 0
            d_end[~valid.astype(bool)] = 0
            if kind is None:
                first = np.flatnonzero(valid)
                if len(first):
                    i = first[0]
                    kind = detect_kind(bytes(buf[d_start[i]:d_end[i]]))
                else:
                    kind = "simplified"
            yield assemble(buf, d_start, d_end, valid, records, meta, good, kind, src.name,
                           ctx, rejects)
    finally:
        stream.close()
