"""method="opencv256" against OpenCV itself: cv2.line (LINE_8) at 256 px and cv2.resize.

OpenCV is the arbiter: random segments of every direction and length (near,
across and far outside the borders, zero-length), the resize at every size,
and the Beluga recipe on every real simplified drawing of the sample.
"""

from __future__ import annotations

import cv2  # a test dependency (pyproject [test]): OpenCV is the arbiter here
import numpy as np
import pytest
from reference_raster import beluga_cv2, load_simplified, stroke_order_values

from rasterfast import StrokeBatch
from rasterfast._ext import _rastercv
from rasterfast.render import _linear_tables, rasterize

BELUGA_SIZES = (64, 80, 128, 224, 256)


def random_segments(rng, n, thickness):
    """Segments of every kind: anywhere, from inside to far outside, near borders, short."""
    out = np.empty((n, 4), np.int64)
    for k in range(n):
        kind = k % 6
        if kind == 0:
            p = rng.integers(-30, 290, 4)
        elif kind == 1:
            p = np.r_[rng.integers(0, 256, 2), rng.integers(-32000, 32000, 2)]
        elif kind == 2:
            p = rng.integers(-32000, 32000, 4)
        elif kind == 3:
            p = rng.integers(0, 256, 2)
            p = np.r_[p, p + rng.integers(-3 * thickness, 3 * thickness + 1, 2)]
        elif kind == 4:
            p = rng.integers(0, 256, 4)
            p[rng.integers(0, 4)] = rng.choice([0, 1, 2, 3, 252, 253, 254, 255])
        else:
            p = rng.integers(0, 256, 4)
            p[2 + rng.integers(0, 2)] = p[rng.integers(0, 2)]   # horizontal / vertical
        out[k] = p
    out[::50, 2:] = out[::50, :2]                               # zero-length
    return out


def draw_segments(segs, thickness):
    """Each segment on a canvas of its own, through the kernel (compose max, one channel each)."""
    n = len(segs)
    xs = segs[:, [0, 2]].reshape(-1).astype(np.int16)
    ys = segs[:, [1, 3]].reshape(-1).astype(np.int16)
    values = np.zeros((n, 2 * n), np.uint8)
    values[np.arange(n), 2 * np.arange(n)] = 1
    values[np.arange(n), 2 * np.arange(n) + 1] = 1
    canvas = np.zeros((n, 256, 256), np.uint8)
    status = _rastercv._draw_cv(canvas, xs, ys, np.arange(0, 2 * n + 1, 2, dtype=np.int64),
                                values, thickness, 1)
    assert status == (0, -1)
    return canvas


@pytest.mark.parametrize("thickness, n", [(6, 2400), (2, 300), (3, 300), (5, 300), (9, 300),
                                          (16, 300), (64, 120)])
def test_segments_match_cv2_line(thickness, n):
    rng = np.random.default_rng(thickness)
    segs = random_segments(rng, n, thickness)
    bad = []
    for start in range(0, n, 120):
        chunk = segs[start:start + 120]
        ours = draw_segments(chunk, thickness)
        for k, (x0, y0, x1, y1) in enumerate(chunk.tolist()):
            ref = np.zeros((256, 256), np.uint8)
            cv2.line(ref, (x0, y0), (x1, y1), 1, thickness)
            if not np.array_equal(ours[k], ref):
                bad.append(((x0, y0, x1, y1), int((ours[k] != ref).sum())))
    assert not bad, f"{len(bad)} of {n} segments differ from cv2.line, e.g. {bad[:5]}"


def test_reversed_segments_match_cv2_line():
    rng = np.random.default_rng(11)
    segs = random_segments(rng, 240, 6)[:, [2, 3, 0, 1]]
    ours = draw_segments(segs, 6)
    for k, (x0, y0, x1, y1) in enumerate(segs.tolist()):
        ref = np.zeros((256, 256), np.uint8)
        cv2.line(ref, (x0, y0), (x1, y1), 1, 6)
        np.testing.assert_array_equal(ours[k], ref, err_msg=str((x0, y0, x1, y1)))


