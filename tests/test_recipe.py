"""Recipe: config round trips, equality, validation, presets, and what they render."""

import dataclasses
import json

import cv2
import numpy as np
import pytest

from rasterfast import StrokeBatch
from rasterfast.encoders import encode
from rasterfast.recipe import PRESETS, RECIPE_VERSION, Recipe
from rasterfast.render import render

PRESET_NAMES = ["gray", "beluga", "time3", "time3-gradient", "order3"]


def test_the_presets():
    assert list(Recipe.presets()) == PRESET_NAMES
    for desc in Recipe.presets().values():
        assert isinstance(desc, str) and desc and "\n" not in desc
    assert Recipe.preset("gray").channels == ("ink",)
    assert Recipe.preset("beluga").channels == ("stroke_order",)
    assert Recipe.preset("beluga").method == "opencv256"
    assert Recipe.preset("beluga").line_width == 6
    assert Recipe.preset("time3").channels == ("pause", "stroke_time", "stroke_count")
    assert Recipe.preset("time3-gradient").channels == ("time", "stroke_time", "pause")
    assert Recipe.preset("order3").channels == ("ink", "stroke_index", "point_progress")


@pytest.mark.parametrize("name", PRESET_NAMES)
@pytest.mark.parametrize("size", [16, 64, 512])
def test_config_round_trip(name, size):
    r = Recipe.preset(name, size=size)
    config = r.get_config()
    assert config["version"] == RECIPE_VERSION and config["id"] == "rasterfast.Recipe"
    text = json.dumps(config)
    back = Recipe.from_config(json.loads(text))
    assert back == r and hash(back) == hash(r)
    assert back.get_config() == config
    assert Recipe.from_config(text) == r                     # JSON text works too
    assert back.shape == (len(r.channels), size, size)


def test_equality_and_hash():
    a = Recipe.preset("gray", size=32)
    b = Recipe(size=32, channels=["ink"], line_width=6)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Recipe.preset("gray", size=64)
    assert a != a.replace(antialias=True)
    assert a != a.get_config() and a != "gray"
    assert isinstance(b.channels, tuple) and isinstance(b.line_width, float)


def test_frozen():
    r = Recipe.preset("gray")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.size = 128
    assert r.replace(size=128).size == 128 and r.size == 64


def test_needs():
    assert {n: Recipe.preset(n).needs for n in PRESET_NAMES} == {
        "gray": "simplified", "beluga": "simplified", "time3": "raw",
        "time3-gradient": "raw", "order3": "simplified"}
    assert Recipe(geometry="scale").needs == "raw"
    assert Recipe(geometry="simplify", channels=["time"]).needs == "raw"


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"size": 15}, ValueError, "size must be 16-512 px, got 15"),
    ({"size": 513}, ValueError, "size must be 16-512"),
    ({"size": 64.0}, TypeError, "size must be an int"),
    ({"size": True}, TypeError, "size must be an int"),
    ({"channels": "ink"}, TypeError, "write \\('ink',\\)"),
    ({"channels": []}, ValueError, "at least one"),
    ({"channels": ["ink", "colour"]}, ValueError,
     "unknown channel 'colour'; valid channels: ink, stroke_order, stroke_index"),
    ({"channels": [3]}, TypeError, "channel names must be str"),
    ({"channels": ["ink", "pause"]}, ValueError,
     "channels \\['pause'\\] need times from raw drawings.*geometry='scale'"),
    ({"line_width": 0}, ValueError, "line_width must be > 0"),
    ({"line_width": -2.0}, ValueError, "line_width"),
    ({"line_width": float("nan")}, ValueError, "line_width"),
    ({"line_width": 65}, ValueError, "<= 64"),
    ({"line_width": "6"}, TypeError, "line_width must be a number"),
    ({"antialias": "yes"}, TypeError, "antialias must be a bool"),
    ({"compose": "over"}, ValueError, "compose must be one of 'paint', 'max', got 'over'"),
    ({"geometry": "raw"}, ValueError, "geometry must be one of 'simplified', 'simplify', 'scale'"),
    ({"method": "cv2"}, ValueError, "method must be one of 'direct', 'opencv256'"),
    ({"method": "opencv256", "line_width": 6.5}, ValueError, "integer line_width"),
    ({"method": "opencv256", "line_width": 1}, ValueError, "integer line_width"),
    ({"method": "opencv256", "antialias": True}, ValueError, "antialias=True does not exist"),
])
def test_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Recipe(**kwargs)


