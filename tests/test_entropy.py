"""sketch_entropy against a numpy bincount reference; layouts, edge cases, threads."""

import threading

import numpy as np
import pytest
from reference_encode import entropy as ref_entropy

from rasterfast import StrokeBatch
from rasterfast.entropy import sketch_entropy
from rasterfast.recipe import Recipe
from rasterfast.render import render


@pytest.mark.parametrize("shape", [(5, 1, 16, 16), (7, 3, 64, 64), (3, 128, 128), (4, 1, 3, 5),
                                   (6, 7)])
def test_random_images_match_reference(shape):
    rng = np.random.default_rng(sum(shape))
    # mostly background, like a doodle, plus a few levels
    images = np.where(rng.random(shape) < 0.85, 0, rng.integers(0, 256, shape)).astype(np.uint8)
    images[0] = rng.integers(0, 256, shape[1:])      # one busy image
    got = sketch_entropy(images)
    assert got.dtype == np.float32 and got.shape == (shape[0],)
    np.testing.assert_allclose(got, ref_entropy(images), rtol=1e-5, atol=1e-6)


def test_exact_values():
    blank = np.zeros((16, 16), np.uint8)
    flat = np.full((16, 16), 200, np.uint8)
    every = np.arange(256, dtype=np.uint8).reshape(16, 16)   # all 256 values once: 8 bits
    half = blank.copy()
    half[8:] = 255                                            # two equal halves: 1 bit
    got = sketch_entropy(np.stack([blank, flat, every, half]))
    np.testing.assert_array_equal(got, np.array([0, 0, 8, 1], np.float32))


def test_rendered_real_drawings(data_dir):
    path = sorted((data_dir / "ndjson" / "simplified").iterdir())[3]
    import json

    drawings = [json.loads(line)["drawing"] for line in path.read_text().splitlines()]
    batch = StrokeBatch.from_lists(drawings, "simplified")
    for preset in ("gray", "beluga", "order3"):
        images = render(batch, Recipe.preset(preset, size=64))
        got = sketch_entropy(images)
        np.testing.assert_allclose(got, ref_entropy(images), rtol=1e-5)
        assert (got > 0).all()


def test_layouts_memmap_and_strided(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 4, (6, 2, 32, 32)).astype(np.uint8)
    expect = sketch_entropy(images)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8,
                                   shape=images.shape)
    mm[:] = images
    np.testing.assert_array_equal(sketch_entropy(mm), expect)
    np.testing.assert_array_equal(sketch_entropy(images[::2]), expect[::2])
    np.testing.assert_array_equal(sketch_entropy(images[:, ::-1]), expect)  # channel order
    np.testing.assert_allclose(sketch_entropy(images[:, :, ::2, ::2]),
                               ref_entropy(images[:, :, ::2, ::2]), rtol=1e-5)


def test_empty_inputs():
    assert sketch_entropy(np.zeros((0, 1, 8, 8), np.uint8)).shape == (0,)
    np.testing.assert_array_equal(sketch_entropy(np.zeros((3, 0), np.uint8)), [0, 0, 0])


@pytest.mark.parametrize("bad, exc", [([[1, 2]], TypeError),
                                      (np.zeros((2, 4), np.float32), TypeError),
                                      (np.zeros((2, 4), np.int64), TypeError),
                                      (np.uint8(3), ValueError)])
def test_bad_input(bad, exc):
    with pytest.raises(exc, match="images"):
        sketch_entropy(bad if not isinstance(bad, np.generic) else np.asarray(bad))


def test_threads():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 9, (64, 3, 64, 64)).astype(np.uint8)
    expect = sketch_entropy(images)
    out = [None] * 4

    def work(i):
        out[i] = sketch_entropy(images)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in out:
        np.testing.assert_array_equal(r, expect)