def test_dot_is_opencvs_disk():
    b = StrokeBatch.from_lists([[[[10], [12]]]], "simplified")
    img = rasterize(b, np.full((1, 1), 9, np.uint8), size=256, line_width=6, method="opencv256")
    disk = np.array([[0, 0, 0, 9, 0, 0, 0],
                     [0, 9, 9, 9, 9, 9, 0],
                     [0, 9, 9, 9, 9, 9, 0],
                     [9, 9, 9, 9, 9, 9, 9],
                     [0, 9, 9, 9, 9, 9, 0],
                     [0, 9, 9, 9, 9, 9, 0],
                     [0, 0, 0, 9, 0, 0, 0]], np.uint8)
    np.testing.assert_array_equal(img[0, 0, 9:16, 7:14], disk)
    assert img[0, 0].sum() == disk.sum()


def test_resize_tables_match_cv2_resize_at_every_size():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (256, 256)).astype(np.uint8),
              (rng.random((256, 256)) < 0.3).astype(np.uint8) * 255]
    bad = []
    for size in range(16, 513):
        mode, xtab, ytab, xinv, _ = _linear_tables(256, size)
        for img in images:
            if mode == 2:
                continue          # 256 -> 256 is a copy: the kernel draws into the output
            dst = np.empty((size, size), np.uint8)
            assert _rastercv._resize_linear(img, dst, mode, xtab, ytab, xinv) == 0
            if not np.array_equal(dst, cv2.resize(img, (size, size))):
                bad.append(size)
                break
    assert not bad, f"resize differs from cv2.resize at sizes {bad}"


def test_row_mask_covers_every_row_read():
    for size in (16, 64, 80, 100, 128, 224, 300, 512):
        mode, xtab, ytab, xinv, rowmask = _linear_tables(256, size)
        img = np.zeros((256, 256), np.uint8)
        img[rowmask == 0] = 255     # rows said to be unread change nothing
        dst = np.empty((size, size), np.uint8)
        if mode != 2:
            _rastercv._resize_linear(img, dst, mode, xtab, ytab, xinv)
            assert not dst.any(), size


@pytest.mark.parametrize("source", ["ndjson", "kaggle"])
def test_beluga_identical_to_opencv_on_all_real_drawings(data_dir, source):
    drawings = load_simplified(data_dir, source)
    assert len(drawings) > 8000
    batch = StrokeBatch.from_lists(drawings, "simplified")
    values = stroke_order_values(batch)
    bad_drawings = {s: 0 for s in BELUGA_SIZES}
    bad_pixels = {s: 0 for s in BELUGA_SIZES}
    step = 1000
    for start in range(0, len(drawings), step):
        idx = np.arange(start, min(start + step, len(drawings)))
        part = batch.take(idx)
        p0, p1 = batch.stroke_offsets[batch.drawing_offsets[[idx[0], idx[-1] + 1]]]
        canvases = np.stack([beluga_cv2(drawings[i], 256) for i in idx])
        for size in BELUGA_SIZES:
            ours = rasterize(part, values[:, p0:p1], size=size, line_width=6, method="opencv256")
            ref = canvases if size == 256 else np.stack([cv2.resize(c, (size, size))
                                                         for c in canvases])
            diff = ours[:, 0] != ref
            bad_drawings[size] += int(diff.any(axis=(1, 2)).sum())
            bad_pixels[size] += int(diff.sum())
    assert all(v == 0 for v in bad_drawings.values()), (
        f"{source}: drawings differing per size {bad_drawings}, pixels {bad_pixels} "
        f"of {len(drawings)} drawings")


