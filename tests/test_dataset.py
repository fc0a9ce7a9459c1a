"""ShardDataset: exact epochs over ranks and workers, resuming, set_epoch, filters, word mix."""

import pickle

import numpy as np
import pytest
import torch
from reference_shards import batch_word_chi2, decode_rows, make_shards, ref_window_order
from torch.utils.data import DataLoader

from rasterfast.data import ShardDataset, ShardLoader, World, get_order, partition
from rasterfast.data.order import global_shuffle, sequential, window_shuffle
from rasterfast.format import ShardFormatError, Writer

SIZES = [40, 0, 57, 33, 64, 21, 50]  # 265 drawings, one empty shard
B = 16
WINDOW = 100  # several windows per epoch


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("shards") / "ds"
    truth = make_shards(path, SIZES, size=4, seed=1)
    w = Writer(path.parent / "test_ds", {}, truth["words"], channels=1, size=4)
    test_truth = make_shards(None, [9, 8], words=truth["words"], size=4, seed=2, split="test",
                             writer=w, sort_labels=False)
    return path, truth, path.parent / "test_ds", test_truth


def _ds(path, **kw):
    kw.setdefault("batch_size", B)
    kw.setdefault("window", WINDOW)
    kw.setdefault("return_key_ids", True)
    return ShardDataset(path, **kw)


def _rows(batches, truth):
    """Row numbers of each batch, after checking that images, labels and key_ids agree."""
    out = []
    for b in batches:
        assert b["images"].dtype == torch.uint8 and b["labels"].dtype == torch.int64
        rows = decode_rows(b["images"].numpy())
        assert np.array_equal(b["labels"].numpy(), truth["labels"][rows])
        if "key_ids" in b:
            assert np.array_equal(b["key_ids"].numpy(), truth["key_ids"][rows].astype(np.int64))
        out.append(rows)
    return out


def _iterate(ds, num_workers):
    if num_workers == 0:
        return list(ds)
    return list(DataLoader(ds, batch_size=None, num_workers=num_workers))


# -- orders and partition (pure functions) -------------------------------------------------------
@pytest.mark.parametrize("sizes, window", [([5, 0, 7, 3], 1), ([5, 0, 7, 3], 8), ([10] * 9, 25),
                                           ([3, 1, 4, 1, 5, 9, 2, 6], 1000), ([0, 4], 2)])
@pytest.mark.parametrize("seed, epoch", [(0, 0), (7, 3)])
@pytest.mark.parametrize("block", [1, 3])
def test_window_order_matches_reference(sizes, window, seed, epoch, block):
    order = window_shuffle(sizes, seed, epoch, window=window, block=block)
    ref = ref_window_order(sizes, seed, epoch, window, block)
    assert np.array_equal(order.full(), ref)
    n = len(order)
    assert sorted(ref.tolist()) == list(range(n))
    rng = np.random.default_rng(0)
    for _ in range(10):  # any slice equals the slice of the whole
        a, b = sorted(rng.integers(0, n + 1, 2))
        assert np.array_equal(order.take(a, b), ref[a:b])


def test_orders_are_pure_and_differ_by_epoch():
    sizes = [30, 20, 50]
    for fn in (window_shuffle, global_shuffle):
        a, b = fn(sizes, 1, 0).full(), fn(sizes, 1, 0).full()
        assert np.array_equal(a, b) and sorted(a.tolist()) == list(range(100))
        assert not np.array_equal(a, fn(sizes, 1, 1).full())
        assert not np.array_equal(a, fn(sizes, 2, 0).full())
    assert sequential(sizes, 5, 5).full().tolist() == list(range(100))
    names = r"\['global', 'sequential', 'window'\]"
    with pytest.raises(ValueError, match=r"order must be one of " + names):
        get_order("random")


@pytest.mark.parametrize("n", [1, 2, 5, 16, 17, 100, 265])
@pytest.mark.parametrize("world_size", [1, 2, 3, 7])
@pytest.mark.parametrize("drop_last", [False, True])
def test_partition(n, world_size, drop_last):
    p = partition(n, 4, world_size, drop_last)
    positions = []
    for r in range(world_size):
        for i in range(p.num_batches):
            a, b = p.batch_span(r, i)
            assert b - a == 4 or (not drop_last and i == p.num_batches - 1)
            positions.extend(range(a, b))
    pos = np.array(positions, np.int64)
    if drop_last:
        assert len(pos) == len(set(pos.tolist())) == n - p.dropped and p.dropped < world_size * 4
    else:
        assert len(pos) == n + p.pad and p.pad < world_size
        assert set((pos % n).tolist()) == set(range(n))


