"""Channel encoders: hand-made drawings with exact values, real drawings vs a Python reference."""

import gzip
import json
import threading

import numpy as np
import pytest
from reference_encode import encode_lists

from rasterfast import StrokeBatch
from rasterfast.encoders import CHANNELS, PAUSE_MS, STROKE_COUNT_STEP, STROKE_TIME_MS, encode

ALL = list(CHANNELS)
TIMED = [c for c in ALL if CHANNELS[c].needs_time]

# One drawing: strokes of 3, 1 and 2 points, times in ms.
HAND = [[[0, 10, 20], [0, 0, 0], [0, 100, 300]],
        [[5], [5], [700]],
        [[30, 40], [30, 40], [1000, 1500]]]
HAND_EXPECTED = {
    "ink": [255, 255, 255, 255, 255, 255],
    "stroke_order": [255, 255, 255, 242, 229, 229],
    "stroke_index": [85, 85, 85, 170, 255, 255],           # 255 * (i + 1) / 3
    "point_progress": [85, 170, 255, 255, 128, 255],       # 127.5 rounds up
    "time": [1, 17, 51, 119, 170, 255],                    # 255 * t / 1500, at least 1
    "stroke_time": [12, 12, 12, 1, 20, 20],                # 300 / 25, 0 -> 1, 500 / 25
    "pause": [1, 1, 1, 33, 25, 25],                        # first 0 -> 1, 400 / 12, 300 / 12
    "stroke_count": [24] * 6,                              # 3 * 8
}


def raw(drawings):
    return StrokeBatch.from_lists(drawings, "raw")


def test_normalisers_are_the_documented_ones():
    # the hand-made values below were computed with these
    assert (STROKE_TIME_MS, PAUSE_MS, STROKE_COUNT_STEP) == (25, 12, 8)


@pytest.mark.parametrize("channel", ALL)
def test_hand_made_drawing(channel):
    got = encode(raw([HAND]), [channel])
    np.testing.assert_array_equal(got, np.array([HAND_EXPECTED[channel]], np.uint8))


def test_channels_stack_in_order_and_drawings_are_independent():
    other = [[[1, 2], [1, 2], [50, 80]]]                   # one stroke of 30 ms
    got = encode(raw([HAND, other, HAND]), ["stroke_index", "stroke_time", "ink"])
    assert got.shape == (3, 14) and got.dtype == np.uint8
    np.testing.assert_array_equal(got[0], HAND_EXPECTED["stroke_index"] + [255, 255]
                                  + HAND_EXPECTED["stroke_index"])
    np.testing.assert_array_equal(got[1], HAND_EXPECTED["stroke_time"] + [1, 1]
                                  + HAND_EXPECTED["stroke_time"])
    assert (got[2] == 255).all()


def test_simplified_channels_on_simplified_input():
    b = StrokeBatch.from_lists([[s[:2] for s in HAND]], "simplified")
    names = [c for c in ALL if c not in TIMED]
    np.testing.assert_array_equal(encode(b, names), [HAND_EXPECTED[c] for c in names])


@pytest.mark.parametrize("channel", TIMED)
def test_time_channels_refuse_batches_without_times(channel):
    b = StrokeBatch.from_lists([[s[:2] for s in HAND]], "simplified")
    with pytest.raises(ValueError, match=f"{channel}.*need times"):
        encode(b, ["ink", channel])


def test_time_channels_accept_simplified_batch_that_kept_times():
    # what rasterfast.simplify gives: simplified coordinates, times carried along
    b = StrokeBatch.from_lists([HAND], "simplified")
    assert b.has_time
    np.testing.assert_array_equal(encode(b, TIMED), [HAND_EXPECTED[c] for c in TIMED])


def test_times_not_starting_at_zero_give_the_same_values():
    shifted = [[s[0], s[1], [v + 1_234_567 for v in s[2]]] for s in HAND]
    np.testing.assert_array_equal(encode(raw([shifted]), TIMED), encode(raw([HAND]), TIMED))


def test_non_monotone_times_clamp_to_zero():
    # stroke 0 ends before it starts; stroke 1 starts before stroke 0's end
    d = [[[0, 1, 2], [0, 1, 2], [500, 400, 450]],
         [[3, 4], [3, 4], [420, 900]]]
    got = encode(raw([d]), ["stroke_time", "pause", "time"])
    np.testing.assert_array_equal(got[0], [1, 1, 1, 19, 19])         # -50 -> 0; 480 / 25
    np.testing.assert_array_equal(got[1], [1, 1, 1, 1, 1])           # first; 420 - 450 < 0
    # time runs from the smallest t (400) to the largest (900)
    np.testing.assert_array_equal(got[2], [51, 1, 26, 10, 255])


def test_single_point_strokes_and_one_stroke_drawings():
    dot = [[[7], [7], [100]]]
    got = encode(raw([dot]), ALL)
    # one point: full progress and index, no duration, no pause, t span 0 -> 255
    expect = {"ink": 255, "stroke_order": 255, "stroke_index": 255, "point_progress": 255,
              "time": 255, "stroke_time": 1, "pause": 1, "stroke_count": 8}
    np.testing.assert_array_equal(got[:, 0], [expect[c] for c in ALL])


