"""The progress of a build stage (pipeline/progress.py) and of synth: tqdm on a terminal,
plain lines elsewhere, nothing when disabled (issue 16: tqdm replaced a hand-drawn bar)."""

import io
import re

import dask
import pytest

from rasterfast.pipeline.progress import Progress, run_tasks


class Terminal(io.StringIO):
    def isatty(self):
        return True


def tasks(n, fail_at=None):
    def work(i):
        if i == fail_at:
            raise ValueError(f"task {i} failed")
        return 10 * (i + 1)

    return [dask.delayed(work)(i, dask_key_name=f"work-{i}") for i in range(n)]


def run(stream, n=3, enabled=True, every=5.0, fail_at=None):
    progress = Progress("ingest", n, lambda r: r, stream=stream, enabled=enabled, every=every)
    results = run_tasks(tasks(n, fail_at), scheduler="sync", workers=1, progress=progress)
    return progress, results


def test_log_lines_when_not_a_terminal():
    out = io.StringIO()
    progress, results = run(out, every=0.0)
    assert results == [10, 20, 30] and (progress.done, progress.drawings) == (3, 60)
    lines = out.getvalue().splitlines(keepends=True)
    assert "\r" not in out.getvalue() and all(line.endswith("\n") for line in lines)
    found = [re.match(r"ingest: (\d)/3 tasks, ([\d,]+) drawings, [\d,]+ drawings/s$", line)
             .groups() for line in lines]
    # one line a task (every=0), in the order they finished
    assert [done for done, _ in found] == ["1", "2", "3"] and found[-1][1] == "60"


def test_log_lines_every_few_seconds_and_at_the_end():
    out = io.StringIO()
    run(out, n=5, every=3600.0)
    assert out.getvalue().splitlines() and len(out.getvalue().splitlines()) == 1
    assert out.getvalue().startswith("ingest: 5/5 tasks, 150 drawings")


def test_a_tqdm_bar_on_a_terminal():
    out = Terminal()
    run(out)
    text = out.getvalue()
    assert "\r" in text and text.endswith("\n")            # redrawn in place, closed at the end
    last = text.rstrip("\n").split("\r")[-1]
    assert re.search(r"^  ingest: 100%.* 3/3 .*60 drawings, [\d,]+/s", last), last


def test_disabled_prints_nothing_and_still_counts():
    for stream in (io.StringIO(), Terminal()):
        progress, _ = run(stream, enabled=False)
        assert stream.getvalue() == "" and progress.drawings == 60


def test_a_failed_stage_closes_the_bar():
    out = Terminal()
    with pytest.raises(ValueError, match="task 2 failed"):
        run(out, n=4, fail_at=2)
    assert out.getvalue().endswith("\n")       # the next message starts on its own line


def test_no_tasks_prints_nothing():
    out = Terminal()
    progress = Progress("plan", 0, len, stream=out)
    assert run_tasks([], scheduler="sync", workers=1, progress=progress) == []
    assert out.getvalue() == ""


@pytest.mark.parametrize("show", [True, False])
def test_synth_progress(tmp_path, capsys, show):
    from rasterfast import synth

    synth(tmp_path, 300, seed=1, progress=show)
    err = capsys.readouterr().err
    if show:
        assert re.search(r"synth: 100%.* 300/300 ", err.split("\r")[-1]), err
    else:
        assert err == ""
