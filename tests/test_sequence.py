"""stroke-3 / stroke-5 sequences (issue 14, part 2): rasterfast.sequence and ext/_sequence.pyx."""

import doctest
import threading

import numpy as np
import pytest
from reference_sequence import stroke3 as ref_stroke3
from reference_sequence import stroke5 as ref_stroke5

import rasterfast.sequence
from rasterfast import StrokeBatch, from_stroke3, read_drawings, to_stroke3, to_stroke5


@pytest.fixture(scope="module")
def simplified(data_dir):
    files = sorted((data_dir / "kaggle" / "train_simplified").iterdir())
    return StrokeBatch.concat(read_drawings(files + [data_dir / "kaggle" / "test_simplified.csv"]))


@pytest.fixture(scope="module")
def raw(data_dir):
    files = sorted((data_dir / "kaggle" / "train_raw").iterdir())[:60]
    return StrokeBatch.concat(read_drawings(files, kind="raw"))


def pen_expected(batch, max_len):
    """1 at the row of every stroke's last point, from the stroke offsets alone."""
    pen = np.zeros((len(batch), max_len), np.int64)
    so, do = batch.stroke_offsets, batch.drawing_offsets
    for i in range(len(batch)):
        p0 = so[do[i]]
        for j in range(do[i], do[i + 1]):
            if so[j + 1] > so[j]:
                pen[i, so[j + 1] - 1 - p0] = 1
    return pen


def test_doctests():
    res = doctest.testmod(rasterfast.sequence, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 4 and res.failed == 0


def test_round_trip_on_the_real_simplified_sample(simplified):
    b = simplified
    assert len(b) == 6880 + 1720
    seq, lengths = to_stroke3(b)
    ppd = b.points_per_drawing()
    assert seq.dtype == np.int16 and seq.shape == (len(b), ppd.max(), 3)
    np.testing.assert_array_equal(lengths, ppd)
    # pen lifts exactly at stroke ends, zero elsewhere and in the padding
    np.testing.assert_array_equal(seq[:, :, 2], pen_expected(b, seq.shape[1]))
    rows = np.arange(seq.shape[1])[None, :] < lengths[:, None]
    assert not seq[~rows].any()
    # back to absolute points: the stored drawing, stroke for stroke
    for i in range(len(b)):
        got = from_stroke3(seq[i], lengths[i])
        want = b.drawing(i)
        assert len(got) == len(want), i
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


def test_matches_the_sketch_rnn_reference(simplified, raw):
    rng = np.random.default_rng(14)
    for b in (simplified, raw):
        idx = rng.choice(len(b), 200, replace=False)
        sub = b.take(idx)
        s3, n3 = to_stroke3(sub, dtype=np.float32)
        s5, n5 = to_stroke5(sub, dtype=np.float32)
        np.testing.assert_array_equal(n3, n5)
        for i in range(len(sub)):
            strokes = [s[:2] for s in sub.drawing(i)]
            np.testing.assert_allclose(s3[i, :n3[i]], ref_stroke3(strokes), rtol=0, atol=1e-3)
            np.testing.assert_allclose(s5[i], ref_stroke5(strokes, s5.shape[1]), rtol=0,
                                       atol=1e-3)


def test_raw_round_trip(raw):
    seq, lengths = to_stroke3(raw)
    assert seq.dtype == np.float32
    np.testing.assert_array_equal(seq[:, :, 2], pen_expected(raw, seq.shape[1]))
    for i in range(0, len(raw), 7):
        got = from_stroke3(seq[i, :lengths[i]].astype(np.float64), None)
        want = raw.drawing(i)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w[:2], rtol=0, atol=0.01)


def test_stroke5_is_stroke3(simplified):
    s3, n3 = to_stroke3(simplified)
    s5, n5 = to_stroke5(simplified)
    np.testing.assert_array_equal(n3, n5)
    rows = np.arange(s3.shape[1])[None, :] < n3[:, None]
    np.testing.assert_array_equal(s5[..., :2], s3[..., :2])
    np.testing.assert_array_equal(s5[..., 3][rows], s3[..., 2][rows])
    np.testing.assert_array_equal(s5[..., 2][rows], 1 - s3[..., 2][rows])
    assert not s5[..., 4][rows].any()
    # padding rows are sketch-rnn's end of sketch (0, 0, 0, 0, 1)
    np.testing.assert_array_equal(s5[~rows], np.tile([0, 0, 0, 0, 1], ((~rows).sum(), 1)))
    # from_stroke3 reads stroke-5 rows too
    for i in (0, 17, 999):
        for g, w in zip(from_stroke3(s5[i], n5[i]), simplified.drawing(i), strict=True):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("fmt", [to_stroke3, to_stroke5])
