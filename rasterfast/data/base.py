"""BatchDataset: what ShardDataset and StrokeDataset share, all but where the pixels come from.

A batch is a pure function of ``(seed, epoch, rank, batch index)``: the epoch order comes
from :mod:`rasterfast.data.order`, its cut into ranks and batches from
:func:`~rasterfast.data.order.partition`, the worker split from
:class:`~rasterfast.data.world.World`; the filters (words, recognized, entropy) read the
shards' labels and metadata. A subclass says only how the images of a batch's rows are
made (:meth:`BatchDataset._fill`): copied from image shards (:class:`ShardDataset`) or
rendered from the stroke store (:class:`StrokeDataset`). Both therefore give the same
drawings, labels and order for the same directory, split, seed and epoch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .order import DEFAULT_WINDOW, EpochOrder, get_order, partition
from .world import World

__all__ = ["BatchDataset"]

_STATE_VERSION = 1
# Fields of state_dict() that must match for load_state_dict() to resume exactly.
_STATE_KEYS = ("split", "count", "batch_size", "world_size", "drop_last", "seed", "order",
               "num_batches", "filters")


def _new_shared_private(numel: int) -> torch.Tensor:
    """A flat uint8 tensor of ``numel`` uninitialised bytes, allocated in shared memory.

    Uses torch's private ``TypedStorage._new_shared`` (what torch's own
    ``default_collate`` calls in a worker), because the public way, ``share_memory_()``,
    allocates ordinary memory first and then copies it into a new shared segment: one
    more pass over the batch (measured 0.6-0.8 ms against 0.8 ms for a 1 MiB batch but
    11-24 ms against 10-11 ms for a 12 MiB one on the shared 2-core machine, issue 16).
    """
    elem = torch.empty(0, dtype=torch.uint8)
    return elem.new(elem._typed_storage()._new_shared(numel, device="cpu"))


def _new_shared_public(numel: int) -> torch.Tensor:
    """The same as :func:`_new_shared_private` through public API only (one copy more)."""
    return torch.empty(numel, dtype=torch.uint8).share_memory_()


def _alloc_uint8(shape, shared: bool, pin: bool) -> torch.Tensor:
    """Return an uninitialised uint8 tensor, in shared memory inside a DataLoader worker.

    Handing a shared-memory tensor to the main process costs no copy (``default_collate``
    does the same). Where torch lacks the private allocator (it is not a stable API),
    this falls back for good to the public one, which costs one copy of the batch.
    """
    global _new_shared
    if shared:
        numel = int(np.prod(shape))
        try:
            flat = _new_shared(numel)
        except (AttributeError, TypeError):
            _new_shared = _new_shared_public
            flat = _new_shared(numel)
        return flat.view(*shape)
    return torch.empty(shape, dtype=torch.uint8, pin_memory=pin)


#: The shared-memory allocator in use (the public one once the private one failed).
_new_shared = _new_shared_private


class BatchDataset(IterableDataset):
    """Batches of uint8 images and int64 labels of one split of a shard directory.

    The base of :class:`rasterfast.ShardDataset` and :class:`rasterfast.StrokeDataset`:
    order, partition over ranks and workers, filters, epochs and resuming (see
    :class:`rasterfast.ShardDataset` for the parameters). Subclasses give
    :attr:`image_shape` and :meth:`_fill`.
    """

    def __init__(self, reader, split: str = "train", batch_size: int = 256,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False, words=None,
                 recognized=None, entropy=None, return_key_ids: bool = False,
                 rank: int | None = None, world_size: int | None = None, *,
                 order: str | None = None, window: int = DEFAULT_WINDOW, block: int = 1):
        super().__init__()
        for name, v, lo in (("batch_size", batch_size, 1), ("seed", seed, 0)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        for name, v in (("shuffle", shuffle), ("drop_last", drop_last),
                        ("return_key_ids", return_key_ids)):
            if not isinstance(v, bool):
                raise TypeError(f"{name} must be a bool, got {type(v).__name__}")
        self.reader = reader
        self.split = split
        self.batch_size, self.seed, self.shuffle = int(batch_size), int(seed), shuffle
        self.drop_last, self.return_key_ids = drop_last, return_key_ids
        self.order_name = order if order is not None else ("window" if shuffle else "sequential")
        get_order(self.order_name)
        self.order_params = {"window": window, "block": block} \
            if self.order_name == "window" else {}
        self.world = World.detect(rank, world_size)

        counts = self.reader.counts(split)  # ValueError naming the splits if absent
        self._row_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._labels = self.reader.labels(split)
        keep, self.filters = self._filter(words, recognized, entropy)
        if keep is None:
            self._kept, self._sizes = None, counts
        else:
            self._kept = np.flatnonzero(keep).astype(np.int64)
            shard_of = np.searchsorted(self._row_offsets, self._kept, side="right") - 1
            self._sizes = np.bincount(shard_of, minlength=len(counts)).astype(np.int64)
        self.count = int(self._sizes.sum())
        if self.count == 0:
            raise ValueError(f"no drawings in split {split!r} of {self.reader.path} "
                             f"match the filters {self.filters}")
        self._key_ids = None
        if return_key_ids:
            kid = self._read_key_ids()
            if kid.size and kid.max() >= 2**63:
                raise ValueError("key_ids >= 2**63 do not fit an int64 tensor")
            self._key_ids = kid.astype(np.int64)
        self.partition = partition(self.count, self.batch_size, self.world.world_size, drop_last)
        # [epoch, epoch to resume, first batch to read in it]: in shared memory, so that
        # set_epoch / load_state_dict in the main process reach persistent workers.
        self._shared = torch.tensor([0, -1, 0], dtype=torch.int64).share_memory_()
        self._position = (0, 0)  # (epoch, batches yielded) by __iter__ in this process
        self._order: tuple[int, EpochOrder] | None = None

    def _read_key_ids(self) -> np.ndarray:
        """The key_id of every row of the split, uint64 (0 where unknown)."""
        kid = self.reader.meta(self.split, columns=["key_id"]).column("key_id")
        return kid.fill_null(0).to_numpy().astype(np.uint64)

    # -- filters ------------------------------------------------------------------------------
    def _filter(self, words, recognized, entropy):
        keep, desc = None, {}
        if words is not None:
            if isinstance(words, str):
                raise TypeError("words must be a sequence of str, not a str")
            index = {w: i for i, w in enumerate(self.reader.words)}
            unknown = [w for w in words if w not in index]
            if unknown:
                raise ValueError(f"words not in this directory's word list: {unknown[:10]} "
                                 f"({len(self.reader.words)} words, e.g. "
                                 f"{self.reader.words[:3]})")
            keep = np.isin(self._labels, [index[w] for w in words])
            desc["words"] = sorted(words)
        if recognized is not None:
            if not isinstance(recognized, bool):
                raise TypeError(f"recognized must be a bool or None, got {recognized!r}")
            col = self.reader.meta(self.split, columns=["recognized"]).column("recognized")
            ok = col.fill_null(-1).to_numpy() == int(recognized)
            keep = ok if keep is None else keep & ok
            desc["recognized"] = recognized
        if entropy is not None:
            if not (isinstance(entropy, (tuple, list)) and len(entropy) == 2):
                raise ValueError(f"entropy must be a (lo, hi) pair (None for unbounded), "
                                 f"got {entropy!r}")
            lo, hi = (-np.inf if entropy[0] is None else float(entropy[0]),
                      np.inf if entropy[1] is None else float(entropy[1]))
            if not lo <= hi:
                raise ValueError(f"entropy range must have lo <= hi, got {entropy!r}")
            col = self.reader.meta(self.split, columns=["entropy"]).column("entropy")
            e = col.fill_null(np.nan).to_numpy(zero_copy_only=False)
            if len(e) and np.isnan(e).all():
                raise ValueError(f"the entropy filter needs the images' entropy, which "
                                 f"{self.reader.path} does not have (a --no-images build, or "
                                 f"one made without entropy)")
            ok = (e >= lo) & (e <= hi)  # NaN compares False: dropped
            keep = ok if keep is None else keep & ok
            desc["entropy"] = [lo, hi]
        return keep, desc

    # -- shape ----------------------------------------------------------------------------------
    @property
    def words(self) -> list[str]:
        """The class list: label ``i`` is ``words[i]``."""
        return self.reader.words

    @property
    def num_classes(self) -> int:
        """``len(words)``."""
        return self.reader.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, S, S)`` of every image."""
        raise NotImplementedError

    def _fill(self, rows: np.ndarray, out: np.ndarray, epoch: int) -> None:
        """Write the images of ``rows`` (sorted row numbers of the split) into ``out``.

        ``epoch`` is the batch's epoch (StrokeDataset seeds its augmentation with it).
        """
        raise NotImplementedError

    def __len__(self) -> int:
        """Batches per epoch for this rank (the same on every rank)."""
        return self.partition.num_batches

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.reader.path)!r}, split={self.split!r}, "
                f"count={self.count}, batch_size={self.batch_size}, batches={len(self)}, "
                f"order={self.order_name!r}, rank={self.world.rank}/{self.world.world_size})")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_order"] = None  # rebuilt lazily where it is used
        return state

    # -- epochs and resuming --------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        """The epoch the next ``iter()`` reads (see :meth:`set_epoch`)."""
        return int(self._shared[0])

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` from the next ``iter()`` on (also in persistent workers)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        self._shared[0] = int(epoch)
        if int(self._shared[1]) != epoch:
            self._shared[1] = -1

    def _config(self) -> dict:
        return {"split": self.split, "count": self.count, "batch_size": self.batch_size,
                "world_size": self.world.world_size, "drop_last": self.drop_last,
                "seed": self.seed, "order": [self.order_name, self.order_params],
                "num_batches": len(self), "filters": self.filters}

    def state_dict(self, batches_consumed: int | None = None) -> dict:
        """Where this rank is in the epoch: enough for :meth:`load_state_dict` to resume.

        ``batches_consumed`` is the number of batches of the current epoch the training
        loop has taken; by default, the count of batches ``iter(self)`` has yielded in this
        process (right when iterating in the main process; with DataLoader workers the
        main process sees none: pass the count, or use ShardLoader).
        """
        epoch = self.epoch
        if batches_consumed is None:
            pos_epoch, done = self._position
            batches_consumed = done if pos_epoch == epoch else 0
        if isinstance(batches_consumed, bool) or not isinstance(batches_consumed, int) or \
                not 0 <= batches_consumed <= len(self):
            raise ValueError(f"batches_consumed must be an int in [0, {len(self)}], "
                             f"got {batches_consumed!r}")
        return {"version": _STATE_VERSION, "epoch": epoch, "batches_consumed": batches_consumed,
                "rank": self.world.rank, **self._config()}

    def load_state_dict(self, state: dict) -> None:
        """Resume: the next pass over ``state["epoch"]`` starts at its first unseen batch."""
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise ValueError(f"not a {type(self).__name__} state (version {_STATE_VERSION}): "
                             f"{state!r:.200}")
        mine = self._config()
        diff = {k: (state.get(k), mine[k]) for k in _STATE_KEYS if state.get(k) != mine[k]}
        if diff:
            raise ValueError(f"state_dict does not match this dataset (saved, now): {diff}")
        done = state["batches_consumed"]
        if not 0 <= done <= len(self):
            raise ValueError(f"batches_consumed {done} outside [0, {len(self)}]")
        self._shared[0] = state["epoch"]
        self._shared[1] = state["epoch"]
        self._shared[2] = done
        self._position = (state["epoch"], done)

    def resume_point(self) -> tuple[int, int]:
        """``(epoch, first batch)`` of the next pass.

        The batch is 0, or the first unseen one when a :meth:`load_state_dict` of that
        epoch is not used up yet. Shared with DataLoader workers, like the epoch;
        :class:`ShardLoader` starts its passes here.
        """
        epoch, resume_epoch, at = (int(v) for v in self._shared)
        return epoch, (at if resume_epoch == epoch else 0)

    def end_pass(self, epoch: int) -> None:
        """Record that a pass over ``epoch`` reached its end.

        A resume point loaded for it is used up: the next pass starts at batch 0.
        """
        if int(self._shared[1]) == epoch:
            self._shared[1] = -1

    # -- batches ----------------------------------------------------------------------------------
    def _epoch_order(self, epoch: int) -> EpochOrder:
        cached = self._order
        if cached is not None and cached[0] == epoch:
            return cached[1]
        order = get_order(self.order_name)(self._sizes, self.seed, epoch, **self.order_params)
        self._order = (epoch, order)
        return order

    def batch_rows(self, batch: int, epoch: int | None = None) -> np.ndarray:
        """Row numbers of the drawings of batch ``batch`` of this rank, sorted.

        Rows count through the split's shards end to end (the filters are applied).
        """
        epoch = self.epoch if epoch is None else epoch
        order = self._epoch_order(epoch)
        a, b = self.partition.batch_span(self.world.rank, batch)
        n = self.count
        parts = []
        while a < b:  # positions >= n wrap to the start of the order (padding)
            s = a % n
            e = min(s + (b - a), n)
            parts.append(order.take(s, e))
            a += e - s
        flat = np.concatenate(parts) if len(parts) > 1 else parts[0]
        rows = flat if self._kept is None else self._kept[flat]
        rows.sort()
        return rows

    def get_batch(self, batch: int, epoch: int | None = None, *, pin_memory: bool = False
                  ) -> dict:
        """Batch ``batch`` of this rank in ``epoch`` (default: the current epoch)."""
        epoch = self.epoch if epoch is None else epoch
        rows = self.batch_rows(batch, epoch)
        out = _alloc_uint8((len(rows), *self.image_shape), shared=get_worker_info() is not None,
                           pin=pin_memory)
        self._fill(rows, out.numpy(), epoch)
        result = {"images": out, "labels": torch.from_numpy(self._labels[rows].astype(np.int64))}
        if self._key_ids is not None:
            result["key_ids"] = torch.from_numpy(self._key_ids[rows])
        if pin_memory:
            result["labels"] = result["labels"].pin_memory()
            if "key_ids" in result:
                result["key_ids"] = result["key_ids"].pin_memory()
        return result

    def _make_batches(self, indices, epoch: int):
        """``(i, batch i)`` for each of ``indices``, in order (subclasses may work ahead)."""
        for i in indices:
            yield i, self.get_batch(i, epoch)

    def __iter__(self):
        info = get_worker_info()
        world = self.world.with_worker(info)
        epoch, start = self.resume_point()
        if info is None:
            self._position = (epoch, start)
        for i, batch in self._make_batches(world.worker_batches(len(self), start), epoch):
            if info is None:
                self._position = (epoch, i + 1)  # handed over: counts as consumed
            yield batch
        if info is None:  # a full pass happened here (a worker sees only its part)
            self.end_pass(epoch)
