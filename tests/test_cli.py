"""The ``rasterfast`` command line as a new user meets it (issue 13): exit codes, messages, files.

Most tests build from tiny hand-written Kaggle CSVs, so they need no real data.
"""

import gzip
import json
import os
import re
import stat
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from rasterfast import cli
from rasterfast.metrics import write_submission

ROOT = Path(__file__).resolve().parent.parent
HEADER = "countrycode,drawing,key_id,recognized,timestamp,word\n"


def row(key_id, word="cat", drawing=None, recognized="True"):
    drawing = drawing or f"[[[0, {key_id % 200 + 10}, 40], [0, 30, {key_id % 100}]]]"
    return f'US,"{drawing}",{key_id},{recognized},2017-03-01 12:00:00.000001,{word}\n'


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(rows))
    return path


def good_inputs(tmp_path, n=40, words=("cat", "dog", "sun")):
    """One CSV per word, ``n`` rows each, distinct key_ids."""
    return [write_csv(tmp_path / "in" / f"{w}.csv",
                      [row(100_000 * (i + 1) + k, w) for k in range(n)])
            for i, w in enumerate(words)]


def build_args(inputs, out, *extra):
    return ["build", *map(str, inputs), "--out", str(out), "--size", "16", "--shard-size", "50",
            "--workers", "1", "--quiet", *extra]


def run_cli(capsys, args):
    status = cli.main(args)
    got = capsys.readouterr()
    return status, got.out, got.err


def cli_cmd(*args):
    return [sys.executable, "-m", "rasterfast.cli", *map(str, args)]


def env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}


# -- 1. file modes ---------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_every_written_file_gets_the_mode_of_a_plain_open(tmp_path, capsys, umask):
    """Issue 13: manifest.json and submission.csv were 0o600 (mkstemp) whatever the umask."""
    inputs = good_inputs(tmp_path)
    old = os.umask(umask)
    try:
        assert cli.main(build_args(inputs, tmp_path / "out")) == 0
        write_submission(tmp_path / "submission.csv", np.array([1, 2]),
                         np.array([[0, 1, 2], [2, 1, 0]]), ["cat", "dog", "sun"])
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    files.append(tmp_path / "submission.csv")
    assert any(p.name == "manifest.json" for p in files)
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes


# -- 2. a finished --out ---------------------------------------------------------------------
def test_finished_out_is_one_line_error_before_any_work(tmp_path, capsys):
    inputs = good_inputs(tmp_path)
    out = tmp_path / "out"
    assert cli.main(build_args(inputs, out)) == 0
    manifest = (out / "manifest.json").read_bytes()
    capsys.readouterr()
    # progress on (no --quiet): a stage that ran would print its progress line
    status, stdout, err = run_cli(capsys, ["build", *map(str, inputs), "--out", str(out)])
    assert status == 2 and stdout == ""
    assert err.count("\n") == 1 and "finished build" in err and "Traceback" not in err, err
    r2 = tmp_path / "r2"
    assert cli.main(["render", str(out), "--recipe", "gray", "--size", "24", "--out", str(r2),
                     "--quiet"]) == 0
    capsys.readouterr()
    status, stdout, err = run_cli(capsys, ["render", str(out), "--recipe", "gray", "--size",
                                           "24", "--out", str(r2)])
    assert status == 2 and stdout == ""
    assert err.count("\n") == 1 and "finished build" in err and "plan" not in err, err
    assert (out / "manifest.json").read_bytes() == manifest
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    status, _, err = run_cli(capsys, ["render", str(out), "--recipe", "gray", "--out",
                                      str(tmp_path / "other")])
    assert status == 2 and err.count("\n") == 1 and "holds no rasterfast build" in err, err
    text = subprocess.run(cli_cmd("build", "--help"), capture_output=True, text=True,
                          env=env()).stdout
    assert "finished DIR" in text and "default 64" in text


