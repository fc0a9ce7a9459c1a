"""Exceptions, the one policy for bad records (``on_error``) and the one map of kernel statuses.

Every Cython kernel returns a status from one enum (``ext/_status.pxd``, in Python
:class:`Status`); :data:`STATUS_ERRORS` says which exception and message each becomes,
and :func:`status_error` / :func:`status_reason` are how the wrappers use it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from ._ext._status import Status

__all__ = ["StrokeParseError", "InputReadError", "ShardFormatError", "Reject", "ON_ERROR",
           "check_on_error", "Status", "StatusError", "STATUS_ERRORS", "status_error",
           "status_reason"]

#: The accepted values of every ``on_error`` argument. ``"warn"`` skips like
#: ``"skip"`` and then emits one warning with the count.
ON_ERROR = ("raise", "warn", "skip")


def check_on_error(on_error: str) -> str:
    """Return ``on_error`` unchanged, or raise ``ValueError`` listing the valid values."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    return on_error


class Reject(NamedTuple):
    """One drawing that was left out, and why.

    ``record`` is the 0-based record number within ``source`` (data rows of a
    CSV, lines of an ndjson file, records of a ``.bin`` file, items of a
    sequence given to :func:`rasterfast.parse_drawings`); ``offset`` the byte
    offset of the problem within the drawing text (-1 when not applicable).
    """

    source: str
    record: int
    offset: int
    reason: str


class StrokeParseError(ValueError):
    """A drawing that cannot be read: names the source, line or record, byte offset and reason.

    ``record`` is 0-based (see :class:`Reject`); ``line`` is the 1-based line of a text
    file as editors show it (-1 when unknown or not a text file), and the message names
    the line when it is known, so that a user looks where the problem is. ``offset`` is
    the byte within the drawing text.
    """

    def __init__(self, reason: str, source: str = "<input>", record: int = -1, offset: int = -1,
                 line: int = -1):
        self.reason = reason
        self.source = source
        self.record = record
        self.offset = offset
        self.line = line
        super().__init__(self._message())

    def _message(self) -> str:
        if self.line >= 1:
            where = f"{self.source}, line {self.line}"
        elif self.record >= 0:
            where = f"{self.source}, record {self.record}"
        else:
            where = self.source
        if self.offset >= 0:
            where += f", byte {self.offset} of the drawing"
        return f"{where}: {self.reason}"

    def locate(self, line: int) -> None:
        """Set the 1-based ``line`` of the file where the problem is, and the message with it."""
        self.line = line
        self.args = (self._message(),)

    def __reduce__(self):  # keep the fields across processes (Dask, multiprocessing)
        return (type(self), (self.reason, self.source, self.record, self.offset, self.line))

    def to_reject(self) -> Reject:
        """Return the :class:`Reject` that describes this error."""
        return Reject(self.source, self.record, self.offset, self.reason)


class InputReadError(StrokeParseError):
    """An input file that cannot be read as a whole or from some point on.

    A broken gzip stream, a CSV without its ``drawing`` column, a truncated
    ``.bin`` record: the drawings before the problem are kept, the rest of the
    file is one reject with ``record`` = the first record that was lost.
    """


class ShardFormatError(ValueError):
    """A shard directory or stroke file that cannot be read as it is: names the file and why.

    Raised by :class:`rasterfast.format.Reader` (manifest, image shards) and by the
    stroke store (:mod:`rasterfast.store`) when a file is missing, truncated, of an
    unknown version or inconsistent.
    """

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # keep the fields across processes (DataLoader workers, Dask)
        return (type(self), (self.path, self.reason))


class StatusError(NamedTuple):
    """What a kernel status becomes: an exception class and its message.

    ``message`` takes a namespace holding the kernel's ``detail`` and the names in
    ``context``, which the caller passes to :func:`status_error` (they say what the
    kernel cannot know: the batch, a limit, a file).
    """

    error: type[Exception]
    message: Callable[[SimpleNamespace], str]
    context: tuple[str, ...] = ()


def _found(code: int) -> str:
    ch = chr(code)
    return repr(ch) if 32 <= code < 127 else f"byte 0x{code:02x}"


def _at(detail: int, what: str) -> str:
    return f" at {what} {detail}" if detail >= 0 else ""


def _nonfinite(c: SimpleNamespace) -> str:
    so, do, p = c.batch.stroke_offsets, c.batch.drawing_offsets, c.detail
    stroke = int(np.searchsorted(so, p, "right")) - 1
    d = int(np.searchsorted(do, stroke, "right")) - 1
    return (f"drawing {d} has a NaN or infinite coordinate at point {p - int(so[do[d]])} "
            f"(x={c.batch.x[p]}, y={c.batch.y[p]})")


