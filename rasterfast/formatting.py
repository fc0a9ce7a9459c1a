r"""Drawings back to text: the drawing column and whole Kaggle CSV / Google ndjson files.

The drawing text comes from the Cython kernel ``rasterfast._ext._format`` (GIL
released, no Python object per number); the per-row metadata (key ids,
timestamps, words) is formatted column-wise with NumPy and pyarrow and handed
to the same kernel as a prefix and suffix per drawing, so a whole file is
written in large blocks without a Python loop over rows.

File layouts (as in the real files; see ``shared/data/quickdraw/README.md``)
-------------------------------------------------------------------------
Kaggle train CSV (``\n`` line ends, a newline after the last row)::

    countrycode,drawing,key_id,recognized,timestamp,word
    VE,"[[[130, 113], [72, 40]]]",5201136883597312,True,2017-03-02 23:25:10.074530,cat

Kaggle test CSV: header ``key_id,countrycode,drawing``, rows
``4503605207891968,BR,"[[[29, 79, ...], ...]]"``.

Google ndjson (no newline after the last line)::

    {"word":"cat","countrycode":"VE","timestamp":"2017-03-02 23:25:10.07453 UTC",
     "recognized":true,"key_id":"5201136883597312","drawing":[[[130,113,...],...]]}

(one line in the file). Unknown values (``recognized == -1``, ``NaT``
timestamps) are written as empty CSV fields and JSON ``null``. The ndjson
timestamp drops trailing zeros of the fraction (and the point when it is zero).
Words and country codes are written as they are; a CSV field that holds a
comma, quote or line break is quoted, a JSON string is escaped by ``json.dumps``.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._ext import _format as _kernel
from .batch import StrokeBatch
from .errors import Status, status_error

__all__ = ["format_drawings", "write_kaggle_csv", "write_ndjson", "AtomicFileWriter",
           "KaggleCsvWriter", "NdjsonWriter", "STYLES"]

#: ``"kaggle"``: ``", "`` between items, as in the Kaggle CSVs; ``"ndjson"``:
#: ``","``, as in Google's ndjson files.
STYLES = ("kaggle", "ndjson")

KAGGLE_TRAIN_HEADER = b"countrycode,drawing,key_id,recognized,timestamp,word\n"
KAGGLE_TEST_HEADER = b"key_id,countrycode,drawing\n"

# Virtual size of one output buffer. np.empty does not touch the pages, so the
# worst-case bound (24 characters per float) costs address space, not memory.
_CHUNK = 256 << 20
_EMPTY_U8 = np.zeros(0, np.uint8)
_EMPTY_I64 = np.zeros(0, np.int64)
_EMPTY_I32 = np.zeros(0, np.int32)
_FLOAT_WIDTH, _INT16_WIDTH, _INT32_WIDTH = 24, 6, 11
_LARGE = pa.large_string()


def _check_batch(batch) -> StrokeBatch:
    if not isinstance(batch, StrokeBatch):
        raise TypeError(f"batch must be a StrokeBatch, got {type(batch).__name__}")
    return batch


def _check_style(style: str) -> bool:
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    return style == "kaggle"


def _format_chunks(batch: StrokeBatch, spaced: bool, pre=None, suf=None):
    """Row texts of ``batch`` as a list of memoryview chunks and int64 offsets [N + 1].

    ``pre``/``suf``: optional ``(data uint8, offsets int64 [N + 1])`` copied
    before / after each drawing.
    """
    n = len(batch)
    raw = batch.kind == "raw"
    timed = raw and batch.has_time
    dtype = np.float32 if raw else np.int16
    x = np.ascontiguousarray(batch.x, dtype=dtype)
    y = np.ascontiguousarray(batch.y, dtype=dtype)
    t = np.ascontiguousarray(batch.t, dtype=np.int32) if timed else _EMPTY_I32
    so = np.ascontiguousarray(batch.stroke_offsets, dtype=np.int64)
    do = np.ascontiguousarray(batch.drawing_offsets, dtype=np.int64)
    pre_data, pre_off = pre if pre is not None else (_EMPTY_U8, _EMPTY_I64)
    suf_data, suf_off = suf if suf is not None else (_EMPTY_U8, _EMPTY_I64)
    width = _FLOAT_WIDTH if raw else _INT16_WIDTH
    per_point = 2 * (width + 2) + (_INT32_WIDTH + 2 if timed else 0)
    bound = len(pre_data) + len(suf_data) + 2 * n + 16 * batch.num_strokes + per_point * len(x)
    cap = max(min(bound, _CHUNK), 1)
    offsets = np.zeros(n + 1, np.int64)
    chunks: list = []
    start = base = 0
    while True:
        buf = np.empty(cap, np.uint8)
        status, nxt, pos, detail = _kernel._format(
            x, y, t, so, do, timed, spaced, pre_data, pre_off, suf_data, suf_off,
            start, buf, offsets, base)
        if status not in (Status.OK, Status.E_FULL):
            raise status_error(status, detail, batch=batch, caller=__name__)
        if pos:
            chunks.append(memoryview(buf)[:pos])
        base += pos
        start = nxt
        if status == Status.OK:
            return chunks, offsets
        if pos == 0:   # the next drawing alone is larger than a buffer
            cap = max(cap * 2, int(detail))


def format_drawings(batch: StrokeBatch, style: str = "kaggle") -> tuple[bytes, np.ndarray]:
    """The drawing text of every drawing of ``batch``, as the real files print it.

    Parameters
    ----------
    batch : StrokeBatch
        Simplified drawings print ``[[x...],[y...]]`` per stroke (integers);
        raw drawings ``[[x...],[y...],[t...]]`` (``t`` only when the batch has
        times): x and y as Google's raw files print float32 values, t as integers.
    style : {"kaggle", "ndjson"}
        ``"kaggle"`` separates items with ``", "`` (the Kaggle CSVs' drawing
        column), ``"ndjson"`` with ``","`` (Google's ndjson files).

    Returns
    -------
    data : bytes
        The texts end to end, nothing between them.
    offsets : ndarray of int64, shape (N + 1,)
        Drawing ``i`` is ``data[offsets[i]:offsets[i + 1]]``.

    Raises
    ------
    TypeError
        ``batch`` is not a StrokeBatch.
    ValueError
        An unknown style, a NaN or infinite coordinate, or inconsistent offsets.

    Notes
    -----
    Grammar (``SEP`` is ``", "`` or ``","``)::

        drawing := '[' stroke (SEP stroke)* ']'
        stroke  := '[' list SEP list (SEP list)? ']'
        list    := '[' number (SEP number)* ']'

    A raw coordinate that is integral and below 1e16 in magnitude prints as an
    integer (``413``); any other prints as ``repr(float(v))``, the shortest
    text that reads back as the same double (``414.48199462890625``,
    ``1e-05``); ``-0.0`` keeps its sign. So ``np.float32(json.loads(text))``
    gives back every value exactly, and re-formatting real drawings gives the
    real files' bytes (the raw files hold a few values that are not float32,
    such as ``459.9000015258789``; those cannot come back from a float32 batch).

    Examples
    --------
    >>> from rasterfast import StrokeBatch
    >>> b = StrokeBatch.from_lists([[[[130, 113], [72, 40]], [[76], [136]]]], "simplified")
    >>> format_drawings(b)[0]
    b'[[[130, 113], [72, 40]], [[76], [136]]]'
    >>> r = StrokeBatch.from_lists([[[[414.48199462890625, 3.0], [-1.5, 0.1], [0, 17]]]], "raw")
    >>> format_drawings(r, "ndjson")[0]
    b'[[[414.48199462890625,3],[-1.5,0.10000000149011612],[0,17]]]'
    """
    spaced = _check_style(style)
    chunks, offsets = _format_chunks(_check_batch(batch), spaced)
    return b"".join(chunks), offsets


# -- per-row metadata, column-wise ------------------------------------------------------
def _join(*parts) -> pa.Array:
    """Row-wise concatenation of string arrays and constant strings."""
    cast = [pa.scalar(p, _LARGE) if isinstance(p, str) else p.cast(_LARGE) for p in parts]
    return pc.binary_join_element_wise(*cast, pa.scalar("", _LARGE))


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(data uint8, offsets int64 [n + 1])`` of a string array without nulls."""
    arr = arr.cast(_LARGE)
    if arr.null_count:
        raise RuntimeError("internal error: null in a row prefix/suffix")
    n = len(arr)
    off = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset: arr.offset + n + 1]
    data = arr.buffers()[2]
    data = np.frombuffer(data, np.uint8) if data is not None else _EMPTY_U8
    return data, np.ascontiguousarray(off)