def test_world():
    assert World.detect() == World(0, 1)
    assert World.detect(2, 3).with_worker(None) == World(2, 3, 0, 1)
    assert list(World(0, 1, 1, 3).worker_batches(10, 4)) == [5, 8]
    for kw in ({"rank": 1}, {"world_size": 2}):
        with pytest.raises(ValueError, match="both rank and world_size"):
            World.detect(**kw)
    with pytest.raises(ValueError, match="rank must be < world_size"):
        World(3, 3)


# -- epochs over ranks and workers ---------------------------------------------------------------
# 3 workers on a 2-core machine: torch warns, and the test wants 3 anyway
@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")
@pytest.mark.parametrize("world_size", [1, 2, 3])
@pytest.mark.parametrize("num_workers", [0, 1, 3])
def test_every_drawing_once_per_epoch(shard_dir, world_size, num_workers):
    path, truth, *_ = shard_dir
    n = sum(SIZES)
    ref = ref_window_order(SIZES, 5, 0, WINDOW)
    per_rank = []
    for rank in range(world_size):
        ds = _ds(path, seed=5, rank=rank, world_size=world_size)
        batches = _rows(_iterate(ds, num_workers), truth)
        assert len(batches) == len(ds)
        if num_workers:  # same batches, same order, as in the main process
            direct = _rows(_iterate(_ds(path, seed=5, rank=rank, world_size=world_size), 0), truth)
            assert all(np.array_equal(a, b) for a, b in zip(batches, direct, strict=True))
        per_rank.append(batches)
    assert len({len(b) for b in per_rank}) == 1  # every rank the same number of batches
    # the batches are the reference order cut into ranks, padded by wrapping
    part = partition(n, B, world_size)
    for rank, batches in enumerate(per_rank):
        for i, rows in enumerate(batches):
            a, b = part.batch_span(rank, i)
            assert np.array_equal(rows, np.sort(ref[np.arange(a, b) % n]))
    seen = np.concatenate([r for batches in per_rank for r in batches])
    counts = np.bincount(seen, minlength=n)
    assert counts.min() == 1
    assert np.array_equal(np.flatnonzero(counts == 2), np.sort(ref[:part.pad]))
    assert counts.sum() == n + part.pad


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_drop_last_never_twice(shard_dir, world_size):
    path, truth, *_ = shard_dir
    seen = []
    for rank in range(world_size):
        ds = _ds(path, rank=rank, world_size=world_size, drop_last=True)
        batches = _rows(list(ds), truth)
        assert len(batches) == len(ds) == sum(SIZES) // (world_size * B)
        assert all(len(r) == B for r in batches)
        seen.extend(batches)
    seen = np.concatenate(seen)
    assert len(np.unique(seen)) == len(seen) == world_size * len(ds) * B


def test_threads_loader_matches(shard_dir):
    path, truth, *_ = shard_dir
    ds = _ds(path, seed=3)
    direct = _rows(list(ds), truth)
    for threads in (0, 1, 3):
        got = _rows(list(ShardLoader(ds, threads=threads, prefetch=2)), truth)
        assert all(np.array_equal(a, b) for a, b in zip(got, direct, strict=True))


# -- epochs and resuming ---------------------------------------------------------------------------
def test_resume_mid_epoch_main_process(shard_dir):
    path, truth, *_ = shard_dir
    ds = _ds(path, seed=9)
    ds.set_epoch(2)
    full = _rows(list(_epoch(_ds(path, seed=9), 2)), truth)
    it = iter(ds)
    head = [next(it) for _ in range(5)]
    state = ds.state_dict()
    assert state["epoch"] == 2 and state["batches_consumed"] == 5
    again = _ds(path, seed=9)
    again.load_state_dict(state)
    again.set_epoch(2)  # a training loop calls this at the top of the epoch: keeps the resume
    rest = _rows(list(again), truth)
    got = _rows(head, truth) + rest
    assert all(np.array_equal(a, b) for a, b in zip(got, full, strict=True))
    # the next pass over epoch 2 is whole again; set_epoch(3) gives a new order
    assert len(list(again)) == len(again)
    again.set_epoch(3)
    assert not np.array_equal(_rows([next(iter(again))], truth)[0], full[0])


def _epoch(ds, e):
    ds.set_epoch(e)
    return ds


def test_resume_with_workers(shard_dir):
    path, truth, *_ = shard_dir
    full = _rows(list(_epoch(_ds(path, seed=4), 1)), truth)
    loader = ShardLoader(_epoch(_ds(path, seed=4), 1), num_workers=2)
    it = iter(loader)
    head = [next(it) for _ in range(7)]
    state = loader.state_dict()
    del it
    assert state["batches_consumed"] == 7
    ds = _ds(path, seed=4)
    ds.load_state_dict(state)
    rest = _rows(list(DataLoader(ds, batch_size=None, num_workers=2)), truth)
    got = _rows(head, truth) + rest
    assert all(np.array_equal(a, b) for a, b in zip(got, full, strict=True))
    # the count can also be passed by the training loop
    assert ds.state_dict(batches_consumed=7)["batches_consumed"] == 7
    with pytest.raises(ValueError, match="batches_consumed"):
        ds.state_dict(batches_consumed=len(ds) + 1)