def test_too_long_raises_or_truncates(simplified, fmt):
    sub = simplified.slice(0, 300)
    ppd = sub.points_per_drawing()
    cap = int(np.median(ppd))
    with pytest.raises(ValueError, match=rf"more than max_len={cap}.*on_long='truncate'"):
        fmt(sub, cap)
    full, _ = fmt(sub)
    seq, lengths = fmt(sub, cap, on_long="truncate")
    np.testing.assert_array_equal(lengths, np.minimum(ppd, cap))
    pen = 3 if fmt is to_stroke5 else 2
    for i in range(len(sub)):
        n = lengths[i]
        if ppd[i] <= cap:
            np.testing.assert_array_equal(seq[i], full[i, :cap])
        else:
            np.testing.assert_array_equal(seq[i, :n - 1], full[i, :n - 1])
            np.testing.assert_array_equal(seq[i, n - 1, :2], full[i, n - 1, :2])
            assert seq[i, n - 1, pen] == 1  # the cut stroke ends at the cut


def test_empty_drawings_and_strokes():
    b = StrokeBatch.from_columns("simplified", [5, 6, 7], [1, 1, 1], None, [0, 2, 2, 3],
                                 [0, 0, 3])
    s3, n = to_stroke3(b)
    np.testing.assert_array_equal(n, [0, 3])
    np.testing.assert_array_equal(s3[0], np.zeros((3, 3)))
    np.testing.assert_array_equal(s3[1], [[5, 1, 0], [1, 0, 1], [1, 0, 1]])
    s5, _ = to_stroke5(b)
    np.testing.assert_array_equal(s5[0], np.tile([0, 0, 0, 0, 1], (3, 1)))
    s3, n = to_stroke3(StrokeBatch.empty("simplified"))
    assert s3.shape == (0, 0, 3) and n.shape == (0,)


def test_int16_overflow_is_an_error_float32_is_not():
    b = StrokeBatch.from_lists([[[[-30000, 30000], [0, 0]]]], "simplified")
    with pytest.raises(ValueError, match="outside int16"):
        to_stroke3(b)
    s, _ = to_stroke3(b, dtype=np.float32)
    np.testing.assert_array_equal(s[0], [[-30000, 0, 0], [60000, 0, 1]])


def test_bad_arguments(simplified, raw):
    sub = simplified.slice(0, 5)
    with pytest.raises(TypeError, match="StrokeBatch"):
        to_stroke3([[[0], [0]]])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_len must be an int >= 1"):
            to_stroke5(sub, bad)
    with pytest.raises(ValueError, match="on_long must be one of"):
        to_stroke3(sub, on_long="drop")
    with pytest.raises(ValueError, match="dtype must be int16 or float32"):
        to_stroke3(sub, dtype=np.float64)
    with pytest.raises(ValueError, match="int16 needs simplified"):
        to_stroke3(raw.slice(0, 2), dtype=np.int16)
    with pytest.raises(ValueError, match=r"shape \(n, 3\) or \(n, 5\)"):
        from_stroke3(np.zeros((4, 4)))


def test_broken_offsets_are_an_error_not_a_crash():
    b = StrokeBatch.from_lists([[[[1, 2], [3, 4]]]], "simplified")
    b.stroke_offsets = np.array([0, 9], np.int64)  # past the points, unvalidated
    with pytest.raises(ValueError, match="broken stroke or drawing offsets"):
        to_stroke3(b)
    b.stroke_offsets = np.array([0, 2], np.int64)
    b.drawing_offsets = np.array([0, 3], np.int64)
    with pytest.raises(ValueError, match="broken stroke or drawing offsets"):
        to_stroke5(b, 4)


def test_threads_give_the_same_sequences(simplified):
    want, _ = to_stroke5(simplified, 200, on_long="truncate")
    got = [None] * 4
    cuts = np.linspace(0, len(simplified), 5).astype(int)

    def work(k):
        got[k] = to_stroke5(simplified.slice(cuts[k], cuts[k + 1]), 200, on_long="truncate")[0]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(np.concatenate(got), want)


@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_random_batches_with_empty_strokes_match_the_reference(kind):
    rng = np.random.default_rng(1414)
    drawings = []
    for _ in range(300):
        strokes = []
        for _ in range(rng.integers(0, 6)):
            n = int(rng.integers(0, 8))   # strokes of no points contribute no row
            if kind == "simplified":
                xy = rng.integers(0, 256, (2, n))
            else:
                xy = rng.normal(0, 300, (2, n)).astype(np.float32)
            strokes.append(xy.tolist())
        drawings.append(strokes)
    b = StrokeBatch.from_lists(drawings, kind)
    s3, n3 = to_stroke3(b, dtype=np.float32)
    s5, _ = to_stroke5(b, dtype=np.float32)
    np.testing.assert_array_equal(s3[..., 2], pen_expected(b, s3.shape[1]))
    for i in range(len(b)):
        strokes = [s[:2] for s in b.drawing(i) if s.shape[1]]
        ref = ref_stroke3(strokes) if strokes else np.zeros((0, 3))
        np.testing.assert_allclose(s3[i, :n3[i]], ref, rtol=0, atol=1e-3)
        np.testing.assert_allclose(s5[i], ref_stroke5(strokes, s5.shape[1]), rtol=0,
                                   atol=1e-3)