def _from_rows(rows: np.ndarray, keep: np.ndarray | None = None) -> pa.Array:
    """A string array from fixed-width byte rows, keeping the ``keep`` columns of each row."""
    n, w = rows.shape
    if keep is None:
        data, lengths = rows.reshape(-1), np.full(n, w, np.int64)
    else:
        data, lengths = rows[keep], keep.sum(axis=1, dtype=np.int64)
    off = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=off[1:])
    return pa.Array.from_buffers(_LARGE, n, [None, pa.py_buffer(off),
                                             pa.py_buffer(np.ascontiguousarray(data))])


def _put_digits(rows: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    for k in range(width - 1, -1, -1):
        rows[:, col + k] = 48 + values % 10
        values = values // 10


def _timestamp_rows(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` rows (n, 26) uint8, and the NaT mask."""
    ts = np.asarray(ts, "datetime64[us]")
    nat = np.isnat(ts)
    safe = np.where(nat, np.datetime64(0, "us"), ts)
    days = safe.astype("datetime64[D]")
    uniq, inv = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(uniq)
    if len(dates) and any(len(d) != 10 for d in dates):
        raise ValueError("timestamps must be within the years 0000-9999")
    rows = np.empty((len(ts), 26), np.uint8)
    if len(dates):
        table = np.frombuffer("".join(dates).encode(), np.uint8).reshape(-1, 10)
        rows[:, :10] = table[inv.reshape(-1)]
    tod = (safe - days).astype(np.int64)  # microseconds of the day
    secs, micro = np.divmod(tod, 1_000_000)
    rows[:, 10] = 32
    _put_digits(rows, 11, secs // 3600, 2)
    rows[:, 13] = 58
    _put_digits(rows, 14, secs // 60 % 60, 2)
    rows[:, 16] = 58
    _put_digits(rows, 17, secs % 60, 2)
    rows[:, 19] = 46
    _put_digits(rows, 20, micro, 6)
    return rows, nat


def _recognized_text(rec: np.ndarray, true: str, false: str, unknown: str) -> pa.Array:
    idx = np.where(rec == 1, 1, np.where(rec == 0, 0, 2)).astype(np.int8)
    return pc.take(pa.array([false, true, unknown], _LARGE), pa.array(idx))


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, object), _LARGE)


def _csv_field(arr: pa.Array) -> pa.Array:
    """Quote the values that need it, as the csv module does (QUOTE_MINIMAL)."""
    needs = pc.match_substring_regex(arr, r'[",\r\n]')
    if not pc.any(needs).as_py():
        return arr
    quoted = _join('"', pc.replace_substring(arr, '"', '""'), '"')
    return pc.if_else(needs, quoted, arr)


def _json_strings(arr: pa.Array) -> pa.Array:
    """Each value as a JSON string literal (``json.dumps`` of the few distinct values)."""
    enc = pc.dictionary_encode(arr)
    table = pa.array([json.dumps(s, ensure_ascii=False) for s in enc.dictionary.to_pylist()],
                     _LARGE)
    return pc.take(table, enc.indices)


def _kaggle_affixes(batch: StrokeBatch, test: bool):
    n = len(batch)
    cc = _csv_field(_strings(batch.countrycode))
    key = pc.cast(pa.array(batch.key_id, pa.uint64()), _LARGE)
    if test:
        return _buffers(_join(key, ",", cc, ',"')), _const(b'"\n', n)
    rows, nat = _timestamp_rows(batch.timestamp)
    ts = _from_rows(rows)
    if nat.any():
        ts = pc.if_else(pa.array(nat), pa.scalar("", _LARGE), ts)
    rec = _recognized_text(batch.recognized, "True", "False", "")
    word = _csv_field(_strings(batch.word))
    return (_buffers(_join(cc, ',"')),
            _buffers(_join('",', key, ",", rec, ",", ts, ",", word, "\n")))


def _const(text: bytes, n: int):
    return (np.frombuffer(text * n, np.uint8) if n else _EMPTY_U8,
            np.arange(n + 1, dtype=np.int64) * len(text))


def _ndjson_affixes(batch: StrokeBatch):
    n = len(batch)
    word = _json_strings(_strings(batch.word))
    cc = _json_strings(_strings(batch.countrycode))
    rows, nat = _timestamp_rows(batch.timestamp)
    # '"' + timestamp + ' UTC"', without the fraction's trailing zeros
    full = np.empty((n, 32), np.uint8)
    full[:, 0] = 34
    full[:, 1:27] = rows
    full[:, 27:32] = np.frombuffer(b' UTC"', np.uint8)
    keep = np.ones((n, 32), bool)
    frac = rows[:, 20:26]
    trailing = np.cumprod((frac == 48)[:, ::-1], axis=1)[:, ::-1].astype(bool)
    keep[:, 21:27] = ~trailing
    keep[:, 20] = ~trailing[:, 0]          # no fraction left: no point either
    ts = _from_rows(full, keep)
    if nat.any():
        ts = pc.if_else(pa.array(nat), pa.scalar("null", _LARGE), ts)
    rec = _recognized_text(batch.recognized, "true", "false", "null")
    key = pc.cast(pa.array(batch.key_id, pa.uint64()), _LARGE)
    pre = _join('{"word":', word, ',"countrycode":', cc, ',"timestamp":', ts,
                ',"recognized":', rec, ',"key_id":"', key, '","drawing":')
    return _buffers(pre), _const(b"}\n", n)


# -- writers ----------------------------------------------------------------------------
class AtomicFileWriter:
    """A file written under a temporary name and renamed on a clean close.

    ``.gz`` paths are gzip-compressed with a fixed header (mtime 0, no name),
    so equal input gives byte-identical files.
    """

    def __init__(self, path, compresslevel: int = 6):
        if not isinstance(compresslevel, int) or not 0 <= compresslevel <= 9:
            raise ValueError(f"compresslevel must be an integer 0-9, got {compresslevel!r}")
        self.path = os.fspath(path)
        self._tmp = f"{self.path}.part"
        self._raw = open(self._tmp, "wb")  # noqa: SIM115 (closed in close())
        self._out = (gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0,
                                   compresslevel=compresslevel)
                     if self.path.endswith(".gz") else self._raw)
        self.rows = 0
        self.closed = False

    def write_bytes(self, data) -> None:
        """Append bytes as they are."""
        self._out.write(data)

    def _write_chunks(self, chunks) -> None:
        for c in chunks:
            self._out.write(c)

    def close(self) -> None:
        """Finish the file and move it to its name."""
        if self.closed:
            return
        self.closed = True
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._out is not self._raw:
                self._out.close()
            self._raw.close()
        finally:
            if os.path.exists(self._tmp):
                os.remove(self._tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


class KaggleCsvWriter(AtomicFileWriter):
    """A Kaggle-layout CSV written batch by batch (see :func:`write_kaggle_csv`)."""

    def __init__(self, path, test: bool = False, compresslevel: int = 6):
        super().__init__(path, compresslevel)
        self.test = bool(test)
        self._out.write(KAGGLE_TEST_HEADER if self.test else KAGGLE_TRAIN_HEADER)

    def write(self, batch: StrokeBatch) -> None:
        """Append the rows of ``batch``."""
        _check_batch(batch)
        if not len(batch):
            return
        pre, suf = _kaggle_affixes(batch, self.test)
        chunks, _ = _format_chunks(batch, True, pre, suf)
        self._write_chunks(chunks)
        self.rows += len(batch)


class NdjsonWriter(AtomicFileWriter):
    """A Google-layout ndjson file written batch by batch (see :func:`write_ndjson`)."""

    def __init__(self, path, compresslevel: int = 6):
        super().__init__(path, compresslevel)

    def write(self, batch: StrokeBatch) -> None:
        """Append the lines of ``batch``."""
        _check_batch(batch)
        if not len(batch):
            return
        pre, suf = _ndjson_affixes(batch)
        chunks, _ = _format_chunks(batch, False, pre, suf)
        # Lines end in "}\n"; the file ends without the newline, so each
        # batch's last one is held back and written before the next batch.
        if self.rows:
            self._out.write(b"\n")
        last = chunks[-1]
        self._write_chunks(chunks[:-1])
        self._out.write(last[:-1])
        self.rows += len(batch)


def _batches(batches) -> Iterable[StrokeBatch]:
    if isinstance(batches, StrokeBatch):
        return (batches,)
    if not isinstance(batches, Iterable):
        raise TypeError(f"batch must be a StrokeBatch or an iterable of them, "
                        f"got {type(batches).__name__}")
    return batches


def write_kaggle_csv(path, batch, test: bool = False, *, compresslevel: int = 6) -> int:
    r"""Write drawings as a Kaggle competition CSV.

    Parameters
    ----------
    path : str or PathLike
        The file; a name ending in ``.gz`` is gzip-compressed. Written under a
        temporary name and renamed when complete.
    batch : StrokeBatch or iterable of StrokeBatch
        The drawings, in the order to write them.
    test : bool
        ``False``: the train layout ``countrycode,drawing,key_id,recognized,
        timestamp,word``; ``True``: the test layout ``key_id,countrycode,drawing``.
    compresslevel : int
        gzip level for ``.gz`` paths (0-9).

    Returns
    -------
    int
        Rows written.

    Notes
    -----
    Rows: ``VE,"[[[130, 113, ...], [72, 40, ...]], ...]",5201136883597312,True,
    2017-03-02 23:25:10.074530,cat`` (the drawing quoted, ``", "`` separators,
    ``True``/``False``, 6 fraction digits, no time zone); every row ends in
    ``\n``, the last one too.
    """
    with KaggleCsvWriter(path, test=test, compresslevel=compresslevel) as w:
        for b in _batches(batch):
            w.write(b)
    return w.rows


def write_ndjson(path, batch, *, compresslevel: int = 6) -> int:
    """Write drawings as a Google Quick, Draw! ndjson file.

    Parameters
    ----------
    path : str or PathLike
        The file; ``.gz`` names are gzip-compressed.
    batch : StrokeBatch or iterable of StrokeBatch
        The drawings, in the order to write them.
    compresslevel : int
        gzip level for ``.gz`` paths (0-9).

    Returns
    -------
    int
        Lines written.

    Notes
    -----
    Keys in the real files' order, no spaces, no newline after the last line::

        {"word":"cat","countrycode":"VE","timestamp":"2017-03-02 23:25:10.07453 UTC",
        "recognized":true,"key_id":"5201136883597312","drawing":[[[130,113],[72,40]]]}
    """
    with NdjsonWriter(path, compresslevel=compresslevel) as w:
        for b in _batches(batch):
            w.write(b)
    return w.rows
