"""rasterfast preview: PNG encoding, labels, contact sheets, and the command."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from rasterfast import StrokeBatch, cli, read_drawings
from rasterfast.preview import (
    _BACKGROUND,
    _label_lines,
    _layout,
    _line_height,
    _text_width,
    contact_sheet,
    encode_png,
    write_png,
)
from rasterfast.recipe import Recipe
from rasterfast.render import render

ROOT = Path(__file__).resolve().parent.parent


def decode_png(data: bytes) -> np.ndarray:
    """The image of a PNG file as OpenCV reads it, RGB rather than BGR."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.dtype == np.uint8
    return img[:, :, ::-1] if img.ndim == 3 else img


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (40, 33, 3), (1, 300, 3)])
@pytest.mark.parametrize("level", [0, 6, 9])
def test_png_round_trip(shape, level):
    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    img = rng.integers(0, 256, shape).astype(np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(img, level)), img)
    # a view with strides (a crop, channels reversed) encodes as its values
    crop = img[:, ::-1]
    np.testing.assert_array_equal(decode_png(encode_png(crop, level)), crop)


@pytest.mark.parametrize("bad, exc", [(np.zeros((4, 4), np.float32), TypeError),
                                      ([[0, 1]], TypeError),
                                      (np.zeros((4, 4, 4), np.uint8), ValueError),
                                      (np.zeros((0, 4), np.uint8), ValueError),
                                      (np.zeros(4, np.uint8), ValueError)])
def test_png_bad_images(bad, exc):
    with pytest.raises(exc, match="image"):
        encode_png(bad)
    with pytest.raises(ValueError, match="level"):
        encode_png(np.zeros((2, 2), np.uint8), level=10)


def test_write_png_atomic(tmp_path):
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_png(tmp_path / "a.png", img)
    np.testing.assert_array_equal(decode_png(path.read_bytes()), img)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


@pytest.mark.parametrize("text, width, want", [
    ("cat", 100, ["cat"]),
    ("  alarm   clock ", 1000, ["alarm clock"]),
    ("", 100, []),
])
def test_label_lines_short(text, width, want):
    assert _label_lines(text, width) == want


@pytest.mark.parametrize("text", ["The Great Wall of China is long, longer than a cell",
                                  "supercalifragilisticexpialidocious", "a b c d e f g h i j k"])
def test_label_lines_fit_their_width(text):
    width = _text_width("x" * 10)
    lines = _label_lines(text, width)
    assert 1 <= len(lines) <= 2
    assert all(_text_width(line) <= width for line in lines)
    # what is kept is the text in order; a cut line ends in "~"
    kept = " ".join(line.rstrip("~") for line in lines)
    assert text.replace(" ", "").startswith(kept.replace(" ", ""))
    assert (kept.replace(" ", "") != text.replace(" ", "")) == lines[-1].endswith("~")


def images_and_words(data_dir, n=10):
    files = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[:n]
    batch = StrokeBatch.concat([next(iter(read_drawings(f))).take([0]) for f in files])
    return batch, list(batch.word)


@pytest.mark.parametrize("preset, cols, zoom", [("gray", 4, 1), ("order3", 3, 2),
                                                ("gray", 20, 1)])
