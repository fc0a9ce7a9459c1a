"""``rasterfast export --format sketch-rnn`` (issue 14, part 2): rasterfast.commands.export."""

import numpy as np
import pytest

from rasterfast import from_stroke3
from rasterfast.cli import main
from rasterfast.format import Reader
from rasterfast.pipeline import build


@pytest.fixture(scope="module")
def stores(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("export")
    kaggle = data_dir / "kaggle"
    simp = sorted((kaggle / "train_simplified").iterdir())[:20]
    build(simp + [kaggle / "test_simplified.csv"], root / "simplified", "gray", size=32,
          shard_size=200, val_fraction=0.1, progress=False, images=False)
    build(sorted((kaggle / "train_raw").iterdir())[:3], root / "raw", "time3", size=32,
          progress=False, images=False)
    return root


def load(path):
    # exactly how sketch-rnn's sketch_rnn_train.load_dataset reads its files
    return np.load(path, allow_pickle=True, encoding="latin1")


def test_export_round_trips_every_split(stores, tmp_path, capsys):
    src = stores / "simplified"
    out = tmp_path / "all.npz"
    assert main(["export", str(src), "--format", "sketch-rnn", "--out", str(out)]) == 0
    assert "train" in capsys.readouterr().out
    data = load(out)
    assert sorted(data.files) == ["test", "train", "valid"]
    reader = Reader(src)
    for split, key in (("train", "train"), ("val", "valid"), ("test", "test")):
        arr = data[key]
        n = int(reader.counts(split).sum())
        assert arr.dtype == object and arr.shape == (n,) and n > 0
        stored = reader.strokes(split).gather(np.arange(n))
        for i in range(n):
            seq = arr[i]
            assert seq.dtype == np.int16 and seq.ndim == 2 and seq.shape[1] == 3
            want = stored.drawing(i)
            assert len(seq) == sum(s.shape[1] for s in want)
            # pen lifts exactly at the stroke ends, and the points come back
            ends = np.cumsum([s.shape[1] for s in want]) - 1
            np.testing.assert_array_equal(np.flatnonzero(seq[:, 2]), ends)
            for g, w in zip(from_stroke3(seq), want, strict=True):
                np.testing.assert_array_equal(g, w)


def test_words_and_max_drawings(stores, tmp_path):
    src = stores / "simplified"
    reader = Reader(src)
    words = reader.words[:2]
    out = tmp_path / "two.npz"
    assert main(["export", str(src), "--format", "sketch-rnn", "--out", str(out),
                 "--words", ",".join(words), "--max-drawings", "7", "--no-compress"]) == 0
    data = load(out)
    assert len(data["train"]) == 7
    labels = reader.labels("val")
    assert len(data["valid"]) == min(7, int(np.isin(labels, [0, 1]).sum()))
    assert len(data["test"]) == 0   # Kaggle test rows have no word
    # the first 7 train drawings of those words, in store order
    rows = np.flatnonzero(np.isin(reader.labels("train"), [0, 1]))[:7]
    stored = reader.strokes("train").gather(rows)
    for i in range(7):
        for g, w in zip(from_stroke3(data["train"][i]), stored.drawing(i), strict=True):
            np.testing.assert_array_equal(g, w)


def test_a_missing_split_is_an_empty_array(stores, tmp_path, capsys, data_dir):
    src = tmp_path / "no-test"
    build(sorted((data_dir / "kaggle" / "train_simplified").iterdir())[:3], src, "gray",
          size=32, val_fraction=0.1, progress=False, images=False)
    assert "test" not in Reader(src).splits
    out = tmp_path / "no-test.npz"
    assert main(["export", str(src), "--format", "sketch-rnn", "--out", str(out)]) == 0
    assert "no split 'test': 'test' is empty" in capsys.readouterr().err
    data = load(out)
    assert data["test"].dtype == object and data["test"].shape == (0,)
    assert len(data["train"]) == int(Reader(src).counts("train").sum()) > 0


def test_errors(stores, tmp_path, capsys):
    out = str(tmp_path / "x.npz")
    assert main(["export", str(stores / "raw"), "--format", "sketch-rnn", "--out", out]) == 2
    assert "stores raw drawings" in capsys.readouterr().err
    assert main(["export", str(stores / "simplified"), "--format", "sketch-rnn", "--out", out,
                 "--words", "not-a-word"]) == 2
    assert "words not in" in capsys.readouterr().err
    assert main(["export", str(stores / "simplified"), "--format", "sketch-rnn", "--out", out,
                 "--max-drawings", "-1"]) == 2
    assert "max_drawings must be an int >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["export", str(stores / "simplified"), "--format", "quickdraw-bin", "--out", out])
    assert exc.value.code == 2
    assert "invalid choice: 'quickdraw-bin'" in capsys.readouterr().err


def test_help_answers_the_questions(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = capsys.readouterr().out
    for needle in ("allow_pickle=True", "val -> valid", "int16", "pen_lift", "simplified"):
        assert needle in text
