"""Stroke augmentation (issue 14, part 1): Augment, rasterfast.augment, StrokeDataset(augment=)."""

import csv
import doctest
import gzip
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

import numpy as np
import pytest
import reference_augment as ref

import rasterfast
from rasterfast import Augment, StrokeBatch, augment, parse_drawings
from rasterfast.augment import drawing_seeds

ONLY = {f.name: 0.0 for f in fields(Augment)}   # every field off


def only(**kw) -> Augment:
    return Augment(**{**ONLY, "keep_first_min": 0.5, **kw})


def read(data_dir, kind, n_words=12, per_word=6):
    """The first drawings of the first words' Kaggle CSVs (csv module: no streaming reader)."""
    folder = data_dir / "kaggle" / ("train_simplified" if kind == "simplified" else "train_raw")
    texts, keys, words = [], [], []
    for f in sorted(folder.iterdir())[:n_words]:
        with (gzip.open if f.suffix == ".gz" else open)(f, "rt", newline="") as fh:
            for row, _ in zip(csv.DictReader(fh), range(per_word), strict=False):
                texts.append(row["drawing"])
                keys.append(int(row["key_id"]))
                words.append(row["word"])
    b = parse_drawings(texts, kind=kind)
    b.key_id = np.array(keys, np.uint64)
    b.word = np.array(words, object)
    return b


@pytest.fixture(scope="module")
def simple(data_dir):
    return read(data_dir, "simplified")


@pytest.fixture(scope="module")
def raw(data_dir):
    return read(data_dir, "raw")


@pytest.fixture(params=["simplified", "raw"])
def batch(request, simple, raw):
    return simple if request.param == "simplified" else raw


def same(a: StrokeBatch, b: StrokeBatch) -> bool:
    return (a.kind == b.kind and np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
            and np.array_equal(a.t, b.t) and np.array_equal(a.stroke_offsets, b.stroke_offsets)
            and np.array_equal(a.drawing_offsets, b.drawing_offsets)
            and np.array_equal(a.key_id, b.key_id))


# -- the config --------------------------------------------------------------------------------

def test_doctests():
    assert doctest.testmod(sys.modules["rasterfast.augment"], raise_on_error=False).failed == 0


def test_config_round_trips_as_json():
    a = Augment(rotation=12.5, flip=0.25, epsilon=3, time_warp=0.5)
    text = json.dumps(a.get_config())
    assert Augment.from_config(json.loads(text)) == a
    assert Augment.from_config(text) == a
    assert hash(Augment.from_config(text)) == hash(a)
    assert a != Augment() and a.replace(rotation=0, flip=0, epsilon=0, time_warp=0) == Augment()
    assert Augment.from_config({"id": "rasterfast.Augment", "version": 1}) == Augment()


def test_default_is_the_documented_safe_one():
    a = Augment()
    assert a == Augment.preset("default")
    assert (a.scale, a.point_drop, a.keep_first) == (0.15, 0.10, 0.10)
    assert a.flip == 0 and a.rotation == 0
    assert not a.is_identity and Augment.preset("none").is_identity
    doc = Augment.__doc__
    for fact in ("sketch-rnn", "0.15", "0.10", "24th", "21st"):
        assert fact in doc


@pytest.mark.parametrize("field,value", [
    ("scale", -0.1), ("scale", 0.95), ("rotation", 181), ("shear", 1.5), ("translate", 0.6),
    ("flip", 1.01), ("jitter", -1), ("jitter", 17), ("point_drop", 2), ("stroke_drop", -0.5),
    ("keep_first", 1.5), ("keep_first_min", -0.1), ("epsilon", 33), ("time_warp", 5),
    ("scale", float("nan")), ("rotation", float("inf")),
])
def test_out_of_range_is_a_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"Augment {field} must be in"):
        Augment(**{field: value})


@pytest.mark.parametrize("value", ["0.1", None, True, [0.1]])
def test_non_numbers_are_type_errors(value):
    with pytest.raises(TypeError, match="Augment scale must be a number"):
        Augment(scale=value)


