"""StrokeDataset: whole uint8 batches rendered on the fly from the stroke store.

Each batch's drawings are gathered from the memory-mapped ``.strokes`` files of the
shard directory (:meth:`rasterfast.format.Reader.strokes`, one GIL-free kernel pass to
size the batch and one to copy) and rendered by the Cython kernels
(:func:`rasterfast.render`, GIL released) into the output tensor, split over a thread
pool. Order, partition, filters, epochs and resuming are those of
:class:`~rasterfast.data.base.BatchDataset`, shared with :class:`ShardDataset`: for the
same directory, split, seed and epoch both give the same drawings in the same batches,
and the images are byte-identical to those a build with the same recipe stored.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.utils.data import get_worker_info

from ..augment import as_augment
from ..augment import augment as augment_batch
from ..format import Reader
from ..recipe import Recipe
from ..render import render
from ..store import check_recipe
from .base import BatchDataset
from .order import DEFAULT_WINDOW
from .sequences import check_output, fit_max_len, sequence_batch

__all__ = ["StrokeDataset"]

#: Most threads a StrokeDataset renders one batch with by default.
_MAX_DEFAULT_THREADS = 8
#: Set in a thread that makes a whole batch for the iteration pipeline.
_ONE_THREAD = threading.local()
#: Fewest drawings a render thread is given: below this, the per-call work of a thread
#: (gather and render setup, ~20-40 us) costs more than the drawings.
_MIN_ROWS_PER_THREAD = 32


def _default_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(_MAX_DEFAULT_THREADS, cores))


class StrokeDataset(BatchDataset):
    """Batches rendered on the fly from a shard directory's stroke store, for PyTorch.

    Parameters
    ----------
    path : str or Path
        A finished shard directory with a stroke store (any build of rasterfast >= 0.2;
        ``rasterfast build --no-images`` writes only the store).
    recipe : Recipe or str
        How to draw: a :class:`rasterfast.Recipe` or a preset name (at ``size``). Any
        recipe the stored drawings allow: a store built with a simplified recipe holds
        simplified drawings (recipes with ``geometry="simplified"``: gray, beluga,
        order3, any size); one built from raw inputs with a raw recipe holds raw points
        and times (geometry ``"scale"`` or ``"simplify"``: time3, time3-gradient).
    split, batch_size, shuffle, seed, drop_last, words, recognized, entropy, \
