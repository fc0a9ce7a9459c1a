"""ShardLoader: a ShardDataset or StrokeDataset through prefetch threads or DataLoader workers.

It counts the batches the training loop has consumed, for exact resumption, and with
``device=`` yields batches already on the device (:mod:`rasterfast.data.device`).
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import torch

from .base import BatchDataset
from .device import DeviceRing, backend_for

__all__ = ["ShardLoader"]

#: What ShardLoader reads. It relies only on this protocol: ``len(ds)``, ``ds.epoch``,
#: ``ds.set_epoch(e)``, ``ds.state_dict(n)``, ``ds.load_state_dict(s)``,
#: ``ds.get_batch(i, epoch, pin_memory=bool)`` (a dict with uint8 ``images``, ``labels``
#: and maybe ``key_ids``), and the resume point ``ds.resume_point()`` / ``ds.end_pass(e)``.
DATASETS: tuple[type, ...] = (BatchDataset,)


def _check_dataset(dataset) -> None:
    if not isinstance(dataset, DATASETS):
        raise TypeError(f"dataset must be a ShardDataset or StrokeDataset, got "
                        f"{type(dataset).__name__}")


class ShardLoader:
    """Batches of a :class:`ShardDataset` or :class:`StrokeDataset`, made ahead in the main process.

    Parameters
    ----------
    dataset : ShardDataset or StrokeDataset
    threads : int, optional
        Threads gathering batches ahead (0: gather on demand in the caller's thread).
        The gather kernels (images from the shard maps, drawings from the ``.strokes``
        maps) and rendering release the GIL, so threads run in parallel; and there
        is no inter-process hop: from a page-cached mmap this is the fastest setup (see
        ``bench/bench_loader.py``). Default: 2 for host batches, 1 with ``device`` (see
        Notes for the measurements behind both).
    prefetch : int, optional
        Batches prepared ahead (default ``2 * threads``; at least 1 with ``device``).
    pin_memory : bool, optional
        Gather straight into page-locked memory (needs a CUDA build of torch), so that
        the copy to the GPU is an asynchronous DMA; no extra copy. Default: True for a
        CUDA ``device``, else False.
    num_workers : int
        If > 0, use ``torch.utils.data.DataLoader(dataset, batch_size=None,
        num_workers=num_workers, ...)`` instead of threads (for decoding-heavy pipelines;
        not needed for shards). Extra keyword arguments go to the DataLoader. Not with
        ``device``.
    device : str or torch.device, optional
        ``"cuda[:n]"`` or ``"cpu"``: yield batches already there. Each gathered batch is
        copied on a side CUDA stream into a ring of ``prefetch + 1`` reused device
        buffers; the training stream waits on an event, never the host
        (:mod:`rasterfast.data.device`). With ``"cpu"`` the same ring runs with
        synchronous copies in the prefetch threads (this is what runs without a GPU).
    to_float : bool
        With ``device``: yield ``images`` as ``(x / 255 - mean) / std`` in ``dtype``,
        converted on the side stream (the uint8 batch crosses PCIe, 1/4 of float32).
    mean, std : float or sequence of float
        Of ``to_float`` (0-1 scale; one value or one per channel).
    dtype : torch.dtype
        Of ``to_float`` (float32, float16, bfloat16).
    channels_last : bool
        With ``device``: yield ``images`` in ``torch.channels_last`` memory format.

    Notes
    -----
    ``state_dict()`` records the batches this loader has yielded in the current epoch;
    ``load_state_dict()`` makes the next pass over that epoch start at the first unseen
    batch. One pass of the loader reads the dataset's current epoch: call
    ``loader.set_epoch(e)`` (or ``dataset.set_epoch(e)``) before each epoch.

    With ``device``, a batch's tensors (except ``key_ids``, which stay on the host) are
    views of a ring slot: they are valid until the next batch is taken, when the slot is
    released and filled again a few batches later. Clone what you keep (say, for logging)
    past the step. ``wait_seconds`` is the time the training thread has waited for the
    host gather in the current pass (never for the GPU).

    The thread defaults come from measurements. On an H200 with 16 cores (ResNet-18,
    bf16, channels_last, batch 1024 at 64 px, 1 channel; issue 15), with batches moved by
    the training thread: ``threads=1, pin_memory=True`` fed 119,154 img/s, 100% of the
    118,495 img/s of batches already on the GPU, and ``threads=4`` only 111,525 (94%):
    more threads made 64 px slower, their Python work competing with the training thread;
    the wait for the loader was under 1.5% of the time in every run, so one thread
    gathers fast enough (one thread gathers 5.7 GB/s of 128 px images from the page cache
    on a 2-core VM, ``bench/RESULTS.md``; 128 px, 3 channels at 38k img/s needs 1.9 GB/s).
    Hence 1 thread with ``device``. The device ring itself (copies on a side stream) has
    not been measured on a GPU yet: ``bench/bench_train.py`` is the run to make. For
    host batches the default stays 2: on a 2-core VM 2 threads were fastest at 128 px
    (``bench/bench_loader.py``).
    """

    def __init__(self, dataset: BatchDataset, *, threads: int | None = None,
                 prefetch: int | None = None, pin_memory: bool | None = None,
                 num_workers: int = 0, device=None, to_float: bool = False, mean=0.5,
                 std=0.5, dtype=torch.float32, channels_last: bool = False,
                 **dataloader_kwargs):
        _check_dataset(dataset)
        if threads is None:
            threads = 1 if device is not None else 2
        for name, v in (("threads", threads), ("num_workers", num_workers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        prefetch = 2 * threads if prefetch is None else prefetch
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1 and threads:
            raise ValueError(f"prefetch must be an int >= 1 with threads, got {prefetch!r}")
        for name, v in (("to_float", to_float), ("channels_last", channels_last)):
            if not isinstance(v, bool):
                raise TypeError(f"{name} must be a bool, got {type(v).__name__}")
        self._backend = None
        if device is not None:
            if num_workers:
                raise ValueError(f"device={device!r} gathers in threads; num_workers="
                                 f"{num_workers} (DataLoader processes) is for host batches")
            self._backend = backend_for(device)  # ValueError when CUDA is absent
            if pin_memory is None:
                pin_memory = self._backend.device.type == "cuda"
            # mean/std checked here, once, when the dataset says its channel count
            shape = getattr(dataset, "image_shape", None)
            DeviceRing(self._backend, 0, to_float=to_float, mean=mean, std=std, dtype=dtype,
                       channels=None if shape is None else shape[0])
        elif to_float or channels_last:
            raise ValueError("to_float and channels_last need device= (device='cpu' for host "
                             "tensors)")
        self._ring_args = {"to_float": to_float, "mean": mean, "std": std, "dtype": dtype,
                           "channels_last": channels_last}
        self.device = None if self._backend is None else self._backend.device
        self.dataset, self.threads, self.prefetch = dataset, threads, prefetch
        self.pin_memory, self.num_workers = bool(pin_memory), num_workers
        self._loader = None
        if num_workers:
            from torch.utils.data import DataLoader

            self._loader = DataLoader(dataset, batch_size=None, num_workers=num_workers,
                                      pin_memory=self.pin_memory, **dataloader_kwargs)
        elif dataloader_kwargs:
            raise TypeError(f"DataLoader arguments {sorted(dataloader_kwargs)} need "
                            "num_workers > 0")
        self._epoch, self._consumed = dataset.epoch, 0
        self.wait_seconds = 0.0

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
                t0 = time.perf_counter()
                batch = pending.popleft().result()
                self.wait_seconds += time.perf_counter() - t0
                yield batch
        finally:  # also when the consumer stops early: no thread left behind
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True)

    def _produce(self, ring: DeviceRing, i: int, epoch: int, k: int) -> dict:
        """Gather batch ``i`` (pinned) and queue its copy into ring slot ``k``."""
        return ring.fill(k, self.dataset.get_batch(i, epoch, pin_memory=self.pin_memory))

    def _on_device(self, epoch: int, start: int):
        """Batches of the device ring.

        Batch ``i`` goes to slot ``i % slots``; batch ``i + slots - 1`` is submitted when
        batch ``i`` is taken, after the release of batch ``i - 1``, the previous occupant
        of its slot.
        """
        n = len(self.dataset)
        ahead = max(self.prefetch, 1)
        ring = DeviceRing(self._backend, ahead + 1, **self._ring_args)
        slots = len(ring)
        if self.threads == 0:  # gather on demand; the copy still goes on the side stream
            for i in range(start, n):
                k = i % slots
                batch = self._produce(ring, i, epoch, k)
                ring.hand_over(k)
                try:
                    yield batch
                finally:
                    ring.release(k)
            return
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="rasterfast-prefetch")
        pending: deque = deque()
        nxt = start

        def top_up():
            nonlocal nxt
            while nxt < n and len(pending) < ahead:
                k = nxt % slots
                pending.append((k, pool.submit(self._produce, ring, nxt, epoch, k)))
                nxt += 1

        try:
            top_up()
            while pending:
                k, fut = pending.popleft()
                top_up()  # the slot of the batch before this one is free: one more ahead
                t0 = time.perf_counter()
                batch = fut.result()
                self.wait_seconds += time.perf_counter() - t0
                ring.hand_over(k)
                try:
                    yield batch
                finally:  # also on an early stop: nothing is reused while in use
                    ring.release(k)
        finally:
            for _, f in pending:
                f.cancel()
            pool.shutdown(wait=True)

    def __iter__(self):
        ds = self.dataset
        epoch, start = ds.resume_point()
        self._epoch, self._consumed = epoch, start
        self.wait_seconds = 0.0
        if self._loader is not None:
            source = iter(self._loader)
        elif self._backend is not None:
            source = self._on_device(epoch, start)
        else:
            source = self._threaded(epoch, start)
        try:
            for batch in source:
                self._consumed += 1
                yield batch
        finally:  # an early stop releases the ring slot and stops the threads now
            close = getattr(source, "close", None)  # a DataLoader iterator has none
            if close is not None:
                close()
        ds.end_pass(epoch)  # a full pass happened: the resume point is used up
