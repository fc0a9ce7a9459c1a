"""Synthetic Quick, Draw! files at any scale, in the exact layouts of the real ones.

:func:`synth` writes one file per word (``<word>.csv`` in the Kaggle train
layout, or ``<word>.ndjson`` in Google's), of procedural doodles drawn by
:mod:`rasterfast.synth_gen` from the templates in :mod:`rasterfast.synth_shapes`,
or of perturbed copies of real drawings (``like=DIR``). It needs nothing but
rasterfast: no download, no network. Drawings are generated in NumPy batches,
formatted by the Cython formatter and written in large blocks.

Realism, measured
-----------------
Real: the sample in ``shared/data/quickdraw/ndjson`` (8,600 simplified and
9,570 raw drawings of 345 words; the first lines of Google's files, so
indicative). Synth: 500 drawings of each of the 40 built-in words, seed 0 (the
built-in words are simple shapes; detail marks and point densities are tuned
so that the totals match the real mix of all 345 words). Mean; p5/p50/p95:

==========================================  ==========================  ==========================
statistic                                   real                        synth
==========================================  ==========================  ==========================
simplified strokes per drawing              5.3; 1/4/13 (p99 20)        5.3; 1/4/12 (p99 17)
simplified points per drawing               44.5; 15/39/89 (p99 139)    44.8; 15/40/89 (p99 115)
simplified points per stroke                8.4; 2/5/24                 8.5; 2/4/31
raw strokes per drawing                     4.8; 1/4/12 (p99 19)        5.3; 1/4/12 (p99 17)
raw points per drawing                      189; 57/162/409 (p99 583)   191; 55/159/437 (p99 677)
raw points per stroke                       39; 2/22/134                36; 2/15/142
raw ms between points of a stroke           27; 6/17/82                 24; 5/16/62
raw stroke duration, ms                     1041; 90/584/3599           841; 21/311/3495
raw pause between strokes, ms               594; 108/439/1514           615; 104/430/1750
raw drawing duration, ms                    7301; 1868/6164/17235       7104; 1616/6175/16122
raw drawings whose first time is not 0      4.5% (1-4 ms)               4.4% (1-4 ms)
raw drawings with float coordinates         24% (3 decimals, float32)   24%
raw mean bounding box x-min / width, px     386 / 382                   403 / 322
recognized                                  92.1% true                  93.3% true
==========================================  ==========================  ==========================

Known gaps: short synthetic strokes are drawn faster than real ones (median
stroke duration 311 vs 584 ms), no raw stroke has a single point (real: 0.7%),
and the built-in shapes are simpler than many real words. The table comes from
``python -m bench.bench_synth --stats``.

Key ids are 16-digit numbers in ``[2**52, 2**52 + 2**51)`` like the real ones,
unique across one run's output and a pure function of the seed; country codes
follow the sample's distribution (its 60 most common codes, ``ZZ`` = unknown
among them) plus ``NA`` (Namibia);
timestamps are in January-March 2017 at 10 us resolution (so the ndjson
fraction has 1-5 digits, as in the real files).
"""

from __future__ import annotations

import csv
import functools
import io
import os
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .batch import KINDS, StrokeBatch
from .formatting import AtomicFileWriter, KaggleCsvWriter, NdjsonWriter, write_kaggle_csv
from .synth_gen import generate, perturb
from .synth_shapes import WORDS, compile_template

__all__ = ["synth", "SYNTH_FORMATS", "SYNTH_WORDS"]

#: Output layouts: Kaggle's train CSV (``countrycode,drawing,key_id,recognized,
#: timestamp,word``) or Google's ndjson.
SYNTH_FORMATS = ("kaggle-csv", "ndjson")
#: The built-in words, in the order ``words=K`` takes them.
SYNTH_WORDS = tuple(WORDS)

# Drawings per generated batch: fixed, because the random streams are drawn per
# batch (output is a function of the arguments only, not of memory or speed).
_BATCH = {"simplified": 20_000, "raw": 2_500}
_LIKE_CAP = 5_000   # real drawings kept per word as models (memory stays bounded)