def test_cached_shapes_match_opencv():
    """Batches of a few thousand segments go through the kernel's cache of segment shapes
    (away from the borders); random strokes, many near the borders and crossing each other."""
    rng = np.random.default_rng(9)
    drawings = []
    for _ in range(400):
        d = []
        for _ in range(int(rng.integers(1, 5))):
            n = int(rng.integers(2, 9))
            lo, hi = (0, 256) if rng.random() < 0.5 else (100, 140)
            d.append([rng.integers(lo, hi, n).tolist(), rng.integers(lo, hi, n).tolist()])
        drawings.append(d)
    batch = StrokeBatch.from_lists(drawings, "simplified")
    assert batch.num_points >= 4096          # the size from which the kernel caches shapes
    values = stroke_order_values(batch)
    for size in (64, 256):
        ours = rasterize(batch, values, size=size, line_width=6, method="opencv256")[:, 0]
        for i, d in enumerate(drawings):
            np.testing.assert_array_equal(ours[i], beluga_cv2(d, size), err_msg=str(i))


@pytest.mark.parametrize("thickness", [2, 3, 6, 9, 16])
def test_cached_shapes_near_the_borders_match_opencv(thickness):
    """Segments with an endpoint within a few pixels of a border go through the shape
    cache where no edge line of their band is clipped (the shape recorded inside):
    every one of them, drawn alone at 256 px, is cv2.line's."""
    rng = np.random.default_rng(100 + thickness)
    edge = np.r_[np.arange(0, 2 * thickness + 3), np.arange(253 - 2 * thickness, 256)]
    drawings = []
    for k in range(2400):
        p = rng.integers(0, 256, 4)
        for j in rng.choice(4, int(rng.integers(1, 4)), replace=False):
            p[j] = rng.choice(edge)
        if k % 3 == 0:             # short ones, the most common in doodles
            p[2:] = np.clip(p[:2] + rng.integers(-12, 13, 2), 0, 255)
        drawings.append([[[int(p[0]), int(p[2])], [int(p[1]), int(p[3])]]])
    batch = StrokeBatch.from_lists(drawings, "simplified")
    assert batch.num_points >= 4096          # the size from which the kernel caches shapes
    values = np.full((1, batch.num_points), 255, np.uint8)
    ours = rasterize(batch, values, size=256, line_width=thickness, method="opencv256")[:, 0]
    bad = []
    for i, ((xs, ys),) in enumerate(drawings):
        ref = np.zeros((256, 256), np.uint8)
        cv2.line(ref, (xs[0], ys[0]), (xs[1], ys[1]), 255, thickness)
        if not np.array_equal(ours[i], ref):
            bad.append((xs, ys))
    assert not bad, f"{len(bad)} of {len(drawings)} differ from cv2.line, e.g. {bad[:5]}"


def test_multichannel_and_max_compose_match_opencv():
    rng = np.random.default_rng(5)
    drawings = []
    for _ in range(30):
        drawings.append([[rng.integers(0, 256, n).tolist(), rng.integers(0, 256, n).tolist()]
                         for n in rng.integers(1, 8, rng.integers(1, 6))])
    batch = StrokeBatch.from_lists(drawings, "simplified")
    per_stroke = rng.integers(1, 256, (3, batch.num_strokes)).astype(np.uint8)
    values = np.repeat(per_stroke, np.diff(batch.stroke_offsets), axis=1)
    for compose in ("paint", "max"):
        ours = rasterize(batch, values, size=100, line_width=6, method="opencv256",
                         compose=compose)
        j = 0
        for i, d in enumerate(drawings):
            canvas = np.zeros((256, 256, 3), np.uint8)
            for xs, ys in d:
                colour = tuple(int(v) for v in per_stroke[:, j])
                if compose == "paint":
                    target = canvas
                else:
                    target = np.zeros_like(canvas)
                for p in range(max(len(xs) - 1, 1)):
                    q = min(p + 1, len(xs) - 1)
                    cv2.line(target, (xs[p], ys[p]), (xs[q], ys[q]), colour, 6)
                if compose == "max":
                    np.maximum(canvas, target, out=canvas)
                j += 1
            ref = cv2.resize(canvas, (100, 100)).transpose(2, 0, 1)
            np.testing.assert_array_equal(ours[i], ref)


