"""What the decoder targets share: seeds from the real sample, references, contract checks.

A target's ``run`` calls the decoder under every ``on_error`` policy and raises
:class:`ContractViolation` (or lets an unexpected exception escape) when

* a policy gives an exception that is not a :class:`~rasterfast.StrokeParseError`
  naming the source, the record and a reason;
* under ``"skip"``, ``len(batch) + len(batch.rejects)`` differs from the drawings given
  (or, for a file that breaks, the records before the break plus one reject);
* what is accepted differs from the reference's reading, or the reference accepts
  what was rejected (where the reference is exact);
* ``"raise"`` does not raise the first reject of ``"skip"``, or ``"warn"`` does not warn.
"""

from __future__ import annotations

import atexit
import copy
import csv
import gzip
import io
import json
import math
import os
import shutil
import tempfile
import warnings
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from rasterfast import StrokeParseError

DATA = Path(os.environ.get("RASTERFAST_DATA",
                           Path(__file__).resolve().parents[3] / "shared/data/quickdraw"))


class ContractViolation(AssertionError):
    """A decoder broke its contract on one input."""


def require(cond: bool, what: str) -> None:
    """Raise :class:`ContractViolation` with ``what`` unless ``cond``."""
    if not cond:
        raise ContractViolation(what)


# -- seeds ---------------------------------------------------------------------------------