return_key_ids, rank, world_size, order, window, block
        As :class:`rasterfast.ShardDataset` (the same batches for the same values).
        The ``entropy`` filter needs a build that stored images.
    size : int, optional
        Image size for a preset name.
    augment : Augment, str or dict, optional
        Stroke augmentation (an :class:`rasterfast.Augment`, a preset name such as
        ``"default"``, or a dict of its fields) applied to each batch's gathered
        drawings before they are drawn (:func:`rasterfast.augment`), seeded by
        ``(seed, epoch, key_id)`` of each drawing: the same batches for the same seed
        and epoch whatever ``threads`` or the DataLoader workers, other ones in another
        epoch. ``None``: none. ``time_warp`` needs a store of raw drawings.
    output : {"image", "stroke3", "stroke5"}
        ``"image"`` (default): rendered images. ``"stroke3"`` / ``"stroke5"``: sketch-rnn
        sequences instead, nothing rendered (see Notes); ``recipe`` and ``size`` must
        then be left out, and a batch is converted on one thread (``threads`` is for
        rendering: the conversion is cheaper than splitting it).
    max_len : int, optional
        Sequence output only: rows per drawing, the same for every batch. Default: the
        most points of any drawing of the split (after the filters), found when the
        dataset is made.
    on_long : {"raise", "truncate"}
        Sequence output only: a split holding drawings of more than ``max_len`` points
        is a ``ValueError`` when the dataset is made (default, naming how many and the
        longest), or (``"truncate"``) such drawings keep their first ``max_len``
        points (the last with pen lift 1); :attr:`num_truncated` counts them in the
        split and each batch has a ``truncated`` bool ``[B]`` marking them.
    threads : int, optional
        Threads that render. Iterating the dataset, they make ``threads`` whole batches
        at once (yielded in order), the iterating thread one of them: it renders one
        batch in every ``threads`` and ``threads - 1`` helper threads the others, at most
        two batches ahead each, so that ``threads`` threads use ``threads`` cores. (To
        render while the iterating thread trains, use :class:`rasterfast.ShardLoader`,
        whose prefetch threads call :meth:`get_batch`.) :meth:`get_batch` alone cuts its
        batch into ``threads`` runs of at least 32 drawings. Default: the cores this
        process may use, at most 8, and 1 inside a DataLoader worker process (the
        workers are the parallelism there).
    check : {"sizes", "headers", "labels", "full"}
        What to check of the split's files when the dataset is made, as
        :class:`rasterfast.ShardDataset`'s ``check`` (``"full"`` hashes the stroke
        files: altered coordinates are found).

    Raises
    ------
    ValueError
        No stroke store, a recipe the store cannot serve (e.g. ``time3`` on a store
        of simplified drawings), a bad value.
    ShardFormatError
        A stroke file that is missing, truncated, of an unknown version or not the
        drawings the manifest lists; the message names the file. (A stroke file
        whose offsets were altered is found when it is first read; altered
        coordinates are found by ``check="full"`` or :func:`rasterfast.format.verify`.)
        Drawing coordinates outside what the store's kind allows (0-255 for simplified
        drawings, finite numbers for raw ones) are found when a batch is gathered.

    Notes
    -----
    Batches are dicts as those of :class:`ShardDataset`: ``images`` uint8
    ``[B, C, S, S]`` (``C, S`` of the recipe), ``labels`` int64 ``[B]``, ``key_ids``
    when asked. With ``augment=None``, batch ``i`` of an epoch is byte-identical to
    batch ``i`` of ``ShardDataset`` over a build of the same recipe (tested on the real
    sample for gray, beluga, order3 and time3).

    Sequence output (``output="stroke3" | "stroke5"``): batches are dicts of
    ``sequences`` float32 ``[B, max_len, 3 | 5]`` (float32 because models take it;
    simplified offsets are small integers, exact in float32), ``lengths`` int64 ``[B]``
    (rows that are points), ``labels``, ``key_ids`` when asked, and ``truncated`` with
    ``on_long="truncate"``. The rows are those of :func:`rasterfast.to_stroke3` /
    :func:`rasterfast.to_stroke5` (sketch-rnn's convention, no start token). A
    simplified store gives 0-255 integer offsets; a raw store gives offsets of the raw
    points in the drawing's own frame (not scaled or simplified: sketch-rnn's data is
    simplified, so build from simplified inputs or with a simplified recipe for that).

    It works with ``DataLoader(ds, batch_size=None, num_workers=k)`` and with
    :class:`rasterfast.ShardLoader` (whose prefetch threads render batches ahead).
    """

    def __init__(self, path, recipe=None, split: str = "train", batch_size: int = 256,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False, words=None,
                 recognized=None, entropy=None, return_key_ids: bool = False,
                 rank: int | None = None, world_size: int | None = None, *,
                 size: int | None = None, augment=None, threads: int | None = None,
                 order: str | None = None, window: int = DEFAULT_WINDOW, block: int = 1,
                 output: str = "image", max_len: int | None = None, on_long: str = "raise",
                 check: str = "headers"):
        self.output = output
        if check_output(output, recipe, size, max_len, on_long):
            pass  # sequences: no recipe (checked), nothing rendered
        elif isinstance(recipe, str):
            recipe = Recipe.preset(recipe, **({"size": size} if size is not None else {}))
        elif not isinstance(recipe, Recipe):
            raise TypeError(f"recipe must be a Recipe or a preset name, got "
                            f"{type(recipe).__name__}")
        elif size is not None and size != recipe.size:
            raise ValueError(f"size={size} conflicts with the recipe's size {recipe.size}")
        augment = as_augment(augment)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"threads must be an int >= 1 or None, got {threads!r}")
        reader = Reader(path, check="sizes")
        reader.check(check, splits=[split])
        if not reader.has_strokes:
            raise ValueError(f"{reader.path} has no stroke store (parts "
                             f"{list(reader.manifest.parts)}): build it again with "
                             f"rasterfast >= 0.2, or read its images with ShardDataset")
        if output == "image":
            check_recipe(recipe, reader.stroke_kind, reader.stroke_times, reader.path)
        if augment is not None and augment.time_warp > 0 and not reader.stroke_times:
            raise ValueError(f"augment time_warp={augment.time_warp} needs drawings with "
                             f"times, and the stroke store of {reader.path} holds "
                             f"{reader.stroke_kind} drawings without them; use time_warp=0")
        self.recipe = recipe
        self.augment = augment
        self.threads = threads
        super().__init__(reader, split, batch_size, shuffle, seed, drop_last, words, recognized,
                         entropy, return_key_ids, rank, world_size, order=order, window=window,
                         block=block)
        # Every file's header now, so that a truncated, foreign or newer-version stroke
        # file is an error when the dataset is made, not in the middle of an epoch.
        store = reader.strokes(split)
        store.check_headers()
        # Files stay mapped while the order reads them: two windows' worth of the "window"
        # order (it reads one window's files over many batches), at least 256 MiB; the
        # "global" order reads every file all the time: no bound. Mapped pages count in
        # RSS, so this keeps it flat over an epoch instead of growing with the store.
        shards = reader.shards(split)
        per_drawing = sum(sh.strokes.size for sh in shards) / max(1, sum(sh.count
                                                                          for sh in shards))
        if self.order_name == "global":
            self._map_budget = None
        else:
            span = 2 * (self.order_params.get("window", 0) + self.batch_size)
            self._map_budget = max(256 << 20, int(span * per_drawing))
        store.max_mapped_bytes = self._map_budget
        if output != "image":
            self.max_len, self.on_long, self.num_truncated = fit_max_len(
                reader.strokes(split), self._kept, max_len, on_long, split)
        # key_id of every row: each drawing's augmentation is seeded by it
        self._aug_keys = self._read_key_ids() if augment is not None else None
        self._pool: ThreadPoolExecutor | None = None   # made on first use, per process
        self._pool_size = 0
        self._pool_lock = threading.Lock()
        # the helper threads of an iteration: kept, so that their per-thread caches (the
        # opencv256 line shapes: a cold thread took 5.4 ms a beluga batch, a warm one 3.4)
        # stay warm from epoch to epoch; one iteration at a time uses them
        self._helpers: ThreadPoolExecutor | None = None
        self._helpers_size = 0
        self._helpers_busy = threading.Lock()

    def __getstate__(self):
        state = super().__getstate__()
        state["_pool"], state["_pool_size"] = None, 0
        state["_helpers"], state["_helpers_size"] = None, 0
        del state["_pool_lock"], state["_helpers_busy"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._pool_lock = threading.Lock()
        self._helpers_busy = threading.Lock()

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, S, S)`` of the recipe."""
        if self.recipe is None:
            raise AttributeError(f"a StrokeDataset of output={self.output!r} has no images")
        return self.recipe.shape

    def get_batch(self, batch: int, epoch: int | None = None, *, pin_memory: bool = False
                  ) -> dict:
        """Batch ``batch`` of this rank in ``epoch``: images, or sequences (see ``output``)."""
        if self.output == "image":
            return super().get_batch(batch, epoch, pin_memory=pin_memory)
        epoch = self.epoch if epoch is None else epoch
        rows = self.batch_rows(batch, epoch)
        drawings = self._strokes().gather(rows)
        if self.augment is not None:
            # the points images would be drawn from; augmentation never adds points, so
            # max_len (measured on the stored drawings) still holds
            drawings = augment_batch(drawings, self.augment, seed=self.seed, epoch=epoch,
                                key_ids=self._aug_keys[rows])
        result = sequence_batch(drawings, self.output, self.max_len, self.on_long)
        result["labels"] = torch.from_numpy(self._labels[rows].astype(np.int64))
        if self._key_ids is not None:
            result["key_ids"] = torch.from_numpy(self._key_ids[rows])
        if pin_memory:
            result = {k: v.pin_memory() for k, v in result.items()}
        return result

    def _strokes(self):
        """The split's stroke files, with this dataset's bound on mapped bytes.

        Also in a DataLoader worker, whose Reader was unpickled without its maps.
        """
        store = self.reader.strokes(self.split)
        if store.max_mapped_bytes != self._map_budget:
            store.max_mapped_bytes = self._map_budget
        return store

    def _threads(self) -> int:
        if self.threads is not None:
            return self.threads
        return 1 if get_worker_info() is not None else _default_threads()

    def _render_rows(self, rows: np.ndarray, out: np.ndarray, epoch: int) -> None:
        batch = self._strokes().gather(rows)
        if self.augment is not None:
            batch = augment_batch(batch, self.augment, seed=self.seed, epoch=epoch,
                             key_ids=self._aug_keys[rows])
        render(batch, self.recipe, out=out)

    def _get_pool(self, k: int, name: str = "pool") -> ThreadPoolExecutor:
        """The kept executor ``self._<name>`` of at least ``k`` threads, made on first use.

        ``"pool"``: get_batch's runs of one batch; ``"helpers"``: the iteration's helpers.
        """
        with self._pool_lock:
            pool, size = getattr(self, f"_{name}"), getattr(self, f"_{name}_size")
            if pool is None or size < k:
                if pool is not None:
                    pool.shutdown(wait=False)
                prefix = "rasterfast-render" if name == "pool" else "rasterfast-iteration"
                pool = ThreadPoolExecutor(k, thread_name_prefix=prefix)
                setattr(self, f"_{name}", pool)
                setattr(self, f"_{name}_size", k)
            return pool

    def _whole_batch(self, i: int, epoch: int) -> dict:
        _ONE_THREAD.active = True   # this batch is one thread's work: do not split it
        try:
            return self.get_batch(i, epoch)
        finally:
            _ONE_THREAD.active = False

    def _make_batches(self, indices, epoch: int):
        # Iterating: `threads` whole batches at once, yielded in order: this (iterating)
        # thread makes one batch in every `threads`, and `threads - 1` helper threads the
        # others, each its own fixed share, two batches ahead at most (the helpers are
        # kept from one iteration to the next: their per-thread caches stay warm). Measured at gray
        # 64 px on a 2-core VM, against one thread: a pool of `threads` with this thread
        # only waiting 1.44-1.55x (three threads on two cores: each hand-over woke this
        # one onto a core a renderer was using); this thread rendering its share, the
        # others handed to a ThreadPoolExecutor 1.62-1.73x (its per-task Python holds the
        # GIL); helper threads with a queue each 1.79-1.88x; cutting each batch between
        # the threads instead 0.97x (each batch waited for pool threads to wake).
        k = self._threads()
        if k == 1 or self.output != "image":
            yield from super()._make_batches(indices, epoch)
            return
        order = list(indices)
        stop = threading.Event()
        made = [queue.Queue(2) for _ in range(k - 1)]   # helper j: positions p % k == j + 1

        def helper(j: int) -> None:
            for p in range(j + 1, len(order), k):
                if stop.is_set():
                    return
                try:
                    item = (True, self._whole_batch(order[p], epoch))
                except BaseException as err:  # handed to the iterating thread, raised there
                    item = (False, err)
                while not stop.is_set():
                    try:
                        made[j].put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if not item[0]:
                    return

        mine = self._helpers_busy.acquire(blocking=False)
        if mine:
            helpers = self._get_pool(k - 1, "helpers")
        else:  # another iteration of this dataset is running: threads of its own
            helpers = ThreadPoolExecutor(k - 1, thread_name_prefix="rasterfast-iteration-extra")
        running = []
        try:
            running = [helpers.submit(helper, j) for j in range(k - 1)]
            for p, i in enumerate(order):
                if p % k == 0:
                    yield i, self._whole_batch(i, epoch)
                    continue
                ok, got = made[p % k - 1].get()
                if not ok:
                    raise got
                yield i, got
        finally:  # also when the consumer stops early: nothing left running for it
            stop.set()
            for f in running:
                f.exception()   # wait for it to return (it checks `stop` every 0.1 s)
            if mine:
                self._helpers_busy.release()
            else:
                helpers.shutdown(wait=True)

    def _fill(self, rows: np.ndarray, out: np.ndarray, epoch: int) -> None:
        n = len(rows)
        k = 1 if getattr(_ONE_THREAD, "active", False) else \
            max(1, min(self._threads(), n // _MIN_ROWS_PER_THREAD))
        if k == 1:
            self._render_rows(rows, out, epoch)
            return
        pool = self._get_pool(k - 1)
        cuts = np.linspace(0, n, k + 1).astype(np.int64)
        # k - 1 runs in the pool, the first in this thread (which would otherwise wait)
        futures = [pool.submit(self._render_rows, rows[a:b], out[a:b], epoch)
                   for a, b in zip(cuts[1:-1], cuts[2:], strict=True)]
        try:
            self._render_rows(rows[:cuts[1]], out[:cuts[1]], epoch)
        finally:
            for f in futures:
                f.result()
