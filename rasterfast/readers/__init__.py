"""Readers for every Quick, Draw! input: Kaggle CSVs, Google ndjson and binary files.

Each plain, ``.gz``, ``.zst`` or a member of a ``.zip``; given as files,
directories or globs, local or at fsspec URLs (``s3://``, ``gs://``, ``https://``,
``memory://``). Reading streams in blocks of ``block_size`` bytes, so
memory does not grow with the size of a file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence

from ..batch import KINDS, StrokeBatch
from ..errors import InputReadError, StrokeParseError, check_on_error
from ..parse import DEFAULT_MAX_POINTS, DEFAULT_MAX_STROKES, limits
from ._binary import read_binary
from ._csv import read_csv
from ._meta import ReadContext
from ._ndjson import read_ndjson
from ._remote import is_url
from ._sources import Source, find_sources, line_number

__all__ = ["read_drawings", "read_source", "find_sources", "Source", "ReadContext",
           "line_number", "is_url"]

_READERS = {"csv": read_csv, "ndjson": read_ndjson, "bin": read_binary}


def read_drawings(paths: str | os.PathLike | Iterable[str | os.PathLike],
                  words: Sequence[str] | None = None, on_error: str = "raise", *,
                  kind: str | None = None, block_size: int = 4 << 20,
                  max_points: int = DEFAULT_MAX_POINTS,
                  max_strokes: int = DEFAULT_MAX_STROKES) -> Iterator[StrokeBatch]:
    """Read drawings from files, yielding one :class:`StrokeBatch` per block of each file.

    Parameters
    ----------
    paths : path, glob, or iterable of them
        Kaggle CSVs (train ``countrycode,drawing,key_id,recognized,timestamp,word``
        or test ``key_id,countrycode,drawing``), Google ndjson (``.ndjson``) or
        binary (``.bin``, the word is the file name) files; each plain, ``.gz``,
        ``.zst``, or inside a ``.zip`` (read member by member, never unpacked).
        Directories are searched recursively; inputs are read in sorted order.
        Any of them may be an fsspec URL (``s3://bucket/train_simplified/``,
        ``https://host/cat.ndjson.gz``), read as the local file would be; the
        protocol's package (s3fs, gcsfs, aiohttp) must be installed.
    words : sequence of str, optional
        The word list: a drawing's ``label`` is the index of its word. A drawing
        whose word is not in the list is an error (``"raise"``) or a counted
        reject. Without it, and for drawings without a word (the test set),
        ``label`` is -1.
    on_error : {"raise", "warn", "skip"}
        ``"raise"`` stops at the first bad drawing with a
        :class:`~rasterfast.StrokeParseError` naming the file, record, byte
        offset and reason. ``"skip"`` leaves it out and lists it in the
        batch's ``rejects``; ``"warn"`` skips and warns once at the end with
        the count. A file that breaks (a corrupt gzip stream, a truncated
        ``.gz``, ``.zst`` or ``.bin``, a corrupt zip archive) keeps the drawings read before the
        break; the rest of the file is one reject (``InputReadError``) whose
        record is the first lost (0 for a file that cannot be read at all).
        What is bad: an ndjson line that ``json.loads`` refuses, or whose
        ``drawing`` is no array, or whose metadata has the wrong JSON type
        (word, countrycode, timestamp: strings; key_id: a string or number;
        recognized: a boolean; null is absent), or a text field that escapes a lone
        surrogate; in either format, a key_id that is not 1-19 digits or a timestamp
        not of the form ``2017-03-08 21:12:07.266040`` (a ``T`` for the space, a
        fraction of 1-6 digits or none, one `` UTC`` at the end); a CSV line that is not UTF-8,
        has the wrong number of fields, or holds a quote that does not enclose
        a whole value (rasterfast reads CSVs one row per line); a ``.bin``
        record with a non-ASCII country code (corrupt: the file breaks there).
    kind : {"simplified", "raw"}, optional
        What the drawings are; by default the first drawing of a file that tells
        decides (one that does not, such as ``[]``, is rejected either way).
    block_size : int
        Bytes read at a time (default 4 MiB): the memory a reader holds.
    max_points, max_strokes : int
        A drawing with more is rejected as absurd.

    Yields
    ------
    StrokeBatch
        Drawings of one block of one file, with ``sources == (name,)`` and
        ``record`` the 0-based record number in that file (CSV data rows,
        ndjson lines, ``.bin`` records). For every file, the records read =
        drawings yielded + rejects.

    Raises
    ------
    FileNotFoundError
        A path that matches nothing, or no input file at all.
    ValueError
        A URL of an unknown protocol, or one whose package is not installed.
    StrokeParseError, InputReadError
        Under ``on_error="raise"``.
    """
    check_on_error(on_error)
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None, got {kind!r}")
    if not isinstance(block_size, int) or block_size < 4096:
        raise ValueError(f"block_size must be an integer >= 4096 bytes, got {block_size!r}")
    if words is not None:
        words = tuple(words)
        if len(set(words)) != len(words):
            raise ValueError("words has duplicates; each word needs one label")
        if len(words) > 32767:
            raise ValueError(f"at most 32,767 words fit the int16 labels, got {len(words)}")
    max_points, max_strokes = limits(max_points, max_strokes)
    ctx = ReadContext(on_error=on_error, words=words, kind=kind, block_size=block_size,
                      max_points=max_points, max_strokes=max_strokes)
    for src in find_sources(paths):
        yield from read_source(src, ctx)
    if on_error == "warn" and ctx.n_rejects:
        r = ctx.first_reject
        warnings.warn(f"skipped {ctx.n_rejects} bad drawings; first: {r.source}, record "
                      f"{r.record}: {r.reason} (see each batch's rejects)", stacklevel=2)


def read_source(src: Source, ctx: ReadContext) -> Iterator[StrokeBatch]:
    """The batches of one input, read under ``ctx`` (error policy, words, block size).

    An input that cannot be opened is an ``InputReadError``, or one reject in an empty
    batch when the policy skips.
    """
    try:
        try:
            yield from _READERS[src.format](src, ctx)
        except StrokeParseError as err:
            # Name the line an editor shows: the record counts from 0 after the header.
            if err.line < 0 and err.source == src.name and src.line_of(err.record) > 0:
                err.locate(src.line_of(err.record))
            raise
    except (InputReadError, OSError) as err:
        if not isinstance(err, InputReadError):   # could not even open it
            if isinstance(err, FileNotFoundError) or ctx.on_error == "raise":
                raise InputReadError(f"cannot open: {err}", src.name, 0) from err
            err = InputReadError(f"cannot open: {err}", src.name, 0)
        if ctx.on_error == "raise":
            raise
        empty = StrokeBatch.empty(ctx.kind or "simplified", sources=(src.name,))
        empty.rejects = [err.to_reject()]
        ctx.n_rejects += 1
        if ctx.first_reject is None:
            ctx.first_reject = empty.rejects[0]
        yield empty
