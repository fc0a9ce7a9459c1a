"""ShardLoader(device=...): the device ring, on the CPU backend and a recording one (issue 15).

The CUDA backend needs a GPU; without one these tests run the same ring with synchronous
copies, and check the stream/event protocol through a backend that logs every call.
"""

import threading

import numpy as np
import pytest
import torch
from reference_shards import decode_rows, make_shards

from rasterfast import to_float
from rasterfast.data import ShardDataset, ShardLoader
from rasterfast.data import device as device_mod
from rasterfast.data import loader as loader_mod

SIZES = [40, 0, 57, 33, 21]  # 151 drawings
B = 16
WAIT = 60  # seconds: a guard against a hang, never reached when the code is right


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("loader") / "ds"
    truth = make_shards(path, SIZES, channels=3, size=4, seed=1)
    return path, truth


def _ds(path, **kw):
    kw.setdefault("batch_size", B)
    kw.setdefault("seed", 3)
    kw.setdefault("return_key_ids", True)
    return ShardDataset(path, **kw)


def _host_rows(ds):
    return [decode_rows(b["images"].numpy()) for b in ds]


@pytest.mark.parametrize("threads, prefetch", [(0, None), (1, None), (1, 1), (3, 2)])
def test_device_cpu_yields_the_dataset_batches(shard_dir, threads, prefetch):
    path, truth = shard_dir
    ds = _ds(path)
    want = _host_rows(_ds(path))
    loader = ShardLoader(ds, device="cpu", threads=threads, prefetch=prefetch)
    assert loader.device == torch.device("cpu") and not loader.pin_memory
    got, ptrs = [], set()
    for b in loader:
        rows = decode_rows(b["images"].numpy())
        got.append(rows)
        assert b["labels"].dtype == torch.int64
        assert np.array_equal(b["labels"].numpy(), truth["labels"][rows])
        assert np.array_equal(b["key_ids"].numpy(), truth["key_ids"][rows].astype(np.int64))
        ptrs.add(b["images"].data_ptr())
    assert all(np.array_equal(a, w) for a, w in zip(got, want, strict=True))
    # the ring's buffers are reused: one per slot, prefetch + 1 slots
    ahead = max(loader.prefetch, 1)
    assert len(ptrs) == min(ahead + 1, len(ds))


