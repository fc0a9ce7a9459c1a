"""Kaggle CSVs: train ``countrycode,drawing,key_id,recognized,timestamp,word`` and test
``key_id,countrycode,drawing``, simplified or raw; columns found by header name.

Read with pyarrow's streaming CSV reader in blocks of ``block_size`` bytes:
every column as text (so ``NA``, Namibia, stays a country and a bad key_id
rejects one row, not a block), the drawing column handed to the parser
without copying.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..batch import StrokeBatch
from ..errors import InputReadError, Reject
from ..parse import detect_kind
from ._meta import ReadContext, assemble, text_metadata
from ._sources import READ_ERRORS, Source, raise_if_broken

__all__ = ["read_csv"]

#: The smallest CSV block: a row must fit in one block (pyarrow's rule).
MIN_BLOCK = 1 << 20

COLUMNS = ("countrycode", "drawing", "key_id", "recognized", "timestamp", "word")


def _first_kind(texts: pa.Array, source: str) -> str:
    for value in texts[:50].to_pylist():
        if value:
            try:
                return detect_kind(value)
            except ValueError:
                continue
    raise InputReadError("cannot tell raw from simplified drawings from the first rows "
                         "(pass kind=)", source, 0)


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
    invalid: list[int] = []

    def on_invalid_row(row) -> str:
        # Kaggle rows are one line each, so line number - 2 is the record number.
        invalid.append(row.number - 2 if row.number is not None else -1)
        return "skip"  # under "raise" too: assemble() raises the block's first error

    # pyarrow needs a whole row inside one block; raw rows reach hundreds of KB.
    read_opts = pacsv.ReadOptions(block_size=max(ctx.block_size, MIN_BLOCK), use_threads=False)
    parse_opts = pacsv.ParseOptions(newlines_in_values=False, invalid_row_handler=on_invalid_row)
    convert_opts = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in COLUMNS}, null_values=[],
        strings_can_be_null=False, quoted_strings_can_be_null=False)
    stream = src.open(lines=True)
    try:
        try:
            reader = pacsv.open_csv(stream, read_options=read_opts, parse_options=parse_opts,
                                    convert_options=convert_opts)
        except pa.ArrowInvalid as err:
            if "Empty CSV file" in str(err):
                raise_if_broken(stream, src.name, 0)
                return
            raise InputReadError(f"not a readable CSV: {err}", src.name, 0) from err
        except READ_ERRORS as err:
            raise InputReadError(f"unreadable from the start: {err}", src.name, 0) from err
        names = reader.schema.names
        if "drawing" not in names:
            raise InputReadError(f"CSV has no 'drawing' column (header: {','.join(names)})",
                                 src.name, 0)
        kind = ctx.kind
        next_record = 0
        while True:
            try:
                block = reader.read_next_batch()
            except StopIteration:
                raise_if_broken(stream, src.name, next_record)
                return
            except pa.ArrowInvalid as err:
                if "straddl" in str(err):
                    raise InputReadError(f"a row longer than the block size ({read_opts.block_size:,}"
                                         " bytes): raise block_size", src.name, next_record) from err
                if "CSV parse error" in str(err) or "Expected" in str(err):
                    rec = invalid[-1] if invalid else next_record
                    raise InputReadError(f"malformed CSV row: {err}", src.name, rec) from err
                raise InputReadError(f"unreadable from here on: {err}", src.name,
                                     next_record) from err
            except READ_ERRORS as err:
                raise InputReadError(f"unreadable from here on: {err}", src.name,
                                     next_record) from _without_this_frame(err)
            n = block.num_rows
            # Assign record numbers around the rows the CSV parser dropped.
            dropped = sorted(r for r in invalid if r >= next_record)
            invalid.clear()
            rejects: list[Reject] = [
                Reject(src.name, r, -1, "malformed CSV row (wrong number of fields)")
                for r in dropped]
            span = np.arange(next_record, next_record + n + len(dropped), dtype=np.int64)
            records = np.setdiff1d(span, np.asarray(dropped, np.int64), assume_unique=True)[:n]
            next_record += n + len(dropped)
            texts = block.column("drawing")
            if kind is None:
                kind = _first_kind(texts, src.name)
            cols = {c: block.column(c) for c in COLUMNS if c in names and c != "drawing"}
            meta, good = text_metadata(cols, n, records, src.name, ctx, rejects)
            _validity, off_buf, data_buf = texts.buffers()
            offsets = np.frombuffer(off_buf, np.int32)[texts.offset: texts.offset + n + 1]
            data = (np.frombuffer(data_buf, np.uint8) if data_buf is not None
                    else np.zeros(0, np.uint8))
            offsets = offsets.astype(np.int64)
            yield assemble(data, offsets[:-1], offsets[1:], np.ones(n, np.uint8), records,
                           meta, good, kind, src.name, ctx, rejects)
    finally:
        stream.close()