# Country codes and their counts in the real sample (8,600 drawings; 98% of it),
# plus NA (Namibia: a value, not a missing one) with a small share.
_COUNTRIES = {
    "US": 3861, "GB": 604, "CA": 344, "DE": 268, "AU": 206, "RU": 198, "BR": 164, "SE": 156,
    "FI": 154, "CZ": 142, "FR": 134, "PL": 115, "IT": 106, "PH": 104, "KR": 104, "TH": 104,
    "SA": 91, "HU": 87, "NL": 83, "ID": 73, "RO": 70, "SK": 66, "JP": 63, "VN": 60, "IN": 56,
    "AE": 55, "NO": 50, "UA": 49, "MY": 48, "TW": 47, "NZ": 42, "TR": 40, "HK": 37, "HR": 36,
    "CH": 33, "BG": 33, "AT": 33, "BE": 33, "IE": 33, "DK": 32, "EE": 29, "AR": 29, "PT": 28,
    "ES": 28, "MX": 28, "RS": 26, "IQ": 25, "IL": 24, "SG": 20, "GR": 17, "BA": 17, "ZA": 17,
    "KW": 16, "SI": 15, "LT": 15, "CO": 14, "DZ": 13, "EG": 13, "MA": 11, "ZZ": 10, "NA": 10,
}
_CC = np.array(list(_COUNTRIES), dtype=object)
_CC_P = np.array(list(_COUNTRIES.values()), np.float64) / sum(_COUNTRIES.values())
_RECOGNIZED = 0.93
_T0 = np.datetime64("2017-01-01T00:00:00", "us")
_T_SPAN_10US = int((np.datetime64("2017-04-01", "us") - _T0).astype(np.int64) // 10)
_KEY_BASE = np.uint64(1 << 52)
_MASK51 = np.uint64((1 << 51) - 1)


def _key_consts(seed: int) -> tuple[np.uint64, ...]:
    r = np.random.default_rng([seed, 0x6B657973])
    a, b, c = (int(v) for v in r.integers(0, 1 << 51, 3, dtype=np.uint64))
    return np.uint64(a | 1), np.uint64(b), np.uint64(c | 1)


def _key_ids(seed: int, start: int, n: int) -> np.ndarray:
    """Key ids of drawings ``start .. start + n - 1`` of a run: a bijection on 51 bits.

    ``x -> a*x + b``, ``x ^= x >> 23`` and ``x -> c*x`` (a, c odd) each permute
    ``[0, 2**51)``, so distinct drawing numbers give distinct ids.
    """
    a, b, c = _key_consts(seed)
    x = np.arange(start, start + n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x * a + b) & _MASK51
        x ^= x >> np.uint64(23)
        x = (x * c) & _MASK51
        x ^= x >> np.uint64(19)
    return x + _KEY_BASE


def _metadata(rng: np.random.Generator, n: int, word: str, seed: int, start: int) -> dict:
    ts = _T0 + (rng.integers(0, _T_SPAN_10US, n) * 10).astype("timedelta64[us]")
    return {
        "key_id": _key_ids(seed, start, n),
        "word": np.full(n, word, dtype=object),
        "countrycode": _CC[rng.choice(len(_CC), n, p=_CC_P)],
        "recognized": (rng.random(n) < _RECOGNIZED).astype(np.int8),
        "timestamp": ts,
    }


@functools.cache
def _template(word: str):
    return compile_template(word)


def _stream(seed: int, word: str, batch: int, raw: bool, like: bool) -> np.random.Generator:
    # By word name, not position: a word's drawings do not change with --words.
    return np.random.default_rng([seed, zlib.crc32(word.encode()), batch, int(raw), int(like)])


def _like_pool(like, kind: str) -> dict[str, StrokeBatch]:
    """Up to _LIKE_CAP real drawings of ``kind`` per word, read from ``like``."""
    from .readers import read_drawings

    if not os.path.isdir(like):
        raise ValueError(f"like must be a directory of real drawings, got {os.fspath(like)!r}")
    parts: dict[str, list[StrokeBatch]] = {}
    counts: dict[str, int] = {}
    try:
        for b in read_drawings(like, on_error="skip"):
            if b.kind != kind or not len(b):
                continue
            for w in np.unique(b.word):
                if not w or counts.get(w, 0) >= _LIKE_CAP:
                    continue
                idx = np.flatnonzero(b.word == w)[: _LIKE_CAP - counts.get(w, 0)]
                parts.setdefault(w, []).append(b.take(idx))
                counts[w] = counts.get(w, 0) + len(idx)
    except FileNotFoundError as err:
        raise ValueError(f"like={os.fspath(like)!r} holds no drawing files: {err}") from err
    if not parts:
        raise ValueError(f"like={os.fspath(like)!r} holds no {kind} drawings with a word "
                         f"(train files: Kaggle CSV or ndjson, "
                         f"{'raw' if kind == 'raw' else 'simplified'})")
    return {w: StrokeBatch.concat(parts[w]) for w in sorted(parts)}


def _choose_words(words, available: Sequence[str]) -> list[str]:
    if words is None:
        return list(available)
    if isinstance(words, (int, np.integer)) and not isinstance(words, bool):
        if not 1 <= words <= len(available):
            raise ValueError(f"words must be between 1 and {len(available)} (the words "
                             f"available), got {words}")
        return list(available[:words])
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise TypeError(f"words must be an int or a sequence of str, got {type(words).__name__}")
    unknown = [w for w in words if w not in available]
    if unknown:
        raise ValueError(f"unknown words {unknown}; available: {', '.join(available)}")
    if len(set(words)) != len(words) or not words:
        raise ValueError("words must be a non-empty list without duplicates")
    return list(words)


def _check_out(out) -> Path:
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"out: cannot create the directory {str(out)!r}: {err}") from err
    if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"out: {str(out)!r} is not a writable directory")
    return out