def test_end_cap_in_the_last_points_value():
    """Varying values along a stroke: cv2.line per segment in its start point's value, then
    the end cap as cv2.circle(last point, radius 3, last value, filled)."""
    xs, ys = [30, 120, 200, 220], [40, 200, 60, 230]
    batch = StrokeBatch.from_lists([[[xs, ys]]], "simplified")
    values = np.array([[50, 90, 130, 250]], np.uint8)
    ours = rasterize(batch, values, size=256, line_width=6, method="opencv256")[0, 0]
    ref = np.zeros((256, 256), np.uint8)
    for p in range(3):
        cv2.line(ref, (xs[p], ys[p]), (xs[p + 1], ys[p + 1]), int(values[0, p]), 6)
    cv2.circle(ref, (xs[-1], ys[-1]), 3, 250, -1)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.slow
def test_every_offset_matches_cv2_line():
    """Every (dx, dy) in [-255, 255]^2 at thickness 6 (261,121 segments; minutes)."""
    rng = np.random.default_rng(0)
    d = np.stack(np.meshgrid(np.arange(-255, 256), np.arange(-255, 256)), -1).reshape(-1, 2)
    bad = 0
    for start in range(0, len(d), 128):
        dd = d[start:start + 128]
        x0 = rng.integers(np.maximum(0, -dd[:, 0]), np.minimum(255, 255 - dd[:, 0]) + 1)
        y0 = rng.integers(np.maximum(0, -dd[:, 1]), np.minimum(255, 255 - dd[:, 1]) + 1)
        segs = np.stack([x0, y0, x0 + dd[:, 0], y0 + dd[:, 1]], 1)
        ours = draw_segments(segs, 6)
        for k, (a, b, c, e) in enumerate(segs.tolist()):
            ref = np.zeros((256, 256), np.uint8)
            cv2.line(ref, (a, b), (c, e), 1, 6)
            bad += not np.array_equal(ours[k], ref)
    assert bad == 0, f"{bad} of {len(d)} offsets differ"


@pytest.mark.parametrize("bound", [0, 3 << 20])
def test_shape_cache_stays_within_its_bound(data_dir, monkeypatch, bound):
    """Issue 16: a thread's opencv256 shape cache was kept at up to ~65 MiB for good; it now
    holds at most render.SHAPE_CACHE_BYTES, and shapes past it are drawn (identically)
    without it."""
    import importlib
    import threading

    render_module = importlib.import_module("rasterfast.render")   # not the function
    default_bound = render_module.SHAPE_CACHE_BYTES

    batch = StrokeBatch.from_lists(load_simplified(data_dir, "kaggle")[:3000], "simplified")
    values = stroke_order_values(batch)

    def render_in_a_new_thread(limit):
        monkeypatch.setattr(render_module, "SHAPE_CACHE_BYTES", limit)
        out = {}

        def work():   # a new thread: its cache starts empty
            out["images"] = rasterize(batch, values, size=64, line_width=6, method="opencv256")
            store = render_module._shape_store(6)
            out["nbytes"], out["pool"] = store.nbytes, store.pool_bytes

        t = threading.Thread(target=work)
        t.start()
        t.join()
        return out

    unbounded = render_in_a_new_thread(256 << 20)
    bounded = render_in_a_new_thread(bound)
    assert unbounded["pool"] > 4 << 20          # these drawings need more than the bound
    assert 0 <= bounded["nbytes"] <= bound
    if bound:
        assert bounded["pool"] > 1 << 20        # it caches, up to the bound
    else:
        assert bounded["pool"] == 0 and bounded["nbytes"] == 0
    np.testing.assert_array_equal(bounded["images"], unbounded["images"])
    default = render_in_a_new_thread(default_bound)
    assert 0 < default["nbytes"] <= default_bound
