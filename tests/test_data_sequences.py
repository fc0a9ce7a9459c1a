"""StrokeDataset(output="stroke3" | "stroke5") (issue 14, part 2): rasterfast.data.sequences."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from rasterfast import StrokeDataset, to_stroke3, to_stroke5
from rasterfast.data import ShardLoader
from rasterfast.format import Reader
from rasterfast.pipeline import build


@pytest.fixture(scope="module")
def stores(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("seq")
    kaggle = data_dir / "kaggle"
    simp = sorted((kaggle / "train_simplified").iterdir())[:40]
    build(simp + [kaggle / "test_simplified.csv"], root / "simplified", "gray", size=32,
          shard_size=300, val_fraction=0.1, progress=False, images=False)
    raw = sorted((kaggle / "train_raw").iterdir())[:15]
    build(raw, root / "raw", "time3", size=32, shard_size=300, val_fraction=0.1,
          progress=False, images=False)
    return {"simplified": root / "simplified", "raw": root / "raw"}


def longest(path, split):
    s = Reader(path).strokes(split)
    return max(int((sh.stroke_offsets[sh.drawing_offsets[1:]]
                    - sh.stroke_offsets[sh.drawing_offsets[:-1]]).max())
               for sh in (s.shard(i) for i in range(len(s.paths))))


@pytest.mark.parametrize("output,convert", [("stroke3", to_stroke3), ("stroke5", to_stroke5)])
@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_batches_are_the_conversion_of_the_same_rows(stores, output, convert, kind):
    path = stores[kind]
    ds = StrokeDataset(path, output=output, batch_size=64, seed=5, return_key_ids=True)
    assert ds.max_len == longest(path, "train")
    reader = Reader(path)
    seen = 0
    for i, batch in enumerate(ds):
        rows = ds.batch_rows(i)
        assert set(batch) == {"sequences", "lengths", "labels", "key_ids"}
        assert batch["sequences"].dtype == torch.float32
        assert batch["sequences"].shape == (len(rows), ds.max_len, 3 if output == "stroke3"
                                            else 5)
        assert batch["lengths"].dtype == torch.int64
        want, lengths = convert(reader.strokes("train").gather(rows), ds.max_len,
                                dtype=np.float32)
        np.testing.assert_array_equal(batch["sequences"].numpy(), want)
        np.testing.assert_array_equal(batch["lengths"].numpy(), lengths)
        np.testing.assert_array_equal(batch["labels"].numpy(), reader.labels("train")[rows])
        seen += len(rows)
    assert seen == ds.count


def test_same_rows_and_labels_as_image_output(stores):
    path = stores["simplified"]
    kw = dict(split="val", batch_size=50, seed=2, words=Reader(path).words[:10])
    img = StrokeDataset(path, "gray", size=16, **kw)
    seq = StrokeDataset(path, output="stroke5", **kw)
    assert len(img) == len(seq)
    for a, b in zip(img, seq, strict=True):
        assert torch.equal(a["labels"], b["labels"])
    # the words filter is applied before the longest drawing is measured
    assert seq.max_len <= longest(path, "val")


def test_max_len_too_small_raises_when_made(stores):
    path = stores["simplified"]
    top = longest(path, "train")
    with pytest.raises(ValueError, match=rf"have more than max_len=20 points \(the longest "
                                         rf"has {top}\).*on_long='truncate'"):
        StrokeDataset(path, output="stroke3", max_len=20)
    StrokeDataset(path, output="stroke3", max_len=top)  # exactly the longest: fine


def test_truncate_counts_and_marks(stores):
    path = stores["simplified"]
    ds = StrokeDataset(path, output="stroke3", max_len=20, on_long="truncate", batch_size=100)
    full = StrokeDataset(path, output="stroke3", batch_size=100)
    assert ds.num_truncated > 0
    marked = 0
    for a, b in zip(ds, full, strict=True):
        n = b["lengths"]
        assert torch.equal(a["truncated"], n > 20)
        assert torch.equal(a["lengths"], n.clamp(max=20))
        keep = ~a["truncated"]
        assert torch.equal(a["sequences"][keep], b["sequences"][keep][:, :20])
        cut = a["sequences"][a["truncated"]]
        assert (cut[:, -1, 2] == 1).all()  # the cut stroke ends at row 20
        marked += int(a["truncated"].sum())
    assert marked == ds.num_truncated


def test_dataloader_workers(stores):
    ds = StrokeDataset(stores["simplified"], output="stroke5", batch_size=128, seed=1)
    direct = list(ds)
    got = list(DataLoader(ds, batch_size=None, num_workers=2))
    assert len(got) == len(direct)
    # workers interleave batches: compare them in a canonical order
    def order(batches):
        return sorted(batches, key=lambda b: b["labels"].tolist())
    for a, b in zip(order(direct), order(got), strict=True):
        assert torch.equal(a["labels"], b["labels"])
        assert torch.equal(a["sequences"], b["sequences"])
        assert torch.equal(a["lengths"], b["lengths"])


def test_shard_loader_prefetches_sequence_batches(stores):
    ds = StrokeDataset(stores["simplified"], output="stroke3", batch_size=100, seed=4)
    direct = list(ds)
    got = list(ShardLoader(ds, threads=2))
    assert len(got) == len(direct)
    for a, b in zip(direct, got, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key


def test_bad_arguments(stores):
    path = stores["simplified"]
    with pytest.raises(ValueError, match=r"output must be one of \('image', 'stroke3', "
                                         r"'stroke5'\), got 'stroke4'"):
        StrokeDataset(path, output="stroke4")
    with pytest.raises(ValueError, match="renders nothing, so a recipe or size does not apply"):
        StrokeDataset(path, "gray", output="stroke3")
    with pytest.raises(ValueError, match="renders nothing"):
        StrokeDataset(path, output="stroke5", size=64)
    with pytest.raises(ValueError, match="apply to sequence output"):
        StrokeDataset(path, "gray", max_len=100)
    with pytest.raises(ValueError, match="apply to sequence output"):
        StrokeDataset(path, "gray", on_long="truncate")
    for bad in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="max_len must be an int >= 1"):
            StrokeDataset(path, output="stroke3", max_len=bad)
    with pytest.raises(ValueError, match="on_long must be one of"):
        StrokeDataset(path, output="stroke3", on_long="skip")
    with pytest.raises(TypeError, match="recipe must be a Recipe"):
        StrokeDataset(path)  # image output needs a recipe
    with pytest.raises(AttributeError, match="no images"):
        _ = StrokeDataset(path, output="stroke3").image_shape


def test_augmented_sequences_are_the_augmented_drawings(stores):
    """Issue 14: sequences see the same augmented points as images would (seed, epoch, key)."""
    from rasterfast import Augment, augment

    path = stores["simplified"]
    aug = Augment.preset("default")
    ds = StrokeDataset(path, output="stroke3", augment=aug, seed=3, batch_size=64)
    reader = Reader(path)
    keys = reader.meta("train", columns=["key_id"]).column("key_id").to_numpy()
    for epoch in (0, 1):
        batch = ds.get_batch(2, epoch)
        rows = ds.batch_rows(2, epoch)
        drawn = augment(reader.strokes("train").gather(rows), aug, seed=3, epoch=epoch,
                        key_ids=keys[rows])
        want, lengths = to_stroke3(drawn, ds.max_len, dtype=np.float32)
        np.testing.assert_array_equal(batch["sequences"].numpy(), want)
        np.testing.assert_array_equal(batch["lengths"].numpy(), lengths)
    plain = StrokeDataset(path, output="stroke3", seed=3, batch_size=64).get_batch(2, 0)
    assert not torch.equal(plain["sequences"], ds.get_batch(2, 0)["sequences"])
