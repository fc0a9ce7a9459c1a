"""The build's shuffle area: drawings as Parquet (zstd), the state between ingest and render.

Ingest writes each flush of an input (up to ``flush_rows`` drawings) as one Parquet file
under ``DIR/_shuffle/``, with one row group per (split, bucket) (a bucket is a range of
the order hash); a plan or render task reads the row groups of its bucket from every
file. The file count grows with inputs (and their flushes), not with inputs x buckets
(issue 12: 10,240 files for 6M drawings before). Rows are
:meth:`StrokeBatch.to_arrow` tables (strokes as nested lists built from the batch's
offsets without copying the points) with the build's hash columns added. The area is temporary:
the build removes it once ``manifest.json`` is written (the persistent stroke store is
the ``.strokes`` file of every shard, :mod:`rasterfast.store`), and it is what a killed
build resumes from.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..batch import ARROW_TYPES, StrokeBatch

__all__ = ["batch_to_table", "table_to_batch", "write_table_atomic", "write_groups_atomic",
           "read_tables", "read_groups", "word_counts", "input_counts"]

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


def read_groups(groups, columns=None) -> pa.Table | None:
    """The row groups ``groups`` (``(path, index)`` pairs) as one table, in that order.

    None when there are none.
    """
    files: dict = {}
    tables = []
    for path, index in groups:
        f = files.get(path)
        if f is None:
            f = files[path] = pq.ParquetFile(path)
        tables.append(f.read_row_group(index, columns=columns))
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
