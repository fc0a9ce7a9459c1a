"""Plan: after ingest, decide which drawings each shard holds, exactly and deterministically.

Per bucket (a range of the order hash, both train and val), one task reads
only the key columns of the stroke store, drops repeated key_ids (the first
in input order is kept) and counts drawings per split and word. From those
small counts the driver derives the word list, the ``--per-word`` cut (the N
drawings of each word with the smallest order hash) and the shards: the
drawings of a split sorted by order hash, each bucket cut into near-equal
shards of at most ``shard_size``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .hashing import MAX_HASH
from .shuffle import input_counts, read_groups, word_counts

__all__ = ["first_occurrences", "BucketCount", "count_bucket", "word_thresholds",
           "threshold_bucket", "ShardPlan", "plan_shards"]

KEY_COLUMNS = ["key_id", "order", "word", "input", "record"]


def first_occurrences(key_id: np.ndarray, source_rank: np.ndarray, record: np.ndarray) -> np.ndarray:
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
    for s, split in enumerate(splits):
        for w, c in word_counts(words.filter(pa.array(keep & (split_of == s)))):
            out.counts[(split, w)] = c
    return out


def word_thresholds(bucket_counts: list[BucketCount], per_word: int,
                    splits=("train", "val")) -> tuple[dict, dict]:
    """Where the ``per_word`` cut falls: ``{word: (bucket, k)}`` for words cut inside a
    bucket (keep the k smallest there), and the words with fewer drawings than the cut."""
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
    """Task: for each ``word: k`` of ``ks``, the k-th smallest order hash of the word in
    this bucket (after dropping repeated key_ids): drawings at or below it are kept.

    Returns ``{word: (threshold, {split: drawings kept in this bucket})}``.
    """
    table, split_of = _keys(groups, bucket, splits)
    out = {}
    if table is None:
        return out
    keep = first_occurrences(table.column("key_id").to_numpy(), table.column("input").to_numpy(),
                             table.column("record").to_numpy())
    words = table.column("word").to_numpy(zero_copy_only=False).astype(str)[keep]
    order = table.column("order").to_numpy()[keep]
    split_of = split_of[keep]
    for word, k in ks.items():
        mine = words == word
        hashes = np.sort(order[mine])
        thr = int(hashes[k - 1]) if 0 < k <= len(hashes) else int(MAX_HASH)
        kept = mine & (order <= np.uint64(thr))
        out[word] = (thr, {split: int((kept & (split_of == s)).sum())
                           for s, split in enumerate(splits)})
    return out


@dataclass
class ShardPlan:
    """The shards of one split: for each bucket, the sizes of its shards and the first index."""

    split: str
    buckets: list = field(default_factory=list)   # (bucket, first_shard_index, [sizes])

    @property
    def num_shards(self) -> int:
        return sum(len(sizes) for _, _, sizes in self.buckets)

    @property
    def count(self) -> int:
        return sum(sum(sizes) for _, _, sizes in self.buckets)


def _cut(n: int, shard_size: int) -> list[int]:
    k = math.ceil(n / shard_size)
    return [n // k + (1 if i < n % k else 0) for i in range(k)] if k else []


def plan_shards(split: str, counts: dict, shard_size: int) -> ShardPlan:
    """Shards of ``split`` from ``{bucket: drawings}``: buckets in hash order, each cut into
    near-equal shards of at most ``shard_size`` (sizes differ by at most one in a bucket)."""
    plan = ShardPlan(split)
    first = 0
    for bucket in sorted(counts):
        sizes = _cut(counts[bucket], shard_size)
        if sizes:
            plan.buckets.append((bucket, first, sizes))
            first += len(sizes)
    return plan
