"""Plan: after ingest, decide which drawings each shard holds, exactly and deterministically.

Per bucket (a range of the order hash, both train and val), one task reads
only the key columns of the stroke store, drops repeated key_ids (the first
in input order is kept) and counts drawings per split and word. From those
small counts the driver derives the word list, the ``--per-word`` cut (the N
drawings of each word with the smallest order hash), what each input loses to it, and
the shards: the drawings of a split sorted by order hash, cut into near-equal shards of
at most ``shard_size``. Shards are ranges of that order, so they do not depend on the
buckets (nor on the input sizes that choose their number) and may straddle them; a
render task (:class:`RenderUnit`) writes a run of consecutive shards and reads the
buckets its ranks overlap.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .hashing import MAX_HASH
from .shuffle import input_counts, read_groups, word_counts

__all__ = ["first_occurrences", "BucketCount", "count_bucket", "word_thresholds",
           "threshold_bucket", "cut_losses", "ShardPlan", "RenderUnit", "plan_shards"]

KEY_COLUMNS = ["key_id", "order", "word", "input", "record"]


def first_occurrences(key_id: np.ndarray, source_rank: np.ndarray,
                      record: np.ndarray) -> np.ndarray:
    """Mask of the rows to keep: for each key_id, its first row in input order."""
    if len(key_id) == 0:
        return np.zeros(0, bool)
    order = np.lexsort((record, source_rank, key_id))
    k = key_id[order]
    first = np.ones(len(k), bool)
    first[1:] = k[1:] != k[:-1]
    keep = np.zeros(len(k), bool)
    keep[order[first]] = True
    return keep


@dataclass
class BucketCount:
    """What the plan needs to know of one bucket."""

    bucket: int
    counts: dict = field(default_factory=dict)      # (split, word) -> drawings after dedupe
    duplicates: dict = field(default_factory=dict)  # input index -> repeated rows dropped
    #: (split, word) -> {input index: drawings after dedupe}, for what the --per-word cut
    #: takes from each input
    by_input: dict = field(default_factory=dict)


def _keys(groups: dict, bucket: int, splits) -> tuple[pa.Table | None, np.ndarray]:
    tables, split_of = [], []
    for s, split in enumerate(splits):
        t = read_groups(groups.get(split, ()), columns=KEY_COLUMNS)
        if t is not None:
            tables.append(t)
            split_of.append(np.full(t.num_rows, s, np.int8))
    if not tables:
        return None, np.zeros(0, np.int8)
    return pa.concat_tables(tables), np.concatenate(split_of)


def count_bucket(groups: dict, bucket: int, splits=("train", "val")) -> BucketCount:
    """Task: drawings per (split, word) of one bucket after dropping repeated key_ids.

    ``groups`` maps each split to the shuffle-area row groups of this bucket.
    """
    out = BucketCount(bucket)
    table, split_of = _keys(groups, bucket, splits)
    if table is None:
        return out
    key = table.column("key_id").to_numpy()
    inp = table.column("input").to_numpy()
    keep = first_occurrences(key, inp, table.column("record").to_numpy())
    out.duplicates.update(input_counts(inp[~keep]))
    words = table.column("word")
    # drawings per (word, input): words as codes into their distinct values (no Python
    # string per row), then a count of the (code, input) pairs
    distinct = pc.unique(words)
    codes = pc.index_in(words, value_set=distinct).to_numpy(zero_copy_only=False)
    distinct = distinct.to_pylist()
    for s, split in enumerate(splits):
        mine = keep & (split_of == s)
        for w, c in word_counts(words.filter(pa.array(mine))):
            out.counts[(split, w)] = c
        if not mine.any():
            continue
        pairs, n = np.unique(np.stack([codes[mine].astype(np.int64), inp[mine].astype(np.int64)]),
                             axis=1, return_counts=True)
        for (code, i), c in zip(pairs.T.tolist(), n.tolist(), strict=True):
            out.by_input.setdefault((split, distinct[code]), {})[i] = c
    return out


def word_thresholds(bucket_counts: list[BucketCount], per_word: int,
                    splits=("train", "val")) -> tuple[dict, dict]:
    """Where the ``per_word`` cut falls, and the words it does not reach.

    ``{word: (bucket, k)}`` for words cut inside a bucket (keep the k smallest there),
    and the words with fewer drawings than the cut.
    """
    cumulative: dict = defaultdict(int)
    cut: dict = {}
    for bc in sorted(bucket_counts, key=lambda b: b.bucket):
        per_word_here: dict = defaultdict(int)
        for (split, word), c in bc.counts.items():
            if split in splits:
                per_word_here[word] += c
        for word, c in per_word_here.items():
            if word in cut:
                continue
            if cumulative[word] + c >= per_word:
                cut[word] = (bc.bucket, per_word - cumulative[word])
            cumulative[word] += c
    return cut, {w: n for w, n in cumulative.items() if w not in cut}


def threshold_bucket(groups: dict, bucket: int, ks: dict, splits=("train", "val")) -> dict:
    """Task: for each ``word: k`` of ``ks``, the k-th smallest order hash of the word here.

    Drawings at or below it are kept (after dropping repeated key_ids).

    Returns ``{word: (threshold, {split: drawings kept in this bucket},
    {input index: drawings of the word cut in this bucket})}``.
    """
    table, split_of = _keys(groups, bucket, splits)
    out = {}
    if table is None:
        return out
    keep = first_occurrences(table.column("key_id").to_numpy(), table.column("input").to_numpy(),
                             table.column("record").to_numpy())
    words = table.column("word").to_numpy(zero_copy_only=False).astype(str)[keep]
    order = table.column("order").to_numpy()[keep]
    inputs = table.column("input").to_numpy()[keep]
    split_of = split_of[keep]
    for word, k in ks.items():
        mine = words == word
        hashes = np.sort(order[mine])
        thr = int(hashes[k - 1]) if 0 < k <= len(hashes) else int(MAX_HASH)
        kept = mine & (order <= np.uint64(thr))
        out[word] = (thr, {split: int((kept & (split_of == s)).sum())
                           for s, split in enumerate(splits)},
                     input_counts(inputs[mine & ~kept]))
    return out


def cut_losses(bucket_counts: list[BucketCount], cut: dict, in_cut_bucket: dict) -> dict:
    """``{input index: drawings the --per-word cut drops}``.

    Every drawing of a cut word in the buckets past its cut bucket, and in that bucket
    those above the threshold (``in_cut_bucket``: ``{word: {input: drawings}}`` from
    :func:`threshold_bucket`).
    """
    lost: dict = defaultdict(int)
    for per_input in in_cut_bucket.values():
        for i, c in per_input.items():
            lost[i] += c
    for bc in bucket_counts:
        for (_split, word), per_input in bc.by_input.items():
            if word in cut and bc.bucket > cut[word][0]:
                for i, c in per_input.items():
                    lost[i] += c
    return dict(lost)


@dataclass
class RenderUnit:
    """One render task: shards ``first_index ...`` (``sizes`` drawings each) of ``split``.

    Their drawings are the split's kept drawings of ``buckets`` (``(bucket, kept)`` in hash
    order, ``kept`` the drawings the plan expects there), in order, from row ``skip`` of
    those buckets' drawings on.
    """

    split: str
    first_index: int
    sizes: list
    buckets: list
    skip: int

    @property
    def count(self) -> int:
        """Drawings the unit's shards hold."""
        return sum(self.sizes)


