"""Batches onto the device: a ring of reused device buffers filled on a side stream.

:class:`~rasterfast.data.ShardLoader` with ``device=`` hands each gathered (pinned) host
batch to :meth:`DeviceRing.fill` in its prefetch thread, and the training loop receives
views of a ring slot. The protocol, per slot ``k`` holding batch ``i``:

1. fill (prefetch thread): the side stream waits on the slot's ``free`` event (the
   training stream is done with batch ``i - slots``), copies the host batch into the
   slot's device buffers (``non_blocking``), converts it there (``to_float``,
   ``channels_last``) and records the slot's ``ready`` event;
2. hand over (training thread): the training stream waits on ``ready``: a device-side
   wait, the host never blocks on the GPU;
3. release (training thread, when it asks for the next batch): ``free`` is recorded on
   the training stream, after every kernel the step queued on batch ``i``.

The loader only fills slot ``k`` again after step 3 has happened on the host (it submits
batch ``i + slots`` after the release of batch ``i``), so a fill never waits on an event
that has not been recorded yet. Buffers are allocated once per pass over the data and
reused; a buffer that has to grow (a larger batch) is dropped only after
``record_stream`` on the training stream, so the caching allocator does not hand its
memory out while a step may still read it. The pinned host batch may be dropped as soon as
its copy is queued: PyTorch's caching host allocator records an event for every
``non_blocking`` copy out of a pinned block and does not reuse the block before it
completes.

On the CPU (``device="cpu"``, and so on machines without CUDA) the same ring runs with a
backend whose copies are synchronous and whose events are no-ops: the fill (copy and
conversion) runs in the prefetch thread, so it overlaps the training step just the same,
and the slot and release bookkeeping is the code that runs on a GPU. The CUDA backend
itself could not be run where this was written (no GPU): it is :class:`_CudaBackend`, a
few lines of ``torch.cuda.Stream``/``Event`` calls.
"""

from __future__ import annotations

import contextlib
import threading

import torch

from ..gpu import affine_for, to_float_into

__all__ = ["DeviceRing", "backend_for"]


class _HostBackend:
    """The device is the host: copies are synchronous, events and streams are no-ops."""

    def __init__(self, device: torch.device):
        self.device = device
        self.lock = contextlib.nullcontext()  # per-slot buffers: fills may run in parallel

    def side(self):
        """Context in which the fill's work is queued (the side stream on CUDA)."""
        return contextlib.nullcontext()

    def new_event(self):
        return None

    def side_wait(self, event) -> None:
        """Make the side stream wait for ``event`` (a slot's ``free``)."""

    def side_record(self, event) -> None:
        """Record ``event`` (a slot's ``ready``) on the side stream."""

    def consumer_wait(self, event) -> None:
        """Make the training thread's current stream wait for ``event`` (``ready``)."""

    def consumer_record(self, event) -> None:
        """Record ``event`` (``free``) on the training thread's current stream."""

    def keep_alive(self, tensors) -> None:
        """Tell the allocator that the training stream uses ``tensors`` (``record_stream``)."""


class _CudaBackend(_HostBackend):
    """A side ``torch.cuda.Stream`` for the copies; ``torch.cuda.Event`` per slot and role.

    Written for a GPU and not run where it was written (no GPU there): the calls are
    those of the CUDA semantics notes of PyTorch
    (https://pytorch.org/docs/stable/notes/cuda.html#cuda-streams).
    """

    def __init__(self, device: torch.device):
        super().__init__(device)
        self.stream = torch.cuda.Stream(device)
        # Several prefetch threads share the side stream: the lock keeps one batch's
        # wait, copies, conversion and record together in the stream's order.
        self.lock = threading.Lock()

    def side(self):
        return torch.cuda.stream(self.stream)

    def new_event(self):
        return torch.cuda.Event()

    def side_wait(self, event) -> None:
        self.stream.wait_event(event)  # a never-recorded event is a no-op: a fresh slot

    def side_record(self, event) -> None:
        event.record(self.stream)

    def consumer_wait(self, event) -> None:
        torch.cuda.current_stream(self.device).wait_event(event)

    def consumer_record(self, event) -> None:
        event.record(torch.cuda.current_stream(self.device))

    def keep_alive(self, tensors) -> None:
        stream = torch.cuda.current_stream(self.device)
        for t in tensors:
            t.record_stream(stream)


