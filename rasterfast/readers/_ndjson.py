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
from ._meta import ReadContext, assemble, first_kind, text_metadata
from ._sources import READ_ERRORS, Source, raise_if_broken, read_blocks

__all__ = ["read_ndjson", "NDJSON_FIELDS"]

#: Field slots of the kernel's spans.
NDJSON_FIELDS = ("word", "countrycode", "timestamp", "recognized", "key_id", "drawing")


def _span_strings(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, escaped: np.ndarray):
    r"""A pyarrow string array of ``buf[starts:ends]``, and the rows that are no Unicode.

    Null where ``starts`` < 0; a row is no Unicode when it escapes a lone surrogate
    (``"\ud800"``). The kernel has checked that every string is valid JSON text
    (well-formed UTF-8, valid escapes). Escapes (rare: a word with a quote or non-ASCII
    text) are decoded row by row; everything else is one vectorised gather.
    """
    present = starts >= 0
    lengths = np.where(present, ends - starts, 0)
    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    chars = buf[ranges(starts[present], lengths[present])]
    mask = pa.array(~present)
    arr = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets),
                                           pa.py_buffer(chars.tobytes()))
    not_unicode = []
    if escaped.any():
        values = arr.to_pylist()
        for i in np.flatnonzero(escaped & present):
            values[i] = json.loads('"' + values[i] + '"')
            try:
                values[i].encode("utf-8")
            except UnicodeEncodeError:
                not_unicode.append(int(i))
                values[i] = None
        arr = pa.array(values, pa.large_string())
    return pa.compute.if_else(mask, pa.scalar(None, pa.large_string()), arr), not_unicode


#: What a field's value may be besides a JSON string (null is always "absent").
_NON_STRING_OK = {"key_id": "number", "recognized": "boolean"}


def _value_type_reasons(buf: np.ndarray, spans: np.ndarray, rows: np.ndarray) -> dict:
    """Reasons for the rows (among ``rows``) with a metadata value of the wrong JSON type.

    word, countrycode and timestamp are strings, key_id a string or a number,
    recognized a boolean; a null value becomes absent (its span is cleared).
    """
    reasons: dict[int, str] = {}
    for f, name in enumerate(NDJSON_FIELDS[:-1]):
        start = spans[:, f, 0]
        quoted = buf[np.maximum(start - 1, 0)] == 34     # a string's span starts after '"'
        wanted = _NON_STRING_OK.get(name)
        # recognized: every value (a string is wrong too); the others: those not strings
        check = rows & (start >= 0) & (True if wanted == "boolean" else ~quoted)
        for i in np.flatnonzero(check):
            text = bytes(buf[start[i]:spans[i, f, 1]])
            if not quoted[i] and text == b"null":
                spans[i, f] = -1
                continue
            if wanted == "number" and text[:1] in b"-0123456789":
                continue            # the digits check of text_metadata decides
            if wanted == "boolean" and not quoted[i] and text in (b"true", b"false"):
                continue
            if quoted[i]:
                text = b'"' + text + b'"'
            if int(i) not in reasons:
                shown = text if len(text) <= 40 else text[:40] + b"..."
                what = {"boolean": "true or false", "number": "a string or a number"}.get(
                    wanted, "a string")
                reasons[int(i)] = (f"{name} must be {what}, got "
                                   f"{shown.decode('utf-8', 'replace')}")
    return reasons


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
            spans, escaped = spans[keep], escaped[keep]
            status, err_off = status[keep], err_off[keep]
            records = records_all[keep]
            n = len(records)
            if n == 0:
                continue
            rejects: list[Reject] = []
            bad = status != 0
            # err_off counts from the start of the line, not of the drawing (what a
            # reject's offset means): it goes into the reason instead
            reasons = {int(i): status_reason(status[i], byte=int(err_off[i]))
                       for i in np.flatnonzero(bad)}
            reasons.update(_value_type_reasons(buf, spans, ~bad))
            bad[list(reasons)] = True
            spans[bad] = -1              # one reject per line: a bad line has no metadata
            cols = {}
            for f, name in enumerate(NDJSON_FIELDS[:-1]):
                cols[name], not_unicode = _span_strings(buf, spans[:, f, 0], spans[:, f, 1],
                                                        (escaped >> f) & 1)
                for i in not_unicode:
                    reasons.setdefault(i, f"{name} is not valid Unicode (an escaped lone "
                                          "surrogate)")
            if reasons:
                bad[list(reasons)] = True
                null = pa.array(bad)
                cols = {name: pa.compute.if_else(null, pa.scalar(None, col.type), col)
                        for name, col in cols.items()}
            for i in sorted(reasons):
                ctx.reject(rejects, src.name, int(records[i]), -1, reasons[i])
            meta, good = text_metadata(cols, n, records, src.name, ctx, rejects)
            good &= ~bad
            d_start, d_end = spans[:, 5, 0].copy(), spans[:, 5, 1].copy()
            valid = (~bad).astype(np.uint8)
            d_start[bad] = 0
            d_end[bad] = 0
            if kind is None:
                kind = first_kind(bytes(buf[d_start[i]:d_end[i]]) for i in np.flatnonzero(valid))
            yield assemble(buf, d_start, d_end, valid, records, meta, good, kind or "simplified",
                           src.name, ctx, rejects)
    finally:
        stream.close()