# -- 3. warn prints every reject; summaries count them ----------------------------------------
def test_warn_prints_each_reject_capped_and_summary_counts(tmp_path, capsys):
    bad = [row(9000 + k, drawing="[[[1, 2], [3]]]") for k in range(25)]
    rows = [row(k) for k in range(30)] + bad + [row(3), row(31, recognized="False")]
    inputs = [write_csv(tmp_path / "in" / "cat.csv", rows)] + good_inputs(tmp_path,
                                                                         words=("dog", "sun"))
    status, out, err = run_cli(capsys, build_args(inputs, tmp_path / "w", "--on-error", "warn",
                                                  "--recognized-only"))
    assert status == 0, err
    warned = [line for line in err.splitlines() if "warning: rejected" in line]
    assert len(warned) == 20
    # the first bad row is data row 31, line 32 of the file (the header is line 1)
    assert "cat.csv, line 32: the y list" in warned[0]
    assert re.search(r"\.\.\. and 5 more rejects .*rejects\.parquet", err)
    assert "25 rejected, 1 filtered, 1 duplicate" in out
    assert "137 rows read from 3 input(s)" in out
    # skip: no warnings, the same counts
    status, out, err = run_cli(capsys, build_args(inputs, tmp_path / "s", "--on-error", "skip",
                                                  "--recognized-only"))
    assert status == 0 and "warning" not in err
    assert "25 rejected, 1 filtered, 1 duplicate" in out


# -- 4. a bad row: its line, the way out, and nothing left behind -------------------------------
def test_bad_row_names_its_line_and_retry_with_warn_is_accepted(tmp_path, capsys):
    rows = [row(k) for k in range(4)] + [row(4, drawing="[[[0, 1], [0, 1]], [[5]]]")]
    inputs = [write_csv(tmp_path / "in" / "cat.csv", rows + [row(5)])]
    out = tmp_path / "out"
    status, _, err = run_cli(capsys, build_args(inputs, out))
    assert status == 2
    assert "cat.csv, line 6" in err and "record" not in err
    assert "--on-error skip" in err and "--on-error warn" in err
    assert not out.exists()              # the failed build left nothing
    status, stdout, err = run_cli(capsys, build_args(inputs, out, "--on-error", "warn"))
    assert status == 0 and "cat.csv, line 6" in err
    assert "5 written, 1 rejected" in stdout


def test_failed_build_with_workers_leaves_nothing_even_later(tmp_path, capsys):
    """The other inputs' ingest tasks stop before the failed build removes its files."""
    bad = write_csv(tmp_path / "in" / "a_bad.csv", [row(1, drawing="[[[0]]]")])
    big = write_csv(tmp_path / "in" / "b_big.csv", [row(k) for k in range(10, 60_000)])
    out = tmp_path / "out"
    args = build_args([bad, big], out)
    args[args.index("--workers") + 1] = "2"
    status, _, err = run_cli(capsys, args)
    assert status == 2 and "a_bad.csv, line 2" in err
    assert not out.exists()
    time.sleep(1.0)          # a task still running would write its file about now
    assert not out.exists()


def test_failed_build_into_an_existing_folder_removes_only_what_it_wrote(tmp_path, capsys):
    inputs = [write_csv(tmp_path / "in" / "cat.csv", [row(0), row(1, drawing="[[[0]]]")])]
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(build_args(inputs, out)) == 2
    assert out.is_dir() and list(out.iterdir()) == []