def test_saturation_and_rounding():
    strokes = [[[0, 1], [0, 1], [10_000 * i, 10_000 * i + (100_000 if i == 0 else 6)]]
               for i in range(40)]
    got = encode(raw([strokes]), ["stroke_order", "stroke_time", "stroke_count", "pause"])
    order = got[0, ::2]
    assert order[:11].tolist() == [255 - 13 * i for i in range(11)] and (order[10:] == 125).all()
    assert got[1, 0] == 255                          # 100 s: saturates
    assert (got[1, 2::2] == 1).all()                 # 6 ms / 25 = 0.24 -> 0 -> 1
    assert (got[2] == 255).all()                     # 40 strokes * 8 > 255
    # pauses: 10,000 - 100,000 < 0 for stroke 1, then 10,000 - 6 = 9,994 ms: saturates
    assert got[3, 2] == 1 and (got[3, 4::2] == 255).all()
    # round half up: a pause of 6 ms is 0.5 level -> 1; 18 ms is 1.5 -> 2; 30 ms 2.5 -> 3
    for pause, level in ((6, 1), (18, 2), (30, 3), (29, 2)):
        d = [[[0], [0], [0]], [[1], [1], [pause]]]
        assert encode(raw([d]), ["pause"])[0, 1] == level


def test_empty_batch_and_drawing_without_strokes():
    assert encode(StrokeBatch.empty("raw"), ALL).shape == (len(ALL), 0)
    assert encode(StrokeBatch.empty("simplified"), ["time"]).shape == (1, 0)
    b = StrokeBatch.from_columns("raw", [1, 2], [1, 2], [0, 40], [0, 2], [0, 0, 1, 1])
    np.testing.assert_array_equal(encode(b, ["stroke_count", "stroke_time"]),
                                  [[8, 8], [2, 2]])
    # strokes without points (the layout allows them): nothing to write
    b = StrokeBatch.from_columns("raw", [], [], [], [0, 0, 0], [0, 2])
    assert encode(b, ALL).shape == (len(ALL), 0)
    b = StrokeBatch.from_columns("raw", [5], [5], [9], [0, 0, 1], [0, 2])
    np.testing.assert_array_equal(encode(b, ["stroke_index", "pause", "stroke_count"]),
                                  [[255], [1], [16]])


def test_bad_channel_names():
    b = raw([HAND])
    with pytest.raises(ValueError, match="unknown channel 'inq'.*stroke_order"):
        encode(b, ["inq"])
    with pytest.raises(TypeError, match="string"):
        encode(b, "ink")
    with pytest.raises(ValueError, match="at least one"):
        encode(b, [])
    with pytest.raises(TypeError, match="StrokeBatch"):
        encode(HAND, ["ink"])


def test_inconsistent_offsets_raise():
    b = raw([HAND])
    bad = StrokeBatch(**{**b.__dict__, "stroke_offsets": np.array([0, 3, 9, 6], np.int64)})
    with pytest.raises(ValueError, match="stroke_offsets are inconsistent at stroke 1"):
        encode(bad, ["ink"])
    bad = StrokeBatch(**{**b.__dict__, "drawing_offsets": np.array([0, 5], np.int64)})
    with pytest.raises(ValueError, match="drawing_offsets are inconsistent at drawing 0"):
        encode(bad, ["ink"])


@pytest.fixture(scope="module")
def real_raw(data_dir):
    drawings = []
    for path in sorted((data_dir / "ndjson" / "raw").glob("*.ndjson.gz"))[::12]:
        with gzip.open(path, "rt") as fh:
            drawings += [json.loads(line)["drawing"] for line in fh if line.strip()][:10]
    return drawings


def test_real_raw_drawings_match_reference(real_raw):
    got = encode(raw(real_raw), ALL)
    np.testing.assert_array_equal(got, encode_lists(real_raw, ALL))
    assert got.min() >= 1                             # every drawn segment is visible


def test_threads_give_the_same_values(real_raw):
    b = raw(real_raw)
    expect = encode(b, ALL)
    results = [None] * 4

    def work(i):
        results[i] = encode(b, ALL)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expect)


def test_random_drawings_match_reference():
    rng = np.random.default_rng(7)
    drawings = []
    for _ in range(200):
        d = []
        t = int(rng.integers(-5, 5))
        for _ in range(int(rng.integers(1, 14))):
            n = int(rng.integers(1, 6))
            ts = (t + np.cumsum(rng.integers(-30, 3000, n))).tolist()
            t = ts[-1] + int(rng.integers(-100, 5000))
            d.append([rng.integers(0, 256, n).tolist(), rng.integers(0, 256, n).tolist(), ts])
        drawings.append(d)
    np.testing.assert_array_equal(encode(raw(drawings), ALL), encode_lists(drawings, ALL))
