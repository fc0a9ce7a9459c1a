"""Render: one Dask task per bucket of a split, from the stroke store to image shards.

The task reads its bucket, applies the plan (first occurrence of each key_id,
the ``--per-word`` cut), orders the drawings by order hash (the test split
keeps its input order), gives labels from the word list, and renders each
planned shard a chunk at a time into one reused buffer, appending each chunk
to its ``images.npy`` through :class:`rasterfast.format.Writer` (stream mode).
Shards already finished are not redone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .plan import first_occurrences, pieces
from .store import input_counts, read_tables, table_to_batch

__all__ = ["RenderSpec", "RenderResult", "render_bucket"]

#: Bytes of images rendered per chunk before they are written out.
_CHUNK_BYTES = 16 << 20


@dataclass(frozen=True)
class RenderSpec:
    """What every render task needs (plain values and a picklable Writer)."""

    store: str
    recipe: dict
    words: tuple[str, ...]
    writer: object
    thresholds: dict = field(default_factory=dict)   # word -> largest order hash kept
    entropy: bool = True


@dataclass
class RenderResult:
    """Counters of one task, per input index."""

    drawings: int = 0
    rendered: int = 0
    written: Counter = field(default_factory=Counter)
    filtered: Counter = field(default_factory=Counter)
    duplicates: Counter = field(default_factory=Counter)


def _select(table: pa.Table, spec: RenderSpec, split: str) -> tuple[np.ndarray, RenderResult]:
    """Indices of the rows to write, in shard order, and the counters of the others."""
    res = RenderResult()
    key = table.column("key_id").to_numpy()
    inp = table.column("input").to_numpy()
    keep = first_occurrences(key, inp, table.column("record").to_numpy())
    if split == "test":
        res.duplicates.update(input_counts(inp[~keep]))
        return np.flatnonzero(keep), res
    order = table.column("order").to_numpy()
    if spec.thresholds:
        # one dictionary lookup per distinct word, not per drawing
        words, inverse = np.unique(table.column("word").to_numpy(zero_copy_only=False)
                                   .astype(str), return_inverse=True)
        limit = np.array([spec.thresholds.get(w, np.iinfo(np.uint64).max) for w in words],
                         np.uint64)[inverse.reshape(-1)]
        cut = keep & (order > limit)
        res.filtered.update(input_counts(inp[cut]))
        keep &= ~cut
    idx = np.flatnonzero(keep)
    return idx[np.argsort(order[idx], kind="stable")], res


def render_bucket(spec: RenderSpec, split: str, bucket: int, first_index: int,
                  sizes: list[int]) -> RenderResult:
    """Task: render the shards ``first_index ...`` (of ``sizes`` drawings) of one bucket."""
    from ..entropy import sketch_entropy
    from ..recipe import Recipe
    from ..render import render

    writer = spec.writer
    table = read_tables(pieces(Path(spec.store), split, bucket))
    if table is None:
        raise RuntimeError(f"stroke store has no files for {split} bucket {bucket}")
    idx, res = _select(table, spec, split)
    if len(idx) != sum(sizes):
        raise RuntimeError(f"{split} bucket {bucket}: the plan expects {sum(sizes)} drawings, "
                           f"the stroke store gives {len(idx)} (was it changed during the build?)")
    inputs = table.column("input").to_numpy()[idx]
    res.written.update(input_counts(inputs))
    res.drawings = len(idx)
    todo = [(first_index + i, sum(sizes[:i]), n) for i, n in enumerate(sizes)
            if writer.done(split, first_index + i) is None]
    if not todo:
        return res
    recipe = Recipe.from_config(spec.recipe)
    # One conversion and one vectorised gather for the whole bucket: pyarrow's take on
    # nested lists per shard cost more than rendering.
    chosen = table_to_batch(table).take(idx)
    labels = pc.index_in(pa.array(chosen.word, pa.string()), value_set=pa.array(
        list(spec.words), pa.string())).fill_null(-1)
    chosen.label = labels.to_numpy(zero_copy_only=False).astype(np.int16)
    # Render a chunk at a time into one reused buffer and append it to the shard file:
    # warm pages and plain writes cost less than filling a fresh memmap and msync-ing it.
    image_bytes = len(recipe.channels) * recipe.size * recipe.size
    chunk = max(1, min(max(sizes), _CHUNK_BYTES // image_bytes))
    buf = np.empty((chunk, len(recipe.channels), recipe.size, recipe.size), np.uint8)
    for index, start, n in todo:
        batch = chosen.slice(start, start + n)
        entropy = np.full(n, np.nan, np.float32)
        with writer.shard(split, index, n, stream=True) as sh:
            for lo in range(0, n, chunk):
                hi = min(n, lo + chunk)
                out = buf[:hi - lo]
                render(batch.slice(lo, hi), recipe, out=out)
                if spec.entropy:
                    entropy[lo:hi] = sketch_entropy(out)
                sh.append(out)
            sh.set_meta(batch, entropy=entropy if spec.entropy else None)
            sh.set_labels(batch.label)
        res.rendered += n
    return res
