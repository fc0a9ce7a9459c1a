"""Epoch orders and their partition over ranks: pure functions of ``(sizes, seed, epoch)``.

An *order* is a permutation of the drawings of a split, named by a "flat index": the
position of a drawing in the concatenation of the shards in index order (after any
filter: ``sizes`` are the kept counts per shard). Each order is picked by name from
:data:`ORDERS`; every call with the same arguments gives the same permutation, in any
process, whatever the number of DataLoader workers or ranks.

Orders are lazy: :meth:`EpochOrder.take` returns one slice of the permutation, so that a
DataLoader worker never materialises more than it reads (``"window"`` holds at most a
few windows, not an array of all N drawings).

Random streams come from ``numpy.random.default_rng([seed, epoch, tag, ...])``
(SeedSequence, PCG64): stable across processes, platforms and NumPy 2.x versions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

__all__ = ["EpochOrder", "ORDERS", "get_order", "make_order", "sequential", "window_shuffle",
           "global_shuffle", "Partition", "partition", "DEFAULT_WINDOW"]

#: Default number of drawings per window of the ``"window"`` order (about 1 GiB of
#: 64-px one-channel images): the working set a shuffled epoch reads from at a time.
DEFAULT_WINDOW = 1 << 18


def _sizes(sizes) -> np.ndarray:
    sizes = np.asarray(sizes, dtype=np.int64).reshape(-1)
    if sizes.size and sizes.min() < 0:
        raise ValueError("sizes must be non-negative")
    return sizes


def _check_seed(seed, epoch) -> None:
    for name, v in (("seed", seed), ("epoch", epoch)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")


class EpochOrder:
    """A permutation of ``range(len(self))``, read one slice at a time.

    Subclasses implement :meth:`_take`; ``take(a, b)`` is ``perm[a:b]`` as int64.
    """

    n: int

    def __len__(self) -> int:
        return self.n

    def take(self, start: int, stop: int) -> np.ndarray:
        """Flat indices at positions ``start..stop-1`` of the order (int64)."""
        if not 0 <= start <= stop <= self.n:
            raise IndexError(f"order slice [{start}, {stop}) outside [0, {self.n}]")
        return self._take(int(start), int(stop))

    def full(self) -> np.ndarray:
        """The whole permutation (N int64: for tests and small splits)."""
        return self.take(0, self.n)

    def _take(self, start: int, stop: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class _Sequential(EpochOrder):
    def __init__(self, n: int):
        self.n = n

    def _take(self, start, stop):
        return np.arange(start, stop, dtype=np.int64)


class _Global(EpochOrder):
    def __init__(self, n: int, seed: int, epoch: int):
        self.n, self.seed, self.epoch = n, seed, epoch
        self._perm = None
        self._lock = threading.Lock()

    def _take(self, start, stop):
        with self._lock:
            if self._perm is None:
                self._perm = np.random.default_rng([self.seed, self.epoch, 2]).permutation(self.n)
        return self._perm[start:stop].astype(np.int64, copy=True)


class _Window(EpochOrder):
    """Shards in a random order, in windows of >= ``window`` drawings, each shuffled.

    See :func:`window_shuffle`.
    """

    def __init__(self, sizes: np.ndarray, seed: int, epoch: int, window: int, block: int = 1):
        self.seed, self.epoch, self.block = seed, epoch, block
        shard_offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.n = int(shard_offsets[-1])
        nonempty = np.flatnonzero(sizes)
        perm = nonempty[np.random.default_rng([seed, epoch, 0]).permutation(len(nonempty))]
        # Greedy grouping of the permuted shards: a window closes once it holds >= window.
        groups, cur, total = [], [], 0
        for s in perm.tolist():
            cur.append(s)
            total += int(sizes[s])
            if total >= window:
                groups.append(cur)
                cur, total = [], 0
        if cur:
            groups.append(cur)
        self._groups = [np.array(g, np.int64) for g in groups]
        self._group_sizes = [sizes[g] for g in self._groups]
        self._starts = [shard_offsets[g] for g in self._groups]  # flat index of each shard's 0
        totals = np.array([int(s.sum()) for s in self._group_sizes], np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(totals)])
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def _window_flat(self, j: int) -> np.ndarray:
        """Flat indices of window ``j`` in its shuffled order (cached: a few windows)."""
        with self._lock:
            got = self._cache.get(j)
            if got is not None:
                self._cache.move_to_end(j)
                return got
        flat = self._shuffle_window(j)
        with self._lock:
            self._cache[j] = flat
            while len(self._cache) > 4:
                self._cache.popitem(last=False)
        return flat

    def _shuffle_window(self, j: int) -> np.ndarray:
        sizes, starts = self._group_sizes[j], self._starts[j]
        total = int(self._offsets[j + 1] - self._offsets[j])
        if self.block == 1:
            v = np.random.default_rng([self.seed, self.epoch, 1, j]).permutation(total)
            cum = np.concatenate([[0], np.cumsum(sizes)])
            k = np.searchsorted(cum, v, side="right") - 1  # which shard of the window
            return starts[k] + (v - cum[k])
        # Blocks of `block` consecutive rows; each shard's block boundaries are shifted by
        # a random offset per epoch, so that neighbours do not always share a block.
        shifts = np.random.default_rng([self.seed, self.epoch, 3, j]).integers(
            0, self.block, len(sizes))
        b_start, b_len = [], []
        for s0, n, off in zip(starts.tolist(), sizes.tolist(), shifts.tolist(), strict=True):
            cuts = np.unique(np.clip(np.arange(off - self.block, n + self.block, self.block),
                                     0, n))
            b_start.append(s0 + cuts[:-1])
            b_len.append(np.diff(cuts))
        b_start, b_len = np.concatenate(b_start), np.concatenate(b_len)
        perm = np.random.default_rng([self.seed, self.epoch, 1, j]).permutation(len(b_start))
        b_start, b_len = b_start[perm], b_len[perm]
        first = np.concatenate([[0], np.cumsum(b_len)[:-1]])
        return np.repeat(b_start - first, b_len) + np.arange(total)

    def _take(self, start, stop):
        if start == stop:
            return np.zeros(0, np.int64)
        j0 = int(np.searchsorted(self._offsets, start, side="right") - 1)
        j1 = int(np.searchsorted(self._offsets, stop - 1, side="right") - 1)
        parts = []
        for j in range(j0, j1 + 1):
            a = max(start, int(self._offsets[j])) - int(self._offsets[j])
            b = min(stop, int(self._offsets[j + 1])) - int(self._offsets[j])
            parts.append(self._window_flat(j)[a:b])
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()


def sequential(sizes, seed: int = 0, epoch: int = 0) -> EpochOrder:
    """The stored order: shard 0 row 0, row 1, ..., then shard 1. Ignores seed and epoch."""
    _check_seed(seed, epoch)
    return _Sequential(int(_sizes(sizes).sum()))


def global_shuffle(sizes, seed: int = 0, epoch: int = 0) -> EpochOrder:
    """A uniform random permutation of all drawings.

    Exactly uniform, but each process holding it keeps N int64 (400 MB for 50M drawings)
    and reads from the whole split at random: when the split is larger than the page
    cache, every read is a disk read. Prefer ``"window"`` for large splits.
    """
    _check_seed(seed, epoch)
    return _Global(int(_sizes(sizes).sum()), int(seed), int(epoch))


def window_shuffle(sizes, seed: int = 0, epoch: int = 0, *, window: int = DEFAULT_WINDOW,
                   block: int = 1) -> EpochOrder:
    """Shuffle the shards, group them into windows, shuffle the drawings of each window.

    The shard order is shuffled, consecutive shards are grouped into windows of at least
    ``window`` drawings, and all drawings of a window are shuffled together.

    Effect: consecutive batches draw, without replacement, from the same window (a random
    set of whole shards, different each epoch), so the reads of a stretch of the epoch
    stay within ``window`` drawings' worth of files (good for the page cache and for
    disks) and a process holds a few windows' permutations, not all N. Because the build
    assigns drawings to shards by a hash of their key_id (every shard is a uniform random
    sample of the split), the words in a batch are distributed as in a uniform draw; what
    differs from :func:`global_shuffle` is only that two drawings of different windows
    never share a batch (except at window edges) in a given epoch. With ``window`` >= N
    this is a uniform shuffle of the whole split.

    ``block > 1`` shuffles runs of ``block`` consecutive rows instead of single drawings
    (each shard's run boundaries shift randomly every epoch). A batch then copies runs
    of adjacent images, which is faster from a memory map (~1.5x at 64 px with
    ``block=4``, see bench/bench_loader.py), at a price: drawings stored next to each
    other tend to share a batch. That is harmless for shards written by ``rasterfast
    build`` (rows within a shard are in key_id-hash order, independent of the word) and
    wrong for shards whose rows are grouped (e.g. sorted by word).
    """
    _check_seed(seed, epoch)
    for name, v in (("window", window), ("block", block)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int (drawings), got {v!r}")
    return _Window(_sizes(sizes), int(seed), int(epoch), int(window), int(block))


#: The orders by name. Each is ``f(sizes, seed, epoch, **params) -> EpochOrder``.
ORDERS = {
    "sequential": sequential,
    "window": window_shuffle,
    "global": global_shuffle,
}


def get_order(name: str):
    """The order function called ``name``; ``ValueError`` listing the names otherwise."""
    try:
        return ORDERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"order must be one of {sorted(ORDERS)}, got {name!r}") from None


def make_order(name: str, sizes, seed: int, epoch: int, **params) -> EpochOrder:
    """``get_order(name)(sizes, seed, epoch, **params)``."""
    return get_order(name)(sizes, seed, epoch, **params)


# -- partition over ranks --------------------------------------------------------------------------
@dataclass(frozen=True)
class Partition:
    """How one epoch of ``n`` drawings is cut into per-rank batches.

    Rank ``r`` reads positions ``[r * per_rank, (r + 1) * per_rank)`` of the epoch order
    (a contiguous stretch: with the ``"window"`` order a rank reads a subset of windows),
    as ``num_batches`` batches of ``batch_size`` (the last one shorter when ``per_rank``
    is not a multiple). Positions ``>= n`` (there are ``pad`` of them) wrap around to the
    start of the epoch order: with ``drop_last=False`` the only repeated drawings are the
    first ``pad`` of the epoch (``pad < world_size``, 0 when ``world_size`` divides ``n``);
    with ``drop_last=True``, ``pad`` is 0, every batch is full, and the last
    ``dropped < world_size * batch_size`` drawings of the epoch order are not read.
    """

    n: int
    batch_size: int
    world_size: int
    drop_last: bool
    per_rank: int
    num_batches: int
    pad: int
    dropped: int

    def batch_span(self, rank: int, batch: int) -> tuple[int, int]:
        """Positions ``[a, b)`` of the (padded) epoch order of batch ``batch`` of ``rank``."""
        if not 0 <= rank < self.world_size:
            raise IndexError(f"rank {rank} outside [0, {self.world_size})")
        if not 0 <= batch < self.num_batches:
            raise IndexError(f"batch {batch} outside [0, {self.num_batches})")
        base = rank * self.per_rank
        a = base + batch * self.batch_size
        return a, min(a + self.batch_size, base + self.per_rank)


def partition(n: int, batch_size: int, world_size: int = 1, drop_last: bool = False) -> Partition:
    """Cut ``n`` drawings into equal per-rank batch counts (see :class:`Partition`)."""
    if n < 0 or batch_size < 1 or world_size < 1:
        raise ValueError(f"need n >= 0, batch_size >= 1, world_size >= 1; got {n}, "
                         f"{batch_size}, {world_size}")
    if drop_last:
        per = (n // (world_size * batch_size)) * batch_size
        return Partition(n, batch_size, world_size, True, per, per // batch_size, 0,
                         n - per * world_size)
    per = -(-n // world_size)
    return Partition(n, batch_size, world_size, False, per, -(-per // batch_size),
                     per * world_size - n, 0)
