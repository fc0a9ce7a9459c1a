"""Kaggle CSVs, simplified or raw, train and test; columns found by header name.

Train ``countrycode,drawing,key_id,recognized,timestamp,word``, test
``key_id,countrycode,drawing``.

Read with pyarrow's streaming CSV reader in blocks of ``block_size`` bytes:
every column as bytes (so ``NA``, Namibia, stays a country, and a bad key_id or
a byte that is not UTF-8 rejects one row, not a block), the drawing column handed
to the parser without copying. One row is one line: a line pyarrow would read
otherwise (not UTF-8, or a quote that does not enclose a whole value) is replaced
by a marker line first, and rejected (see :class:`_CsvLines`).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..batch import StrokeBatch
from ..errors import InputReadError, Reject
from ._meta import ReadContext, assemble, first_kind, text_metadata
from ._sources import READ_ERRORS, ForwardReader, Source, raise_if_broken

__all__ = ["read_csv"]

#: The smallest CSV block: a row must fit in one block (pyarrow's rule).
MIN_BLOCK = 1 << 20

COLUMNS = ("countrycode", "drawing", "key_id", "recognized", "timestamp", "word")


def _quotes_at_edges(buf: np.ndarray, quotes: np.ndarray) -> bool:
    """Whether every quote of ``buf`` (each line holding an even number) delimits a whole value.

    The 1st, 3rd, ... quote must open a value (after a ',' or a line end, or first) and
    the 2nd, 4th, ... close one (before a ',' or a line end, or last). That is how
    Kaggle CSVs quote, and what pyarrow and the ``csv`` module read alike. A doubled
    quote (``""``) answers False, so that :func:`_bad_quote` checks its lines one by one.
    Checking each quote for being at some edge was not enough: in ``12","3,True`` both
    quotes touch a ',', yet the second opens a value that the line never closes, and
    pyarrow read on into the next line (found by bench/fuzz, issue 16).
    """
    if not len(quotes):
        return True
    if np.any(np.diff(quotes) == 1):
        return False
    sep = np.array([44, 10, 13], np.uint8)               # , \n \r
    before = np.where(quotes > 0, buf[np.maximum(quotes - 1, 0)], 10)
    after = np.where(quotes < len(buf) - 1, buf[np.minimum(quotes + 1, len(buf) - 1)], 10)
    return bool(np.isin(before[0::2], sep).all() and np.isin(after[1::2], sep).all())


_VALUE = re.compile(rb'"(?:[^"]|"")*"|[^",]*')


def _bad_quote(line: bytes) -> int:
    """Offset of the first quote in ``line`` that does not delimit a whole value; -1 if none.

    A value is quoted whole (``"..."`` with ``""`` inside) or holds no quote at all.
    """
    pos = 0
    while True:
        m = _VALUE.match(line, pos)
        end = m.end()
        if end < len(line) and line[end] != 44:        # the value does not end at ','
            q = line.find(b'"', pos)
            return q if q >= 0 else end
        if end >= len(line):
            return -1
        pos = end + 1


class RowTooLongError(InputReadError):
    """A CSV row longer than the block size (pyarrow needs every row inside one block)."""


class _CsvLines(ForwardReader):
    r"""The CSV bytes in whole lines, each line pyarrow cannot read as a row marked.

    pyarrow decodes the text of a malformed row to call ``invalid_row_handler`` and
    reports a decoding failure as "Exception ignored"; a string column that is not
    UTF-8 fails the whole block; a quote left open on a line makes pyarrow read on into
    the next lines. Reading every column as binary and replacing each such line (run
    of bytes between ``\r``/``\n``: one that is not UTF-8, or holds an odd number of
    quotes) by ``marker + why + offset`` keeps one row per line, and lets the reader
    reject exactly that row with its reason. The marker holds a random token, so no
    input line is taken for one. The row that is too long for a block is found here
    too, as a :class:`RowTooLongError` rather than by the text of pyarrow's message.
    """

    def __init__(self, stream, block_size: int):
        self._stream = stream
        self._block_size = block_size
        self._held = b""            # bytes after the last line end, not checked yet
        self._ready = b""           # checked lines not read yet
        self._eof = False
        self._offset = 0            # file offset of _held[0]
        self.marker = b"\x01rasterfast-unreadable-line-" + os.urandom(8).hex().encode() + b"@"

    def _too_long(self):
        return RowTooLongError(f"a row longer than the block size ({self._block_size:,} "
                               "bytes): raise block_size", "")

    def _fill(self, want: int) -> bytes:
        """Whole lines (or the file's last one), about ``want`` bytes, checked."""
        cut = 0
        while not self._eof:
            cut = max(self._held.rfind(b"\n"), self._held.rfind(b"\r")) + 1
            if cut and len(self._held) >= want:
                break
            if len(self._held) - cut > self._block_size:
                raise self._too_long()
            chunk = self._stream.read(max(want - len(self._held), 1 << 16))
            if not chunk:
                self._eof = True
                break
            self._held += chunk
        if self._eof:
            last = max(self._held.rfind(b"\n"), self._held.rfind(b"\r")) + 1
            if len(self._held) - last > self._block_size:
                raise self._too_long()
            cut = len(self._held)
        out, self._held = self._held[:cut], self._held[cut:]
        start, self._offset = self._offset, self._offset + cut
        return self._clean(out, start)

    def _clean(self, data: bytes, start: int) -> bytes:
        buf = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero((buf == 10) | (buf == 13))
        if len(buf) and (not len(ends) or ends[-1] != len(buf) - 1):
            ends = np.append(ends, len(buf))       # the last line, without its line end
        quotes = np.flatnonzero(buf == 34)
        odd = np.diff(np.searchsorted(quotes, ends), prepend=0) & 1
        try:
            data.decode("utf-8")
            if not odd.any() and _quotes_at_edges(buf, quotes):
                return data
        except UnicodeDecodeError:
            pass
        pieces = re.split(rb"(\r\n|\r|\n)", data)
        pos = start
        for i in range(0, len(pieces), 2):
            line = pieces[i]
            try:
                line.decode("utf-8")
                bad_quote = _bad_quote(line)
                if bad_quote >= 0:
                    # pyarrow would read on into the next lines, inside the quotes, or
                    # read a quote inside a value otherwise than the csv module does
                    pieces[i] = self.marker + b"q" + str(pos + bad_quote).encode()
            except UnicodeDecodeError as err:
                pieces[i] = self.marker + b"u" + str(pos + err.start).encode()
            pos += len(line) + (len(pieces[i + 1]) if i + 1 < len(pieces) else 0)
        return b"".join(pieces)

    def reason(self, text: bytes) -> str | None:
        """Why a row was replaced by a marker line, or None when ``text`` is no marker."""
        if not text.startswith(self.marker):
            return None
        what, offset = text[len(self.marker):len(self.marker) + 1], text[len(self.marker) + 1:]
        if what == b"q":
            return (f"a quote is not closed on this line (byte {offset.decode()} of the file; "
                    "rasterfast reads CSVs without line ends inside values)")
        return f"the line is not UTF-8 text (byte {offset.decode()} of the file)"

    def header(self) -> bytes | None:
        """The first non-empty line (left to be read), or None for an empty file."""
        while True:
            line = next((ln for ln in re.split(rb"\r\n|\r|\n", self._ready) if ln), None)
            if line is not None and max(self._ready.find(b"\n", self._ready.find(line)),
                                        self._ready.find(b"\r", self._ready.find(line))) >= 0:
                return line
            if self._eof:
                return line
            self._ready += self._fill(len(self._ready) + 1)

    def read(self, n: int = -1) -> bytes:
        n = n if n is not None and n > 0 else 1 << 22
        out, self._ready = self._ready, b""
        if len(out) < n and not (out and self._eof):
            out += self._fill(n - len(out))
        return out



def _header_names(line: bytes, lines: _CsvLines, source: str) -> list[str]:
    if lines.reason(line):
        raise InputReadError(f"header line: {lines.reason(line)}", source, 0)
    text = line.decode("utf-8").removeprefix("\ufeff")   # pyarrow skips a BOM too
    names = next(csv.reader([text]), [])
    twice = sorted({c for c in names if c in COLUMNS and names.count(c) > 1})
    if twice:
        raise InputReadError(f"the header names column(s) {', '.join(twice)} more than once "
                             f"(header: {text[:200]})", source, 0)
    if "drawing" not in names:
        raise InputReadError(f"CSV has no 'drawing' column (header: {text[:200]})", source, 0)
    return names


def _line_breaks(col: pa.Array) -> np.ndarray:
    """Mask of the values of a binary column that hold a line break (CR or LF).

    Two ``match_substring`` passes took 15.9 ms for a 4.6 MB column of drawings (2.4% of
    a 1M-drawing build's CPU samples under perf); one byte screen of the column's value
    bytes, 0.35 ms, says whether any value can hold one (a control byte <= 13, which
    drawing text does not have), and only then are the values searched.
    """
    buffers = col.buffers() if isinstance(col, pa.Array) else []
    data = buffers[2] if len(buffers) > 2 else None     # a binary array's value bytes
    if data is not None and not np.count_nonzero(np.frombuffer(data, np.uint8) <= 13):
        return np.zeros(len(col), bool)
    return (pc.match_substring(col, "\n").to_numpy(zero_copy_only=False)
            | pc.match_substring(col, "\r").to_numpy(zero_copy_only=False))


def _text_columns(block, names: list[str], lines: _CsvLines, n: int) -> tuple[dict, dict]:
    """The metadata columns as strings, and reasons for the rows that cannot be read.

    Those are a line that is not UTF-8 or has a bad quote (a marker line), and a row
    whose quoted value runs over lines.
    """
    bad: dict[int, str] = {}
    drawing = block.column("drawing")
    for i in np.flatnonzero(pc.starts_with(drawing, pattern=lines.marker).to_numpy(
            zero_copy_only=False)):
        bad[int(i)] = lines.reason(drawing[int(i)].as_py())
    cols = {}
    for c in names:
        col = block.column(c)
        crosses = _line_breaks(col)
        for i in np.flatnonzero(crosses):
            bad.setdefault(int(i), f"the {c} value runs over the end of its line (a quote "
                                   "that is not closed?)")
        if c != "drawing":
            cols[c] = col
    if bad:
        keep = np.ones(n, bool)
        keep[list(bad)] = False
        absent = pa.array(~keep)
        cols = {c: pc.if_else(absent, pa.scalar(None, pa.binary()), col)
                for c, col in cols.items()}
    # every line is UTF-8 now (a marker replaced the others)
    return {c: col.cast(pa.string()) for c, col in cols.items()}, bad


def _without_this_frame(err: BaseException) -> BaseException:
    """``err`` with the reader's own frame dropped from its traceback.

    pyarrow reads ahead from the Python stream on its IO threads and keeps the exception
    the stream raised in its read-ahead state. Re-raised here, its traceback gains
    :func:`read_csv`'s frame, which holds the CSV reader, which holds that state: a cycle
    through C++ that no garbage collection sees. It was destroyed only at interpreter
    exit, on the pyarrow IO thread itself, where destroying the reader waits for that same
    thread: the process hung in ``ThreadPool::Shutdown`` after all its work was done.
    """
    tb = err.__traceback__
    err.__traceback__ = tb.tb_next if tb is not None else None
    return err


def read_csv(src: Source, ctx: ReadContext) -> Iterator[StrokeBatch]:
    """Yield one StrokeBatch per block of the CSV ``src``."""
    invalid: list[tuple[int, str]] = []
    block_size = max(ctx.block_size, MIN_BLOCK)
    stream = src.open(lines=True)
    lines = _CsvLines(stream, block_size)

    def on_invalid_row(row) -> str:
        # Kaggle rows are one line each, so line number - 2 is the record number.
        why = lines.reason((row.text or "").encode())
        invalid.append((row.number - 2, why or "malformed CSV row (wrong number of fields)"))
        return "skip"  # under "raise" too: assemble() raises the block's first error

    try:
        try:
            header = lines.header()
        except RowTooLongError as err:
            raise RowTooLongError(err.reason, src.name, 0) from None
        except READ_ERRORS as err:
            raise InputReadError(f"unreadable from the start: {err}", src.name, 0) from err
        if header is None:
            raise_if_broken(stream, src.name, 0)
            return
        names = [c for c in dict.fromkeys(_header_names(header, lines, src.name))
                 if c in COLUMNS]
        # pyarrow needs a whole row inside one block; raw rows reach hundreds of KB.
        read_opts = pacsv.ReadOptions(block_size=block_size, use_threads=False)
        parse_opts = pacsv.ParseOptions(newlines_in_values=False,
                                        invalid_row_handler=on_invalid_row)
        # every column as bytes: no type inference, no decoding by pyarrow (see _CsvLines)
        convert_opts = pacsv.ConvertOptions(
            column_types={c: pa.binary() for c in names}, include_columns=names,
            null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False)
        next_record = 0
        try:
            reader = pacsv.open_csv(lines, read_options=read_opts, parse_options=parse_opts,
                                    convert_options=convert_opts)
        except RowTooLongError as err:
            _without_this_frame(err)
            raise RowTooLongError(err.reason, src.name, next_record) from None
        except READ_ERRORS as err:
            raise InputReadError(f"not a readable CSV: {err}", src.name,
                                 0) from _without_this_frame(err)
        kind = ctx.kind
        while True:
            try:
                block = reader.read_next_batch()
            except StopIteration:
                if invalid:   # malformed rows after the last row pyarrow gave back
                    rejects = [Reject(src.name, r, -1, why) for r, why in sorted(invalid)]
                    yield assemble(np.zeros(0, np.uint8), np.zeros(0, np.int64),
                                   np.zeros(0, np.int64), np.zeros(0, np.uint8),
                                   np.zeros(0, np.int64), {}, np.ones(0, bool),
                                   kind or "simplified", src.name, ctx, rejects)
                raise_if_broken(stream, src.name, next_record + len(invalid))
                return
            except RowTooLongError as err:
                _without_this_frame(err)
                raise RowTooLongError(err.reason, src.name, next_record) from None
            except READ_ERRORS as err:
                # pyarrow's own errors (ArrowInvalid) have no finer type to tell them apart
                raise InputReadError(f"unreadable from here on: {err}", src.name,
                                     next_record) from _without_this_frame(err)
            n = block.num_rows
            # Assign record numbers around the rows the CSV parser dropped.
            dropped = sorted(r for r in invalid if r[0] >= next_record)
            invalid.clear()
            rejects: list[Reject] = [Reject(src.name, r, -1, why) for r, why in dropped]
            span = np.arange(next_record, next_record + n + len(dropped), dtype=np.int64)
            records = np.setdiff1d(span, np.asarray([r for r, _ in dropped], np.int64),
                                   assume_unique=True)[:n]
            next_record += n + len(dropped)
            cols, bad = _text_columns(block, names, lines, n)
            for i, why in sorted(bad.items()):
                ctx.reject(rejects, src.name, int(records[i]), -1, why)
            texts = block.column("drawing")
            valid = np.ones(n, np.uint8)
            valid[list(bad)] = 0
            if kind is None:
                kind = first_kind(texts[i].as_py() for i in np.flatnonzero(valid[:50]))
            meta, good = text_metadata(cols, n, records, src.name, ctx, rejects)
            good[list(bad)] = False
            _validity, off_buf, data_buf = texts.buffers()
            offsets = np.frombuffer(off_buf, np.int32)[texts.offset: texts.offset + n + 1]
            data = (np.frombuffer(data_buf, np.uint8) if data_buf is not None
                    else np.zeros(0, np.uint8))
            offsets = offsets.astype(np.int64)
            yield assemble(data, offsets[:-1], offsets[1:], valid, records, meta, good,
                           kind or "simplified", src.name, ctx, rejects)
    finally:
        stream.close()
