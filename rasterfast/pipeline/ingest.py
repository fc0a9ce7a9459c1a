"""Ingest: one Dask task per input file, from text to the build's shuffle area.

Reads the file in blocks, drops what the build filters (``recognized_only``,
words outside ``--words``), simplifies raw drawings when the recipe draws
simplified geometry, gives every drawing its split (test for Kaggle test
files, else val or train by a hash of its key_id) and its bucket (a range of
the order hash), and every ``flush_rows`` drawings writes one groups file (see
:mod:`.shuffle`) with one group per (split, bucket), recorded in
:attr:`IngestResult.pieces`.
The file's counts go to ``_shuffle/_ingest/``; a re-run skips a file whose
counts are there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..batch import StrokeBatch
from ..errors import InputReadError
from ..readers import ReadContext, Source, read_source
from .hashing import is_val, order_hash
from .shuffle import batch_to_table, word_counts, write_groups_atomic

__all__ = ["IngestSpec", "IngestResult", "ingest_source", "ingest_task", "raise_first_failure",
           "piece_path", "bucket_pieces", "STOP_NAME"]

#: A file in the store that tells the build's running ingest tasks to stop (one failed).
STOP_NAME = "_stop"
#: A drawing's (split, bucket) as one int64 while a flush is sorted: the split's index in
#: _SPLITS above the bucket's bits (buckets are < 2**12).
_SPLITS = ("train", "val", "test")
_BUCKET_KEY_BITS = 16
_BUCKET_KEY_MASK = (1 << _BUCKET_KEY_BITS) - 1


@dataclass(frozen=True)
class IngestSpec:
    """What every ingest task needs (plain values: it travels to worker processes)."""

    store: str
    geometry: str            # "simplified": store simplified, simplifying raw input; "raw"
    seed: int
    val_fraction: float
    bucket_bits: int
    words: tuple[str, ...] | None
    recognized_only: bool
    on_error: str
    block_size: int = 4 << 20
    flush_rows: int = 200_000


@dataclass
class IngestResult:
    """What one input gave: the counters of the manifest, and its rejects."""

    index: int
    name: str
    split: str = "train"      # "test" for a Kaggle test file (no words)
    kind: str = ""
    read: int = 0
    parsed: int = 0
    rejected: int = 0
    filtered: int = 0
    rejects: list = field(default_factory=list)
    words: dict = field(default_factory=dict)
    #: the files written: ``[file name, [[split, bucket, rows], ...]]`` (row group order)
    pieces: list = field(default_factory=list)

    def to_json(self) -> dict:
        """The result as JSON values (rejects as lists), the file a resumed build reads back."""
        d = asdict(self)
        d["rejects"] = [list(r) for r in self.rejects]
        return d

    @classmethod
    def from_json(cls, d: dict) -> IngestResult:
        """The result :meth:`to_json` wrote."""
        from ..errors import Reject

        d = dict(d)
        d["rejects"] = [Reject(*r) for r in d.get("rejects", [])]
        return cls(**d)


def piece_path(store: Path, index: int, flush: int) -> Path:
    """The shuffle-area file of flush ``flush`` of input ``index``."""
    return store / f"i{index:06d}-{flush:04d}.groups"


def bucket_pieces(store, ingested) -> dict:
    """Where every bucket's drawings are: ``{(split, bucket): [(path, row group), ...]}``.

    In input then flush order: the order in which a bucket's drawings are read.
    """
    out: dict = {}
    for res in sorted(ingested, key=lambda r: r.index):
        for name, groups in res.pieces:
            for g, (split, bucket, _rows) in enumerate(groups):
                out.setdefault((split, int(bucket)), []).append((str(Path(store) / name), g))
    return out


def _done_path(store: Path, index: int) -> Path:
    return store / "_ingest" / f"{index:06d}.json"


def ingest_source(src: Source, index: int, spec: IngestSpec) -> IngestResult:
    """Read input ``src`` (number ``index`` of the build) into the shuffle area."""
    store = Path(spec.store)
    done = _done_path(store, index)
    if done.is_file():
        return IngestResult.from_json(json.loads(done.read_text()))
    result = IngestResult(index=index, name=src.name)
    ctx = ReadContext(on_error=spec.on_error, block_size=spec.block_size)
    pending: list[StrokeBatch] = []      # the blocks of this flush, filtered
    pending_keys: list[np.ndarray] = []  # their (split, bucket) keys, _group_key
    n_pending = 0
    flushes = 0

    def flush():
        # One stable sort of the flush by (split, bucket), one gather and one Arrow table,
        # whose slices are the row groups: a gather and a table per (block, bucket) cost
        # more than the drawings once buckets were many (issue 12).
        nonlocal pending, pending_keys, n_pending, flushes
        batch = StrokeBatch.concat(pending) if len(pending) > 1 else pending[0]
        keys = np.concatenate(pending_keys)
        pending.clear()     # each copy below frees the one before: the peak is two copies
        pending_keys.clear()
        order = np.argsort(keys, kind="stable")
        batch, keys = batch.take(order), keys[order]
        table = batch_to_table(batch, order=order_hash(batch.key_id, spec.seed),
                               input=np.full(len(batch), index, np.int32))
        del batch
        values, starts, counts = np.unique(keys, return_index=True, return_counts=True)
        tables, groups = [], []
        for key, start, n in zip(values.tolist(), starts.tolist(), counts.tolist(),
                                 strict=True):
            tables.append(table.slice(start, n))
            groups.append([_SPLITS[key >> _BUCKET_KEY_BITS], key & _BUCKET_KEY_MASK, n])
        path = piece_path(store, index, flushes)
        write_groups_atomic(tables, path)
        result.pieces.append([path.name, groups])
        pending, pending_keys, n_pending = [], [], 0
        flushes += 1

    stop = store / STOP_NAME
    for batch in read_source(src, ctx):
        if stop.exists():
            raise IngestStopped(f"{src.name}: stopped, another input of the build failed")
        result.read += len(batch) + len(batch.rejects)
        result.rejected += len(batch.rejects)
        result.rejects.extend(batch.rejects)
        if not len(batch):
            continue
        result.kind = result.kind or batch.kind
        if result.parsed == 0:  # a Kaggle test file has no words: it is the test split
            result.split = "test" if bool((batch.word == "").all()) else "train"
        is_test = result.split == "test"
        result.parsed += len(batch)
        keep = np.ones(len(batch), bool)
        if spec.recognized_only and not is_test:
            keep &= batch.recognized != 0
        if spec.words is not None and not is_test:
            keep &= pc.is_in(pa.array(batch.word, pa.string()),
                             value_set=pa.array(spec.words, pa.string())).to_numpy(
                zero_copy_only=False)
        result.filtered += int((~keep).sum())
        if not keep.all():
            batch = batch.take(np.flatnonzero(keep))
        if batch.kind == "raw" and spec.geometry == "simplified":
            from ..simplify import simplify

            # A drawing that cannot be simplified (a stroke resampled past max_points) is
            # a reject like a parse error, under the build's policy (issue 12).
            before = len(batch.rejects)
            batch = simplify(batch, on_error="raise" if spec.on_error == "raise" else "skip")
            lost = batch.rejects[before:]
            result.rejected += len(lost)
            result.rejects.extend(lost)
            result.parsed -= len(lost)
            if not len(batch):
                continue
        elif batch.kind == "simplified" and spec.geometry == "raw":
            raise InputReadError("the recipe draws from raw drawings (it needs times), but this "
                                 "input holds simplified ones", src.name)
        for w, c in word_counts(pa.array(batch.word, pa.string())):
            result.words[w] = result.words.get(w, 0) + c
        if result.split == "test":
            keys = np.full(len(batch), _SPLITS.index("test") << _BUCKET_KEY_BITS, np.int64)
        else:
            val = is_val(batch.key_id, spec.val_fraction, spec.seed)
            bucket = (order_hash(batch.key_id, spec.seed) >> np.uint64(64 - spec.bucket_bits)
                      if spec.bucket_bits else np.zeros(len(batch), np.uint64)).astype(np.int64)
            keys = bucket | (val.astype(np.int64) << _BUCKET_KEY_BITS)   # train 0, val 1
        pending.append(batch)
        pending_keys.append(keys)
        n_pending += len(batch)
        if n_pending >= spec.flush_rows:
            flush()
    if n_pending:
        flush()
    done.parent.mkdir(parents=True, exist_ok=True)
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.to_json()))
    tmp.replace(done)
    return result


class IngestStopped(Exception):
    """An ingest task that stopped because another one of its build failed."""


def ingest_task(src: Source, index: int, spec: IngestSpec):
    """:func:`ingest_source` as a build's task: its error is returned, not raised.

    Dask raises a failed task's error at once while the other tasks run on, and a
    build that then removes what it wrote (see ``pipeline.run``) would race with their
    writes. Instead, a failed task leaves ``STOP_NAME`` in the store, the others stop
    at their next block, every task returns, and :func:`raise_first_failure` raises on
    the driver once nothing writes any more.
    """
    try:
        return ingest_source(src, index, spec)
    except IngestStopped as err:
        return err
    except Exception as err:
        stop = Path(spec.store) / STOP_NAME
        stop.parent.mkdir(parents=True, exist_ok=True)
        stop.write_text(f"{src.name}: {err}\n")
        return err


def raise_first_failure(results: list) -> None:
    """Raise the error of the first failed input (in input order), if any failed."""
    errors = [r for r in results if isinstance(r, Exception) and not isinstance(r, IngestStopped)]
    if errors:
        raise errors[0]