_VALIDATE = "see StrokeBatch.validate()"
_LIST_NAMES = ("x", "y", "t")
_BIN_REST = "the rest of the file cannot be read"

#: Every kernel status but ``OK`` -> the exception it becomes and its message: the one
#: place where kernel statuses become exceptions (tests/test_errors.py checks that every
#: status of ext/_status.pxd has an entry). Parser statuses carry ``detail2``/``detail3``.
STATUS_ERRORS: dict[Status, StatusError] = {
    # a StrokeBatch whose columns do not fit together
    Status.E_DRAWING_OFFSETS: StatusError(ValueError, lambda c: (
        f"batch.drawing_offsets are inconsistent{_at(c.detail, 'drawing')} (out of range or "
        f"decreasing); {_VALIDATE}")),
    Status.E_STROKE_OFFSETS: StatusError(ValueError, lambda c: (
        f"batch.stroke_offsets are inconsistent{_at(c.detail, 'stroke')} (out of range or "
        f"decreasing); {_VALIDATE}")),
    Status.E_OFFSETS: StatusError(ValueError, lambda c: (
        f"{f'drawing {c.detail}: ' if c.detail >= 0 else ''}broken stroke or drawing offsets "
        f"(out of range or decreasing); {_VALIDATE}")),
    Status.E_LENGTHS: StatusError(ValueError, lambda c: (
        "x, y, t and the offsets of the batch disagree in length")),
    Status.E_INDEX: StatusError(IndexError, lambda c: (
        f"the index at position {c.detail} is outside the batch")),
    # values an operation cannot take
    Status.E_NONFINITE_POINT: StatusError(ValueError, _nonfinite, ("batch",)),
    Status.E_TIME_RANGE: StatusError(ValueError, lambda c: (
        f"drawing {c.detail}: time_warp moves a time outside int32 milliseconds")),
    Status.E_SEQUENCE_LONG: StatusError(ValueError, lambda c: (
        f"drawing {c.detail} of the batch (key_id {c.key_id}) has {c.points} points, more than "
        f"max_len={c.max_len}: raise max_len, or pass on_long='truncate' to keep the first "
        "max_len points"), ("key_id", "points", "max_len")),
    Status.E_SEQUENCE_INT16: StatusError(ValueError, lambda c: (
        f"drawing {c.detail} of the batch has an offset outside int16 (coordinates beyond "
        "0-255?): use dtype=float32")),
    Status.E_TOO_LONG: StatusError(ValueError, lambda c: (
        f"drawing {c.drawing}: stroke {c.detail} resamples to more than "
        f"max_points={c.max_points:,} points (raise max_points or leave the drawing out)"),
        ("drawing", "max_points")),
    Status.E_NOMEM: StatusError(MemoryError, lambda c: (
        f"out of memory for the scratch space of {c.caller}"), ("caller",)),
    # stroke-store files
    Status.E_STORE_ROW: StatusError(ShardFormatError, lambda c: (
        f"drawing {c.row} is not among the file's drawings (file altered?)"), ("path", "row")),
    Status.E_STORE_OFFSETS: StatusError(ShardFormatError, lambda c: (
        f"drawing {c.row}: its offsets point outside the file's strokes or points (file "
        "altered?)"), ("path", "row")),
    # internal: a bug in the caller, or a state the caller handles
    Status.E_SHAPE: StatusError(RuntimeError, lambda c: (
        f"kernel called with inconsistent shapes (a bug in {c.caller})"), ("caller",)),
    Status.E_CHANNEL: StatusError(RuntimeError, lambda c: (
        f"encode kernel got unknown channel code {c.detail} (a bug in {c.caller})"), ("caller",)),
    Status.E_AFFIX_OFFSETS: StatusError(RuntimeError, lambda c: (
        f"internal error: row prefix/suffix offsets at drawing {c.detail} (a bug in "
        f"{c.caller})"), ("caller",)),
    Status.E_FULL: StatusError(RuntimeError, lambda c: (
        f"output buffer full (a drawing needs {c.detail} bytes): {c.caller} continues in a new "
        "buffer, so seeing this is a bug"), ("caller",)),
    # the drawing parser (detail: the byte found, a list index, a count or a limit)
    Status.E_EXPECT_DRAWING: StatusError(StrokeParseError, lambda c: (
        f"expected '[' opening the drawing, found {_found(c.detail)}")),
    Status.E_EXPECT_STROKE: StatusError(StrokeParseError, lambda c: (
        f"expected '[' opening a stroke, found {_found(c.detail)}")),
    Status.E_EXPECT_LIST: StatusError(StrokeParseError, lambda c: (
        f"expected '[' opening a coordinate list, found {_found(c.detail)}")),
    Status.E_EXPECT_NUMBER: StatusError(StrokeParseError, lambda c: (
        f"expected a number, found {_found(c.detail)}")),
    Status.E_EXPECT_LIST_SEP: StatusError(StrokeParseError, lambda c: (
        f"expected ',' or ']' inside a coordinate list, found {_found(c.detail)}")),
    Status.E_EXPECT_STROKE_SEP: StatusError(StrokeParseError, lambda c: (
        f"expected ',' or ']' after a coordinate list, found {_found(c.detail)}")),
    Status.E_EXPECT_DRAWING_SEP: StatusError(StrokeParseError, lambda c: (
        f"expected ',' or ']' after a stroke, found {_found(c.detail)}")),
    Status.E_TRAILING: StatusError(StrokeParseError, lambda c: (
        f"unexpected text after the drawing: {_found(c.detail)}")),
    Status.E_TRUNCATED: StatusError(StrokeParseError, lambda c: (
        "empty text: no drawing" if c.text_len == 0
        else "text ends inside the drawing (truncated?)"), ("text_len",)),
    Status.E_EMPTY_STROKE: StatusError(StrokeParseError, lambda c: (
        "empty stroke: a stroke needs at least one point")),
    Status.E_LENGTH_MISMATCH: StatusError(StrokeParseError, lambda c: (
        f"the {_LIST_NAMES[c.detail]} list of a stroke has "
        f"{'more than ' + str(c.detail3) if c.detail2 > c.detail3 else c.detail2} values, but x "
        f"has {c.detail3}"), ("detail2", "detail3")),
    Status.E_TOO_FEW_LISTS: StatusError(StrokeParseError, lambda c: (
        f"a stroke has {c.detail} coordinate list(s); {c.kind} strokes have "
        f"{'3 (x, y, t)' if c.kind == 'raw' else '2 (x, y)'}"), ("kind",)),
    Status.E_TOO_MANY_LISTS: StatusError(StrokeParseError, lambda c: (
        f"a stroke has more than {3 if c.kind == 'raw' else 2} coordinate lists "
        f"({'x, y, t' if c.kind == 'raw' else 'x, y: is this a raw drawing?'})"), ("kind",)),
    Status.E_NOT_INTEGER: StatusError(StrokeParseError, lambda c: (
        f"expected an integer in the {_LIST_NAMES[c.detail]} list "
        f"({'milliseconds' if c.detail == 2 else 'simplified coordinates are 0-255'})")),
    Status.E_OUT_OF_RANGE: StatusError(StrokeParseError, lambda c: (
        f"{_LIST_NAMES[c.detail]} coordinate outside 0-255 (simplified drawing)")),
    Status.E_TOO_LARGE: StatusError(StrokeParseError, lambda c: (
        f"number too large for the {_LIST_NAMES[c.detail]} column "
        f"({'int32 milliseconds' if c.detail == 2 else 'float32'})")),
    Status.E_NONFINITE: StatusError(StrokeParseError, lambda c: (
        "NaN and Infinity are not numbers in a drawing")),
    Status.E_EMPTY_DRAWING: StatusError(StrokeParseError, lambda c: (
        "empty drawing: a drawing needs at least one stroke")),
    Status.E_TOO_MANY_POINTS: StatusError(StrokeParseError, lambda c: (
        f"drawing has more than {c.detail:,} points (max_points)")),
    Status.E_TOO_MANY_STROKES: StatusError(StrokeParseError, lambda c: (
        f"drawing has more than {c.detail:,} strokes (max_strokes)")),
    Status.E_NULL: StatusError(StrokeParseError, lambda c: "missing drawing (null)"),
    Status.E_BAD_NUMBER: StatusError(StrokeParseError, lambda c: "malformed number"),
    Status.E_CAPACITY: StatusError(StrokeParseError, lambda c: (
        "internal error: output buffer too small (please report)")),
    # the ndjson line scanner (byte: where in the line)
    Status.J_NOT_OBJECT: StatusError(StrokeParseError, lambda c: (
        f"not a JSON object (line does not start with '{{') (at byte {c.byte} of the line)"),
        ("byte",)),
    Status.J_BAD_KEY: StatusError(StrokeParseError, lambda c: (
        f"expected a quoted key (at byte {c.byte} of the line)"), ("byte",)),
    Status.J_EXPECT_COLON: StatusError(StrokeParseError, lambda c: (
        f"expected ':' after a key (at byte {c.byte} of the line)"), ("byte",)),
    Status.J_BAD_VALUE: StatusError(StrokeParseError, lambda c: (
        f"expected a value (at byte {c.byte} of the line)"), ("byte",)),
    Status.J_EXPECT_COMMA: StatusError(StrokeParseError, lambda c: (
        f"expected ',' or '}}' after a value (at byte {c.byte} of the line)"), ("byte",)),
    Status.J_TRUNCATED: StatusError(StrokeParseError, lambda c: (
        f"line ends inside the record (truncated?) (at byte {c.byte} of the line)"), ("byte",)),
    Status.J_TRAILING: StatusError(StrokeParseError, lambda c: (
        f"unexpected text after the record (at byte {c.byte} of the line)"), ("byte",)),
    Status.J_TOO_DEEP: StatusError(StrokeParseError, lambda c: (
        f"value nested too deeply (at byte {c.byte} of the line)"), ("byte",)),
    Status.J_NO_DRAWING: StatusError(StrokeParseError, lambda c: (
        f"record has no 'drawing' key (at byte {c.byte} of the line)"), ("byte",)),
    Status.J_BLANK: StatusError(StrokeParseError, lambda c: (
        "blank line: not a record (the reader skips it; seeing this is a bug)")),
    Status.J_BAD_STRING: StatusError(StrokeParseError, lambda c: (
        "invalid JSON string (control character, bad escape or invalid UTF-8) "
        f"(at byte {c.byte} of the line)"), ("byte",)),
    Status.J_DRAWING_NOT_ARRAY: StatusError(StrokeParseError, lambda c: (
        f"'drawing' is not a JSON array (at byte {c.byte} of the line)"), ("byte",)),
    # the .bin decoder (byte: where the record starts in the file)
    Status.B_INCOMPLETE: StatusError(InputReadError, lambda c: (
        f"file ends inside a record ({c.left} bytes left at byte {c.byte}: truncated?)"),
        ("byte", "left")),
    Status.B_BAD_RECOGNIZED: StatusError(InputReadError, lambda c: (
        "recognized byte is not 0 or 1: corrupt data, or not a Quick, Draw! .bin file "
        f"(record at byte {c.byte}); {_BIN_REST}"), ("byte",)),
    Status.B_NO_STROKES: StatusError(InputReadError, lambda c: (
        f"record has no strokes: corrupt data (record at byte {c.byte}); {_BIN_REST}"),
        ("byte",)),
    Status.B_EMPTY_STROKE: StatusError(InputReadError, lambda c: (
        f"stroke has no points: corrupt data (record at byte {c.byte}); {_BIN_REST}"),
        ("byte",)),
    Status.B_TOO_MANY_POINTS: StatusError(InputReadError, lambda c: (
        "record has more points than max_points: corrupt data "
        f"(record at byte {c.byte}); {_BIN_REST}"), ("byte",)),
    Status.B_BAD_COUNTRY: StatusError(InputReadError, lambda c: (
        "country code is not 2 ASCII characters: corrupt data, or not a Quick, Draw! .bin "
        f"file (record at byte {c.byte}); {_BIN_REST}"), ("byte",)),
}