@cache
def real_lines(folder: str, count: int = 6) -> tuple[bytes, ...]:
    """The first lines of a few real files under ``DATA/folder`` (ndjson or CSV, gz or not)."""
    out: list[bytes] = []
    paths = sorted((DATA / folder).iterdir())
    for path in paths[:: max(1, len(paths) // count)][:count]:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            out.append(fh.read(1 << 14).rsplit(b"\n", 1)[0] + b"\n")
    return tuple(out)


@cache
def real_drawings(kind: str, count: int = 40) -> tuple[bytes, ...]:
    """Drawing texts of real ndjson records of ``kind``."""
    out = []
    for block in real_lines(f"ndjson/{kind}"):
        for line in block.splitlines():
            if line.strip():
                out.append(json.dumps(json.loads(line)["drawing"]).encode())
    return tuple(out[:: max(1, len(out) // count)][:count])


# -- cached references ----------------------------------------------------------------------

#: Reference readings kept per target process: a mutated input changes a few of its lines,
#: and the rest (and the seeds' lines, spliced in again and again) were read before.
REFERENCE_CACHE = 1 << 14


def _without_tracebacks(err: BaseException) -> BaseException:
    """``err`` with no traceback on it or on any exception it was raised from or during.

    A traceback's frames reach the whole stack through ``f_back``, the checker's frames
    with the batches of the input included, and a frame keeps its locals after it returns:
    cached errors with tracebacks (also on their ``__cause__`` or ``__context__``, as
    ``raise ValueError(...) from err`` leaves) kept 59,654 StrokeBatches and 142,262
    frames alive after 40,960 ndjson inputs, and the ASan campaign's ndjson chunk grew past
    2.3 GB. (The error raised to a caller is a copy, :func:`_copy_of`, for the same reason.)
    """
    todo, seen = [err], set()
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        todo += [e.__cause__, e.__context__]
    return err


def _copy_of(err: ValueError) -> ValueError:
    """A new exception of ``err``'s type and arguments (no traceback, cause or context)."""
    try:
        return copy.copy(err)
    except Exception:  # noqa: BLE001 - a type that cannot be rebuilt from its args
        return ValueError(str(err))


def cached_reference(fn):
    """``fn`` (pure, hashable arguments), remembering results and ValueErrors alike.

    The cached call returns what ``fn`` returns or raises a copy of the ValueError it
    raised (same type and message); a result is shared between calls, so callers must not
    modify it. Nothing cached refers to a caller's frames.
    """
    @lru_cache(maxsize=REFERENCE_CACHE)
    def outcome(*args):
        try:
            return fn(*args), None
        except ValueError as err:
            return None, _without_tracebacks(err)

    def call(*args):
        value, err = outcome(*args)
        if err is not None:
            # a copy: raising the cached error itself would hang this call's traceback
            # (and through it the caller's frames) on the cache until its next raise
            raise _copy_of(err) from None
        return value

    call.__doc__ = fn.__doc__
    call.cache_clear = outcome.cache_clear
    return call


# -- scratch files -------------------------------------------------------------------------

@cache
def scratch_dir() -> str:
    """A folder in memory (``/dev/shm`` when there is one) for the files a reader opens."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = tempfile.mkdtemp(prefix="rasterfast-fuzz-", dir=base)
    atexit.register(shutil.rmtree, path, True)
    return path


def scratch_file(name: str, data: bytes) -> str:
    """Write ``data`` to ``name`` in the scratch folder; returns the path."""
    path = os.path.join(scratch_dir(), name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


# -- the reference reading of a drawing ----------------------------------------------------

_INT32 = (-(2**31), 2**31 - 1)


def _no_constants(name):
    raise ValueError(f"{name} is not a number in a drawing")


#: The parser's one limit beyond JSON: a number written with more than 400 characters
#: (sign included) is malformed (ext/_parse.pyx MAX_NUMBER_CHARS), so that no text makes
#: it slow.
MAX_NUMBER_CHARS = 400


class LongNumber(str):
    """A JSON number of more than :data:`MAX_NUMBER_CHARS` characters: not a coordinate."""


def _float(token: str):
    return LongNumber(token) if len(token) > MAX_NUMBER_CHARS else float(token)


def _int(token: str):
    return LongNumber(token) if len(token) > MAX_NUMBER_CHARS else int(token)


def json_strict(text):
    """``json.loads`` without NaN/Infinity; bytes must be UTF-8. Raises ValueError.

    A number longer than :data:`MAX_NUMBER_CHARS` becomes a :class:`LongNumber`, which
    :func:`reference_drawing` rejects as a coordinate (elsewhere it is just a value).
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    try:
        return json.loads(text, parse_constant=_no_constants, parse_float=_float,
                          parse_int=_int)
    except RecursionError as err:
        raise ValueError("nested too deeply") from err


def reference_drawing(value, kind: str, max_points: int = 10**6, max_strokes: int = 65535):
    """Check a decoded drawing against the rules of ``kind``.

    Returns ``(x, y, t, stroke_lengths)`` as numpy arrays, or raises ValueError.
    """
    lists = 3 if kind == "raw" else 2
    if not isinstance(value, list) or not value:
        raise ValueError("not a non-empty list of strokes")
    if len(value) > max_strokes:
        raise ValueError("too many strokes")
    xs, ys, ts, lengths = [], [], [], []
    for stroke in value:
        if not isinstance(stroke, list) or len(stroke) != lists:
            raise ValueError("stroke is not a list of the coordinate lists")
        if not all(isinstance(c, list) for c in stroke):
            raise ValueError("coordinate list is not a list")
        n = len(stroke[0])
        if n == 0 or any(len(c) != n for c in stroke):
            raise ValueError("empty stroke or lists of different lengths")
        for v in (*stroke[0], *stroke[1]):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError("coordinate is not a number")
            if kind == "simplified" and (not isinstance(v, int) or not 0 <= v <= 255):
                raise ValueError("simplified coordinate is not an integer 0-255")
            if kind == "raw":
                try:
                    f = float(v)
                except OverflowError as err:
                    raise ValueError("coordinate too large") from err
                with np.errstate(over="ignore"):
                    if not math.isfinite(f) or not np.isfinite(np.float32(f)):
                        raise ValueError("coordinate outside float32")
        if kind == "raw":
            for v in stroke[2]:
                if isinstance(v, bool) or not isinstance(v, int) \
                        or not _INT32[0] <= v <= _INT32[1]:
                    raise ValueError("time is not an int32 integer")
            ts.extend(stroke[2])
        xs.extend(stroke[0])
        ys.extend(stroke[1])
        lengths.append(n)
        if len(xs) > max_points:
            raise ValueError("too many points")
    dtype = np.int16 if kind == "simplified" else np.float32
    with np.errstate(over="ignore"):
        return (np.asarray([float(v) for v in xs] if kind == "raw" else xs, np.float64
                           ).astype(dtype),
                np.asarray([float(v) for v in ys] if kind == "raw" else ys, np.float64
                           ).astype(dtype),
                np.asarray(ts, np.int64), np.asarray(lengths, np.int64))


def batch_drawing(batch, i: int):
    """Drawing ``i`` of ``batch`` as ``(x, y, t, stroke_lengths)``."""
    so = batch.stroke_offsets[batch.drawing_offsets[i]: batch.drawing_offsets[i + 1] + 1]
    a, b = so[0], so[-1]
    t = batch.t[a:b] if len(batch.t) else np.zeros(0, np.int64)
    return batch.x[a:b], batch.y[a:b], t, np.diff(so)


def same_drawing(got, expect, what: str) -> None:
    """Raise unless two ``(x, y, t, lengths)`` tuples are equal."""
    for name, g, e in zip(("x", "y", "t", "stroke lengths"), got, expect, strict=True):
        if not (len(g) == len(e) and np.array_equal(np.asarray(g, np.float64),
                                                    np.asarray(e, np.float64))):
            raise ContractViolation(f"{what}: {name} differs from the reference: {g[:8]!r} "
                                    f"vs {e[:8]!r}")


# -- the contract of an error and of a batch -----------------------------------------------

def check_error(err: BaseException, source: str, n_records: int | None = None) -> None:
    """An exception a decoder raised must be a StrokeParseError naming source, record, reason."""
    require(isinstance(err, StrokeParseError),
            f"raised {type(err).__name__}, not a StrokeParseError: {err!r}")
    require(err.source == source or err.source.startswith(source + ":"),  # a zip's member
            f"error names source {err.source!r}, not {source!r}: {err}")
    require(bool(err.reason) and err.reason.strip() == err.reason,
            f"error without a reason: {err!r}")
    require(err.record >= 0, f"error names no record: {err}")
    if n_records is not None:
        require(err.record < max(n_records, 1), f"error names record {err.record} of "
                f"{n_records}: {err}")


def check_counted(kept_records: list[int], rejects, given: int, what: str,
                  breaks: bool = True) -> None:
    """``len(batch) + len(rejects) == given``, records distinct; or a break counted once.

    A file that breaks (an InputReadError under skip) keeps the records before the
    break and is one reject whose record is the first one lost; ``breaks`` allows it.
    """
    rej = [r.record for r in rejects]
    everything = sorted(kept_records + rej)
    require(len(set(everything)) == len(everything),
            f"{what}: a record is counted twice: {everything[:20]}")
    if len(everything) == given:
        require(everything == list(range(given)),
                f"{what}: records are not 0..{given - 1}: {everything[:20]}")
        return
    # (a break may come after the last record: a header or a stream end that is broken)
    require(breaks and rej and everything == list(range(max(rej) + 1)) and max(rej) <= given,
            f"{what}: {len(kept_records)} drawings + {len(rej)} rejects != {given} given "
            f"(records {everything[:20]}, rejects {[r.reason for r in rejects][:3]})")


def run_policies(read, source: str, n_records: int | None):
    """Run ``read(on_error)`` (returning a list of batches) under skip, raise and warn.

    Checks that raise raises the first reject of skip (or nothing, with the same
    result), and that warn warns exactly when skip rejects. Returns the skip batches.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = read("skip")
    rejects = [r for b in batches for r in b.rejects]
    try:
        raised = read("raise")
    except Exception as err:  # noqa: BLE001 - the contract says which ones are allowed
        check_error(err, source, n_records)
        require(bool(rejects), f"raise raised but skip rejected nothing: {err}")
        first = min(rejects, key=lambda r: r.record)
        require(err.record == first.record and err.reason == first.reason,
                f"raise raised record {err.record} ({err.reason}), skip's first reject is "
                f"record {first.record} ({first.reason})")
    else:
        require(not rejects, f"skip rejected {len(rejects)} but raise raised nothing "
                f"(first: {rejects[0]})" if rejects else "")
        require(sum(map(len, raised)) == sum(map(len, batches)), "raise and skip differ")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warned = read("warn")
    require(sum(map(len, warned)) == sum(map(len, batches)), "warn and skip differ")
    ours = [w for w in caught if "skipped" in str(w.message)]
    require(len(ours) == (1 if rejects else 0),
            f"warn gave {len(ours)} warnings for {len(rejects)} rejects: "
            f"{[str(w.message) for w in caught]}")
    require(len(caught) == len(ours), f"unexpected warnings: {[str(w.message) for w in caught]}")
    return batches


def csv_rows(data: bytes):
    """The rows of a CSV as the ``csv`` module reads it (UTF-8), header first."""
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
