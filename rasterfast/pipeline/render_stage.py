"""Render: one Dask task per run of consecutive shards, from the shuffle area to shards.

Each run of a split is a :class:`~rasterfast.pipeline.plan.RenderUnit`.

The task reads the buckets its shards' ranks overlap, applies the plan to them (first
occurrence of each key_id, the ``--per-word`` cut), orders their drawings by order hash
(the test split keeps its input order), keeps the rows of its shards, gives labels from
the word list, and writes each planned shard through
:class:`rasterfast.format.Writer`: its drawings as a
``.strokes`` file (the stroke store), and unless the build has no images, the
images rendered a chunk at a time into one reused buffer and appended to its
``images.npy`` (stream mode). Shards already finished are not redone.

:func:`rerender_shards` is the task of ``rasterfast render``: shards of a
finished build rendered again from their ``.strokes`` files.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..batch import StrokeBatch
from .plan import first_occurrences
from .shuffle import input_counts, read_groups, table_to_batch

__all__ = ["RenderSpec", "RenderResult", "render_unit", "rerender_shards"]

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
    images: bool = True                               # False: the stroke store only


@dataclass
class RenderResult:
    """Counters of one task.

    Drawings of its shards, those it rendered now (not done before), and the drawings
    written per input index. (What the plan drops, repeated key_ids and the
    ``--per-word`` cut, is counted by the plan, once per bucket.)
    """

    drawings: int = 0
    rendered: int = 0
    written: Counter = field(default_factory=Counter)


def _select(table: pa.Table, spec: RenderSpec, split: str) -> np.ndarray:
    """Indices of the bucket's rows to write, in shard order."""
    key = table.column("key_id").to_numpy()
    inp = table.column("input").to_numpy()
    keep = first_occurrences(key, inp, table.column("record").to_numpy())
    if split == "test":
        return np.flatnonzero(keep)
    order = table.column("order").to_numpy()
    if spec.thresholds:
        # one dictionary lookup per distinct word, not per drawing
        words, inverse = np.unique(table.column("word").to_numpy(zero_copy_only=False)
                                   .astype(str), return_inverse=True)
        limit = np.array([spec.thresholds.get(w, np.iinfo(np.uint64).max) for w in words],
                         np.uint64)[inverse.reshape(-1)]
        keep &= ~(order > limit)
    idx = np.flatnonzero(keep)
    return idx[np.argsort(order[idx], kind="stable")]


#: The prepared buckets (see ``_bucket_drawings``) of the last render tasks of this
#: process, most recent last: consecutive tasks share the buckets at their ends, and
#: where inputs are small a bucket holds several tasks' drawings (``default_bucket_size``),
#: so each task read, decoded and sorted all of it again. The next task of a thread needs
#: only the last bucket of the one before, so the cache keeps, for each split, one bucket
#: per render task running in this process (one in a LocalCluster worker, W on W
#: threads). It kept two of any split before, the end buckets of a task: one more bucket
#: held while each task renders (4M drawings in 25k-row inputs, 125k-drawing buckets,
#: 1 worker: the render stage's peak RSS 563 -> 481 MB, same reads).
_RECENT_BUCKETS: OrderedDict = OrderedDict()
_RECENT_BUCKETS_PER_TASK = 1              # 0: no cache (every task reads its buckets)
_RECENT_BUCKETS_LOCK = threading.Lock()
_running_tasks = 0                        # render tasks running in this process


def _bucket_key(spec: RenderSpec, split: str, bucket: int, groups) -> tuple:
    # the files' mtime and size: a resumed build may have written them again
    files = []
    for path, g in groups:
        st = os.stat(path)
        files.append((str(path), g, st.st_mtime_ns, st.st_size))
    return (spec.store, split, bucket, tuple(files), tuple(sorted(spec.thresholds.items())))