# -- 5. a truncated .gz keeps its intact rows ---------------------------------------------------
def test_truncated_gz_keeps_the_rows_before_the_damage(tmp_path, capsys):
    text = HEADER + "".join(row(k) for k in range(3000))
    data = gzip.compress(text.encode())
    cut = data[: len(data) // 2]
    src = tmp_path / "in" / "cat.csv.gz"
    src.parent.mkdir()
    src.write_bytes(cut)
    intact = zlib.decompressobj(31).decompress(cut).count(b"\n") - 1   # whole lines, no header
    assert 100 < intact < 3000
    out = tmp_path / "out"
    status, stdout, err = run_cli(capsys, build_args([src], out, "--on-error", "warn"))
    assert status == 0, err
    entry = json.loads((out / "manifest.json").read_text())["inputs"][0]
    # every decoded row kept; the rest is one named reject; read = rows seen (+ that one)
    assert entry["written"] == intact and entry["rejected"] == 1
    assert entry["read"] == intact + 1
    rejects = pq.read_table(out / "rejects.parquet").to_pylist()
    assert len(rejects) == 1 and "truncated" in rejects[0]["reason"]
    assert rejects[0]["record"] == intact
    assert f"cat.csv.gz, line {intact + 2}: truncated" in err
    # under "raise" the build stops, naming the file and the line of the damage
    status, _, err = run_cli(capsys, build_args([src], tmp_path / "r"))
    assert status == 2 and f"cat.csv.gz, line {intact + 2}: truncated" in err


# -- 7. tracebacks where a user expects a message ---------------------------------------------
def test_closed_pipe_is_no_traceback(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(build_args(good_inputs(tmp_path), out)) == 0
    for args in (["inspect", out], ["verify", out], ["--help"], ["build", "--help"]):
        proc = subprocess.Popen(cli_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env())
        proc.stdout.close()                   # `| head` that has read what it wanted
        err = proc.stderr.read().decode()
        proc.stderr.close()
        status = proc.wait(timeout=60)
        # argparse itself ignores a failed write of --help (and then exits 0)
        assert status == cli.EXIT_BROKEN_PIPE or "--help" in args and status == 0, (args, err)
        assert err == "", (args, err)


def test_out_that_cannot_be_written_says_so(tmp_path, capsys):
    inputs = good_inputs(tmp_path)
    (tmp_path / "afile").write_text("x")
    for out in ("/proc/zz", tmp_path / "afile" / "sub"):
        status, _, err = run_cli(capsys, build_args(inputs, out))
        assert status == 2 and "cannot be created" in err and "disk space" not in err, err
        assert "Traceback" not in err


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_workers_must_be_a_positive_integer(tmp_path, capsys, workers):
    for cmd in (["build", "x.csv", "--out", str(tmp_path / "o")],
                ["render", "d", "--recipe", "gray", "--out", str(tmp_path / "o")],
                ["demo", "--out", str(tmp_path / "o")]):
        with pytest.raises(SystemExit) as info:
            cli.main([*cmd, "--workers", workers])
        assert info.value.code == 2
        assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# -- 8. empty and wrong inputs ----------------------------------------------------------------
@pytest.mark.parametrize("case", ["empty_alone", "header_only_alone", "zero_byte_gz",
                                  "shard_dir", "unfinished_shard_dir"])
def test_wrong_inputs_are_named_and_leave_nothing(tmp_path, capsys, case):
    inp = tmp_path / "in"
    inp.mkdir()
    if case == "empty_alone":
        args, match = [inp / "x.csv"], "x.csv"
        args[0].write_text("")
    elif case == "header_only_alone":
        args, match = [inp / "x.csv"], "x.csv"
        args[0].write_text(HEADER)
    elif case == "zero_byte_gz":
        args, match = [inp / "x.csv.gz"], r"x\.csv\.gz.*not a valid gzip"
        args[0].write_bytes(b"")
    else:
        shards = tmp_path / "shards"
        assert cli.main(build_args(good_inputs(tmp_path / "g"), shards)) == 0
        if case == "unfinished_shard_dir":
            (shards / "manifest.json").unlink()
        args, match = [shards], "is a rasterfast shard directory"
    out = tmp_path / "out"
    status, _, err = run_cli(capsys, build_args(args, out))
    assert status == 2 and re.search(match, err), err
    assert "Traceback" not in err
    assert not out.exists()


def test_empty_input_among_good_ones_is_in_the_summary(tmp_path, capsys):
    inputs = good_inputs(tmp_path)
    (tmp_path / "in" / "empty.csv").write_text("")
    status, out, _ = run_cli(capsys, build_args([tmp_path / "in"], tmp_path / "out"))
    assert status == 0
    assert re.search(r"note: 1 input\(s\) held no drawings: .*empty\.csv", out)
    assert len(inputs) == 3


# -- 9. the tests that need no data ------------------------------------------------------------
def test_data_marker_selects_the_tests_that_need_the_sample(tmp_path):
    def collect(expr):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
             "-m", expr, "tests/test_build.py", "tests/test_metrics.py", "tests/test_cli.py"],
            cwd=ROOT, capture_output=True, text=True,
            env={**env(), "RASTERFAST_DATA": str(tmp_path / "nowhere")})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return {line for line in proc.stdout.splitlines() if "::" in line}

    data, rest = collect("data"), collect("not data")
    assert data and rest and not data & rest
    assert "tests/test_build.py::test_counts_and_labels" in data        # via a module fixture
    assert any(t.startswith("tests/test_metrics.py") for t in data)       # via `solution`
    assert any(t.startswith("tests/test_metrics.py") for t in rest)
    assert {t for t in data if t.startswith("tests/test_cli.py")} == {
        "tests/test_cli.py::test_readme_preview_example_matches_the_sample_layout"}
    readme = (ROOT / "README.md").read_text()
    assert 'pytest -q -m "not data"' in readme