def test_contact_sheet_holds_every_tile_and_label(data_dir, preset, cols, zoom):
    batch, words = images_and_words(data_dir)
    images = render(batch, Recipe.preset(preset, size=32))
    sheet = contact_sheet(images, words, cols=cols, zoom=zoom)
    lay = _layout(len(images), images.shape[1], 32, cols, zoom)
    assert sheet.shape[:2] == lay.shape
    assert sheet.ndim == (3 if images.shape[1] == 3 else 2)
    rows = -(-len(images) // min(cols, len(images)))
    # tiles: the images, pixel for pixel, each in its own place
    taken = np.zeros(sheet.shape[:2], bool)
    for i, (y, x) in enumerate(lay.tiles):
        tile = sheet[y:y + 32 * zoom:zoom, x:x + 32 * zoom:zoom]
        expect = images[i, 0] if images.shape[1] == 1 else images[i].transpose(1, 2, 0)
        np.testing.assert_array_equal(tile, expect)
        assert not taken[y:y + 32 * zoom, x:x + 32 * zoom].any()
        taken[y:y + 32 * zoom, x:x + 32 * zoom] = True
    assert len({y for y, _ in lay.tiles}) == rows
    # labels: text under every tile, and nothing else on the background
    ink = np.any(sheet.reshape(sheet.shape[0], sheet.shape[1], -1) != _BACKGROUND, axis=2)
    for y, x in lay.tiles:
        ink[y - 1:y + 32 * zoom + 1, x - 1:x + 32 * zoom + 1] = False   # tile and frame
    for ly, lx, width in lay.labels:
        area = ink[ly:ly + 2 * _line_height(), lx:lx + width]
        assert area.any()
        area[...] = False
    assert not ink.any()


def test_contact_sheet_other_channel_counts():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (5, 2, 16, 16)).astype(np.uint8)
    sheet = contact_sheet(images, ["a"] * 5, cols=5)
    y, x = _layout(5, 2, 16, 5, 1).tiles[1]
    assert sheet.ndim == 2
    np.testing.assert_array_equal(sheet[y:y + 16, x:x + 32],
                                  np.concatenate([images[1, 0], images[1, 1]], axis=1))


@pytest.mark.parametrize("kwargs, exc", [({"labels": ["a"]}, ValueError),
                                         ({"cols": 0}, ValueError),
                                         ({"zoom": 17}, ValueError)])
def test_contact_sheet_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        contact_sheet(np.zeros((2, 1, 16, 16), np.uint8), **kwargs)
    with pytest.raises(ValueError):
        contact_sheet(np.zeros((0, 1, 16, 16), np.uint8))


