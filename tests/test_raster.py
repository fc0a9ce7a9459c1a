"""rasterfast.render: the direct rasteriser, the render() wrapper, out=, threads, errors."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
from reference_raster import capsules, load_simplified

from rasterfast import StrokeBatch
from rasterfast.render import rasterize, render


def raster(text):
    """A literal raster: '#' is 9, '.' is 0, one row per line."""
    rows = [line.strip() for line in text.strip().splitlines()]
    return np.array([[9 if ch == "#" else 0 for ch in row] for row in rows], np.uint8)


def simplified(*strokes):
    """One simplified drawing from strokes given as (xs, ys)."""
    return StrokeBatch.from_lists([[[list(xs), list(ys)] for xs, ys in strokes]], "simplified")


def draw(batch, size=16, width=24.0, value=9, **kw):
    v = np.full((1, batch.num_points), value, np.uint8)
    return rasterize(batch, v, size=size, line_width=width, **kw)


# -- hand-written rasters ---------------------------------------------------------------
# At S=16 the point x of the 0-255 frame is at (x + 0.5) / 16 - 0.5: 24 -> 1.03,
# 200 -> 12.03, 72 -> 4.03, 128 -> 7.53. Width 24 is r = 0.75 px, 40 is 1.25, 56 is 1.75.

HORIZONTAL_R075 = raster("""
................
................
................
................
.############...
................
""")

HORIZONTAL_R125 = raster("""
................
................
................
.############...
##############..
.############...
................
""")

DOT_R175 = raster("""
................
................
................
................
................
................
.......##.......
......####......
......####......
.......##.......
................
""")

DIAGONAL_R075 = raster("""
................
.##.............
.###............
..###...........
...###..........
....###.........
.....###........
......###.......
.......###......
........###.....
.........###....
..........###...
...........##...
................
................
................
""")


@pytest.mark.parametrize("width, expected", [(24, HORIZONTAL_R075), (40, HORIZONTAL_R125)])
def test_horizontal_line_16px(width, expected):
    img = draw(simplified(([24, 200], [72, 72])), width=width)[0, 0]
    np.testing.assert_array_equal(img[: len(expected)], expected)
    assert not img[len(expected):].any()


def test_single_point_is_a_dot():
    img = draw(simplified(([128], [128])), width=56)[0, 0]
    np.testing.assert_array_equal(img[: len(DOT_R175)], DOT_R175)
    assert not img[len(DOT_R175):].any()


def test_diagonal():
    img = draw(simplified(([24, 200], [24, 200])), width=24)[0, 0]
    np.testing.assert_array_equal(img, DIAGONAL_R075)


def test_zero_length_segment_is_the_same_dot():
    dot = draw(simplified(([128], [128])), width=56)
    np.testing.assert_array_equal(draw(simplified(([128, 128], [128, 128])), width=56), dot)
    three = simplified(([128, 128, 128], [128, 128, 128]))
    np.testing.assert_array_equal(draw(three, width=56), dot)


def test_antialiased_dot_by_coverage():
    # r = 1.75 at (7.53, 7.53): coverage clip(r + 0.5 - d, 0, 1) of each pixel centre
    img = draw(simplified(([128], [128])), width=56, value=255, antialias=True)[0, 0]
    yy, xx = np.mgrid[0:16, 0:16]
    c = (128 + 0.5) / 16 - 0.5
    want = np.floor(np.clip(2.25 - np.hypot(xx - c, yy - c), 0, 1) * 255 + 0.5)
    np.testing.assert_array_equal(img, want.astype(np.uint8))


# -- against the NumPy reference ----------------------------------------------------------

@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("compose", ["paint", "max"])
def test_direct_matches_reference(antialias, compose):
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(40):
        size = int(rng.choice([16, 23, 64, 100]))
        channels = int(rng.integers(1, 3))
        strokes, values = [], []
        for _ in range(int(rng.integers(1, 5))):
            n = int(rng.integers(1, 6))
            xs, ys = rng.integers(-20, 276, n), rng.integers(-20, 276, n)
            v = rng.integers(0, 256, (channels, n)).astype(np.uint8)
            if rng.random() < 0.5:
                v[:] = v[:, :1]   # stroke-constant values: the kernel skips repeated caps
            strokes.append((xs, ys))
            values.append(v)
        batch = StrokeBatch.from_lists([[[xs.tolist(), ys.tolist()] for xs, ys in strokes]],
                                       "simplified")
        width = float(rng.uniform(2, 40))
        got = rasterize(batch, np.concatenate(values, 1), size=size, line_width=width,
                        antialias=antialias, compose=compose)[0]
        want, edge = capsules(strokes, values, size, width, antialias, compose)
        # pixels whose centre lies within 1e-6 of an edge may round either way
        clear = np.broadcast_to(edge > 1e-6, got.shape)
        np.testing.assert_array_equal(got[clear], want[clear])
        checked += int(clear.sum())
    assert checked > 100_000


# -- invariants ----------------------------------------------------------------------------

def random_raw(rng, n_drawings=20):
    drawings = []
    for _ in range(n_drawings):
        drawing = []
        for _ in range(int(rng.integers(1, 5))):
            n = int(rng.integers(1, 12))
            drawing.append([rng.uniform(-50, 400, n).tolist(), rng.uniform(-30, 300, n).tolist(),
                            list(range(n))])
        drawings.append(drawing)
    return drawings


@pytest.mark.parametrize("antialias", [False, True])
def test_transposed_input_gives_transposed_image(antialias):
    rng = np.random.default_rng(3)
    drawings = random_raw(rng)
    swapped = [[[s[1], s[0], s[2]] for s in d] for d in drawings]
    a, b = (StrokeBatch.from_lists(d, "raw") for d in (drawings, swapped))
    kw = dict(size=48, line_width=14.0, antialias=antialias)
    ia = rasterize(a, np.full((1, a.num_points), 200, np.uint8), **kw)
    ib = rasterize(b, np.full((1, b.num_points), 200, np.uint8), **kw)
    np.testing.assert_array_equal(ia, ib.transpose(0, 1, 3, 2))


@pytest.mark.parametrize("antialias", [False, True])
def test_reversed_strokes_draw_the_same(antialias):
    rng = np.random.default_rng(4)
    drawings = random_raw(rng)
    backwards = [[[s[0][::-1], s[1][::-1], s[2]] for s in d] for d in drawings]
    a, b = (StrokeBatch.from_lists(d, "raw") for d in (drawings, backwards))
    kw = dict(size=40, line_width=20.0, antialias=antialias)
    np.testing.assert_array_equal(rasterize(a, np.full((1, a.num_points), 9, np.uint8), **kw),
                                  rasterize(b, np.full((1, b.num_points), 9, np.uint8), **kw))


def test_far_outside_is_clipped_without_cost():
    # a raw drawing from -1e6 to 1e6 (fitted to 0-255 by "scale") and simplified-frame
    # points far outside the canvas: only what crosses the canvas is drawn
    # fitted: the stroke runs along y = 0 from x = 0 to 255, the dot is at (127.5, 38.25),
    # which at 32 px and r = 1 are row 0, and rows 4-5 around x = 15.5
    d = [[[-1e6, 1e6], [0.0, 0.0], [0, 1]], [[0.0], [3e5], [2]]]
    img = draw(StrokeBatch.from_lists([d], "raw"), size=32, width=16)[0, 0]
    assert img[0].all() and not img[1:4].any() and not img[6:].any()
    assert img[4:6, 15:17].all() and not img[4:6, :14].any() and not img[4:6, 18:].any()
    edge = simplified(([-32000, 32000], [-32000, 32000]), ([20000], [128]))
    got = draw(edge, size=64, width=8)[0, 0]
    np.testing.assert_array_equal(got, draw(simplified(([-1, 256], [-1, 256])), size=64,
                                            width=8)[0, 0])


@pytest.mark.parametrize("antialias, compose", [(False, "paint"), (True, "max")])
def test_5000_point_stroke(antialias, compose):
    t = np.linspace(0, 40 * np.pi, 5000)
    xs = np.round(128 + 120 * np.cos(t) * t / t[-1]).astype(int)
    ys = np.round(128 + 120 * np.sin(t) * t / t[-1]).astype(int)
    whole = simplified((xs.tolist(), ys.tolist()))
    pieces = simplified(*[(xs[p:p + 2].tolist(), ys[p:p + 2].tolist()) for p in range(4999)])
    kw = dict(size=128, width=4, antialias=antialias, compose=compose)
    img = draw(whole, **kw)[0, 0]
    # one stroke of 5000 points inks what its 4999 segments ink as strokes of their own
    np.testing.assert_array_equal(img, draw(pieces, **kw)[0, 0])
    small = draw(whole, **{**kw, "size": 32})[0, 0]
    want, edge = capsules([(xs, ys)], [np.full((1, 5000), 9, np.uint8)], 32, 4.0, antialias,
                          compose)
    np.testing.assert_array_equal(small[edge > 1e-6], want[0][edge > 1e-6])


def test_paint_and_max_compose():
    batch = simplified(([20, 230], [128, 128]), ([128, 128], [20, 230]))
    v = np.array([[200, 200, 50, 50]], np.uint8)
    paint = rasterize(batch, v, size=32, line_width=20)[0, 0]
    most = rasterize(batch, v, size=32, line_width=20, compose="max")[0, 0]
    assert paint[15, 15] == 50 and most[15, 15] == 200   # the crossing
    assert set(np.unique(paint)) == {0, 50, 200} == set(np.unique(most))


def test_end_cap_takes_the_last_points_value():
    batch = simplified(([40, 216], [128, 128]))
    img = rasterize(batch, np.array([[100, 250]], np.uint8), size=64, line_width=40)[0, 0]
    # at 64 px: x 40 -> 9.6, 216 -> 53.6, r = 5; the end cap covers columns 49-58
    assert img[31, 10] == 100 and img[31, 48] == 100
    assert img[31, 50] == 250 and img[31, 58] == 250      # the end cap, over the segment
    assert img[31, 5] == 100                              # the start cap: the segment's value


def test_multichannel_values():
    batch = simplified(([20, 230], [128, 128]))
    v = np.array([[10, 10], [20, 20], [30, 30]], np.uint8)
    img = rasterize(batch, v, size=16, line_width=30)[0]
    assert img.shape == (3, 16, 16)
    for c in range(3):
        np.testing.assert_array_equal(img[c], (img[0] > 0) * (10 * (c + 1)))


# -- threads, out=, empty inputs -----------------------------------------------------------

def test_four_threads_give_identical_results(data_dir):
    drawings = load_simplified(data_dir, "ndjson")[:1500]
    batch = StrokeBatch.from_lists(drawings, "simplified")
    v = np.full((1, batch.num_points), 255, np.uint8)
    kws = [dict(size=64, line_width=6.0, antialias=True),
           dict(size=80, line_width=6.0, method="opencv256")]
    for kw in kws:
        want = rasterize(batch, v, **kw)
        results = [None] * 4

        def work(k, kw=kw, results=results):
            results[k] = rasterize(batch, v, **kw)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for r in results:
            np.testing.assert_array_equal(r, want)


_GUARD_PAGE_SCRIPT = r"""
import ctypes, mmap, sys
import numpy as np
from rasterfast import StrokeBatch
from rasterfast.render import rasterize

libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
page = mmap.PAGESIZE
# short strokes ending in the last pixels (bottom-right corner), and dots on them
drawings = [[[[250, 255], [255, 255]]], [[[255], [255]]], [[[253, 255, 254], [250, 255, 252]]],
            [[[0, 255], [255, 255]]]]
batch = StrokeBatch.from_lists(drawings, "simplified")
for channels, size, width in ((1, 64, 6.0), (3, 16, 6.0), (1, 8, 20.0), (2, 32, 3.0), (1, 2, 90.0)):
    n = channels * size * size
    pages = -(-n // page) + 1
    buf = mmap.mmap(-1, pages * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    # the page after the image may be neither read nor written: any access faults
    if libc.mprotect(base + (pages - 1) * page, page, 0) != 0:
        sys.exit("mprotect failed")
    img = np.frombuffer(buf, np.uint8, count=n, offset=(pages - 1) * page - n)
    img = img.reshape(1, channels, size, size)
    v = np.full((channels, batch.num_points), 200, np.uint8)
    for i in range(len(batch)):
        one = batch.take([i])
        for compose in ("paint", "max"):
            rasterize(one, v[:, :one.num_points], size=size, line_width=width,
                      compose=compose, out=img)
            want = rasterize(one, v[:, :one.num_points], size=size, line_width=width,
                             compose=compose)
            assert np.array_equal(img, want), (channels, size, i, compose)
print("ok")
"""


def test_short_spans_stay_inside_the_image():
    # Short spans are written as masked 8-byte words (ext/_raster.pyx, _paint_span): an
    # image placed right before a page that faults on any access shows that no word
    # runs past the image, even for strokes ending in its last pixel.
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _GUARD_PAGE_SCRIPT], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


@pytest.mark.parametrize("method", ["direct", "opencv256"])
def test_out_slice_of_memmap(tmp_path, method):
    drawings = [[[[10, 200], [10, 200]]], [[[128], [64]]], [[[0, 255, 0], [0, 0, 255]]]]
    batch = StrokeBatch.from_lists(drawings, "simplified")
    v = np.full((1, batch.num_points), 255, np.uint8)
    shard = np.lib.format.open_memmap(tmp_path / "s.npy", mode="w+", dtype=np.uint8,
                                      shape=(7, 1, 64, 64))
    shard[:] = 77
    got = rasterize(batch, v, size=64, method=method, out=shard[2:5])
    assert got is not None and np.shares_memory(got, shard)
    shard.flush()
    back = np.load(tmp_path / "s.npy")
    np.testing.assert_array_equal(back[2:5], rasterize(batch, v, size=64, method=method))
    assert (back[:2] == 77).all() and (back[5:] == 77).all()


def test_out_is_checked():
    batch = simplified(([10, 20], [10, 20]))
    v = np.full((1, 2), 255, np.uint8)
    with pytest.raises(ValueError, match="shape"):
        rasterize(batch, v, size=16, out=np.zeros((1, 1, 16, 15), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        rasterize(batch, v, size=16, out=np.zeros((1, 1, 16, 16), np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        rasterize(batch, v, size=16, out=np.zeros((1, 1, 16, 32), np.uint8)[..., ::2])
    ro = np.zeros((1, 1, 16, 16), np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        rasterize(batch, v, size=16, out=ro)
    with pytest.raises(TypeError, match="numpy array"):
        rasterize(batch, v, size=16, out=[[0]])


def test_empty_batch_and_empty_drawing():
    out = draw(StrokeBatch.empty("simplified"))
    assert out.shape == (0, 1, 16, 16)
    b = StrokeBatch.from_lists([[], [[[1, 2], [3, 4]]]], "simplified")
    img = draw(b)
    assert not img[0].any() and img[1].any()


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(size=0), ValueError, "size"),
    (dict(size=16.0), TypeError, "size"),
    (dict(size=16, line_width=0), ValueError, "line_width"),
    (dict(size=16, method="cairo"), ValueError, "method"),
    (dict(size=16, compose="add"), ValueError, "compose"),
    (dict(size=16, method="opencv256", line_width=6.5), ValueError, "integer"),
    (dict(size=16, method="opencv256", antialias=True), ValueError, "antialias"),
    (dict(size=16, geometry="simplify"), ValueError, "geometry"),
])
def test_bad_arguments(kwargs, exc, match):
    batch = simplified(([10, 20], [10, 20]))
    with pytest.raises(exc, match=match):
        rasterize(batch, np.zeros((1, 2), np.uint8), **kwargs)


def test_bad_values_and_offsets():
    batch = simplified(([10, 20], [10, 20]))
    with pytest.raises(ValueError, match="intensity"):
        rasterize(batch, np.zeros((1, 3), np.uint8), size=16)
    with pytest.raises(ValueError, match="intensity"):
        rasterize(batch, np.zeros((1, 2), np.int16), size=16)
    with pytest.raises(TypeError, match="StrokeBatch"):
        rasterize([[1, 2]], np.zeros((1, 2), np.uint8), size=16)
    broken = simplified(([10, 20], [10, 20]))
    broken.stroke_offsets = np.array([0, 5], np.int64)
    with pytest.raises(ValueError, match="stroke_offsets"):
        rasterize(broken, np.zeros((1, 2), np.uint8), size=16)
    raw = StrokeBatch.from_lists([[[[1.5, 2.0], [3.0, 4.0], [0, 1]]]], "raw")
    with pytest.raises(ValueError, match="simplified"):
        rasterize(raw, np.zeros((1, 2), np.uint8), size=16, geometry="simplified")


# -- render() with a recipe -------------------------------------------------------------------

def ink_recipe(**kw):
    base = dict(size=32, line_width=8.0, antialias=False, compose="paint", geometry=None,
                method="direct", channels=["ink"],
                encode=lambda b: np.full((1, b.num_points), 255, np.uint8))
    base.update(kw)
    return SimpleNamespace(**base)


def test_render_uses_the_recipe():
    batch = StrokeBatch.from_lists([[[[10, 200], [30, 30]]], [[[5], [5]]]], "simplified")
    for kw in (dict(), dict(antialias=True), dict(method="opencv256", line_width=6),
               dict(compose="max", size=20)):
        r = ink_recipe(**kw)
        want = rasterize(batch, r.encode(batch), size=r.size, line_width=r.line_width,
                         antialias=r.antialias, compose=r.compose, method=r.method)
        np.testing.assert_array_equal(render(batch, r), want)


def test_render_checks_the_recipe():
    batch = simplified(([10, 20], [10, 20]))
    with pytest.raises(ValueError, match="encode"):
        render(batch, ink_recipe(encode=lambda b: np.zeros((2, b.num_points), np.uint8)))
    with pytest.raises(TypeError, match="line_width"):
        render(batch, SimpleNamespace(size=16, channels=["ink"],
                                      encode=lambda b: np.zeros((1, 2), np.uint8)))
    with pytest.raises(ValueError, match="geometry"):
        render(batch, ink_recipe(geometry="warp"))


def test_scale_geometry_fits_raw_drawings():
    # the same shape at two scales and offsets fills the canvas the same way
    d1 = [[[100.0, 300.0, 300.0], [50.0, 50.0, 150.0], [0, 1, 2]]]
    d2 = [[[-5.0, -1.0, -1.0], [7.0, 7.0, 9.0], [0, 1, 2]]]
    batch = StrokeBatch.from_lists([d1, d2], "raw")
    for method, width in (("direct", 8.0), ("opencv256", 6)):
        img = render(batch, ink_recipe(method=method, line_width=width))
        np.testing.assert_array_equal(img[0], img[1])
        simple = simplified(([0, 255, 255], [0, 0, 128]))
        np.testing.assert_array_equal(img[0], render(simple, ink_recipe(method=method,
                                                                        line_width=width))[0])



def test_scale_fit_matches_numpy_box(data_dir):
    # the kernel's per-drawing box and scale, against numpy on real raw drawings
    # and on the corner cases: one point, a zero extent, a drawing with no points, NaN
    from rasterfast.readers import read_drawings
    from rasterfast.render import _bbox_fit
    raw = StrokeBatch.concat(read_drawings(sorted((data_dir / "ndjson" / "raw").glob("*"))[0]))
    odd = StrokeBatch.from_lists([
        [[[5.0], [6.0], [0]]],
        [[[3.0, 3.0], [1.0, 1.0], [0, 1]]],
        [[[1.0, float("nan")], [2.0, 4.0], [0, 1]]],
        [[[-7.5, 2.0], [1e6, -1e6], [0, 1]]],
    ], "raw")
    for batch in (raw, odd):
        fit = _bbox_fit(batch)
        for i in range(len(batch)):
            pts = np.concatenate([s[:2].astype(np.float64) for s in batch.drawing(i)], axis=1)
            x0, y0 = pts[0].min(), pts[1].min()
            extent = max(pts[0].max() - x0, pts[1].max() - y0)
            k = 255.0 / extent if extent > 0 else 1.0
            np.testing.assert_array_equal(fit[i], [x0, y0, k])
    empty = StrokeBatch.from_columns("raw", np.zeros(1, np.float32), np.zeros(1, np.float32),
                                     np.zeros(1, np.int32), [0, 1], [0, 0, 1])
    np.testing.assert_array_equal(_bbox_fit(empty), [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])

# -- gray vs cv2.polylines --------------------------------------------------------------------

@pytest.mark.parametrize("width, size, iou_mean, iou_min, prec_min", [
    (6, 256, 0.87, 0.83, 0.999),
    (8, 128, 0.80, 0.76, 0.96),
])
def test_gray_close_to_cv2_polylines(data_dir, width, size, iou_mean, iou_min, prec_min):
    """Tolerance: our ink is (all but) a subset of cv2.polylines' at the same width (precision
    = share of our ink that cv2 inks too), and the masks overlap with IoU >= the bounds.
    cv2 fills the band with rounded corners and draws its outline, which makes slanted
    lines up to a pixel wider: IoU is 0.89 on average at 256 px, not 1."""
    import cv2

    drawings = load_simplified(data_dir, "kaggle")[:400]
    batch = StrokeBatch.from_lists(drawings, "simplified")
    ours = rasterize(batch, np.full((1, batch.num_points), 255, np.uint8), size=size,
                     line_width=float(width))[:, 0] > 0
    thickness = width * size // 256
    ious, precisions = [], []
    for mine, d in zip(ours, drawings, strict=True):
        img = np.zeros((size, size), np.uint8)
        # the same output frame, in cv2's fixed point with 4 fraction bits
        pts = [np.round(((np.array(s[:2]).T + 0.5) * size / 256 - 0.5) * 16).astype(np.int32)
               for s in d]
        cv2.polylines(img, pts, False, 255, thickness, cv2.LINE_8, 4)
        theirs = img > 0
        ious.append((mine & theirs).sum() / (mine | theirs).sum())
        precisions.append((mine & theirs).sum() / mine.sum())
    assert np.mean(ious) >= iou_mean and np.min(ious) >= iou_min, (np.mean(ious), np.min(ious))
    assert np.min(precisions) >= prec_min, np.min(precisions)