def test_unknown_names_and_fields():
    with pytest.raises(ValueError, match="unknown augmentation 'heavy'; named ones: default, none"):
        Augment.preset("heavy")
    with pytest.raises(TypeError, match=r"unknown Augment fields \['spin'\]"):
        Augment.preset("default", spin=3)
    with pytest.raises(TypeError):
        Augment(spin=3)
    base = {"id": "rasterfast.Augment", "version": 1}
    with pytest.raises(ValueError, match=r"unknown augment config keys \['rotate'\]"):
        Augment.from_config({**base, "rotate": 10})
    with pytest.raises(ValueError, match="id must be 'rasterfast.Augment'"):
        Augment.from_config({"id": "rasterfast.Recipe", "version": 1})
    with pytest.raises(ValueError, match="newer than this rasterfast reads"):
        Augment.from_config({**base, "version": 2})
    with pytest.raises(ValueError, match="not valid JSON"):
        Augment.from_config("{rotation: 3")
    with pytest.raises(TypeError, match="must be a dict"):
        Augment.from_config([1, 2])
    with pytest.raises(ValueError, match="rotation must be in"):
        Augment.from_config({**base, "rotation": 400})


def test_bad_calls(simple):
    with pytest.raises(TypeError, match="batch must be a StrokeBatch"):
        augment([1], Augment())
    with pytest.raises(TypeError, match="aug must be an Augment"):
        augment(simple, {"scale": 0.1})
    with pytest.raises(ValueError, match="seed must be an int"):
        augment(simple, Augment(), seed=-1)
    with pytest.raises(ValueError, match="epoch must be an int"):
        augment(simple, Augment(), epoch=1.5)
    with pytest.raises(ValueError, match="one value per drawing"):
        augment(simple, Augment(), key_ids=np.arange(3))
    with pytest.raises(ValueError, match="time_warp=0.5 needs drawings with times"):
        augment(simple, Augment(time_warp=0.5))


# -- against the reference ----------------------------------------------------------------------

CONFIGS = {
    "scale": only(scale=0.4),
    "rotation": only(rotation=45),
    "shear": only(shear=0.5),
    "translate": only(translate=0.3),
    "flip": only(flip=0.5),
    "jitter": only(jitter=3.0),
    "point_drop": only(point_drop=0.3),
    "stroke_drop": only(stroke_drop=0.4),
    "keep_first": only(keep_first=0.7, keep_first_min=0.2),
    "epsilon": only(epsilon=8.0),
    "time_warp": only(time_warp=1.5),
    "default": Augment(),
    "everything": Augment(scale=0.3, rotation=30, shear=0.3, translate=0.2, flip=0.5,
                          jitter=1.5, point_drop=0.2, stroke_drop=0.3, keep_first=0.5,
                          keep_first_min=0.3, epsilon=4.0),
}


@pytest.mark.parametrize("kind,name", [(k, n) for k in ("simplified", "raw") for n in CONFIGS
                                       if k == "raw" or not CONFIGS[n].time_warp])
def test_each_augmentation_equals_the_reference(simple, raw, kind, name):
    aug = CONFIGS[name]
    batch = simple if kind == "simplified" else raw
    got = augment(batch, aug, seed=11, epoch=3)
    got.validate()
    assert len(got) == len(batch)
    seeds = ref.seeds(batch.key_id, 11, 3)
    changed = 0
    for i in range(len(batch)):
        want = ref.augment_drawing(batch.drawing(i), batch.kind, seeds[i], aug)
        have = got.to_lists(i)
        assert have == want, (name, i)
        changed += have != batch.to_lists(i)
    assert changed >= len(batch) // 4, f"{name} changed only {changed} of {len(batch)} drawings"


def test_seeds_equal_the_reference_hash(simple):
    for seed, epoch in ((0, 0), (5, 1), (2**63 + 7, 2**40)):
        assert drawing_seeds(simple.key_id, seed, epoch).tolist() == \
            ref.seeds(simple.key_id, seed, epoch)


# -- properties --------------------------------------------------------------------------------

def test_identity_changes_nothing(batch):
    for aug in (Augment.preset("none"), only(keep_first_min=0.9)):
        assert same(augment(batch, aug, seed=3, epoch=9), batch)


def test_deterministic_per_seed_epoch_and_key(batch):
    aug = CONFIGS["everything"]
    a = augment(batch, aug, seed=1, epoch=2)
    assert same(a, augment(batch, aug, seed=1, epoch=2))
    for other in (augment(batch, aug, seed=1, epoch=3), augment(batch, aug, seed=2, epoch=2),
                  augment(batch, aug, seed=1, epoch=2, key_ids=batch.key_id + np.uint64(1))):
        differ = sum(a.to_lists(i) != other.to_lists(i) for i in range(len(batch)))
        assert differ >= 0.9 * len(batch)