@dataclass
class ShardPlan:
    """The shards of one split: their sizes in order, and the drawings kept per bucket."""

    split: str
    buckets: list = field(default_factory=list)   # (bucket, drawings kept), hash order
    sizes: list = field(default_factory=list)     # drawings per shard, in order

    @property
    def num_shards(self) -> int:
        """Shards of the split."""
        return len(self.sizes)

    @property
    def count(self) -> int:
        """Drawings the split's shards hold."""
        return sum(self.sizes)

    @property
    def count_kept(self) -> int:
        """Drawings the buckets keep (the same as :attr:`count` once the sizes are cut)."""
        return sum(n for _, n in self.buckets)

    def units(self, most: int) -> list[RenderUnit]:
        """The render tasks: runs of consecutive shards of at most ``most`` drawings.

        At least one shard each; each with the buckets its ranks overlap.
        """
        runs, first = [], 0
        while first < len(self.sizes):
            last, n = first + 1, self.sizes[first]
            while last < len(self.sizes) and n + self.sizes[last] <= most:
                n += self.sizes[last]
                last += 1
            runs.append((first, last))
            first = last
        units, lo = [], 0
        starts = np.cumsum([0] + [n for _, n in self.buckets]).tolist()
        for first, last in runs:
            hi = lo + sum(self.sizes[first:last])
            over = [j for j, (_, n) in enumerate(self.buckets)
                    if starts[j] < hi and starts[j] + n > lo]
            units.append(RenderUnit(self.split, first, self.sizes[first:last],
                                    [self.buckets[j] for j in over], lo - starts[over[0]]))
            lo = hi
        return units


def _cut(n: int, shard_size: int) -> list[int]:
    k = math.ceil(n / shard_size)
    return [n // k + (1 if i < n % k else 0) for i in range(k)] if k else []


def plan_shards(split: str, counts: dict, shard_size: int) -> ShardPlan:
    """Shards of ``split`` from ``{bucket: drawings kept}``.

    The split's drawings in bucket (hash) order cut into near-equal shards of at most
    ``shard_size`` (sizes differ by at most one). Only the total decides the sizes: the
    buckets say where the drawings are.
    """
    plan = ShardPlan(split, [(b, n) for b, n in sorted(counts.items()) if n])
    plan.sizes = _cut(plan.count_kept, shard_size) if plan.buckets else []
    return plan