# -- 10. the README's training snippet, and the demo's next steps -------------------------------
def test_readme_training_snippet_runs_on_cpu(tmp_path, monkeypatch, capsys):
    from rasterfast import synth

    readme = (ROOT / "README.md").read_text()
    code = re.search(r"<!-- readme:train -->\n```python\n(.*?)```", readme, re.S).group(1)
    assert ".cuda()" not in code and "map_at_k" in code and "write_submission" in code
    files = synth(tmp_path / "in", 1200, format="kaggle-csv", seed=0, test=100, progress=False)
    files = [f for f in files if f.name != "test_solution.csv"]
    shards = tmp_path / "shards64"
    assert cli.main(build_args(files, shards, "--val-fraction", "0.2")) == 0
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    exec(compile(code.replace('"shards64"', repr(str(shards))), "README.md", "exec"), {})
    assert re.search(r"val MAP@3 \d\.\d{3}", capsys.readouterr().out)
    lines = (tmp_path / "submission.csv").read_text().splitlines()
    assert lines[0] == "key_id,word" and len(lines) == 101


def test_demo_next_steps_are_commands_that_work(tmp_path):
    from rasterfast.commands.demo import next_steps

    shards = tmp_path / "shards"
    assert cli.main(build_args(good_inputs(tmp_path), shards)) == 0
    steps = [s.split("   #")[0].split("  #")[0] for s in next_steps(tmp_path, shards)]
    runnable = [s for s in steps if s.startswith(("rasterfast ", "python -c")) and
                "YOUR_FILES" not in s]
    assert len(runnable) >= 4
    for step in runnable:
        cmd = step.replace("rasterfast ", f"{sys.executable} -m rasterfast.cli ", 1) if \
            step.startswith("rasterfast ") else step.replace("python ", f"{sys.executable} ", 1)
        proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, env=env())
        assert proc.returncode == 0, (step, proc.stderr)


# -- 11. small things --------------------------------------------------------------------------
def test_inspect_shows_the_test_split_without_a_blank_word(tmp_path, capsys):
    test_csv = tmp_path / "in" / "test_simplified.csv"
    test_csv.parent.mkdir()
    test_csv.write_text("key_id,countrycode,drawing\n" + "".join(
        f'{k},US,"[[[0, 9], [0, {k}]]]"\n' for k in range(1, 30)))
    inputs = good_inputs(tmp_path)[:1] + [test_csv]
    out = tmp_path / "out"
    assert cli.main(build_args(inputs, out)) == 0
    status, text, _ = run_cli(capsys, ["inspect", str(out)])
    assert status == 0
    test_part = text.split("\ntest:")[1].split("\n\n")[0]
    assert "29 drawings in 1 shards, no words (Kaggle test rows)" in test_part
    assert not re.search(r"^\s+[\d,]+\s*$", test_part, re.M), test_part   # no count of ""


def test_verify_of_a_missing_directory_names_it_once(tmp_path, capsys):
    missing = tmp_path / "nosuch"
    status, out, _ = run_cli(capsys, ["verify", str(missing)])
    assert status == 1
    assert out.count(str(missing)) == 2        # the head line and the problem line
    assert "no such directory" in out


def test_readme_preview_example_matches_the_sample_layout(data_dir):
    readme = (ROOT / "README.md").read_text()
    for path in re.findall(r"rasterfast preview (train_\w+/\S+)", readme):
        assert (data_dir / "kaggle" / path).is_file(), path