def backend_for(device) -> _HostBackend:
    """The backend of ``device`` (``"cpu"`` or ``"cuda[:n]"``, str or torch.device)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu' or 'cuda[:n]', got {device!r}") from err
    if dev.type == "cpu":
        return _HostBackend(dev)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} needs a CUDA build of torch and a GPU; torch "
                             f"{torch.__version__} reports torch.cuda.is_available() = False "
                             "(pass device='cpu' to run the same loader on the host)")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        return _CudaBackend(dev)
    raise ValueError(f"device must be 'cpu' or 'cuda[:n]', got {device!r} "
                     f"(type {dev.type!r} is not supported)")


class _Slot:
    __slots__ = ("buffers", "ready", "free")

    def __init__(self, backend):
        self.buffers: dict[str, torch.Tensor] = {}
        self.ready = backend.new_event()
        self.free = backend.new_event()


class DeviceRing:
    """``slots`` sets of device buffers, filled on a side stream, handed over by events.

    Parameters
    ----------
    backend : object
        From :func:`backend_for`.
    slots : int
        Buffers in the ring: the batch the training loop holds plus those prepared ahead.
    to_float : bool
        Yield ``images`` as normalised floats (``(x / 255 - mean) / std``, as
        :func:`rasterfast.to_float`), converted on the side stream into a reused buffer.
    mean, std, dtype
        Of the conversion; ``mean``/``std`` one value or one per channel.
    channels_last : bool
        Yield ``images`` in ``torch.channels_last`` memory format (NHWC strides).
    channels : int, optional
        Channels of the images: checks ``mean``/``std`` here; otherwise at the first batch.
    """

    def __init__(self, backend, slots: int, *, to_float: bool = False, mean=0.5, std=0.5,
                 dtype=torch.float32, channels_last: bool = False, channels: int | None = None):
        self.backend, self.to_float, self.dtype = backend, to_float, dtype
        self.channels_last = channels_last
        self._slots = [_Slot(backend) for _ in range(slots)]
        self._mean, self._std = mean, std
        self._affine_cache: dict[int, tuple] = {}  # channels -> (scale, shift)
        if to_float and channels is not None:
            self._constants(channels)

    def _constants(self, channels: int) -> tuple:
        """``(scale, shift)`` of ``to_float`` for ``channels``, on the device, made once."""
        got = self._affine_cache.get(channels)
        if got is None:
            scale, shift = affine_for(channels, self._mean, self._std, self.dtype)
            if not isinstance(scale, float):  # per channel: (C, 1, 1) on the device
                scale, shift = (torch.as_tensor(v, dtype=self.dtype, device=self.backend.device)
                                .reshape(-1, 1, 1) for v in (scale, shift))
            got = self._affine_cache[channels] = (scale, shift)
        return got

    def __len__(self) -> int:
        return len(self._slots)

    def _buffer(self, slot: _Slot, name: str, like: torch.Tensor, dtype=None,
                channels_last: bool = False) -> torch.Tensor:
        """Slot buffer ``name`` with room for ``like``; allocated on first use, then reused."""
        dtype = like.dtype if dtype is None else dtype
        buf = slot.buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.shape[1:] != like.shape[1:] or \
                buf.shape[0] < like.shape[0]:
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            # allocated under the side stream: its memory is that stream's; the old
            # buffer (if any) was kept alive for the training stream by keep_alive
            buf = torch.empty(like.shape, dtype=dtype, device=self.backend.device,
                              memory_format=fmt)
            slot.buffers[name] = buf
        return buf[:like.shape[0]]

    def fill(self, k: int, batch: dict) -> dict:
        """Copy host ``batch`` into slot ``k`` on the side stream; return the device batch.

        Call only after :meth:`release` of the slot's previous batch (the loader's
        submission order guarantees it). ``key_ids`` (identifiers for a submission, not
        model input) stay on the host.
        """
        slot, be = self._slots[k], self.backend
        images = batch["images"]
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise TypeError(f"batch images must be uint8 [B, C, H, W], got {images.dtype} "
                            f"{tuple(images.shape)}")
        out = dict(batch)
        if self.to_float:
            scale, shift = self._constants(images.shape[1])
        with be.lock, be.side():
            be.side_wait(slot.free)
            raw = self._buffer(slot, "images", images)
            raw.copy_(images, non_blocking=True)
            if self.to_float:
                conv = self._buffer(slot, "float", images, self.dtype, self.channels_last)
                raw = to_float_into(raw, conv, scale, shift)
            elif self.channels_last:
                conv = self._buffer(slot, "channels_last", images, channels_last=True)
                raw = conv.copy_(raw)
            out["images"] = raw
            for name in ("labels",):
                if name in batch:
                    dst = self._buffer(slot, name, batch[name])
                    out[name] = dst.copy_(batch[name], non_blocking=True)
            be.side_record(slot.ready)
        return out

    def hand_over(self, k: int) -> None:
        """The training stream waits (on the device) until slot ``k`` is filled."""
        slot = self._slots[k]
        self.backend.consumer_wait(slot.ready)
        self.backend.keep_alive(slot.buffers.values())

    def release(self, k: int) -> None:
        """The training loop is done queuing work on slot ``k``: it may be filled again."""
        self.backend.consumer_record(self._slots[k].free)