def status_reason(status: int, detail: int = -1, **context) -> str:
    """The message of kernel status ``status`` (see :data:`STATUS_ERRORS`).

    Parameters
    ----------
    status : int
        What the kernel returned; not ``OK``.
    detail : int
        The kernel's detail (a drawing, stroke, point, byte or limit, by status).
    **context
        The names the status's entry lists in ``context`` (more are ignored).

    Raises
    ------
    RuntimeError
        ``status`` is not a kernel status, or a name the entry needs is missing
        (bugs in rasterfast, not in the input).
    """
    entry = STATUS_ERRORS.get(int(status))
    if entry is None:
        raise RuntimeError(f"unknown kernel status {status} (a rasterfast bug)")
    missing = [name for name in entry.context if name not in context]
    if missing:
        raise RuntimeError(f"kernel status {Status(status).name} needs {missing} to be "
                           "described (a rasterfast bug)")
    return entry.message(SimpleNamespace(detail=int(detail), **context))


def status_error(status: int, detail: int = -1, *, source: str = "<input>", record: int = -1,
                 offset: int = -1, **context) -> Exception:
    """The exception for kernel status ``status``, to raise (see :data:`STATUS_ERRORS`).

    ``source``, ``record`` and ``offset`` locate a :class:`StrokeParseError` (and
    :class:`InputReadError`); a :class:`ShardFormatError` names ``context["path"]``;
    ``detail`` and ``context`` are as for :func:`status_reason`.
    """
    reason = status_reason(status, detail, **context)
    error = STATUS_ERRORS[int(status)].error
    if issubclass(error, StrokeParseError):
        return error(reason, source, record, offset)
    if issubclass(error, ShardFormatError):
        return error(context["path"], reason)
    return error(reason)
