"""StrokeBatch: construction, invariants, take, concat."""

import numpy as np
import pytest

from rasterfast import StrokeBatch, parse_drawings
from rasterfast.batch import ranges

DRAWINGS = [
    [[[0, 10], [0, 5]]],
    [[[1], [2]], [[3, 4], [5, 6]]],
    [[[7, 8, 9], [1, 1, 1]], [[0], [0]], [[255], [255]]],
]


def test_from_lists_and_drawing():
    b = StrokeBatch.from_lists(DRAWINGS, "simplified", key_id=[1, 2, 3], word=["a", "b", "c"])
    assert len(b) == 3 and b.num_strokes == 6 and b.num_points == 10
    assert [b.to_lists(i) for i in range(3)] == DRAWINGS
    assert b.strokes_per_drawing().tolist() == [1, 2, 3]
    assert b.points_per_drawing().tolist() == [2, 3, 5]
    assert b.label.tolist() == [-1, -1, -1] and b.recognized.tolist() == [-1, -1, -1]
    assert np.isnat(b.timestamp).all()
    assert b.to_lists(-1) == DRAWINGS[-1]
    with pytest.raises(IndexError):
        b.drawing(3)


def test_raw_drawing_shape():
    b = StrokeBatch.from_lists([[[[0.5, 1.5], [2.5, 3.5], [0, 3000000000 // 2]]]], "raw")
    (s,) = b.drawing(0)
    assert s.shape == (3, 2) and s.dtype == np.float64
    assert s[2, 1] == 1500000000


def test_take_matches_reference():
    rng = np.random.default_rng(3)
    b = StrokeBatch.from_lists(DRAWINGS * 4, "simplified", key_id=np.arange(12))
    idx = rng.permutation(12)[:7]
    t = b.take(idx)
    assert [t.to_lists(i) for i in range(7)] == [(DRAWINGS * 4)[i] for i in idx]
    assert t.key_id.tolist() == idx.tolist()
    t.validate()
    assert len(b.take([])) == 0



def test_take_raw_with_times_repeats_negatives_and_empty_drawings():
    # the memcpy kernel against per-drawing lists: times carried, an index taken
    # twice, negative indices, drawings of no strokes kept in place
    rng = np.random.default_rng(5)
    drawings = [[[rng.uniform(-9, 900, k).tolist(), rng.uniform(-9, 900, k).tolist(),
                  list(range(k))] for k in rng.integers(1, 30, int(rng.integers(1, 5)))]
                for _ in range(40)]
    drawings[7] = drawings[20] = []
    b = StrokeBatch.from_lists(drawings, "raw", key_id=np.arange(40))
    idx = np.concatenate([rng.integers(-40, 40, 60), [7, 7, 20, -1]])
    t = b.take(idx)
    t.validate()
    assert t.has_time and t.t.dtype == np.int32
    for k, i in enumerate(idx):
        got, want = t.drawing(k), b.drawing(int(i))
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert t.key_id.tolist() == (idx % 40).tolist()


def test_take_refuses_broken_offsets():
    b = StrokeBatch.from_lists(DRAWINGS, "simplified")
    b.stroke_offsets = b.stroke_offsets.copy()
    b.stroke_offsets[-1] = 99          # past the points: nothing may be read from there
    with pytest.raises(ValueError, match="drawing 2: broken stroke or drawing offsets"):
        b.take([2])
    b = StrokeBatch.from_lists(DRAWINGS, "simplified")
    b.drawing_offsets = b.drawing_offsets.copy()
    b.drawing_offsets[2] = 50          # past the strokes
    with pytest.raises((ValueError, IndexError)):
        b.take([1])

@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_slice_equals_take_of_the_range_and_shares_points(kind):
    drawings = DRAWINGS * 4 if kind == "simplified" else [
        [[list(map(float, s[0])), list(map(float, s[1])), list(range(len(s[0])))] for s in d]
        for d in DRAWINGS * 4]
    b = StrokeBatch.from_lists(drawings, kind, key_id=np.arange(12), word=list("abcdefghijkl"))
    for start, stop in ((0, 12), (3, 8), (5, 5), (11, 12)):
        s, t = b.slice(start, stop), b.take(np.arange(start, stop))
        s.validate()
        assert [s.to_lists(i) for i in range(len(s))] == [t.to_lists(i) for i in range(len(t))]
        for name in ("x", "y", "t", "stroke_offsets", "drawing_offsets", "key_id", "word"):
            assert np.array_equal(getattr(s, name), getattr(t, name)), name
    assert np.shares_memory(b.slice(3, 8).x, b.x)
    for start, stop in ((-1, 2), (4, 3), (0, 13)):
        with pytest.raises(IndexError):
            b.slice(start, stop)


def test_concat_merges_sources_and_rejects():
    a = parse_drawings(["[[[1], [2]]]", "bad"], on_error="skip", source="a.csv")
    b = parse_drawings(["[[[3], [4]]]"], source="b.csv")
    c = parse_drawings(["[[[5], [6]]]"], source="a.csv")
    m = StrokeBatch.concat([a, b, c])
    assert [m.source_of(i) for i in range(3)] == ["a.csv", "b.csv", "a.csv"]
    assert len(m.rejects) == 1 and m.sources == ("a.csv", "b.csv")
    assert [m.to_lists(i) for i in range(3)] == [[[[1], [2]]], [[[3], [4]]], [[[5], [6]]]]
    with pytest.raises(ValueError, match="different kinds"):
        StrokeBatch.concat([a, parse_drawings(["[[[1], [2], [3]]]"], kind="raw")])


def test_validate_catches_broken_layout():
    b = StrokeBatch.from_lists(DRAWINGS, "simplified")
    b.stroke_offsets = b.stroke_offsets.copy()
    b.stroke_offsets[-1] += 1
    with pytest.raises(ValueError, match="stroke_offsets"):
        b.validate()
    with pytest.raises(TypeError, match="unknown per-drawing columns"):
        StrokeBatch.from_columns("simplified", [], [], None, [0], [0], colour=[])
    with pytest.raises(ValueError, match="kind must be"):
        StrokeBatch.from_columns("vector", [], [], None, [0], [0])


def test_ranges():
    assert ranges([5, 0, 10], [3, 0, 2]).tolist() == [5, 6, 7, 10, 11]
    assert ranges([], []).tolist() == []


# -- Arrow (issue 16: the one place per-drawing columns become Arrow) -----------------------------
def assert_same_batch(a: StrokeBatch, b: StrokeBatch):
    assert a.kind == b.kind and len(a) == len(b) and a.has_time == b.has_time
    for name in ("x", "y", "stroke_offsets", "drawing_offsets", "key_id", "label", "word",
                 "countrycode", "recognized", "record"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.timestamp, b.timestamp, equal_nan=True)
    assert [a.source_of(i) for i in range(len(a))] == [b.source_of(i) for i in range(len(b))]
    if a.has_time:
        assert np.array_equal(a.t, b.t)


@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_to_arrow_round_trips_real_drawings(data_dir, kind):
    from rasterfast import read_drawings

    files = sorted((data_dir / "ndjson" / kind).iterdir())[:2]
    batch = StrokeBatch.concat([StrokeBatch.concat(read_drawings(f)).slice(0, 12) for f in files])
    assert len(batch.sources) == 2 and (kind == "raw") == batch.has_time
    table = batch.to_arrow()
    assert table.column_names[:8] == ["key_id", "label", "word", "countrycode", "recognized",
                                      "timestamp", "source", "record"]
    assert table.column_names[8:] == (["x", "y", "t"] if kind == "raw" else ["x", "y"])
    assert table.column("word").to_pylist() == batch.word.tolist()
    assert table.column("source").to_pylist() == [batch.source_of(i) for i in range(len(batch))]
    assert_same_batch(StrokeBatch.from_arrow(table), batch)
    # a slice of the table (offsets not starting at 0) is the slice of the batch
    assert_same_batch(StrokeBatch.from_arrow(table.slice(5, 12)), batch.slice(5, 17))
    assert StrokeBatch.from_arrow(table.slice(5, 12)).sources == (batch.sources[0],
                                                                  batch.sources[1])


def test_to_arrow_without_strokes_and_metadata_defaults():
    b = StrokeBatch.from_lists(DRAWINGS, "simplified", key_id=[1, 2, 3], word=["a", "b", "c"])
    meta = b.to_arrow(strokes=False)
    assert "x" not in meta.column_names and meta.num_rows == 3
    with pytest.raises(ValueError, match="no stroke column 'x'"):
        StrokeBatch.from_arrow(meta)
    # stroke columns alone: every per-drawing column takes its "unknown" value
    only_strokes = b.to_arrow().select(["x", "y"])
    back = StrokeBatch.from_arrow(only_strokes, "simplified")
    assert [back.to_lists(i) for i in range(3)] == DRAWINGS
    assert back.key_id.tolist() == [0, 0, 0] and back.word.tolist() == ["", "", ""]
    assert StrokeBatch.from_arrow(StrokeBatch.empty("raw").to_arrow()).kind == "raw"


@pytest.mark.parametrize("field, at, value", [
    ("stroke_offsets", 3, 2**60),        # one stroke "ends" 2**60 points later
    ("stroke_offsets", 5, -2**60),
    ("drawing_offsets", 2, 2**40),
    ("drawing_offsets", 1, -5),
])
def test_take_checks_offsets_before_allocating(field, at, value):
    """Issue 16 (item 9): a bogus offset made take() try to allocate TiB before any check
    (MemoryError, or the machine swapping); now a ValueError naming the drawing."""
    b = StrokeBatch.from_lists(DRAWINGS, "simplified")
    arr = getattr(b, field).copy()
    arr[at] = value
    setattr(b, field, arr)
    with pytest.raises(ValueError, match="drawing [0-2]: broken stroke or drawing offsets"):
        b.take([0, 1, 2, 1])
