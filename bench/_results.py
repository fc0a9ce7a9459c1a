"""Write one benchmark's section of bench/RESULTS.md, leaving the other sections as they are.

Each benchmark owns the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = ("# Benchmark results\n\nLatest figures of each benchmark in bench/; each section is "
          "rewritten by its script.\n")


def machine() -> str:
    """One line naming this machine: CPU model, cores, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


#: Section headings; a section ``name`` comes from ``bench/bench_<name>.py``.
TITLES = {"parse": "Parsing", "simplify": "Simplification", "raster": "Rasterising",
          "time3": "Time channels (time3)", "entropy": "Sketch entropy", "synth": "Synthesis",
          "build": "Build, end to end", "raw_build": "Raw build, issue 12 code against its start",
          "loader": "Loading (ShardDataset)",
          "stroke": "On-the-fly rendering (StrokeDataset)",
          "sequence": "Sequences (StrokeDataset stroke-3/stroke-5)",
          "balance": "Prediction balancing", "train": "Training throughput",
          "augment": "Stroke augmentation (StrokeDataset augment=)"}


def write_section(name: str, body: str, title: str | None = None,
                  script: str | None = None) -> None:
    """Replace (or append) section ``name`` of RESULTS.md with ``body`` plus machine and date
    (heading: ``title`` or ``TITLES[name]``, naming ``script`` or ``bench_<name>.py``)."""
    stamp = f"_{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}_\n\n"
    title = (f"## {title or TITLES.get(name, name)} "
             f"(`bench/{script or f'bench_{name}.py'}`)\n\n")
    block = f"<!-- {name}:start -->\n{title}{stamp}{body.rstrip()}\n<!-- {name}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    mark = re.escape(name)
    pattern = re.compile(rf"<!-- {mark}:start -->.*?<!-- {mark}:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
