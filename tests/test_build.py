"""rasterfast build end to end on the real sample: counts, images, mix, determinism, safety."""

import gzip
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rasterfast import Recipe, StrokeBatch, StrokeParseError, read_drawings, render
from rasterfast.format import Reader, verify
from rasterfast.pipeline import build, rerender

ROOT = Path(__file__).resolve().parent.parent
SIZE = 32


def n_rows(path):
    with open(path) as fh:
        return sum(1 for _ in fh) - 1


def count(manifest, split):
    return manifest.count(split) if split in manifest.splits else 0


def kaggle_simplified(data_dir, n_words=None):
    files = sorted((data_dir / "kaggle" / "train_simplified").iterdir())
    return (files[:n_words] if n_words else files) + [data_dir / "kaggle" / "test_simplified.csv"]


@pytest.fixture(scope="module")
def simplified_build(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("b") / "gray"
    manifest = build(kaggle_simplified(data_dir), out, "gray", size=SIZE, shard_size=1000,
                     val_fraction=0.1, progress=False)
    return out, manifest


def all_drawings(data_dir, paths):
    return StrokeBatch.concat(list(read_drawings(paths)))


def test_counts_and_labels(simplified_build, data_dir):
    out, manifest = simplified_build
    reader = Reader(out)
    train_files = kaggle_simplified(data_dir)[:-1]
    n_train = 6880
    assert manifest.count("train") + manifest.count("val") == n_train
    assert manifest.count("test") == 1720
    assert 0.05 < manifest.count("val") / n_train < 0.15
    words = reader.words
    assert words == sorted(words) and len(words) == len(train_files)
    for split in ("train", "val"):
        meta = reader.meta(split)
        labels = reader.labels(split)
        assert [words[i] for i in labels] == meta.column("word").to_pylist()
    # every input's counters add up, and here nothing was lost
    for entry in manifest.inputs:
        e = entry if isinstance(entry, dict) else entry.to_json()
        assert e["read"] == e["written"] + e["rejected"] + e["filtered"] + e["duplicate"]
        assert e["written"] == e["read"]


def test_images_equal_render_of_their_drawing(simplified_build, data_dir):
    out, manifest = simplified_build
    reader = Reader(out)
    ref = all_drawings(data_dir, kaggle_simplified(data_dir))
    by_key = {int(k): i for i, k in enumerate(ref.key_id)}
    recipe = Recipe.from_config(manifest.recipe)
    for split in ("train", "val", "test"):
        for shard in range(len(reader.shards(split))):
            images = reader.images(split, shard)
            keys = reader.meta(split, shard).column("key_id").to_numpy()
            expect = render(ref.take([by_key[int(k)] for k in keys]), recipe)
            np.testing.assert_array_equal(images, expect)


def test_test_split_keeps_input_order(simplified_build, data_dir):
    out, _ = simplified_build
    keys = Reader(out).meta("test").column("key_id").to_numpy()
    with open(data_dir / "kaggle" / "test_simplified.csv") as fh:
        expect = [int(line.split(",", 1)[0]) for line in list(fh)[1:]]
    assert keys.tolist() == expect


def test_every_train_shard_mixes_words(simplified_build):
    out, _ = simplified_build
    reader = Reader(out)
    for shard in range(len(reader.shards("train"))):
        words = reader.meta("train", shard).column("word").to_numpy(zero_copy_only=False)
        _, counts = np.unique(words, return_counts=True)
        # ~20 drawings per word in the sample: a shard of ~1000 must hold most words,
        # and none may dominate
        assert len(counts) > 150 and counts.max() < 0.05 * len(words)


def test_deterministic_across_workers_and_schedulers(tmp_path, data_dir, simplified_build):
    ref_out, ref = simplified_build
    for scheduler, workers in (("threads", 1), ("processes", 2)):
        out = tmp_path / f"{scheduler}{workers}"
        m = build(kaggle_simplified(data_dir), out, "gray", size=SIZE, shard_size=1000,
                  val_fraction=0.1, scheduler=scheduler, workers=workers, progress=False)
        for split in ("train", "val", "test"):
            assert [s.to_json() for s in m.shards(split)] == \
                [s.to_json() for s in ref.shards(split)]


def test_val_split_same_for_every_recipe_and_size(tmp_path, data_dir, simplified_build):
    out, _ = simplified_build
    other = build(kaggle_simplified(data_dir, 40), tmp_path / "o", "beluga", size=64,
                  shard_size=500, val_fraction=0.1, progress=False)
    val_a = set(Reader(out).meta("val").column("key_id").to_pylist())
    val_b = set(Reader(tmp_path / "o").meta("val").column("key_id").to_pylist())
    assert val_b and val_b <= val_a
    assert other.count("val") == len(val_b)


def test_rerender_from_stroke_store(tmp_path, simplified_build):
    out, manifest = simplified_build
    m2 = rerender(out, tmp_path / "r", "beluga", size=16, progress=False)
    src, new = Reader(out), Reader(tmp_path / "r")
    recipe = Recipe.preset("beluga", size=16)
    for split in ("train", "val", "test"):
        assert [s.count for s in src.shards(split)] == [s.count for s in new.shards(split)]
        a = src.meta(split).column("key_id").to_pylist()
        b = new.meta(split).column("key_id").to_pylist()
        assert a == b
        assert np.array_equal(src.labels(split), new.labels(split))
        rows = np.arange(count(manifest, split))
        want = render(src.strokes(split).gather(rows), recipe)
        assert np.array_equal(new.gather(split, rows), want)
    assert m2.image_shape == (1, 16, 16)
    assert new.has_images and not new.has_strokes
    assert verify(tmp_path / "r").ok


def test_stroke_store_holds_the_shards_drawings(simplified_build, data_dir):
    """Issue 11: every shard's .strokes file holds its drawings, in image order, exactly."""
    out, manifest = simplified_build
    reader = Reader(out)
    assert manifest.parts == ("images", "strokes")
    assert manifest.strokes["kind"] == "simplified" and manifest.strokes["times"] is False
    assert not (out / "_shuffle").exists() and not (out / "strokes").exists()
    by_key = {}
    for b in read_drawings(kaggle_simplified(data_dir)):
        for i, k in enumerate(b.key_id.tolist()):
            by_key.setdefault(k, b.drawing(i))
    recipe = Recipe.preset("gray", size=SIZE)
    for split in ("train", "val", "test"):
        n = count(manifest, split)
        got = reader.strokes(split).gather(np.arange(n))
        keys = reader.meta(split).column("key_id").to_pylist()
        assert len(got) == n == len(keys)
        for i in range(0, n, 7):
            want = by_key[keys[i]]
            have = got.drawing(i)
            assert len(want) == len(have)
            assert all(np.array_equal(a, b) for a, b in zip(want, have, strict=True))
        assert np.array_equal(render(got, recipe), reader.gather(split, np.arange(n)))


def test_no_images_build(tmp_path, data_dir, simplified_build):
    """Issue 11: --no-images writes the same stroke files, labels and meta, and no images."""
    ref_dir, ref = simplified_build
    m = build(kaggle_simplified(data_dir), tmp_path / "s", "gray", size=SIZE, shard_size=1000,
              val_fraction=0.1, progress=False, images=False)
    assert m.parts == ("strokes",)
    assert not list((tmp_path / "s").glob("*/*.images.npy"))
    for split in ("train", "val", "test"):
        for a, b in zip(ref.shards(split), m.shards(split), strict=True):
            assert a.strokes == b.strokes and a.labels == b.labels
            assert b.images is None
    reader = Reader(tmp_path / "s")
    with pytest.raises(ValueError, match="no images"):
        reader.gather("train", [0])
    assert verify(tmp_path / "s").ok


def test_render_refuses_a_recipe_the_store_cannot_serve(tmp_path, simplified_build):
    out, _ = simplified_build
    with pytest.raises(ValueError, match="stores simplified"):
        rerender(out, tmp_path / "t", "time3", size=32, progress=False)
    assert not (tmp_path / "t").exists()


def test_per_word_and_words_file(tmp_path, data_dir):
    files = kaggle_simplified(data_dir, 12)[:-1]
    words_file = tmp_path / "words.txt"
    chosen = [f.stem for f in files[::-1][:6]]
    words_file.write_text("\n".join(chosen) + "\n")
    m = build(files, tmp_path / "o", "gray", size=16, per_word=7, words=words_file,
              val_fraction=0.2, progress=False)
    reader = Reader(tmp_path / "o")
    assert reader.words == chosen
    words = np.concatenate([reader.meta(s).column("word").to_numpy(zero_copy_only=False)
                            for s in ("train", "val") if s in m.splits])
    assert sorted(np.unique(words, return_counts=True)[1].tolist()) == [7] * 6
    # a stable sample: the same drawings with another size
    m2 = build(files, tmp_path / "p", "gray", size=24, per_word=7, words=words_file,
               val_fraction=0.2, progress=False)
    keys = lambda d: sorted(k for s in ("train", "val") if s in m2.splits  # noqa: E731
                            for k in Reader(d).meta(s).column("key_id").to_pylist())
    assert keys(tmp_path / "o") == keys(tmp_path / "p")
    filtered = sum((e if isinstance(e, dict) else e.to_json())["filtered"] for e in m.inputs)
    assert filtered == sum(n_rows(f) for f in files) - 6 * 7


def test_raw_time_recipe(tmp_path, data_dir):
    files = sorted((data_dir / "kaggle" / "train_raw").iterdir())[:10]
    m = build(files + [data_dir / "kaggle" / "test_raw.csv.gz"], tmp_path / "t", "time3",
              size=SIZE, progress=False, val_fraction=0.0)
    reader = Reader(tmp_path / "t")
    assert reader.image_shape == (3, SIZE, SIZE)
    assert m.count("test") == 1180
    ref = StrokeBatch.concat(list(read_drawings(files)))
    keys = reader.meta("train", 0).column("key_id").to_numpy()
    by_key = {int(k): i for i, k in enumerate(ref.key_id)}
    expect = render(ref.take([by_key[int(k)] for k in keys]), Recipe.from_config(m.recipe))
    np.testing.assert_array_equal(reader.images("train", 0), expect)


def test_duplicates_kept_once(tmp_path, data_dir):
    f = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[0]
    shutil.copy(f, tmp_path / "a.csv")
    shutil.copy(f, tmp_path / "b.csv")
    m = build([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "o", "gray", size=16,
              progress=False)
    n = n_rows(f)
    assert count(m, "train") + count(m, "val") == n
    stats = {(e if isinstance(e, dict) else e.to_json())["name"]:
             (e if isinstance(e, dict) else e.to_json()) for e in m.inputs}
    assert stats[str(tmp_path / "b.csv")]["duplicate"] == n
    assert stats[str(tmp_path / "a.csv")]["duplicate"] == 0


def test_test_split_duplicates_counted_once(tmp_path, data_dir):
    """A Kaggle test file given twice: its rows once in the test split, the second copy's
    counted as duplicates once (the plan counts them; render tasks count only what they
    write)."""
    f = data_dir / "kaggle" / "test_simplified.csv"
    shutil.copy(f, tmp_path / "t1.csv")
    shutil.copy(f, tmp_path / "t2.csv")
    m = build([tmp_path / "t1.csv", tmp_path / "t2.csv"], tmp_path / "o", "gray", size=16,
              shard_size=300, progress=False)
    n = n_rows(f)
    assert count(m, "test") == n
    stats = {e["name"]: e for e in m.inputs}
    assert stats[str(tmp_path / "t2.csv")]["duplicate"] == n
    assert stats[str(tmp_path / "t1.csv")]["written"] == n


def test_verify_catches_damage(tmp_path, data_dir):
    out = tmp_path / "o"
    build(kaggle_simplified(data_dir, 30), out, "gray", size=16, shard_size=200, progress=False)
    assert verify(out).ok
    shards = sorted((out / "train").glob("*.images.npy"))
    with open(shards[0], "r+b") as fh:
        fh.seek(5000)
        b = fh.read(1)
        fh.seek(5000)
        fh.write(bytes([b[0] ^ 0xFF]))
    labels = sorted((out / "train").glob("*.labels.npy"))[1]
    labels.write_bytes(labels.read_bytes()[:-3])
    report = verify(out)
    assert not report.ok
    text = str(report)
    assert shards[0].name in text and labels.name in text
    proc = subprocess.run([sys.executable, "-m", "rasterfast.cli", "verify", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and shards[0].name in proc.stdout + proc.stderr


@pytest.mark.parametrize("case", ["corrupt_gz", "missing_column", "unknown_word", "empty",
                                  "no_inputs"])
def test_bad_inputs_clear_error_nothing_written(tmp_path, data_dir, case):
    src = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[0]
    inputs = tmp_path / "in"
    inputs.mkdir()
    kw = {}
    if case == "corrupt_gz":
        data = gzip.compress(src.read_bytes())
        (inputs / "x.csv.gz").write_bytes(data[: len(data) // 2])
        match = "x.csv.gz"
    elif case == "missing_column":
        (inputs / "x.csv").write_text("key_id,countrycode,word\n1,US,cat\n")
        match = "no 'drawing' column"
    elif case == "unknown_word":
        shutil.copy(src, inputs / "x.csv")
        (tmp_path / "w.txt").write_text(f"{src.stem}\nnot-a-word\n")
        kw["words"] = tmp_path / "w.txt"
        match = "not-a-word"
    elif case == "empty":
        (inputs / "x.csv").write_text("")
        match = "no drawings"
    else:
        match = "holds no inputs"
    out = tmp_path / "out"
    with pytest.raises((StrokeParseError, FileNotFoundError, ValueError), match=match):
        build([inputs], out, "gray", size=16, progress=False, **kw)
    assert not (out / "manifest.json").exists()


def _build_cmd(inputs, out):
    return [sys.executable, "-m", "rasterfast.cli", "build", *map(str, inputs), "--out", str(out),
            "--recipe", "gray", "--size", "16", "--shard-size", "100", "--workers", "1",
            "--quiet"]


def _kill_when(cmd, out, ready, timeout=120.0):
    """Start a build and SIGKILL it as soon as ``ready(out)`` holds.

    The kill points are states of the output directory, not delays: a fixed delay
    lands after the end of the build once the build gets faster, and the test then
    tests nothing (it says so here instead)."""
    proc = subprocess.Popen(cmd)
    t0 = time.monotonic()
    while not ready(out) and proc.poll() is None and time.monotonic() - t0 < timeout:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "the build ended before it could be killed"


@pytest.mark.slow
def test_sigkill_and_rerun_is_byte_identical(tmp_path, data_dir):
    inputs = kaggle_simplified(data_dir, 60)
    ref = tmp_path / "ref"
    subprocess.run(_build_cmd(inputs, ref), check=True)
    n_shards = sum(1 for _ in ref.glob("*/*.images.npy"))
    out = tmp_path / "killed"
    # killed during ingest (first shuffle-area file), at the first shard, then past half
    _kill_when(_build_cmd(inputs, out), out,
               lambda d: any((d / "_shuffle").rglob("*.groups")))
    _kill_when(_build_cmd(inputs, out), out, lambda d: any(d.glob("*/*.images.npy")))
    _kill_when(_build_cmd(inputs, out), out,
               lambda d: sum(1 for _ in d.glob("*/*.images.npy")) > n_shards // 2)
    subprocess.run(_build_cmd(inputs, out), check=True)
    a = json.loads((ref / "manifest.json").read_text())
    b = json.loads((out / "manifest.json").read_text())
    assert a["splits"] == b["splits"]
    for split in a["splits"]:
        for f in sorted((ref / split).iterdir()):
            assert (out / split / f.name).read_bytes() == f.read_bytes(), f.name
    assert verify(out).ok


@pytest.mark.slow
def test_local_cluster_identical(tmp_path, data_dir, simplified_build):
    from distributed import LocalCluster

    _, ref = simplified_build
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        m = build(kaggle_simplified(data_dir), tmp_path / "c", "gray", size=SIZE,
                  shard_size=1000, val_fraction=0.1, scheduler=cluster.scheduler_address,
                  progress=False)
    for split in ("train", "val", "test"):
        assert [s.to_json() for s in m.shards(split)] == [s.to_json() for s in ref.shards(split)]


def _children(pid):
    """The processes under ``pid``, but multiprocessing's resource tracker: one per
    interpreter, started on first use, ending with it (no worker of a build)."""
    import psutil

    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in kids:
        try:
            if not any("resource_tracker" in part for part in p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_local_cluster_scheduler_identical_and_closed(tmp_path, data_dir, simplified_build):
    """Issue 12: scheduler "local" (what "auto" picks for big builds) runs the tasks in
    worker processes: the same shards as threads, tasks measured in other processes, and
    no process left once build returns."""
    import os

    _, ref = simplified_build
    before = {p.pid for p in _children(os.getpid())}
    m = build(kaggle_simplified(data_dir), tmp_path / "c", "gray", size=SIZE,
              shard_size=1000, val_fraction=0.1, scheduler="local", workers=2, progress=False)
    for split in ("train", "val", "test"):
        assert [s.to_json() for s in m.shards(split)] == [s.to_json() for s in ref.shards(split)]
    t = m.extra["timing"]
    assert len(t["workers_peak_rss_mb"]) == 2          # two worker processes ran tasks
    assert set(t["tasks_cpu_s"]) == {"ingest", "plan", "render"} and t["cpu_s"] > 0
    deadline = time.monotonic() + 10
    while {p.pid for p in _children(os.getpid())} - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not {p.pid for p in _children(os.getpid())} - before


def test_local_cluster_workers_keep_freed_memory():
    """The LocalCluster's worker processes run with WORKER_MALLOC, not distributed's
    MALLOC_TRIM_THRESHOLD_=65536 (which made every block's arrays fault in again)."""
    import os

    from rasterfast.pipeline import run

    client, cluster = run._client("local", 1)
    try:
        got = client.run(lambda: {k: os.environ.get(k) for k in run.WORKER_MALLOC})
    finally:
        client.close()
        cluster.close()
    assert list(got.values()) == [{k: str(v) for k, v in run.WORKER_MALLOC.items()}]


@pytest.mark.slow
def test_sigkill_local_cluster_then_resume(tmp_path, data_dir):
    """kill -9 of a build on a LocalCluster: its worker processes end with it (they watch
    their parent), and the same command resumes to the same files as an unkilled build."""
    import psutil

    inputs = kaggle_simplified(data_dir, 60)
    ref = tmp_path / "ref"
    subprocess.run(_build_cmd(inputs, ref), check=True)
    out = tmp_path / "killed"
    cmd = [*_build_cmd(inputs, out), "--scheduler", "local", "--workers", "2"]
    cmd.remove("1")
    cmd.remove("--workers")              # _build_cmd's --workers 1
    proc = subprocess.Popen(cmd)
    workers = []
    t0 = time.monotonic()
    while not any(out.glob("*/*.images.npy")) and proc.poll() is None \
            and time.monotonic() - t0 < 120:
        workers = _children(proc.pid) or workers
        time.sleep(0.002)
    assert workers, "no worker processes seen"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "the build ended before it could be killed"
    gone, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"worker processes left after kill -9: {alive}"
    subprocess.run(cmd, check=True)
    for split in json.loads((ref / "manifest.json").read_text())["splits"]:
        for f in sorted((ref / split).iterdir()):
            assert (out / split / f.name).read_bytes() == f.read_bytes(), f.name
    assert verify(out).ok


def test_preview_of_a_shard_directory(tmp_path, simplified_build, capsys):
    """`rasterfast preview DIR` shows the stored images: the first rows, or the entropy extremes."""
    from rasterfast import cli
    from rasterfast.preview import contact_sheet, write_png

    out, _ = simplified_build
    reader = Reader(out)
    meta = reader.meta("val", columns=["word", "entropy"])
    ent = meta.column("entropy").to_numpy()
    words = meta.column("word").to_pylist()
    for pick, rows in (("first", np.arange(12)),
                       ("high-entropy", np.argsort(-ent, kind="stable")[:12]),
                       ("low-entropy", np.argsort(ent, kind="stable")[:12])):
        png = tmp_path / f"{pick}.png"
        assert cli.main(["preview", str(out), "--split", "val", "--pick", pick, "--n", "12",
                         "--cols", "4", "--out", str(png)]) == 0
        assert "12 of" in capsys.readouterr().out
        expected = write_png(tmp_path / "expected.png",
                             contact_sheet(reader.gather("val", rows),
                                           [words[i] for i in rows], cols=4, zoom=2))
        assert png.read_bytes() == expected.read_bytes(), pick
    # Issue 11: with a recipe, the drawings come from the stroke store, drawn on the fly.
    png = tmp_path / "beluga.png"
    assert cli.main(["preview", str(out), "--split", "val", "--recipe", "beluga", "--size", "48",
                     "--n", "12", "--cols", "4", "--out", str(png)]) == 0
    assert "drawn from the stroke store" in capsys.readouterr().out
    drawn = render(reader.strokes("val").gather(np.arange(12)), Recipe.preset("beluga", size=48))
    expected = write_png(tmp_path / "expected.png",
                         contact_sheet(drawn, words[:12], cols=4, zoom=1))
    assert png.read_bytes() == expected.read_bytes()
    # a time recipe on simplified drawings, said plainly
    assert cli.main(["preview", str(out), "--recipe", "time3", "--out",
                     str(tmp_path / "x.png")]) == 2
    assert "stores simplified" in capsys.readouterr().err
    # images only (a `rasterfast render` output): already drawn, a recipe is a mistake
    rerender(out, tmp_path / "r", "gray", size=16, progress=False)
    assert cli.main(["preview", str(tmp_path / "r"), "--recipe", "beluga", "--out",
                     str(tmp_path / "x.png")]) == 2
    assert "already drawn" in capsys.readouterr().err
    assert cli.main(["preview", str(out), "--split", "nope", "--out",
                     str(tmp_path / "x.png")]) == 2
    assert "no split 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_inspect_names_the_parts(tmp_path, simplified_build, capsys):
    from rasterfast import cli

    out, manifest = simplified_build
    assert cli.main(["inspect", str(out), "--words", "2"]) == 0
    text = capsys.readouterr().out
    size = sum(sh.strokes.size for s in manifest.splits for sh in manifest.shards(s))
    n = sum(manifest.count(s) for s in manifest.splits)
    assert f"images uint8 [1, {SIZE}, {SIZE}] + stroke store (simplified int16; " \
           f"{size / n:,.0f} bytes a drawing)" in text


def test_cli_no_images_then_render(tmp_path, data_dir, capsys):
    """`rasterfast build --no-images` then `rasterfast render` from its stroke store."""
    from rasterfast import cli

    inputs = [str(p) for p in kaggle_simplified(data_dir, 5)]
    assert cli.main(["build", *inputs, "--out", str(tmp_path / "s"), "--size", "16",
                     "--no-images", "--quiet"]) == 0
    m = Reader(tmp_path / "s").manifest
    assert m.parts == ("strokes",) and not list((tmp_path / "s").glob("*/*.images.npy"))
    assert cli.main(["render", str(tmp_path / "s"), "--recipe", "order3", "--size", "24",
                     "--out", str(tmp_path / "r"), "--quiet"]) == 0
    r = Reader(tmp_path / "r")
    assert r.image_shape == (3, 24, 24) and r.manifest.parts == ("images",)
    rows = np.arange(m.count("train"))
    want = render(Reader(tmp_path / "s").strokes("train").gather(rows),
                  Recipe.preset("order3", size=24))
    assert np.array_equal(r.gather("train", rows), want)


def test_unsimplifiable_raw_drawing_is_a_counted_reject(tmp_path, data_dir):
    """Issue 12: a raw stroke that resamples past max_points is a reject under skip, not a
    ValueError that stops the build; read = written + rejected + filtered + duplicate."""
    import csv

    src = data_dir / "kaggle" / "train_raw" / "cat.csv.gz"
    with gzip.open(src, "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))[:6]
    # 20,000 full-width zigzag segments: ~5.1M points once resampled at 1 px (max 4,194,304)
    xs = [0 if i % 2 else 100000 for i in range(20_001)]
    ys = [i % 7 for i in range(20_001)]
    ts = list(range(20_001))
    bad = dict(rows[0], key_id="1", drawing=json.dumps([[xs, ys, ts]]))
    path = tmp_path / "cat.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([*rows[:3], bad, *rows[3:]])
    with pytest.raises(ValueError):
        build([path], tmp_path / "raise", "gray", size=16, progress=False)
    m = build([path], tmp_path / "skip", "gray", size=16, progress=False, on_error="skip")
    (entry,) = m.inputs
    assert entry["read"] == 7 and entry["rejected"] == 1 and entry["written"] == 6
    assert m.rejects["count"] == 1 and m.rejects["first"][0]["record"] == 3


def test_shuffle_area_files_grow_with_inputs_not_buckets(tmp_path, data_dir):
    """Issue 12: ingest writes one groups file per input flush, with a group per
    (split, bucket): 64 buckets x 2 splits x 30 inputs give 30 files, not ~3,800."""
    from rasterfast.pipeline.ingest import IngestSpec, bucket_pieces, ingest_source
    from rasterfast.pipeline.shuffle import group_count
    from rasterfast.readers import find_sources

    sources = find_sources(kaggle_simplified(data_dir, 30)[:-1])
    spec = IngestSpec(store=str(tmp_path / "_shuffle"), geometry="simplified", seed=0,
                      val_fraction=0.3, bucket_bits=6, words=None, recognized_only=False,
                      on_error="raise")
    results = [ingest_source(s, i, spec) for i, s in enumerate(sources)]
    files = sorted((tmp_path / "_shuffle").glob("*.groups"))
    assert len(files) == len(sources) == 30
    index = bucket_pieces(tmp_path / "_shuffle", results)
    assert len({b for (_, b) in index}) == 64 and {s for (s, _) in index} == {"train", "val"}
    groups = sum(group_count(f) for f in files)
    assert groups == sum(len(gs) for gs in index.values()) > 30 * 10
    assert sum(r.parsed for r in results) == sum(
        rows for r in results for _, gs in r.pieces for _, _, rows in gs)


def test_groups_file_round_trip_and_a_broken_index(tmp_path):
    """A groups file gives back each table by its index, any order and columns, and a
    truncated or overwritten index is a clear error, not wrong rows."""
    import pyarrow as pa

    from rasterfast.pipeline.shuffle import group_count, read_groups, write_groups_atomic

    tables = [pa.table({"a": pa.array(range(i * 10, i * 10 + n), pa.int64()),
                        "b": pa.array([[j] * (j % 3) for j in range(n)], pa.list_(pa.int16()))})
              for i, n in enumerate([5, 1, 300, 7])]
    path = tmp_path / "x.groups"
    write_groups_atomic(tables, path)
    assert group_count(path) == 4
    got = read_groups([(path, 2), (path, 0), (path, 3)])
    assert got.equals(pa.concat_tables([tables[2], tables[0], tables[3]]))
    assert read_groups([(path, 1)], columns=["a"]).column("a").to_pylist() == [10]
    assert read_groups([]) is None
    with pytest.raises(ValueError, match="no group 4"):
        read_groups([(path, 4)])
    data = path.read_bytes()
    for broken in (data[:-3], data[:-16] + b"\xff" * 8 + data[-8:], data[:10]):
        bad = tmp_path / "bad.groups"
        bad.write_bytes(broken)
        with pytest.raises(ValueError, match="groups file"):
            read_groups([(bad, 0)])


def test_shards_independent_of_buckets_and_task_size(tmp_path, data_dir, simplified_build):
    """Issue 12: shards are ranges of each split's hash order, so many small buckets (that
    shards straddle) and render tasks of one shard each give the same files, byte for byte
    (the manifest's sha256 of every file), as the default buckets and tasks."""
    out_ref, ref = simplified_build
    m = build(kaggle_simplified(data_dir), tmp_path / "o", "gray", size=SIZE, shard_size=1000,
              val_fraction=0.1, progress=False, bucket_size=200, task_size=1)
    tasks = m.extra["timing"]["tasks"]
    assert tasks["plan"] >= 16                          # one plan task per bucket
    assert tasks["render"] == sum(len(m.shards(s)) for s in m.splits)
    assert ref.extra["timing"]["tasks"]["plan"] < tasks["plan"]
    for split in ("train", "val", "test"):
        assert [s.to_json() for s in m.shards(split)] == [s.to_json() for s in ref.shards(split)]
    assert not (tmp_path / "o" / "_shuffle").exists()


def test_failed_ingest_task_stops_the_others(tmp_path):
    """Issue 13: a failed build removes what it wrote, so no ingest task may write after it.

    Dask raises a failed task's error while the others run on; the failed task leaves a
    stop file and the others end at their next block, before the driver sees the error."""
    from rasterfast.pipeline.ingest import STOP_NAME, IngestSpec, IngestStopped, ingest_task
    from rasterfast.readers import find_sources

    header = "countrycode,drawing,key_id,recognized,timestamp,word\n"
    good = tmp_path / "good.csv"
    good.write_text(header + "".join(f'US,"[[[0, 9], [0, {k}]]]",{k},True,'
                                     f'2017-01-01 00:00:00,cat\n' for k in range(50)))
    bad = tmp_path / "bad.csv"
    bad.write_text(header + 'US,"[[[0, 9]]]",1,True,2017-01-01 00:00:00,cat\n')
    store = tmp_path / "store"
    spec = IngestSpec(store=str(store), geometry="simplified", seed=0, val_fraction=0.1,
                      bucket_bits=0, words=None, recognized_only=False, on_error="raise")
    err = ingest_task(find_sources(bad)[0], 1, spec)
    assert isinstance(err, StrokeParseError) and "bad.csv, line 2" in str(err)
    assert (store / STOP_NAME).is_file()
    assert isinstance(ingest_task(find_sources(good)[0], 0, spec), IngestStopped)
    assert sorted(p.name for p in store.rglob("*")) == [STOP_NAME]
    (store / STOP_NAME).unlink()
    assert ingest_task(find_sources(good)[0], 0, spec).read == 50


def test_build_reports_what_it_did(simplified_build, tmp_path, capsys):
    """Issue 12: the manifest records wall and CPU seconds, stages and bytes written; the
    summary prints drawings/s, MB/s and CPU-us a drawing from them."""
    from rasterfast.commands._common import rate_line

    out, m = simplified_build
    t = m.extra["timing"]
    assert set(t["stages_s"]) == {"ingest", "plan", "render"}
    assert t["drawings"] == sum(m.count(s) for s in m.splits)
    assert t["bytes_written"] == sum(fe.size for s in m.splits for sh in m.shards(s)
                                     for fe in sh.files)
    assert t["wall_s"] >= sum(t["stages_s"].values()) - 1e-3 and t["cpu_s"] > 0
    line = rate_line(m)
    assert line.startswith(f"{t['drawings']:,} drawings in ") and "MB/s" in line
    assert "CPU-us a drawing" in line and "render" in line
    m2 = rerender(out, tmp_path / "r", "gray", size=16, progress=False)
    assert set(m2.extra["timing"]["stages_s"]) == {"render"}
