"""Google's binary ``.bin`` format (simplified drawings; the word is the file's name).

Per record, little-endian: key_id u64, countrycode 2 bytes, recognized i8,
timestamp u32 (seconds since 1970), n_strokes u16; per stroke n_points u16,
then n_points x bytes, then n_points y bytes. Decoded by the kernel
``_records._parse_bin``; records cut by a block boundary wait for the next block.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .._ext import _records
from ..batch import StrokeBatch
from ..errors import InputReadError
from ._meta import ReadContext
from ._sources import READ_ERRORS, Source, raise_if_broken, read_blocks

__all__ = ["read_binary"]

_CORRUPT = {
    2: "recognized byte is not 0 or 1: corrupt data, or not a Quick, Draw! .bin file",
    3: "record has no strokes: corrupt data",
    4: "stroke has no points: corrupt data",
    5: "record has more points than max_points: corrupt data",
    6: "country code is not 2 ASCII characters: corrupt data, or not a Quick, Draw! .bin file",
}


def _word_of(stem: str) -> str:
    # Google names them cat.bin, and some mirrors full_binary_cat.bin.
    return stem[len("full_binary_"):] if stem.startswith("full_binary_") else stem


def read_binary(src: Source, ctx: ReadContext) -> Iterator[StrokeBatch]:
    """Yield one StrokeBatch per block of the binary file ``src``."""
    word = _word_of(src.stem)
    label = -1
    if ctx.words is not None:
        if word not in ctx.words:
            raise InputReadError(f"word {word!r} (from the file name) is not in the word list "
                                 f"({len(ctx.words)} words)", src.name, 0)
        label = ctx.words.index(word)
    stream = src.open()
    pending = b""
    record = 0
    offset = 0                      # file offset of pending[0]
    try:
        blocks = read_blocks(stream, ctx.block_size)
        while True:
            try:
                block = next(blocks, None)
            except READ_ERRORS as err:
                raise InputReadError(f"unreadable from here on: {err}", src.name, record) from err
            if block is None:
                raise_if_broken(stream, src.name, record)
            if block is None and not pending:
                return
            data = pending + block if block is not None else pending
            buf = np.frombuffer(data, np.uint8)
            (x, y, so, do, key, cc, rec, ts, consumed, status,
             _) = _records._parse_bin(buf, ctx.max_points, 1 << 62)
            n = len(key)
            if n:
                country = cc.view("S2").reshape(-1).astype(str).astype(object)
                yield StrokeBatch.from_columns(
                    "simplified", x, y, None, so, do, sources=(src.name,),
                    key_id=key, countrycode=country, recognized=rec,
                    timestamp=(ts * 1_000_000).astype("datetime64[us]"),
                    word=np.full(n, word, object), label=np.full(n, label, np.int16),
                    record=np.arange(record, record + n, dtype=np.int64))
            record += n
            offset += consumed
            pending = data[consumed:]
            if status in _CORRUPT:
                raise InputReadError(f"{_CORRUPT[status]} (record at byte {offset}); the rest "
                                     "of the file cannot be read", src.name, record)
            if block is None and pending:
                raise InputReadError(f"file ends inside a record ({len(pending)} bytes left at "
                                     f"byte {offset}: truncated?)", src.name, record)
    finally:
        stream.close()
