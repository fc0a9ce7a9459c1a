"""Parsing drawing text into a :class:`~rasterfast.batch.StrokeBatch`.

The work happens in the Cython kernel ``rasterfast._ext._parse`` (GIL
released, no Python object per drawing); this module validates arguments,
hands the kernel the texts (a list of ASCII str or bytes as it is, to be read
in place; anything else packed into one buffer), and turns the kernel's status
codes into errors and rejects (their messages are in ``rasterfast.errors.STATUS_ERRORS``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence

import numpy as np

from ._ext import _parse as _kernel
from .batch import KINDS, StrokeBatch
from .errors import Reject, Status, StrokeParseError, check_on_error, status_error, status_reason

__all__ = ["parse_drawings", "detect_kind", "limits", "DEFAULT_MAX_POINTS", "DEFAULT_MAX_STROKES"]

#: Limits that make an "absurdly long" drawing an error instead of a memory hog.
#: The longest real raw drawings have a few thousand points; Google's binary
#: format caps strokes and points per stroke at 65,535.
DEFAULT_MAX_POINTS = 1_000_000
DEFAULT_MAX_STROKES = 65_535

def _pack(texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One uint8 buffer of all texts, int64 offsets [n + 1], uint8 validity [n]."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pa = None
    if pa is not None and isinstance(texts, (pa.Array, pa.ChunkedArray)):
        return _pack_arrow(pa, texts)
    if isinstance(texts, (str, bytes, bytearray, memoryview)):
        raise TypeError("texts must be a sequence of drawing texts; wrap a single drawing "
                        "in a list: parse_drawings([text])")
    # (lists of ASCII str or bytes do not come here: parse_drawings reads them in place)
    parts, valid = [], []
    for i, s in enumerate(texts):
        if isinstance(s, str):
            parts.append(s.encode("utf-8", "surrogatepass"))
            valid.append(1)
        elif isinstance(s, (bytes, bytearray, memoryview)):
            parts.append(bytes(s))
            valid.append(1)
        elif s is None:
            parts.append(b"")
            valid.append(0)
        else:
            raise TypeError(f"texts[{i}] is {type(s).__name__}; expected str, bytes or None")
    lengths = np.fromiter(map(len, parts), np.int64, len(parts))
    offsets = np.zeros(len(parts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(parts), np.uint8)
    return data, offsets, np.asarray(valid, np.uint8).reshape(-1)


def _pack_arrow(pa, arr):
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_binary(t):
        off_dtype = np.int32
    elif pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        off_dtype = np.int64
    else:
        raise TypeError(f"texts is an Arrow array of {t}; expected string or binary")
    _validity, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, off_dtype)[arr.offset: arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    valid = (np.ones(len(arr), np.uint8) if arr.null_count == 0
             else arr.is_valid().to_numpy(zero_copy_only=False).astype(np.uint8))
    return data, offsets, valid


def detect_kind(text) -> str:
    """Tell a raw drawing text from a simplified one by its first stroke.

    Three coordinate lists (x, y, t) or a non-integer coordinate mean ``"raw"``;
    two lists of integers mean ``"simplified"``.
    """
    try:
        drawing = json.loads(text)
        first = drawing[0]
        if len(first) >= 3:
            return "raw"
        if any(not isinstance(v, int) for lst in first for v in lst):
            return "raw"
        return "simplified"
    except RecursionError as err:     # json.loads of thousands of '['
        raise StrokeParseError("cannot tell raw from simplified: nested too deeply") from err
    except (ValueError, TypeError, IndexError, KeyError) as err:
        raise StrokeParseError(f"cannot tell raw from simplified: {err}") from err


def parse_buffer(data, offsets, valid, kind, on_error, *, ends=None, source="<input>",
                 records=None, max_points=DEFAULT_MAX_POINTS, max_strokes=DEFAULT_MAX_STROKES):
    """Kernel call shared by :func:`parse_drawings` and the readers.

    Text i is ``data[offsets[i]:offsets[i + 1]]``, or ``data[offsets[i]:ends[i]]``
    when ``ends`` is given (spans cut out of ndjson lines).

    Returns ``(columns, kept, rejects)``: the stroke columns as a dict for
    :meth:`StrokeBatch.from_columns`, the input index of each parsed drawing,
    and the rejects (empty unless ``on_error`` skips). Raises
    :class:`StrokeParseError` at the first bad drawing when ``on_error="raise"``.
    """
    _check_args(kind, max_points, max_strokes)
    offsets = np.asarray(offsets, np.int64)
    if ends is None:
        starts, ends = offsets[:-1], offsets[1:]
    else:
        starts, ends = offsets, np.asarray(ends, np.int64)
    result = _kernel._parse(data, starts, ends, valid, kind == "raw", *limits(max_points,
                                                                              max_strokes),
                            on_error == "raise")
    return _columns(result, kind, on_error, source, records,
                    lambda idx: int(ends[idx] - starts[idx]))


def _check_args(kind, max_points, max_strokes) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    limits(max_points, max_strokes)


_INT64_MAX = 2**63 - 1


def limits(max_points, max_strokes) -> tuple[int, int]:
    """Check ``max_points`` and ``max_strokes`` and return them as the kernels take them.

    Both are positive integers. A limit beyond int64 (``2**63``, "no limit") becomes
    int64's largest, which no drawing reaches either (issue 16 item 9: it raised
    OverflowError).

    Raises
    ------
    ValueError
        A limit that is not a positive integer.
    """
    for name, v in (("max_points", max_points), ("max_strokes", max_strokes)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return min(int(max_points), _INT64_MAX), min(int(max_strokes), _INT64_MAX)


def _columns(result, kind, on_error, source, records, text_len):
    """The kernel's result as ``(columns, kept, rejects)`` (see :func:`parse_buffer`).

    ``text_len(i)`` is the byte length of text i.
    """
    x, y, t, so, do, kept, errors = result
    rejects = []
    for idx, off, code, d1, d2, d3 in errors.tolist():
        record = int(records[idx]) if records is not None else idx
        context = {"detail2": d2, "detail3": d3, "kind": kind, "text_len": text_len(idx)}
        offset = off if code != Status.E_NULL else -1
        if on_error == "raise":
            raise status_error(code, d1, source=source, record=record, offset=offset, **context)
        rejects.append(Reject(source, record, offset, status_reason(code, d1, **context)))
    columns = {"kind": kind, "x": x, "y": y, "t": t if kind == "raw" else None,
               "stroke_offsets": so, "drawing_offsets": do}
    return columns, kept, rejects


def _parse_in_place(texts, kind, on_error, source, max_points, max_strokes):
    """:func:`parse_buffer` of a list or tuple of ASCII str or bytes, without a joined copy.

    The kernel reads each item from its own memory. None when ``texts`` is anything
    else (an item not ASCII, not str or bytes), having checked or parsed nothing.

    An argument error also gives None, so that the general path reports errors
    in its own order (a bad item before a bad ``kind``).
    """
    if not isinstance(texts, (list, tuple)):
        return None
    try:
        _check_args(kind, max_points, max_strokes)
    except ValueError:
        return None
    # A tuple of the items (the same object for a tuple) holds a reference to
    # each while the kernel reads them without the GIL, whatever happens to the list.
    items = tuple(texts)
    result = _kernel._parse_items(items, kind == "raw", *limits(max_points, max_strokes),
                                  on_error == "raise")
    if result is None:  # some item is not an ASCII str or bytes
        return None
    return _columns(result, kind, on_error, source, None, lambda idx: len(items[idx]))


def warn_rejects(rejects: Sequence[Reject], on_error: str, what: str = "drawings") -> None:
    """Under ``on_error="warn"``, one warning with the count and the first reason."""
    if on_error == "warn" and rejects:
        first = rejects[0]
        warnings.warn(f"skipped {len(rejects)} bad {what}; first: {first.source}, record "
                      f"{first.record}: {first.reason} (see batch.rejects)", stacklevel=3)


def parse_drawings(texts, kind: str = "simplified", on_error: str = "raise", *,
                   source: str = "<input>", max_points: int = DEFAULT_MAX_POINTS,
                   max_strokes: int = DEFAULT_MAX_STROKES) -> StrokeBatch:
    r"""Parse drawing texts (the ``drawing`` field of Quick, Draw! files) into a StrokeBatch.

    Parameters
    ----------
    texts : sequence of str or bytes, or pyarrow string/binary array
        One drawing per item, e.g. ``'[[[130, 113], [72, 40]], [[76], [136]]]'``.
        ``None`` (or an Arrow null) is a missing drawing: a reject.
    kind : {"simplified", "raw"}
        ``"simplified"``: integers 0-255, two lists (x, y) per stroke, stored as
        int16. ``"raw"``: any finite numbers for x and y (stored as float32,
        rounded like ``np.float32(json.loads(text))``) and integer milliseconds
        for t (int32), three lists per stroke. Use :func:`detect_kind` if unsure.
        Either way a number written with more than 400 characters is malformed, so
        that no text makes the parser slow.
    on_error : {"raise", "warn", "skip"}
        ``"raise"``: :class:`StrokeParseError` at the first bad drawing.
        ``"skip"``: leave bad drawings out and list them in ``batch.rejects``, so
        that ``len(texts) == len(batch) + len(batch.rejects)``. ``"warn"``: skip,
        then warn once with the count.
    source : str
        Name used in errors and ``batch.sources``.
    max_points, max_strokes : int
        A drawing with more points or strokes is an error (absurd input). A limit
        beyond int64 means no limit.

    Returns
    -------
    StrokeBatch
        ``record[i]`` is the index in ``texts`` of drawing i.

    Raises
    ------
    StrokeParseError
        With ``on_error="raise"``: names the source, record (index in
        ``texts``), byte offset within the text and what was expected.
    TypeError
        ``texts`` is a single string or holds something other than text.

    Examples
    --------
    >>> b = parse_drawings(["[[[0, 255], [10, 10]]]", "[[[5], [6]], [[1, 2], [3, 4]]]"])
    >>> len(b), b.num_strokes
    (2, 3)
    >>> b.drawing(0)[0]
    array([[  0, 255],
           [ 10,  10]], dtype=int16)
    >>> parse_drawings(["[[[0, 300], [1, 2]]]"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rasterfast.errors.StrokeParseError: <input>, record 0, byte 6 of the drawing: x coor...
    """
    check_on_error(on_error)
    if isinstance(texts, np.ndarray) and texts.dtype.kind in "US":
        texts = texts.tolist()
    parsed = _parse_in_place(texts, kind, on_error, source, max_points, max_strokes)
    if parsed is not None:
        columns, kept, rejects = parsed
    else:
        data, offsets, valid = _pack(texts)
        columns, kept, rejects = parse_buffer(data, offsets, valid, kind, on_error,
                                              source=source, max_points=max_points,
                                              max_strokes=max_strokes)
    warn_rejects(rejects, on_error)
    return StrokeBatch.from_columns(**columns, sources=(source,), rejects=rejects, record=kept)
