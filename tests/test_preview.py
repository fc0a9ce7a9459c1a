"""rasterfast preview: PNG encoding, the built-in font, contact sheets, and the command."""

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from rasterfast import StrokeBatch, _font, cli, read_drawings
from rasterfast.preview import PNG_SIGNATURE, _layout, contact_sheet, encode_png, write_png
from rasterfast.recipe import Recipe
from rasterfast.render import render

ROOT = Path(__file__).resolve().parent.parent


def decode_png(data: bytes) -> np.ndarray:
    """A strict reader of what encode_png writes: checks every CRC, filter type 0 only."""
    assert data[:8] == PNG_SIGNATURE
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, tag
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
        if tag == b"IEND":
            break
    assert pos == len(data)
    w, h, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (0, 2)
    ch = 1 if colour == 0 else 3
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * ch)
    assert (raw[:, 0] == 0).all()
    img = raw[:, 1:].reshape(h, w, ch)
    return img[:, :, 0] if ch == 1 else img


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (40, 33, 3), (1, 300, 3)])
def test_png_round_trip(shape):
    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    img = rng.integers(0, 256, shape).astype(np.uint8)
    data = encode_png(img)
    np.testing.assert_array_equal(decode_png(data), img)
    via_cv2 = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img.ndim == 3:
        via_cv2 = via_cv2[:, :, ::-1]          # OpenCV gives BGR
    np.testing.assert_array_equal(via_cv2, img)


@pytest.mark.parametrize("bad, exc", [(np.zeros((4, 4), np.float32), TypeError),
                                      ([[0, 1]], TypeError),
                                      (np.zeros((4, 4, 4), np.uint8), ValueError),
                                      (np.zeros((0, 4), np.uint8), ValueError),
                                      (np.zeros(4, np.uint8), ValueError)])
def test_png_bad_images(bad, exc):
    with pytest.raises(exc, match="image"):
        encode_png(bad)


def test_write_png_atomic(tmp_path):
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_png(tmp_path / "a.png", img)
    np.testing.assert_array_equal(decode_png(path.read_bytes()), img)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_font_covers_printable_ascii():
    seen = {}
    for code in range(32, 127):
        ch = chr(code)
        rows = _font._GLYPHS[ch].split()
        assert len(rows) <= _font.GLYPH_H, ch
        assert all(len(r) == _font.GLYPH_W and set(r) <= {"#", "."} for r in rows), ch
        bm = _font.glyph(ch)
        assert (bm.any() or ch == " "), ch
        key = bm.tobytes()
        assert key not in seen, f"{ch!r} looks like {seen.get(key)!r}"
        seen[key] = ch
    np.testing.assert_array_equal(_font.glyph("\u00e9"), _font.glyph("?"))


def test_draw_text_clips_at_the_edges():
    canvas = np.zeros((12, 20), np.uint8)
    _font.draw_text(canvas, "HI", -3, 8, 9)          # partly outside: no error
    assert set(np.unique(canvas)) <= {0, 9} and canvas[8:].any()


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
    # labels: text pixels under every tile
    for ly, lx, width in lay.labels:
        area = sheet[ly:ly + 2 * _font.LINE_HEIGHT, lx:lx + width]
        assert (area == 230).any()


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
    text = sheet == 230
    assert text[ly:ly + 2 * _font.LINE_HEIGHT, lx:lx + width].sum() == text.sum()
    assert text[ly + _font.LINE_HEIGHT:ly + 2 * _font.LINE_HEIGHT].any()   # two lines


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