def _bucket_drawings(spec: RenderSpec, split: str, bucket: int, expected: int,
                     groups) -> tuple[StrokeBatch, np.ndarray]:
    """The kept drawings of one bucket in shard order, and their input indices.

    The bucket's row groups are read file by file, each file's in one call, in input,
    flush and row-group order (the test split, one bucket, keeps its input order), then
    the plan applied (:func:`_select`). Kept for the next task of this process (see
    ``_RECENT_BUCKETS``): the result is never modified in place.
    """
    flat = sorted(groups, key=lambda pg: (Path(pg[0]).name, pg[1]))   # input, flush, group
    key = _bucket_key(spec, split, bucket, flat)
    with _RECENT_BUCKETS_LOCK:
        hit = _RECENT_BUCKETS.get(key)
        if hit is not None:
            _RECENT_BUCKETS.move_to_end(key)
            return hit
    table = read_groups(flat)
    idx = _select(table, spec, split) if table is not None else np.zeros(0, np.int64)
    if len(idx) != expected:
        raise RuntimeError(f"{split} bucket {bucket}: the plan expects {expected} drawings, "
                           f"the shuffle area gives {len(idx)} (was it changed during the "
                           "build?)")
    # one conversion and one vectorised gather: pyarrow's take on nested lists cost more
    # than rendering
    hit = (table_to_batch(table).take(idx), table.column("input").to_numpy()[idx]) \
        if table is not None else (None, idx)
    with _RECENT_BUCKETS_LOCK:
        _RECENT_BUCKETS[key] = hit
        # per split: the scheduler may interleave the splits' tasks
        same = [k for k in _RECENT_BUCKETS if k[1] == split]
        for old in same[:max(0, len(same) - _RECENT_BUCKETS_PER_TASK * max(1, _running_tasks))]:
            del _RECENT_BUCKETS[old]
    return hit


def _gather(spec: RenderSpec, unit, groups: list) -> tuple[StrokeBatch, np.ndarray]:
    """The drawings of ``unit``'s shards, in order, and their input indices.

    ``groups``: each of the unit's buckets' shuffle-area row groups. Buckets are ranges of
    the hash, in hash order: the unit's drawings are each bucket's kept drawings in order,
    one bucket after the other, from row ``unit.skip`` of the first on; only the rows of the
    unit are copied out of each.
    """
    parts, inputs = [], []
    lo, hi = unit.skip, unit.skip + unit.count   # the unit's rows in its buckets' rows
    at = 0
    for (bucket, expected), bucket_groups in zip(unit.buckets, groups, strict=True):
        batch, inp = _bucket_drawings(spec, unit.split, bucket, expected, bucket_groups)
        a, b = max(lo, at) - at, min(hi, at + expected) - at
        if a < b:
            parts.append(batch.slice(a, b))   # views: the cached bucket is not written to
            inputs.append(inp[a:b])
        at += expected
    if not parts:
        raise RuntimeError(f"{unit.split} buckets {[b for b, _ in unit.buckets]}: no drawings "
                           f"of the unit's {unit.count}")
    chosen = StrokeBatch.concat(parts) if len(parts) > 1 else parts[0]
    return chosen, np.concatenate(inputs)


def render_unit(spec: RenderSpec, unit, groups: list) -> RenderResult:
    """Task: write the shards of ``unit`` (a :class:`~rasterfast.pipeline.plan.RenderUnit`).

    From the shuffle-area row groups of its buckets (``groups``, one list per bucket).
    """
    global _running_tasks
    with _RECENT_BUCKETS_LOCK:
        _running_tasks += 1
    try:
        return _render_unit(spec, unit, groups)
    finally:
        with _RECENT_BUCKETS_LOCK:
            _running_tasks -= 1