def synth(out, n: int, format: str = "kaggle-csv", raw: bool = False, like=None, seed: int = 0,
          words=None, *, test: int = 0, compress: bool = False,
          progress: bool | None = None) -> list[Path]:
    """Write ``n`` realistic drawings as per-word Quick, Draw! files.

    Parameters
    ----------
    out : str or PathLike
        Directory for the files (created if missing). Existing files of the
        same names are replaced.
    n : int
        Drawings in all (train and test), split evenly over the words (the
        first words get one more when ``n`` does not divide); words that get
        none have no file.
    format : {"kaggle-csv", "ndjson"}
        ``"kaggle-csv"``: ``<word>.csv`` with header ``countrycode,drawing,
        key_id,recognized,timestamp,word``; ``"ndjson"``: ``<word>.ndjson``,
        Google's layout.
    raw : bool
        Raw drawings (float screen coordinates and millisecond times, ~190
        points per drawing) instead of simplified ones (0-255 integers, ~45).
    like : str or PathLike, optional
        A directory of real drawings (any files :func:`rasterfast.read_drawings`
        reads) of the requested kind: the output perturbs them (random affine,
        jitter, dropped strokes) instead of drawing the built-in shapes, with
        fresh key ids and metadata. Up to 5,000 drawings per word are used as models.
    seed : int
        The same arguments and seed give byte-identical files.
    words : int or sequence of str, optional
        How many of the words (the first K of :data:`SYNTH_WORDS`, or of the
        ``like`` words in sorted order), or which; default all.
    test : int
        With ``"kaggle-csv"``: this many of the ``n`` drawings (the last ones of
        each word, spread like ``n``) go to ``test_simplified.csv`` /
        ``test_raw.csv`` (``key_id,countrycode,drawing``, sorted by key id,
        as Kaggle's) instead, with the answers in ``test_solution.csv``
        (``key_id,word``).
    compress : bool
        gzip every file (``.gz`` appended).
    progress : bool, optional
        Show a progress line on stderr; default: when stderr is a terminal.

    Returns
    -------
    list of Path
        The files written, in the order written.

    Raises
    ------
    TypeError
        ``n``, ``seed`` or ``words`` of the wrong type.
    ValueError
        ``n <= 0``, an unknown format, ``test`` out of range or with ndjson,
        an ``out`` that cannot be written, a ``like`` directory without
        drawings of the requested kind, unknown words.

    Examples
    --------
    >>> import tempfile
    >>> from rasterfast.synth import synth
    >>> files = synth(tempfile.mkdtemp(), 6, words=["circle", "house"], seed=1)
    >>> [f.name for f in files]
    ['circle.csv', 'house.csv']
    """
    for name, v in (("n", n), ("seed", seed), ("test", test)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if n <= 0:
        raise ValueError(f"n must be a positive number of drawings, got {n}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if format not in SYNTH_FORMATS:
        raise ValueError(f"format must be one of {SYNTH_FORMATS}, got {format!r}")
    if test and format != "kaggle-csv":
        raise ValueError("test files exist only in the Kaggle layout: use format='kaggle-csv'")
    if not 0 <= test <= n:
        raise ValueError(f"test must be between 0 and n={n}, got {test}")
    kind = KINDS[1] if raw else KINDS[0]
    pool = _like_pool(like, kind) if like is not None else None
    chosen = _choose_words(words, tuple(pool) if pool is not None else SYNTH_WORDS)
    out = _check_out(out)
    gz = ".gz" if compress else ""
    ext = (".csv" if format == "kaggle-csv" else ".ndjson") + gz
    W = len(chosen)
    n_word = [n // W + (i < n % W) for i in range(W)]
    t_word = [test // W + (i < test % W) for i in range(W)]
    from tqdm import tqdm  # imported when used: `import rasterfast` stays light

    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = tqdm(total=n, desc="synth", unit=" drawings", file=sys.stderr, disable=not show,
               mininterval=0.5)
    written: list[Path] = []
    tests: list[StrokeBatch] = []
    start = 0
    bsize = _BATCH[kind]
    with bar:  # closed (the line ended) also when a write fails
        for w, n_w, t_w in zip(chosen, n_word, t_word, strict=True):
            if n_w == 0:
                continue
            path = out / f"{w}{ext}"
            writer = KaggleCsvWriter(path) if format == "kaggle-csv" else NdjsonWriter(path)
            with writer:
                for bi, b0 in enumerate(range(0, n_w, bsize)):
                    m = min(bsize, n_w - b0)
                    rng = _stream(seed, w, bi, raw, pool is not None)
                    if pool is None:
                        x, y, t, so, do = generate(_template(w), m, rng, raw)
                    else:
                        models = pool[w]
                        x, y, t, so, do = perturb(models.take(rng.integers(0, len(models), m)), rng)
                    batch = StrokeBatch.from_columns(kind, x, y, t, so, do,
                                                     **_metadata(rng, m, w, seed, start + b0))
                    n_train = max(0, min(m, n_w - t_w - b0))
                    if n_train < m:
                        tests.append(batch.take(np.arange(n_train, m)))
                        batch = batch.take(np.arange(n_train)) if n_train else None
                    if batch is not None:
                        writer.write(batch)
                    bar.update(m)
            written.append(path)
            start += n_w
    if tests:
        written.extend(_write_test(out, StrokeBatch.concat(tests), kind, gz))
    return written


def _write_test(out: Path, batch: StrokeBatch, kind: str, gz: str) -> list[Path]:
    """Kaggle's test file (sorted by key id) and the answers to score it."""
    batch = batch.take(np.argsort(batch.key_id, kind="stable"))
    test_path = out / f"test_{kind}.csv{gz}"
    write_kaggle_csv(test_path, batch, test=True)
    solution = out / f"test_solution.csv{gz}"
    text = io.StringIO(newline="")
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["key_id", "word"])
    w.writerows(zip(batch.key_id.tolist(), batch.word.tolist(), strict=True))
    with AtomicFileWriter(solution) as f:
        f.write_bytes(text.getvalue().encode())
    return [test_path, solution]