def test_same_drawing_same_augmentation_in_any_batch_or_thread(batch):
    aug = CONFIGS["everything"]
    whole = augment(batch, aug, seed=4, epoch=1)
    perm = np.random.default_rng(0).permutation(len(batch))
    assert same(augment(batch.take(perm), aug, seed=4, epoch=1), whole.take(perm))
    cuts = [0, 5, 17, 40, len(batch)]
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(lambda ab: augment(batch.slice(*ab), aug, seed=4, epoch=1),
                              zip(cuts[:-1], cuts[1:], strict=True)))
    assert same(StrokeBatch.concat(parts), whole)


def test_stroke_dropout_never_removes_all_strokes(batch):
    for p in (0.9, 1.0):
        got = augment(batch, only(stroke_drop=p), seed=0, epoch=0)
        per = got.strokes_per_drawing()
        assert (per >= 1).all()
        if p == 1.0:
            assert (per == 1).all()
            # the stroke kept is one of the drawing's own, unchanged
            for i in range(len(batch)):
                assert got.to_lists(i)[0] in batch.to_lists(i)
    assert (augment(batch, only(stroke_drop=0.5)).strokes_per_drawing()
            < batch.strokes_per_drawing()).any()


def test_keep_first_keeps_a_prefix(batch):
    got = augment(batch, only(keep_first=1.0, keep_first_min=0.0), seed=2, epoch=0)
    before, after = batch.strokes_per_drawing(), got.strokes_per_drawing()
    multi = before >= 2
    assert multi.sum() >= 10
    assert (after[multi] < before[multi]).all() and (after >= 1).all()
    assert (after[~multi] == before[~multi]).all()
    for i in range(len(batch)):
        assert got.to_lists(i) == batch.to_lists(i)[:after[i]]
    half = augment(batch, only(keep_first=1.0, keep_first_min=0.5), seed=2, epoch=0)
    k = half.strokes_per_drawing()
    assert (k[multi] >= np.maximum(1, np.minimum(np.ceil(0.5 * before[multi]),
                                                 before[multi] - 1))).all()


def test_simplified_coordinates_stay_in_the_frame(simple):
    heavy = Augment(scale=0.9, rotation=180, shear=1.0, translate=0.5, flip=1.0, jitter=16.0)
    for epoch in range(3):
        got = augment(simple, heavy, seed=0, epoch=epoch)
        assert got.x.dtype == np.int16 and got.y.dtype == np.int16
        assert got.x.min() >= 0 and got.y.min() >= 0
        assert got.x.max() <= 255 and got.y.max() <= 255
        # fitted, not clipped: about as many points touch the border as before (clipping
        # piles whole runs of points onto it)
        on_border = np.isin(got.x, (0, 255)) | np.isin(got.y, (0, 255))
        assert on_border.mean() < 0.15


def test_raw_coordinates_are_finite_float32_and_times_int32(raw):
    got = augment(raw, Augment(rotation=30, jitter=2, time_warp=1.0, epsilon=2), seed=1)
    assert got.x.dtype == np.float32 and np.isfinite(got.x).all() and np.isfinite(got.y).all()
    assert got.t.dtype == np.int32 and len(got.t) == len(got.x)


def test_time_warp_scales_durations_and_pauses_within_the_range(raw):
    w = 1.0
    got = augment(raw, only(time_warp=w), seed=0, epoch=5)
    assert np.array_equal(got.x, raw.x) and np.array_equal(got.stroke_offsets, raw.stroke_offsets)
    so_a, so_b = raw.stroke_offsets, got.stroke_offsets
    dur_a = raw.t[so_a[1:] - 1].astype(np.float64) - raw.t[so_a[:-1]]
    dur_b = got.t[so_b[1:] - 1].astype(np.float64) - got.t[so_b[:-1]]
    ok = dur_a >= 200
    ratio = dur_b[ok] / dur_a[ok]
    assert ratio.min() >= 1 / (1 + w) - 0.01 and ratio.max() <= 1 + w + 0.01
    assert ratio.std() > 0.1           # factors differ stroke by stroke
    first = raw.drawing_offsets[:-1]
    assert np.array_equal(got.t[so_b[first]], raw.t[so_a[first]])   # first stroke starts as before


# -- StrokeDataset --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir):
    from rasterfast.pipeline import build

    root = tmp_path_factory.mktemp("aug") / "store"
    files = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[:30]
    build(files, root, "gray", size=32, shard_size=200, val_fraction=0.1, progress=False,
          images=False)
    return root