def _render_unit(spec: RenderSpec, unit, groups: list) -> RenderResult:
    from ..recipe import Recipe

    writer = spec.writer
    split, first_index, sizes = unit.split, unit.first_index, unit.sizes
    chosen, inputs = _gather(spec, unit, groups)
    if len(chosen) != unit.count:
        raise RuntimeError(f"{split} shards {first_index}-{first_index + len(sizes) - 1}: the "
                           f"plan expects {unit.count} drawings, the shuffle area gives "
                           f"{len(chosen)}")
    res = RenderResult(drawings=len(chosen))
    res.written.update(input_counts(inputs))
    todo = [(first_index + i, sum(sizes[:i]), n) for i, n in enumerate(sizes)
            if writer.done(split, first_index + i) is None]
    if not todo:
        return res
    recipe = Recipe.from_config(spec.recipe)
    labels = pc.index_in(pa.array(chosen.word, pa.string()), value_set=pa.array(
        list(spec.words), pa.string())).fill_null(-1)
    chosen.label = labels.to_numpy(zero_copy_only=False).astype(np.int16)
    # The stroke files keep times only for raw drawings: no recipe reads the times of
    # simplified ones (time channels draw raw geometry), and they would cost 4 bytes a point.
    keep_times = writer.strokes["times"]
    geometry = chosen if bool(chosen.has_time) == keep_times else StrokeBatch.from_columns(
        chosen.kind, chosen.x, chosen.y, np.zeros(0, np.int32), chosen.stroke_offsets,
        chosen.drawing_offsets)
    buf = _chunk_buffer(recipe, max(sizes)) if spec.images else None   # one for all shards
    for index, start, n in todo:
        batch = chosen.slice(start, start + n)
        with writer.shard(split, index, n, stream=True) as sh:
            sh.set_strokes(geometry.slice(start, start + n))
            entropy = _render_into(sh, batch, recipe, spec.entropy, buf) if spec.images \
                else None
            sh.set_meta(batch, entropy=entropy)
            sh.set_labels(batch.label)
        res.rendered += n
    return res


def _chunk_buffer(recipe, most: int) -> np.ndarray:
    """The buffer a task renders into, a chunk of at most ``most`` images (~16 MB)."""
    image_bytes = len(recipe.channels) * recipe.size * recipe.size
    chunk = max(1, min(most, _CHUNK_BYTES // image_bytes))
    return np.empty((chunk, len(recipe.channels), recipe.size, recipe.size), np.uint8)


def _render_into(sh, batch, recipe, with_entropy: bool, buf: np.ndarray) -> np.ndarray | None:
    """Render ``batch`` into shard ``sh`` (stream mode) through ``buf``.

    Returns its entropies when asked, else None.
    """
    from ..entropy import sketch_entropy
    from ..render import render

    # Render a chunk at a time into one reused buffer and append it to the shard file:
    # warm pages and plain writes cost less than filling a fresh memmap and msync-ing it.
    n = len(batch)
    chunk = len(buf)
    entropy = np.full(n, np.nan, np.float32)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        out = buf[:hi - lo]
        render(batch.slice(lo, hi), recipe, out=out)
        if with_entropy:
            entropy[lo:hi] = sketch_entropy(out)
        sh.append(out)
    return entropy if with_entropy else None


def rerender_shards(writer, recipe: dict, build_dir: str, split: str, shards: list,
                    kind: str, entropy: bool = True) -> int:
    """Task of ``rasterfast render``: render shards of a finished build again.

    ``shards`` are ``(index, count, strokes file, labels file, meta file)`` of ``split``
    in ``build_dir``; each becomes the same shard of ``writer``'s directory, with the
    same drawings in the same order, labels and metadata (entropy recomputed).
    Returns the drawings written.
    """
    import pyarrow.parquet as pq

    from ..format import load_npy
    from ..recipe import Recipe
    from ..store import StrokeShard

    recipe = Recipe.from_config(recipe)
    root = Path(build_dir)
    done = 0
    buf = _chunk_buffer(recipe, max((count for _, count, *_ in shards), default=1))
    for index, count, strokes, labels, meta in shards:
        if writer.done(split, index) is not None:
            continue
        batch = StrokeShard(root / strokes, (kind, count)).batch()
        table = pq.read_table(root / meta)
        with writer.shard(split, index, count, stream=True) as sh:
            ent = _render_into(sh, batch, recipe, entropy, buf)
            if ent is not None:
                table = table.set_column(table.schema.get_field_index("entropy"), "entropy",
                                         pa.array(ent, pa.float32()))
            sh.set_meta(table)
            # not np.load: render tasks run in threads, and numpy's header parse is not
            # thread-safe under CPython 3.11 (load_npy parses one at a time)
            sh.set_labels(load_npy(root / labels, np.int16, (count,)))
        done += count
    return done
