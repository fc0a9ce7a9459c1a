"""ShardLoader: iterate a ShardDataset or StrokeDataset with prefetch threads (or DataLoader workers).

It counts the batches the training loop has consumed, for exact resumption.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

from .base import BatchDataset

__all__ = ["ShardLoader"]


class ShardLoader:
    """Batches of a :class:`ShardDataset` or :class:`StrokeDataset`, made ahead in the main process.

    Parameters
    ----------
    dataset : ShardDataset or StrokeDataset
    threads : int
        Threads gathering batches ahead (0: gather on demand in the caller's thread).
        ``numpy.take`` releases the GIL, so threads run the copies in parallel; and there
        is no inter-process hop: from a page-cached mmap this is the fastest setup (see
        ``bench/bench_loader.py``).
    prefetch : int, optional
        Batches in flight (default ``2 * threads``).
    pin_memory : bool
        Gather straight into page-locked memory (needs a CUDA build of torch), so that
        ``.to("cuda", non_blocking=True)`` is an asynchronous DMA; no extra copy.
    num_workers : int
        If > 0, use ``torch.utils.data.DataLoader(dataset, batch_size=None,
        num_workers=num_workers, ...)`` instead of threads (for decoding-heavy pipelines;
        not needed for shards). Extra keyword arguments go to the DataLoader.

    Notes
    -----
    ``state_dict()`` records the batches this loader has yielded in the current epoch;
    ``load_state_dict()`` makes the next pass over that epoch start at the first unseen
    batch. One pass of the loader reads the dataset's current epoch: call
    ``loader.set_epoch(e)`` (or ``dataset.set_epoch(e)``) before each epoch.
    """

    def __init__(self, dataset: BatchDataset, *, threads: int = 2, prefetch: int | None = None,
                 pin_memory: bool = False, num_workers: int = 0, **dataloader_kwargs):
        if not isinstance(dataset, BatchDataset):
            raise TypeError(f"dataset must be a ShardDataset or StrokeDataset, got "
                            f"{type(dataset).__name__}")
        for name, v in (("threads", threads), ("num_workers", num_workers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        prefetch = 2 * threads if prefetch is None else prefetch
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1 and threads:
            raise ValueError(f"prefetch must be an int >= 1 with threads, got {prefetch!r}")
        self.dataset, self.threads, self.prefetch = dataset, threads, prefetch
        self.pin_memory, self.num_workers = pin_memory, num_workers
        self._loader = None
        if num_workers:
            from torch.utils.data import DataLoader

            self._loader = DataLoader(dataset, batch_size=None, num_workers=num_workers,
                                      pin_memory=pin_memory, **dataloader_kwargs)
        elif dataloader_kwargs:
            raise TypeError(f"DataLoader arguments {sorted(dataloader_kwargs)} need "
                            "num_workers > 0")
        self._epoch, self._consumed = dataset.epoch, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """``dataset.set_epoch(epoch)``."""
        self.dataset.set_epoch(epoch)

    def state_dict(self) -> dict:
        """The dataset's state with the number of batches this loader has yielded."""
        ds = self.dataset
        return ds.state_dict(self._consumed if self._epoch == ds.epoch else 0)

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict`: the next pass starts at the first unseen batch."""
        self.dataset.load_state_dict(state)
        self._epoch, self._consumed = state["epoch"], state["batches_consumed"]

    def _threaded(self, epoch: int, start: int):
        ds, n = self.dataset, len(self.dataset)
        if self.threads == 0:
            for i in range(start, n):
                yield ds.get_batch(i, epoch, pin_memory=self.pin_memory)
            return
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="rasterfast-prefetch")
        pending: deque = deque()
        nxt = start
        try:
            while nxt < n or pending:
                while nxt < n and len(pending) < self.prefetch:
                    pending.append(pool.submit(ds.get_batch, nxt, epoch,
                                               pin_memory=self.pin_memory))
                    nxt += 1
                yield pending.popleft().result()
        finally:  # also when the consumer stops early: no thread left behind
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True)

    def __iter__(self):
        ds = self.dataset
        epoch, start = ds._start()
        self._epoch, self._consumed = epoch, start
        source = iter(self._loader) if self._loader is not None else self._threaded(epoch, start)
        for batch in source:
            self._consumed += 1
            yield batch
        if int(ds._shared[1]) == epoch:
            ds._shared[1] = -1  # a full pass happened: the resume point is used up