def test_dataset_renders_the_augmented_drawings(store):
    from rasterfast import StrokeDataset, render
    from rasterfast.format import Reader

    aug = CONFIGS["everything"]
    ds = StrokeDataset(store, "gray", size=32, batch_size=100, seed=7, augment=aug, threads=1,
                       return_key_ids=True)
    ds.set_epoch(2)
    got = ds.get_batch(1)
    rows = ds.batch_rows(1)
    gathered = Reader(store).strokes("train").gather(rows)
    want = render(augment(gathered, aug, seed=7, epoch=2,
                          key_ids=got["key_ids"].numpy().astype(np.uint64)), ds.recipe)
    assert np.array_equal(got["images"].numpy(), want)
    plain = StrokeDataset(store, "gray", size=32, batch_size=100, seed=7, threads=1)
    assert not np.array_equal(plain.get_batch(1, 2)["images"].numpy(), want)
    none = StrokeDataset(store, "gray", size=32, batch_size=100, seed=7,
                         augment=Augment.preset("none"))
    assert np.array_equal(none.get_batch(1, 2)["images"].numpy(),
                          plain.get_batch(1, 2)["images"].numpy())


def test_dataset_batches_independent_of_threads_and_workers(store):
    import torch
    from torch.utils.data import DataLoader

    from rasterfast import StrokeDataset

    kw = dict(size=32, batch_size=128, seed=3, augment=Augment(rotation=10, stroke_drop=0.2))
    one = StrokeDataset(store, "gray", threads=1, **kw)
    three = StrokeDataset(store, "gray", threads=3, **kw)
    for epoch in (0, 1):
        one.set_epoch(epoch)
        three.set_epoch(epoch)
        for a, b in zip(one, three, strict=True):
            assert torch.equal(a["images"], b["images"])
    one.set_epoch(1)
    ref_batches = [b["images"] for b in one]
    key = lambda t: t.sum().item()  # noqa: E731 - workers interleave batches
    one.set_epoch(1)
    got = [b["images"] for b in DataLoader(one, batch_size=None, num_workers=2)]
    assert sorted(map(key, ref_batches)) == sorted(map(key, got))
    one.set_epoch(0)
    assert sorted(map(key, [b["images"] for b in one])) != sorted(map(key, ref_batches))


def test_dataset_bad_augment(store):
    from rasterfast import StrokeDataset

    with pytest.raises(TypeError, match="augment must be a rasterfast.Augment"):
        StrokeDataset(store, "gray", augment=0.5)
    with pytest.raises(ValueError, match="unknown augmentation 'strong'"):
        StrokeDataset(store, "gray", augment="strong")
    with pytest.raises(ValueError, match=r"unknown augment config keys \['rotate'\]"):
        StrokeDataset(store, "gray", augment={"rotate": 10})
    with pytest.raises(ValueError, match="Augment flip must be in"):
        StrokeDataset(store, "gray", augment={"flip": 2})
    ds = StrokeDataset(store, "gray", augment="default")
    assert ds.augment == Augment()
    assert StrokeDataset(store, "gray", augment={"rotation": 5}).augment == Augment(rotation=5)
    with pytest.raises(ValueError, match="time_warp=0.5 needs drawings with times"):
        StrokeDataset(store, "gray", augment=Augment(time_warp=0.5))


def test_public_names():
    assert rasterfast.Augment is Augment and rasterfast.augment is augment
    assert {"Augment", "augment"} <= set(rasterfast.__all__)


def test_time_warp_out_of_int32_is_a_value_error():
    # a pause of 2e9 ms stretched by up to 5x leaves int32 for some drawings
    drawing = [[[0, 1], [0, 1], [0, 10]], [[2, 3], [2, 3], [2_000_000_000, 2_000_000_010]]]
    b = StrokeBatch.from_lists([drawing] * 8, "raw", key_id=np.arange(8))
    with pytest.raises(ValueError, match="time_warp moves a time outside int32"):
        augment(b, only(time_warp=4.0), seed=0, epoch=0)


def test_nan_coordinates_are_a_value_error():
    b = StrokeBatch.from_lists([[[[0, 1], [0, 1], [0, 10]]], [[[0, float("nan")], [0, 1], [0, 5]]]],
                               "raw")
    with pytest.raises(ValueError, match="drawing 1 has a NaN"):
        augment(b, only(rotation=5))


def test_empty_batches_and_drawings_without_strokes():
    assert len(augment(StrokeBatch.empty("simplified"), Augment())) == 0
    # drawings 0 and 2 have no strokes; drawing 1 one stroke of two points
    b = StrokeBatch.from_columns("simplified", [5, 6], [7, 8], None, [0, 2], [0, 0, 1, 1])
    out = augment(b, Augment(stroke_drop=1.0, epsilon=5, jitter=3, rotation=90))
    assert out.drawing_offsets.tolist() == [0, 0, 1, 1] and out.stroke_offsets.tolist() == [0, 2]