def test_from_config_errors():
    good = Recipe.preset("time3").get_config()
    with pytest.raises(TypeError, match="config must be a dict"):
        Recipe.from_config([1, 2])
    with pytest.raises(ValueError, match="not valid JSON"):
        Recipe.from_config("{")
    with pytest.raises(ValueError, match="id must be 'rasterfast.Recipe'"):
        Recipe.from_config({**good, "id": "numcodecs.zstd"})
    with pytest.raises(ValueError, match="id must be"):
        Recipe.from_config({k: v for k, v in good.items() if k != "id"})
    with pytest.raises(ValueError, match="newer than this rasterfast"):
        Recipe.from_config({**good, "version": RECIPE_VERSION + 1})
    with pytest.raises(ValueError, match="version must be a positive int"):
        Recipe.from_config({**good, "version": "1"})
    with pytest.raises(ValueError, match="unknown recipe config keys \\['colour'\\]"):
        Recipe.from_config({**good, "colour": "red"})
    with pytest.raises(ValueError, match="size must be 16-512"):
        Recipe.from_config({**good, "size": 1000})
    # missing fields take their defaults
    assert Recipe.from_config({"id": "rasterfast.Recipe", "version": 1}) == Recipe()


def test_preset_errors_and_overrides():
    with pytest.raises(ValueError, match="unknown recipe preset 'grey'; presets: gray, beluga"):
        Recipe.preset("grey")
    with pytest.raises(TypeError, match="unknown recipe fields \\['colour'\\]"):
        Recipe.preset("gray", colour="red")
    with pytest.raises(ValueError, match="size must be"):
        Recipe.preset("gray", size=8)
    r = Recipe.preset("time3", size=128, line_width=3, compose="max")
    assert (r.size, r.line_width, r.compose, r.channels) == \
        (128, 3.0, "max", PRESETS["time3"][1]["channels"])
    with pytest.raises(ValueError, match="need times"):
        Recipe.preset("time3", geometry="simplified")


def test_encode_is_the_encoders():
    b = StrokeBatch.from_lists([[[[0, 9, 20], [0, 9, 30], [0, 50, 90]], [[3], [4], [400]]]],
                               "raw")
    for name in PRESET_NAMES:
        r = Recipe.preset(name)
        np.testing.assert_array_equal(r.encode(b), encode(b, r.channels))


def _simplified(data_dir, n_files=30, per_file=3):
    drawings = []
    for path in sorted((data_dir / "ndjson" / "simplified").iterdir())[:n_files]:
        lines = path.read_text().splitlines()[:per_file]
        drawings += [json.loads(line)["drawing"] for line in lines]
    return drawings


def _beluga_cv2(drawing, size):
    """The Kaggle Beluga baseline kernel, as users run it."""
    img = np.zeros((256, 256), np.uint8)
    for i, stroke in enumerate(drawing):
        colour = 255 - min(i, 10) * 13
        for k in range(len(stroke[0]) - 1):
            cv2.line(img, (stroke[0][k], stroke[1][k]), (stroke[0][k + 1], stroke[1][k + 1]),
                     colour, 6)
    return cv2.resize(img, (size, size)) if size != 256 else img


@pytest.mark.parametrize("size", [64, 96])
def test_beluga_preset_is_the_kaggle_baseline(data_dir, size):
    drawings = [d for d in _simplified(data_dir) if all(len(s[0]) > 1 for s in d)]
    got = render(StrokeBatch.from_lists(drawings, "simplified"), Recipe.preset("beluga", size))
    expect = np.stack([_beluga_cv2(d, size) for d in drawings])[:, None]
    np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_renders_its_input(data_dir, name):
    r = Recipe.preset(name, size=32)
    if r.needs == "raw":
        import gzip

        path = sorted((data_dir / "ndjson" / "raw").glob("*.ndjson.gz"))[5]
        with gzip.open(path, "rt") as fh:
            drawings = [json.loads(line)["drawing"] for line in fh if line.strip()][:20]
        batch = StrokeBatch.from_lists(drawings, "raw")
    else:
        batch = StrokeBatch.from_lists(_simplified(data_dir, 5, 4), "simplified")
    images = render(batch, r)
    assert images.shape == (len(batch), *r.shape) and images.dtype == np.uint8
    # every channel of every drawing has ink
    assert (images.reshape(len(batch), len(r.channels), -1).max(axis=2) > 0).all()
