"""StrokeDataset (issue 11): batches rendered on the fly equal ShardDataset's, byte for byte."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from rasterfast import Recipe, ShardDataset, ShardFormatError, StrokeDataset, render
from rasterfast.data import ShardLoader
from rasterfast.format import Reader
from rasterfast.pipeline import build

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def simplified_inputs(data_dir, n_words=40):
    files = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[:n_words]
    return files + [data_dir / "kaggle" / "test_simplified.csv"]


def raw_inputs(data_dir, n_words=40):
    files = sorted((data_dir / "kaggle" / "train_raw").iterdir())[:n_words]
    return files + [data_dir / "kaggle" / "test_raw.csv.gz"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, data_dir):
    """Image builds of the real sample for four recipes, and a --no-images one."""
    root = tmp_path_factory.mktemp("sd")
    out = {}
    for name, size, inputs in (("gray", 32, simplified_inputs), ("beluga", 32, simplified_inputs),
                               ("order3", 24, simplified_inputs), ("time3", 40, raw_inputs)):
        out[name] = build(inputs(data_dir), root / name, name, size=size, shard_size=300,
                          val_fraction=0.1, progress=False), root / name, size
    build(simplified_inputs(data_dir), root / "strokes-only", "gray", size=32, shard_size=300,
          val_fraction=0.1, progress=False, images=False)
    out["strokes-only"] = root / "strokes-only"
    return out


def same_batches(a, b, epochs=(0, 1)):
    n = 0
    for epoch in epochs:
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        got_a, got_b = list(a), list(b)
        assert len(got_a) == len(got_b) == len(a)
        for x, y in zip(got_a, got_b, strict=True):
            assert x.keys() == y.keys()
            for key in x:
                assert x[key].dtype == y[key].dtype
                assert torch.equal(x[key], y[key]), key
            n += len(x["labels"])
    return n


@pytest.mark.parametrize("name", ["gray", "beluga", "order3", "time3"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_batches_equal_shard_dataset(builds, name, split):
    _, path, size = builds[name]
    kw = dict(split=split, batch_size=64, shuffle=split == "train", seed=3, return_key_ids=True)
    seen = same_batches(ShardDataset(path, **kw),
                        StrokeDataset(path, Recipe.preset(name, size=size), threads=2, **kw))
    assert seen >= Reader(path).manifest.count(split)


def test_no_images_store_serves_the_image_builds_batches(builds):
    _, path, size = builds["gray"]
    kw = dict(split="val", batch_size=50, seed=1, words=Reader(path).words[:20],
              recognized=True)
    same_batches(ShardDataset(path, **kw), StrokeDataset(builds["strokes-only"], "gray",
                                                         size=size, **kw))


def test_any_size_and_simplified_recipe_from_one_store(builds):
    path = builds["strokes-only"]
    reader = Reader(path)
    for recipe in (Recipe.preset("beluga", size=48), Recipe.preset("order3", size=20)):
        ds = StrokeDataset(path, recipe, split="val", batch_size=40, shuffle=False)
        rows = ds.batch_rows(1)
        want = render(reader.strokes("val").gather(rows), recipe)
        assert np.array_equal(ds.get_batch(1)["images"].numpy(), want)
        assert ds.image_shape == recipe.shape


def test_threads_do_not_change_batches(builds):
    path = builds["strokes-only"]
    one = StrokeDataset(path, "gray", size=32, batch_size=256, threads=1, seed=5)
    three = StrokeDataset(path, "gray", size=32, batch_size=256, threads=3, seed=5)
    same_batches(one, three, epochs=(2,))


def test_threaded_iteration_stops_its_helpers_and_raises_their_errors(builds):
    """Iterating with threads=3: stopping early leaves no helper working (the next pass
    gives the right batches; no threads pile up), two passes at once each get their own
    batches, and a batch that fails in a helper thread is raised in the iterating thread,
    in order."""
    import threading

    def helpers():
        return [t for t in threading.enumerate() if t.name.startswith("rasterfast-iteration")]

    path = builds["strokes-only"]
    ds = StrokeDataset(path, "gray", size=32, batch_size=64, threads=3, seed=5)
    ref = [b["images"] for b in StrokeDataset(path, "gray", size=32, batch_size=64,
                                              threads=1, seed=5)]
    for _ in range(3):
        it = iter(ds)
        for want in ref[:4]:
            assert torch.equal(next(it)["images"], want)
        it.close()
    assert len(helpers()) <= 2
    a, b = iter(ds), iter(ds)          # the second pass runs on threads of its own
    for want in ref:
        assert torch.equal(next(a)["images"], want)
        assert torch.equal(next(b)["images"], want)
    a.close()
    b.close()
    assert len(helpers()) <= 2

    real = ds._whole_batch

    def failing(i, epoch):
        if i == 4:   # position 4: made by helper 1 of 2 (4 % 3 == 1)
            raise OSError("disk gone")
        return real(i, epoch)

    ds._whole_batch = failing
    got = []
    with pytest.raises(OSError, match="disk gone"):
        for batch in ds:
            got.append(batch)
    assert len(got) == 4



def test_dataloader_workers_and_shard_loader(builds):
    path = builds["strokes-only"]
    ds = StrokeDataset(path, "gray", size=32, batch_size=128, seed=2)
    ref = [b["images"] for b in ds]
    got = [b["images"] for b in DataLoader(ds, batch_size=None, num_workers=2)]
    key = lambda t: t.sum().item()  # noqa: E731 - worker order interleaves batches
    assert sorted(map(key, ref)) == sorted(map(key, got))
    loader = ShardLoader(ds, threads=2)
    for a, b in zip(ref, loader, strict=True):
        assert torch.equal(a, b["images"])


def test_resume_mid_epoch(builds):
    path = builds["strokes-only"]
    ds = StrokeDataset(path, "gray", size=32, batch_size=100, seed=4)
    ds.set_epoch(1)
    full = list(ds)
    state = ds.state_dict(3)
    again = StrokeDataset(path, "gray", size=32, batch_size=100, seed=4)
    again.load_state_dict(state)
    rest = list(again)
    assert len(rest) == len(full) - 3
    for a, b in zip(full[3:], rest, strict=True):
        assert torch.equal(a["images"], b["images"])


def test_recipe_the_store_cannot_serve(builds):
    with pytest.raises(ValueError, match="stores simplified"):
        StrokeDataset(builds["strokes-only"], "time3", size=64)
    _, raw, _ = builds["time3"]
    with pytest.raises(ValueError, match="stores raw"):
        StrokeDataset(raw, "gray", size=64)
    # a raw store serves raw recipes at any size, and geometry='simplify'
    StrokeDataset(raw, Recipe.preset("gray", size=64, geometry="simplify"), batch_size=8)
    StrokeDataset(raw, "time3-gradient", size=96, batch_size=8)


def test_bad_arguments(builds):
    path = builds["strokes-only"]
    with pytest.raises(ValueError, match="augment"):
        StrokeDataset(path, "gray", augment={"rotate": 10})
    with pytest.raises(ValueError, match="threads"):
        StrokeDataset(path, "gray", threads=0)
    with pytest.raises(ValueError, match="size"):
        StrokeDataset(path, "gray", size=8)
    with pytest.raises(ValueError, match="conflicts"):
        StrokeDataset(path, Recipe.preset("gray", size=32), size=64)
    with pytest.raises(TypeError, match="Recipe"):
        StrokeDataset(path, 64)
    with pytest.raises(ValueError, match="entropy"):
        StrokeDataset(path, "gray", entropy=(1.0, None))
    with pytest.raises(ValueError, match="no images"):
        ShardDataset(path)
    with pytest.raises(ValueError, match="no stroke store"):
        StrokeDataset(FIXTURES / "shards_v1", "gray")


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_truncated_stroke_file_fails_when_made(builds, tmp_path):
    path = _copy(builds["strokes-only"], tmp_path / "t")
    victim = sorted(path.glob("train/*.strokes"))[1]
    with open(victim, "r+b") as fh:
        fh.truncate(victim.stat().st_size - 8)
    with pytest.raises(ShardFormatError, match=victim.name):
        StrokeDataset(path, "gray")


@pytest.mark.parametrize("offset, value, match", [
    (8, 99, "version 99"),          # header: format version
    (0, 0x41, "not a rasterfast stroke file"),   # magic
    (24, 7, "7 drawings"),          # drawing count of the header (the size then disagrees)
])
def test_foreign_or_newer_stroke_file_fails_when_made(builds, tmp_path, offset, value, match):
    path = _copy(builds["strokes-only"], tmp_path / "t")
    victim = sorted(path.glob("val/*.strokes"))[0]
    data = bytearray(victim.read_bytes())
    data[offset] = value
    victim.write_bytes(bytes(data))
    with pytest.raises(ShardFormatError, match=match):
        StrokeDataset(path, "gray", split="val")


def test_altered_offsets_are_an_error_naming_the_file(builds, tmp_path):
    path = _copy(builds["strokes-only"], tmp_path / "t")
    victim = sorted(path.glob("train/*.strokes"))[0]
    data = bytearray(victim.read_bytes())
    # drawing_offsets start at byte 64: make drawing 2 end before it starts
    np.frombuffer(data, np.int64, count=4, offset=64)  # layout check: readable as int64
    data[64 + 2 * 8:64 + 3 * 8] = np.int64(10**6).tobytes()
    victim.write_bytes(bytes(data))
    ds = StrokeDataset(path, "gray", batch_size=4096, shuffle=False)
    with pytest.raises(ShardFormatError, match=victim.name):
        next(iter(ds))


def test_verify_checks_the_stroke_store(builds, tmp_path):
    from rasterfast.format import verify

    path = _copy(builds["strokes-only"], tmp_path / "t")
    assert verify(path).ok
    a, b = sorted(path.glob("train/*.strokes"))[:2]
    data = bytearray(a.read_bytes())
    data[8] = 9                      # a newer version: named, without a checksum needed
    a.write_bytes(bytes(data))
    data = bytearray(b.read_bytes())
    data[-1] ^= 1                    # one coordinate bit: only the checksum sees it
    b.write_bytes(bytes(data))
    report = verify(path)
    problems = dict(report.problems)
    assert "version 9" in problems[f"train/{a.name}"]
    assert "altered" in problems[f"train/{b.name}"]
    assert "version 9" in dict(verify(path, checksums=False).problems)[f"train/{a.name}"]


def test_map_budget_follows_the_dataset_into_workers(builds):
    """The bound on mapped stroke files is the dataset's, in a pickled copy too (what a
    DataLoader worker gets), and 'global' order has none."""
    import pickle

    path = builds["strokes-only"]
    ds = StrokeDataset(path, "gray", size=32, window=1000, batch_size=10)
    assert ds.reader.strokes("train").max_mapped_bytes == 256 << 20
    copy = pickle.loads(pickle.dumps(ds))
    next(iter(copy))
    assert copy.reader.strokes("train").max_mapped_bytes == 256 << 20
    g = StrokeDataset(path, "gray", size=32, order="global")
    next(iter(pickle.loads(pickle.dumps(g))))
    assert g.reader.strokes("train").max_mapped_bytes is None


def test_check_full_finds_altered_coordinates_when_made(builds, tmp_path):
    """Issue 16: in-range altered coordinates render silently by default; check="full"
    finds them when the dataset is made."""
    path = _copy(builds["strokes-only"], tmp_path / "t")
    victim = sorted(path.glob("train/*.strokes"))[0]
    data = bytearray(victim.read_bytes())
    data[-2] ^= 1                    # low bit of the last y (int16, the file's last array)
    assert 0 <= int.from_bytes(data[-2:], "little", signed=True) <= 255
    victim.write_bytes(bytes(data))
    StrokeDataset(path, "gray", size=32)
    with pytest.raises(ShardFormatError, match="altered") as info:
        StrokeDataset(path, "gray", size=32, check="full")
    assert info.value.path == str(victim)
