"""Exceptions and the one policy for bad records (``on_error``)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["StrokeParseError", "InputReadError", "ShardFormatError", "Reject", "ON_ERROR",
           "check_on_error"]

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