@pytest.mark.parametrize("mean, std, dtype", [(0.5, 0.5, torch.float32),
                                              ((0.1, 0.2, 0.3), (0.2, 0.3, 0.4), torch.float64),
                                              (0.0, 1.0, torch.bfloat16)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_to_float_and_channels_last_on_the_way(shard_dir, mean, std, dtype, channels_last):
    path, _ = shard_dir
    host = list(_ds(path))
    loader = ShardLoader(_ds(path), device="cpu", to_float=True, mean=mean, std=std,
                         dtype=dtype, channels_last=channels_last)
    for b, h in zip(loader, host, strict=True):
        x = b["images"]
        assert x.dtype == dtype and x.shape == h["images"].shape
        assert x.is_contiguous(memory_format=torch.channels_last) == channels_last or \
            x.shape[0] == 1
        want = to_float(h["images"], mean, std, dtype=dtype)
        assert torch.equal(x.contiguous(), want)
        assert torch.equal(b["labels"], h["labels"])
    loader = ShardLoader(_ds(path), device="cpu", channels_last=True)
    for b, h in zip(loader, host, strict=True):
        assert b["images"].dtype == torch.uint8
        assert b["images"].is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(b["images"], h["images"])


class _Watched(ShardDataset):
    """A ShardDataset that says which batches were gathered, and in which thread."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.entered: dict[int, threading.Event] = {}
        self.threads: dict[int, int] = {}

    def get_batch(self, batch, epoch=None, *, pin_memory=False):
        self.threads[batch] = threading.get_ident()
        self.entered.setdefault(batch, threading.Event()).set()
        return super().get_batch(batch, epoch, pin_memory=pin_memory)

    def wait_entered(self, batch) -> bool:
        return self.entered.setdefault(batch, threading.Event()).wait(WAIT)


def test_batches_are_prepared_while_the_consumer_works(shard_dir):
    # Issue 15: the loader's work overlaps the step. Structural, no timing: the consumer
    # holds batch 0 and blocks; batches 1 and 2 are gathered and filled meanwhile, in
    # another thread, and no further (the ring has prefetch + 1 = 3 slots).
    path, _ = shard_dir
    ds = _Watched(path, batch_size=B, seed=3)
    want = _host_rows(_ds(path))
    loader = ShardLoader(ds, device="cpu", threads=1, prefetch=2, to_float=True,
                         mean=0.0, std=1 / 255)  # to_float(x) == x: rows still decodable
    it = iter(loader)
    first = next(it)
    rows0 = decode_rows(first["images"].to(torch.uint8).numpy())
    # one prefetch thread runs the tasks in order: batch 2 entered = batch 1 filled
    assert ds.wait_entered(2)
    assert ds.threads[1] != threading.get_ident() and ds.threads[2] != threading.get_ident()
    assert 3 not in ds.threads  # the ring is full: batch 3 waits for batch 0's slot
    assert np.array_equal(decode_rows(first["images"].to(torch.uint8).numpy()), rows0)
    ptr0 = first["images"].data_ptr()
    got, ptrs = [rows0], [ptr0]
    for b in it:  # (a batch is valid until the next is taken: decode each in turn)
        if len(got) == 1:  # taking batch 1 released batch 0's slot: batch 3 may go there
            assert ds.wait_entered(3)
        got.append(decode_rows(b["images"].to(torch.uint8).numpy()))
        ptrs.append(b["images"].data_ptr())
    assert all(np.array_equal(a, w) for a, w in zip(got, want, strict=True))
    assert len(set(ptrs[:3])) == 3 and ptrs[3] == ptr0  # batch 3 reuses slot 0


class _RecordingBackend(device_mod._HostBackend):
    """The host backend, logging every stream and event call as CUDA would see them."""

    def __init__(self, device):
        super().__init__(device)
        self.log, self._lock, self._n = [], threading.Lock(), 0

    def _add(self, op, arg):
        with self._lock:
            self.log.append((op, arg, threading.get_ident()))

    def new_event(self):
        with self._lock:
            self._n += 1
            return f"event{self._n}"

    def side_wait(self, event):
        self._add("side_wait", event)

    def side_record(self, event):
        self._add("side_record", event)

    def consumer_wait(self, event):
        self._add("consumer_wait", event)

    def consumer_record(self, event):
        self._add("consumer_record", event)

    def keep_alive(self, tensors):
        self._add("keep_alive", len(list(tensors)))


@pytest.mark.parametrize("threads", [0, 1, 3])
def test_stream_protocol(shard_dir, monkeypatch, threads):
    # Per slot, the calls must cycle: the side stream waits on `free`, records `ready`; the
    # training stream waits on `ready`, then records `free` before the slot is filled again.
    path, _ = shard_dir
    backend = _RecordingBackend(torch.device("cpu"))
    monkeypatch.setattr(loader_mod, "backend_for", lambda device: backend)
    loader = ShardLoader(_ds(path), device="cuda", threads=threads, prefetch=2, to_float=True)
    n = 0
    for _ in loader:
        backend._add("yield", n)
        n += 1
    assert n == len(loader)
    log = backend.log
    per_slot: dict[str, list] = {}  # event -> the calls on it, in order
    for op, ev, _ in log:
        if op in ("side_wait", "side_record", "consumer_wait", "consumer_record"):
            per_slot.setdefault(ev, []).append(op)
    cycle = {"side_wait": "consumer_record", "consumer_record": "side_wait",
             "side_record": "consumer_wait", "consumer_wait": "side_record"}
    for ev, ops in per_slot.items():
        # a ready event alternates side_record, consumer_wait; a free event side_wait,
        # consumer_record (the last pass ends released)
        assert ops[0] in ("side_wait", "side_record"), (ev, ops)
        assert all(cycle[a] == b for a, b in zip(ops, ops[1:], strict=False)), (ev, ops)
        assert ops[-1] in ("consumer_record", "consumer_wait"), (ev, ops)
    # in the training thread, every yield right after a consumer_wait and the keep_alive
    # of its buffers; with prefetch threads, no side-stream call from the training thread
    mine = [op for op, _, t in log if t == threading.get_ident()]
    yields = [i for i, op in enumerate(mine) if op == "yield"]
    assert len(yields) == n
    assert all(mine[i - 2:i] == ["consumer_wait", "keep_alive"] for i in yields)
    assert threads == 0 or not {"side_wait", "side_record"} & set(mine)
    # a fill of a slot's free event comes after the release of its previous batch: the
    # side_wait on a free event is preceded by as many consumer_records as earlier waits
    for ops in per_slot.values():
        if ops[0] == "side_wait":
            assert ops.count("side_wait") == ops.count("consumer_record")
    assert len({ev for ev, ops in per_slot.items() if ops[0] == "side_wait"}) == 3  # slots


def test_early_stop_then_full_pass(shard_dir):
    path, _ = shard_dir
    ds = _ds(path)
    want = _host_rows(_ds(path))
    loader = ShardLoader(ds, device="cpu", threads=2)
    for i, _ in enumerate(loader):
        if i == 2:
            break
    got = [decode_rows(b["images"].numpy()) for b in loader]
    assert all(np.array_equal(a, w) for a, w in zip(got, want, strict=True))


def test_resume_on_the_device_path(shard_dir):
    path, _ = shard_dir
    want = _host_rows(_ds(path))
    loader = ShardLoader(_ds(path), device="cpu")
    it = iter(loader)
    head = [decode_rows(next(it)["images"].numpy()) for _ in range(4)]
    state = loader.state_dict()
    it.close()
    assert state["batches_consumed"] == 4
    again = ShardLoader(_ds(path), device="cpu", threads=2)
    again.load_state_dict(state)
    rest = [decode_rows(b["images"].numpy()) for b in again]
    assert all(np.array_equal(a, w) for a, w in zip(head + rest, want, strict=True))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_without_cuda_is_a_clear_error(shard_dir):
    with pytest.raises(ValueError, match=r"torch.cuda.is_available\(\) = False.*device='cpu'"):
        ShardLoader(_ds(shard_dir[0]), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_batches_equal_host_batches(shard_dir):
    path, _ = shard_dir
    host = list(_ds(path))
    loader = ShardLoader(_ds(path), device="cuda", to_float=True, mean=0.0, std=1 / 255,
                         channels_last=True)
    assert loader.pin_memory
    for b, h in zip(loader, host, strict=True):
        assert b["images"].is_cuda and b["labels"].is_cuda and not b["key_ids"].is_cuda
        assert torch.equal(b["images"].cpu().to(torch.uint8), h["images"])
        assert torch.equal(b["labels"].cpu(), h["labels"])


@pytest.mark.parametrize("kw, err, match", [
    ({"to_float": True}, ValueError, "need device="),
    ({"channels_last": True}, ValueError, "need device="),
    ({"device": "cpu", "num_workers": 2}, ValueError, "gathers in threads"),
    ({"device": "tpu"}, ValueError, "'cpu' or 'cuda"),
    ({"device": "cpu", "to_float": 1}, TypeError, "to_float must be a bool"),
    ({"device": "cpu", "to_float": True, "mean": (0.1, 0.2)}, ValueError, "one per channel"),
    ({"device": "cpu", "to_float": True, "dtype": torch.int32}, ValueError, "floating"),
    ({"device": "cpu", "threads": -1}, ValueError, "threads must be"),
])
def test_bad_arguments(shard_dir, kw, err, match):
    with pytest.raises(err, match=match):
        ShardLoader(_ds(shard_dir[0]), **kw)


def test_dataset_type_is_checked():
    with pytest.raises(TypeError,
                       match="dataset must be a ShardDataset or StrokeDataset, got list"):
        ShardLoader([1, 2, 3], device="cpu")


class _FakeCuda:
    """Stand-ins for torch.cuda.Stream/Event/stream/current_stream and record_stream, with
    the signatures of the real ones, logging calls: runs every line of _CudaBackend on a
    machine without a GPU (the copies themselves are host copies)."""

    def __init__(self):
        self.log, self.lock, fake = [], threading.Lock(), self
        self.current = threading.local()

        class Stream:
            def __init__(self, device=None, priority=0):
                self.name = "side" if fake.streams else "default"
                fake.streams.append(self)

            def wait_event(self, event):
                fake.add("wait", self.name, event)

        class Event:
            def __init__(self, enable_timing=False, blocking=False, interprocess=False):
                with fake.lock:
                    self.name = f"ev{len(fake.events)}"
                    fake.events.append(self)

            def record(self, stream=None):
                fake.add("record", (stream or fake.current_stream()).name, self)

        self.streams, self.events = [], []
        self.Stream, self.Event = Stream, Event
        self.default = Stream()

    def add(self, op, stream, what):
        with self.lock:
            self.log.append((op, stream, getattr(what, "name", what), threading.get_ident()))

    def current_stream(self, device=None):
        return getattr(self.current, "stream", self.default)

    def stream(self, s):
        import contextlib

        @contextlib.contextmanager
        def ctx():
            before = self.current_stream()
            self.current.stream = s
            try:
                yield
            finally:
                self.current.stream = before
        return ctx()


def test_cuda_backend_calls_on_fakes(shard_dir, monkeypatch):
    path, _ = shard_dir
    fake = _FakeCuda()
    for name in ("Stream", "Event", "stream", "current_stream"):
        monkeypatch.setattr(torch.cuda, name, getattr(fake, name))
    monkeypatch.setattr(torch.Tensor, "record_stream",
                        lambda t, s: fake.add("record_stream", s.name, "buf"), raising=False)
    monkeypatch.setattr(loader_mod, "backend_for",
                        lambda device: device_mod._CudaBackend(torch.device("cpu")))
    want = _host_rows(_ds(path))
    loader = ShardLoader(_ds(path), device="cuda", threads=2, prefetch=2, pin_memory=False)
    got = [decode_rows(b["images"].numpy()) for b in loader]
    assert all(np.array_equal(a, w) for a, w in zip(got, want, strict=True))
    log = fake.log
    mine = threading.get_ident()
    # side stream: waits and records only from the prefetch threads; the training thread
    # waits on the default (current) stream and records the free events there
    assert {(op, s) for op, s, _, t in log if t != mine} == {("wait", "side"), ("record", "side")}
    assert {(op, s) for op, s, _, t in log if t == mine} == \
        {("wait", "default"), ("record", "default"), ("record_stream", "default")}
    assert sum(op == "wait" and s == "default" for op, s, _, _ in log) == len(loader)


def test_device_loader_takes_a_stroke_dataset(tmp_path, data_dir):
    """Issue 11 + 15: StrokeDataset batches through the device ring equal its own batches."""
    from rasterfast import StrokeDataset
    from rasterfast.pipeline import build

    files = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[:10]
    build(files, tmp_path / "s", "gray", size=32, progress=False, images=False)
    ds = StrokeDataset(tmp_path / "s", "gray", size=32, batch_size=64, seed=1)
    want = [b["images"].clone() for b in ds]
    got = [b["images"].clone() for b in ShardLoader(ds, device="cpu", threads=1)]
    assert all(torch.equal(a, b) for a, b in zip(want, got, strict=True))


def test_shared_allocation_falls_back_to_public_torch_api(monkeypatch):
    """Issue 16: rasterfast/data used torch's private _typed_storage()._new_shared with no
    fallback; when torch lacks it, the public share_memory_() path is taken for good."""
    from rasterfast.data import base

    got = base._alloc_uint8((3, 1, 4, 4), shared=True, pin=False)
    assert got.is_shared() and got.shape == (3, 1, 4, 4) and got.dtype == torch.uint8

    def gone(numel):
        raise AttributeError("'TypedStorage' object has no attribute '_new_shared'")

    monkeypatch.setattr(base, "_new_shared", gone)
    got = base._alloc_uint8((2, 3, 5, 5), shared=True, pin=False)
    assert got.is_shared() and got.shape == (2, 3, 5, 5)
    assert base._new_shared is base._new_shared_public
    got.numpy()[:] = 7  # writable, and its own memory
    assert int(got.sum()) == 7 * 150
    assert not base._alloc_uint8((2, 2), shared=False, pin=False).is_shared()
