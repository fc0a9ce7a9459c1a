"""The build's shuffle area: drawings as Parquet (zstd), the state between ingest and render.

Ingest writes each flush of an input (up to ``flush_rows`` drawings) as one Parquet file
under ``DIR/_shuffle/``, with one row group per (split, bucket) (a bucket is a range of
the order hash); a plan or render task reads the row groups of its bucket from every
file. The file count grows with inputs (and their flushes), not with inputs x buckets
(issue 12: 10,240 files for 6M drawings before). Strokes
are nested lists, ``x``, ``y`` (and ``t``) as ``list<list<int16 | float32 | int32>>``,
built from the StrokeBatch offsets without copying the points. The area is temporary:
the build removes it once ``manifest.json`` is written (the persistent stroke store is
the ``.strokes`` file of every shard, :mod:`rasterfast.store`), and it is what a killed
build resumes from.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..batch import StrokeBatch

__all__ = ["batch_to_table", "table_to_batch", "write_table_atomic", "write_groups_atomic",
           "read_tables", "read_groups", "word_counts", "input_counts"]

_META = ("key_id", "label", "word", "countrycode", "recognized", "timestamp", "record")


def _nested(values: np.ndarray, stroke_offsets: np.ndarray, drawing_offsets: np.ndarray):
    inner = pa.LargeListArray.from_arrays(pa.array(stroke_offsets, pa.int64()), pa.array(values))
    return pa.LargeListArray.from_arrays(pa.array(drawing_offsets, pa.int64()), inner)


def batch_to_table(batch: StrokeBatch, **extra: np.ndarray) -> pa.Table:
    """A table of ``batch`` (one row per drawing) with ``extra`` per-drawing columns."""
    cols = {
        "key_id": pa.array(batch.key_id, pa.uint64()),
        "label": pa.array(batch.label, pa.int16()),
        # object arrays of str straight to Arrow (numpy's astype(str) cost 0.3 us a row)
        "word": pa.array(batch.word, pa.string()),
        "countrycode": pa.array(batch.countrycode, pa.string()),
        "recognized": pa.array(batch.recognized, pa.int8()),
        "timestamp": pa.array(batch.timestamp.astype("datetime64[us]"), pa.timestamp("us")),
        # the few file names, taken per row in Arrow rather than a Python string per row
        "source": pa.array(list(batch.sources), pa.string()).take(
            pa.array(batch.source_id, pa.int32())),
        "record": pa.array(batch.record, pa.int64()),
    }
    for name, values in extra.items():
        cols[name] = pa.array(values)
    so, do = batch.stroke_offsets, batch.drawing_offsets
    cols["x"] = _nested(batch.x, so, do)
    cols["y"] = _nested(batch.y, so, do)
    if batch.has_time:
        cols["t"] = _nested(batch.t, so, do)
    table = pa.table(cols)
    return table.replace_schema_metadata({"kind": batch.kind})


def word_counts(words) -> list[tuple[str, int]]:
    """``(word, drawings)`` of a pyarrow string array, sorted by word.

    A hash count in Arrow: numpy's unique of the object column needs a str
    conversion (0.3 us a row) and a string sort.
    """
    counts = pc.value_counts(words)
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(),
                strict=True)
    return sorted((w, int(c)) for w, c in pairs)


def input_counts(inputs: np.ndarray) -> dict[int, int]:
    """``{input index: rows}`` of an integer array (one entry per distinct input)."""
    values, counts = np.unique(inputs, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def _flat(col: pa.ChunkedArray | pa.Array):
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    o0, o1 = arr.offsets[0].as_py(), arr.offsets[-1].as_py()
    do = arr.offsets.to_numpy() - o0
    inner = arr.values.slice(o0, o1 - o0)
    i0, i1 = inner.offsets[0].as_py(), inner.offsets[-1].as_py()
    so = inner.offsets.to_numpy() - i0
    values = inner.values.slice(i0, i1 - i0).to_numpy(zero_copy_only=False)
    return values, so.astype(np.int64), do.astype(np.int64)


def table_to_batch(table: pa.Table, kind: str | None = None) -> StrokeBatch:
    """The StrokeBatch of a stroke-store table (inverse of :func:`batch_to_table`)."""
    if kind is None:
        meta = table.schema.metadata or {}
        kind = meta.get(b"kind", b"simplified").decode()
    x, so, do = _flat(table.column("x"))
    y, _, _ = _flat(table.column("y"))
    t = _flat(table.column("t"))[0] if "t" in table.column_names else None
    # the few distinct file names and each row's index among them, without a Python
    # string per row
    sources = table.column("source")
    names = pc.unique(sources).to_pylist() if len(sources) else ["<input>"]
    source_id = pc.index_in(sources, value_set=pa.array(names, sources.type)).to_numpy(
        zero_copy_only=False) if len(sources) else np.zeros(0, np.int32)
    per = {name: table.column(name).to_numpy(zero_copy_only=False) for name in _META}
    per["word"] = np.asarray(per["word"], dtype=object)          # no copy when already object
    per["countrycode"] = np.asarray(per["countrycode"], dtype=object)
    return StrokeBatch.from_columns(kind, x, y, t, so, do, sources=tuple(names),
                                    source_id=source_id.astype(np.int32), **per)


def write_table_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` as Parquet (zstd) under a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    # zstd level 1: the store is written once per build and read per recipe; higher
    # levels cost ingest time for a few percent of space. No column statistics: the
    # store is always read whole (no filters), and computing them cost ~15% of the write.
    pq.write_table(table, tmp, compression="zstd", compression_level=1, write_statistics=False)
    os.replace(tmp, path)


def write_groups_atomic(tables: list[pa.Table], path: Path) -> None:
    """Write ``tables`` (one schema) as the row groups of one Parquet file, atomically.

    One row group per table, in order, under a temporary name renamed into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    # the settings of write_table_atomic, for the same reasons
    with pq.ParquetWriter(tmp, tables[0].schema, compression="zstd", compression_level=1,
                          write_statistics=False) as writer:
        for table in tables:
            # one row group per table, whatever its length
            writer.write_table(table, row_group_size=max(1, table.num_rows))
    os.replace(tmp, path)


@functools.lru_cache(maxsize=1024)
def _footer(path: str, mtime_ns: int, size: int) -> pq.FileMetaData:
    # A plan or render task reads row groups of every input's files: parsing each file's
    # footer once per worker process, not once per task, keeps that cost with the files.
    # The key has the file's mtime and size: a resumed ingest may write a file again.
    return pq.read_metadata(path)


def read_groups(groups, columns=None) -> pa.Table | None:
    """The row groups ``groups`` (``(path, index)`` pairs) as one table, in that order.

    None when there are none. Consecutive row groups of one file are read in one call,
    on this thread (the workers are the parallelism).
    """
    runs: list = []
    for path, index in groups:
        if runs and runs[-1][0] == path:
            runs[-1][1].append(index)
        else:
            runs.append((path, [index]))
    tables = []
    for path, indices in runs:
        st = os.stat(path)
        f = pq.ParquetFile(path, metadata=_footer(str(path), st.st_mtime_ns, st.st_size))
        tables.append(f.read_row_groups(indices, columns=columns, use_threads=False))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="default")


def read_tables(paths, columns=None) -> pa.Table | None:
    """All ``paths`` as one table, in the order given (None when there are none)."""
    tables = [pq.read_table(p, columns=columns) for p in paths]
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="default")
    return table
