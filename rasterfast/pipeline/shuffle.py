"""The build's shuffle area: drawings as Parquet (zstd), the state between ingest and render.

Ingest writes each flush of an input (up to ``flush_rows`` drawings) as one *groups file*
under ``DIR/_shuffle/``, holding one group per (split, bucket) (a bucket is a range of the
order hash); a plan or render task reads the groups of its bucket from every file. The
file count grows with inputs (and their flushes), not with inputs x buckets (issue 12:
10,240 files for 6M drawings before). Rows are :meth:`StrokeBatch.to_arrow` tables
(strokes as nested lists built from the batch's offsets without copying the points) with
the build's hash columns added. The area is temporary: the build removes it once
``manifest.json`` is written (the persistent stroke store is the ``.strokes`` file of every
shard, :mod:`rasterfast.store`), and it is what a killed build resumes from.

A groups file (``.groups``), little-endian::

    group 0 .. group k-1    each a complete Parquet file (zstd level 1, one row group)
    offsets                 (k + 1) uint64: where each group starts, then where the last ends
    k                       uint64
    magic                   8 bytes, b"RFGRPS01"

Why not one Parquet file with a row group per group (layout 3): reading a row group needs
the file's footer, whose size grows with its row groups (each a ColumnChunk per column):
~2.6 MB in memory for 256 row groups of 12 columns. A task reads one group from every
file, so each process kept every file's footer (416 MB for 160 inputs of a 4M build, and
files x buckets grows with the square of the build). Here a group's own footer is ~1 KB
and the index of a file is 8 bytes a group.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..batch import ARROW_TYPES, StrokeBatch

__all__ = ["batch_to_table", "table_to_batch", "write_table_atomic", "write_groups_atomic",
           "read_tables", "read_groups", "group_count", "GROUPS_MAGIC", "word_counts",
           "input_counts"]

def batch_to_table(batch: StrokeBatch, **extra: np.ndarray) -> pa.Table:
    """:meth:`StrokeBatch.to_arrow` of ``batch`` with ``extra`` per-drawing columns.

    The extra columns (the build's hashes) go after the per-drawing ones, before the
    strokes.
    """
    table = batch.to_arrow()
    at = len(ARROW_TYPES)
    for name, values in extra.items():
        table = table.add_column(at, name, pa.array(values))
        at += 1
    return table


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


def table_to_batch(table: pa.Table, kind: str | None = None) -> StrokeBatch:
    """The StrokeBatch of a shuffle-area table (:meth:`StrokeBatch.from_arrow`)."""
    return StrokeBatch.from_arrow(table, kind)


def write_table_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` as Parquet (zstd) under a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    # zstd level 1: the store is written once per build and read per recipe; higher
    # levels cost ingest time for a few percent of space. No column statistics: the
    # store is always read whole (no filters), and computing them cost ~15% of the write.
    pq.write_table(table, tmp, compression="zstd", compression_level=1, write_statistics=False)
    os.replace(tmp, path)


#: The last 8 bytes of a groups file (see the module's docstring).
GROUPS_MAGIC = b"RFGRPS01"
_TRAILER = 16     # k, then the magic


def write_groups_atomic(tables: list[pa.Table], path: Path) -> None:
    """Write ``tables`` (one schema) as the groups of one groups file, atomically.

    Each table becomes one complete Parquet file (one row group), appended in order, then
    the index of where each starts; under a temporary name renamed into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    offsets = [0]
    with open(tmp, "wb") as fh:
        for table in tables:
            sink = pa.BufferOutputStream()
            # the settings of write_table_atomic, for the same reasons
            pq.write_table(table, sink, row_group_size=max(1, table.num_rows),
                           compression="zstd", compression_level=1, write_statistics=False)
            buf = sink.getvalue()
            fh.write(buf)
            offsets.append(offsets[-1] + buf.size)
        fh.write(np.asarray(offsets, "<u8").tobytes())
        fh.write(np.asarray([len(tables)], "<u8").tobytes() + GROUPS_MAGIC)
    os.replace(tmp, path)


@functools.lru_cache(maxsize=4096)
def _group_offsets(path: str, mtime_ns: int, size: int) -> np.ndarray:
    # The index of a groups file: 8 bytes a group, read once per worker process (a plan
    # or render task reads one group from every file). The key has the file's mtime and
    # size: a resumed ingest may write a file again.
    with open(path, "rb") as fh:
        if size < _TRAILER:
            raise ValueError(f"{path}: not a groups file ({size} bytes)")
        fh.seek(size - _TRAILER)
        tail = fh.read(_TRAILER)
        k = int(np.frombuffer(tail[:8], "<u8")[0])
        index_at = size - _TRAILER - 8 * (k + 1)
        if tail[8:] != GROUPS_MAGIC or index_at < 0:
            raise ValueError(f"{path}: not a groups file (no index at its end)")
        fh.seek(index_at)
        offsets = np.frombuffer(fh.read(8 * (k + 1)), "<u8").astype(np.int64)
    if offsets[0] != 0 or offsets[-1] != index_at or (np.diff(offsets) <= 0).any():
        raise ValueError(f"{path}: a groups file with a broken index")
    return offsets


def group_count(path) -> int:
    """The number of groups in the groups file ``path``."""
    st = os.stat(path)
    return len(_group_offsets(str(path), st.st_mtime_ns, st.st_size)) - 1


def read_groups(groups, columns=None) -> pa.Table | None:
    """The groups ``groups`` (``(path, index)`` pairs) as one table, in that order.

    None when there are none. Each file is memory-mapped once per call and each group
    parsed from its bytes in place, on this thread (the workers are the parallelism).
    """
    tables = []
    path = mapped = offsets = None
    for p, index in groups:
        if p != path:
            path = p
            st = os.stat(p)
            offsets = _group_offsets(str(p), st.st_mtime_ns, st.st_size)
            mapped = pa.memory_map(str(p))
        if not 0 <= index < len(offsets) - 1:
            raise ValueError(f"{p}: no group {index} (it holds {len(offsets) - 1})")
        start, end = int(offsets[index]), int(offsets[index + 1])
        buf = mapped.read_at(end - start, start)          # a view of the map, no copy
        tables.append(pq.ParquetFile(pa.BufferReader(buf)).read(columns=columns,
                                                                use_threads=False))
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