def test_long_labels_stay_in_their_cell():
    lay = _layout(2, 1, 16, 2, 1)
    sheet = contact_sheet(np.zeros((2, 1, 16, 16), np.uint8),
                          ["The Great Wall of China is long", ""], cols=2)
    ly, lx, width = lay.labels[0]
    text = sheet != _BACKGROUND
    for y, x in lay.tiles:
        text[y - 1:y + 17, x - 1:x + 17] = False                          # tile and frame
    step = _line_height()
    assert text[ly:ly + 2 * step, lx:lx + width].sum() == text.sum()
    assert text[ly:ly + step].any() and text[ly + step:ly + 2 * step].any()   # two lines


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """rasterfast.cli.main with only the preview command (independent of the others)."""
    monkeypatch.setattr(cli, "COMMANDS", ["preview"])

    def run(*argv):
        code = cli.main(["preview", *map(str, argv)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.mark.parametrize("preset, folder, channels", [
    ("beluga", "kaggle/train_simplified", 1), ("order3", "ndjson/simplified", 3),
    ("time3", "kaggle/train_raw", 3), ("time3-gradient", "ndjson/raw", 3)])
def test_command_writes_the_sheet(run_cli, tmp_path, data_dir, preset, folder, channels):
    files = sorted((data_dir / folder).iterdir())[:3]
    out = tmp_path / "grid.png"
    code, stdout, _ = run_cli(*files, "--recipe", preset, "--size", 32, "--n", 7, "--cols", 4,
                              "--out", out)
    assert code == 0 and "7 drawings" in stdout
    img = decode_png(out.read_bytes())
    assert img.ndim == (3 if channels == 3 else 2)
    # 7 drawings from 3 inputs (3 + 3 + 1), as the library renders them
    recipe = Recipe.preset(preset, size=32)
    parts = [next(iter(read_drawings(f))).take(range(k))
             for f, k in zip(files, (3, 3, 1), strict=True)]
    images = np.concatenate([render(b, recipe) for b in parts])
    words = [w for b in parts for w in b.word]
    np.testing.assert_array_equal(img, contact_sheet(images, words, cols=4, zoom=2))


def test_command_recipe_from_a_json_file(run_cli, tmp_path, data_dir):
    import json

    cfg = tmp_path / "r.json"
    cfg.write_text(json.dumps({"recipe": Recipe.preset("order3", size=48).get_config()}))
    f = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[0]
    code, stdout, _ = run_cli(f, "--recipe", cfg, "--n", 2, "--out", tmp_path / "g.png",
                              "--zoom", 1)
    assert code == 0 and "48 px" in stdout
    assert decode_png((tmp_path / "g.png").read_bytes()).ndim == 3


def test_command_list_recipes(run_cli):
    code, stdout, _ = run_cli("--list-recipes")
    assert code == 0
    for name in Recipe.presets():
        assert name in stdout


@pytest.mark.parametrize("args, message", [
    ((), "give at least one INPUT"),
    (("{f}",), "--out PNG is required"),
    (("{f}", "--out", "{o}", "--recipe", "grey"), "--recipe must be a preset"),
    (("{f}", "--out", "{o}", "--size", "8"), "size must be 16-512"),
    (("{f}", "--out", "{o}", "--n", "0"), "--n must be 1-10000"),
    (("{f}", "--out", "{o}", "--recipe", "time3"), "need raw drawings"),
    (("{missing}", "--out", "{o}"), "missing.csv"),
])
def test_command_errors(run_cli, tmp_path, data_dir, args, message):
    f = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[0]
    fill = {"f": f, "o": tmp_path / "o.png", "missing": tmp_path / "missing.csv"}
    code, _, err = run_cli(*[a.format(**fill) for a in args])
    assert code == 2 and message in err
    assert not (tmp_path / "o.png").exists()


def test_cli_help():
    proc = subprocess.run([sys.executable, "-m", "rasterfast.cli", "preview", "--help"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "--recipe" in proc.stdout and "--list-recipes" in proc.stdout


# -- --augment (issue 14) ------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["default", '{"rotation": 20, "stroke_drop": 0.3}', "file"])
def test_command_augment_variants(run_cli, tmp_path, data_dir, spec):
    import csv
    import json

    from rasterfast import Augment, augment, parse_drawings

    if spec == "file":
        cfg = tmp_path / "a.json"
        cfg.write_text(json.dumps(Augment(shear=0.4, jitter=2).get_config()))
        spec, aug = str(cfg), Augment(shear=0.4, jitter=2)
    else:
        aug = Augment() if spec == "default" else Augment(rotation=20, stroke_drop=0.3)
    f = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[2]
    out = tmp_path / "aug.png"
    code, stdout, _ = run_cli(f, "--augment", spec, "--variants", 3, "--n", 2, "--size", 32,
                              "--out", out)
    assert code == 0 and "2 drawings x (1 + 3 augmented)" in stdout
    with open(f, newline="") as fh:
        rows = [row for row, _ in zip(csv.DictReader(fh), range(2), strict=False)]
    batch = parse_drawings([r["drawing"] for r in rows], kind="simplified")
    batch.word = np.array([r["word"] for r in rows], object)
    batch.key_id = np.array([int(r["key_id"]) for r in rows], np.uint64)   # seeds the variants
    recipe = Recipe.preset("gray", size=32)
    tiles, words = [], []
    for i in range(2):
        one = batch.take([i])
        tiles.append(render(one, recipe))
        tiles += [render(augment(one, aug, seed=0, epoch=e), recipe) for e in range(3)]
        words += [batch.word[i], "e0", "e1", "e2"]
    want = contact_sheet(np.concatenate(tiles), words, cols=4, zoom=2)
    np.testing.assert_array_equal(decode_png(out.read_bytes()), want)
    assert not all(np.array_equal(tiles[0], t) for t in tiles[1:4])


@pytest.mark.parametrize("args, message", [
    (("--augment", "strong"), "--augment must be a name (default, none)"),
    (("--augment", '{"rotate": 5}'), "unknown augment config keys ['rotate']"),
    (("--augment", '{"flip": 3}'), "Augment flip must be in [0.0, 1.0]"),
    (("--augment", "{oops"), "not valid JSON"),
    (("--augment", "default", "--variants", "0"), "--variants must be 1-64"),
    (("--variants", "3"), "--variants applies with --augment"),
])
def test_command_augment_errors(run_cli, tmp_path, data_dir, args, message):
    f = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[0]
    code, _, err = run_cli(f, "--out", tmp_path / "o.png", *args)
    assert code == 2 and message in err
    assert not (tmp_path / "o.png").exists()


def test_command_without_opencv_says_what_to_install(run_cli, tmp_path, data_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)   # import cv2 raises ModuleNotFoundError
    f = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[0]
    code, _, err = run_cli(f, "--n", 2, "--out", tmp_path / "o.png")
    assert code == 2 and "pip install 'rasterfast[preview]'" in err
    assert not (tmp_path / "o.png").exists()