def test_set_epoch_reaches_persistent_workers(shard_dir):
    path, truth, *_ = shard_dir
    ds = _ds(path, seed=2)
    loader = DataLoader(ds, batch_size=None, num_workers=2, persistent_workers=True)
    e0 = _rows(list(loader), truth)
    ds.set_epoch(1)
    e1 = _rows(list(loader), truth)
    # and a resume point set in the main process reaches them too
    state = _ds(path, seed=2).state_dict(batches_consumed=3)  # epoch 0, 3 batches taken
    ds.load_state_dict(state)
    e0_rest = _rows(list(loader), truth)
    want0 = _rows(list(_ds(path, seed=2)), truth)
    want1 = _rows(list(_epoch(_ds(path, seed=2), 1)), truth)
    assert all(np.array_equal(a, b) for a, b in zip(e0, want0, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(e1, want1, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(e0_rest, want0[3:], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(e0, e1, strict=True))


def test_state_dict_must_match(shard_dir):
    path, *_ = shard_dir
    state = _ds(path, seed=1).state_dict(batches_consumed=2)
    for kw, field in (({"seed": 2}, "seed"), ({"batch_size": 8}, "batch_size"),
                      ({"rank": 0, "world_size": 2}, "world_size")):
        with pytest.raises(ValueError, match=field):
            _ds(path, **{"seed": 1, **kw}).load_state_dict(state)


# -- filters, test split, errors -----------------------------------------------------------------
def test_filters_use_metadata(shard_dir):
    path, truth, *_ = shard_dir
    words = truth["words"]
    keep = np.isin(truth["labels"], [2, 5]) & (truth["recognized"] == 1) & \
        (truth["entropy"] >= 1.0) & (truth["entropy"] <= 3.0)
    ds = _ds(path, words=[words[2], words[5]], recognized=True, entropy=(1.0, 3.0))
    assert ds.count == keep.sum() and ds.num_classes == len(words)
    rows = np.concatenate(_rows(list(ds), truth))
    assert np.array_equal(np.sort(rows), np.flatnonzero(keep))
    ds = _ds(path, entropy=(None, 2.0), shuffle=False)
    rows = np.concatenate(_rows(list(ds), truth))
    assert np.array_equal(rows, np.flatnonzero(truth["entropy"] <= 2.0))
    with pytest.raises(ValueError, match="not in this directory's word list"):
        _ds(path, words=["no such word"])
    with pytest.raises(ValueError, match="lo <= hi"):
        _ds(path, entropy=(3, 1))


def test_test_split_stored_order(shard_dir):
    *_, test_path, test_truth = shard_dir
    ds = _ds(test_path, split="test", shuffle=False, batch_size=4)
    batches = list(ds)
    rows = np.concatenate(_rows(batches, test_truth))
    assert rows.tolist() == list(range(17))
    kid = np.concatenate([b["key_ids"].numpy() for b in batches])
    assert np.array_equal(kid, test_truth["key_ids"].astype(np.int64))
    assert [len(b["labels"]) for b in batches] == [4, 4, 4, 4, 1]
    with pytest.raises(ValueError, match=r"split 'train' is not in this directory; "
                                         r"it has \['test'\]"):
        _ds(test_path)


def test_bad_directory_is_an_error_at_construction(tmp_path):
    path = tmp_path / "ds"
    make_shards(path, [5, 6], size=4)
    (path / "train" / "000001.images.npy").unlink()
    with pytest.raises(ShardFormatError, match="000001.images.npy: missing"):
        ShardDataset(path)


def test_pickles_without_open_maps(shard_dir):
    path, truth, *_ = shard_dir
    ds = _ds(path)
    next(iter(ds))
    assert ds.reader.mapped
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.reader.mapped == 0
    assert np.array_equal(_rows([clone.get_batch(0)], truth)[0], _rows([ds.get_batch(0)], truth)[0])


@pytest.mark.parametrize("kw, err", [({"batch_size": 0}, ValueError), ({"seed": -1}, ValueError),
                                     ({"shuffle": 1}, TypeError), ({"order": "nope"}, ValueError),
                                     ({"rank": 2, "world_size": 2}, ValueError)])
def test_bad_arguments(shard_dir, kw, err):
    with pytest.raises(err):
        ShardDataset(shard_dir[0], **kw)


# -- word mix ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mix_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("mix") / "ds"
    truth = make_shards(path, [400] * 12, words=[f"w{i}" for i in range(20)], size=2, seed=4,
                        sort_labels=True)
    return path, truth


@pytest.mark.parametrize("order, window", [("window", 1200), ("window", 400), ("global", 1)])
def test_batches_mix_words_like_a_uniform_draw(mix_dir, order, window):
    path, truth = mix_dir
    ds = ShardDataset(path, batch_size=100, seed=11, order=order, window=window,
                      drop_last=True)
    labels = [b["labels"].numpy() for b in ds]
    stat, df, p = batch_word_chi2(labels, 20)
    assert p > 1e-3, (stat, df, p)


def test_word_mix_test_detects_unshuffled(mix_dir):
    path, _ = mix_dir  # negative controls: the stored (label-sorted) order fails the test,
    ds = ShardDataset(path, batch_size=100, shuffle=False, drop_last=True)
    _, _, p = batch_word_chi2([b["labels"].numpy() for b in ds], 20)
    assert p < 1e-12
    # and so do runs of 4 rows when the rows of a shard are grouped by word (documented)
    ds = ShardDataset(path, batch_size=100, seed=11, window=1200, block=4, drop_last=True)
    _, _, p = batch_word_chi2([b["labels"].numpy() for b in ds], 20)
    assert p < 1e-12


def test_block_order_mixes_hash_ordered_shards(tmp_path):
    # rows of a shard in random order, as `rasterfast build` writes them: runs of 4 are fine
    path = tmp_path / "ds"
    make_shards(path, [400] * 12, words=[f"w{i}" for i in range(20)], size=2, seed=5,
                sort_labels=False)
    ds = ShardDataset(path, batch_size=100, seed=11, window=1200, block=4, drop_last=True)
    stat, df, p = batch_word_chi2([b["labels"].numpy() for b in ds], 20)
    assert p > 1e-3, (stat, df, p)
    rows = np.concatenate([decode_rows(b["images"].numpy()) for b in ds])
    assert len(np.unique(rows)) == len(rows) == len(ds) * 100


_TRUNCATE_WHILE_MAPPED = r"""
import shutil, sys
from pathlib import Path
import rasterfast
from rasterfast.format import ShardFormatError

src, dst, kind = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
shutil.copytree(src, dst)
if kind == "images":
    ds = rasterfast.ShardDataset(dst, batch_size=2, shuffle=False)
    victim = dst / "train/000000.images.npy"
    keep = 4096                  # the header: the first image's page is gone
else:
    ds = rasterfast.StrokeDataset(dst, "gray", size=16, batch_size=2, shuffle=False, threads=1)
    victim = dst / "train/000000.strokes"
    keep = 0
ds.get_batch(0)                  # maps the file
with open(victim, "r+b") as fh:  # another process rewrites the build in place
    fh.truncate(keep)
try:
    ds.get_batch(0)
except ShardFormatError as err:
    assert err.path == str(victim), err
    print("ERROR", err)
else:
    print("NO ERROR")
"""


@pytest.mark.parametrize("kind", ["images", "strokes"])
def test_file_truncated_after_mapping_is_an_error_not_sigbus(tmp_path, kind):
    """Issue 16 (adversarial item 2): a shard truncated after a dataset mapped it killed the
    process with SIGBUS at the next batch; now that batch raises ShardFormatError."""
    import subprocess
    import sys
    from pathlib import Path

    fixture = Path(__file__).resolve().parent / "fixtures" / "shards_v2"
    proc = subprocess.run([sys.executable, "-c", _TRUNCATE_WHILE_MAPPED, str(fixture),
                           str(tmp_path / "d"), kind], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.startswith("ERROR") and "truncated" in proc.stdout, proc.stdout


def test_check_reaches_the_reader_for_the_dataset_split_only(tmp_path):
    """Issue 16: ShardDataset(check=...) hashes the files of its own split when made."""
    path = tmp_path / "ds"
    w = Writer(path, {}, [f"word {i}" for i in range(10)], channels=1, size=4)
    make_shards(None, [5, 6], size=4, seed=3, writer=w, finish=False)
    make_shards(None, [4], size=4, seed=4, split="val", writer=w)
    f = path / "val/000000.labels.npy"
    data = bytearray(f.read_bytes())
    data[-2] = (data[-2] + 1) % 10          # another valid label
    f.write_bytes(bytes(data))
    ShardDataset(path, split="val")                   # sizes and headers are right
    ShardDataset(path, split="train", check="full")   # the altered file is not train's
    with pytest.raises(ShardFormatError, match="altered") as info:
        ShardDataset(path, split="val", check="labels")
    assert info.value.path == str(f)
    with pytest.raises(ValueError, match="check must be one of"):
        ShardDataset(path, check="everything")
